"""A training run in a background thread, so it survives the reruns a page makes meanwhile."""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from core.datasets import Dataset
from core.models import ModelSpec
from core.training import Progress, TrainConfig, TrainResult


@dataclass(frozen=True)
class TrainingRequest:
    """Everything one run needs: the data, the model, the settings and where to save it."""

    dataset: Dataset
    spec: ModelSpec
    config: TrainConfig
    preset: str | None = None
    name: str | None = None
    categories: tuple[str, ...] | None = None
    per_class: int | None = None
    runs_dir: str | None = None


@dataclass(eq=False)
class TrainingJob:
    """The state of one background run; the page reads it, the worker thread writes it.

    Lists only grow and fields are assigned whole, so a reader on another thread always sees
    a consistent snapshot without a lock.
    """

    request: TrainingRequest
    stop_event: threading.Event = field(default_factory=threading.Event)
    progress: list[Progress] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    state: str = "running"  # running, saving, finished, failed
    result: TrainResult | None = None
    run_dir: Path | None = None
    error: str | None = None
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.state in ("running", "saving")

    def stop(self) -> None:
        """Ask training to end after the current batch; the model so far is kept and saved."""
        self.stop_event.set()

    def latest(self, kind: str | None = None) -> Progress | None:
        """The newest progress snapshot, of one kind ('batch' or 'epoch') if given."""
        for snapshot in reversed(self.progress):
            if kind is None or snapshot.kind == kind:
                return snapshot
        return None


def run_training_job(job: TrainingJob) -> None:
    """Train, then save the run; every failure ends in job.error, never in a dead thread."""
    from core.runs import make_record, save_run
    from core.training import train

    request = job.request
    try:
        result = train(
            request.spec,
            request.dataset,
            request.config,
            on_progress=job.progress.append,
            stop_event=job.stop_event,
        )
        job.result = result
        job.state = "saving"
        record = make_record(
            result,
            request.dataset,
            request.config,
            spec=request.spec,
            preset=request.preset,
            name=request.name,
            categories=request.categories,
            per_class=request.per_class,
            started_at=job.started_at,
        )
        job.run_dir = save_run(result.model, record, request.runs_dir)
        job.state = "finished"
    except ValueError as error:
        # Settings that cannot train on this data: the message is written for the student.
        job.error = str(error)
        job.state = "failed"
    except Exception as error:  # A crash must reach the page as a message, not vanish.
        job.error = f"Training failed: {error.__class__.__name__}: {error}"
        job.state = "failed"
        traceback.print_exc()


def start_training_job(request: TrainingRequest) -> TrainingJob:
    """Start a run on a daemon thread and return its job at once."""
    job = TrainingJob(request=request)
    job.thread = threading.Thread(
        target=run_training_job, args=(job,), name="convlab-training", daemon=True
    )
    job.thread.start()
    return job
