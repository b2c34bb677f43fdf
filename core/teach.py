"""Teach it your own classes: a collection of drawings or photos, and the quick run it trains."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from core.custom_data import (
    CUSTOM_DATASET_NAME,
    ImageFolderOptions,
    check_class_names,
    collection_dataset,
)
from core.datasets import Dataset
from core.engine import TrainingRequest
from core.models import PRESETS
from core.query_settings import count_training_images, fitting_batch_size
from core.runs import MAX_NAME_LENGTH, check_run_name
from core.training import TrainConfig

DRAWINGS = "drawings"
PHOTOS = "photos"
COLLECTION_KINDS = (DRAWINGS, PHOTOS)
# Drawings are read like MNIST's digits (28x28 grayscale), so the Draw and Play pages take the
# run; photos are CIFAR-10's size, small enough to train in seconds.
KIND_OPTIONS = {
    DRAWINGS: ImageFolderOptions(image_size=28, channels=1),
    PHOTOS: ImageFolderOptions(image_size=32, channels=3),
}
# Training needs some of each class to train on, to validate and to test: 5 leave 4 to train
# on and 1 to test. About 20 is what Teachable Machine's users find enough for a few classes.
MIN_EXAMPLES_PER_CLASS = 5
SUGGESTED_EXAMPLES_PER_CLASS = 20
# A bound on what one browser session keeps in memory and on a re-uploaded .zip.
MAX_EXAMPLES_PER_CLASS = 500
TEACH_PRESET = "fast"
TEACH_SECONDS = 20.0
# Small batches give a small collection many steps in its 20 seconds.
LARGEST_BATCH_SIZE = 16
# Enough steps that the time budget, not the epochs, ends the run on a CPU; a fast GPU stops
# here instead of spending 20 seconds on 60 drawings.
TARGET_STEPS = 1500
# One epoch shows the network this many augmented examples, however small the collection:
# about 20 epochs in the 20 seconds on a 2-core CPU.
EPOCH_IMAGES = 512


@dataclass(frozen=True, eq=False)
class Collection:
    """The examples a user made, by class, in the order made: uint8 (size, size, channels) each.

    `images[index]` holds the examples of `class_names[index]`. Every change returns a new
    collection, so a page keeps the one it shows in its session and replaces it whole.
    """

    kind: str = DRAWINGS
    class_names: tuple[str, ...] = ()
    images: tuple[tuple[np.ndarray, ...], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.kind not in COLLECTION_KINDS:
            raise ValueError(f"A collection holds drawings or photos; got {self.kind!r}.")
        images = self.images or tuple(() for _ in self.class_names)
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "images", tuple(tuple(examples) for examples in images))
        if len(self.images) != len(self.class_names):
            raise ValueError(
                f"{len(self.class_names)} classes need {len(self.class_names)} lists of "
                f"examples; got {len(self.images)}."
            )
        for class_name, examples in zip(self.class_names, self.images, strict=True):
            for image in examples:
                if image.shape != self.image_shape or image.dtype != np.uint8:
                    raise ValueError(
                        f"The {self.kind} of {class_name!r} must be uint8 images of "
                        f"{self.image_shape}; got {image.dtype} {image.shape}."
                    )
            if len(examples) > MAX_EXAMPLES_PER_CLASS:
                raise ValueError(
                    f"{class_name!r} has {len(examples)} examples; a class holds at most "
                    f"{MAX_EXAMPLES_PER_CLASS}."
                )

    @property
    def options(self) -> ImageFolderOptions:
        """How this kind's images are read from a photo or a .zip."""
        return KIND_OPTIONS[self.kind]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        size, channels = self.options.image_size, self.options.channels
        return (size, size, channels)

    def counts(self) -> dict[str, int]:
        """How many examples each class has, in the classes' order."""
        return {
            name: len(examples)
            for name, examples in zip(self.class_names, self.images, strict=True)
        }

    def images_by_class(self) -> dict[str, tuple[np.ndarray, ...]]:
        return dict(zip(self.class_names, self.images, strict=True))

    def examples_of(self, class_name: str) -> tuple[np.ndarray, ...]:
        return self.images[self._index(class_name)]

    def with_class_names(self, names: Sequence[str]) -> Collection:
        """The collection with these classes: a kept name keeps its examples, a new name none.

        With as many names as before, the new names are the names that went, renamed in the
        same order, and keep their examples; 'cat, dog' -> 'dog, cat' only reorders.
        """
        names = check_class_names(names)
        old = self.images_by_class()
        renamed: dict[str, str] = {}
        if len(names) == len(self.class_names):
            gone = [name for name in self.class_names if name not in names]
            fresh = [name for name in names if name not in old]
            renamed = dict(zip(fresh, gone, strict=True))
        images = tuple(old.get(renamed.get(name, name), ()) for name in names)
        return Collection(self.kind, names, images)

    def with_image(self, class_name: str, image: np.ndarray) -> Collection:
        """One more example of `class_name`; raises ValueError when the class is full."""
        index = self._index(class_name)
        if len(self.images[index]) >= MAX_EXAMPLES_PER_CLASS:
            raise ValueError(
                f"{class_name!r} already has {MAX_EXAMPLES_PER_CLASS} examples, the most a class "
                "holds here: that is plenty."
            )
        pixels = np.array(image, dtype=np.uint8).reshape(self.image_shape)
        pixels.flags.writeable = False
        return self._replaced(index, (*self.images[index], pixels))

    def without_last(self, class_name: str) -> Collection:
        """The collection without the newest example of `class_name` (undo)."""
        index = self._index(class_name)
        return self._replaced(index, self.images[index][:-1])

    def cleared(self, class_name: str) -> Collection:
        """The collection with no examples of `class_name`."""
        return self._replaced(self._index(class_name), ())

    def missing_examples(self) -> dict[str, int]:
        """The classes short of MIN_EXAMPLES_PER_CLASS, and how many more each needs."""
        return {
            name: MIN_EXAMPLES_PER_CLASS - count
            for name, count in self.counts().items()
            if count < MIN_EXAMPLES_PER_CLASS
        }

    def ready_to_train(self) -> bool:
        return len(self.class_names) >= 2 and not self.missing_examples()

    def _index(self, class_name: str) -> int:
        try:
            return self.class_names.index(class_name)
        except ValueError:
            raise ValueError(f"There is no class {class_name!r} in this collection.") from None

    def _replaced(self, index: int, examples: tuple[np.ndarray, ...]) -> Collection:
        images = (*self.images[:index], tuple(examples), *self.images[index + 1 :])
        return Collection(self.kind, self.class_names, images)


