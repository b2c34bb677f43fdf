"""The training engine: trainings are jobs run by Dask workers, off the Streamlit server.

The server submits a TrainingRequest and gets a TrainingJob back at once. A worker process
(of a local cluster the engine starts, or of a real cluster named by $CONVLAB_DASK_SCHEDULER)
loads the data, trains, and publishes its progress as Dask events, which the engine appends
to the job as they arrive. The worker sends the finished model back as bytes, and the engine
writes the run into the app's runs folder, so workers need no filesystem in common with it.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import heapq
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.datasets import Dataset, DatasetError
from core.models import ModelSpec
from core.training import Progress, TrainConfig

if TYPE_CHECKING:
    import distributed
    import keras

SCHEDULER_ENVIRONMENT_VARIABLE = "CONVLAB_DASK_SCHEDULER"
WORKERS_ENVIRONMENT_VARIABLE = "CONVLAB_DASK_WORKERS"
EVENT_TOPIC = "convlab-training"
# How long a scheduler named by address may take to answer (a school's network, a busy server).
CONNECT_TIMEOUT_SECONDS = 20
# Loading the data, building the model, the test evaluation and saving: paid around training.
# A first guess; the engine then learns it from the jobs it sees end.
OVERHEAD_SECONDS = 15.0
# Until a run has been timed on this engine, an epoch is guessed at this many seconds.
GUESSED_EPOCH_SECONDS = 20.0
CORES_PER_TRAINING = 4
STOP_POLL_SECONDS = 0.25
TICK_INTERVAL = "500ms"
JOB_STATES = ("queued", "running", "saving", "finished", "failed", "cancelled")
ACTIVE_STATES = ("queued", "running", "saving")
# Side tasks (a run's t-SNE map, an export) go before any waiting training: they take seconds.
SIDE_TASK_PRIORITY = 2**30
# Workers that advertise this resource run one training each and side tasks on their other
# threads; the local cluster's do. A cluster whose workers do not runs trainings on any thread.
TRAINING_RESOURCE = "training"
# How long a t-SNE map takes per image before one has been timed (1,000 took 6.6 s here).
MAP_SECONDS_PER_IMAGE = 0.008
EXPORT_SECONDS = 5.0
SIDE_TASK_KINDS = ("map", "saved_model", "tflite")
SIDE_TASK_KEEP_SECONDS = 600.0
KILLED_WORKER_MESSAGE = (
    "The worker training this run stopped before it finished: it was killed or ran out of "
    "memory. Nothing was saved. Retry, perhaps with a smaller batch or a smaller network."
)


@dataclass(frozen=True)
class TrainingRequest:
    """Everything one run needs, small enough to send to a worker.

    A built-in dataset travels by name and the worker reads it from its own data folder; an
    uploaded dataset (`dataset`) travels with the job.
    """

    dataset_name: str
    spec: ModelSpec
    config: TrainConfig
    categories: tuple[str, ...] | None = None
    per_class: int | None = None
    dataset: Dataset | None = None
    preset: str | None = None
    name: str | None = None
    owner: str | None = None
    runs_dir: str | None = None


@dataclass(eq=False)
class TrainingJob:
    """One training as the server sees it; the engine's threads write it, pages read it.

    Lists only grow and fields are assigned whole, so a reader on another thread always sees
    a consistent snapshot without a lock.
    """

    job_id: str
    request: TrainingRequest
    submitted_at: float = field(default_factory=time.monotonic)
    state: str = "queued"
    progress: list[Progress] = field(default_factory=list)
    worker: str | None = None
    device: str | None = None
    started_at: float | None = None
    record: dict[str, Any] | None = None
    run_dir: Path | None = None
    error: str | None = None
    stop_requested: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        """Still queued, training or saving: the page keeps following it."""
        return self.state in ACTIVE_STATES

    def latest(self, kind: str | None = None) -> Progress | None:
        """The newest progress snapshot, of one kind ('batch' or 'epoch') if given."""
        for snapshot in reversed(self.progress):
            if kind is None or snapshot.kind == kind:
                return snapshot
        return None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended (finished, failed or cancelled); False on timeout."""
        return self.done.wait(timeout)


