"""Headless trainer for teachers: python -m core.train --dataset mnist --time-budget 60."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import signal
import socket
import sys
import textwrap
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from core.datasets import DATASET_NAMES, DatasetError, load_dataset
from core.models import DEFAULT_PRESET, PRESETS, ModelSpec, check_spec
from core.runs import check_run_name
from core.training import OPTIMIZER_CHOICES, SCHEDULE_CHOICES, TrainConfig, suggest_batch_size

if TYPE_CHECKING:
    from core.training import Progress

EXIT_BAD_INPUT = 1
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130
# Trainings that ran but failed: exit with EXIT_DIVERGED.
FAILED_STATUSES = ("diverged", "learned_nothing")
DEFAULTS = TrainConfig()
# With a time budget and no --epochs, the budget decides: the schedule is fitted to it.
BUDGET_EPOCHS = 100

EPILOG = """\
Progress goes to stderr; the last line on stdout is one JSON object with run_dir, status
(completed, stopped, diverged or learned_nothing), test_accuracy, train_seconds, epochs
(fractional when a time budget or Ctrl+C ends training mid-epoch) and images_per_second.

--time-budget limits training, not the final test evaluation; the learning-rate schedule is
fitted to the budget so it still ends low. Ctrl+C once stops after the current batch, then
evaluates and saves the model as 'stopped'; twice aborts.

Runs are saved to --runs-dir (default: $CONVLAB_RUNS_DIR, else runs/ beside the app). A
diverged run is not saved; one that learned nothing (no better than chance) is, for a look
inside. Exit status: 0 completed or stopped, 1 bad input, 2 bad arguments, 3 diverged or
learned nothing.

Presets:
""" + "\n".join(
    textwrap.fill(spec.description, 92, initial_indent=f"  {name}: ", subsequent_indent="    ")
    for name, spec in PRESETS.items()
)


class _Parser(argparse.ArgumentParser):
    """argparse with a one-sentence error instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"core.train: {message} (see python -m core.train --help).\n")


def build_parser() -> argparse.ArgumentParser:
    """The command-line options; defaults come from TrainConfig and the presets."""
    parser = _Parser(
        prog="python -m core.train",
        description="Train a Convlab CNN without the dashboard and save it as a run the "
        "dashboard can open.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASET_NAMES)}")
    parser.add_argument(
        "--categories",
        help="comma-separated Quick, Draw! categories, e.g. cat,dog,apple (quickdraw only)",
    )
    parser.add_argument(
        "--per-class", type=int, help="images per category to load (quickdraw only)"
    )
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=DEFAULT_PRESET,
        help=f"model architecture (default {DEFAULT_PRESET}; descriptions below)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        help=f"default {DEFAULTS.epochs}; with --time-budget, as many as the budget allows "
        f"(at most {BUDGET_EPOCHS})",
    )
    parser.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="stop training after this many seconds (default: no limit)",
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=DEFAULTS.learning_rate,
        metavar="LR",
        help=f"peak learning rate (default {DEFAULTS.learning_rate:g})",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        help=f"default {DEFAULTS.batch_size}, or less for a model whose feature maps would "
        "not fit in 200 MB (small_vgg on CIFAR-10 gets 128)",
    )
    parser.add_argument(
        "--optimizer",
        choices=OPTIMIZER_CHOICES,
        default=DEFAULTS.optimizer,
        help=f"default {DEFAULTS.optimizer}",
    )
    parser.add_argument(
        "--schedule",
        choices=SCHEDULE_CHOICES,
        default=DEFAULTS.schedule,
        help=f"learning-rate schedule (default {DEFAULTS.schedule})",
    )
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=DEFAULTS.validation_fraction,
        metavar="FRACTION",
        help=f"training images held out to validate each epoch (default "
        f"{DEFAULTS.validation_fraction:g})",
    )
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help="default 0")
    parser.add_argument(
        "--outlier-share",
        type=float,
        default=DEFAULTS.outlier_share,
        metavar="SHARE",
        help="stray marks added to each batch as a share of it, so the run learns to say "
        "'that is not one of mine' (28x28 grayscale datasets; 0 for none; default "
        f"{DEFAULTS.outlier_share:g})",
    )
    parser.add_argument("--name", help="display name of the saved run")
    parser.add_argument("--runs-dir", metavar="DIR", help="where runs are saved")
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="dataset folder (default: $CONVLAB_DATA_DIR, else ~/.keras/datasets)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="train on a Dask cluster (e.g. tcp://10.0.0.5:8786) instead of in this process; "
        "its workers read the dataset from their own data folder, and the run is saved here",
    )
    return parser


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    print(f"core.train: {message}", file=sys.stderr)
    raise SystemExit(code)


