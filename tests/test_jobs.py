"""Tests for core.jobs: a training run in a background thread, saved as a run when it ends."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.datasets import Dataset
from core.jobs import TrainingRequest, start_training_job
from core.models import ConvBlock, ModelSpec
from core.runs import list_runs, load_run
from core.training import TrainConfig

TINY_SPEC = ModelSpec(conv_blocks=(ConvBlock(filters=4),))


def tiny_dataset(count: int = 96) -> Dataset:
    rng = np.random.default_rng(0)
    labels = np.arange(count, dtype=np.int64) % 2
    images = rng.integers(0, 60, (count, 12, 12, 1), dtype=np.uint8)
    images[labels == 1, 3:9, 3:9] = 250  # Class 1 has a bright square: learnable at once.
    return Dataset("digits", ("dark", "square"), images, labels, images[:32], labels[:32])


def test_a_job_trains_in_the_background_reports_progress_and_saves_the_run(tmp_path: Path):
    request = TrainingRequest(
        dataset=tiny_dataset(),
        spec=TINY_SPEC,
        config=TrainConfig(epochs=2, batch_size=16, learning_rate=0.01),
        preset="custom",
        runs_dir=str(tmp_path),
    )
    job = start_training_job(request)
    job.thread.join(timeout=120)
    assert job.state == "finished", job.error
    assert job.latest("epoch") is not None and job.latest("batch") is not None
    assert job.result.status == "completed"
    assert [run.run_dir for run in list_runs(tmp_path)] == [job.run_dir]
    run = load_run(job.run_dir)
    assert run.class_names == ("dark", "square")
    assert run.predict(tiny_dataset().x_test[:3]).shape == (3, 2)


def test_stop_ends_the_job_and_keeps_the_model(tmp_path: Path):
    request = TrainingRequest(
        dataset=tiny_dataset(),
        spec=TINY_SPEC,
        config=TrainConfig(epochs=1000, batch_size=16),
        runs_dir=str(tmp_path),
    )
    job = start_training_job(request)
    job.stop()
    job.thread.join(timeout=120)
    assert job.state == "finished" and job.result.status == "stopped"
    assert load_run(job.run_dir).record["status"] == "stopped"


def test_settings_that_cannot_train_end_in_a_message_and_no_run(tmp_path: Path):
    request = TrainingRequest(
        dataset=tiny_dataset(),
        spec=TINY_SPEC,
        config=TrainConfig(epochs=1, batch_size=4096),
        runs_dir=str(tmp_path),
    )
    job = start_training_job(request)
    job.thread.join(timeout=60)
    assert job.state == "failed" and "batch size 4096" in job.error
    assert list_runs(tmp_path) == [] and not any(tmp_path.iterdir())
