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

from core.evaluation import DEFAULT_BATCH_SIZE, predict_in_batches

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
# PCA down to this many dimensions before t-SNE, the usual way to make t-SNE fast and less noisy.
TSNE_PCA_DIMENSIONS = 50


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
    dense_layers = [layer for layer in model.layers if isinstance(layer, layers.Dense)]
    if not dense_layers:
        raise ValueError("This model has no Dense layer, so it has no penultimate activations.")
    probe = keras.Model(model.inputs[0], dense_layers[-1].input)
    activations = predict_in_batches(probe, images, batch_size=batch_size)
    return activations.reshape(len(images), -1)


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
