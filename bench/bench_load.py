"""Load test: a classroom of browser sessions on the Datasets and Draw pages of one server.

Run: python bench/bench_load.py --runs-dir RUNS [--sessions 10] [--actions 5]
     [--data-dir ../shared/datasets]
Starts `streamlit run dashboard.py` on 127.0.0.1, opens --sessions browser sessions in
Debian's headless Chromium at once (half on Datasets pressing Reshuffle, half on Draw drawing
strokes), and reports the time from each action to the page being idle again, and the
server's peak memory. RUNS must hold a run on 28x28 grayscale data (python -m core.train
--dataset digits makes one in seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGUMENTS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(
    data_dir: str, runs_dir: str, log_path: str = os.devnull
) -> tuple[str, subprocess.Popen]:
    port = free_port()
    environment = dict(os.environ, CONVLAB_DATA_DIR=data_dir, CONVLAB_RUNS_DIR=runs_dir)
    server = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "dashboard.py",
            "--server.address", "127.0.0.1", "--server.port", str(port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
        ],
        cwd=ROOT, env=environment, stdout=open(log_path, "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return url, server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("streamlit did not start")


class PeakMemory(threading.Thread):
    """Samples the server's resident memory (with its children) until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0  # The server and its children (the device probe) together.
        self.peak_server = 0  # The server process alone.
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                own = self.process.memory_info().rss
                children = sum(
                    child.memory_info().rss for child in self.process.children(recursive=True)
                )
                self.peak_server = max(self.peak_server, own)
                self.peak = max(self.peak, own + children)
            except psutil.Error:
                pass
            time.sleep(0.2)


async def wait_idle(page) -> None:
    await page.wait_for_selector(IDLE, timeout=120_000)
    await page.wait_for_function(
        "() => document.querySelectorAll('[data-stale=\"true\"]').length === 0", timeout=120_000
    )


async def gallery_session(browser, url: str, actions: int, timings: dict) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    start = time.perf_counter()
    await page.goto(f"{url}/datasets")
    await page.get_by_role("button", name="Reshuffle").wait_for(timeout=120_000)
    await wait_idle(page)
    timings["gallery: first open"].append(time.perf_counter() - start)
    for _ in range(actions):
        start = time.perf_counter()
        await page.get_by_role("button", name="Reshuffle").click()
        await asyncio.sleep(0.05)
        await wait_idle(page)
        timings["gallery: reshuffle"].append(time.perf_counter() - start)
    await context.close()


async def draw_session(browser, url: str, actions: int, timings: dict) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 1200})
    page = await context.new_page()
    start = time.perf_counter()
    await page.goto(f"{url}/draw")
    canvas = page.locator("canvas.upper-canvas").first
    await canvas.wait_for(timeout=120_000)
    await wait_idle(page)
    timings["draw: first open"].append(time.perf_counter() - start)
    box = await canvas.bounding_box()
    for action in range(actions):
        start = time.perf_counter()
        x = box["x"] + 60 + 30 * action
        await page.mouse.move(x, box["y"] + 50)
        await page.mouse.down()
        await page.mouse.move(x + 10, box["y"] + 230, steps=6)
        await page.mouse.up()
        await page.get_by_text("Top guess", exact=True).wait_for(timeout=120_000)
        await asyncio.sleep(0.05)
        await wait_idle(page)
        timings["draw: stroke to guess"].append(time.perf_counter() - start)
    await context.close()


async def classroom(url: str, sessions: int, actions: int) -> dict[str, list[float]]:
    from playwright.async_api import async_playwright

    timings: dict[str, list[float]] = {
        "gallery: first open": [],
        "gallery: reshuffle": [],
        "draw: first open": [],
        "draw: stroke to guess": [],
    }
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGUMENTS
        )
        tasks = []
        for index in range(sessions):
            if index % 2:
                tasks.append(draw_session(browser, url, actions, timings))
            else:
                tasks.append(gallery_session(browser, url, actions, timings))
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await browser.close()
    failures = [result for result in results if isinstance(result, Exception)]
    for failure in failures:
        print("session failed:", repr(failure)[:300])
    timings["failed sessions"] = [float(len(failures))]
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--actions", type=int, default=5)
    parser.add_argument("--runs-dir", required=True)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    arguments = parser.parse_args()
    url, server = start_server(arguments.data_dir, arguments.runs_dir)
    memory = PeakMemory(server.pid)
    memory.start()
    try:
        # One visit first, as a teacher opens the app before the class does.
        urllib.request.urlopen(url, timeout=30).read()
        start = time.perf_counter()
        timings = asyncio.run(classroom(url, arguments.sessions, arguments.actions))
        wall = time.perf_counter() - start
    finally:
        memory.running = False
        server.terminate()
        server.wait(timeout=30)
    failed = int(timings.pop("failed sessions")[0])
    print(
        f"{arguments.sessions} browser sessions at once, {arguments.actions} actions each, "
        f"{wall:.0f} s in all; {failed} sessions failed; server peak memory "
        f"{memory.peak / 1e6:,.0f} MB.\n"
    )
    print("| page | actions | median to idle | 90th percentile | worst |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for page, values in timings.items():
        if not values:
            continue
        ordered = sorted(values)
        print(
            f"| {page} | {len(values)} | {statistics.median(values):.2f} s "
            f"| {ordered[int(0.9 * (len(ordered) - 1))]:.2f} s | {ordered[-1]:.2f} s |"
        )


if __name__ == "__main__":
    main()
