"""Fixtures for real-browser tests: the app served on 127.0.0.1 and Debian's headless Chromium."""

from __future__ import annotations

import os
import pickle
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.datasets import QUICKDRAW_DEFAULT_CATEGORIES

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _synthetic_shapes(count: int, class_index: int, seed: int) -> np.ndarray:
    """Doodle-like 28x28 drawings: each class a different outline, jittered, for screenshots."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    drawings = np.zeros((count, 28 * 28), dtype=np.uint8)
    for index in range(count):
        picture = Image.new("L", (28, 28))
        pen = ImageDraw.Draw(picture)
        left, top = rng.integers(2, 7, 2)
        right, bottom = rng.integers(21, 26, 2)
        box = (int(left), int(top), int(right), int(bottom))
        width = int(rng.integers(1, 3))
        kind = class_index % 5
        if kind == 0:
            pen.ellipse(box, outline=255, width=width)
        elif kind == 1:
            pen.rectangle(box, outline=255, width=width)
        elif kind == 2:
            pen.polygon(
                [(14, box[1]), (box[0], box[3]), (box[2], box[3])], outline=255, width=width
            )
        elif kind == 3:
            pen.line([(box[0], box[1]), (box[2], box[3])], fill=255, width=width + 1)
        else:
            pen.line([(box[0], box[3]), (14, box[1]), (box[2], box[3])], fill=255, width=width + 1)
        if class_index >= 5:
            pen.line([(box[0], 14), (box[2], 14)], fill=255, width=width)
        drawings[index] = np.asarray(picture).ravel()
    return drawings


@pytest.fixture(scope="session")
def browser_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the real MNIST files and small CIFAR-10 and Quick, Draw! files."""
    if not (SHARED_DATASETS / "mnist").is_dir():
        pytest.skip(f"the real dataset files are not at {SHARED_DATASETS} (a fresh clone)")
    folder = tmp_path_factory.mktemp("data")
    (folder / "mnist").symlink_to(SHARED_DATASETS / "mnist")
    (folder / "fashion-mnist").symlink_to(SHARED_DATASETS / "fashion-mnist")
    cifar = folder / "cifar-10-batches-py"
    cifar.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{index}" for index in range(1, 6)] + ["test_batch"]:
        labels = rng.integers(0, 10, 200)
        # Colour blobs whose hue follows the class, so the gallery has something to show.
        base = np.stack([(labels * 25) % 256, (255 - labels * 25) % 256, (labels * 70) % 256], 1)
        noise = rng.integers(0, 60, (200, 3, 32, 32))
        data = np.clip(base[:, :, None, None] + noise, 0, 255).astype(np.uint8).reshape(200, -1)
        with open(cifar / name, "wb") as handle:
            pickle.dump({b"data": data, b"labels": labels.tolist()}, handle, protocol=2)
    quickdraw = folder / "quickdraw"
    quickdraw.mkdir()
    for index, category in enumerate(QUICKDRAW_DEFAULT_CATEGORIES):
        np.save(quickdraw / f"{category}.npy", _synthetic_shapes(120, index, index))
    return folder


def start_app(data_dir: Path, runs_dir: Path, log_path: Path) -> tuple[str, subprocess.Popen]:
    """`streamlit run dashboard.py` on 127.0.0.1, as a user starts it; returns its URL."""
    port = _free_port()
    environment = dict(
        os.environ,
        CONVLAB_DATA_DIR=str(data_dir),
        CONVLAB_RUNS_DIR=str(runs_dir),
        CONVLAB_QUICKDRAW_URL="http://127.0.0.1:9",
    )
    log = open(log_path, "w")  # noqa: SIM115 - closed with the server.
    server = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "dashboard.py",
            "--server.address", "127.0.0.1", "--server.port", str(port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
        ],
        cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return url, server
        except OSError:
            time.sleep(0.3)
    server.kill()
    pytest.fail(f"streamlit did not start within 60 s; see {log_path}")


def stop_app(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture(scope="session")
def app_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's app server keeps its runs (`runs/`) and its log."""
    return tmp_path_factory.mktemp("app")


@pytest.fixture(scope="session")
def app_url(
    browser_data_dir: Path, digits_runs_dir: Path, mnist_runs_dir: Path, app_folder: Path
) -> Iterator[str]:
    """One app server for the whole browser session, with a small Digits and an MNIST run."""
    folder = app_folder
    shutil.copytree(digits_runs_dir, folder / "runs")
    shutil.copytree(mnist_runs_dir, folder / "runs", dirs_exist_ok=True)
    url, server = start_app(browser_data_dir, folder / "runs", folder / "streamlit.log")
    yield url
    stop_app(server)


@pytest.fixture
def fresh_app_url(browser_data_dir: Path, tmp_path: Path) -> Iterator[str]:
    """A server nobody has visited yet, for what happens on a first visit."""
    url, server = start_app(browser_data_dir, tmp_path / "runs", tmp_path / "streamlit.log")
    yield url
    stop_app(server)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS[1:], headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $CONVLAB_SCREENSHOT_DIR (the README's), else a temporary folder."""
    chosen = os.environ.get("CONVLAB_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def wait_until_idle():
    """A function that waits until the page's script run is over and nothing is stale."""
    return _wait_until_idle


def _wait_until_idle(page, timeout_ms: int = 60_000) -> None:
    """Wait for the script to finish and for no element to be stale, as TRAPS.md advises."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms
    )
    page.wait_for_function(
        "() => document.querySelectorAll('[data-stale=\"true\"]').length === 0",
        timeout=timeout_ms,
    )


@pytest.fixture
def take_screenshot(screenshot_dir: Path):
    """Screenshot the whole page: Streamlit scrolls inside its own container, not the body."""

    def take(page, name: str) -> Path:
        height = page.evaluate(
            "() => Math.max(document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight"
            " || 0, document.body.scrollHeight)"
        )
        page.set_viewport_size({"width": 1400, "height": min(max(height, 1000), 4000)})
        page.wait_for_timeout(500)
        path = screenshot_dir / name
        page.screenshot(path=str(path), full_page=True)
        page.set_viewport_size({"width": 1400, "height": 1000})
        return path

    return take
