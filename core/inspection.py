"""Look inside a trained CNN: feature maps, Grad-CAM, saliency, filters and embeddings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

from core.evaluation import DEFAULT_BATCH_SIZE, check_images, predict_in_batches

CONVOLUTION_TYPES = (
    layers.Conv2D,
    layers.SeparableConv2D,
    layers.DepthwiseConv2D,
    layers.Conv2DTranspose,
)
# Layers whose output is spatial but says nothing new at inference: the input, its scaling, and
# layers that are the identity outside training (dropout, augmentation).
SKIPPED_TYPES = (
    layers.InputLayer,
    layers.Rescaling,
    layers.Normalization,
    layers.Resizing,
    layers.Dropout,
    layers.SpatialDropout2D,
    keras.Model,
)
# Layers between the image and the first convolution that only prepare the pixels.
PREPROCESSING_TYPES = (
    layers.InputLayer,
    layers.Rescaling,
    layers.Normalization,
    layers.Resizing,
)
# PCA down to this many dimensions before t-SNE, the usual way to make t-SNE fast and less noisy.
TSNE_PCA_DIMENSIONS = 50
# Layers after a convolution that change each value on its own, so the value they make of one
# position sits at that same position of their output; convolution_step follows them.
ELEMENTWISE_KINDS: tuple[tuple[type, str], ...] = (
    (layers.BatchNormalization, "batch_norm"),
    (layers.Activation, "activation"),
    (layers.ReLU, "activation"),
    (layers.LeakyReLU, "activation"),
    (layers.ELU, "activation"),
    (layers.PReLU, "activation"),
)
# Non-overlapping pooling puts each position in one window; the global ones end the trail.
POOLING_KINDS: tuple[tuple[type, str], ...] = (
    (layers.MaxPooling2D, "max_pool"),
    (layers.AveragePooling2D, "average_pool"),
    (layers.GlobalMaxPooling2D, "global_max_pool"),
    (layers.GlobalAveragePooling2D, "global_average_pool"),
)
# Activations that mix the channels of a position (softmax over them) are not elementwise.
CHANNEL_MIXING_ACTIVATIONS = (
    keras.activations.softmax,
    keras.activations.log_softmax,
    keras.activations.sparsemax,
    keras.activations.glu,
)


@dataclass(frozen=True, eq=False)
class FeatureModel:
    """Probes built once per model (cache this); every function here accepts it for the model.

    `compute_features` maps a (1, h, w, c) uint8 batch to {layer name: (1, h', w', channels)};
    `compute_class_activation` and `compute_saliency` take that batch and a class index (-1 for
    the predicted class) and return an (h, w) map in [0, 1].
    """

    model: keras.Model
    layer_names: tuple[str, ...]
    last_convolution_name: str
    compute_features: Callable[[np.ndarray], dict[str, tf.Tensor]]
    compute_class_activation: Callable[[np.ndarray, np.ndarray], tf.Tensor]
    compute_saliency: Callable[[np.ndarray, np.ndarray], tf.Tensor]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.model.input_shape[1:])

    @property
    def num_classes(self) -> int:
        return int(self.model.output_shape[-1])


def spatial_layer_names(model: keras.Model) -> list[str]:
    """Layers with an (h, w, channels) output, in model order, preprocessing layers left out."""
    return [
        layer.name
        for layer in model.layers
        if not isinstance(layer, SKIPPED_TYPES)
        and not type(layer).__name__.startswith("Random")
        and len(layer.output.shape) == 4
    ]


def convolution_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's convolution layers in model order."""
    return [layer for layer in model.layers if isinstance(layer, CONVOLUTION_TYPES)]


def _classifier_head(model: keras.Model) -> tuple[keras.KerasTensor, Callable]:
    """The tensor the class scores are computed from, and the function computing them.

    Grad-CAM and saliency differentiate the class logit, not its softmax probability, which
    saturates near 1 and leaves vanishing gradients on a confident model. For a final
    Dense(softmax) the logits are recomputed from its input, for a final softmax Activation they
    are its input; otherwise log-probabilities stand in.
    """
    final = model.layers[-1]
    if isinstance(final, layers.Dense) and final.activation is keras.activations.softmax:

        def logits(head_input: tf.Tensor) -> tf.Tensor:
            # Under mixed precision the head's input is float16 while its kernel stays float32.
            scores = tf.matmul(tf.cast(head_input, final.kernel.dtype), final.kernel)
            return scores + final.bias if final.use_bias else scores

        return final.input, logits
    if isinstance(final, layers.Softmax) or (
        isinstance(final, layers.Activation) and final.activation is keras.activations.softmax
    ):
        return final.input, lambda scores: tf.cast(scores, tf.float32)
    return model.outputs[0], lambda probabilities: tf.math.log(
        tf.cast(probabilities, tf.float32) + 1e-7
    )


