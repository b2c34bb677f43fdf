"""Tests for core.lookalikes: a balanced sample of training images and the ones like a drawing."""

from __future__ import annotations

import numpy as np
import pytest

from core.lookalikes import find_lookalikes, reference_images


@pytest.fixture(scope="module")
def tiny_model():
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    features = layers.Rescaling(1 / 255)(inputs)
    features = layers.Conv2D(4, 3, activation="relu")(features)
    features = layers.GlobalAveragePooling2D()(features)
    features = layers.Dense(8, activation="relu")(features)
    return keras.Model(inputs, layers.Dense(3, activation="softmax")(features))


def test_the_sample_takes_as_many_images_of_each_class_and_cannot_be_changed(tiny_model) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (90, 28, 28, 1), dtype=np.uint8)
    # Stored class by class, as some datasets are: the first images are all of class 0.
    labels = np.repeat(np.arange(3), 30).astype(np.int64)
    references = reference_images(tiny_model, images, labels, num_classes=3, count=30)
    assert np.bincount(references.labels).tolist() == [10, 10, 10]
    assert references.images.shape == (30, 28, 28, 1)
    assert references.features.shape == (30, 8) and references.features.dtype == np.float32
    for array in (references.images, references.labels, references.features):
        assert not array.flags.writeable
    again = reference_images(tiny_model, images, labels, num_classes=3, count=30)
    assert np.array_equal(again.images, references.images), "the same sample every time"


def test_a_drawing_from_the_sample_is_its_own_nearest_lookalike(tiny_model) -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (60, 28, 28, 1), dtype=np.uint8)
    labels = np.tile(np.arange(3), 20).astype(np.int64)
    references = reference_images(tiny_model, images, labels, num_classes=3, count=60)
    drawing = references.images[7, :, :, 0]
    lookalikes = find_lookalikes(tiny_model, drawing, references, count=4)
    assert lookalikes.images.shape == (4, 28, 28, 1)
    assert np.array_equal(lookalikes.images[0], references.images[7])
    assert lookalikes.labels[0] == references.labels[7]
    # Asking for more than the sample holds gives the whole sample, nearest first.
    assert len(find_lookalikes(tiny_model, drawing, references, count=500).labels) == 60


def test_images_and_labels_must_match(tiny_model) -> None:
    images = np.zeros((5, 28, 28, 1), dtype=np.uint8)
    with pytest.raises(ValueError, match="Got 5 images but 4 labels"):
        reference_images(tiny_model, images, np.zeros(4, dtype=np.int64), num_classes=1)
    with pytest.raises(ValueError, match="no training images"):
        reference_images(tiny_model, images[:0], np.zeros(0, dtype=np.int64), num_classes=1)
