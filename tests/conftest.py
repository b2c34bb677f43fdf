"""Shared fixtures: the real dataset folder, a local HTTP server, and clean Streamlit caches."""

from __future__ import annotations

import http.server
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Outlier pools drawn by this session (core.outliers) go to a folder of its own, shared with
# the workers and servers it starts, so no test reads a pool left by another checkout.
os.environ["CONVLAB_CACHE_DIR"] = tempfile.mkdtemp(prefix="convlab-cache-")


@pytest.fixture
def shared_datasets() -> Path:
    """The real MNIST and Fashion-MNIST files, byte-identical to the official ones."""
    if not (SHARED_DATASETS / "mnist" / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"the real dataset files are not at {SHARED_DATASETS} (a fresh clone)")
    return SHARED_DATASETS


@dataclass
class FileServer:
    """A tiny HTTP server on 127.0.0.1 that serves a folder and honours Range requests."""

    root: Path
    url: str = ""
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    bytes_sent: int = 0
    honour_range: bool = True
    truncate_to: int | None = None


def _handler_for(server: FileServer):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *arguments) -> None:  # Quiet test output.
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming.
            from urllib.parse import unquote

            range_header = self.headers.get("Range")
            server.requests.append((unquote(self.path), range_header))
            path = server.root / unquote(self.path).lstrip("/")
            if not path.is_file():
                self.send_error(404, "Not Found")
                return
            data = path.read_bytes()
            status = 200
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header or "")
            if server.honour_range and match:
                start = int(match.group(1))
                end = int(match.group(2)) if match.group(2) else len(data) - 1
                data = data[start : end + 1]
                status = 206
            announced = len(data)
            if server.truncate_to is not None:
                data = data[: server.truncate_to]
            self.send_response(status)
            self.send_header("Content-Length", str(announced))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            server.bytes_sent += len(data)

    return Handler


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[FileServer]:
    """Serve tmp_path/'served' over HTTP on 127.0.0.1 for download tests."""
    root = tmp_path / "served"
    root.mkdir()
    server = FileServer(root=root)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(server))
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_outside_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every download at a closed local port: tests never reach the internet."""
    from core import datasets

    closed = "http://127.0.0.1:9"
    for name in datasets.IDX_MIRRORS:
        monkeypatch.setitem(datasets.IDX_MIRRORS, name, (f"{closed}/{name}/",))
    monkeypatch.setattr(datasets, "CIFAR10_URL", f"{closed}/cifar-10-python.tar.gz")
    monkeypatch.setenv("CONVLAB_QUICKDRAW_URL", closed)


@pytest.fixture(autouse=True)
def no_early_training_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages start their training cluster only when a test trains (app_uses_training_cluster)."""
    monkeypatch.setenv("CONVLAB_START_ENGINE_EARLY", "0")


@pytest.fixture(autouse=True)
def clear_streamlit_caches() -> Iterator[None]:
    """st.cache_data and st.cache_resource are shared between AppTests in one process."""
    yield
    import sys

    if "streamlit" in sys.modules:
        import streamlit as st

        st.cache_data.clear()
        st.cache_resource.clear()


@pytest.fixture(scope="session")
def digits_runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder holding one small saved run, trained a few seconds on Digits."""
    from core.datasets import load_dataset
    from core.models import ConvBlock, ModelSpec
    from core.runs import make_record, save_run
    from core.timeline import files_for_result
    from core.training import TrainConfig, train

    runs_dir = tmp_path_factory.mktemp("runs")
    dataset = load_dataset("digits")
    spec = ModelSpec(conv_blocks=(ConvBlock(filters=8), ConvBlock(filters=16)))
    config = TrainConfig(epochs=3, batch_size=64, learning_rate=0.01)
    result = train(spec, dataset, config)
    record = make_record(result, dataset, config, spec=spec, preset="custom", name="tiny digits")
    save_run(
        result.model, record, runs_dir, extra_files=files_for_result(result, dataset, config=config)
    )
    return runs_dir


@pytest.fixture(scope="session")
def mnist_runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder with the fast preset trained 20 s on real MNIST, good enough to read digits."""
    if not (SHARED_DATASETS / "mnist" / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"the real dataset files are not at {SHARED_DATASETS} (a fresh clone)")
    from core.datasets import load_dataset
    from core.models import PRESETS
    from core.runs import make_record, save_run
    from core.timeline import files_for_result
    from core.training import TrainConfig, train

    runs_dir = tmp_path_factory.mktemp("mnist-runs")
    dataset = load_dataset("mnist", data_dir=SHARED_DATASETS)
    config = TrainConfig(epochs=20, time_budget_seconds=20)
    result = train(PRESETS["fast"], dataset, config)
    record = make_record(result, dataset, config, spec=PRESETS["fast"], preset="fast")
    save_run(
        result.model, record, runs_dir, extra_files=files_for_result(result, dataset, config=config)
    )
    return runs_dir


