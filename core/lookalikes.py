"""The training images a network finds most like a drawing: "it looked like these"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras

# How many training images a drawing is compared with. 3,000 class-balanced images hold 300 of
# each digit, enough for near neighbours that look alike; their features took 0.4-0.6 s once per
# run on one CPU core with the fast MNIST preset, where all 60,000 of MNIST would take ~10 s.
REFERENCE_COUNT = 3_000


@dataclass(frozen=True, eq=False)
class ReferenceImages:
    """A sample of a run's training images with their labels and penultimate features.

    images: uint8 (n, height, width, channels); labels: int64 (n,); features: float32
    (n, features), the activations feeding the network's last Dense layer.
    """

    images: np.ndarray
    labels: np.ndarray
    features: np.ndarray


@dataclass(frozen=True, eq=False)
class Lookalikes:
    """The reference images most like a drawing, nearest first, with their labels."""

    images: np.ndarray
    labels: np.ndarray


def reference_images(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    count: int = REFERENCE_COUNT,
) -> ReferenceImages:
    """About `count` training images, as many of each class, and the model's features of them.

    The sample is the same every time for the same labels, so a cached one can be rebuilt.
    """
    from core.inspection import penultimate_activations
    from core.timeline import stratified_sample

    if len(images) != len(labels):
        raise ValueError(f"Got {len(images)} images but {len(labels)} labels.")
    if len(images) == 0:
        raise ValueError("There are no training images to compare drawings with.")
    chosen = stratified_sample(np.asarray(labels), num_classes, count)
    sample = np.ascontiguousarray(images[chosen])
    sample_labels = np.asarray(labels)[chosen].astype(np.int64)
    features = penultimate_activations(model, sample).astype(np.float32)
    for array in (sample, sample_labels, features):
        # A cache shares one copy between sessions, so nobody may change it in place.
        array.flags.writeable = False
    return ReferenceImages(images=sample, labels=sample_labels, features=features)


def find_lookalikes(
    model: keras.Model, drawing: np.ndarray, references: ReferenceImages, count: int
) -> Lookalikes:
    """The `count` reference images nearest to `drawing` in the model's penultimate features."""
    from core.inspection import similar_images

    count = min(count, len(references.images))
    indices = similar_images(
        model, drawing, references.images, count, reference_features=references.features
    )
    return Lookalikes(images=references.images[indices], labels=references.labels[indices])
