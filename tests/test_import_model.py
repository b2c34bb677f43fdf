"""Tests for core.runs.import_model: a user's .keras file, loaded safely and checked."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from core.datasets import Dataset
from core.runs import import_model, import_model_as_run, list_runs, load_run


def small_model(input_shape=(12, 12, 1), classes: int = 2) -> keras.Model:
    inputs = keras.Input(shape=input_shape)
    scaled = layers.Rescaling(1 / 255)(inputs)
    features = layers.Flatten()(layers.Conv2D(4, 3)(scaled))
    return keras.Model(inputs, layers.Dense(classes, activation="softmax")(features))


def tiny_dataset() -> Dataset:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 12, 12, 1), dtype=np.uint8)
    labels = np.arange(20, dtype=np.int64) % 2
    return Dataset("digits", ("a", "b"), images, labels, images, labels)


def test_a_plain_model_is_imported_checked_and_saved_as_a_run(tmp_path: Path) -> None:
    path = tmp_path / "mine.keras"
    small_model().save(path)
    model = import_model(path, image_shape=(12, 12, 1), num_classes=2)
    assert model.output_shape == (None, 2)
    run_dir = import_model_as_run(path, tiny_dataset(), runs_dir=tmp_path / "runs")
    assert [summary.run_dir for summary in list_runs(tmp_path / "runs")] == [run_dir]
    run = load_run(run_dir)
    assert run.record["status"] == "imported" and 0 <= run.record["test_accuracy"] <= 1
    assert run.predict(tiny_dataset().x_test[:2]).shape == (2, 2)


def test_a_model_carrying_code_is_refused_and_its_code_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"

    def payload(tensor):
        marker.touch()
        return tensor

    inputs = keras.Input(shape=(12, 12, 1))
    outputs = layers.Dense(2, activation="softmax")(
        layers.Flatten()(layers.Lambda(payload)(inputs))
    )
    path = tmp_path / "evil.keras"
    keras.Model(inputs, outputs).save(path)
    marker.unlink(missing_ok=True)  # Building the model above called the function once.
    with pytest.raises(ValueError, match="carries Python code"):
        import_model(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("shape", "classes", "message"),
    [((28, 28, 1), 2, "takes 12x12x1 images but the dataset's are 28x28x1"),
     ((12, 12, 1), 10, "has 2 outputs but the dataset has 10 classes")],
)  # fmt: skip
def test_a_model_that_does_not_fit_the_dataset_is_refused(
    tmp_path: Path, shape: tuple, classes: int, message: str
) -> None:
    path = tmp_path / "mine.keras"
    small_model().save(path)
    with pytest.raises(ValueError, match=message):
        import_model(path, image_shape=shape, num_classes=classes)


def test_a_file_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.keras"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a Keras model file"):
        import_model(path)
