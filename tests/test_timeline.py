"""Tests for core.timeline: the network kept along a run, and what it said at each point."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from core.datasets import Dataset, load_dataset
from core.models import ConvBlock, ModelSpec
from core.runs import load_run, make_record, save_run
from core.timeline import (
    CHECKPOINTS_FILE_NAME,
    EMBEDDING_FILE_NAME,
    MAX_STORED_CHECKPOINTS,
    TIMELINE_FILE_NAME,
    checkpoint_steps,
    compact_weights,
    files_for_result,
    read_embedding,
    stratified_sample,
    timeline_sample_size,
)
from core.training import TrainConfig, train

SPEC = ModelSpec(conv_blocks=(ConvBlock(filters=8), ConvBlock(filters=16)))


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


@pytest.fixture(scope="module")
def short_run(digits: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three epochs on Digits: short, so kept every quarter."""
    config = TrainConfig(epochs=3, batch_size=64, learning_rate=0.01)
    result = train(SPEC, digits, config)
    record = make_record(result, digits, config, spec=SPEC, name="short")
    files = files_for_result(result, digits, record["name"])
    return save_run(result.model, record, tmp_path_factory.mktemp("runs"), extra_files=files)


def folder_bytes(folder: Path) -> int:
    return sum(
        os.path.getsize(Path(parent) / name)
        for parent, _, names in os.walk(folder)
        for name in names
    )


# --- The plan of points ---------------------------------------------------------------------


def test_a_short_run_is_kept_every_quarter() -> None:
    assert checkpoint_steps(100, 50) == (25, 50, 75)
    assert checkpoint_steps(63, 21) == (16, 32, 47)


def test_a_longer_run_is_kept_every_epoch() -> None:
    assert checkpoint_steps(60, 10) == (10, 20, 30, 40, 50)
    assert checkpoint_steps(40, 10) == (10, 20, 30)


def test_a_long_run_keeps_a_bounded_count_spread_over_it() -> None:
    steps = checkpoint_steps(100 * 7, 7)
    assert len(steps) == MAX_STORED_CHECKPOINTS - 1
    assert steps[0] == 7 and steps[-1] == 99 * 7
    assert all(step % 7 == 0 for step in steps)
    gaps = np.diff(steps)
    assert gaps.max() - gaps.min() <= 7


def test_the_start_and_the_end_are_never_planned_points() -> None:
    for total, per_epoch in ((2, 1), (3, 1), (5, 5), (9, 2), (1000, 3)):
        steps = checkpoint_steps(total, per_epoch)
        assert all(0 < step < total for step in steps)
        assert list(steps) == sorted(set(steps))
    assert checkpoint_steps(1, 1) == ()


def test_weights_are_kept_at_half_precision_unless_they_do_not_fit() -> None:
    small = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    huge = np.array([1e6, 1.0], dtype=np.float32)
    broken = np.array([np.nan, 1.0], dtype=np.float32)
    compact = compact_weights([small, huge, broken])
    assert compact[0].dtype == np.float16
    np.testing.assert_allclose(compact[0], small, atol=2e-3)
    assert compact[1].dtype == np.float32 and compact[1][0] == 1e6
    assert compact[2].dtype == np.float32


def test_the_sample_is_balanced_fixed_and_small_for_many_classes() -> None:
    labels = np.repeat(np.arange(10), 300)  # Stored class by class, as some test sets are.
    sample = stratified_sample(labels, 10, 500)
    assert np.array_equal(sample, stratified_sample(labels, 10, 500))
    assert np.bincount(labels[sample]).tolist() == [50] * 10
    assert timeline_sample_size(10, 10_000) == 2_000
    assert timeline_sample_size(100, 10_000) == 200
    assert timeline_sample_size(10, 120) == 120


# --- A real run ------------------------------------------------------------------------------


