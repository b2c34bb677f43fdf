"""The headless trainer, python -m core.train, end to end and on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.runs import list_runs, load_run
from core.train import BUDGET_EPOCHS, EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_USAGE, _epochs, main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*arguments: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core.train", *arguments],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )


def last_json_line(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def test_help_explains_the_options_and_presets() -> None:
    completed = run_cli("--help", timeout=60)
    assert completed.returncode == 0
    for word in ("--time-budget", "--per-class", "keras_mnist", "small_vgg", "stdout", "JSON"):
        assert word in completed.stdout


def test_training_digits_end_to_end_saves_a_run(tmp_path: Path) -> None:
    completed = run_cli(
        "--dataset", "digits", "--epochs", "3", "--batch-size", "64", "--runs-dir",
        str(tmp_path), "--name", "digits from the CLI",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = last_json_line(completed.stdout)
    assert summary["status"] == "completed" and summary["epochs"] == 3
    assert summary["test_accuracy"] > 0.8
    assert summary["train_seconds"] > 0 and summary["images_per_second"] > 0
    assert "epoch" in completed.stderr and "Traceback" not in completed.stderr
    run = load_run(summary["run_dir"])
    assert run.name == "digits from the CLI" and run.dataset == "digits"
    assert run.record["test_accuracy"] == summary["test_accuracy"]
    assert run.record["model"]["preset"] == "fast" and run.record["config"]["epochs"] == 3
    assert len(run.record["history"]) == 3
    assert [summary.run_dir for summary in list_runs(tmp_path)] == [run.run_dir]


def test_an_unknown_dataset_is_one_sentence(tmp_path: Path) -> None:
    completed = run_cli("--dataset", "imagenet", "--runs-dir", str(tmp_path), timeout=60)
    assert completed.returncode == EXIT_BAD_INPUT
    assert completed.stderr.strip().splitlines()[-1] == (
        "core.train: unknown dataset 'imagenet'; choose one of mnist, fashion_mnist, cifar10, "
        "quickdraw, digits."
    )
    assert "Traceback" not in completed.stderr and completed.stdout == ""


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (["--epochs", "two"], EXIT_USAGE, "argument --epochs: invalid int value: 'two'"),
        (["--preset", "resnet"], EXIT_USAGE, "argument --preset: invalid choice: 'resnet'"),
        (["--batch-size", "0"], EXIT_BAD_INPUT, "The batch size must be a whole number"),
        (["--learning-rate", "-1"], EXIT_BAD_INPUT, "The learning rate must be above 0"),
        (["--per-class", "0"], EXIT_BAD_INPUT, "--per-class must be at least 1"),
        (["--name", " "], EXIT_BAD_INPUT, "A run name cannot be empty"),
        (["--batch-size", "5000"], EXIT_BAD_INPUT, "is larger than the 1347 training images"),
    ],
)
def test_impossible_settings_exit_with_one_sentence(
    arguments: list[str],
    code: int,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--dataset", "digits", "--runs-dir", str(tmp_path), *arguments])
    assert raised.value.code == code
    error_lines = capsys.readouterr().err.strip().splitlines()
    assert message in error_lines[-1] and error_lines[-1].startswith("core.train: ")
    assert list(tmp_path.iterdir()) == []


def test_a_dataset_error_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # The test suite points every download at a closed local port: MNIST cannot be fetched.
    with pytest.raises(SystemExit) as raised:
        main(["--dataset", "mnist", "--data-dir", str(tmp_path), "--runs-dir", str(tmp_path)])
    assert raised.value.code == EXIT_BAD_INPUT
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith("core.train: ") and "train-images-idx3-ubyte.gz" in last_line


def test_a_diverged_run_reports_and_saves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["--dataset", "digits", "--optimizer", "sgd", "--learning-rate", "100", "--schedule",
         "constant", "--runs-dir", str(tmp_path)]
    )  # fmt: skip
    assert code == EXIT_DIVERGED
    captured = capsys.readouterr()
    summary = last_json_line(captured.out)
    assert summary["status"] == "diverged" and summary["run_dir"] is None
    assert summary["test_accuracy"] is None
    assert "try 10" in captured.err
    assert list(tmp_path.iterdir()) == []


def test_the_time_budget_stops_training_and_the_run_is_saved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["--dataset", "digits", "--epochs", "500", "--batch-size", "32", "--time-budget", "3",
         "--runs-dir", str(tmp_path)]
    )  # fmt: skip
    assert code == 0
    summary = last_json_line(capsys.readouterr().out)
    assert summary["status"] == "completed" and summary["stop_reason"] == "time_budget"
    assert summary["epochs"] < 500 and summary["train_seconds"] < 4.5
    assert Path(summary["run_dir"]).is_dir()


def test_a_time_budget_without_epochs_lets_the_budget_decide() -> None:
    assert _epochs(None, None) == 5
    assert _epochs(None, 60.0) == BUDGET_EPOCHS
    assert _epochs(3, 60.0) == 3


def test_the_cli_can_submit_to_a_cluster_and_saves_the_run_here(
    tmp_path: Path, training_cluster: str
) -> None:
    completed = run_cli(
        "--dataset", "digits", "--epochs", "1", "--batch-size", "64", "--runs-dir",
        str(tmp_path), "--scheduler", training_cluster, "--name", "from the cluster",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = last_json_line(completed.stdout)
    assert summary["status"] == "completed" and summary["test_accuracy"] > 0.3
    assert summary["worker"].startswith("tcp://127.0.0.1:")
    (run,) = list_runs(tmp_path)
    assert str(run.run_dir) == summary["run_dir"]
    assert run.record["worker"] == summary["worker"] and run.owner is None


def test_an_unreachable_cluster_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # In this process: the end-to-end test above already starts the real command.
    with pytest.raises(SystemExit) as raised:
        main(
            ["--dataset", "digits", "--epochs", "1", "--runs-dir", str(tmp_path),
             "--scheduler", "tcp://127.0.0.1:9"]
        )  # fmt: skip
    assert raised.value.code == EXIT_BAD_INPUT
    error_lines = capsys.readouterr().err.strip().splitlines()
    assert error_lines[-1].startswith("core.train: cannot reach the cluster at tcp://127.0.0.1:9")
    assert not list_runs(tmp_path)
