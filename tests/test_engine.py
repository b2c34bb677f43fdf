"""Tests for core.engine: trainings as Dask jobs, off the server, saved where the app keeps runs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.datasets import Dataset
from core.engine import (
    KILLED_WORKER_MESSAGE,
    TrainingEngine,
    TrainingRequest,
    check_scheduler_listens,
    describe_wait,
    estimate_wait_seconds,
    expected_job_seconds,
    plan_local_cluster,
)
from core.models import ConvBlock, ModelSpec
from core.runs import list_runs, load_run
from core.training import TrainConfig

TINY_SPEC = ModelSpec(conv_blocks=(ConvBlock(filters=4),))
JOB_TIMEOUT = 180


def tiny_dataset(count: int = 96) -> Dataset:
    rng = np.random.default_rng(0)
    labels = np.arange(count, dtype=np.int64) % 2
    images = rng.integers(0, 60, (count, 12, 12, 1), dtype=np.uint8)
    images[labels == 1, 3:9, 3:9] = 250  # Class 1 has a bright square: learnable at once.
    return Dataset("custom", ("dark", "square"), images, labels, images[:32], labels[:32])


def tiny_request(runs_dir: Path, **config_values) -> TrainingRequest:
    """An uploaded-style dataset, so it travels with the job; the worker needs no data."""
    values = {"epochs": 2, "batch_size": 16, "learning_rate": 0.01, **config_values}
    return TrainingRequest(
        dataset_name="custom",
        dataset=tiny_dataset(),
        spec=TINY_SPEC,
        config=TrainConfig(**values),
        preset="custom",
        owner="Ana",
        runs_dir=str(runs_dir),
    )


def wait_for_first_batch(job) -> None:
    """Until the worker has reported a batch: the training is really under way."""
    deadline = time.monotonic() + JOB_TIMEOUT
    while job.latest("batch") is None and time.monotonic() < deadline:
        time.sleep(0.1)


# --- Pure planning -------------------------------------------------------------------------


def test_a_two_core_machine_trains_one_at_a_time_on_both_cores() -> None:
    plan = plan_local_cluster(2)
    assert (plan.workers, plan.threads_per_training) == (1, 2)
    assert (plan_local_cluster(16).workers, plan_local_cluster(16).threads_per_training) == (4, 4)
    assert plan_local_cluster(16, gpu_count=2).workers == 1
    assert plan_local_cluster(8, requested_workers=2).threads_per_training == 4
    with pytest.raises(ValueError, match="at least one worker"):
        plan_local_cluster(8, requested_workers=0)


def test_the_wait_fills_the_earliest_free_slots_first() -> None:
    # One slot busy for 30 s, two jobs of 60 s ahead: this one starts after 150 s.
    assert estimate_wait_seconds([30.0], [60.0, 60.0], slots=1) == 150.0
    # Two slots, one idle: the first job ahead takes the idle one, the next waits 30 s.
    assert estimate_wait_seconds([30.0], [60.0, 60.0], slots=2) == 60.0
    assert estimate_wait_seconds([], [], slots=1) == 0.0
    budget = TrainConfig(time_budget_seconds=30)
    assert expected_job_seconds(budget, None) > 30
    assert expected_job_seconds(TrainConfig(epochs=4), 10.0) > 40
    assert describe_wait(20) == "under a minute" and describe_wait(185) == "about 3 minutes"


# --- On a real cluster ---------------------------------------------------------------------


def test_training_happens_in_a_worker_process_and_the_run_lands_in_the_app_s_folder(
    training_engine: TrainingEngine, tmp_path: Path
) -> None:
    job = training_engine.submit(tiny_request(tmp_path))
    assert job.wait(JOB_TIMEOUT), job.state
    assert job.state == "finished", job.error
    worker_pids = training_engine.client.run(os.getpid)
    assert os.getpid() not in worker_pids.values()
    assert job.worker is not None and job.worker.split(" ")[0].rstrip("()") in str(worker_pids)
    # Progress came back live, as events from the worker.
    assert job.latest("batch") is not None and job.latest("epoch") is not None
    assert [run.run_dir for run in list_runs(tmp_path)] == [job.run_dir]
    run = load_run(job.run_dir)
    assert run.record["owner"] == "Ana"
    assert run.record["worker"] == job.worker
    assert run.record["device"].startswith(("CPU", "GPU"))
    assert run.predict(tiny_dataset().x_test).shape == (32, 2)
    # The worker kept the network along the way; the server wrote it beside the model.
    assert run.checkpoints[0] == 0.0 and len(run.checkpoints) >= 4
    assert run.timeline() is not None and (job.run_dir / "logs").is_dir()


def test_a_built_in_dataset_is_read_by_the_worker_itself(
    training_engine: TrainingEngine, tmp_path: Path
) -> None:
    request = TrainingRequest(
        dataset_name="digits",
        spec=TINY_SPEC,
        config=TrainConfig(epochs=1, batch_size=32, max_train_images=320),
        owner="Ben",
        runs_dir=str(tmp_path),
    )
    job = training_engine.submit(request)
    assert job.wait(JOB_TIMEOUT) and job.state == "finished", job.error
    assert job.record["dataset"]["name"] == "digits"
    assert job.record["dataset"]["train_images"] == 320


def test_stop_ends_training_at_the_next_batch_and_keeps_the_model(
    training_engine: TrainingEngine, tmp_path: Path
) -> None:
    job = training_engine.submit(tiny_request(tmp_path, epochs=500))
    wait_for_first_batch(job)
    training_engine.stop(job)
    assert job.wait(JOB_TIMEOUT) and job.state == "finished", job.error
    assert job.record["status"] == "stopped"
    assert job.record["epochs"] < 500
    assert load_run(job.run_dir).record["status"] == "stopped"


def test_the_queue_is_first_come_first_served_and_cancel_takes_a_job_out(
    training_engine: TrainingEngine, tmp_path: Path
) -> None:
    assert training_engine.slots == 1
    first = training_engine.submit(tiny_request(tmp_path / "first", epochs=6))
    second = training_engine.submit(tiny_request(tmp_path / "second", epochs=2))
    third = training_engine.submit(tiny_request(tmp_path / "third", epochs=2))
    deadline = time.monotonic() + JOB_TIMEOUT
    while first.state == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.state in ("running", "saving", "finished")
    assert training_engine.queue_position(second) == 1
    assert training_engine.queue_position(third) == 2
    assert training_engine.estimated_wait_seconds(third) > training_engine.estimated_wait_seconds(
        second
    )
    training_engine.cancel(third)
    assert third.state == "cancelled" and third.wait(1)
    assert second.wait(JOB_TIMEOUT) and first.wait(JOB_TIMEOUT)
    assert first.state == second.state == "finished", (first.error, second.error)
    # The second started only once the first had finished: one training at a time, in order.
    assert first.record["created_at"] <= second.record["started_at"]
    time.sleep(1)
    assert not (tmp_path / "third").exists() or not list_runs(tmp_path / "third")


def test_a_finished_run_gets_its_t_sne_map_in_the_background(
    training_engine: TrainingEngine, tmp_path: Path
) -> None:
    from core.timeline import EMBEDDING_FILE_NAME, read_embedding

    job = training_engine.submit(tiny_request(tmp_path))
    assert job.wait(JOB_TIMEOUT) and job.state == "finished", job.error
    # The PCA map came with the run; t-SNE follows as a side task on the worker.
    assert "pca" in read_embedding(job.run_dir / EMBEDDING_FILE_NAME)
    task = training_engine.side_task("map", job.run_dir.name)
    assert task is not None
    assert task.wait(JOB_TIMEOUT) and task.state == "finished", task.error
    stored = read_embedding(job.run_dir / EMBEDDING_FILE_NAME)
    assert stored["tsne"].shape == stored["pca"].shape == (len(stored["indices"]), 2)
    assert 0 < task.fraction_done() == 1.0


def test_maps_wait_until_no_training_is_queued_or_running(
    training_engine: TrainingEngine, tmp_path: Path
) -> None:
    first = training_engine.submit(tiny_request(tmp_path))
    second = training_engine.submit(tiny_request(tmp_path, epochs=30))
    assert first.wait(JOB_TIMEOUT) and first.state == "finished", first.error
    # The second training is queued or running: the first run's map waits for it.
    assert training_engine.side_task("map", first.run_dir.name) is None
    assert second.wait(JOB_TIMEOUT) and second.state == "finished", second.error
    for job in (first, second):
        task = training_engine.side_task("map", job.run_dir.name)
        assert task is not None and task.wait(JOB_TIMEOUT) and task.state == "finished"


def test_a_side_task_runs_beside_a_training_instead_of_waiting_for_it(
    training_engine: TrainingEngine, tmp_path: Path
) -> None:
    import zipfile

    finished = training_engine.submit(tiny_request(tmp_path))
    assert finished.wait(JOB_TIMEOUT) and finished.state == "finished", finished.error
    long_job = training_engine.submit(
        tiny_request(tmp_path, epochs=1000, batch_size=2, time_budget_seconds=90)
    )
    wait_for_first_batch(long_job)
    export = training_engine.submit_export(finished.run_dir, "saved_model")
    assert export.wait(JOB_TIMEOUT) and export.state == "finished", export.error
    assert long_job.state == "running"  # Not behind the training: beside it.
    assert zipfile.is_zipfile(__import__("io").BytesIO(export.result["bytes"]))
    assert training_engine.side_task("saved_model", finished.run_dir.name) is export
    training_engine.stop(long_job)
    assert long_job.wait(JOB_TIMEOUT)
    with pytest.raises(ValueError, match="saved_model"):
        training_engine.submit_export(finished.run_dir, "onnx")


def test_settings_the_worker_refuses_come_back_as_a_sentence(
    training_engine: TrainingEngine, tmp_path: Path
) -> None:
    request = TrainingRequest(
        dataset_name="quickdraw",
        categories=("cat", "house"),
        per_class=50,
        spec=TINY_SPEC,
        config=TrainConfig(epochs=1),
        runs_dir=str(tmp_path),
    )
    job = training_engine.submit(request)
    assert job.wait(JOB_TIMEOUT)
    assert job.state == "failed"
    assert "quickdraw" in job.error.lower() or "cat" in job.error
    assert "Traceback" not in job.error
    assert not list_runs(tmp_path)


def test_a_killed_worker_fails_its_job_with_a_message_and_leaves_nothing_half_written(
    training_engine: TrainingEngine, tmp_path: Path
) -> None:
    # Long enough to be killed mid-way; the budget keeps the retry below short.
    job = training_engine.submit(tiny_request(tmp_path, epochs=500, time_budget_seconds=3))
    wait_for_first_batch(job)
    worker_pids = training_engine.client.run(os.getpid)
    for pid in worker_pids.values():
        os.kill(pid, signal.SIGKILL)
    assert job.wait(JOB_TIMEOUT)
    assert job.state == "failed"
    assert job.error == KILLED_WORKER_MESSAGE
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
    # The nanny restarts the worker; the same request trains again.
    retried = training_engine.retry(job)
    assert retried.wait(JOB_TIMEOUT) and retried.state == "finished", retried.error
    assert [run.run_dir for run in list_runs(tmp_path)] == [retried.run_dir]


def _start(command: list[str], environment: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def test_two_workers_started_by_hand_train_at_once_and_both_runs_reach_the_app(
    tmp_path: Path,
) -> None:
    from distributed import Client

    port = 20000 + os.getpid() % 20000
    address = f"tcp://127.0.0.1:{port}"
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_NUM_INTRAOP_THREADS="1")
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--no-dashboard"]
    worker = [
        *(sys.executable, "-m", "distributed.cli.dask_worker", address),
        *("--nthreads", "1", "--no-dashboard"),
    ]
    processes = [_start([*dask, "--host", "127.0.0.1", "--port", str(port)], environment)]
    try:
        for number in (1, 2):
            # Each worker has a runs folder of its own: the runs must still reach the app's.
            own = dict(environment, CONVLAB_RUNS_DIR=str(tmp_path / f"worker-{number}-runs"))
            processes.append(_start([*worker, "--name", f"worker-{number}"], own))
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        engine = TrainingEngine.start(address)
        try:
            app_runs = tmp_path / "app-runs"
            jobs = [engine.submit(tiny_request(app_runs, epochs=3)) for _ in range(2)]
            for job in jobs:
                assert job.wait(JOB_TIMEOUT) and job.state == "finished", job.error
        finally:
            engine.close()
        assert {job.record["worker"].split(" ")[0] for job in jobs} == {"worker-1", "worker-2"}
        # They ran side by side: each started before the other had finished.
        first, second = sorted(jobs, key=lambda job: job.record["started_at"])
        assert second.record["started_at"] <= first.record["created_at"]
        assert sorted(run.run_dir for run in list_runs(app_runs)) == sorted(
            job.run_dir for job in jobs
        )
        assert not (tmp_path / "worker-1-runs").exists()
        assert not (tmp_path / "worker-2-runs").exists()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_scheduler_address_nobody_listens_on_is_refused_at_once() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    check_scheduler_listens(f"tcp://127.0.0.1:{port}")  # Something listens: no error.
    listener.close()
    started = time.perf_counter()
    with pytest.raises(ConnectionError, match=f"nothing answers at 127.0.0.1:{port}"):
        check_scheduler_listens(f"tcp://127.0.0.1:{port}")
    assert time.perf_counter() - started < 5
    with pytest.raises(ConnectionError, match="not a tcp://host:port"):
        check_scheduler_listens("tcp://scheduler-without-port")
    check_scheduler_listens("inproc://left-to-dask")