@dataclass(eq=False)
class SideTask:
    """A short job beside the trainings, for one run: its t-SNE map or an export.

    `kind` is one of SIDE_TASK_KINDS; `state` queued, running, finished or failed; `result`
    what the worker sent back (the map's arrays, an export's bytes).
    """

    task_id: str
    kind: str
    run_id: str
    expected_seconds: float
    submitted_at: float = field(default_factory=time.monotonic)
    state: str = "queued"
    started_at: float | None = None
    finished_at: float | None = None
    result: Any = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        return self.state in ("queued", "running")

    def fraction_done(self, now: float | None = None) -> float:
        """An estimate from the time it has run against the time it should take, below 1."""
        if self.state == "finished":
            return 1.0
        if self.started_at is None:
            return 0.0
        elapsed = (time.monotonic() if now is None else now) - self.started_at
        return min(0.95, elapsed / max(self.expected_seconds, 1e-9))

    def seconds_left(self, now: float | None = None) -> float:
        if self.started_at is None:
            return self.expected_seconds
        elapsed = (time.monotonic() if now is None else now) - self.started_at
        return max(0.0, self.expected_seconds - elapsed)

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)


@dataclass(frozen=True)
class ClusterPlan:
    """How many trainings a local cluster runs at once, and the threads each one gets."""

    workers: int
    threads_per_training: int


