"""'That is not one of mine': whether an image looks like what a network was trained on.

The method, chosen after Lee et al. 2018 (Mahalanobis distance to class-conditional Gaussians
with a shared covariance, on the penultimate features), Liu et al. 2020 (the energy of the
logits) and Hendrycks et al. 2019 (outlier exposure: runs a canvas draws for are trained to be
unsure of stray marks, core.outliers, which sharpens score 3): four scores of an image and
its penultimate features f,

1. the Mahalanobis distance of f to the nearest class mean (shared covariance, ridge 1e-3),
   within the principal components of the training features that hold 95% of their variance
   (at most 128 of them, which keeps the file small and a drawing's answer under 10 ms),
2. the residual of f outside those components (what a PCA of the training features does not
   explain),
3. one minus the top probability,
4. the Mahalanobis distance to the nearest class mean of a middle layer's channel statistics
   (each channel's mean and maximum over the image), Lee et al.'s feature ensemble cut to one
   layer: the penultimate features are built to tell the classes apart and can place a strange
   image near one; the middle layer still describes its strokes. Measured on an MNIST run:
   Fashion-MNIST from 11% familiar to 0%, synthetic doodles from 39% to 30%; the first layers
   would add more, but they also flag digits drawn on the canvas (88% familiar instead of 97%),

each divided by its 99th percentile on the validation images (training images the network did
not fit), combined by their maximum, and thresholded at the validation quantile that keeps
`FAMILIAR_SHARE` of them. Fitted when the run is saved: class means, covariance and PCA from
training features, scales and threshold from validation features.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.timeline import RECOGNITION_FILE_NAME

if TYPE_CHECKING:
    import keras

FAMILIAR_SHARE = 0.98
PCA_VARIANCE_KEPT = 0.95
MAX_COMPONENTS = 128
COVARIANCE_RIDGE = 1e-3
SCALE_QUANTILE = 0.99
MAX_FIT_IMAGES = 5_000
MAX_VALIDATION_IMAGES = 2_000
MIN_VALIDATION_IMAGES = 20


@dataclass(frozen=True)
class Recognition:
    """What a network makes of images: `probabilities` (n, k) and `familiar` (n,) bool.

    `scores` (n,) is the combined unfamiliarity, 1.0 at the threshold; None when the run was
    not calibrated (an imported model), and then `familiar` is all True.
    """

    probabilities: np.ndarray
    familiar: np.ndarray
    scores: np.ndarray | None

    @property
    def calibrated(self) -> bool:
        return self.scores is not None


@dataclass(frozen=True, eq=False)
class Calibration:
    """The fitted statistics of one run; see the module docstring."""

    class_means: np.ndarray  # (k, r), in the principal components
    precision: np.ndarray  # (r, r), inverse of the shared covariance there
    pca_mean: np.ndarray  # (d,)
    pca_components: np.ndarray  # (r, d)
    scales: np.ndarray  # (3,) or (4,): the scores' validation 99th percentiles
    threshold: float
    # Score 4, absent from calibrations written before it (and from models with no middle layer).
    layer_name: str = ""
    layer_class_means: np.ndarray | None = None  # (k, 2 channels)
    layer_precision: np.ndarray | None = None  # (2 channels, 2 channels)

    @property
    def uses_layer(self) -> bool:
        return bool(self.layer_name) and self.layer_class_means is not None


def _nearest_mahalanobis(
    values: np.ndarray, class_means: np.ndarray, precision: np.ndarray
) -> np.ndarray:
    """(n,) distance of each row of values to the nearest class mean under precision."""
    differences = np.asarray(values, dtype=np.float64)[:, np.newaxis, :] - class_means[np.newaxis]
    distances = np.sum((differences @ precision) * differences, axis=2)
    return np.sqrt(np.maximum(distances.min(axis=1), 0.0))


def _shared_gaussians(
    values: np.ndarray, labels: np.ndarray, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Class means (k, d) and the precision (d, d) of their shared covariance, with a ridge."""
    values = np.asarray(values, dtype=np.float64)
    dimensions = values.shape[1]
    overall_mean = values.mean(axis=0)
    class_means = np.stack(
        [
            values[labels == label].mean(axis=0) if np.any(labels == label) else overall_mean
            for label in range(num_classes)
        ]
    )
    centred = values - class_means[labels]
    covariance = centred.T @ centred / max(len(values) - 1, 1)
    # A ridge in proportion to the features' scale keeps the covariance invertible.
    ridge = COVARIANCE_RIDGE * max(float(np.trace(covariance)) / dimensions, 1e-12)
    return class_means, np.linalg.inv(covariance + ridge * np.eye(dimensions))


