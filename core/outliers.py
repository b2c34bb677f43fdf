"""Outlier exposure: drawings that are no class, shown to a network so it learns to be unsure.

Hendrycks et al. 2019 train on the run's own data plus outliers whose target is the uniform
distribution (cross-entropy to it, weighted). No doodles ship with Convlab and a run's classes
can be anything, so the outliers are made here from strokes that follow no class: bends and
corners between the anchors of a 3x3 grid, open arcs, waves and scribbles, drawn the way the
canvas draws and read the way the run reads a drawing (core.drawing's MNIST style or Quick,
Draw!'s stroke rendering). Labels of -1 mark them in a batch.

This module imports Keras (its loss and metric are registered Keras classes, so a compiled
model clones); core.training imports it only when it trains.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
from pathlib import Path

import keras
import numpy as np
from keras import ops

from core.drawing import DrawingStyle, preprocess_drawing
from core.runs import write_file_atomically
from core.strokes import strokes_to_quickdraw_image
from core.synthetic_strokes import Stroke, canvas_image, hand_drawn, place_on_canvas, scribble

# A 3x3 grid of anchors in the unit square: a hand's strokes between them make letter-like and
# sign-like marks of the same stroke count and size as the classes.
ANCHORS = np.array([(x, y) for y in (0.0, 0.5, 1.0) for x in (0.0, 0.5, 1.0)])
CANVAS_SIDE = 96
# The modules whose code draws the marks, digested into the cache file's name.
RECIPE_FILES = ("outliers.py", "synthetic_strokes.py", "drawing.py", "strokes.py")


def _bend(rng: np.random.Generator) -> list[tuple]:
    count = int(rng.integers(2, 5))
    chosen = [int(rng.integers(len(ANCHORS)))]
    while len(chosen) < count:
        following = int(rng.integers(len(ANCHORS)))
        if following != chosen[-1]:
            chosen.append(following)
    return [tuple(ANCHORS[index]) for index in chosen]


def _arc(rng: np.random.Generator) -> list[tuple]:
    centre = rng.uniform(0.2, 0.8, 2)
    radius = rng.uniform(0.15, 0.5)
    start = rng.uniform(0, 2 * np.pi)
    # Arcs stop short of a loop: a closed circle is a class in many drawing sets (0, O, circle).
    turns = rng.uniform(0.25, 0.7)
    angles = start + np.sign(rng.normal()) * np.linspace(0, 2 * np.pi * turns, 8)
    return list(
        zip(centre[0] + radius * np.cos(angles), centre[1] + radius * np.sin(angles), strict=True)
    )


def _wave(rng: np.random.Generator) -> list[tuple]:
    along = np.linspace(0, 1, 10)
    across = 0.5 + rng.uniform(0.1, 0.4) * np.sin(2 * np.pi * rng.uniform(1, 2) * along)
    points = np.stack([along, across], axis=1)
    if rng.random() < 0.5:
        points = points[:, ::-1]
    return [tuple(point) for point in points]


def _is_straight(polyline: list[tuple] | np.ndarray) -> bool:
    """Whether every point lies within 0.05 of the line through the first and the last."""
    points = np.asarray(polyline, dtype=float)
    direction = points[-1] - points[0]
    length = float(np.hypot(*direction))
    if length < 1e-9:
        return False
    offsets = points - points[0]
    distances = np.abs(offsets[:, 0] * direction[1] - offsets[:, 1] * direction[0]) / length
    return bool(distances.max() < 0.05)


def stray_marks(rng: np.random.Generator) -> list[Stroke]:
    """One to three hand-drawn strokes that belong to no class: bends, open arcs or waves."""
    if rng.random() < 0.2:
        strokes = scribble(rng)
        # A lone straight line is a class too (1, I, line): draw another.
        while len(strokes) == 1 and _is_straight(strokes[0]):
            strokes = scribble(rng)
        return strokes
    makers = (_bend, _bend, _arc, _wave)
    polylines = [
        makers[int(rng.integers(len(makers)))](rng) for _ in range(int(rng.integers(1, 4)))
    ]
    if len(polylines) == 1 and _is_straight(polylines[0]):
        # A lone straight line is a class too (1, I, line): cross it with another mark.
        polylines.append(_arc(rng) if rng.random() < 0.5 else _bend(rng))
    return hand_drawn(polylines, rng)


def outlier_images(count: int, style: DrawingStyle, *, seed: int) -> np.ndarray:
    """(count, 28, 28, 1) uint8 stray marks as a run of this drawing style reads a drawing."""
    rng = np.random.default_rng(seed)
    images = np.empty((count, 28, 28, 1), dtype=np.uint8)
    for index in range(count):
        strokes = stray_marks(rng)
        if style == "quickdraw":
            placed = place_on_canvas(strokes, left=0.0, top=0.0, size=rng.uniform(100, 250))
            images[index, :, :, 0] = strokes_to_quickdraw_image(placed)
            continue
        # The drawing fills half to most of the canvas with a pen a twenty-fifth to a fifth of
        # its size, as on the Draw page; the MNIST reading re-strokes it to MNIST's own width.
        size = rng.uniform(0.5, 0.85) * CANVAS_SIDE
        placed = place_on_canvas(
            strokes, left=0.08 * CANVAS_SIDE, top=0.08 * CANVAS_SIDE, size=size
        )
        # Every third point still draws a smooth pen at this size, for a third of the discs.
        placed = [np.concatenate([stroke[:-1:3], stroke[-1:]]) for stroke in placed]
        rgba = canvas_image(
            placed,
            width=CANVAS_SIDE,
            height=CANVAS_SIDE,
            pen_width=size * rng.uniform(0.04, 0.2),
            background="transparent",
        )
        images[index, :, :, 0] = preprocess_drawing(rgba, style="mnist").image
    return images


def cache_folder() -> Path:
    """Where drawn outlier pools are kept between processes: $CONVLAB_CACHE_DIR, else
    ~/.cache/convlab."""
    return Path(os.environ.get("CONVLAB_CACHE_DIR") or Path.home() / ".cache" / "convlab")


def _recipe_digest() -> str:
    """A digest of the code that draws the marks: a changed recipe never reads an old pool."""
    digest = hashlib.sha256()
    for name in RECIPE_FILES:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=4)
def outlier_pool(count: int, style: DrawingStyle, *, seed: int) -> np.ndarray:
    """outlier_images, read-only, drawn once per machine (about 3 s for 1,000) and cached.

    Every Dask worker and CLI process would otherwise draw the same pool again; the cache
    file is written whole or not at all, and a missing, unreadable or unwritable cache only
    costs the drawing.
    """
    path = cache_folder() / f"outliers-{style}-{count}-{seed}-{_recipe_digest()}.npy"
    try:
        images = np.load(path, allow_pickle=False)
        if images.shape != (count, 28, 28, 1) or images.dtype != np.uint8:
            raise ValueError(f"{path} holds {images.shape} {images.dtype}")
    except (OSError, ValueError):
        images = outlier_images(count, style, seed=seed)
        buffer = io.BytesIO()
        np.save(buffer, images, allow_pickle=False)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_file_atomically(path, buffer.getvalue())
        except OSError:
            pass  # An unwritable cache only costs drawing the pool again next time.
    images.flags.writeable = False
    return images


def turned_and_mirrored(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each (n, h, w, c) square image turned by a random quarter turn and maybe mirrored.

    A mark that is no class stays none when turned or mirrored, so a pool of drawn outliers
    serves eight times its size. One array operation per kind of turn, not one per image.
    """
    kinds = rng.integers(0, 8, len(images))
    turned = np.empty_like(images)
    for kind in np.unique(kinds):
        chosen = kinds == kind
        group = np.rot90(images[chosen], int(kind) % 4, axes=(1, 2))
        turned[chosen] = group[:, :, ::-1] if kind >= 4 else group
    return turned


