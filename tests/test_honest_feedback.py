"""Training feedback that tells the truth: failed runs, last validation, lengths, short runs."""

from __future__ import annotations

import json

import pytest

from core.datasets import Dataset, load_dataset
from core.engine import TrainingJob, TrainingRequest
from core.models import ConvBlock, ModelSpec
from core.plots import comparison_curve, runs_comparison_figure
from core.training import Progress, TrainConfig, judge_finished_run, train
from ui.training import expected_epochs, last_validation

SPEC = ModelSpec(conv_blocks=(ConvBlock(filters=8), ConvBlock(filters=16)))


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


# --- Judging a finished run ------------------------------------------------------------------


def judge(**values):
    arguments = {
        "first_loss": 2.3,
        "last_loss": 0.1,
        "accuracy": 0.98,
        "num_classes": 10,
        "steps": 500,
        "optimizer": "adam",
        "learning_rate": 1e-3,
        **values,
    }
    return judge_finished_run(**arguments)


def test_a_run_stuck_at_chance_learned_nothing_and_the_message_names_the_rate() -> None:
    status, message = judge(accuracy=0.1135, last_loss=2.30, learning_rate=10.0)
    assert status == "learned_nothing"
    assert "11.35%" in message and "10% for 10 classes" in message
    assert "learning rate 10 is far too large for adam; try 0.001" in message


def test_a_rate_far_too_small_is_called_that() -> None:
    status, message = judge(accuracy=0.12, last_loss=2.29, learning_rate=1e-7)
    assert status == "learned_nothing" and "far too small" in message and "1e-07" in message


def test_a_loss_that_climbed_far_above_its_start_diverged() -> None:
    status, message = judge(first_loss=2.3, last_loss=5.1, accuracy=0.5, learning_rate=0.5)
    assert status == "diverged"
    assert "climbed from 2.3 to 5.1" in message and "0.5" in message


def test_good_runs_and_runs_too_short_to_judge_pass() -> None:
    assert judge() is None
    assert judge(accuracy=0.1, steps=10) is None  # Stopped after a few steps: too early.
    assert judge(accuracy=0.6, num_classes=2) is None
    assert judge(accuracy=0.52, num_classes=2)[0] == "learned_nothing"


def test_a_huge_adam_learning_rate_never_ends_as_completed(digits: Dataset) -> None:
    config = TrainConfig(optimizer="adam", learning_rate=10.0, epochs=4, batch_size=32)
    result = train(SPEC, digits, config)
    assert result.status in ("learned_nothing", "diverged")
    assert "learning rate 10" in result.message


# --- The live view -----------------------------------------------------------------------------


def progress(kind: str, step: int, **values) -> Progress:
    fields = {
        "kind": kind,
        "step": step,
        "total_steps": values.pop("total_steps", 400),
        "epoch": step / 100,
        "epochs": 100,
        "loss": 1.0,
        "accuracy": 0.5,
        "learning_rate": 0.001,
        "images_per_second": 1000.0,
        "elapsed_seconds": step / 10,
        "seconds_left": 10.0,
        **values,
    }
    return Progress(**fields)


def job_with(points: list[Progress], epochs: int = 100) -> TrainingJob:
    request = TrainingRequest(
        dataset_name="digits", spec=SPEC, config=TrainConfig(epochs=epochs, time_budget_seconds=60)
    )
    job = TrainingJob(job_id="test", request=request, state="running")
    job.progress.extend(points)
    return job


def test_validation_accuracy_keeps_its_last_measured_value() -> None:
    job = job_with(
        [
            progress("batch", 50),
            progress("epoch", 100, val_accuracy=0.91),
            progress("batch", 150),
            progress("epoch", 160, val_accuracy=None),  # A budget cut the epoch short.
            progress("batch", 170),
        ]
    )
    assert last_validation(job).val_accuracy == 0.91
    assert last_validation(job_with([progress("batch", 10)])) is None


def test_the_live_x_axis_fits_the_epochs_the_budget_will_run() -> None:
    # 100 steps an epoch and 400 planned by the budget: 4 epochs, not the 100 asked for.
    job = job_with([progress("batch", 150, total_steps=400)])
    assert expected_epochs(job) == pytest.approx(4.0)
    assert expected_epochs(job_with([])) == 100


# --- Comparing runs shorter than an epoch ------------------------------------------------------


def test_a_run_shorter_than_an_epoch_is_compared_by_its_batches() -> None:
    long_history = [
        {"epoch": 1, "complete": True, "val_accuracy": 0.9},
        {"epoch": 2, "complete": True, "val_accuracy": 0.95},
    ]
    short_points = [{"epoch": 0.1, "accuracy": 0.4}, {"epoch": 0.3, "accuracy": 0.7}]
    assert comparison_curve(long_history, []) == ("validation", [1.0, 2.0], [0.9, 0.95])
    assert comparison_curve([{"epoch": 1, "complete": False}], short_points)[0] == "training"
    assert comparison_curve([], []) is None
    # Validated once (20 s on MNIST is 1.4 epochs): a line of its batches, not a lone dot.
    once = [{"epoch": 1, "complete": True, "val_accuracy": 0.97}]
    assert comparison_curve(once, short_points) == ("training", [0.1, 0.3], [0.4, 0.7])
    assert comparison_curve(once, []) == ("validation", [1.0], [0.97])
    figure = runs_comparison_figure(
        [("long", long_history, []), ("short", [], short_points), ("empty", [], [])]
    )
    names = [trace.name for trace in figure.data]
    assert names == ["long", "short (training)"]
    assert list(figure.data[1].x) == [0.1, 0.3]
    layout = json.loads(figure.to_json())["layout"]
    assert layout["yaxis"]["range"] == [0, 1]