def raw_scores(
    calibration: Calibration,
    features: np.ndarray,
    probabilities: np.ndarray,
    layer_features: np.ndarray | None = None,
) -> np.ndarray:
    """The unfamiliarity scores (n, 3 or 4), before scaling: Mahalanobis, residual, 1 - top,
    and the middle layer's Mahalanobis when the calibration has it and layer_features are given.
    """
    centred = np.asarray(features, dtype=np.float64) - calibration.pca_mean
    components = np.asarray(calibration.pca_components, dtype=np.float64)
    coordinates = centred @ components.T
    mahalanobis = _nearest_mahalanobis(coordinates, calibration.class_means, calibration.precision)
    residual = np.linalg.norm(centred - coordinates @ components, axis=1)
    uncertainty = 1.0 - np.asarray(probabilities, dtype=np.float64).max(axis=1)
    scores = [mahalanobis, residual, uncertainty]
    if calibration.uses_layer and layer_features is not None and layer_features.shape[1]:
        scores.append(
            _nearest_mahalanobis(
                layer_features, calibration.layer_class_means, calibration.layer_precision
            )
        )
    return np.stack(scores, axis=1)


def combined_scores(
    calibration: Calibration,
    features: np.ndarray,
    probabilities: np.ndarray,
    layer_features: np.ndarray | None = None,
) -> np.ndarray:
    """Unfamiliarity (n,): the largest scaled score over the threshold; above 1 is unfamiliar."""
    raw = raw_scores(calibration, features, probabilities, layer_features)
    scaled = raw / calibration.scales[: raw.shape[1]]
    return scaled.max(axis=1) / calibration.threshold


def fit_calibration(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    validation_features: np.ndarray,
    validation_probabilities: np.ndarray,
    num_classes: int,
    *,
    layer_name: str = "",
    train_layer_features: np.ndarray | None = None,
    validation_layer_features: np.ndarray | None = None,
) -> Calibration:
    """Fit means, covariance and PCA on training features; scales and threshold on validation.

    With `layer_name` and both layer feature arrays, the middle layer's score is fitted too.
    Raises ValueError with too few validation images to set a threshold.
    """
    if len(validation_features) < MIN_VALIDATION_IMAGES:
        raise ValueError(
            f"Telling familiar images from strange ones needs at least {MIN_VALIDATION_IMAGES} "
            f"validation images; this run kept {len(validation_features)}."
        )
    from sklearn.decomposition import PCA

    features = np.asarray(train_features, dtype=np.float64)
    labels = np.asarray(train_labels)
    # Randomized PCA of the few leading components: a full one of 10,000 x 3,136 features
    # took 10 s; the share of the variance they hold decides how many are kept.
    pca = PCA(
        n_components=min(MAX_COMPONENTS, *features.shape), svd_solver="randomized", random_state=0
    ).fit(features)
    total_variance = float(features.var(axis=0, ddof=1).sum())
    held = np.cumsum(pca.explained_variance_) / max(total_variance, 1e-12)
    kept = int(np.searchsorted(held, PCA_VARIANCE_KEPT) + 1)
    components = pca.components_[: min(kept, len(pca.components_))]
    coordinates = (features - pca.mean_) @ components.T
    class_means, precision = _shared_gaussians(coordinates, labels, num_classes)
    uses_layer = (
        bool(layer_name)
        and train_layer_features is not None
        and validation_layer_features is not None
        and train_layer_features.shape[1] > 0
    )
    layer_class_means = layer_precision = None
    if uses_layer:
        layer_class_means, layer_precision = _shared_gaussians(
            train_layer_features, labels, num_classes
        )
    partial = Calibration(
        class_means=class_means,
        precision=precision,
        pca_mean=pca.mean_.astype(np.float32),
        pca_components=components.astype(np.float32),
        scales=np.ones(4 if uses_layer else 3),
        threshold=1.0,
        layer_name=layer_name if uses_layer else "",
        layer_class_means=layer_class_means,
        layer_precision=layer_precision,
    )
    validation = raw_scores(
        partial, validation_features, validation_probabilities, validation_layer_features
    )
    scales = np.maximum(np.quantile(validation, SCALE_QUANTILE, axis=0), 1e-9)
    combined = (validation / scales).max(axis=1)
    threshold = float(np.quantile(combined, FAMILIAR_SHARE))
    return dataclasses.replace(partial, scales=scales, threshold=max(threshold, 1e-9))


