"""Tests for core.exports: SavedModel zips and TFLite flatbuffers that predict like the model."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from core.exports import export_file_names, saved_model_zip_bytes, tflite_bytes

# TF 2.21 warns on every tf.lite.Interpreter that it moves to the ai_edge_litert package, which
# is not installed here; the interpreter itself works.
pytestmark = pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")


def small_cnn() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    features = layers.Rescaling(1 / 255)(inputs)
    features = layers.Conv2D(4, 3, activation="relu")(features)
    features = layers.MaxPooling2D()(features)
    features = layers.Flatten()(features)
    return keras.Model(inputs, layers.Dense(3, activation="softmax")(features))


def batch_norm_cnn(dtype_policy: str = "float32") -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(32, 32, 3))
    features = layers.Rescaling(1 / 255, dtype=dtype_policy)(inputs)
    features = layers.Conv2D(4, 3, use_bias=False, dtype=dtype_policy)(features)
    features = layers.BatchNormalization(momentum=0.9, dtype=dtype_policy)(features)
    features = layers.Activation("relu", dtype=dtype_policy)(features)
    features = layers.MaxPooling2D(dtype=dtype_policy)(features)
    features = layers.Flatten(dtype=dtype_policy)(features)
    outputs = layers.Dense(3, activation="softmax", dtype="float32")(features)
    model = keras.Model(inputs, outputs)
    # Moving statistics away from 0 and 1, so a wrong inference mode would show in the outputs.
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(1)
    model.fit(
        rng.integers(0, 256, (16, 32, 32, 3)).astype("float32"),
        rng.integers(0, 3, 16),
        batch_size=8,
        epochs=1,
        verbose=0,
    )
    return model


def random_images(model: keras.Model, count: int = 8) -> np.ndarray:
    shape = (count, *model.inputs[0].shape[1:])
    return np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8).astype(np.float32)


@pytest.fixture(scope="module", params=["small_cnn", "batch_norm_cnn"])
def model(request: pytest.FixtureRequest) -> keras.Model:
    return {"small_cnn": small_cnn, "batch_norm_cnn": batch_norm_cnn}[request.param]()


def tflite_predictions(flatbuffer: bytes, images: np.ndarray) -> np.ndarray:
    """Run the flatbuffer on each image, one at a time as its input shape (1, h, w, c) says."""
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    input_details = interpreter.get_input_details()[0]
    output_index = interpreter.get_output_details()[0]["index"]
    assert input_details["dtype"] == np.float32
    assert tuple(input_details["shape"]) == (1, *images.shape[1:])
    predictions = []
    for image in images:
        interpreter.set_tensor(input_details["index"], image[np.newaxis])
        interpreter.invoke()
        predictions.append(interpreter.get_tensor(output_index)[0].copy())
    return np.stack(predictions)


def test_the_saved_model_zip_reloads_and_serves_what_the_model_predicts(
    model: keras.Model, tmp_path: Path
) -> None:
    data = saved_model_zip_bytes(model)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path)
    assert all(name.startswith("saved_model/") for name in names)
    assert "saved_model/saved_model.pb" in names
    assert any(name.startswith("saved_model/variables/variables.data") for name in names)

    reloaded = tf.saved_model.load(str(tmp_path / "saved_model"))
    images = random_images(model)
    expected = model(images, training=False).numpy()
    served = reloaded.serve(images).numpy()
    np.testing.assert_allclose(served, expected, atol=1e-5)
    assert (served.argmax(axis=1) == expected.argmax(axis=1)).all()
    # The serving signature takes the documented input name and returns 'output_0'.
    signature = reloaded.signatures["serving_default"]
    signed = signature(images=tf.constant(images))["output_0"].numpy()
    np.testing.assert_allclose(signed, expected, atol=1e-5)


def test_the_tflite_flatbuffer_predicts_the_same_class_and_probabilities(
    model: keras.Model,
) -> None:
    flatbuffer = tflite_bytes(model)
    assert flatbuffer[4:8] == b"TFL3"  # The flatbuffer's file identifier.
    images = random_images(model)
    expected = model(images, training=False).numpy()
    predictions = tflite_predictions(flatbuffer, images)
    np.testing.assert_allclose(predictions, expected, atol=1e-4)
    assert (predictions.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_the_tflite_input_can_be_resized_to_a_batch() -> None:
    model = small_cnn()
    interpreter = tf.lite.Interpreter(model_content=tflite_bytes(model))
    input_details = interpreter.get_input_details()[0]
    assert tuple(input_details["shape_signature"]) == (-1, 28, 28, 1)
    images = random_images(model)
    interpreter.resize_tensor_input(input_details["index"], list(images.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(input_details["index"], images)
    interpreter.invoke()
    predictions = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(predictions, model(images).numpy(), atol=1e-4)


def test_a_mixed_precision_model_becomes_a_float32_tflite_that_agrees_with_it() -> None:
    model = batch_norm_cnn("mixed_float16")
    images = random_images(model)
    flatbuffer = tflite_bytes(model)
    expected = model(images, training=False).numpy()
    predictions = tflite_predictions(flatbuffer, images)
    # float16 arithmetic in the model differs from the float32 copy by about 1e-3.
    np.testing.assert_allclose(predictions, expected, atol=1e-2)
    assert (predictions.argmax(axis=1) == expected.argmax(axis=1)).all()
    assert model.layers[1].compute_dtype == "float16"  # The model itself is left as it was.


@pytest.mark.parametrize("export", [saved_model_zip_bytes, tflite_bytes])
def test_something_that_is_not_a_model_is_refused_with_a_message(export) -> None:
    with pytest.raises(TypeError, match="Only a Keras model can be exported; got str"):
        export("not a model")


@pytest.mark.parametrize("export", [saved_model_zip_bytes, tflite_bytes])
def test_a_model_without_an_image_input_is_refused_with_a_message(export) -> None:
    inputs = keras.Input(shape=(5,))
    model = keras.Model(inputs, layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match=r"one image input .* inputs are \(None, 5\)"):
        export(model)


def test_a_failing_conversion_is_reported_as_a_value_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class FailingConverter:
        def convert(self) -> bytes:
            raise RuntimeError("Some ops are not supported by the native TFLite runtime\nDetails")

    monkeypatch.setattr(
        tf.lite.TFLiteConverter, "from_saved_model", lambda path: FailingConverter()
    )
    with pytest.raises(ValueError, match="could not be converted to TFLite: Some ops") as caught:
        tflite_bytes(small_cnn())
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert "Details" not in str(caught.value)


def test_a_failing_export_is_reported_as_a_value_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_export(*arguments, **keyword_arguments) -> None:
        raise RuntimeError("no space left on device")

    monkeypatch.setattr(keras.Model, "export", failing_export)
    with pytest.raises(ValueError, match="exported as a SavedModel: no space left") as caught:
        saved_model_zip_bytes(small_cnn())
    assert isinstance(caught.value.__cause__, RuntimeError)


@pytest.mark.parametrize(
    ("run_name", "slug"),
    [
        ("MNIST fast run #3", "mnist-fast-run-3"),
        ("  ../../etc/passwd  ", "etc-passwd"),
        ("Café Crème — v2", "cafe-creme-v2"),
        ("数字", "model"),
        ("", "model"),
        ("---", "model"),
        ("a" * 59 + " b" + "c" * 10, "a" * 59),
    ],
)
def test_export_file_names_are_safe(run_name: str, slug: str) -> None:
    assert export_file_names(run_name) == (f"{slug}-saved_model.zip", f"{slug}.tflite")


def test_export_file_names_never_exceed_the_slug_length() -> None:
    for run_name in ("x" * 500, "Ünïcödé " * 40, "a-" * 100):
        zip_name, tflite_name = export_file_names(run_name)
        stem = tflite_name.removesuffix(".tflite")
        assert zip_name == f"{stem}-saved_model.zip"
        assert 1 <= len(stem) <= 60
        assert set(stem) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
        assert not stem.startswith("-") and not stem.endswith("-")


def test_a_trained_run_exported_to_tflite_reads_test_digits_as_the_run_does(
    digits_runs_dir: Path,
) -> None:
    from core.datasets import load_dataset
    from core.runs import list_runs, load_run

    run = load_run(list_runs(digits_runs_dir)[0].run_dir)
    images = load_dataset("digits").x_test[:50]
    expected = run.predict(images).argmax(axis=1)
    pixels = images.astype(np.float32)  # The exported model takes float32 pixels 0-255.
    exported = tflite_predictions(tflite_bytes(run.model), pixels).argmax(axis=1)
    assert np.array_equal(exported, expected)
