"""Tests for core.teach: a collection's changes, and the quick training it asks for."""

from __future__ import annotations

import numpy as np
import pytest

from core.teach import (
    MIN_EXAMPLES_PER_CLASS,
    PHOTOS,
    Collection,
    missing_examples_message,
    teach_request,
    teach_run_name,
)


def drawing(value: int) -> np.ndarray:
    return np.full((28, 28, 1), value, dtype=np.uint8)


def collection_of(counts: dict[str, int]) -> Collection:
    collection = Collection().with_class_names(list(counts))
    for name, count in counts.items():
        for number in range(count):
            collection = collection.with_image(name, drawing(number))
    return collection


def test_examples_are_added_undone_and_cleared_per_class() -> None:
    collection = collection_of({"cat": 3, "dog": 1})
    assert collection.counts() == {"cat": 3, "dog": 1}
    undone = collection.without_last("cat")
    assert undone.counts() == {"cat": 2, "dog": 1}
    assert [int(image[0, 0, 0]) for image in undone.examples_of("cat")] == [0, 1]
    assert collection.cleared("cat").counts() == {"cat": 0, "dog": 1}
    assert collection.counts() == {"cat": 3, "dog": 1}, "every change makes a new collection"
    with pytest.raises(ValueError, match="no class 'bird'"):
        collection.with_image("bird", drawing(0))
    with pytest.raises(ValueError, match="uint8 images of"):
        Collection(PHOTOS, ("cat", "dog"), ((drawing(0),), ()))


def test_renaming_keeps_a_class_s_examples_and_removing_drops_them() -> None:
    collection = collection_of({"cat": 3, "dog": 1})
    assert collection.with_class_names(["dog", "cat"]).counts() == {"dog": 1, "cat": 3}
    assert collection.with_class_names(["cats", "dog"]).counts() == {"cats": 3, "dog": 1}
    assert collection.with_class_names(["cat", "dog", "sun"]).counts() == {
        "cat": 3,
        "dog": 1,
        "sun": 0,
    }
    assert collection.with_class_names(["dog", "sun"]).counts() == {"dog": 1, "sun": 3}
    three = collection.with_class_names(["cat", "dog", "sun"])
    assert three.with_class_names(["cat", "sun"]).counts() == {"cat": 3, "sun": 0}


def test_training_waits_for_enough_examples_of_every_class() -> None:
    collection = collection_of({"cat": MIN_EXAMPLES_PER_CLASS, "dog": 2, "sun": 0})
    assert not collection.ready_to_train()
    missing = collection.missing_examples()
    assert missing == {"dog": 3, "sun": 5}
    assert missing_examples_message(missing) == (
        "Each class needs at least 5 examples to train on: add 3 more of **dog** and 5 more "
        "of **sun**."
    )
    with pytest.raises(ValueError, match="add 3 more of dog and 5 more of sun"):
        teach_request(collection, owner="Ana")


@pytest.mark.parametrize("per_class", [MIN_EXAMPLES_PER_CLASS, 20, 200])
def test_the_request_trains_the_fast_preset_20_seconds_with_drawing_augmentation(
    per_class: int,
) -> None:
    from core.training import check_config_for_dataset, split_indices

    collection = collection_of({"cat": per_class, "dog": per_class})
    request = teach_request(collection, owner="Ana")
    assert request.preset == "fast" and request.owner == "Ana"
    assert request.name == "my classes: cat, dog"
    assert request.dataset.image_shape == (28, 28, 1)
    config = request.config
    assert config.time_budget_seconds == 20
    assert (config.shift_fraction, config.rotation_degrees, config.zoom_fraction) == (
        0.1,
        10.0,
        0.1,
    )
    assert not config.horizontal_flip, "a mirrored drawing can mean something else"
    # The batch fits the images left to train on, as training itself checks.
    train_indices, validation_indices = split_indices(
        request.dataset.y_train,
        validation_fraction=config.validation_fraction,
        max_train_images=None,
        seed=config.seed,
    )
    check_config_for_dataset(config, request.dataset.name, len(train_indices))
    assert config.batch_size <= 16
    steps_per_epoch = config.steps_per_epoch(len(train_indices))
    assert config.epochs * steps_per_epoch >= 1000
    # An epoch shows the network hundreds of augmented examples, however small the collection,
    # so its curves count tens of epochs, not a thousand one-step ones.
    assert steps_per_epoch * config.batch_size >= 500
    assert config.epochs <= 100


def test_photos_are_mirrored_and_long_names_are_shortened() -> None:
    photos = Collection(PHOTOS).with_class_names(["cup", "pen"])
    for name in photos.class_names:
        for _ in range(MIN_EXAMPLES_PER_CLASS):
            photos = photos.with_image(name, np.zeros((32, 32, 3), dtype=np.uint8))
    request = teach_request(photos, owner="Ana")
    assert request.config.horizontal_flip and request.dataset.image_shape == (32, 32, 3)
    name = teach_run_name([f"a rather long class name {number}" for number in range(10)])
    assert len(name) == 80 and name.endswith("…") and name.startswith("my classes: a rather")