def _print_progress(progress: Progress) -> None:
    left = "" if progress.seconds_left is None else f"  ~{progress.seconds_left:.0f} s left"
    line = (
        f"epoch {progress.epoch:5.2f}/{progress.epochs}  loss {progress.loss:.4f}  "
        f"accuracy {progress.accuracy:6.2%}  {progress.images_per_second:,.0f} images/s{left}"
    )
    if progress.kind == "epoch" and progress.val_accuracy is not None:
        line += f"  | validation accuracy {progress.val_accuracy:.2%}"
    print(line, file=sys.stderr, flush=True)


def _install_stop_handler(stop_event: threading.Event) -> Callable | int | None:
    """Make Ctrl+C set `stop_event` (twice: abort); returns the handler it replaced."""

    def handle(signal_number: int, frame: FrameType | None) -> None:
        if stop_event.is_set():
            raise KeyboardInterrupt
        stop_event.set()
        print(
            "core.train: stopping after this batch (Ctrl+C again to abort)",
            file=sys.stderr,
            flush=True,
        )

    return signal.signal(signal.SIGINT, handle)


def _epochs(epochs: int | None, time_budget: float | None) -> int:
    if epochs is not None:
        return epochs
    return DEFAULTS.epochs if time_budget is None else BUDGET_EPOCHS


def main(argv: Sequence[str] | None = None) -> int:
    """Run the trainer; returns the exit status."""
    arguments = build_parser().parse_args(argv)
    categories = (
        tuple(part.strip() for part in arguments.categories.split(",") if part.strip())
        if arguments.categories
        else None
    )
    if arguments.dataset not in DATASET_NAMES:
        _fail(f"unknown dataset {arguments.dataset!r}; choose one of {', '.join(DATASET_NAMES)}.")
    if arguments.per_class is not None and arguments.per_class < 1:
        _fail(f"--per-class must be at least 1; got {arguments.per_class}.")
    try:
        if arguments.name is not None:
            check_run_name(arguments.name)
        config = TrainConfig(
            optimizer=arguments.optimizer,
            learning_rate=arguments.learning_rate,
            schedule=arguments.schedule,
            batch_size=DEFAULTS.batch_size
            if arguments.batch_size is None
            else arguments.batch_size,
            epochs=_epochs(arguments.epochs, arguments.time_budget),
            time_budget_seconds=arguments.time_budget,
            validation_fraction=arguments.validation_fraction,
            seed=arguments.seed,
            outlier_share=arguments.outlier_share,
        )
    except ValueError as error:
        _fail(str(error))
    spec = PRESETS[arguments.preset]

    # TensorFlow's C++ start-up chatter would drown the progress lines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    def report_loading(fraction: float, message: str) -> None:
        print(f"loading: {message} ({fraction:.0%})", file=sys.stderr, flush=True)

    try:
        dataset = load_dataset(
            arguments.dataset,
            data_dir=arguments.data_dir,
            categories=categories,
            per_class=arguments.per_class,
            progress=report_loading,
        )
        check_spec(spec, dataset.x_train.shape[1:], len(dataset.class_names))
    except (DatasetError, ValueError) as error:
        _fail(str(error))
    if arguments.batch_size is None:
        suggested = suggest_batch_size(spec, dataset.x_train.shape[1:])
        config = dataclasses.replace(config, batch_size=suggested)

    from core.runs import make_record, save_run
    from core.training import describe_device, train

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    budget = (
        "" if config.time_budget_seconds is None else f", at most {config.time_budget_seconds:g} s"
    )
    print(
        f"core.train: {arguments.preset} on {arguments.dataset} "
        f"({len(dataset.x_train):,} training and {len(dataset.x_test):,} test images, "
        f"{len(dataset.class_names)} classes) on {describe_device()}, {config.epochs} epochs "
        f"of batches of {config.batch_size}"
        f"{budget}",
        file=sys.stderr,
        flush=True,
    )
    if arguments.scheduler:
        return _train_on_cluster(arguments, spec, config, categories)
    stop_event = threading.Event()
    previous_handler = _install_stop_handler(stop_event)
    try:
        result = train(spec, dataset, config, on_progress=_print_progress, stop_event=stop_event)
    except ValueError as error:
        _fail(str(error))
    except KeyboardInterrupt:
        _fail("aborted; nothing was saved.", EXIT_INTERRUPTED)
    finally:
        signal.signal(signal.SIGINT, previous_handler)

    record = make_record(
        result,
        dataset,
        config,
        spec=spec,
        preset=arguments.preset,
        name=arguments.name,
        categories=categories,
        per_class=arguments.per_class,
        started_at=started_at,
        # Trained right here: the record still says where, like a Dask worker's run.
        worker=f"command line on {socket.gethostname()}",
    )
    run_dir = None
    if result.status != "diverged":
        from core.timeline import files_for_result

        files = files_for_result(result, dataset, record["name"], config)
        run_dir = save_run(result.model, record, arguments.runs_dir, extra_files=files)
    print(f"core.train: {result.message}", file=sys.stderr, flush=True)
    _print_summary(record, run_dir)
    return EXIT_DIVERGED if result.status in FAILED_STATUSES else 0


