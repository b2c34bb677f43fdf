"""Tests for core.inspection.convolution_step (one convolution output, step by step) and
similar_images (nearest training images in the network's eyes)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from core.datasets import Dataset, load_dataset
from core.inspection import (
    convolution_maps,
    convolution_step,
    describe_convolutions,
    describe_following,
    penultimate_activations,
    similar_images,
)
from core.models import PRESETS, ConvBlock, ModelSpec, build_model
from core.training import TrainConfig, train

NUM_CLASSES = 10
SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
# Neighbours per query in the MNIST check, and the share that must match the prediction.
NEIGHBOURS = 5
MIN_AGREEMENT = 0.7


def random_image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Noise pixels 1-255: no pixel is 0, so a zero in the first layer's patch is padding."""
    return np.random.default_rng(seed).integers(1, 256, shape, dtype=np.uint8)


def give_random_biases(model: keras.Model, seed: int) -> keras.Model:
    """Glorot kernels come seeded; biases start at 0, which would hide a bias mistake."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D) and layer.use_bias:
            layer.bias.assign(rng.normal(0.0, 0.2, layer.bias.shape).astype(np.float32))
    return model


def build_grayscale_cnn() -> keras.Model:
    """28x28x1 through kernels 3 and 5, same and valid padding, stride 2 on an even size,
    dilation, no bias, and relu, linear and tanh activations."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="same3")(x)  # 28
    x = layers.Conv2D(5, 5, padding="valid", use_bias=False, name="valid5_no_bias")(x)  # 24
    # 24 -> 12 needs one row of padding in all, which TensorFlow puts at the bottom.
    x = layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="stride2_even")(x)
    x = layers.Conv2D(4, 5, padding="same", dilation_rate=2, name="dilated5")(x)  # 12
    x = layers.Conv2D(3, 3, strides=2, activation="tanh", name="valid3_stride2")(x)  # 5
    x = layers.Flatten()(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    return give_random_biases(keras.Model(inputs, outputs), seed=0)


def build_colour_cnn() -> keras.Model:
    """32x32x3 with stride 2 on odd and even sizes, padding split evenly and unevenly."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input(shape=(32, 32, 3))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(4, 5, padding="same", activation="relu", name="same5")(x)  # 32
    x = layers.Conv2D(6, 3, strides=2, padding="valid", name="valid3_stride2")(x)  # 15
    # 15 -> 8: two rows of padding, one on each side.
    x = layers.Conv2D(5, 3, strides=2, padding="same", activation="relu", name="stride2_odd")(x)
    # 8 -> 4 with a 5x5 kernel: three rows of padding, one above and two below.
    x = layers.Conv2D(4, 5, strides=2, padding="same", use_bias=False, name="stride2_uneven")(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    return give_random_biases(keras.Model(inputs, outputs), seed=1)


def build_batch_norm_cnn() -> keras.Model:
    """Conv (no activation) -> BatchNormalization -> ReLU -> MaxPooling, then conv -> global
    average, with batch-norm statistics far from the identity."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input(shape=(15, 15, 1))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(4, 3, use_bias=False, name="conv")(x)  # 13: the last row is in no window
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.ReLU(name="relu")(x)
    x = layers.MaxPooling2D(name="pool")(x)  # 6
    x = layers.Conv2D(3, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.GlobalAveragePooling2D(name="global_average")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(2)
    norm = model.get_layer("bn")
    norm.gamma.assign(rng.uniform(0.5, 2.0, 4).astype(np.float32))
    norm.beta.assign(rng.normal(0.0, 0.5, 4).astype(np.float32))
    norm.moving_mean.assign(rng.normal(0.0, 0.3, 4).astype(np.float32))
    norm.moving_variance.assign(rng.uniform(0.05, 3.0, 4).astype(np.float32))
    return model


def build_branching_cnn() -> keras.Model:
    """Convolutions whose next layer cannot be followed, a softmax convolution, and the other
    convolution types convolution_step refuses."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input(shape=(12, 12, 1))
    x = layers.Rescaling(1 / 255)(inputs)
    into_softmax = layers.Conv2D(3, 3, name="into_softmax")(x)
    into_softmax = layers.Activation("softmax", name="softmax")(into_softmax)
    branching = layers.Conv2D(3, 3, name="branching")(x)
    branching = layers.Add(name="add")([layers.ReLU(name="branch_relu")(branching), branching])
    into_overlap = layers.Conv2D(3, 3, name="into_overlap")(x)
    into_overlap = layers.BatchNormalization(name="overlap_bn")(into_overlap)
    into_overlap = layers.MaxPooling2D(3, strides=1, name="overlapping_pool")(into_overlap)
    softmax_conv = layers.Conv2D(3, 3, activation="softmax", name="softmax_conv")(x)
    separable = layers.SeparableConv2D(3, 3, name="separable")(x)
    depthwise = layers.DepthwiseConv2D(3, name="depthwise")(x)
    ends = [into_softmax, branching, into_overlap, softmax_conv, separable, depthwise]
    merged = layers.Concatenate()([layers.Flatten()(end) for end in ends])
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="dense")(merged)
    return give_random_biases(keras.Model(inputs, outputs), seed=3)


def convolutions_of(model: keras.Model) -> list[layers.Conv2D]:
    return [layer for layer in model.layers if isinstance(layer, layers.Conv2D)]


def probe(model: keras.Model, tensors, image: np.ndarray):
    """What the model's layers really compute for one image (first batch entry, float32)."""
    outputs = keras.Model(model.inputs[0], tensors)(image[np.newaxis].astype(np.float32))
    if isinstance(outputs, list | tuple):
        return [np.asarray(output, dtype=np.float32)[0] for output in outputs]
    return np.asarray(outputs, dtype=np.float32)[0]


def positions(height: int, width: int, channels: int) -> list[tuple[int, int, int]]:
    """Every corner (where the padding is) in the first and last channel, and the middle."""
    last = channels - 1
    return [
        (0, 0, 0),
        (0, width - 1, last),
        (height - 1, 0, last),
        (height - 1, width - 1, 0),
        (height // 2, width // 2, min(1, last)),
    ]


def assert_steps_match_layer(model: keras.Model, image: np.ndarray, layer: layers.Conv2D) -> None:
    """convolution_step agrees with the layer's real output and TensorFlow's own patches."""
    layer_input, real_output = probe(model, [layer.input, layer.output], image)
    kernel_height, kernel_width, input_channels, _ = layer.kernel.shape
    stride, dilation = layer.strides[0], layer.dilation_rate[0]
    # TensorFlow's patch extraction pads exactly like its convolution: an independent window.
    expected_patches = tf.image.extract_patches(
        layer_input[np.newaxis],
        sizes=[1, kernel_height, kernel_width, 1],
        strides=[1, stride, stride, 1],
        rates=[1, dilation, dilation, 1],
        padding=layer.padding.upper(),
    ).numpy()[0]
    output_scale = max(1.0, float(np.abs(real_output).max()))
    input_scale = max(1.0, float(np.abs(layer_input).max()))
    weights = np.asarray(layer.kernel, dtype=np.float32)
    for row, col, channel in positions(*real_output.shape):
        step = convolution_step(model, image, layer.name, row, col, channel)
        where = f"{layer.name} at ({row}, {col}, {channel})"
        np.testing.assert_allclose(
            step.value,
            real_output[row, col, channel],
            rtol=1e-4,
            atol=1e-4 * output_scale,
            err_msg=where,
        )
        assert step.patch.shape == (kernel_height, kernel_width, input_channels)
        assert step.patch.dtype == np.float32
        np.testing.assert_allclose(
            step.patch.reshape(-1),
            expected_patches[row, col],
            atol=1e-5 * input_scale,
            err_msg=where,
        )
        padding_rows = [
            index
            for index, row_in in enumerate(step.input_rows)
            if not 0 <= row_in < layer_input.shape[0]
        ]
        padding_cols = [
            index
            for index, col_in in enumerate(step.input_cols)
            if not 0 <= col_in < layer_input.shape[1]
        ]
        assert not step.patch[padding_rows].any() and not step.patch[:, padding_cols].any()
        np.testing.assert_array_equal(step.kernel, weights[..., channel])
        expected_bias = float(np.asarray(layer.bias)[channel]) if layer.use_bias else 0.0
        assert step.bias == pytest.approx(expected_bias)
        np.testing.assert_allclose(step.products, step.patch * step.kernel, rtol=1e-6)
        np.testing.assert_allclose(
            step.per_channel_sums, step.products.sum(axis=(0, 1)), rtol=1e-5, atol=1e-6
        )
        assert step.per_channel_sums.shape == (input_channels,)
        assert float(step.products.sum()) + step.bias == pytest.approx(
            step.pre_activation, rel=1e-5, abs=1e-5 * output_scale
        )
        if step.activation == "relu":
            assert step.value == pytest.approx(max(step.pre_activation, 0.0), abs=1e-6)
        elif step.activation == "linear":
            assert step.value == pytest.approx(step.pre_activation, abs=1e-6)


@pytest.fixture(scope="module")
def grayscale_cnn() -> keras.Model:
    return build_grayscale_cnn()


@pytest.fixture(scope="module")
def colour_cnn() -> keras.Model:
    return build_colour_cnn()


@pytest.fixture(scope="module")
def batch_norm_cnn() -> keras.Model:
    return build_batch_norm_cnn()


@pytest.fixture(scope="module")
def branching_cnn() -> keras.Model:
    return build_branching_cnn()


@pytest.mark.parametrize("model_fixture", ["grayscale_cnn", "colour_cnn"])
def test_every_convolution_value_is_the_layers_real_output(
    model_fixture: str, request: pytest.FixtureRequest
) -> None:
    model = request.getfixturevalue(model_fixture)
    image = random_image(model.input_shape[1:])
    convolutions = convolutions_of(model)
    assert len(convolutions) >= 4
    for layer in convolutions:
        assert_steps_match_layer(model, image, layer)


@pytest.mark.parametrize(
    ("preset", "image_shape"),
    [("fast", (28, 28, 1)), ("lenet5", (28, 28, 1)), ("small_vgg", (32, 32, 3))],
)
def test_every_convolution_of_a_preset_model(preset: str, image_shape: tuple[int, ...]) -> None:
    model = build_model(PRESETS[preset], image_shape, NUM_CLASSES, seed=0)
    image = random_image(image_shape, seed=4)
    convolutions = convolutions_of(model)
    assert len(convolutions) == sum(block.convs for block in PRESETS[preset].conv_blocks)
    for layer in convolutions:
        assert_steps_match_layer(model, image, layer)


def test_first_layer_patch_is_the_scaled_pixels_with_zero_padding(grayscale_cnn) -> None:
    image = random_image((28, 28, 1))
    corner = convolution_step(grayscale_cnn, image, "same3", 0, 0, 0)
    assert corner.input_rows == (-1, 0, 1) and corner.input_cols == (-1, 0, 1)
    assert not corner.patch[0].any() and not corner.patch[:, 0].any()
    np.testing.assert_allclose(corner.patch[1:, 1:, 0], image[:2, :2, 0] / 255, rtol=1e-6)
    opposite = convolution_step(grayscale_cnn, image, "same3", 27, 27, 3)
    assert opposite.input_rows == (26, 27, 28)
    assert not opposite.patch[2].any() and opposite.patch[:2, :2].all()


def test_uneven_same_padding_goes_at_the_bottom_as_in_tensorflow(grayscale_cnn, colour_cnn) -> None:
    # 24 -> 12 with a 3x3 kernel and stride 2: one row of padding, none at the top.
    image = random_image((28, 28, 1))
    assert convolution_step(grayscale_cnn, image, "stride2_even", 0, 0, 0).input_rows == (0, 1, 2)
    bottom = convolution_step(grayscale_cnn, image, "stride2_even", 11, 11, 0)
    assert bottom.input_rows == (22, 23, 24) and not bottom.patch[2].any()
    # 8 -> 4 with a 5x5 kernel: one row above, two below.
    colour = random_image((32, 32, 3))
    top = convolution_step(colour_cnn, colour, "stride2_uneven", 0, 0, 0)
    assert top.input_rows == (-1, 0, 1, 2, 3)
    far_corner = convolution_step(colour_cnn, colour, "stride2_uneven", 3, 3, 0)
    assert far_corner.input_rows == (5, 6, 7, 8, 9)
    assert not far_corner.patch[3:].any() and far_corner.patch[:3, :3].any()
    assert top.bias == 0.0 and top.patch.shape == (5, 5, 5)
    # A dilated 5x5 kernel spans 9 rows: four rows of padding above.
    dilated = convolution_step(grayscale_cnn, image, "dilated5", 0, 0, 0)
    assert dilated.input_rows == (-4, -2, 0, 2, 4)


def test_a_batch_of_one_gives_the_same_step(colour_cnn) -> None:
    image = random_image((32, 32, 3))
    single = convolution_step(colour_cnn, image, "stride2_odd", 3, 4, 2)
    batched = convolution_step(colour_cnn, image[np.newaxis], "stride2_odd", 3, 4, 2)
    np.testing.assert_array_equal(single.patch, batched.patch)
    assert single.value == batched.value
    assert (single.layer_name, single.row, single.col, single.channel) == ("stride2_odd", 3, 4, 2)


def test_after_follows_batch_norm_relu_and_max_pooling(batch_norm_cnn) -> None:
    model = batch_norm_cnn
    image = random_image((15, 15, 1), seed=5)
    names = ["bn", "relu", "pool"]
    norm_output, relu_output, pool_output = probe(
        model, [model.get_layer(name).output for name in names], image
    )
    norm = model.get_layer("bn")
    gamma, beta, mean, variance = (
        np.asarray(weight, dtype=np.float64)
        for weight in (norm.gamma, norm.beta, norm.moving_mean, norm.moving_variance)
    )
    for row, col, channel in [(0, 0, 0), (5, 7, 1), (11, 3, 2), (10, 11, 3)]:
        step = convolution_step(model, image, "conv", row, col, channel)
        assert step.activation == "linear" and step.value == pytest.approx(step.pre_activation)
        assert [(name, kind) for name, kind, _ in step.after] == [
            ("bn", "batch_norm"),
            ("relu", "activation"),
            ("pool", "max_pool"),
        ]
        normalised, rectified, pooled = (value for _, _, value in step.after)
        # Batch norm at inference: the moving statistics, then the learned scale and shift.
        expected = (
            gamma[channel]
            * (step.pre_activation - mean[channel])
            / np.sqrt(variance[channel] + norm.epsilon)
            + beta[channel]
        )
        scale = max(1.0, float(np.abs(norm_output).max()))
        assert normalised == pytest.approx(expected, abs=1e-4 * scale)
        assert normalised == pytest.approx(norm_output[row, col, channel], abs=1e-6 * scale)
        assert rectified == pytest.approx(max(normalised, 0.0), abs=1e-6 * scale)
        assert rectified == relu_output[row, col, channel]
        assert pooled == pool_output[row // 2, col // 2, channel]
        assert pooled >= rectified


def test_after_stops_where_a_position_falls_outside_every_pooling_window(batch_norm_cnn) -> None:
    # Valid 2x2 pooling of 13 rows drops row 12.
    image = random_image((15, 15, 1), seed=5)
    step = convolution_step(batch_norm_cnn, image, "conv", 12, 4, 0)
    assert [name for name, _, _ in step.after] == ["bn", "relu"]


def test_after_ends_with_a_global_average(batch_norm_cnn) -> None:
    image = random_image((15, 15, 1), seed=5)
    global_average = probe(batch_norm_cnn, batch_norm_cnn.get_layer("global_average").output, image)
    step = convolution_step(batch_norm_cnn, image, "conv2", 5, 0, 2)
    assert len(step.after) == 1
    name, kind, value = step.after[0]
    assert (name, kind) == ("global_average", "global_average_pool")
    assert value == pytest.approx(global_average[2], rel=1e-6, abs=1e-7)


def test_after_stops_at_channel_mixing_branching_and_overlapping_layers(branching_cnn) -> None:
    image = random_image((12, 12, 1), seed=6)
    assert convolution_step(branching_cnn, image, "into_softmax", 4, 4, 0).after == ()
    assert convolution_step(branching_cnn, image, "branching", 4, 4, 0).after == ()
    # A 3x3 pooling with stride 1 puts a middle position in nine windows.
    overlapping = convolution_step(branching_cnn, image, "into_overlap", 4, 4, 0)
    assert [name for name, _, _ in overlapping.after] == ["overlap_bn"]


def test_a_softmax_convolution_value_uses_every_channel(branching_cnn) -> None:
    image = random_image((12, 12, 1), seed=6)
    assert_steps_match_layer(branching_cnn, image, branching_cnn.get_layer("softmax_conv"))
    step = convolution_step(branching_cnn, image, "softmax_conv", 2, 3, 1)
    assert step.activation == "softmax" and 0.0 < step.value < 1.0


def test_describe_convolutions_gives_kernel_stride_padding_and_shapes(
    grayscale_cnn, branching_cnn
) -> None:
    described = {layer.name: layer for layer in describe_convolutions(grayscale_cnn)}
    assert list(described) == [
        "same3",
        "valid5_no_bias",
        "stride2_even",
        "dilated5",
        "valid3_stride2",
    ]
    first, stride2, dilated = described["same3"], described["stride2_even"], described["dilated5"]
    assert (first.kernel_size, first.strides, first.padding) == ((3, 3), (1, 1), "same")
    assert (first.input_shape, first.output_shape) == ((28, 28, 1), (28, 28, 4))
    assert first.source == "rescaling" and first.reads_image and first.use_bias
    assert (stride2.strides, stride2.input_shape, stride2.output_shape) == (
        (2, 2),
        (24, 24, 5),
        (12, 12, 6),
    )
    assert stride2.source == "valid5_no_bias" and not stride2.reads_image
    assert dilated.dilation_rate == (2, 2) and not described["valid5_no_bias"].use_bias
    assert all(layer.steppable for layer in described.values())
    kinds = {
        layer.name: (layer.kind, layer.steppable) for layer in describe_convolutions(branching_cnn)
    }
    assert kinds["separable"] == ("SeparableConv2D", False)
    assert kinds["depthwise"] == ("DepthwiseConv2D", False)
    assert kinds["branching"] == ("Conv2D", True)


def test_convolution_maps_are_the_layers_real_input_and_output(colour_cnn) -> None:
    image = random_image((32, 32, 3), seed=8)
    layer = colour_cnn.get_layer("stride2_odd")
    real_input, real_output = probe(colour_cnn, [layer.input, layer.output], image)
    layer_input, layer_output = convolution_maps(colour_cnn, image, "stride2_odd")
    assert layer_input.shape == (15, 15, 6) and layer_output.shape == (8, 8, 5)
    np.testing.assert_allclose(layer_input, real_input, rtol=1e-6)
    np.testing.assert_allclose(layer_output, real_output, rtol=1e-6)
    step = convolution_step(colour_cnn, image, "stride2_odd", 7, 2, 4)
    assert step.value == pytest.approx(float(layer_output[7, 2, 4]), abs=1e-5)


def test_convolution_maps_refuse_what_convolution_step_refuses(branching_cnn) -> None:
    with pytest.raises(ValueError, match="is a SeparableConv2D, not a Conv2D"):
        convolution_maps(branching_cnn, random_image((12, 12, 1)), "separable")


def test_describe_following_names_the_activation_and_the_pooling_window(batch_norm_cnn) -> None:
    image = random_image((15, 15, 1), seed=5)
    step = convolution_step(batch_norm_cnn, image, "conv", 5, 7, 1)
    following = describe_following(batch_norm_cnn, step)
    assert [(layer.name, layer.kind, layer.value) for layer in following] == list(step.after)
    norm, relu, pool = following
    assert (norm.activation, norm.pool_size) == (None, None)
    assert (relu.activation, relu.pool_size) == ("relu", None)
    assert (pool.activation, pool.pool_size) == (None, (2, 2))
    global_step = convolution_step(batch_norm_cnn, image, "conv2", 0, 0, 0)
    (global_average,) = describe_following(batch_norm_cnn, global_step)
    assert global_average.kind == "global_average_pool" and global_average.pool_size is None


@pytest.mark.parametrize(
    ("layer_name", "message"),
    [
        ("missing", "no layer named 'missing'"),
        ("dense", "is a Dense, not a Conv2D"),
        ("separable", "is a SeparableConv2D, not a Conv2D"),
        ("depthwise", "is a DepthwiseConv2D, not a Conv2D"),
        ("softmax", "is a Activation, not a Conv2D"),
    ],
)
def test_only_a_conv2d_layer_is_accepted(branching_cnn, layer_name: str, message: str) -> None:
    image = random_image((12, 12, 1))
    with pytest.raises(ValueError, match=message):
        convolution_step(branching_cnn, image, layer_name, 0, 0, 0)


@pytest.mark.parametrize(
    ("row", "col", "channel", "message"),
    [
        (-1, 0, 0, "row must be a whole number from 0 to 27"),
        (28, 0, 0, "row must be a whole number from 0 to 27"),
        (0, 28, 0, "col must be a whole number from 0 to 27"),
        (0, 0, 4, "channel must be a whole number from 0 to 3"),
        (0, 0, -1, "channel must be"),
        (1.5, 0, 0, "row must be"),
    ],
)
def test_positions_outside_the_output_are_refused(
    grayscale_cnn, row, col, channel, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        convolution_step(grayscale_cnn, random_image((28, 28, 1)), "same3", row, col, channel)


def test_images_of_the_wrong_kind_are_refused(grayscale_cnn) -> None:
    image = random_image((28, 28, 1))
    with pytest.raises(ValueError, match="uint8"):
        convolution_step(grayscale_cnn, image.astype(np.float32), "same3", 0, 0, 0)
    with pytest.raises(ValueError, match="shape"):
        convolution_step(grayscale_cnn, random_image((32, 32, 1)), "same3", 0, 0, 0)
    with pytest.raises(ValueError, match="not a batch of 2"):
        convolution_step(grayscale_cnn, np.stack([image, image]), "same3", 0, 0, 0)


def cosine_similarities(features: np.ndarray, query: np.ndarray) -> np.ndarray:
    return features @ query / (np.linalg.norm(features, axis=1) * np.linalg.norm(query))


def test_similar_images_come_nearest_first_and_an_image_finds_itself(grayscale_cnn) -> None:
    references = random_image((60, 28, 28, 1), seed=7)
    features = penultimate_activations(grayscale_cnn, references)
    for index in (0, 17, 59):
        nearest = similar_images(grayscale_cnn, references[index], references, 8)
        assert nearest.dtype == np.int64 and nearest.shape == (8,)
        assert nearest[0] == index and len(set(nearest.tolist())) == 8
        similarities = cosine_similarities(features.astype(np.float64), features[index])
        assert np.all(np.diff(similarities[nearest]) <= 1e-6)
        assert similarities[nearest[-1]] >= np.sort(similarities)[-8] - 1e-6
        cached = similar_images(
            grayscale_cnn, references[index], references, 8, reference_features=features
        )
        np.testing.assert_array_equal(cached, nearest)
    everything = similar_images(grayscale_cnn, references[3], references, 60)
    assert sorted(everything.tolist()) == list(range(60))


@pytest.mark.parametrize("count", [0, 61, -1, 2.0, True])
def test_similar_images_refuses_a_count_outside_the_references(grayscale_cnn, count) -> None:
    references = random_image((60, 28, 28, 1), seed=7)
    with pytest.raises(ValueError, match="count must be a whole number from 1 to 60"):
        similar_images(grayscale_cnn, references[0], references, count)


def test_similar_images_refuses_features_of_another_shape(grayscale_cnn) -> None:
    references = random_image((60, 28, 28, 1), seed=7)
    features = penultimate_activations(grayscale_cnn, references)
    with pytest.raises(ValueError, match=r"reference_features must have shape \(60, 75\)"):
        similar_images(
            grayscale_cnn, references[0], references, 3, reference_features=features[:50]
        )
    with pytest.raises(ValueError, match="uint8"):
        similar_images(grayscale_cnn, references[0], references.astype(np.float32), 3)


@pytest.fixture(scope="module")
def mnist_model_and_data() -> tuple[keras.Model, Dataset]:
    """A small CNN trained ~5 s on 5,000 real MNIST digits (about 97% on the test images)."""
    # conftest's shared_datasets fixture is per test; a module fixture checks the folder itself.
    if not (SHARED_DATASETS / "mnist" / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"the real dataset files are not at {SHARED_DATASETS} (a fresh clone)")
    mnist = load_dataset("mnist", data_dir=SHARED_DATASETS)
    subset = Dataset(
        name="mnist",
        class_names=mnist.class_names,
        x_train=mnist.x_train[:5000],
        y_train=mnist.y_train[:5000],
        x_test=mnist.x_test[:500],
        y_test=mnist.y_test[:500],
    )
    keras.utils.set_random_seed(0)
    spec = ModelSpec(conv_blocks=(ConvBlock(filters=8), ConvBlock(filters=16)))
    result = train(spec, subset, TrainConfig(epochs=3, batch_size=64), keep_checkpoints=False)
    assert result.model is not None
    return result.model, mnist


def test_similar_training_images_share_the_predicted_class(mnist_model_and_data) -> None:
    model, mnist = mnist_model_and_data
    # References the network never trained on, queries it never saw: no memorised pairs.
    references, reference_labels = mnist.x_train[5000:8000], mnist.y_train[5000:8000]
    queries = mnist.x_test[1000:1050]
    features = penultimate_activations(model, references)
    predictions = np.asarray(model(queries.astype(np.float32), training=False)).argmax(axis=1)
    agreeing = [
        reference_labels[
            similar_images(model, query, references, NEIGHBOURS, reference_features=features)
        ]
        == predicted
        for query, predicted in zip(queries, predictions, strict=True)
    ]
    agreement = float(np.mean(agreeing))
    print(f"share of neighbours of the predicted class: {agreement:.3f}")
    # About 0.92 here; chance is 0.1.
    assert agreement >= MIN_AGREEMENT
    # A digit that is among the references finds itself first.
    for index in (0, 10):
        query = mnist.x_train[5000 + index]
        assert similar_images(model, query, references, 1, reference_features=features)[0] == index
