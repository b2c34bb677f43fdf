"""A run's time line: the network kept at points along its training, and what it did at each."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras

    from core.datasets import Dataset
    from core.training import TrainConfig, TrainResult

CHECKPOINTS_FILE_NAME = "checkpoints.npz"
TIMELINE_FILE_NAME = "timeline.npz"
EMBEDDING_FILE_NAME = "embedding.npz"
LOGS_DIR_NAME = "logs"
# Written by core.recognition; named here with the run's other files.
RECOGNITION_FILE_NAME = "recognition.npz"

# The untrained start and up to 11 points along the way, at half precision: at most six times
# the model's weights, so a run folder stays under 8x its model file.
MAX_STORED_CHECKPOINTS = 12
# A run of fewer epochs is kept every quarter; a longer one every epoch (spread, if too many).
QUARTERS_BELOW_EPOCHS = 4
# Probabilities kept per point: at most this many images x classes (40 kB at half precision).
TIMELINE_VALUES = 20_000
TIMELINE_MAX_IMAGES = 2_000
TIMELINE_MIN_IMAGES = 200
# The embedding map every run gets ready-made: the Inside page's default sample.
EMBEDDING_IMAGES = 1_000
# float16 holds up to 65,504; weights beyond that (a diverging run) keep float32.
FLOAT16_SAFE_LIMIT = 60_000.0


def checkpoint_steps(
    planned_steps: float, steps_per_epoch: int, *, max_count: int = MAX_STORED_CHECKPOINTS - 1
) -> tuple[int, ...]:
    """The steps after which to keep the network, between the start and the run's end.

    Every epoch of a run of at least four epochs (at most `max_count`, spread evenly), every
    quarter of a shorter one. The end is left out: the saved run is that point.
    """
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be at least 1, got {steps_per_epoch}.")
    total = int(math.floor(planned_steps))
    if total < 2 or max_count < 1:
        return ()
    if total / steps_per_epoch >= QUARTERS_BELOW_EPOCHS:
        epoch_ends = np.arange(steps_per_epoch, total, steps_per_epoch)
        if len(epoch_ends) > max_count:
            picks = np.round(np.linspace(0, len(epoch_ends) - 1, max_count)).astype(int)
            epoch_ends = epoch_ends[np.unique(picks)]
        steps = epoch_ends
    else:
        steps = np.round(np.arange(1, 4) * total / 4)
    return tuple(sorted({int(step) for step in steps if 0 < step < total}))


def compact_weights(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Copies of a network's weights at half precision, where every value fits in float16."""
    compact = []
    for array in weights:
        array = np.asarray(array)
        fits = np.issubdtype(array.dtype, np.floating) and (
            array.size == 0
            or (np.isfinite(array).all() and float(np.abs(array).max()) < FLOAT16_SAFE_LIMIT)
        )
        compact.append(array.astype(np.float16) if fits else array.copy())
    return compact


def checkpoints_file_bytes(
    epochs: Sequence[float], weights: Sequence[Sequence[np.ndarray]]
) -> bytes:
    """An .npz file of the kept networks: their epochs and every weight array of each."""
    if len(epochs) != len(weights):
        raise ValueError(f"{len(epochs)} checkpoint epochs but {len(weights)} sets of weights.")
    arrays: dict[str, np.ndarray] = {"epochs": np.asarray(epochs, dtype=np.float64)}
    for point, point_weights in enumerate(weights):
        for position, array in enumerate(point_weights):
            arrays[f"point{point}_weight{position}"] = np.asarray(array)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def read_checkpoint_weights(path: str | Path, point: int) -> list[np.ndarray]:
    """The float32 weights kept at checkpoint `point` of a checkpoints file."""
    with np.load(path) as archive:
        count = len(archive["epochs"])
        if not 0 <= point < count:
            raise IndexError(f"Checkpoint {point} does not exist; this run kept {count}.")
        prefix = f"point{point}_weight"
        names = sorted(
            (name for name in archive.files if name.startswith(prefix)),
            key=lambda name: int(name[len(prefix) :]),
        )
        return [archive[name].astype(np.float32) for name in names]