def _print_summary(record: Mapping[str, Any], run_dir: Path | None) -> None:
    """The last line on stdout: one JSON object made from the run's record, NaN as null."""
    summary = {
        "run_dir": None if run_dir is None else str(run_dir),
        "status": record["status"],
        "stop_reason": record.get("stop_reason"),
        "message": record["message"],
        "test_accuracy": record.get("test_accuracy"),
        "test_loss": record.get("test_loss"),
        "train_seconds": round(record.get("train_seconds") or 0.0, 3),
        "evaluation_seconds": round(record.get("evaluation_seconds") or 0.0, 3),
        "epochs": round(record.get("epochs") or 0.0, 3),
        "steps": record.get("steps"),
        "images_per_second": round(record.get("images_per_second") or 0.0, 1),
        "parameters": (record.get("model") or {}).get("parameters"),
        "device": record.get("device"),
        "worker": record.get("worker"),
    }
    summary = {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in summary.items()
    }
    print(json.dumps(summary), flush=True)


def _train_on_cluster(
    arguments: argparse.Namespace,
    spec: ModelSpec,
    config: TrainConfig,
    categories: tuple[str, ...] | None,
) -> int:
    """Submit the training to a Dask cluster, follow it, and save the run it sends back."""
    from core.engine import TrainingEngine, TrainingRequest

    try:
        engine = TrainingEngine.start(arguments.scheduler, warm_up=False)
    except Exception as error:  # Any failure to connect means the same to the user.
        _fail(f"cannot reach the cluster at {arguments.scheduler}: {error}")
    stop_event = threading.Event()
    previous_handler = _install_stop_handler(stop_event)
    try:
        job = engine.submit(
            TrainingRequest(
                dataset_name=arguments.dataset,
                spec=spec,
                config=config,
                categories=categories,
                per_class=arguments.per_class,
                preset=arguments.preset,
                name=arguments.name,
                runs_dir=arguments.runs_dir,
            )
        )
        printed = 0
        while not job.wait(0.5):
            if stop_event.is_set() and not job.stop_requested:
                engine.stop(job)
            for progress in job.progress[printed:]:
                _print_progress(progress)
            printed = len(job.progress)
    except KeyboardInterrupt:
        engine.cancel(job)
        _fail("aborted; nothing was saved.", EXIT_INTERRUPTED)
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        engine.close()
    if job.state != "finished":
        _fail(job.error or f"the training ended as {job.state}.")
    record = job.record
    print(f"core.train: {record['message']} (worker {record.get('worker')})", file=sys.stderr)
    _print_summary(record, job.run_dir)
    return EXIT_DIVERGED if record["status"] in FAILED_STATUSES else 0


if __name__ == "__main__":
    sys.exit(main())