def collection_from_images(
    kind: str, images_by_class: Mapping[str, Sequence[np.ndarray]]
) -> Collection:
    """A collection of these examples (as read_collection_zip gives them), in that order."""
    names = check_class_names(list(images_by_class))
    images = tuple(tuple(examples) for examples in images_by_class.values())
    return Collection(kind, names, images)


def missing_examples_message(missing: dict[str, int]) -> str:
    """'Add 3 more of cat and 5 more of sun', for the classes short of examples."""
    parts = [f"{count} more of **{name}**" for name, count in missing.items()]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Each class needs at least {MIN_EXAMPLES_PER_CLASS} examples to train on: add {listed}."


def teach_run_name(class_names: Sequence[str]) -> str:
    """'my classes: cat, dog, sun', shortened with '…' to fit a run name."""
    name = f"my classes: {', '.join(class_names)}"
    if len(name) > MAX_NAME_LENGTH:
        name = name[: MAX_NAME_LENGTH - 1].rstrip(" ,") + "…"
    return check_run_name(name)


def teach_config(dataset: Dataset, kind: str) -> TrainConfig:
    """About 20 seconds of training with augmentation that suits the kind of examples.

    Drawings are shifted, turned and zoomed a little, never mirrored (a mirrored arrow points
    the other way); photos are also mirrored, as a cat facing left is still a cat.
    """
    defaults = TrainConfig()
    train_images = count_training_images(
        len(dataset.x_train),
        validation_fraction=defaults.validation_fraction,
        max_train_images=None,
    )
    # fitting_batch_size never goes under its smallest choice; a collection can be smaller.
    batch_size = min(fitting_batch_size(LARGEST_BATCH_SIZE, train_images), train_images)
    config = TrainConfig(
        batch_size=batch_size,
        min_epoch_images=EPOCH_IMAGES,
        time_budget_seconds=TEACH_SECONDS,
        shift_fraction=0.1,
        rotation_degrees=10.0,
        zoom_fraction=0.1,
        horizontal_flip=kind == PHOTOS,
    )
    epochs = math.ceil(TARGET_STEPS / config.steps_per_epoch(train_images))
    return replace(config, epochs=max(1, epochs))


def teach_request(collection: Collection, owner: str | None) -> TrainingRequest:
    """The training of a collection: the fast preset, 20 seconds, the examples travelling along.

    Raises ValueError while a class has fewer than MIN_EXAMPLES_PER_CLASS examples.
    """
    missing = collection.missing_examples()
    if missing:
        raise ValueError(missing_examples_message(missing).replace("**", ""))
    dataset = collection_dataset(collection.images_by_class(), collection.options)
    return TrainingRequest(
        dataset_name=CUSTOM_DATASET_NAME,
        spec=PRESETS[TEACH_PRESET],
        config=teach_config(dataset, collection.kind),
        dataset=dataset,
        preset=TEACH_PRESET,
        name=teach_run_name(collection.class_names),
        owner=owner,
    )
