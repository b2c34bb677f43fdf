"""Evaluate a trained classifier on labelled images: confusion matrix, per-class scores, losses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.metrics import precision_recall_fscore_support

# Keras clips probabilities to this epsilon in its cross-entropy; the per-image losses match it.
PROBABILITY_EPSILON = 1e-7
DEFAULT_BATCH_SIZE = 1024


@dataclass(frozen=True, eq=False)
class Evaluation:
    """A model's predictions on one labelled image set, with the summaries drawn from them.

    Arrays are read-only; `confusion[true, predicted]` counts images, rows are true classes.
    """

    labels: np.ndarray  # (n,) int64
    predictions: np.ndarray  # (n,) int64
    probabilities: np.ndarray  # (n, num_classes) float32
    losses: np.ndarray  # (n,) float32, per-image cross-entropy in nats
    confusion: np.ndarray  # (num_classes, num_classes) int64
    accuracy: float
    per_class: pd.DataFrame  # columns class, precision, recall, f1, support
    class_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def compile_batch_function(model: keras.Model) -> Callable[[np.ndarray], tf.Tensor]:
    """Wrap `model` in a tf.function that takes a uint8 batch of any length and casts it inside."""
    input_shape = tuple(model.input_shape[1:])

    # One input signature with a free batch size, so the short last batch does not retrace.
    @tf.function(input_signature=[tf.TensorSpec((None, *input_shape), tf.uint8)])
    def call(batch: tf.Tensor) -> tf.Tensor:
        return model(tf.cast(batch, tf.float32), training=False)

    return call


def predict_in_batches(
    model: keras.Model, images: np.ndarray, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> np.ndarray:
    """Run `model` on uint8 `images` (n, h, w, c) batch by batch and return its stacked outputs."""
    check_images(model, images)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    call = compile_batch_function(model)
    # Slicing a uint8 array is a view; the float cast happens per batch inside the graph, so the
    # whole dataset is never copied as float32 (10,000 MNIST images would be 31 MB).
    outputs = [
        call(images[start : start + batch_size]).numpy()
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(outputs).astype(np.float32, copy=False)


def check_images(model: keras.Model, images: np.ndarray) -> None:
    """Raise ValueError unless `images` is a non-empty uint8 batch shaped like the model's input."""
    expected = tuple(model.input_shape[1:])
    if images.dtype != np.uint8:
        raise ValueError(f"Images must be uint8 pixels 0-255, got dtype {images.dtype}.")
    if images.ndim != 4 or tuple(images.shape[1:]) != expected:
        raise ValueError(
            f"Images must have shape (n, {', '.join(map(str, expected))}) for this model, "
            f"got {images.shape}."
        )
    if len(images) == 0:
        raise ValueError("There are no images to run the model on.")


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Count images per (true, predicted) pair: a (num_classes, num_classes) int64 array."""
    cells = labels.astype(np.int64) * num_classes + predictions.astype(np.int64)
    return np.bincount(cells, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_scores(
    labels: np.ndarray, predictions: np.ndarray, class_names: Sequence[str]
) -> pd.DataFrame:
    """Precision, recall, F1 and support for every class, from scikit-learn."""
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=np.arange(len(class_names)), zero_division=0
    )
    return pd.DataFrame(
        {
            "class": list(class_names),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support.astype(np.int64),
        }
    )


def evaluate(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Evaluation:
    """Predict every image and summarise the results; class names default to "0", "1", ..."""
    check_images(model, images)
    num_classes = int(model.output_shape[-1])
    class_names = (
        tuple(class_names) if class_names is not None else tuple(map(str, range(num_classes)))
    )
    if len(class_names) != num_classes:
        raise ValueError(
            f"The model predicts {num_classes} classes, "
            f"but {len(class_names)} class names were given."
        )
    labels = np.asarray(labels).astype(np.int64, copy=False)
    if labels.shape != (len(images),):
        raise ValueError(f"Expected {len(images)} labels, one per image, got shape {labels.shape}.")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"Labels must lie between 0 and {num_classes - 1} for this model.")

    probabilities = predict_in_batches(model, images, batch_size=batch_size)
    return evaluation_from_probabilities(labels, probabilities, class_names)


def evaluation_from_probabilities(
    labels: np.ndarray, probabilities: np.ndarray, class_names: Sequence[str]
) -> Evaluation:
    """Summarise class probabilities (n, k) already computed for labelled images.

    A run's time line stores them for each kept point, so scrubbing through a run needs no
    model at all.
    """
    labels = np.asarray(labels).astype(np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float32)
    class_names = tuple(class_names)
    if probabilities.shape != (len(labels), len(class_names)):
        raise ValueError(
            f"Expected probabilities of shape {(len(labels), len(class_names))}, "
            f"got {probabilities.shape}."
        )
    predictions = np.argmax(probabilities, axis=1).astype(np.int64)
    true_probabilities = probabilities[np.arange(len(labels)), labels]
    losses = -np.log(np.clip(true_probabilities, PROBABILITY_EPSILON, 1.0)).astype(np.float32)
    confusion = confusion_matrix(labels, predictions, len(class_names))
    for array in (labels, predictions, probabilities, losses, confusion):
        array.setflags(write=False)
    return Evaluation(
        labels=labels,
        predictions=predictions,
        probabilities=probabilities,
        losses=losses,
        confusion=confusion,
        accuracy=float(np.trace(confusion) / max(len(labels), 1)),
        per_class=per_class_scores(labels, predictions, class_names),
        class_names=class_names,
    )


def most_confused_pairs(confusion: np.ndarray, *, limit: int = 10) -> list[tuple[int, int, int]]:
    """The off-diagonal cells with errors as (true, predicted, count), largest count first."""
    errors = np.array(confusion, dtype=np.int64)
    np.fill_diagonal(errors, 0)
    true_classes, predicted_classes = np.nonzero(errors)
    counts = errors[true_classes, predicted_classes]
    # lexsort sorts by its last key first: count descending, then true and predicted ascending.
    order = np.lexsort((predicted_classes, true_classes, -counts))[:limit]
    return [(int(true_classes[i]), int(predicted_classes[i]), int(counts[i])) for i in order]


def most_confused_table(evaluation: Evaluation, *, limit: int = 10) -> pd.DataFrame:
    """The most confused pairs with class names, ready for a table: true, predicted, count."""
    pairs = most_confused_pairs(evaluation.confusion, limit=limit)
    names = evaluation.class_names
    return pd.DataFrame(
        {
            "true": [names[true] for true, _, _ in pairs],
            "predicted": [names[predicted] for _, predicted, _ in pairs],
            "count": np.array([count for _, _, count in pairs], dtype=np.int64),
        }
    )


def cell_indices(evaluation: Evaluation, true_class: int, predicted_class: int) -> np.ndarray:
    """Indices of the images in one confusion cell, most confident prediction first."""
    (indices,) = np.nonzero(
        (evaluation.labels == true_class) & (evaluation.predictions == predicted_class)
    )
    confidence = evaluation.probabilities[indices, predicted_class]
    return indices[np.argsort(-confidence, kind="stable")]


def highest_loss_indices(evaluation: Evaluation, count: int = 16) -> np.ndarray:
    """Indices of the `count` images with the highest loss, highest first."""
    return np.argsort(-evaluation.losses, kind="stable")[:count]


def image_titles(evaluation: Evaluation, indices: np.ndarray) -> list[str]:
    """One gallery caption per image: true class, predicted class and its probability."""
    names = evaluation.class_names
    titles = []
    for index in np.asarray(indices, dtype=np.int64):
        true, predicted = evaluation.labels[index], evaluation.predictions[index]
        probability = evaluation.probabilities[index, predicted]
        titles.append(f"{names[true]} → {names[predicted]} ({probability:.0%})")
    return titles