def build_feature_model(model: keras.Model, *, compiled: bool = True) -> FeatureModel:
    """Build the probes for feature maps, Grad-CAM and saliency once; compiled ones run in ~1 ms.

    compiled=False skips tf.function tracing (a few hundred ms), for a single use.
    """
    convolutions = convolution_layers(model)
    if not convolutions:
        raise ValueError("This model has no convolution layer to look inside.")
    layer_names = tuple(spatial_layer_names(model))
    image_shape = tuple(model.input_shape[1:])
    height, width = image_shape[0], image_shape[1]
    # model.inputs rather than model.input: a Sequential model has only the former until called.
    image_input = model.inputs[0]
    feature_probe = keras.Model(
        image_input, {name: model.get_layer(name).output for name in layer_names}
    )
    head_input, compute_logits = _classifier_head(model)
    last_convolution = convolutions[-1]
    gradient_probe = keras.Model(image_input, [last_convolution.output, head_input])

    def compute_features(image_batch: tf.Tensor) -> dict[str, tf.Tensor]:
        return feature_probe(tf.cast(image_batch, tf.float32), training=False)

    def class_score(logits: tf.Tensor, class_index: tf.Tensor) -> tf.Tensor:
        predicted = tf.argmax(logits[0], output_type=tf.int32)
        return tf.gather(logits[0], tf.where(class_index < 0, predicted, class_index))

    def compute_class_activation(image_batch: tf.Tensor, class_index: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            activations, head = gradient_probe(tf.cast(image_batch, tf.float32), training=False)
            score = class_score(compute_logits(head), class_index)
        gradients = tf.cast(tape.gradient(score, activations), tf.float32)
        activations = tf.cast(activations, tf.float32)
        # Grad-CAM (Selvaraju et al. 2017): weight each channel by its mean gradient, keep the
        # positive evidence, upsample to the image.
        channel_weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
        heatmap = tf.nn.relu(tf.reduce_sum(activations * channel_weights, axis=-1))
        heatmap = tf.image.resize(heatmap[..., tf.newaxis], (height, width))[0, :, :, 0]
        return tf.math.divide_no_nan(heatmap, tf.reduce_max(heatmap))

    def compute_saliency(image_batch: tf.Tensor, class_index: tf.Tensor) -> tf.Tensor:
        pixels = tf.cast(image_batch, tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(pixels)
            _, head = gradient_probe(pixels, training=False)
            score = class_score(compute_logits(head), class_index)
        magnitude = tf.reduce_max(tf.abs(tape.gradient(score, pixels)), axis=-1)[0]
        return tf.math.divide_no_nan(magnitude, tf.reduce_max(magnitude))

    if compiled:
        # Fixed signatures: one trace per probe, whatever image or class comes next.
        image_spec = tf.TensorSpec((1, *image_shape), tf.uint8)
        class_spec = tf.TensorSpec((), tf.int32)
        compute_features = tf.function(compute_features, input_signature=[image_spec])
        compute_class_activation = tf.function(
            compute_class_activation, input_signature=[image_spec, class_spec]
        )
        compute_saliency = tf.function(compute_saliency, input_signature=[image_spec, class_spec])
    return FeatureModel(
        model=model,
        layer_names=layer_names,
        last_convolution_name=last_convolution.name,
        compute_features=compute_features,
        compute_class_activation=compute_class_activation,
        compute_saliency=compute_saliency,
    )


def _as_feature_model(model: keras.Model | FeatureModel) -> FeatureModel:
    if isinstance(model, FeatureModel):
        return model
    return build_feature_model(model, compiled=False)


def _image_batch(image: np.ndarray, image_shape: tuple[int, int, int]) -> np.ndarray:
    """Check one uint8 image against the model's input and add the batch axis."""
    image = np.asarray(image)
    if image.ndim == 2 and image_shape[2] == 1:
        image = image[:, :, np.newaxis]
    if image.dtype != np.uint8:
        raise ValueError(f"The image must be uint8 pixels 0-255, got dtype {image.dtype}.")
    if tuple(image.shape) != tuple(image_shape):
        raise ValueError(
            f"The image must have shape {image_shape} for this model, got {image.shape}."
        )
    return image[np.newaxis]


def _class_index(class_index: int | None, num_classes: int) -> np.int32:
    if class_index is None:
        return np.int32(-1)
    if not 0 <= class_index < num_classes:
        raise ValueError(
            f"class_index must lie between 0 and {num_classes - 1}, got {class_index}."
        )
    return np.int32(class_index)


def feature_maps(model: keras.Model | FeatureModel, image: np.ndarray) -> dict[str, np.ndarray]:
    """Every spatial layer's output for one uint8 image: name to (h, w, channels), model order."""
    probe = _as_feature_model(model)
    outputs = probe.compute_features(_image_batch(image, probe.image_shape))
    return {name: np.asarray(outputs[name], dtype=np.float32)[0] for name in probe.layer_names}


def class_activation(
    model: keras.Model | FeatureModel, image: np.ndarray, class_index: int | None = None
) -> np.ndarray:
    """Grad-CAM of the last convolution, (h, w) like the image, in [0, 1]; None: predicted class."""
    probe = _as_feature_model(model)
    heatmap = probe.compute_class_activation(
        _image_batch(image, probe.image_shape), _class_index(class_index, probe.num_classes)
    )
    return np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)


def saliency(
    model: keras.Model | FeatureModel, image: np.ndarray, class_index: int | None = None
) -> np.ndarray:
    """Gradient saliency: |d logit / d pixel|, max over channels, (h, w) in [0, 1]."""
    probe = _as_feature_model(model)
    magnitude = probe.compute_saliency(
        _image_batch(image, probe.image_shape), _class_index(class_index, probe.num_classes)
    )
    return np.clip(np.asarray(magnitude, dtype=np.float32), 0.0, 1.0)


def first_layer_filters(model: keras.Model) -> np.ndarray:
    """First convolution's filters as images (filters, kh, kw, in_channels) in [0, 1].

    Each filter is scaled by its own largest absolute weight so that 0.5 is a zero weight,
    brighter is positive and darker negative.
    """
    convolutions = convolution_layers(model)
    if not convolutions:
        raise ValueError("This model has no convolution layer.")
    kernel = np.asarray(convolutions[0].kernel, dtype=np.float32)  # (kh, kw, in, filters)
    filters = np.transpose(kernel, (3, 0, 1, 2))
    largest = np.abs(filters).max(axis=(1, 2, 3), keepdims=True)
    return 0.5 + 0.5 * np.divide(filters, largest, out=np.zeros_like(filters), where=largest > 0)


def filter_strengths(model: keras.Model) -> dict[str, np.ndarray]:
    """Mean absolute weight per filter of each convolution after the first: name to (filters,)."""
    return {
        layer.name: np.abs(np.asarray(layer.kernel, dtype=np.float32)).mean(axis=(0, 1, 2))
        for layer in convolution_layers(model)[1:]
    }


def penultimate_activations(
    model: keras.Model, images: np.ndarray, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> np.ndarray:
    """Activations feeding the last Dense layer, (n, features) float32."""
    activations = predict_in_batches(_penultimate_probe(model), images, batch_size=batch_size)
    return activations.reshape(len(images), -1)


def _penultimate_probe(model: keras.Model) -> keras.Model:
    """A model from the image to the input of the last Dense layer."""
    dense_layers = [layer for layer in model.layers if isinstance(layer, layers.Dense)]
    if not dense_layers:
        raise ValueError("This model has no Dense layer, so it has no penultimate activations.")
    return keras.Model(model.inputs[0], dense_layers[-1].input)


def embedding(
    model: keras.Model,
    images: np.ndarray,
    method: Literal["pca", "tsne"] = "pca",
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    random_state: int = 0,
    tsne_threads: int | None = 1,
) -> np.ndarray:
    """2-D map (n, 2) float32 of the penultimate activations, by PCA or t-SNE.

    t-SNE takes seconds per thousand images. It runs on `tsne_threads` OpenMP threads (None: all
    cores): on a busy 2-core machine 1,000 images took 6.6 s on one thread and 33 s on two.
    """
    if method not in ("pca", "tsne"):
        raise ValueError(f'method must be "pca" or "tsne", got {method!r}.')
    if len(images) < 3:
        raise ValueError("An embedding needs at least 3 images.")
    activations = penultimate_activations(model, images, batch_size=batch_size)
    if method == "pca":
        return (
            PCA(n_components=2, random_state=random_state)
            .fit_transform(activations)
            .astype(np.float32)
        )
    if activations.shape[1] > TSNE_PCA_DIMENSIONS and len(images) > TSNE_PCA_DIMENSIONS:
        activations = PCA(
            n_components=TSNE_PCA_DIMENSIONS, random_state=random_state
        ).fit_transform(activations)
    # t-SNE needs perplexity below the number of points; 30 is its default for larger sets.
    perplexity = min(30.0, (len(images) - 1) / 3)
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=random_state)
    with threadpool_limits(limits=tsne_threads, user_api="openmp"):
        return tsne.fit_transform(activations).astype(np.float32)


@dataclass(frozen=True, eq=False)
class ConvolutionStep:
    """The arithmetic behind one output value of a Conv2D layer, as CNN Explainer shows it.

    `patch`, `kernel` and `products` are (kernel_height, kernel_width, input_channels) float32:
    the layer's input under the window (zeros where it hangs over the padding), the output
    channel's weights, and their elementwise product. `input_rows` and `input_cols` are the
    input rows and columns the window covers; one outside 0..size-1 is padding.
    `per_channel_sums` (input_channels,) float32 sums the products of each input channel;
    `pre_activation` = sum(products) + bias, and `value` is the layer's activation of it, the
    layer's real output at (row, col, channel). `after` holds (layer name, kind, value) for the
    layers that follow, kind one of "batch_norm", "activation", "max_pool", "average_pool",
    "global_max_pool" and "global_average_pool"; it stops at the first layer whose output at
    this position cannot be told apart from the rest (a convolution, a flatten, a branch).
    """

    layer_name: str
    row: int
    col: int
    channel: int
    patch: np.ndarray
    kernel: np.ndarray
    products: np.ndarray
    per_channel_sums: np.ndarray
    bias: float
    pre_activation: float
    activation: str
    value: float
    input_rows: tuple[int, ...]
    input_cols: tuple[int, ...]
    after: tuple[tuple[str, str, float], ...]


def _padding_before(
    input_size: int, kernel_size: int, stride: int, dilation: int, padding: str
) -> int:
    """Rows (or columns) of zeros TensorFlow adds before the input for this window and padding.

    "same" pads so that the output has ceil(input / stride) positions; of the total padding
    TensorFlow puts the smaller half first, so an odd total leaves one more row at the bottom.
    """
    if padding == "valid":
        return 0
    span = (kernel_size - 1) * dilation + 1
    output_size = -(-input_size // stride)
    return max((output_size - 1) * stride + span - input_size, 0) // 2


def _convolution_layer(model: keras.Model, layer_name: str) -> layers.Conv2D:
    """The model's Conv2D layer of that name; ValueError naming the choices otherwise."""
    choices = (
        ", ".join(layer.name for layer in model.layers if isinstance(layer, layers.Conv2D))
        or "none in this model"
    )
    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        raise ValueError(
            f"This model has no layer named {layer_name!r}; its Conv2D layers are: {choices}."
        ) from None
    if not isinstance(layer, layers.Conv2D):
        raise ValueError(
            f"Layer {layer_name!r} is a {type(layer).__name__}, not a Conv2D; the step-by-step "
            f"view works on plain convolutions: {choices}."
        )
    if layer.data_format != "channels_last" or layer.groups != 1:
        raise ValueError(
            f"Layer {layer_name!r} is a channels-first or grouped convolution, which the "
            "step-by-step view does not cover."
        )
    return layer


def _check_index(name: str, index: int, size: int) -> int:
    if isinstance(index, bool) or not isinstance(index, int | np.integer) or not 0 <= index < size:
        raise ValueError(f"{name} must be a whole number from 0 to {size - 1}; got {index!r}.")
    return int(index)


def _single_image(image: np.ndarray) -> np.ndarray:
    """Drop the batch axis of a (1, h, w, c) image; a batch of several is refused."""
    image = np.asarray(image)
    if image.ndim == 4:
        if len(image) != 1:
            raise ValueError(f"Give one image, not a batch of {len(image)}.")
        return image[0]
    return image


def _following_kind(layer: keras.layers.Layer) -> str | None:
    """The `after` kind of a layer convolution_step can follow one position through, or None."""
    if isinstance(layer, layers.Activation) and layer.activation in CHANNEL_MIXING_ACTIVATIONS:
        return None
    for layer_type, kind in (*ELEMENTWISE_KINDS, *POOLING_KINDS):
        if isinstance(layer, layer_type):
            if getattr(layer, "data_format", "channels_last") != "channels_last":
                return None
            return kind
    return None


def _layers_after(model: keras.Model, layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The chain of batch norm, activation and pooling layers fed by `layer` alone.

    Each must be the only layer reading the previous output, and read nothing else: where the
    output branches (two readers, or an Add joining it with another path) the chain stops.
    """
    chain: list[keras.layers.Layer] = []
    tensor = layer.output
    while True:
        readers = []
        for candidate in model.layers:
            try:
                inputs = keras.tree.flatten(candidate.input)
            except (AttributeError, ValueError, RuntimeError):
                continue  # An input layer, or one used twice, has no single input to compare.
            if any(item is tensor for item in inputs):
                readers.append((candidate, len(inputs)))
        if len(readers) != 1 or readers[0][1] != 1:
            return chain
        following = readers[0][0]
        kind = _following_kind(following)
        if kind is None:
            return chain
        chain.append(following)
        if kind.startswith("global_"):
            return chain
        tensor = following.output


def _window_covering(
    position: int, input_size: int, output_size: int, pool: int, stride: int, padding: str
) -> int | None:
    """The one pooling window along an axis that covers `position`; None if none or several.

    Valid pooling of an odd size leaves the last row in no window; overlapping pooling
    (stride below the pool size) puts a row in two.
    """
    before = _padding_before(input_size, pool, stride, 1, padding)
    windows = [
        window
        for window in range(output_size)
        if window * stride - before <= position < window * stride - before + pool
    ]
    return windows[0] if len(windows) == 1 else None


def _pooled_position(pooling: keras.layers.Layer, row: int, col: int) -> tuple[int, int] | None:
    """Where (row, col) of a pooling layer's input lands in its output; None if not one place."""
    input_height, input_width = (int(size) for size in pooling.input.shape[1:3])
    output_height, output_width = (int(size) for size in pooling.output.shape[1:3])
    (pool_rows, pool_cols), (stride_rows, stride_cols) = pooling.pool_size, pooling.strides
    pooled_row = _window_covering(
        row, input_height, output_height, pool_rows, stride_rows, pooling.padding
    )
    pooled_col = _window_covering(
        col, input_width, output_width, pool_cols, stride_cols, pooling.padding
    )
    if pooled_row is None or pooled_col is None:
        return None
    return pooled_row, pooled_col


def _values_after(
    chain: list[keras.layers.Layer],
    outputs: list[np.ndarray],
    row: int,
    col: int,
    channel: int,
) -> tuple[tuple[str, str, float], ...]:
    """(layer name, kind, value) for each chained layer, read from its real output."""
    after = []
    for following, output in zip(chain, outputs, strict=True):
        kind = _following_kind(following)
        if kind.startswith("global_"):
            after.append((following.name, kind, float(output.reshape(-1)[channel])))
            break
        if kind in ("max_pool", "average_pool"):
            pooled = _pooled_position(following, row, col)
            if pooled is None:
                break
            row, col = pooled
        after.append((following.name, kind, float(output[row, col, channel])))
    return tuple(after)


def convolution_step(
    model: keras.Model, image: np.ndarray, layer_name: str, row: int, col: int, channel: int
) -> ConvolutionStep:
    """How the Conv2D layer `layer_name` computes its output at (row, col, channel) for one image.

    `image` is uint8, (h, w, c) or (1, h, w, c), the model's input size. The layer's input comes
    from running the model up to it; the window follows TensorFlow's padding exactly.
    """
    layer = _convolution_layer(model, layer_name)
    kernel_height, kernel_width, input_channels, filters = (
        int(size) for size in layer.kernel.shape
    )
    output_height, output_width, output_channels = (int(size) for size in layer.output.shape[1:])
    if output_channels != filters:
        raise ValueError(f"Layer {layer_name!r}'s activation changes its number of channels.")
    row = _check_index("row", row, output_height)
    col = _check_index("col", col, output_width)
    channel = _check_index("channel", channel, output_channels)
    batch = _image_batch(_single_image(image), tuple(model.input_shape[1:]))

    chain = _layers_after(model, layer)
    # Built per call: about 1 ms, against 3-5 ms to run it, so there is nothing worth caching.
    # A direct call, not predict(), which costs ~70 ms for one image (TRAPS.md).
    probe = keras.Model(model.inputs[0], [layer.input, *(following.output for following in chain)])
    outputs = probe(tf.cast(batch, tf.float32), training=False)
    outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
    outputs = [np.asarray(output, dtype=np.float32)[0] for output in outputs]
    layer_input = outputs[0]

    input_height, input_width = layer_input.shape[:2]
    (stride_rows, stride_cols), (dilation_rows, dilation_cols) = layer.strides, layer.dilation_rate
    top = row * stride_rows - _padding_before(
        input_height, kernel_height, stride_rows, dilation_rows, layer.padding
    )
    left = col * stride_cols - _padding_before(
        input_width, kernel_width, stride_cols, dilation_cols, layer.padding
    )
    input_rows = top + np.arange(kernel_height) * dilation_rows
    input_cols = left + np.arange(kernel_width) * dilation_cols
    inside_rows = (input_rows >= 0) & (input_rows < input_height)
    inside_cols = (input_cols >= 0) & (input_cols < input_width)
    patch = np.zeros((kernel_height, kernel_width, input_channels), dtype=np.float32)
    patch[np.ix_(inside_rows, inside_cols)] = layer_input[
        np.ix_(input_rows[inside_rows], input_cols[inside_cols])
    ]

    weights = np.asarray(layer.kernel, dtype=np.float32)
    biases = (
        np.asarray(layer.bias, dtype=np.float32)
        if layer.use_bias
        else np.zeros(filters, np.float32)
    )
    kernel = np.ascontiguousarray(weights[..., channel])
    products = patch * kernel
    bias = float(biases[channel])
    pre_activation = float(products.sum(dtype=np.float64) + bias)
    # The activation gets every channel's sum, not just this one: a softmax over the channels
    # needs them all, and an elementwise activation is unchanged by the company.
    pre_activations = patch.reshape(-1).astype(np.float64) @ weights.reshape(-1, filters) + biases
    pre_activations[channel] = pre_activation
    activated = layer.activation(tf.constant(pre_activations[np.newaxis], dtype=tf.float32))
    value = float(np.asarray(activated, dtype=np.float32)[0, channel])

    return ConvolutionStep(
        layer_name=layer.name,
        row=row,
        col=col,
        channel=channel,
        patch=patch,
        kernel=kernel,
        products=products,
        per_channel_sums=products.sum(axis=(0, 1), dtype=np.float64).astype(np.float32),
        bias=bias,
        pre_activation=pre_activation,
        activation=getattr(layer.activation, "__name__", type(layer.activation).__name__),
        value=value,
        input_rows=tuple(int(index) for index in input_rows),
        input_cols=tuple(int(index) for index in input_cols),
        after=_values_after(chain, outputs[1:], row, col, channel),
    )


@dataclass(frozen=True)
class ConvolutionLayer:
    """What a convolution layer does, for labels: sizes are (height, width) or (h, w, channels).

    `kind` is the Keras class name; only a plain "Conv2D" can be taken apart by
    convolution_step (`steppable`). `source` names the layer it reads; `reads_image` is true
    when that is the image itself or only its preprocessing (scaling, say).
    """

    name: str
    kind: str
    kernel_size: tuple[int, int]
    strides: tuple[int, int]
    dilation_rate: tuple[int, int]
    padding: str
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]
    use_bias: bool
    source: str
    reads_image: bool

    @property
    def steppable(self) -> bool:
        return self.kind == "Conv2D"


def describe_convolutions(model: keras.Model) -> list[ConvolutionLayer]:
    """Every convolution layer's kernel, stride, padding and shapes, in model order."""
    described = []
    for layer in convolution_layers(model):
        kernel_size = tuple(int(size) for size in layer.kernel_size)
        # Keras keeps the layer that made a tensor in its history; a model's input has none.
        history = getattr(layer.input, "_keras_history", None)
        source_layer = getattr(history, "operation", None)
        described.append(
            ConvolutionLayer(
                name=layer.name,
                kind=type(layer).__name__,
                kernel_size=kernel_size,
                strides=tuple(int(size) for size in layer.strides),
                dilation_rate=tuple(int(size) for size in getattr(layer, "dilation_rate", (1, 1))),
                padding=str(layer.padding),
                input_shape=tuple(int(size) for size in layer.input.shape[1:]),
                output_shape=tuple(int(size) for size in layer.output.shape[1:]),
                use_bias=bool(layer.use_bias),
                source=getattr(source_layer, "name", "image"),
                reads_image=source_layer is None or isinstance(source_layer, PREPROCESSING_TYPES),
            )
        )
    return described


def convolution_maps(
    model: keras.Model, image: np.ndarray, layer_name: str
) -> tuple[np.ndarray, np.ndarray]:
    """The Conv2D layer's input and output for one uint8 image, each (h, w, channels) float32.

    The input is what convolution_step's window slides over: the scaled pixels for the first
    layer, the previous layer's output for the others.
    """
    layer = _convolution_layer(model, layer_name)
    batch = _image_batch(_single_image(image), tuple(model.input_shape[1:]))
    probe = keras.Model(model.inputs[0], [layer.input, layer.output])
    layer_input, layer_output = probe(tf.cast(batch, tf.float32), training=False)
    return (
        np.asarray(layer_input, dtype=np.float32)[0],
        np.asarray(layer_output, dtype=np.float32)[0],
    )


@dataclass(frozen=True)
class FollowingLayer:
    """One entry of ConvolutionStep.after with what a reader needs to name it.

    `activation` is the function's name for an activation layer ("relu"), `pool_size` the
    window (rows, columns) of a pooling layer that has one; None otherwise.
    """

    name: str
    kind: str
    value: float
    activation: str | None = None
    pool_size: tuple[int, int] | None = None


def describe_following(model: keras.Model, step: ConvolutionStep) -> list[FollowingLayer]:
    """The layers of `step.after` with their activation or pooling window, in order."""
    described = []
    for name, kind, value in step.after:
        layer = model.get_layer(name)
        activation = getattr(layer, "activation", None)
        pool_size = getattr(layer, "pool_size", None)
        described.append(
            FollowingLayer(
                name=name,
                kind=kind,
                value=value,
                activation=(
                    getattr(activation, "__name__", type(layer).__name__.lower())
                    if kind == "activation"
                    else None
                ),
                pool_size=tuple(int(size) for size in pool_size) if pool_size else None,
            )
        )
    return described


def similar_images(
    model: keras.Model,
    image: np.ndarray,
    reference_images: np.ndarray,
    count: int,
    *,
    reference_features: np.ndarray | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> np.ndarray:
    """Indices (count,) int64 of the reference images the network finds most like `image`.

    Likeness is the cosine similarity of the penultimate activations, nearest first.
    `reference_features` (n, features), from penultimate_activations, saves recomputing them.
    """
    reference_images = np.asarray(reference_images)
    check_images(model, reference_images)
    reference_count = len(reference_images)
    if (
        isinstance(count, bool)
        or not isinstance(count, int | np.integer)
        or not 1 <= count <= reference_count
    ):
        raise ValueError(
            f"count must be a whole number from 1 to {reference_count} (the number of "
            f"reference images); got {count!r}."
        )
    batch = _image_batch(_single_image(image), tuple(model.input_shape[1:]))
    # One image: a direct call of the probe, not the batched tf.function, which traces anew.
    query = np.asarray(
        _penultimate_probe(model)(tf.cast(batch, tf.float32), training=False), dtype=np.float32
    ).reshape(-1)
    if reference_features is None:
        reference_features = penultimate_activations(model, reference_images, batch_size=batch_size)
    reference_features = np.asarray(reference_features, dtype=np.float32)
    if reference_features.shape != (reference_count, len(query)):
        raise ValueError(
            f"reference_features must have shape ({reference_count}, {len(query)}), one row of "
            f"this model's penultimate activations per reference image; got "
            f"{reference_features.shape}."
        )
    # Cosine rather than Euclidean: after a ReLU the features are positive and their overall
    # size follows the ink (a bold stroke fires every feature harder), while which features fire
    # follows the shape; cosine compares the shape and ignores the boldness.
    reference_norms = np.sqrt(np.einsum("ij,ij->i", reference_features, reference_features))
    norms = reference_norms * np.linalg.norm(query)
    similarity = np.divide(
        reference_features @ query,
        norms,
        out=np.zeros(reference_count, np.float32),
        where=norms > 0,
    )
    # A stable sort keeps tied references (duplicate images) in their given order.
    return np.argsort(-similarity, kind="stable")[:count].astype(np.int64)