def stratified_sample(labels: np.ndarray, num_classes: int, count: int) -> np.ndarray:
    """About `count` indices, the same number from each class, sorted; the same every time.

    Some test sets are stored class by class, so their first images would show one class only.
    """
    from core.gallery import sample_indices

    per_class = max(1, -(-count // max(num_classes, 1)))
    chosen = sample_indices(labels, num_classes, per_class, seed=0).ravel()
    return np.sort(chosen[chosen >= 0])


def timeline_sample_size(num_classes: int, num_images: int) -> int:
    """How many test images each point's probabilities cover, so a point stays about 40 kB."""
    size = max(TIMELINE_MIN_IMAGES, TIMELINE_VALUES // max(num_classes, 1))
    return min(num_images, TIMELINE_MAX_IMAGES, size)


def probabilities_at_checkpoints(
    model: keras.Model, checkpoint_weights: Sequence[Sequence[np.ndarray]], images: np.ndarray
) -> np.ndarray:
    """Class probabilities (points, n, k) float32 of each kept network, then of `model` itself."""
    import keras

    from core.models import make_predict_function

    outputs = []
    if checkpoint_weights:
        # One copy of the network and one compiled call; each point only swaps the weights in.
        copy = keras.models.clone_model(model)
        predict = make_predict_function(copy)
        for weights in checkpoint_weights:
            copy.set_weights([np.asarray(array, dtype=np.float32) for array in weights])
            outputs.append(predict(images))
    outputs.append(make_predict_function(model)(images))
    return np.stack(outputs).astype(np.float32)


@dataclass(frozen=True, eq=False)
class Timeline:
    """What a run's network said at each kept point, on a fixed sample of test images.

    `epochs` (points,) ends with the run itself; `probabilities` (points, n, k) float32;
    `indices` (n,) are positions in the test set, `labels` (n,) their classes.
    """

    epochs: np.ndarray
    indices: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray

    @property
    def accuracies(self) -> np.ndarray:
        """Accuracy on the sample at each point, (points,)."""
        return (self.probabilities.argmax(axis=2) == self.labels[np.newaxis]).mean(axis=1)


def timeline_file_bytes(timeline: Timeline) -> bytes:
    """The .npz file of a time line, probabilities at half precision."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        epochs=timeline.epochs.astype(np.float64),
        indices=timeline.indices.astype(np.int64),
        labels=timeline.labels.astype(np.int64),
        probabilities=timeline.probabilities.astype(np.float16),
    )
    return buffer.getvalue()


def read_timeline(path: str | Path) -> Timeline:
    """A time line written by timeline_file_bytes; ValueError when the file is damaged."""
    try:
        with np.load(path) as archive:
            timeline = Timeline(
                epochs=archive["epochs"],
                indices=archive["indices"],
                labels=archive["labels"],
                probabilities=archive["probabilities"].astype(np.float32),
            )
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"The run's time line {path} could not be read: {error}") from error
    if timeline.probabilities.shape[:2] != (len(timeline.epochs), len(timeline.indices)):
        raise ValueError(f"The run's time line {path} does not fit together.")
    return timeline


def matches_test_set(indices: np.ndarray, labels: np.ndarray, test_labels: np.ndarray) -> bool:
    """Whether a stored sample (test indices and their labels) still fits this test set."""
    if len(indices) == 0 or int(indices.max()) >= len(test_labels) or int(indices.min()) < 0:
        return False
    return bool(np.array_equal(test_labels[indices], labels))


def embedding_file_bytes(indices: np.ndarray, labels: np.ndarray, **maps: np.ndarray) -> bytes:
    """The .npz file of ready-made embedding maps: the sample and one (n, 2) map per method."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        indices=indices.astype(np.int64),
        labels=labels.astype(np.int64),
        **{method: points.astype(np.float32) for method, points in maps.items()},
    )
    return buffer.getvalue()


def read_embedding(path: str | Path) -> dict[str, np.ndarray]:
    """{'indices', 'labels', and 'pca' and/or 'tsne'} from an embedding file."""
    try:
        with np.load(path) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError) as error:
        raise ValueError(f"The run's embedding {path} could not be read: {error}") from error


def store_embedding_map(
    run_dir: str | Path, indices: np.ndarray, labels: np.ndarray, **maps: np.ndarray
) -> None:
    """Add maps to a run's embedding file (written whole, then renamed over the old one).

    Maps already stored for the same sample are kept; a run that is gone is left alone.
    """
    from core.runs import write_file_atomically

    folder = Path(run_dir)
    if not folder.is_dir():
        return
    path = folder / EMBEDDING_FILE_NAME
    stored: dict[str, np.ndarray] = {}
    if path.is_file():
        try:
            stored = read_embedding(path)
        except ValueError:
            stored = {}
    if not np.array_equal(stored.get("indices", indices), indices):
        stored = {}
    kept = {name: points for name, points in stored.items() if name not in ("indices", "labels")}
    write_file_atomically(path, embedding_file_bytes(indices, labels, **{**kept, **maps}))


def embedding_maps(
    model: keras.Model, images: np.ndarray, methods: Sequence[str] = ("pca",)
) -> dict[str, np.ndarray]:
    """One 2-D map (n, 2) per method of `images`' penultimate features."""
    from core.inspection import embedding

    return {method: embedding(model, images, method=method) for method in methods}


def run_files(
    model: keras.Model,
    dataset: Dataset,
    *,
    checkpoint_epochs: Sequence[float],
    checkpoint_weights: Sequence[Sequence[np.ndarray]],
    final_epochs: float,
    history: Sequence[Mapping[str, Any]] = (),
    batch_points: Sequence[Mapping[str, Any]] = (),
    run_name: str = "",
) -> dict[str, bytes]:
    """The files a run keeps beside its model, as {relative path: bytes}.

    The kept networks, what each said on a fixed test sample, the PCA map of the default
    embedding sample and TensorBoard logs. Computed once, where the run trained, so the pages
    answer at once when a student scrubs through the run.
    """
    from core.tensorboard_logs import tensorboard_log_files

    files: dict[str, bytes] = {}
    if checkpoint_weights:
        files[CHECKPOINTS_FILE_NAME] = checkpoints_file_bytes(checkpoint_epochs, checkpoint_weights)
    num_classes = len(dataset.class_names)
    if len(dataset.x_test):
        sample = stratified_sample(
            dataset.y_test, num_classes, timeline_sample_size(num_classes, len(dataset.y_test))
        )
        timeline = Timeline(
            epochs=np.asarray([*checkpoint_epochs, final_epochs], dtype=np.float64),
            indices=sample,
            labels=dataset.y_test[sample],
            probabilities=probabilities_at_checkpoints(
                model, checkpoint_weights, dataset.x_test[sample]
            ),
        )
        files[TIMELINE_FILE_NAME] = timeline_file_bytes(timeline)
        map_sample = stratified_sample(dataset.y_test, num_classes, EMBEDDING_IMAGES)
        try:
            maps = embedding_maps(model, dataset.x_test[map_sample])
        except ValueError:
            # No Dense layer to take features from, too few images, or a diverged network's
            # NaN features: the page says there is no map instead.
            maps = {}
        if maps:
            files[EMBEDDING_FILE_NAME] = embedding_file_bytes(
                map_sample, dataset.y_test[map_sample], **maps
            )
    final_weights = [np.asarray(array) for array in model.get_weights()]
    logs = tensorboard_log_files(
        history,
        batch_points,
        checkpoint_epochs=[*checkpoint_epochs, final_epochs],
        checkpoint_weights=[*checkpoint_weights, final_weights],
        weight_names=[weight.path for weight in model.weights],
        run_name=run_name,
    )
    files.update({f"{LOGS_DIR_NAME}/{path}": data for path, data in logs.items()})
    return files


def files_for_result(
    result: TrainResult,
    dataset: Dataset,
    run_name: str = "",
    config: TrainConfig | None = None,
) -> dict[str, bytes]:
    """run_files for what core.training.train returned, and with `config` (which says how the
    training images were split) the run's calibration of familiar images (core.recognition).
    """
    files = run_files(
        result.model,
        dataset,
        checkpoint_epochs=result.checkpoint_epochs,
        checkpoint_weights=result.checkpoint_weights,
        final_epochs=result.epochs_trained,
        history=result.history,
        batch_points=result.batch_points,
        run_name=run_name,
    )
    if config is not None and result.status != "diverged":
        calibration = calibration_file(result.model, dataset, config)
        if calibration is not None:
            files[RECOGNITION_FILE_NAME] = calibration
    return files


def calibration_file(model: keras.Model, dataset: Dataset, config: TrainConfig) -> bytes | None:
    """The run's calibration file, fitted on its own split; None when it cannot be fitted."""
    from core.recognition import calibrate, calibration_file_bytes
    from core.training import split_indices

    train_indices, validation_indices = split_indices(
        dataset.y_train,
        validation_fraction=config.validation_fraction,
        max_train_images=config.max_train_images,
        seed=config.seed,
    )
    try:
        calibration = calibrate(
            model,
            dataset.x_train[train_indices],
            dataset.y_train[train_indices],
            dataset.x_train[validation_indices],
            len(dataset.class_names),
            seed=config.seed,
        )
    except (ValueError, np.linalg.LinAlgError):
        # Too few validation images, no Dense layer, or features that are not numbers.
        return None
    return calibration_file_bytes(calibration)


__all__ = [
    "CHECKPOINTS_FILE_NAME",
    "EMBEDDING_FILE_NAME",
    "EMBEDDING_IMAGES",
    "LOGS_DIR_NAME",
    "MAX_STORED_CHECKPOINTS",
    "TIMELINE_FILE_NAME",
    "Timeline",
    "checkpoint_steps",
    "checkpoints_file_bytes",
    "compact_weights",
    "embedding_file_bytes",
    "embedding_maps",
    "files_for_result",
    "matches_test_set",
    "probabilities_at_checkpoints",
    "read_checkpoint_weights",
    "read_embedding",
    "read_timeline",
    "run_files",
    "store_embedding_map",
    "stratified_sample",
    "timeline_file_bytes",
    "timeline_sample_size",
]
