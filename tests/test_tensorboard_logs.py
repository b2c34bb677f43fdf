"""TensorBoard logs: scalars, histograms and text read back from the event files."""

from __future__ import annotations

import threading
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from core.tensorboard_logs import (
    histogram_buckets,
    tensorboard_log_files,
    write_tensorboard_logs,
)

HISTORY = [
    {"epoch": 1, "steps": 10, "complete": True, "loss": 0.9, "accuracy": 0.6,
     "val_loss": 0.7, "val_accuracy": 0.7, "learning_rate": 0.01, "elapsed_seconds": 1.0},
    {"epoch": 2, "steps": 20, "complete": True, "loss": 0.5, "accuracy": 0.8,
     "val_loss": None, "val_accuracy": None, "learning_rate": 0.005, "elapsed_seconds": 2.0},
    {"epoch": 3, "steps": 30, "complete": True, "loss": 0.3, "accuracy": 0.9,
     "val_loss": 0.4, "val_accuracy": 0.85, "learning_rate": 0.001, "elapsed_seconds": 3.0},
]  # fmt: skip
BATCH_POINTS = [
    {"step": 3 * index + 3, "epoch": (3 * index + 3) / 10, "loss": 1.0 - index / 20,
     "accuracy": None if index == 4 else 0.5 + index / 40, "learning_rate": 0.01,
     "images_per_second": 1000.0 + index, "elapsed_seconds": index / 10}
    for index in range(10)
]  # fmt: skip
WEIGHT_NAMES = ["conv2d/kernel", "dense/bias"]
CHECKPOINT_EPOCHS = [0.0, 1.5]


def _checkpoint_weights() -> list[list[np.ndarray]]:
    rng = np.random.default_rng(0)
    return [
        [rng.normal(size=(3, 3, 1, 4)).astype(np.float32), rng.normal(size=10).astype(np.float32)]
        for _ in CHECKPOINT_EPOCHS
    ]