def test_a_short_run_starts_near_chance_and_ends_as_the_run(
    short_run: Path, digits: Dataset
) -> None:
    run = load_run(short_run)
    assert run.checkpoints[0] == 0.0
    assert len(run.checkpoints) >= 5  # The start, three quarters and the run itself.
    assert run.checkpoints[-1] == pytest.approx(run.record["epochs"])
    assert list(run.checkpoints) == sorted(run.checkpoints)

    untrained = run.at_checkpoint(0)
    assert untrained is not run and untrained.checkpoint_index == 0
    chance_accuracy = (untrained.predict(digits.x_test).argmax(1) == digits.y_test).mean()
    assert chance_accuracy < 0.3
    assert run.at_checkpoint(len(run.checkpoints) - 1) is run
    assert run.at_checkpoint(-1) is run
    assert run.at_checkpoint(1) is run.at_checkpoint(1)  # Loaded once.

    timeline = run.timeline()
    assert timeline is not None
    np.testing.assert_allclose(timeline.epochs, run.checkpoints)
    assert timeline.accuracies[0] < 0.3
    final = (run.predict(digits.x_test[timeline.indices]).argmax(1) == timeline.labels).mean()
    assert timeline.accuracies[-1] == pytest.approx(final, abs=0.01)
    assert timeline.accuracies[-1] > timeline.accuracies[0] + 0.5
    # Each kept point's stored answers are what that network says.
    middle = run.at_checkpoint(2)
    said = middle.predict(digits.x_test[timeline.indices]).argmax(1)
    assert (said == timeline.probabilities[2].argmax(1)).mean() > 0.98


def test_checkpoints_cost_at_most_eight_models_plus_two_megabytes(short_run: Path) -> None:
    model_bytes = (short_run / "model.keras").stat().st_size
    assert (short_run / CHECKPOINTS_FILE_NAME).is_file()
    assert folder_bytes(short_run) <= 8 * model_bytes + 2_000_000


def test_a_run_kept_every_epoch_stays_within_its_space(digits: Dataset, tmp_path: Path) -> None:
    config = TrainConfig(epochs=20, batch_size=128, learning_rate=0.01, max_train_images=512)
    result = train(SPEC, digits, config)
    assert len(result.checkpoint_epochs) == MAX_STORED_CHECKPOINTS
    kept = result.checkpoint_epochs
    assert kept[:2] == (0.0, 1.0) and kept[-1] == 19.0
    assert all(float(epoch).is_integer() for epoch in kept)
    record = make_record(result, digits, config, spec=SPEC)
    run_dir = save_run(result.model, record, tmp_path, extra_files=files_for_result(result, digits))
    model_bytes = (run_dir / "model.keras").stat().st_size
    assert folder_bytes(run_dir) <= 8 * model_bytes + 2_000_000
    assert len(load_run(run_dir).checkpoints) == MAX_STORED_CHECKPOINTS + 1


def test_a_time_budget_run_is_kept_along_what_it_actually_ran(digits: Dataset) -> None:
    config = TrainConfig(epochs=200, batch_size=32, learning_rate=0.01, time_budget_seconds=4)
    result = train(SPEC, digits, config)
    assert result.stop_reason == "time_budget"
    kept = result.checkpoint_epochs
    assert kept[0] == 0.0 and len(kept) >= 4
    assert kept[-1] < result.epochs_trained
    # Spread over the run, not bunched at its start: the last kept point is past its middle.
    assert kept[-1] > result.epochs_trained / 2


def test_a_run_without_checkpoints_has_one_point(digits: Dataset, tmp_path: Path) -> None:
    config = TrainConfig(epochs=1, batch_size=64, max_train_images=256)
    result = train(SPEC, digits, config, keep_checkpoints=False)
    assert result.checkpoint_epochs == ()
    run = load_run(save_run(result.model, make_record(result, digits, config), tmp_path))
    assert run.checkpoints == (pytest.approx(result.epochs_trained),)
    assert run.at_checkpoint(0) is run
    assert run.timeline() is None
    with pytest.raises(IndexError, match="1 checkpoints"):
        run.at_checkpoint(1)


def test_a_diverged_run_still_gets_its_files(digits: Dataset) -> None:
    config = TrainConfig(optimizer="sgd", learning_rate=100.0, schedule="constant", epochs=2)
    result = train(SPEC, digits, config)
    assert result.status == "diverged"
    files = files_for_result(result, digits)
    assert TIMELINE_FILE_NAME in files and CHECKPOINTS_FILE_NAME in files
    assert any(path.startswith("logs/") for path in files)


def test_the_map_of_the_default_sample_is_made_with_the_run(
    short_run: Path, digits: Dataset
) -> None:
    stored = read_embedding(short_run / EMBEDDING_FILE_NAME)
    assert stored["pca"].shape == (len(stored["indices"]), 2)
    assert np.array_equal(digits.y_test[stored["indices"]], stored["labels"])


def test_a_damaged_time_line_is_no_time_line(short_run: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / short_run.name
    shutil.copytree(short_run, copy)
    (copy / TIMELINE_FILE_NAME).write_bytes(b"not a file of arrays")
    assert load_run(copy).timeline() is None
    (copy / CHECKPOINTS_FILE_NAME).write_bytes(b"broken")
    with pytest.raises(ValueError, match="checkpoints"):
        load_run(copy).at_checkpoint(0)