def plan_local_cluster(
    cpu_count: int, gpu_count: int = 0, requested_workers: int | None = None
) -> ClusterPlan:
    """Workers so trainings get the cores without oversubscribing them.

    A CNN on a CPU gains little past about four threads, so a big machine runs several
    trainings side by side; on 2 cores it runs one at a time, at full speed. GPUs are shared
    through tf.distribute by one worker, which trains on all of them.
    """
    cpu_count = max(1, cpu_count)
    if requested_workers is not None:
        if requested_workers < 1:
            raise ValueError(f"A cluster needs at least one worker; got {requested_workers}.")
        workers = requested_workers
    elif gpu_count > 0:
        workers = 1
    else:
        workers = max(1, cpu_count // CORES_PER_TRAINING)
    return ClusterPlan(workers=workers, threads_per_training=max(1, cpu_count // workers))


def estimate_wait_seconds(
    running_seconds_left: Sequence[float], queued_ahead_seconds: Sequence[float], slots: int
) -> float:
    """Seconds until a queued job starts: the jobs ahead fill the earliest free slots first."""
    slots = max(1, slots)
    free_at = sorted(max(0.0, seconds) for seconds in running_seconds_left)[:slots]
    free_at += [0.0] * (slots - len(free_at))
    heapq.heapify(free_at)
    for seconds in queued_ahead_seconds:
        heapq.heappush(free_at, heapq.heappop(free_at) + max(0.0, seconds))
    return free_at[0]


def expected_job_seconds(
    config: TrainConfig,
    seconds_per_epoch: float | None,
    overhead_seconds: float = OVERHEAD_SECONDS,
) -> float:
    """How long a job should take from start to saved run: its budget, else its epochs."""
    if config.time_budget_seconds is not None:
        return config.time_budget_seconds + overhead_seconds
    per_epoch = GUESSED_EPOCH_SECONDS if seconds_per_epoch is None else seconds_per_epoch
    return config.epochs * per_epoch + overhead_seconds


# --- On the worker -------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _load_builtin_dataset(
    name: str, categories: tuple[str, ...] | None, per_class: int | None, data_dir: str | None
) -> Dataset:
    # A worker keeps the last dataset it read: a class trains on the same data again and
    # again, and re-reading CIFAR-10 costs seconds. One is enough and bounds the memory.
    from core.datasets import load_dataset

    return load_dataset(name, data_dir=data_dir, categories=categories, per_class=per_class)


def _worker_identity() -> tuple[Any, str]:
    from distributed import get_worker

    worker = get_worker()
    name = worker.name
    # A LocalCluster names its workers 0, 1, ...; an address says where the run trained.
    label = (
        worker.address if name is None or isinstance(name, int) else f"{name} ({worker.address})"
    )
    return worker, label


def model_file_bytes(model: keras.Model) -> bytes:
    """The .keras file of a model, as bytes to send to the server."""
    from core.runs import MODEL_FILE_NAME, save_inference_model

    with tempfile.TemporaryDirectory(prefix="convlab-model-") as folder:
        path = Path(folder) / MODEL_FILE_NAME
        save_inference_model(model, path)
        return path.read_bytes()


def train_on_worker(
    request: TrainingRequest, job_id: str, stop_event_name: str, cancel_event_name: str
) -> dict[str, Any]:
    """A Dask task: train one request and return {'record', 'model'} or {'error'}.

    Progress goes out as events on EVENT_TOPIC as it happens; the stop and cancel Dask Events
    are watched on a thread, so a click on Stop ends training after the current batch.
    """
    from distributed import Event

    from core.runs import make_record
    from core.timeline import files_for_result
    from core.training import describe_device, train

    worker, worker_label = _worker_identity()

    def publish(event: str, **values: Any) -> None:
        worker.log_event(EVENT_TOPIC, {**values, "job": job_id, "event": event})

    stop_remote, cancel_remote = Event(stop_event_name), Event(cancel_event_name)
    if cancel_remote.is_set():
        return {"cancelled": True}
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    # Dask adds its own "worker" (the address) to every event; the label goes under its own key.
    publish("started", worker_label=worker_label, device=describe_device())
    stop_event = threading.Event()
    finished = threading.Event()

    def watch_stop() -> None:
        while not finished.is_set():
            if stop_remote.wait(STOP_POLL_SECONDS):
                stop_event.set()
                return

    watcher = threading.Thread(target=watch_stop, name="convlab-stop-watch", daemon=True)
    watcher.start()
    try:
        if request.dataset is not None:
            dataset = request.dataset
        else:
            dataset = _load_builtin_dataset(
                request.dataset_name, request.categories, request.per_class, None
            )
        result = train(
            request.spec,
            dataset,
            request.config,
            on_progress=lambda progress: publish("progress", **dataclasses.asdict(progress)),
            stop_event=stop_event,
        )
        if cancel_remote.is_set():
            return {"cancelled": True}
        publish("saving")
        record = make_record(
            result,
            dataset,
            request.config,
            spec=request.spec,
            preset=request.preset,
            name=request.name,
            categories=request.categories,
            per_class=request.per_class,
            started_at=started_at,
            owner=request.owner,
            worker=worker_label,
        )
        files = files_for_result(result, dataset, record["name"], request.config)
        return {"record": record, "model": model_file_bytes(result.model), "files": files}
    except (DatasetError, ValueError) as error:
        # Data the worker cannot read or settings that cannot train: a sentence for the page.
        return {"error": str(error)}
    finally:
        finished.set()
        gc.collect()


def _model_from_bytes(model_bytes: bytes) -> keras.Model:
    import keras

    from core.runs import MODEL_FILE_NAME

    with tempfile.TemporaryDirectory(prefix="convlab-model-") as folder:
        path = Path(folder) / MODEL_FILE_NAME
        path.write_bytes(model_bytes)
        return keras.models.load_model(path, compile=False)


def run_at_low_priority(function: Callable[[], Any]) -> Any:
    """Call `function` on a thread of its own at the lowest CPU priority, and return its result.

    A background side task (a finished run's t-SNE map) shares a worker with the next
    training: at nice 19 it takes only the CPU the training leaves, so students' trainings
    keep their speed and the map comes in the trainers' spare time. A fresh thread, because a
    thread's priority cannot be raised back without privileges, and the worker's own threads
    go on to run trainings.
    """
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):  # Not Linux, or not allowed: run as it is.
            pass
        try:
            outcome["value"] = function()
        except BaseException as error:  # Handed to the caller's thread below.
            outcome["error"] = error

    thread = threading.Thread(target=work, name="convlab-side-task-low", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def map_on_worker(
    model_bytes: bytes,
    dataset_name: str,
    categories: tuple[str, ...] | None,
    per_class: int | None,
    dataset: Dataset | None,
    task_id: str,
) -> dict[str, Any]:
    """A Dask side task: the t-SNE map of a run's default embedding sample.

    Returns {'indices', 'labels', 'tsne'} or {'error'}; the server stores it with the run.
    """
    from core.inspection import embedding
    from core.timeline import EMBEDDING_IMAGES, stratified_sample

    worker, _ = _worker_identity()
    worker.log_event(EVENT_TOPIC, {"job": task_id, "event": "side-started"})
    try:
        if dataset is None:
            dataset = _load_builtin_dataset(dataset_name, categories, per_class, None)
        model = _model_from_bytes(model_bytes)
        indices = stratified_sample(dataset.y_test, len(dataset.class_names), EMBEDDING_IMAGES)
        images = dataset.x_test[indices]
        points = run_at_low_priority(
            lambda: embedding(model, images, method="tsne", tsne_threads=1)
        )
        return {"indices": indices, "labels": dataset.y_test[indices], "tsne": points}
    except (DatasetError, ValueError, OSError) as error:
        return {"error": str(error)}
    finally:
        gc.collect()


def export_on_worker(model_bytes: bytes, kind: str, task_id: str) -> dict[str, Any]:
    """A Dask side task: a run's model as a SavedModel .zip or a .tflite file, as bytes."""
    from core.exports import saved_model_zip_bytes, tflite_bytes

    worker, _ = _worker_identity()
    worker.log_event(EVENT_TOPIC, {"job": task_id, "event": "side-started"})
    try:
        model = _model_from_bytes(model_bytes)
        export = saved_model_zip_bytes if kind == "saved_model" else tflite_bytes
        # A student waits for this one (about a second): it runs at the training's priority.
        return {"bytes": export(model)}
    except (ValueError, TypeError, OSError) as error:
        return {"error": str(error)}
    finally:
        gc.collect()


def _warm_up_worker() -> str:
    """Import TensorFlow once, so the first student's training does not pay for it."""
    from core.training import describe_device

    return describe_device()


# --- On the server -------------------------------------------------------------------------


def check_scheduler_listens(address: str) -> None:
    """Raise ConnectionError at once when nothing listens at a tcp:// scheduler address.

    Dask's client retries a refused connection until its timeout, so a mistyped port or a
    scheduler that is not started would keep a teacher waiting CONNECT_TIMEOUT_SECONDS for a
    sentence. Other protocols (tls://, inproc://, ws://) are left to Dask.
    """
    scheme, _, location = address.partition("://")
    if scheme != "tcp":
        return
    host, _, port = location.rpartition(":")
    if not host or not port.isdigit():
        raise ConnectionError(f"{address!r} is not a tcp://host:port address.")
    try:
        with socket.create_connection(
            (host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_SECONDS
        ):
            pass
    except OSError as error:
        message = f"nothing answers at {host}:{port} ({error.strerror or error})."
        raise ConnectionError(message) from error


class TrainingEngine:
    """Submits trainings to a Dask cluster and follows them; one per server process."""

    def __init__(self, client: distributed.Client, *, cluster: Any = None) -> None:
        self.client = client
        self.cluster = cluster
        self._jobs: dict[str, TrainingJob] = {}
        self._futures: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._seconds_per_epoch: dict[str, float] = {}
        self._overhead_seconds = OVERHEAD_SECONDS
        self._submitted = 0
        self._side_tasks: dict[tuple[str, str], SideTask] = {}
        self._pending_maps: list[Callable[[], SideTask]] = []
        self._map_seconds_per_image = MAP_SECONDS_PER_IMAGE
        client.subscribe_topic(EVENT_TOPIC, self._on_event)

    # Starting and stopping the engine.

    @classmethod
    def start(
        cls,
        scheduler_address: str | None = None,
        *,
        workers: int | None = None,
        warm_up: bool = True,
    ) -> TrainingEngine:
        """Connect to `scheduler_address` or $CONVLAB_DASK_SCHEDULER, else start a local cluster."""
        from distributed import Client

        address = scheduler_address or os.environ.get(SCHEDULER_ENVIRONMENT_VARIABLE)
        if address:
            check_scheduler_listens(address)
            return cls(Client(address, timeout=f"{CONNECT_TIMEOUT_SECONDS}s"))
        cluster = start_local_cluster(workers=workers)
        client = Client(cluster)
        engine = cls(client, cluster=cluster)
        if warm_up:
            # Lowest priority: a student's training goes first if it arrives meanwhile.
            client.submit(_warm_up_worker, pure=False, priority=-(2**31), key="convlab-warm-up")
        return engine

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def _worker_resources(self) -> list[dict[str, float]]:
        try:
            workers = self.client.scheduler_info()["workers"].values()
        except Exception:  # A cluster being restarted answers nothing for a moment.
            return []
        return [dict(worker.get("resources") or {}) for worker in workers]

    def _training_resources(self) -> dict[str, float] | None:
        """What a training asks of a worker: one training slot where workers offer them."""
        offers = self._worker_resources()
        if any(TRAINING_RESOURCE in resources for resources in offers):
            return {TRAINING_RESOURCE: 1}
        return None

    @property
    def slots(self) -> int:
        """How many trainings the cluster runs at once: its training slots, else its threads."""
        offers = self._worker_resources()
        if any(TRAINING_RESOURCE in resources for resources in offers):
            return max(1, int(sum(resources.get(TRAINING_RESOURCE, 0) for resources in offers)))
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:
            return 1

    def describe(self) -> str:
        """One line for the page: where trainings run."""
        kind = (
            "this machine's Dask workers"
            if self.cluster is not None
            else f"the cluster at {self.client.scheduler.address}"
        )
        slots = self.slots
        return f"{kind}, {slots} training{'s' if slots != 1 else ''} at a time"

    # Jobs.

    def submit(self, request: TrainingRequest) -> TrainingJob:
        """Queue a training; it starts as soon as a worker is free."""
        from distributed import Event

        job = TrainingJob(
            job_id=f"{datetime.now(UTC):%H%M%S}-{secrets.token_hex(4)}", request=request
        )
        with self._lock:
            self._jobs[job.job_id] = job
            self._submitted += 1
            # Dask runs the highest priority first, and among equals not always the oldest:
            # each job gets a lower priority than the one before, so the queue is first come,
            # first served.
            priority = -self._submitted
        # Creating the Events now means the worker never waits for them to appear.
        Event(self._stop_name(job), client=self.client)
        Event(self._cancel_name(job), client=self.client)
        future = self.client.submit(
            train_on_worker,
            request,
            job.job_id,
            self._stop_name(job),
            self._cancel_name(job),
            key=f"convlab-training-{job.job_id}",
            pure=False,
            retries=0,
            priority=priority,
            resources=self._training_resources(),
        )
        self._futures[job.job_id] = future
        threading.Thread(
            target=self._collect, args=(job, future), name="convlab-job-collect", daemon=True
        ).start()
        return job

    # Side tasks.

    def side_task(self, kind: str, run_id: str) -> SideTask | None:
        """The latest side task of this kind for a run, running or ended; None if none."""
        with self._lock:
            return self._side_tasks.get((kind, run_id))

    def submit_map(
        self,
        run_dir: str | os.PathLike,
        *,
        dataset_name: str,
        categories: Sequence[str] | None = None,
        per_class: int | None = None,
        dataset: Dataset | None = None,
    ) -> SideTask:
        """Compute a run's t-SNE map on a worker and store it in the run folder when done.

        A built-in dataset is read by the worker; an uploaded one (`dataset`) travels.
        """
        from core.timeline import EMBEDDING_IMAGES

        run_dir = Path(run_dir)
        existing = self.side_task("map", run_dir.name)
        if existing is not None and existing.state != "failed":
            return existing  # Under way or made: one map per run.
        images = min(EMBEDDING_IMAGES, len(dataset.y_test)) if dataset else EMBEDDING_IMAGES
        task = self._new_side_task("map", run_dir.name, images * self._map_seconds_per_image)
        future = self.client.submit(
            map_on_worker,
            self._model_bytes(run_dir),
            dataset_name,
            tuple(categories) if categories else None,
            per_class,
            dataset,
            task.task_id,
            key=f"convlab-map-{task.task_id}",
            pure=False,
            retries=0,
            priority=SIDE_TASK_PRIORITY,
        )

        def store(outcome: dict[str, Any]) -> None:
            from core.timeline import store_embedding_map

            indices, labels = outcome["indices"], outcome["labels"]
            store_embedding_map(run_dir, indices, labels, tsne=outcome["tsne"])
            if task.started_at is not None:
                seconds = time.monotonic() - task.started_at
                self._map_seconds_per_image = seconds / max(len(outcome["indices"]), 1)

        self._follow_side_task(task, future, store)
        return task

    def submit_export(self, run_dir: str | os.PathLike, kind: str) -> SideTask:
        """Build a run's model as 'saved_model' (a .zip) or 'tflite' bytes on a worker."""
        if kind not in ("saved_model", "tflite"):
            raise ValueError(f'An export is "saved_model" or "tflite", not {kind!r}.')
        run_dir = Path(run_dir)
        task = self._new_side_task(kind, run_dir.name, EXPORT_SECONDS)
        future = self.client.submit(
            export_on_worker,
            self._model_bytes(run_dir),
            kind,
            task.task_id,
            key=f"convlab-{kind}-{task.task_id}",
            pure=False,
            retries=0,
            priority=SIDE_TASK_PRIORITY,
        )
        self._follow_side_task(task, future, None)
        return task

    @staticmethod
    def _model_bytes(run_dir: Path) -> bytes:
        from core.runs import model_file_path

        return model_file_path(run_dir).read_bytes()

    def _new_side_task(self, kind: str, run_id: str, expected_seconds: float) -> SideTask:
        task = SideTask(
            task_id=f"{kind}-{secrets.token_hex(4)}",
            kind=kind,
            run_id=run_id,
            expected_seconds=expected_seconds,
        )
        now = time.monotonic()
        with self._lock:
            # Ended tasks hold results (an export's bytes) only until pages have fetched them.
            for key, old in list(self._side_tasks.items()):
                if old.finished_at is not None and now - old.finished_at > SIDE_TASK_KEEP_SECONDS:
                    del self._side_tasks[key]
            self._side_tasks[(kind, run_id)] = task
        return task

    def _follow_side_task(
        self,
        task: SideTask,
        future: Any,
        store: Callable[[dict[str, Any]], None] | None,
    ) -> None:
        def collect() -> None:
            try:
                outcome = future.result()
                if "error" in outcome:
                    task.error = outcome["error"]
                else:
                    if store is not None:
                        store(outcome)
                    task.result = outcome
            except Exception as error:
                task.error = describe_failure(error)
            task.state = "failed" if task.error else "finished"
            task.finished_at = time.monotonic()
            task.done.set()

        threading.Thread(target=collect, name="convlab-side-task", daemon=True).start()

    def stop(self, job: TrainingJob) -> None:
        """End a running training after the current batch; the model so far is saved."""
        from distributed import Event

        job.stop_requested = True
        Event(self._stop_name(job), client=self.client).set()

    def cancel(self, job: TrainingJob) -> None:
        """Take a job out of the queue (or end it without saving, if it just started)."""
        from distributed import Event

        if not job.running:
            return
        job.stop_requested = True
        Event(self._cancel_name(job), client=self.client).set()
        Event(self._stop_name(job), client=self.client).set()
        future = self._futures.get(job.job_id)
        if future is not None:
            future.cancel()
        self._finish(job, state="cancelled")

    def retry(self, job: TrainingJob) -> TrainingJob:
        """Submit the same request again as a new job."""
        return self.submit(job.request)

    def jobs(self) -> list[TrainingJob]:
        with self._lock:
            return list(self._jobs.values())

    def queue_position(self, job: TrainingJob) -> int | None:
        """1 for the next job to start; None once it has started or ended."""
        if job.state != "queued":
            return None
        queued = [other for other in self.jobs() if other.state == "queued"]
        queued.sort(key=lambda other: other.submitted_at)
        return queued.index(job) + 1 if job in queued else None

    def estimated_wait_seconds(self, job: TrainingJob) -> float | None:
        """About how long until a queued job starts; None once it has started."""
        position = self.queue_position(job)
        if position is None:
            return None
        now = time.monotonic()
        running_left = [
            self._seconds_left(other, now)
            for other in self.jobs()
            if other.state in ("running", "saving")
        ]
        ahead = [
            other
            for other in self.jobs()
            if other.state == "queued" and other.submitted_at < job.submitted_at
        ]
        ahead_seconds = [self._expected_seconds(other) for other in ahead]
        return estimate_wait_seconds(running_left, ahead_seconds, self.slots)

    # Internals.

    @staticmethod
    def _stop_name(job: TrainingJob) -> str:
        return f"convlab-stop-{job.job_id}"

    @staticmethod
    def _cancel_name(job: TrainingJob) -> str:
        return f"convlab-cancel-{job.job_id}"

    def _expected_seconds(self, job: TrainingJob) -> float:
        return expected_job_seconds(
            job.request.config,
            self._seconds_per_epoch.get(job.request.dataset_name),
            self._overhead_seconds,
        )

    def _seconds_left(self, job: TrainingJob, now: float) -> float:
        latest = job.latest()
        if latest is not None and latest.seconds_left is not None:
            return latest.seconds_left + self._overhead_seconds / 2
        started = job.started_at if job.started_at is not None else now
        return max(0.0, self._expected_seconds(job) - (now - started))

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        """Runs on the client's event loop for every event a worker publishes."""
        _, message = event
        if not isinstance(message, dict):
            return
        if message.get("event") == "side-started":
            with self._lock:
                tasks = list(self._side_tasks.values())
            for task in tasks:
                if task.task_id == message.get("job") and task.state == "queued":
                    task.started_at = time.monotonic()
                    task.state = "running"
            return
        job = self._jobs.get(str(message.get("job")))
        if job is None or not job.running:
            return  # Another server's job on a shared cluster, or one already ended.
        event_name = message.get("event")
        if event_name == "started":
            job.worker = message.get("worker_label") or message.get("worker")
            job.device = message.get("device")
            job.started_at = time.monotonic()
            job.state = "running"
        elif event_name == "progress":
            values = {key: message[key] for key in PROGRESS_FIELDS if key in message}
            try:
                job.progress.append(Progress(**values))
            except TypeError:
                return
            if job.state == "queued":
                job.state = "running"
        elif event_name == "saving":
            job.state = "saving"

    def _collect(self, job: TrainingJob, future: Any) -> None:
        """Wait for a job's result on a thread, then save the run where the app keeps runs."""
        from distributed import Event
        from distributed.client import FutureCancelledError

        try:
            outcome = future.result()
        except FutureCancelledError:
            self._finish(job, state="cancelled")
            return
        except Exception as error:
            self._finish(job, state="failed", error=describe_failure(error))
            return
        finally:
            for name in (self._stop_name(job), self._cancel_name(job)):
                try:
                    Event(name, client=self.client).clear()
                except Exception:
                    pass
        if outcome.get("cancelled") or job.state == "cancelled":
            self._finish(job, state="cancelled")
            return
        if "error" in outcome:
            self._finish(job, state="failed", error=outcome["error"])
            return
        from core.runs import save_run_files
        from core.timeline import EMBEDDING_FILE_NAME

        record = outcome["record"]
        try:
            run_dir = save_run_files(
                outcome["model"], record, job.request.runs_dir, outcome.get("files")
            )
        except (OSError, ValueError) as error:
            self._finish(job, state="failed", error=f"The run could not be saved: {error}")
            return
        epochs = record.get("epochs") or 0
        if epochs >= 1 and record.get("train_seconds"):
            self._seconds_per_epoch[job.request.dataset_name] = record["train_seconds"] / epochs
        if job.started_at is not None and record.get("train_seconds") is not None:
            # What a job costs beyond its training, averaged over the last few jobs.
            overhead = max(0.0, time.monotonic() - job.started_at - record["train_seconds"])
            self._overhead_seconds = 0.7 * self._overhead_seconds + 0.3 * overhead
        job.record = record
        job.run_dir = run_dir
        if record.get("worker"):
            job.worker = record["worker"]
        if EMBEDDING_FILE_NAME in (outcome.get("files") or {}):
            # The PCA map came with the run; its t-SNE map follows once no training waits or
            # runs, so it never slows a student's training (a page may ask for it sooner).
            request = job.request
            with self._lock:
                self._pending_maps.append(
                    lambda: self.submit_map(
                        run_dir,
                        dataset_name=request.dataset_name,
                        categories=request.categories,
                        per_class=request.per_class,
                        dataset=request.dataset,
                    )
                )
        self._finish(job, state="finished")

    def _start_pending_maps(self) -> None:
        """Submit the t-SNE maps put off while trainings were queued or running, if none are."""
        with self._lock:
            if any(other.running for other in self._jobs.values()):
                return
            pending, self._pending_maps = self._pending_maps, []
        for submit in pending:
            try:
                submit()
            except Exception:  # The run is saved; its page can still ask for the map.
                pass

    def _finish(self, job: TrainingJob, *, state: str, error: str | None = None) -> None:
        if job.done.is_set():
            return
        job.error = error
        job.state = state
        # The session that made the job keeps it; the engine lets go, so a long-running
        # server does not hold every request (uploaded images included) it ever saw.
        self._futures.pop(job.job_id, None)
        with self._lock:
            self._jobs.pop(job.job_id, None)
        self._start_pending_maps()
        job.done.set()


PROGRESS_FIELDS = tuple(field.name for field in dataclasses.fields(Progress))


def describe_failure(error: BaseException) -> str:
    """A sentence for the page about a job that ended in an exception."""
    from distributed.scheduler import KilledWorker

    if isinstance(error, KilledWorker):
        return KILLED_WORKER_MESSAGE
    if isinstance(error, OSError | TimeoutError) and "connect" in str(error).lower():
        return f"The training cluster could not be reached: {error}"
    return f"Training failed: {error.__class__.__name__}: {error}"


def start_local_cluster(workers: int | None = None) -> Any:
    """A Dask cluster of worker processes on this machine, sized by plan_local_cluster."""
    import dask
    from distributed import LocalCluster

    from core.datasets import resolve_data_dir

    requested = workers
    if requested is None and os.environ.get(WORKERS_ENVIRONMENT_VARIABLE):
        requested = int(os.environ[WORKERS_ENVIRONMENT_VARIABLE])
    plan = plan_local_cluster(os.cpu_count() or 1, _visible_gpu_count(), requested)
    threads = str(plan.threads_per_training)
    environment = {
        # Dask pins numerical libraries to one thread per worker; a training wants its share.
        "OMP_NUM_THREADS": threads,
        "TF_NUM_INTRAOP_THREADS": threads,
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        # Workers read datasets where the app does.
        "CONVLAB_DATA_DIR": str(resolve_data_dir()),
    }
    with dask.config.set(
        {
            # A killed worker fails its job at once, with a message, instead of retrying it
            # silently on the next worker (and killing that one too if it ran out of memory).
            "distributed.scheduler.allowed-failures": 0,
            # Dask's default environment for new workers pins numerical libraries to one
            # thread and trims malloc aggressively; a training wants neither (env= below).
            "distributed.nanny.pre-spawn-environ": {},
            # Trainings hold big arrays on purpose: no spilling, no pausing.
            "distributed.worker.memory.target": False,
            "distributed.worker.memory.spill": False,
            "distributed.worker.memory.pause": False,
            # Every process wakes its event loop at each tick (20 ms by default) to time it.
            # In a worker those wake-ups fight Keras's training loop for the GIL: the app
            # trained at 0.89x the command line with 20 ms, 1.00x with 500 ms.
            "distributed.admin.tick.interval": TICK_INTERVAL,
            "distributed.admin.tick.limit": "10s",
        }
    ):
        return LocalCluster(
            n_workers=plan.workers,
            # One thread trains (the training resource holds it); the other runs side tasks,
            # such as a finished run's t-SNE map, so they never wait behind a training.
            threads_per_worker=2,
            resources={TRAINING_RESOURCE: 1},
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=40,
            env=environment,
        )


def _visible_gpu_count() -> int:
    """NVIDIA GPUs on this machine, found without importing TensorFlow in the server."""
    devices = Path("/dev")
    return len(list(devices.glob("nvidia[0-9]*"))) if devices.is_dir() else 0


__all__ = [
    "ClusterPlan",
    "TrainingEngine",
    "TrainingJob",
    "TrainingRequest",
    "estimate_wait_seconds",
    "expected_job_seconds",
    "plan_local_cluster",
    "start_local_cluster",
    "train_on_worker",
]


def describe_wait(seconds: float | None) -> str:
    """A wait in words for the queue line: 'under a minute', 'about 3 minutes'."""
    if seconds is None:
        return "a moment"
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    return f"about {minutes} minute{'s' if minutes != 1 else ''}"
