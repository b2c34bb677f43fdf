"""Many users, one runs folder: concurrent trainings both land, a killed one leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from core.runs import list_runs, load_run

ROOT = Path(__file__).resolve().parents[1]


def start_cli(runs_dir: Path, *arguments: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "core.train", "--dataset", "digits", "--runs-dir", str(runs_dir),
         "--batch-size", "64", *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip


def test_two_trainings_at_once_on_one_runs_folder_both_land(tmp_path: Path) -> None:
    first = start_cli(tmp_path, "--epochs", "2", "--name", "first")
    second = start_cli(tmp_path, "--epochs", "2", "--name", "second")
    for process in (first, second):
        _, errors = process.communicate(timeout=240)
        assert process.returncode == 0, errors[-2000:]
    runs = list_runs(tmp_path)
    assert sorted(run.name for run in runs) == ["first", "second"]
    assert len({run.run_dir for run in runs}) == 2
    for summary in runs:
        run = load_run(summary.run_dir)
        assert run.predict(np.zeros((1, 28, 28, 1), dtype=np.uint8)).shape == (1, 10)


def test_a_killed_training_leaves_no_run_folder_behind(tmp_path: Path) -> None:
    process = start_cli(tmp_path, "--epochs", "1000")
    deadline = time.monotonic() + 180
    # Wait until it is really training: its progress lines reach stderr.
    progress = ""
    while time.monotonic() < deadline and "epoch" not in progress:
        progress += process.stderr.readline()
    assert "epoch" in progress, "training never started"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert list_runs(tmp_path) == []
    assert [path.name for path in tmp_path.iterdir() if not path.name.startswith(".")] == []
