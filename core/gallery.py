"""What the Datasets page shows, computed from uint8 arrays: sample mosaics and class statistics."""

from __future__ import annotations

import numpy as np


def sample_indices(
    labels: np.ndarray, num_classes: int, per_class: int, *, seed: int
) -> np.ndarray:
    """Indices of up to per_class random images of each class, shape (num_classes, per_class).

    A class with fewer images than per_class gets -1 in the missing places.
    """
    rng = np.random.default_rng(seed)
    chosen = np.full((num_classes, per_class), -1, dtype=np.int64)
    for class_index in range(num_classes):
        members = np.flatnonzero(labels == class_index)
        take = min(per_class, len(members))
        chosen[class_index, :take] = rng.choice(members, size=take, replace=False)
    return chosen


def image_mosaic(images: np.ndarray, indices: np.ndarray, *, gap: int = 2) -> np.ndarray:
    """Tile images[indices] (a 2-D grid of indices, -1 for blank) into one uint8 image.

    One picture for the whole grid keeps a gallery of hundreds of samples a single Plotly trace.
    """
    rows, columns = indices.shape
    height, width, channels = images.shape[1:]
    mosaic = np.zeros(
        (rows * (height + gap) - gap, columns * (width + gap) - gap, channels), dtype=np.uint8
    )
    for row in range(rows):
        for column in range(columns):
            index = indices[row, column]
            if index < 0:
                continue
            top, left = row * (height + gap), column * (width + gap)
            mosaic[top : top + height, left : left + width] = images[index]
    return mosaic


def class_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """How many images each class has, shape (num_classes,)."""
    return np.bincount(labels, minlength=num_classes)[:num_classes]


def class_mean_images(images: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """The mean image of each class, uint8 (num_classes, height, width, channels).

    numpy accumulates the uint8 pixels in float64 chunk by chunk, so no float copy of the
    dataset is made; only one class's uint8 images are gathered at a time.
    """
    means = np.zeros((num_classes, *images.shape[1:]), dtype=np.uint8)
    for class_index in range(num_classes):
        members = images[labels == class_index]
        if len(members):
            mean = members.mean(axis=0, dtype=np.float64)
            means[class_index] = np.clip(np.rint(mean), 0, 255).astype(np.uint8)
    return means


def pixel_histogram(images: np.ndarray) -> np.ndarray:
    """Count of each pixel value 0-255 per channel, shape (channels, 256)."""
    channels = images.shape[-1]
    flat = images.reshape(-1, channels)
    return np.stack([np.bincount(flat[:, channel], minlength=256) for channel in range(channels)])