def _read_summaries(run_dir: Path) -> dict[str, list[tuple[int, str, np.ndarray]]]:
    """{tag: [(step, plugin name, value)]} from a run folder's event files, with TensorFlow only."""
    import tensorflow as tf

    summaries = defaultdict(list)
    for path in sorted(run_dir.glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                plugin_name = value.metadata.plugin_data.plugin_name
                summaries[value.tag].append(
                    (event.step, plugin_name, tf.make_ndarray(value.tensor))
                )
    return dict(summaries)


def _curve(summaries: dict, tag: str) -> tuple[list[int], list[float]]:
    """The steps and the values of one scalar tag, in the order they were written."""
    return (
        [step for step, _, _ in summaries[tag]],
        [float(value) for _, _, value in summaries[tag]],
    )


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = tensorboard_log_files(
        HISTORY,
        BATCH_POINTS,
        checkpoint_epochs=CHECKPOINT_EPOCHS,
        checkpoint_weights=_checkpoint_weights(),
        weight_names=WEIGHT_NAMES,
        run_name="tiny digits",
    )
    assert sorted(path.split("/")[0] for path in files) == ["train", "validation"]
    assert all(path.split("/")[1].startswith("events.out.tfevents.") for path in files)
    log_dir = tmp_path_factory.mktemp("runs") / "tiny-digits" / "logs"
    write_tensorboard_logs(log_dir, files)
    return log_dir


def test_train_scalars_per_epoch_and_per_batch(log_dir: Path) -> None:
    train = _read_summaries(log_dir / "train")
    for tag, key in (("epoch_loss", "loss"), ("epoch_accuracy", "accuracy")):
        steps, values = _curve(train, tag)
        assert steps == [1, 2, 3]
        assert values == pytest.approx([entry[key] for entry in HISTORY])
    assert _curve(train, "learning_rate") == ([1, 2, 3], pytest.approx([0.01, 0.005, 0.001]))
    batch_steps = [point["step"] for point in BATCH_POINTS]
    for tag, key in (("batch_loss", "loss"), ("images_per_second", "images_per_second")):
        steps, values = _curve(train, tag)
        assert steps == batch_steps
        assert values == pytest.approx([point[key] for point in BATCH_POINTS])
    # The batch whose accuracy was None leaves a gap rather than a zero.
    steps, values = _curve(train, "batch_accuracy")
    assert steps == batch_steps[:4] + batch_steps[5:]
    assert values == pytest.approx([0.5, 0.525, 0.55, 0.575, 0.625, 0.65, 0.675, 0.7, 0.725])
    assert {plugin for tag in ("epoch_loss", "batch_loss") for _, plugin, _ in train[tag]} == {
        "scalars"
    }


def test_validation_curve_skips_unmeasured_epochs(log_dir: Path) -> None:
    validation = _read_summaries(log_dir / "validation")
    assert sorted(validation) == ["epoch_accuracy", "epoch_loss"]
    assert _curve(validation, "epoch_loss") == ([1, 3], pytest.approx([0.7, 0.4]))
    assert _curve(validation, "epoch_accuracy") == ([1, 3], pytest.approx([0.7, 0.85]))


def test_weight_histograms_at_each_checkpoint_and_run_name(log_dir: Path) -> None:
    train = _read_summaries(log_dir / "train")
    for name, size in zip(WEIGHT_NAMES, (36, 10), strict=True):
        histograms = train[f"weights/{name}"]
        assert [(step, plugin) for step, plugin, _ in histograms] == [
            (0, "histograms"),
            (1500, "histograms"),
        ]
        buckets = histograms[0][2]  # Rows of (left edge, right edge, count).
        assert buckets.shape == (30, 3) and buckets[:, 2].sum() == size
    assert [(step, plugin, value.item()) for step, plugin, value in train["run"]] == [
        (0, "text", b"tiny digits")
    ]


def test_histogram_buckets_hold_every_value_once() -> None:
    values = np.array([-1.0, 0.0, 0.25, 2.0, 2.0])
    buckets = histogram_buckets(values, bucket_count=4)
    assert buckets.tolist() == [
        [-1.0, -0.25, 1.0],
        [-0.25, 0.5, 2.0],
        [0.5, 1.25, 0.0],
        [1.25, 2.0, 2.0],
    ]
    # All values equal: TensorBoard's convention puts them in the last, zero-width bucket.
    assert histogram_buckets(np.full(3, 0.5), bucket_count=2).tolist() == [
        [0.5, 0.5, 0.0],
        [0.5, 0.5, 3.0],
    ]


def test_tensorboard_reads_the_runs(log_dir: Path) -> None:
    pytest.importorskip("tensorboard", reason="TensorFlow 2.21 no longer installs tensorboard")
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer

    multiplexer = EventMultiplexer().AddRunsFromDirectory(str(log_dir.parents[1]))
    assert sorted(multiplexer.Runs()) == ["tiny-digits/logs/train", "tiny-digits/logs/validation"]
    accumulators = {}
    for run in ("train", "validation"):
        accumulators[run] = EventAccumulator(
            str(log_dir / run),
            size_guidance={"scalars": 0, "histograms": 0, "tensors": 0, "images": 0},
        )
        accumulators[run].Reload()
    train, validation = accumulators["train"], accumulators["validation"]
    assert sorted(train.Tags()["tensors"]) == sorted(
        ["epoch_loss", "epoch_accuracy", "learning_rate", "batch_loss", "batch_accuracy"]
        + ["images_per_second", "run"]
        + [f"weights/{name}" for name in WEIGHT_NAMES]
    )
    assert train.SummaryMetadata("weights/dense/bias").plugin_data.plugin_name == "histograms"
    assert [event.step for event in train.Tensors("weights/conv2d/kernel")] == [0, 1500]
    loss = validation.Tensors("epoch_loss")
    assert [event.step for event in loss] == [1, 3]
    assert [float(tf.make_ndarray(event.tensor_proto)) for event in loss] == pytest.approx(
        [0.7, 0.4]
    )


def test_works_in_a_thread_and_leaves_no_default_writer() -> None:
    import tensorflow as tf

    results: list[dict[str, bytes]] = []
    thread = threading.Thread(target=lambda: results.append(tensorboard_log_files(HISTORY, [])))
    thread.start()
    thread.join()
    [files] = results
    assert sorted(path.split("/")[0] for path in files) == ["train", "validation"]
    tensorboard_log_files(HISTORY, BATCH_POINTS)
    # should_record_summaries is True only while a default writer is set.
    assert not tf.summary.should_record_summaries()
    assert tf.summary.experimental.get_step() is None


def test_refuses_checkpoint_epochs_and_weights_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="2 checkpoint epochs but 1 checkpoint weight"):
        tensorboard_log_files(
            HISTORY,
            BATCH_POINTS,
            checkpoint_epochs=[0.0, 1.0],
            checkpoint_weights=_checkpoint_weights()[:1],
            weight_names=WEIGHT_NAMES,
        )
    with pytest.raises(ValueError, match="2 weight arrays but there are 1 weight names"):
        tensorboard_log_files(
            HISTORY,
            BATCH_POINTS,
            checkpoint_epochs=CHECKPOINT_EPOCHS,
            checkpoint_weights=_checkpoint_weights(),
            weight_names=WEIGHT_NAMES[:1],
        )


@pytest.mark.parametrize(
    "relative_path", ["../escape/events.out.tfevents.1", "/tmp/events.out.tfevents.1", "", "."]
)
def test_refuses_paths_outside_the_logs_folder(tmp_path: Path, relative_path: str) -> None:
    with pytest.raises(ValueError, match="must be relative and stay inside"):
        write_tensorboard_logs(tmp_path / "logs", {"train/a": b"x", relative_path: b"x"})
    # Every path is checked before any file is written.
    assert not (tmp_path / "logs").exists()
    assert not (tmp_path / "escape").exists()