@pytest.fixture(scope="session")
def cifar_and_quickdraw(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A data folder with small CIFAR-10 and Quick, Draw! files, and a run trained on each."""
    import pickle

    import numpy as np

    from core.datasets import load_dataset
    from core.models import ConvBlock, ModelSpec
    from core.runs import make_record, save_run
    from core.timeline import files_for_result
    from core.training import TrainConfig, train

    data_dir = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    cifar = data_dir / "cifar-10-batches-py"
    cifar.mkdir()
    for name in [f"data_batch_{index}" for index in range(1, 6)] + ["test_batch"]:
        labels = rng.integers(0, 10, 40)
        data = rng.integers(0, 256, (40, 3072), dtype=np.uint8)
        with open(cifar / name, "wb") as handle:
            pickle.dump({b"data": data, b"labels": labels.tolist()}, handle, protocol=2)
    (data_dir / "quickdraw").mkdir()
    for category in ("cat", "house"):
        np.save(data_dir / "quickdraw" / f"{category}.npy", rng.integers(0, 256, (60, 784)))
    for category in ("cat", "house"):
        path = data_dir / "quickdraw" / f"{category}.npy"
        np.save(path, np.load(path).astype(np.uint8))
    runs_dir = tmp_path_factory.mktemp("runs")
    spec = ModelSpec(conv_blocks=(ConvBlock(filters=4), ConvBlock(filters=8)))
    config = TrainConfig(epochs=1, batch_size=16)
    for name, categories in (("cifar10", None), ("quickdraw", ("cat", "house"))):
        dataset = load_dataset(name, data_dir=data_dir, categories=categories, per_class=60)
        result = train(spec, dataset, config)
        record = make_record(
            result, dataset, config, spec=spec, name=f"tiny {name}",
            categories=categories, per_class=60 if categories else None,
        )  # fmt: skip
        save_run(
            result.model,
            record,
            runs_dir,
            extra_files=files_for_result(result, dataset, config=config),
        )
    return data_dir, runs_dir


@pytest.fixture(scope="session")
def training_cluster() -> Iterator[str]:
    """One real Dask cluster for the session: a scheduler and one worker process.

    Tests share it (the worker pays TensorFlow's import once) and reach it by its address,
    the way the app reaches a school's cluster through $CONVLAB_DASK_SCHEDULER.
    """
    from core.engine import start_local_cluster

    cluster = start_local_cluster(workers=1)
    from distributed import Client

    with Client(cluster) as client:
        client.run(lambda: __import__("tensorflow").__version__)
    yield cluster.scheduler_address
    # The app's engines (one per server process, kept by ui.engine) hold clients to it.
    engines = getattr(sys.modules.get("ui.engine"), "_ENGINES", {})
    for engine in list(engines.values()):
        engine.close()
    engines.clear()
    cluster.close()


@pytest.fixture
def training_engine(training_cluster: str) -> Iterator:
    """A TrainingEngine connected to the session's cluster."""
    from core.engine import TrainingEngine

    engine = TrainingEngine.start(training_cluster)
    yield engine
    for job in engine.jobs():
        if job.running:
            engine.cancel(job)
    engine.close()


@pytest.fixture
def app_uses_training_cluster(monkeypatch: pytest.MonkeyPatch, training_cluster: str) -> str:
    """Point the app's engine at the session's cluster, as a school would with its own."""
    monkeypatch.setenv("CONVLAB_DASK_SCHEDULER", training_cluster)
    return training_cluster
