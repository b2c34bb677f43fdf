"""Model specs, presets, the early architecture check, the Keras builder and the fast predict."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from keras import layers

from core.models import (
    BATCH_NORM_MOMENTUM,
    MAX_PARAMETERS,
    PRESETS,
    ConvBlock,
    ModelSpec,
    build_model,
    check_spec,
    count_parameters,
    count_spec_parameters,
    layer_table,
    make_predict_function,
    model_spec_from_dict,
    model_spec_to_dict,
)


@pytest.fixture(scope="module")
def fast_model() -> keras.Model:
    return build_model(PRESETS["fast"], (28, 28, 1), 10, seed=0)


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("input_shape", [(28, 28, 1), (32, 32, 3)])
def test_every_preset_builds_with_the_parameters_counted_in_advance(
    name: str, input_shape: tuple[int, int, int]
) -> None:
    model = build_model(PRESETS[name], input_shape, 10)
    assert count_parameters(model) == count_spec_parameters(PRESETS[name], input_shape, 10)
    assert PRESETS[name].description, f"preset {name} needs a description a student reads"


def test_classic_presets_have_their_published_sizes() -> None:
    # The Keras example prints 34,826 parameters; LeNet-5 is known for its ~61.7k.
    assert count_parameters(build_model(PRESETS["keras_mnist"], (28, 28, 1), 10)) == 34_826
    assert count_parameters(build_model(PRESETS["lenet5"], (28, 28, 1), 10)) == 61_706


def test_layers_have_readable_names_and_the_model_scales_inside(fast_model: keras.Model) -> None:
    names = [layer.name for layer in fast_model.layers]
    assert names == [
        "image",
        "rescaling",
        "conv1",
        "bn1",
        "relu1",
        "pool1",
        "conv2",
        "bn2",
        "relu2",
        "pool2",
        "conv3",
        "bn3",
        "relu3",
        "flatten",
        "predictions",
    ]
    rescaling = fast_model.get_layer("rescaling")
    assert rescaling.scale == pytest.approx(1 / 255)
    assert all(
        layer.momentum == BATCH_NORM_MOMENTUM
        for layer in fast_model.layers
        if isinstance(layer, layers.BatchNormalization)
    )
    output = fast_model.get_layer("predictions")
    assert isinstance(output, layers.Dense) and output.activation is keras.activations.softmax


def test_several_convolutions_per_block_are_numbered_within_the_block() -> None:
    model = build_model(PRESETS["small_vgg"], (32, 32, 3), 10)
    names = [layer.name for layer in model.layers]
    assert ["conv1_1", "bn1_1", "relu1_1", "conv1_2"] == names[2:6]
    assert "dropout1" in names and "dense1" in names


def test_mixed_precision_keeps_the_softmax_in_float32() -> None:
    model = build_model(PRESETS["fast"], (28, 28, 1), 10, dtype_policy="mixed_float16")
    assert model.get_layer("conv1").compute_dtype == "float16"
    assert model.get_layer("predictions").compute_dtype == "float32"
    assert model.output.dtype == "float32"


def test_the_same_seed_gives_the_same_weights() -> None:
    first = build_model(PRESETS["fast"], (28, 28, 1), 10, seed=3).get_weights()
    again = build_model(PRESETS["fast"], (28, 28, 1), 10, seed=3).get_weights()
    other = build_model(PRESETS["fast"], (28, 28, 1), 10, seed=4).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])


def test_too_much_pooling_is_explained_before_any_build() -> None:
    spec = ModelSpec(conv_blocks=(ConvBlock(filters=8),) * 5)
    with pytest.raises(ValueError) as raised:
        check_spec(spec, (28, 28, 1))
    assert str(raised.value) == (
        "After 4 pooling layers a 28x28 image is 1x1; a 5th pooling (block 5) would make it "
        "smaller than 1x1. Remove a pooling layer (set pooling to 'none') or use fewer blocks."
    )
    with pytest.raises(ValueError, match="After 4 pooling layers"):
        build_model(spec, (28, 28, 1), 10)


def test_pooling_a_tiny_image_at_once_is_explained() -> None:
    with pytest.raises(ValueError, match="Before any pooling a 1x1 image is 1x1"):
        check_spec(ModelSpec(conv_blocks=(ConvBlock(),)), (1, 1, 1))


def test_unpadded_convolutions_that_shrink_the_map_away_are_explained() -> None:
    spec = ModelSpec(conv_blocks=(ConvBlock(kernel_size=11, padding="valid", convs=3),))
    with pytest.raises(ValueError, match="without padding would shrink the 8x8 feature map"):
        check_spec(spec, (28, 28, 1))


def test_a_model_too_large_to_train_is_refused() -> None:
    spec = ModelSpec(conv_blocks=(ConvBlock(filters=64, pooling="none"),), dense_units=(1024,))
    with pytest.raises(ValueError, match=f"more than the {MAX_PARAMETERS:,}"):
        check_spec(spec, (28, 28, 1))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"filters": 0}, "needs between 1 and 1024 filters; got 0"),
        ({"kernel_size": 0}, "Kernel size must be between 1 and 11"),
        ({"convs": 5}, "between 1 and 4 convolutions"),
        ({"pooling": "min"}, "Pooling must be 'max', 'average' or 'none'; got 'min'"),
        ({"activation": "softmax"}, "Activation must be"),
        ({"padding": "full"}, "Padding must be 'same'"),
        ({"batch_norm": "yes"}, "batch_norm must be True or False"),
    ],
)
def test_bad_conv_blocks_say_what_to_change(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConvBlock(**arguments)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"dropout_rate": 1.0}, "Dropout rate must be at least 0 and below 1"),
        ({"dropout_rate": -0.1}, "Dropout rate must be at least 0 and below 1"),
        ({"dense_units": (0,)}, "A dense layer needs between 1 and 4096 units; got 0"),
        ({"head": "max"}, "The head must be 'flatten'"),
        ({"conv_blocks": (), "head": "global_average"}, "needs at least one convolution"),
    ],
)
def test_bad_model_specs_say_what_to_change(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelSpec(**arguments)


def test_check_spec_needs_two_classes_and_a_three_part_shape() -> None:
    with pytest.raises(ValueError, match="at least 2 classes"):
        check_spec(PRESETS["fast"], (28, 28, 1), num_classes=1)
    with pytest.raises(ValueError, match=r"\(height, width, channels\)"):
        check_spec(PRESETS["fast"], (28, 28))


def test_a_spec_survives_a_json_round_trip() -> None:
    for spec in PRESETS.values():
        text = json.dumps(model_spec_to_dict(spec))
        assert model_spec_from_dict(json.loads(text)) == spec
    with pytest.raises(ValueError, match="Unknown model setting"):
        model_spec_from_dict({"conv_blocks": [], "colour": "red"})


def test_layer_table_lists_shapes_and_parameters(fast_model: keras.Model) -> None:
    table = layer_table(fast_model)
    assert list(table.columns) == ["layer", "type", "output shape", "parameters"]
    conv1 = table.set_index("layer").loc["conv1"]
    assert conv1["type"] == "Conv2D"
    assert conv1["output shape"] == "28 x 28 x 16"
    assert conv1["parameters"] == 3 * 3 * 1 * 16
    assert table["parameters"].sum() == count_parameters(fast_model) == 55_002


def test_predict_matches_the_model_and_traces_once(fast_model: keras.Model) -> None:
    predict = make_predict_function(fast_model, batch_size=4)
    images = np.random.default_rng(0).integers(0, 256, (10, 28, 28, 1), dtype=np.uint8)
    probabilities = predict(images)
    expected = fast_model(images.astype(np.float32), training=False).numpy()
    assert probabilities.dtype == np.float32 and probabilities.shape == (10, 10)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predict(images[0]), expected[:1], rtol=1e-5, atol=1e-6)
    assert predict(images[:0]).shape == (0, 10)
    # Batches of 4, 4, 2 and 1 image all ran through one trace.
    assert predict.compiled_function.experimental_get_tracing_count() == 1


def test_predict_explains_wrong_images(fast_model: keras.Model) -> None:
    predict = make_predict_function(fast_model)
    with pytest.raises(ValueError, match="must be uint8 pixels"):
        predict(np.zeros((1, 28, 28, 1), dtype=np.float32))
    with pytest.raises(ValueError, match="takes 28x28x1 images"):
        predict(np.zeros((1, 32, 32, 3), dtype=np.uint8))