@keras.saving.register_keras_serializable(package="convlab")
class OutlierExposureLoss(keras.losses.Loss):
    """Sparse cross-entropy for labelled images, and to the uniform distribution for label -1.

    The uniform term, -mean(log p), is what Hendrycks et al. add for outliers, times the weight.
    """

    def __init__(self, outlier_weight: float = 0.5, name: str = "outlier_exposure", **kwargs):
        super().__init__(name=name, **kwargs)
        self.outlier_weight = float(outlier_weight)

    def call(self, y_true, y_pred):  # noqa: ANN001, ANN201 - Keras's signature.
        log_probabilities = ops.log(ops.clip(ops.cast(y_pred, "float32"), 1e-7, 1.0))
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        picked = ops.take_along_axis(
            log_probabilities, ops.expand_dims(ops.maximum(labels, 0), -1), axis=-1
        )[:, 0]
        uniform = ops.mean(log_probabilities, axis=-1)
        return ops.where(labels >= 0, -picked, -self.outlier_weight * uniform)

    def get_config(self) -> dict:
        return {**super().get_config(), "outlier_weight": self.outlier_weight}


@keras.saving.register_keras_serializable(package="convlab")
class LabelledAccuracy(keras.metrics.Metric):
    """Accuracy over the labelled images of a batch (outliers left out), named "accuracy"."""

    def __init__(self, name: str = "accuracy", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):  # noqa: ANN001, ANN201
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        labelled = ops.cast(labels >= 0, "float32")
        guesses = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        self.correct.assign_add(ops.sum(ops.cast(guesses == labels, "float32") * labelled))
        self.count.assign_add(ops.sum(labelled))

    def result(self):  # noqa: ANN201
        return self.correct / ops.maximum(self.count, 1.0)

    def reset_state(self) -> None:
        self.correct.assign(0.0)
        self.count.assign(0.0)