def calibration_file_bytes(calibration: Calibration) -> bytes:
    """The .npz file of a calibration, written with the run as recognition.npz."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        class_means=calibration.class_means,
        precision=calibration.precision,
        pca_mean=calibration.pca_mean,
        pca_components=calibration.pca_components,
        scales=calibration.scales,
        threshold=np.asarray(calibration.threshold),
        **(
            {
                "layer_name": np.asarray(calibration.layer_name),
                "layer_class_means": calibration.layer_class_means,
                "layer_precision": calibration.layer_precision,
            }
            if calibration.uses_layer
            else {}
        ),
    )
    return buffer.getvalue()


def read_calibration(path: str | Path) -> Calibration:
    """A calibration written by calibration_file_bytes; ValueError when it cannot be read."""
    try:
        with np.load(path) as archive:
            return Calibration(
                class_means=archive["class_means"],
                precision=archive["precision"],
                pca_mean=archive["pca_mean"],
                pca_components=archive["pca_components"],
                scales=archive["scales"],
                threshold=float(archive["threshold"]),
                **(
                    {
                        "layer_name": str(archive["layer_name"]),
                        "layer_class_means": archive["layer_class_means"],
                        "layer_precision": archive["layer_precision"],
                    }
                    if "layer_name" in archive.files
                    else {}
                ),
            )
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"The run's calibration {path} could not be read: {error}") from error


def middle_layer_name(model: keras.Model) -> str:
    """The middle one of the model's spatial non-linear outputs (activation layers, or Conv2D
    with a built-in activation), or "" when it has none. For the fast preset, relu2."""
    from keras import layers

    candidates = []
    for layer in model.layers:
        try:
            spatial = len(layer.output.shape) == 4
        except (AttributeError, ValueError):
            continue
        activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
        if spatial and (
            isinstance(layer, (layers.ReLU, layers.Activation, layers.LeakyReLU, layers.ELU))
            or (isinstance(layer, layers.Conv2D) and activation != "linear")
        ):
            candidates.append(layer.name)
    return candidates[len(candidates) // 2] if candidates else ""


FeaturesFunction = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def make_features_function(
    model: keras.Model, *, layer_name: str = "", batch_size: int = 1024
) -> FeaturesFunction:
    """uint8 images (n, h, w, c) -> (penultimate features (n, d), probabilities (n, k), the
    named layer's channel means and maxima (n, 2 c), or (n, 0) without a layer_name).

    One compiled call with a free batch size, so one drawing costs about a millisecond.
    """
    import keras
    import tensorflow as tf
    from keras import layers

    dense_layers = [layer for layer in model.layers if isinstance(layer, layers.Dense)]
    if not dense_layers:
        raise ValueError("This model has no Dense layer, so it has no penultimate features.")
    outputs = [dense_layers[-1].input, model.outputs[0]]
    if layer_name:
        outputs.append(model.get_layer(layer_name).output)
    probe = keras.Model(model.inputs[0], outputs)
    input_shape = tuple(int(size) for size in model.input_shape[1:])

    @tf.function(input_signature=[tf.TensorSpec((None, *input_shape), tf.uint8)])
    def call(batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        results = probe(tf.cast(batch, tf.float32), training=False)
        features, probabilities = results[0], results[1]
        count = tf.shape(features)[0]
        if layer_name:
            maps = tf.cast(results[2], tf.float32)
            statistics = tf.concat(
                [tf.reduce_mean(maps, axis=(1, 2)), tf.reduce_max(maps, axis=(1, 2))], axis=1
            )
        else:
            statistics = tf.zeros((count, 0))
        return tf.reshape(features, (count, -1)), probabilities, statistics

    def features_of(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        images = np.asarray(images)
        if images.ndim == len(input_shape):
            images = images[np.newaxis]
        parts: list[list[np.ndarray]] = [[], [], []]
        for start in range(0, len(images), batch_size):
            for part, result in zip(parts, call(images[start : start + batch_size]), strict=True):
                part.append(result.numpy())
        return tuple(np.concatenate(part).astype(np.float32) for part in parts)

    return features_of


def calibrate(
    model: keras.Model,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    validation_images: np.ndarray,
    num_classes: int,
    *,
    seed: int = 0,
) -> Calibration:
    """Fit a run's calibration from its own training and validation images (uint8)."""
    layer_name = middle_layer_name(model)
    features_of = make_features_function(model, layer_name=layer_name)
    generator = np.random.default_rng(seed)
    # Samples keep the save quick: statistics of 5,000 images and a 97.5% quantile of 2,000
    # are as good as those of all of them.
    if len(train_images) > MAX_FIT_IMAGES:
        chosen = np.sort(generator.choice(len(train_images), MAX_FIT_IMAGES, replace=False))
        train_images, train_labels = train_images[chosen], train_labels[chosen]
    if len(validation_images) > MAX_VALIDATION_IMAGES:
        chosen = np.sort(
            generator.choice(len(validation_images), MAX_VALIDATION_IMAGES, replace=False)
        )
        validation_images = validation_images[chosen]
    train_features, _, train_layer_features = features_of(train_images)
    validation_features, validation_probabilities, validation_layer_features = features_of(
        validation_images
    )
    return fit_calibration(
        train_features,
        train_labels,
        validation_features,
        validation_probabilities,
        num_classes,
        layer_name=layer_name,
        train_layer_features=train_layer_features,
        validation_layer_features=validation_layer_features,
    )


def recognise(
    features_of: Callable[[np.ndarray], tuple[np.ndarray, ...]],
    calibration: Calibration | None,
    images: np.ndarray,
) -> Recognition:
    """Probabilities and familiarity of uint8 images; familiar everywhere without calibration.

    `features_of` gives (features, probabilities) and, for a calibration with a middle layer,
    that layer's statistics third (make_features_function with the calibration's layer_name).
    """
    outputs = features_of(images)
    features, probabilities = outputs[0], outputs[1]
    if calibration is None:
        return Recognition(probabilities, np.ones(len(probabilities), dtype=bool), None)
    layer_features = outputs[2] if len(outputs) > 2 else None
    scores = combined_scores(calibration, features, probabilities, layer_features)
    return Recognition(probabilities, scores <= 1.0, scores)


__all__ = [
    "FAMILIAR_SHARE",
    "RECOGNITION_FILE_NAME",
    "Calibration",
    "Recognition",
    "calibrate",
    "calibration_file_bytes",
    "combined_scores",
    "fit_calibration",
    "make_features_function",
    "middle_layer_name",
    "raw_scores",
    "read_calibration",
    "recognise",
]
