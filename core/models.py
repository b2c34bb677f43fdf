"""CNN architectures: editable specs, named presets, an early sanity check and the Keras builder."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # Keras costs 5 s to import; only the functions that build models pay it.
    import keras
    import pandas as pd

POOLING_CHOICES = ("max", "average", "none")
PADDING_CHOICES = ("same", "valid")
ACTIVATION_CHOICES = ("relu", "elu", "gelu", "tanh", "sigmoid")
HEAD_CHOICES = ("flatten", "global_average")
MAX_FILTERS = 1024
MAX_KERNEL_SIZE = 11
MAX_CONVS_PER_BLOCK = 4
MAX_DENSE_UNITS = 4096
# A bigger model would take minutes per epoch here and could exhaust a shared server's memory.
MAX_PARAMETERS = 20_000_000
# The moving statistics must follow the data within a few hundred steps (see TRAPS.md).
BATCH_NORM_MOMENTUM = 0.9
POOL_SIZE = 2


def _ordinal(number: int) -> str:
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number}{suffix}"


def _choice_list(choices: Sequence[str]) -> str:
    quoted = [f"'{choice}'" for choice in choices]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}"


@dataclass(frozen=True)
class ConvBlock:
    """Convolutions with the same number of filters, then an optional 2x2 pooling."""

    filters: int = 32
    kernel_size: int = 3
    convs: int = 1
    pooling: str = "max"
    batch_norm: bool = True
    activation: str = "relu"
    padding: str = "same"

    def __post_init__(self) -> None:
        if not isinstance(self.filters, int) or not 1 <= self.filters <= MAX_FILTERS:
            raise ValueError(
                f"A convolution block needs between 1 and {MAX_FILTERS} filters; "
                f"got {self.filters!r}."
            )
        if not isinstance(self.kernel_size, int) or not 1 <= self.kernel_size <= MAX_KERNEL_SIZE:
            raise ValueError(
                f"Kernel size must be between 1 and {MAX_KERNEL_SIZE} pixels (3 is usual); "
                f"got {self.kernel_size!r}."
            )
        if not isinstance(self.convs, int) or not 1 <= self.convs <= MAX_CONVS_PER_BLOCK:
            raise ValueError(
                f"A block holds between 1 and {MAX_CONVS_PER_BLOCK} convolutions; "
                f"got {self.convs!r}."
            )
        if self.pooling not in POOLING_CHOICES:
            raise ValueError(
                f"Pooling must be {_choice_list(POOLING_CHOICES)}; got {self.pooling!r}."
            )
        if self.activation not in ACTIVATION_CHOICES:
            raise ValueError(
                f"Activation must be {_choice_list(ACTIVATION_CHOICES)}; got {self.activation!r}."
            )
        if self.padding not in PADDING_CHOICES:
            raise ValueError(
                f"Padding must be 'same' (keep the size) or 'valid' (shrink by kernel size - 1); "
                f"got {self.padding!r}."
            )
        if not isinstance(self.batch_norm, bool):
            raise ValueError(f"batch_norm must be True or False; got {self.batch_norm!r}.")


@dataclass(frozen=True)
class ModelSpec:
    """A whole CNN: convolution blocks, then flatten or global average, dense layers, softmax.

    Dropout, when above 0, is applied before every dense layer, the output layer included.
    """

    conv_blocks: tuple[ConvBlock, ...] = (ConvBlock(),)
    dense_units: tuple[int, ...] = ()
    dropout_rate: float = 0.0
    head: str = "flatten"
    dense_activation: str = "relu"
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        # Lists and dicts arrive from JSON and forms; store tuples so the spec stays hashable.
        blocks = tuple(
            block if isinstance(block, ConvBlock) else ConvBlock(**block)
            for block in self.conv_blocks
        )
        object.__setattr__(self, "conv_blocks", blocks)
        object.__setattr__(self, "dense_units", tuple(self.dense_units))
        for units in self.dense_units:
            if not isinstance(units, int) or not 1 <= units <= MAX_DENSE_UNITS:
                raise ValueError(
                    f"A dense layer needs between 1 and {MAX_DENSE_UNITS} units; got {units!r}."
                )
        if not isinstance(self.dropout_rate, int | float) or not 0 <= self.dropout_rate < 1:
            raise ValueError(
                "Dropout rate must be at least 0 and below 1 (0.5 drops half the units); "
                f"got {self.dropout_rate!r}."
            )
        if self.head not in HEAD_CHOICES:
            raise ValueError(
                "The head must be 'flatten' (keep every position) or 'global_average' "
                f"(average each feature map); got {self.head!r}."
            )
        if self.head == "global_average" and not self.conv_blocks:
            raise ValueError(
                "Global average pooling needs at least one convolution block; use the 'flatten' "
                "head for a model without convolutions."
            )
        if self.dense_activation not in ACTIVATION_CHOICES:
            raise ValueError(
                f"Dense activation must be {_choice_list(ACTIVATION_CHOICES)}; "
                f"got {self.dense_activation!r}."
            )


def model_spec_to_dict(spec: ModelSpec) -> dict[str, Any]:
    """A JSON-ready dict of a spec (tuples become lists)."""
    return asdict(spec)


def model_spec_from_dict(values: Mapping[str, Any]) -> ModelSpec:
    """The spec a model_spec_to_dict dict describes; raises ValueError for a bad one."""
    known = set(ModelSpec.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"Unknown model setting(s): {', '.join(unknown)}.")
    return ModelSpec(**values)


PRESETS: dict[str, ModelSpec] = {
    "fast": ModelSpec(
        conv_blocks=(
            ConvBlock(filters=16),
            ConvBlock(filters=32),
            ConvBlock(filters=64, pooling="none"),
        ),
        description="Small and quick: three 3x3 convolution blocks (16, 32 and 64 filters) with "
        "batch normalisation, two max-poolings, then one softmax layer. About 99% on MNIST "
        "after one minute of training on a laptop CPU.",
    ),
    "keras_mnist": ModelSpec(
        conv_blocks=(
            ConvBlock(filters=32, padding="valid", batch_norm=False),
            ConvBlock(filters=64, padding="valid", batch_norm=False),
        ),
        dropout_rate=0.5,
        description="The 'Simple MNIST convnet' of the Keras examples: two 3x3 convolutions "
        "(32 and 64 filters) each followed by 2x2 max-pooling, flatten, dropout 0.5 and softmax. "
        "Its authors train it 15 epochs with batch size 128 and reach about 99%.",
    ),
    "lenet5": ModelSpec(
        conv_blocks=(
            ConvBlock(
                filters=6, kernel_size=5, pooling="average", batch_norm=False, activation="tanh"
            ),
            ConvBlock(
                filters=16,
                kernel_size=5,
                pooling="average",
                batch_norm=False,
                activation="tanh",
                padding="valid",
            ),
        ),
        dense_units=(120, 84),
        dense_activation="tanh",
        description="LeNet-5 (LeCun et al., 1998), the network that read bank cheques: two 5x5 "
        "convolutions (6 and 16 filters) with average pooling and tanh, then dense layers of "
        "120 and 84 units. About 61,700 parameters on 28x28 images.",
    ),
    "small_vgg": ModelSpec(
        conv_blocks=(
            ConvBlock(filters=32, convs=2),
            ConvBlock(filters=64, convs=2),
            ConvBlock(filters=128, convs=2),
        ),
        dense_units=(128,),
        dropout_rate=0.3,
        description="A small VGG-style network for colour photos such as CIFAR-10: three blocks "
        "of two 3x3 convolutions (32, 64, 128 filters) with batch normalisation and "
        "max-pooling, then a dense layer of 128 units with dropout.",
    ),
}
DEFAULT_PRESET = "fast"


def _feature_map_sizes(
    spec: ModelSpec, input_shape: tuple[int, int, int]
) -> list[tuple[int, int, int]]:
    """(height, width, channels) after each block; raises ValueError where a size drops below 1."""
    height, width, channels = input_shape
    sizes = []
    poolings = 0
    for block_number, block in enumerate(spec.conv_blocks, start=1):
        for _ in range(block.convs):
            if block.padding == "valid":
                shrink = block.kernel_size - 1
                if height - shrink < 1 or width - shrink < 1:
                    raise ValueError(
                        f"In block {block_number} a {block.kernel_size}x{block.kernel_size} "
                        f"convolution without padding would shrink the {height}x{width} feature "
                        "map below 1x1. Use padding 'same' or a smaller kernel."
                    )
                height, width = height - shrink, width - shrink
            channels = block.filters
        if block.pooling != "none":
            if height < POOL_SIZE or width < POOL_SIZE:
                image = f"a {input_shape[0]}x{input_shape[1]} image"
                after = (
                    f"After {poolings} pooling layer{'s' if poolings != 1 else ''} {image} is "
                    if poolings
                    else f"Before any pooling {image} is "
                )
                raise ValueError(
                    f"{after}{height}x{width}; a {_ordinal(poolings + 1)} pooling "
                    f"(block {block_number}) would make it smaller than 1x1. Remove a pooling "
                    "layer (set pooling to 'none') or use fewer blocks."
                )
            height, width = height // POOL_SIZE, width // POOL_SIZE
            poolings += 1
        sizes.append((height, width, channels))
    return sizes


def count_spec_parameters(
    spec: ModelSpec, input_shape: tuple[int, int, int], num_classes: int
) -> int:
    """The parameters build_model would create, counted without building anything."""
    sizes = _feature_map_sizes(spec, tuple(input_shape))
    total = 0
    channels = input_shape[2]
    for block in spec.conv_blocks:
        for _ in range(block.convs):
            total += block.kernel_size**2 * channels * block.filters
            # A convolution before batch normalisation has no bias: the norm's shift replaces it.
            total += 4 * block.filters if block.batch_norm else block.filters
            channels = block.filters
    height, width, channels = sizes[-1] if sizes else tuple(input_shape)
    features = channels if spec.head == "global_average" else height * width * channels
    for units in (*spec.dense_units, num_classes):
        total += features * units + units
        features = units
    return total


def activation_values_per_image(spec: ModelSpec, input_shape: Sequence[int]) -> int:
    """Feature-map values one training image keeps for the backward pass (float32 each).

    Counts each convolution's output, and its batch-norm and activation outputs when it has
    batch norm, and each pooling output; the dense layers are negligible beside them.
    """
    height, width, _ = (int(size) for size in input_shape)
    values = 0
    for block in spec.conv_blocks:
        for _ in range(block.convs):
            if block.padding == "valid":
                height, width = height - block.kernel_size + 1, width - block.kernel_size + 1
            values += height * width * block.filters * (3 if block.batch_norm else 1)
        if block.pooling != "none":
            height, width = height // POOL_SIZE, width // POOL_SIZE
            values += height * width * block.filters
    return max(values, 0)


def check_spec(spec: ModelSpec, input_shape: Sequence[int], num_classes: int = 10) -> None:
    """Raise ValueError with an actionable sentence if `spec` cannot be built for these images."""
    if len(input_shape) != 3 or any(
        not isinstance(size, int | np.integer) or size < 1 for size in input_shape
    ):
        raise ValueError(
            f"Images must have a shape (height, width, channels) of positive sizes; "
            f"got {tuple(input_shape)}."
        )
    if not isinstance(num_classes, int | np.integer) or num_classes < 2:
        raise ValueError(f"A classifier needs at least 2 classes; got {num_classes!r}.")
    input_shape = tuple(int(size) for size in input_shape)
    parameters = count_spec_parameters(spec, input_shape, int(num_classes))
    if parameters > MAX_PARAMETERS:
        raise ValueError(
            f"This model would have {parameters:,} parameters, more than the "
            f"{MAX_PARAMETERS:,} Convlab trains. Add pooling, use fewer filters or dense units, "
            "or choose the 'global_average' head."
        )


def build_model(
    spec: ModelSpec,
    input_shape: Sequence[int],
    num_classes: int,
    *,
    seed: int = 0,
    dtype_policy: str = "float32",
) -> keras.Model:
    """A functional Keras model of `spec` that takes raw 0-255 pixels (n, h, w, c).

    Layers are named conv1 (conv1_1, conv1_2 for several per block), bn1, relu1, pool1, flatten,
    dense1, dropout1 and predictions; the softmax output stays float32 under mixed precision.
    """
    import keras
    from keras import layers

    check_spec(spec, input_shape, num_classes)
    input_shape = tuple(int(size) for size in input_shape)
    layer_seeds = iter(range(seed * 1000, seed * 1000 + 1000))

    def initializer() -> keras.initializers.Initializer:
        # A seed per layer makes the build reproducible without touching global random state.
        return keras.initializers.GlorotUniform(seed=next(layer_seeds))

    inputs = keras.Input(shape=input_shape, name="image")
    features = layers.Rescaling(1 / 255, name="rescaling", dtype=dtype_policy)(inputs)
    for block_number, block in enumerate(spec.conv_blocks, start=1):
        for conv_number in range(1, block.convs + 1):
            suffix = f"{block_number}_{conv_number}" if block.convs > 1 else f"{block_number}"
            features = layers.Conv2D(
                block.filters,
                block.kernel_size,
                padding=block.padding,
                use_bias=not block.batch_norm,
                activation=None if block.batch_norm else block.activation,
                kernel_initializer=initializer(),
                name=f"conv{suffix}",
                dtype=dtype_policy,
            )(features)
            if block.batch_norm:
                features = layers.BatchNormalization(
                    momentum=BATCH_NORM_MOMENTUM, name=f"bn{suffix}", dtype=dtype_policy
                )(features)
                features = layers.Activation(
                    block.activation, name=f"{block.activation}{suffix}", dtype=dtype_policy
                )(features)
        if block.pooling != "none":
            pooling_layer = (
                layers.MaxPooling2D if block.pooling == "max" else layers.AveragePooling2D
            )
            features = pooling_layer(POOL_SIZE, name=f"pool{block_number}", dtype=dtype_policy)(
                features
            )
    if spec.head == "global_average":
        features = layers.GlobalAveragePooling2D(name="global_average", dtype=dtype_policy)(
            features
        )
    else:
        features = layers.Flatten(name="flatten", dtype=dtype_policy)(features)
    dense_layers = [*spec.dense_units, num_classes]
    for dense_number, units in enumerate(dense_layers, start=1):
        if spec.dropout_rate > 0:
            features = layers.Dropout(
                spec.dropout_rate,
                seed=next(layer_seeds),
                name=f"dropout{dense_number}",
                dtype=dtype_policy,
            )(features)
        is_output = dense_number == len(dense_layers)
        features = layers.Dense(
            units,
            activation="softmax" if is_output else spec.dense_activation,
            kernel_initializer=initializer(),
            name="predictions" if is_output else f"dense{dense_number}",
            # Softmax in float16 loses small probabilities; the output stays float32.
            dtype="float32" if is_output else dtype_policy,
        )(features)
    return keras.Model(inputs, features, name="convlab_cnn")


def _output_shape_text(layer: keras.layers.Layer) -> str:
    shape = layer.output.shape
    return " x ".join(str(size) for size in shape[1:])


def layer_table(model: keras.Model) -> pd.DataFrame:
    """One row per layer: name, type, output shape (without the batch) and parameters."""
    import pandas as pd

    rows = [
        {
            "layer": layer.name,
            "type": type(layer).__name__,
            "output shape": _output_shape_text(layer),
            "parameters": int(layer.count_params()),
        }
        for layer in model.layers
    ]
    return pd.DataFrame(rows, columns=["layer", "type", "output shape", "parameters"])


def count_parameters(model: keras.Model) -> int:
    """All parameters of a model, trainable or not (batch-norm statistics included)."""
    return int(model.count_params())


def make_predict_function(
    model: keras.Model, *, batch_size: int = 1024
) -> Callable[[np.ndarray], np.ndarray]:
    """A fast predict: uint8 images (n, h, w, c) or one (h, w, c) -> float32 probabilities (n, k).

    It calls one tf.function with a fixed signature (free batch size), so it traces once and a
    single image costs about a millisecond instead of model.predict's 70.
    """
    # The same compiled call the evaluation uses: one signature with a free batch size.
    from core.evaluation import compile_batch_function

    input_shape = tuple(int(size) for size in model.input_shape[1:])
    num_classes = int(model.output_shape[-1])
    predict_batch = compile_batch_function(model)

    def predict(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.dtype != np.uint8:
            raise ValueError(
                f"Images must be uint8 pixels 0-255; got dtype {images.dtype}. "
                "Convert them with np.clip(images, 0, 255).astype(np.uint8)."
            )
        if images.shape == input_shape:
            images = images[np.newaxis]
        if images.ndim != 4 or tuple(images.shape[1:]) != input_shape:
            expected = "x".join(str(size) for size in input_shape)
            raise ValueError(
                f"This model takes {expected} images (height x width x channels); "
                f"got an array of shape {images.shape}."
            )
        if len(images) == 0:
            return np.zeros((0, num_classes), dtype=np.float32)
        outputs = [
            predict_batch(images[start : start + batch_size]).numpy()
            for start in range(0, len(images), batch_size)
        ]
        return np.concatenate(outputs).astype(np.float32, copy=False)

    # Exposed so a caller (or a test) can check the graph was traced only once.
    predict.compiled_function = predict_batch
    return predict


__all__ = [
    "ACTIVATION_CHOICES",
    "BATCH_NORM_MOMENTUM",
    "activation_values_per_image",
    "DEFAULT_PRESET",
    "HEAD_CHOICES",
    "MAX_PARAMETERS",
    "PADDING_CHOICES",
    "POOLING_CHOICES",
    "PRESETS",
    "ConvBlock",
    "ModelSpec",
    "build_model",
    "check_spec",
    "count_parameters",
    "count_spec_parameters",
    "layer_table",
    "make_predict_function",
    "model_spec_from_dict",
    "model_spec_to_dict",
]
