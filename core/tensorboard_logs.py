"""TensorBoard logs for a finished run, written from its record and checkpoints."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

TRAIN_FOLDER = "train"
VALIDATION_FOLDER = "validation"
# Checkpoint histograms use the epoch times this as their step: TensorBoard steps are integers,
# and a short run's checkpoints fall at fractional epochs (0.25, 0.5, ...) that must stay ordered.
CHECKPOINT_STEPS_PER_EPOCH = 1000
# tensorboard's own default, so the histograms look like those of a Keras TensorBoard callback.
HISTOGRAM_BUCKET_COUNT = 30


def tensorboard_log_files(
    history: Sequence[Mapping[str, Any]],
    batch_points: Sequence[Mapping[str, Any]],
    *,
    checkpoint_epochs: Sequence[float] = (),
    checkpoint_weights: Sequence[Sequence[np.ndarray]] = (),
    weight_names: Sequence[str] = (),
    run_name: str = "",
) -> dict[str, bytes]:
    """The run's TensorBoard event files as {path relative to the logs folder: file bytes}.

    Paths start with `train/` or `validation/`, so TensorBoard overlays the two curves.
    Epoch scalars use the epoch number as step, batch scalars the batch's step, and the
    weight histogram of checkpoint i uses round(checkpoint_epochs[i] * 1000) as step.
    None values (a metric not measured) are skipped.
    """
    if len(checkpoint_epochs) != len(checkpoint_weights):
        raise ValueError(
            f"There are {len(checkpoint_epochs)} checkpoint epochs but "
            f"{len(checkpoint_weights)} checkpoint weight lists; give one epoch per checkpoint."
        )
    for index, weights in enumerate(checkpoint_weights):
        if len(weights) != len(weight_names):
            raise ValueError(
                f"Checkpoint {index} has {len(weights)} weight arrays but there are "
                f"{len(weight_names)} weight names; give one name per array."
            )
    # Imported here so that listing or reading runs does not pay TensorFlow's 5 s import.
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="convlab-tensorboard-") as folder:
        train_writer = tf.summary.create_file_writer(os.path.join(folder, TRAIN_FOLDER))
        validation_writer = tf.summary.create_file_writer(os.path.join(folder, VALIDATION_FOLDER))
        try:
            # as_default and record_if are thread-local and restored on exit, so neither the
            # caller's thread nor any other is left with a default writer.
            with tf.summary.record_if(True):
                with train_writer.as_default():
                    _write_train_summaries(
                        tf,
                        history,
                        batch_points,
                        checkpoint_epochs,
                        checkpoint_weights,
                        weight_names,
                        run_name,
                    )
                with validation_writer.as_default():
                    _write_validation_summaries(tf, history)
        finally:
            train_writer.close()
            validation_writer.close()
        return _read_folder(Path(folder))


def write_tensorboard_logs(log_dir: str | os.PathLike, files: Mapping[str, bytes]) -> None:
    """Write the files of tensorboard_log_files under log_dir, creating folders as needed."""
    root = Path(log_dir)
    targets = {relative_path: _safe_target(root, relative_path) for relative_path in files}
    for relative_path, data in files.items():
        target = targets[relative_path]
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written under a name without "tfevents" and then renamed, so a TensorBoard watching
        # the folder never reads a half-written event file.
        temporary = target.with_name(f".tmp-{secrets.token_hex(8)}")
        temporary.write_bytes(data)
        os.replace(temporary, target)


def _write_train_summaries(
    tf: Any,
    history: Sequence[Mapping[str, Any]],
    batch_points: Sequence[Mapping[str, Any]],
    checkpoint_epochs: Sequence[float],
    checkpoint_weights: Sequence[Sequence[np.ndarray]],
    weight_names: Sequence[str],
    run_name: str,
) -> None:
    """Write the train-side summaries into the current default writer."""
    if run_name:
        text_metadata = _summary_metadata(tf, "text")
        tf.summary.write("run", tf.constant(run_name), step=0, metadata=text_metadata)
    for entry in history:
        epoch = entry.get("epoch")
        if epoch is None:
            continue
        for tag, key in (
            ("epoch_loss", "loss"),
            ("epoch_accuracy", "accuracy"),
            ("learning_rate", "learning_rate"),
        ):
            _write_scalar(tf, tag, entry.get(key), int(epoch))
    for point in batch_points:
        step = point.get("step")
        if step is None:
            continue
        for tag, key in (
            ("batch_loss", "loss"),
            ("batch_accuracy", "accuracy"),
            ("images_per_second", "images_per_second"),
        ):
            _write_scalar(tf, tag, point.get(key), int(step))
    histogram_metadata = _summary_metadata(tf, "histograms")
    for epoch, weights in zip(checkpoint_epochs, checkpoint_weights, strict=True):
        step = round(float(epoch) * CHECKPOINT_STEPS_PER_EPOCH)
        for name, array in zip(weight_names, weights, strict=True):
            values = np.asarray(array, dtype=np.float64).ravel()
            # A diverged run can hold NaN or infinite weights; they would break every bucket.
            values = values[np.isfinite(values)]
            if values.size < 2:
                continue
            buckets = histogram_buckets(values)
            tf.summary.write(f"weights/{name}", buckets, step=step, metadata=histogram_metadata)


def _write_validation_summaries(tf: Any, history: Sequence[Mapping[str, Any]]) -> None:
    """Write the validation curves into the current default writer, under the train tag names."""
    for entry in history:
        epoch = entry.get("epoch")
        if epoch is None:
            continue
        _write_scalar(tf, "epoch_loss", entry.get("val_loss"), int(epoch))
        _write_scalar(tf, "epoch_accuracy", entry.get("val_accuracy"), int(epoch))


def _write_scalar(tf: Any, tag: str, value: Any, step: int) -> None:
    """Write one scalar unless it is None (a metric the run did not measure)."""
    if value is not None:
        scalar = tf.constant(float(value), dtype=tf.float32)
        tf.summary.write(tag, scalar, step=step, metadata=_summary_metadata(tf, "scalars"))


def histogram_buckets(values: np.ndarray, bucket_count: int = HISTOGRAM_BUCKET_COUNT) -> np.ndarray:
    """TensorBoard's histogram of values: float64 rows of (left edge, right edge, count).

    The same buckets as tensorboard's own histogram summary: bucket_count equal-width buckets
    from the smallest to the largest value, or, when all values are equal, empty buckets
    at that value but for the last one, which holds them all.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        return np.zeros((bucket_count, 3))
    smallest, largest = float(values.min()), float(values.max())
    if smallest == largest:
        counts = np.zeros(bucket_count)
        counts[-1] = values.size
        edges = np.full(bucket_count, largest)
        return np.stack([edges, edges, counts], axis=1)
    width = (largest - smallest) / bucket_count
    indices = np.minimum(np.floor((values - smallest) / width).astype(np.int64), bucket_count - 1)
    counts = np.bincount(indices, minlength=bucket_count).astype(np.float64)
    edges = np.linspace(smallest, largest, bucket_count + 1)
    edges[-1] = largest  # Rounding must not leave the largest value outside the last bucket.
    return np.stack([edges[:-1], edges[1:], counts], axis=1)


def _summary_metadata(tf: Any, plugin_name: str) -> Any:
    """The metadata that tells TensorBoard which dashboard (plugin) shows a summary.

    tensorboard's own summary ops write exactly this: the plugin's name and its version-0
    plugin data, which serialises to empty bytes. Writing it here spares the app the
    tensorboard package, which TensorFlow 2.21 no longer installs.
    """
    metadata = tf.compat.v1.SummaryMetadata()
    metadata.plugin_data.plugin_name = plugin_name
    metadata.plugin_data.content = b""
    return metadata


def _read_folder(folder: Path) -> dict[str, bytes]:
    """Every file under folder as {POSIX path relative to folder: bytes}."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _safe_target(root: Path, relative_path: str) -> Path:
    """The file root/relative_path, refusing paths that are absolute or climb out of root."""
    posix = PurePosixPath(relative_path)
    windows = PureWindowsPath(relative_path)
    if (
        not posix.parts
        or posix.is_absolute()
        or windows.is_absolute()
        or windows.drive
        or ".." in posix.parts
        or ".." in windows.parts
    ):
        raise ValueError(
            f"The log file path {relative_path!r} must be relative and stay inside the logs "
            "folder (no leading '/', no '..')."
        )
    return root.joinpath(*posix.parts)
