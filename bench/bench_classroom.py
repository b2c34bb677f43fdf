"""Classroom benchmark: training through the real app in Chromium, beside the headless trainer.

Run (from the repository root, about 15-20 minutes on 2 cores with the defaults):

    . .venv/bin/activate
    python bench/bench_classroom.py [--phases 1,2,3] [--budget 30] [--students 4]
        [--sessions 30] [--session-budget 5] [--data-dir ../shared/datasets]
        [--output bench/results/classroom.json]

Each phase starts its own `streamlit run dashboard.py` (127.0.0.1 only, a fresh empty runs
folder, CONVLAB_DATA_DIR = --data-dir, $CONVLAB_DASK_SCHEDULER unset so the app starts its
own local Dask cluster) and drives it with Debian's headless Chromium
(/usr/bin/chromium) through Playwright, as students do: each browser context is one student
opening /train?user=studentN&dataset=mnist&preset=fast&time_budget=B and pressing Train.

1. One student (--budget). `python -m core.train --dataset mnist --preset fast --time-budget B`
   runs first, alone: the baseline. Then one browser session trains the same setup through the
   app. Compares the run's images/s (record.json) with the baseline's, and measures the server
   process's own CPU (psutil cpu_times user + system, without its children: the Dask workers
   are children) from the moment the page shows the training running (its Stop button) until
   the run's record.json exists, and the server's memory.
2. Students at once (--students). That many browser contexts open the link and click Train
   together. Records the queue line each page shows first after its click, waits for all runs
   (polling the runs folder), compares each accuracy with phase 1's lone run, samples the
   server's peak RSS alone and summed with all its descendant processes, and polls
   /_stcore/health every 0.5 s from a thread for the whole phase.
3. A class submits (--sessions, --session-budget). That many contexts open the link (a few at
   a time), then click Train one after another (--click-interval apart). Checks that no run
   is lost (all saved, owners distinct), that the queue positions seen are plausible, that the
   server kept answering, and reports its peak memory and the time from the first click to
   the last saved run.

The servers run with `--server.fileWatcherType none` (--watch-files keeps Streamlit's watcher):
a classroom server's sources do not change, and watching a working tree that others edit costs
the server CPU. A page that opens without the app's frame (no sidebar, so no user and a
disabled Train button: a race of simultaneous first visits to a fresh server, see
open_session) is refreshed once, as a student would, and counted in the tables.

Markdown tables go to stdout (for the README), progress lines to stderr, and every number to
--output as JSON. Memory is in MB (10^6 bytes); the limits are in GB (10^9 bytes). Exit
status: 1 if a phase could not finish (its error is in the JSON, the work folder with the
server logs is kept), 2 with --strict when a limit was missed, else 0. Every wait has a
timeout, and the servers, their Dask processes and the browsers are stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

import psutil

# The other benchmarks' Chromium flags (TRAPS.md's; headless is Playwright's own argument).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_load import CHROMIUM_ARGUMENTS, IDLE, free_port  # noqa: E402

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = ROOT.parent / "shared" / "datasets"
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "classroom.json"
CHROMIUM = Path("/usr/bin/chromium")
NOTHING_STALE = "() => document.querySelectorAll('[data-stale=\"true\"]').length === 0"
# The first thing a page says about its training after the click, whichever comes first.
STATUS_SCRIPT = r"""() => {
  const text = document.body.innerText;
  const patterns = [
    /you are (next in line|number \d+ in the queue), .*? to wait/,
    /Starting on a worker/,
    /Starting: loading the data/,
    /Epoch [\d.]+ of \d+/,
    /Evaluating on the test set/,
    /Saved as run/,
    /Training failed[^\n]*|Trainings cannot start[^\n]*|Cancelled[^\n]*/,
  ];
  for (const pattern of patterns) {
    const match = text.match(pattern);
    if (match) return match[0];
  }
  return null;
}"""
QUEUE_NUMBER = re.compile(r"number (\d+) in the queue")
DATASET = "mnist"
PRESET = "fast"
SERVER_START_TIMEOUT_S = 120
PAGE_TIMEOUT_S = 240
# Opening a phase's pages may take this long per page in all, plus one PAGE_TIMEOUT_S.
OPEN_ALLOWANCE_S = 60
STATUS_TIMEOUT_S = 240
RESULT_ON_PAGE_TIMEOUT_S = 90
# Each queued run is allowed its budget plus this much (data, model, evaluation, saving,
# a cold cluster start) before a phase gives up waiting for the runs folder.
PER_RUN_ALLOWANCE_S = 120
HEADLESS_ALLOWANCE_S = 300
SAMPLE_INTERVAL_S = 0.5
HEALTH_INTERVAL_S = 0.5
HEALTH_TIMEOUT_S = 10
# The README's limits.
MIN_SPEED_RATIO = 0.9
MAX_SERVER_CORES = 0.33
MAX_ACCURACY_POINTS = 0.5
MAX_SERVER_RSS = 1.5e9
MAX_TOTAL_RSS = 2.7e9


@dataclass(frozen=True)
class Settings:
    """The command line, checked."""

    phases: tuple[int, ...]
    budget: int
    rounds: int
    students: int
    sessions: int
    session_budget: int
    click_interval: float
    open_concurrency: int
    data_dir: Path
    output: Path
    keep: bool
    strict: bool
    watch_files: bool


@dataclass
class Observation:
    """One page's click on Train and the first status line it showed afterwards."""

    user: str
    click_time: float = 0.0
    observed_time: float = 0.0
    status: str = ""

    @property
    def position(self) -> int | None:
        """The queue position the line gave: 1 for 'next in line'; None if not queued."""
        if "next in line" in self.status:
            return 1
        match = QUEUE_NUMBER.search(self.status)
        return int(match.group(1)) if match else None


@dataclass
class Sample:
    """One look at the server process and its descendants."""

    time: float
    server_rss: int
    total_rss: int
    server_cpu_seconds: float
    descendants: int


# --- Processes ----------------------------------------------------------------------------


def log(message: str) -> None:
    """A progress line on stderr, so stdout holds only the Markdown."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def own_cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU seconds of the process itself, not of its children."""
    times = process.cpu_times()
    return times.user + times.system


class AppServer:
    """`streamlit run dashboard.py` on 127.0.0.1; stopping it also ends its Dask processes."""

    def __init__(
        self, data_dir: Path, runs_dir: Path, log_path: Path, watch_files: bool = False
    ) -> None:
        self.data_dir = data_dir
        self.watch_files = watch_files
        self.runs_dir = runs_dir
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> AppServer:
        environment = dict(
            os.environ,
            CONVLAB_DATA_DIR=str(self.data_dir),
            CONVLAB_RUNS_DIR=str(self.runs_dir),
            CONVLAB_QUICKDRAW_URL="http://127.0.0.1:9",  # Never download anything.
        )
        environment.pop("CONVLAB_DASK_SCHEDULER", None)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        # A classroom server's sources do not change; watching a shared working tree costs the
        # server CPU whenever anyone else edits, builds or tests in it (inotify overflows).
        watcher = [] if self.watch_files else ["--server.fileWatcherType", "none"]
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "streamlit", "run", "dashboard.py",
                    "--server.address", "127.0.0.1", "--server.port", str(self.port),
                    "--server.headless", "true", "--browser.gatherUsageStats", "false",
                    *watcher,
                ],
                cwd=ROOT, env=environment, stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.alive():
                break
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        log(f"server up at {self.url} (pid {self.pid})")
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"streamlit did not start; see {self.log_path}")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Terminate the server, then whatever it started (Dask nannies and workers)."""
        if self.process is None:
            return
        try:
            descendants = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for child in descendants:
            try:
                child.terminate()
            except psutil.Error:
                pass
        _, left = psutil.wait_procs(descendants, timeout=10)
        for child in left:
            try:
                child.kill()
            except psutil.Error:
                pass

    def log_tail(self, characters: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""


class ServerMonitor(threading.Thread):
    """Samples the server's RSS, its descendants' RSS and its own CPU time until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(name="server-monitor", daemon=True)
        self.process = psutil.Process(pid)
        self.samples: list[Sample] = []
        self.stopping = threading.Event()

    def sample(self) -> Sample | None:
        """Look now, keep the sample, and return it (None if the server is gone)."""
        try:
            with self.process.oneshot():
                own = self.process.memory_info().rss
                cpu = own_cpu_seconds(self.process)
            total = own
            descendants = self.process.children(recursive=True)
            for child in descendants:
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            return None
        sample = Sample(time.time(), own, total, cpu, len(descendants))
        self.samples.append(sample)  # Also the ones taken from the phase: they count for peaks.
        return sample

    def run(self) -> None:
        while not self.stopping.is_set():
            self.sample()
            self.stopping.wait(SAMPLE_INTERVAL_S)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)

    def peak_server_rss(self) -> int:
        return max((sample.server_rss for sample in self.samples), default=0)

    def peak_total_rss(self) -> int:
        return max((sample.total_rss for sample in self.samples), default=0)

    def most_descendants(self) -> int:
        return max((sample.descendants for sample in self.samples), default=0)


class HealthPoller(threading.Thread):
    """GETs /_stcore/health every HEALTH_INTERVAL_S and keeps each answer's time."""

    def __init__(self, url: str) -> None:
        super().__init__(name="health-poller", daemon=True)
        self.url = f"{url}/_stcore/health"
        self.seconds: list[float] = []
        self.failures: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=HEALTH_TIMEOUT_S) as reply:
                    reply.read()
                    if reply.status != 200:
                        self.failures.append(f"HTTP {reply.status}")
            except OSError as error:
                self.failures.append(f"{time.strftime('%H:%M:%S')} {error!r}"[:200])
            elapsed = time.perf_counter() - start
            self.seconds.append(elapsed)
            self.stopping.wait(max(0.0, HEALTH_INTERVAL_S - elapsed))

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=HEALTH_TIMEOUT_S + 5)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.seconds)
        return {
            "checks": len(ordered),
            "failures": len(self.failures),
            "failure_examples": self.failures[:5],
            "median_seconds": statistics.median(ordered) if ordered else None,
            "p99_seconds": ordered[int(0.99 * (len(ordered) - 1))] if ordered else None,
            "worst_seconds": ordered[-1] if ordered else None,
        }


# --- Runs ---------------------------------------------------------------------------------


def saved_records(runs_dir: Path) -> dict[str, dict[str, Any]]:
    """Run folder name -> record.json of every complete run (saving renames whole folders)."""
    records: dict[str, dict[str, Any]] = {}
    if not runs_dir.is_dir():
        return records
    for folder in sorted(runs_dir.iterdir()):
        record_path = folder / "record.json"
        if folder.name.startswith(".") or not record_path.is_file():
            continue
        try:
            record = json.loads(record_path.read_text())
        except (OSError, ValueError):
            continue
        record["_saved_at"] = record_path.stat().st_mtime
        records[folder.name] = record
    return records


async def wait_for_runs(
    server: AppServer, count: int, timeout_s: float, poll_s: float = 0.5
) -> dict[str, dict[str, Any]]:
    """Poll the server's runs folder until `count` runs are saved; raise on timeout."""
    deadline = time.monotonic() + timeout_s
    reported = -1
    while True:
        records = saved_records(server.runs_dir)
        if len(records) >= count:
            return records
        if len(records) != reported:
            reported = len(records)
            log(f"{reported} of {count} runs saved")
        if not server.alive():
            raise RuntimeError(f"the server exited with {server.process and server.process.poll()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(records)} of {count} runs saved after {timeout_s:.0f} s")
        await asyncio.sleep(poll_s)


def iso_to_epoch(value: Any) -> float | None:
    """Seconds since the epoch of a record's ISO timestamp (UTC, whole seconds)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def run_summary(record: dict[str, Any]) -> dict[str, Any]:
    """What the tables use from a record.json."""
    config = record.get("config") or {}
    return {
        "owner": record.get("owner"),
        "status": record.get("status"),
        "test_accuracy": record.get("test_accuracy"),
        "images_per_second": record.get("images_per_second"),
        "train_seconds": record.get("train_seconds"),
        "epochs": record.get("epochs"),
        "steps": record.get("steps"),
        "batch_size": config.get("batch_size"),
        "time_budget_seconds": config.get("time_budget_seconds"),
        "worker": record.get("worker"),
        "device": record.get("device"),
        "started_at": record.get("started_at"),
        "created_at": record.get("created_at"),
        "saved_at": record.get("_saved_at"),
    }


def run_headless(settings: Settings, work: Path, name: str = "headless-runs") -> dict[str, Any]:
    """The baseline: `python -m core.train` alone, on the same data, preset and budget."""
    runs_dir = work / name
    command = [
        sys.executable, "-m", "core.train", "--dataset", DATASET, "--preset", PRESET,
        "--time-budget", str(settings.budget), "--runs-dir", str(runs_dir),
        "--data-dir", str(settings.data_dir),
    ]  # fmt: skip
    log("headless: " + " ".join(command[1:]))
    environment = dict(os.environ, CONVLAB_DATA_DIR=str(settings.data_dir))
    environment.pop("CONVLAB_DASK_SCHEDULER", None)
    start = time.perf_counter()
    with open(work / f"{name}.log", "wb") as stderr:
        completed = subprocess.run(
            command,
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            timeout=settings.budget + HEADLESS_ALLOWANCE_S,
            check=False,
        )
    wall = time.perf_counter() - start
    lines = completed.stdout.decode(errors="replace").strip().splitlines()
    if completed.returncode != 0 or not lines:
        raise RuntimeError(
            f"core.train exited with {completed.returncode}; see {work / f'{name}.log'}"
        )
    summary: dict[str, Any] = json.loads(lines[-1])
    records = saved_records(runs_dir)
    record = run_summary(next(iter(records.values()))) if records else {}
    result = {**record, **{key: summary.get(key) for key in ("test_accuracy", "images_per_second")}}
    result["train_seconds"] = summary.get("train_seconds")
    result["wall_seconds"] = wall
    log(
        f"headless: {result['images_per_second']:,.0f} images/s, "
        f"accuracy {result['test_accuracy']:.4f}, {wall:.0f} s in all"
    )
    return result


# --- Browser ------------------------------------------------------------------------------


def train_link(url: str, user: str, budget: int) -> str:
    return f"{url}/train?user={user}&dataset={DATASET}&preset={PRESET}&time_budget={budget}"


async def launch_browser(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGUMENTS, headless=True
    )


async def wait_idle(page: Page, timeout_s: float = PAGE_TIMEOUT_S) -> None:
    """The script has finished and no element is stale (TRAPS.md)."""
    await page.wait_for_selector(IDLE, timeout=timeout_s * 1000)
    await page.wait_for_function(NOTHING_STALE, timeout=timeout_s * 1000)


async def open_session(browser: Browser, url: str, user: str, budget: int) -> tuple[Page, bool]:
    """A new browser context (its own Streamlit session) on the Train page, ready to click.

    Returns the page and whether it first opened without the app's frame and was refreshed:
    on a fresh server, a deep link opened while another session's first run is under way can
    run pages/train.py alone, in Streamlit's pages/ mode (ui/frame.py flips that mode for the
    process, and reruns only the session that flipped it). Such a page has no sidebar, so no
    user, and its Train button stays disabled; a student would refresh it.
    """
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    link = train_link(url, user, budget)
    await page.goto(link, timeout=PAGE_TIMEOUT_S * 1000)
    await wait_idle(page)
    train = page.get_by_role("button", name="Train", exact=True)
    await train.wait_for(timeout=PAGE_TIMEOUT_S * 1000)
    refreshed = False
    if not await train.is_enabled() and await page.get_by_label("Your name").count() == 0:
        refreshed = True
        log(f"{user}: the Train page opened without the app's frame (no sidebar); refreshing")
        await page.goto(link, timeout=PAGE_TIMEOUT_S * 1000)
        await wait_idle(page)
    await expect(train).to_be_enabled(timeout=PAGE_TIMEOUT_S * 1000)
    await wait_idle(page)
    body = await page.inner_text("body")
    if "From the link:" in body:
        problem = body[body.find("From the link:") :].splitlines()[0]
        raise RuntimeError(f"{user}: the page did not take the link's setup: {problem}")
    return page, refreshed


async def open_sessions(
    browser: Browser, url: str, users: list[str], budget: int, concurrency: int
) -> tuple[list[Page], list[str]]:
    """Open a page per user, at most `concurrency` loading at a time, in the users' order.

    Returns the pages and the users whose page opened without the frame (see open_session).
    """
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(user: str) -> tuple[Page, bool]:
        async with gate:
            opened = await open_session(browser, url, user, budget)
            log(f"{user}: Train page ready")
            return opened

    opened = await asyncio.gather(*(one(user) for user in users))
    pages = [page for page, _ in opened]
    refreshed = [user for user, (_, again) in zip(users, opened, strict=True) if again]
    return pages, refreshed


async def click_and_observe(page: Page, observation: Observation) -> Observation:
    """Click Train and keep the first line the page then shows about the training."""
    observation.click_time = time.time()
    await page.get_by_role("button", name="Train", exact=True).click(timeout=60_000)
    handle = await page.wait_for_function(
        STATUS_SCRIPT, polling=200, timeout=STATUS_TIMEOUT_S * 1000
    )
    observation.status = str(await handle.json_value())
    observation.observed_time = time.time()
    return observation


async def result_shown(page: Page, timeout_s: float) -> bool:
    """Whether the page ends up showing its saved run."""
    try:
        await page.get_by_text("Saved as run").first.wait_for(timeout=timeout_s * 1000)
    except Exception:
        return False
    return True


async def close_contexts(pages: list[Page]) -> None:
    contexts: list[BrowserContext] = [page.context for page in pages]
    await asyncio.gather(*(context.close() for context in contexts), return_exceptions=True)


# --- Checks -------------------------------------------------------------------------------


def queue_check(observations: list[Observation], records: list[dict[str, Any]]) -> dict[str, Any]:
    """Are the queue positions seen right after the clicks plausible?

    Positions seen at one moment are distinct and run 1..k. A training starting between two
    pages' looks moves everyone behind it up one place, so a number may then repeat: at most
    once per training that started between the first click and the last look.
    """
    total = len(observations)
    positions = [item.position for item in observations if item.position is not None]
    first = min(item.click_time for item in observations) - 1
    last = max(item.observed_time for item in observations) + 1
    starts = [iso_to_epoch(record.get("started_at")) for record in records]
    started_meanwhile = sum(1 for start in starts if start is not None and first <= start <= last)
    repeats = len(positions) - len(set(positions))
    in_range = all(1 <= position <= total for position in positions)
    distinct = repeats == 0
    return {
        "positions_in_click_order": [
            item.position for item in sorted(observations, key=lambda item: item.click_time)
        ],
        "queued": len(positions),
        "distinct": distinct,
        "contiguous_from_1": sorted(positions) == list(range(1, len(positions) + 1)),
        "in_range": in_range,
        "repeats": repeats,
        "trainings_started_while_clicking": started_meanwhile,
        "plausible": in_range and repeats <= started_meanwhile,
        "failures_seen": [
            item.status
            for item in observations
            if item.status.startswith(("Training failed", "Trainings cannot", "Cancelled"))
        ],
    }


def describe_positions(positions: list[int | None]) -> str:
    return ", ".join("-" if position is None else str(position) for position in positions)


# --- Phases -------------------------------------------------------------------------------


async def phase_one(playwright: Playwright, settings: Settings, work: Path) -> dict[str, Any]:
    """One student: the headless baseline and the same training through the app, alternated.

    Other tenants of the machine swing throughput by 10-20% from one minute to the next, so
    each round runs the headless trainer and then the app, and the ratio is their median.
    """
    result: dict[str, Any] = {"budget_seconds": settings.budget, "rounds": []}
    folder = work / "phase1"
    folder.mkdir()
    with AppServer(
        settings.data_dir, folder / "runs", folder / "streamlit.log", settings.watch_files
    ) as server:
        monitor = ServerMonitor(server.pid)
        monitor.start()
        browser = await launch_browser(playwright)
        try:
            page, _ = await open_session(browser, server.url, "student1", settings.budget)
            ready = monitor.sample()
            for number in range(1, settings.rounds + 1):
                headless = run_headless(settings, work, f"headless-runs-{number}")
                observation = await click_and_observe(page, Observation("student1"))
                log(f"round {number}, student1: {observation.status}")
                running = page.get_by_role("button", name="Stop")
                await running.first.wait_for(timeout=(settings.budget + PER_RUN_ALLOWANCE_S) * 1000)
                window_start = monitor.sample()
                records = await wait_for_runs(
                    server, number, settings.budget + PER_RUN_ALLOWANCE_S, poll_s=0.2
                )
                window_end = monitor.sample()
                shown = await result_shown(page, RESULT_ON_PAGE_TIMEOUT_S)
                newest = max(records.values(), key=lambda record: str(record.get("created_at")))
                app = run_summary(newest)
                if window_start is None or window_end is None:
                    raise RuntimeError("the training window could not be measured")
                window = window_end.time - window_start.time
                cores = (window_end.server_cpu_seconds - window_start.server_cpu_seconds) / window
                ratio = app["images_per_second"] / headless["images_per_second"]
                log(f"round {number}: app {ratio:.2f}x headless, server {cores:.3f} cores")
                result["rounds"].append(
                    {
                        "headless": headless,
                        "app": app,
                        "speed_ratio": ratio,
                        "server_cpu_cores_in_window": cores,
                        "training_window_seconds": window,
                        "click_to_saved_seconds": window_end.time - observation.click_time,
                        "result_shown_on_page": shown,
                        "first_status": observation.status,
                    }
                )
            end = monitor.sample()
        finally:
            await browser.close()
            monitor.stop()
    rounds = result["rounds"]
    middle = sorted(rounds, key=lambda one: one["speed_ratio"])[len(rounds) // 2]
    ratio = statistics.median(one["speed_ratio"] for one in rounds)
    cores = max(one["server_cpu_cores_in_window"] for one in rounds)
    result.update(
        {
            "headless": middle["headless"],
            "app": middle["app"],
            "first_status": rounds[0]["first_status"],
            "result_shown_on_page": all(one["result_shown_on_page"] for one in rounds),
            "click_to_saved_seconds": middle["click_to_saved_seconds"],
            "training_window_seconds": middle["training_window_seconds"],
            "server_cpu_cores_in_window": cores,
            "server_rss_ready": ready.server_rss if ready else None,
            "server_rss_end": end.server_rss if end else None,
            "server_rss_peak": monitor.peak_server_rss(),
            "total_rss_peak": monitor.peak_total_rss(),
            "speed_ratio": ratio,
            "accuracy_difference_points": 100
            * (middle["app"]["test_accuracy"] - middle["headless"]["test_accuracy"]),
            "limits": {
                "speed_ratio_at_least_0.9": ratio >= MIN_SPEED_RATIO,
                "server_cpu_under_0.33_cores": cores < MAX_SERVER_CORES,
            },
        }
    )
    log(f"phase 1: app {ratio:.2f}x headless (median of {len(rounds)}), server {cores:.3f} cores")
    return result


async def phase_many(
    playwright: Playwright,
    settings: Settings,
    work: Path,
    *,
    name: str,
    count: int,
    budget: int,
    click_interval: float,
) -> dict[str, Any]:
    """`count` students open the link and click Train; wait for every run and watch the server.

    click_interval 0 clicks all pages at once; otherwise one click every click_interval s.
    """
    folder = work / name
    folder.mkdir()
    users = [f"student{index}" for index in range(1, count + 1)]
    result: dict[str, Any] = {"students": count, "budget_seconds": budget}
    with AppServer(
        settings.data_dir, folder / "runs", folder / "streamlit.log", settings.watch_files
    ) as server:
        monitor = ServerMonitor(server.pid)
        health = HealthPoller(server.url)
        monitor.start()
        health.start()
        browser = await launch_browser(playwright)
        pages: list[Page] = []
        try:
            start = time.perf_counter()
            pages, refreshed = await asyncio.wait_for(
                open_sessions(browser, server.url, users, budget, settings.open_concurrency),
                timeout=count * OPEN_ALLOWANCE_S + PAGE_TIMEOUT_S,
            )
            result["pages_opened_without_frame"] = refreshed
            result["open_seconds"] = time.perf_counter() - start
            log(f"{name}: {count} pages ready in {result['open_seconds']:.0f} s; clicking Train")
            observations = [Observation(user) for user in users]
            if click_interval <= 0:
                await asyncio.gather(
                    *(
                        click_and_observe(page, item)
                        for page, item in zip(pages, observations, strict=True)
                    )
                )
            else:
                tasks = []
                for page, item in zip(pages, observations, strict=True):
                    tasks.append(asyncio.create_task(click_and_observe(page, item)))
                    await asyncio.sleep(click_interval)
                await asyncio.gather(*tasks)
            first_click = min(item.click_time for item in observations)
            for item in observations:
                log(f"{item.user}: {item.status}")
            records = await wait_for_runs(server, count, count * (budget + PER_RUN_ALLOWANCE_S))
            shown = await asyncio.gather(
                *(result_shown(page, RESULT_ON_PAGE_TIMEOUT_S) for page in pages)
            )
            records = saved_records(server.runs_dir)  # Again: a run saved twice would show.
        finally:
            await close_contexts(pages)
            await browser.close()
            health.stop()
            monitor.stop()
    runs = [run_summary(record) for record in records.values()]
    owners = sorted(str(run["owner"]) for run in runs)
    by_owner = {run["owner"]: run for run in runs}
    last_saved = max(run["saved_at"] for run in runs)
    result.update(
        {
            "click_spread_seconds": max(item.click_time for item in observations) - first_click,
            "observations": [
                {
                    "user": item.user,
                    "first_status": item.status,
                    "position": item.position,
                    "seconds_after_first_click": item.click_time - first_click,
                    "seconds_to_first_status": item.observed_time - item.click_time,
                }
                for item in observations
            ],
            "queue": queue_check(observations, list(records.values())),
            "runs": [by_owner.get(user) for user in users],
            "runs_saved": len(runs),
            "distinct_owners": len(set(owners)),
            "owners_match_students": owners == sorted(users),
            "results_shown_on_pages": sum(shown),
            "first_click_to_last_saved_seconds": last_saved - first_click,
            "server_rss_peak": monitor.peak_server_rss(),
            "total_rss_peak": monitor.peak_total_rss(),
            "most_descendant_processes": monitor.most_descendants(),
            "health": health.summary(),
        }
    )
    return result


async def phase_two(
    playwright: Playwright, settings: Settings, work: Path, lone_accuracy: float | None
) -> dict[str, Any]:
    """Students at once: accuracy against the lone run, memory, and the server's answers."""
    result = await phase_many(
        playwright,
        settings,
        work,
        name="phase2",
        count=settings.students,
        budget=settings.budget,
        click_interval=0,
    )
    accuracies = [run["test_accuracy"] for run in result["runs"] if run]
    result["lone_accuracy"] = lone_accuracy
    differences = (
        [100 * abs(accuracy - lone_accuracy) for accuracy in accuracies]
        if lone_accuracy is not None
        else []
    )
    result["worst_accuracy_difference_points"] = max(differences, default=None)
    health = result["health"]
    result["limits"] = {
        "accuracy_within_0.5_points": None
        if not differences
        else max(differences) <= MAX_ACCURACY_POINTS,
        "server_rss_at_most_1.5_GB": result["server_rss_peak"] <= MAX_SERVER_RSS,
        "total_rss_at_most_2.7_GB": result["total_rss_peak"] <= MAX_TOTAL_RSS,
        "server_answered_throughout": health["failures"] == 0 and health["checks"] > 0,
        "all_runs_saved": result["owners_match_students"],
    }
    return result


async def phase_three(playwright: Playwright, settings: Settings, work: Path) -> dict[str, Any]:
    """A class submits short trainings: nothing lost, plausible queue, server up, memory."""
    result = await phase_many(
        playwright,
        settings,
        work,
        name="phase3",
        count=settings.sessions,
        budget=settings.session_budget,
        click_interval=settings.click_interval,
    )
    health = result["health"]
    result["limits"] = {
        "no_run_lost": result["owners_match_students"],
        "queue_positions_plausible": result["queue"]["plausible"],
        "server_answered_throughout": health["failures"] == 0 and health["checks"] > 0,
    }
    return result


# --- Tables -------------------------------------------------------------------------------


def megabytes(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 1e6:,.0f} MB"


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def yes_no(value: bool | None) -> str:
    return "n/a" if value is None else ("yes" if value else "**no**")


def seconds(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f} s"


def phase_one_table(result: dict[str, Any]) -> str:
    headless, app = result["headless"], result["app"]
    limits = result["limits"]
    rows = [
        f"One student: MNIST, fast preset, {result['budget_seconds']} s time budget.",
        "",
        "| | headless `core.train` | app in Chromium | limit | met |",
        "| --- | ---: | ---: | --- | --- |",
        f"| images per second | {headless['images_per_second']:,.0f} "
        f"| {app['images_per_second']:,.0f} ({result['speed_ratio']:.2f}x) "
        f"| ≥ {MIN_SPEED_RATIO:.1f}x headless | {yes_no(limits['speed_ratio_at_least_0.9'])} |",
        f"| test accuracy | {percent(headless['test_accuracy'])} "
        f"| {percent(app['test_accuracy'])} "
        f"({result['accuracy_difference_points']:+.2f} points) | | |",
        f"| trained for | {seconds(headless['train_seconds'], 1)} "
        f"| {seconds(app['train_seconds'], 1)} | | |",
        f"| epochs, batch size | {headless.get('epochs') or 0:.2f}, "
        f"{headless.get('batch_size')} | {app.get('epochs') or 0:.2f}, "
        f"{app.get('batch_size')} | | |",
        f"| trained by | the command's process | Dask worker {app.get('worker')} | | |",
        f"| server process CPU while training (own, not its workers') | "
        f"| {result['server_cpu_cores_in_window']:.3f} cores over "
        f"{result['training_window_seconds']:.0f} s "
        f"| < {MAX_SERVER_CORES} cores | {yes_no(limits['server_cpu_under_0.33_cores'])} |",
        f"| server RSS: page ready, peak, end | | {megabytes(result['server_rss_ready'])}, "
        f"{megabytes(result['server_rss_peak'])}, {megabytes(result['server_rss_end'])} | | |",
        f"| server + descendants peak RSS | | {megabytes(result['total_rss_peak'])} | | |",
        f"| click to saved run | | {seconds(result['click_to_saved_seconds'])} | | |",
        f"| wall time of the command | {seconds(headless['wall_seconds'])} | | | |",
        "",
        f"The median of {len(result['rounds'])} rounds, each the headless trainer then the app "
        "(images per second, headless / app): "
        + "; ".join(
            f"{one['headless']['images_per_second']:,.0f} / {one['app']['images_per_second']:,.0f}"
            f" ({one['speed_ratio']:.2f}x)"
            for one in result["rounds"]
        )
        + ".",
    ]
    return "\n".join(rows)


def runs_table(result: dict[str, Any], lone_accuracy: float | None) -> str:
    rows = [
        "| student | first line after the click | position | test accuracy | vs lone run "
        "| images/s | started | saved |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for item, run in zip(result["observations"], result["runs"], strict=True):
        run = run or {}
        accuracy = run.get("test_accuracy")
        difference = (
            "n/a"
            if accuracy is None or lone_accuracy is None
            else f"{100 * (accuracy - lone_accuracy):+.2f} points"
        )
        status = item["first_status"].replace("|", "/")
        rows.append(
            f"| {item['user']} | {status} | {item['position'] or '-'} | {percent(accuracy)} "
            f"| {difference} | {run.get('images_per_second') or 0:,.0f} "
            f"| {(run.get('started_at') or 'not saved')[11:19]} "
            f"| {(run.get('created_at') or 'not saved')[11:19]} |"
        )
    return "\n".join(rows)


def health_text(health: dict[str, Any]) -> str:
    return (
        f"{health['checks']} checks, {health['failures']} failed; median "
        f"{seconds(health['median_seconds'], 3)}, worst {seconds(health['worst_seconds'], 2)}"
    )


def frameless_row(result: dict[str, Any], empty_cells: str) -> str:
    users = result["pages_opened_without_frame"]
    named = f" ({', '.join(users)})" if users else ""
    return (
        f"| pages that opened without the app's frame (Train disabled; refreshed) "
        f"| {len(users)}{named} {empty_cells}"
    )


def phase_two_table(result: dict[str, Any]) -> str:
    limits = result["limits"]
    count = result["students"]
    rows = [
        f"{count} students at once: MNIST, fast preset, {result['budget_seconds']} s budget, "
        f"Train clicked within {result['click_spread_seconds']:.2f} s.",
        "",
        runs_table(result, result["lone_accuracy"]),
        "",
        "| | measured | limit | met |",
        "| --- | ---: | --- | --- |",
        f"| runs saved, distinct owners | {result['runs_saved']} of {count}, "
        f"{result['distinct_owners']} | all | {yes_no(limits['all_runs_saved'])} |",
        "| accuracy furthest from the lone run | "
        + (
            "n/a (phase 1 not run)"
            if result["worst_accuracy_difference_points"] is None
            else f"{result['worst_accuracy_difference_points']:.2f} points"
        )
        + f" | ≤ {MAX_ACCURACY_POINTS} points | {yes_no(limits['accuracy_within_0.5_points'])} |",
        f"| server process peak RSS | {megabytes(result['server_rss_peak'])} "
        f"| ≤ {MAX_SERVER_RSS / 1e9} GB | {yes_no(limits['server_rss_at_most_1.5_GB'])} |",
        f"| server + all descendants peak RSS (summed; "
        f"{result['most_descendant_processes']} processes) "
        f"| {megabytes(result['total_rss_peak'])} | ≤ {MAX_TOTAL_RSS / 1e9} GB "
        f"| {yes_no(limits['total_rss_at_most_2.7_GB'])} |",
        f"| /_stcore/health every {HEALTH_INTERVAL_S} s | {health_text(result['health'])} "
        f"| every check answered | {yes_no(limits['server_answered_throughout'])} |",
        f"| queue positions seen (click order) "
        f"| {describe_positions(result['queue']['positions_in_click_order'])} "
        f"| plausible | {yes_no(result['queue']['plausible'])} |",
        f"| first click to last run saved | {seconds(result['first_click_to_last_saved_seconds'])} "
        "| | |",
        frameless_row(result, "| | |"),
    ]
    return "\n".join(rows)


def phase_three_table(result: dict[str, Any]) -> str:
    limits = result["limits"]
    queue = result["queue"]
    count = result["students"]
    span = result["first_click_to_last_saved_seconds"]
    distinct = "distinct" if queue["distinct"] else f"{queue['repeats']} repeated"
    rows = [
        f"{count} sessions submit: MNIST, fast preset, {result['budget_seconds']} s budget each; "
        f"pages opened in {result['open_seconds']:.0f} s, Train clicked over "
        f"{result['click_spread_seconds']:.1f} s.",
        "",
        "| | measured | check |",
        "| --- | --- | --- |",
        f"| runs saved | {result['runs_saved']} of {count}, {result['distinct_owners']} distinct "
        f"owners | {yes_no(limits['no_run_lost'])} |",
        f"| queue positions right after the click | {queue['queued']} queued, {distinct}, "
        f"range {'1..' + str(count) if queue['in_range'] else 'out of 1..' + str(count)}, "
        f"{queue['trainings_started_while_clicking']} trainings started meanwhile "
        f"| {yes_no(limits['queue_positions_plausible'])} |",
        f"| pages showing their saved run | {result['results_shown_on_pages']} of {count} | |",
        f"| /_stcore/health every {HEALTH_INTERVAL_S} s | {health_text(result['health'])} "
        f"| {yes_no(limits['server_answered_throughout'])} |",
        f"| server process peak RSS | {megabytes(result['server_rss_peak'])} | |",
        f"| server + all descendants peak RSS | {megabytes(result['total_rss_peak'])} | |",
        f"| first click to last run saved | {seconds(span)} "
        f"({span / max(count, 1):.1f} s a run) | |",
        frameless_row(result, "| |"),
        "",
        f"Queue positions in click order: {describe_positions(queue['positions_in_click_order'])}.",
    ]
    return "\n".join(rows)


# --- Main ---------------------------------------------------------------------------------


def parse_settings(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--phases", default="1,2,3", help="which phases to run, e.g. 1,3")
    parser.add_argument("--budget", type=int, default=30, help="phases 1 and 2: seconds")
    parser.add_argument(
        "--rounds", type=int, default=3, help="phase 1: headless-then-app pairs (median)"
    )
    parser.add_argument("--students", type=int, default=4, help="phase 2: students at once")
    parser.add_argument("--sessions", type=int, default=30, help="phase 3: browser sessions")
    parser.add_argument("--session-budget", type=int, default=5, help="phase 3: seconds each")
    parser.add_argument(
        "--click-interval", type=float, default=0.25, help="phase 3: seconds between clicks"
    )
    parser.add_argument(
        "--open-concurrency", type=int, default=3, help="pages loading at once (phases 2, 3)"
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (runs, logs)")
    parser.add_argument("--strict", action="store_true", help="exit 2 when a limit is missed")
    parser.add_argument(
        "--watch-files",
        action="store_true",
        help="leave Streamlit's file watcher on (default: --server.fileWatcherType none)",
    )
    arguments = parser.parse_args(argv)
    try:
        phases = tuple(sorted({int(part) for part in arguments.phases.split(",") if part}))
    except ValueError:
        parser.error(f"--phases takes numbers 1-3 separated by commas; got {arguments.phases!r}")
    if not phases or any(phase not in (1, 2, 3) for phase in phases):
        parser.error(f"--phases takes numbers 1-3 separated by commas; got {arguments.phases!r}")
    for name in ("budget", "session_budget"):
        if not 5 <= getattr(arguments, name) <= 3600:
            parser.error(f"--{name.replace('_', '-')} must be 5..3600 s, as the Train page allows")
    if arguments.students < 1 or arguments.sessions < 1 or arguments.open_concurrency < 1:
        parser.error("--students, --sessions and --open-concurrency must be at least 1")
    if not (arguments.data_dir / DATASET).is_dir():
        parser.error(f"no {DATASET} folder in {arguments.data_dir} (pass --data-dir)")
    if not CHROMIUM.exists():
        parser.error(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
    return Settings(
        phases=phases,
        budget=arguments.budget,
        rounds=max(1, arguments.rounds),
        students=arguments.students,
        sessions=arguments.sessions,
        session_budget=arguments.session_budget,
        click_interval=max(0.0, arguments.click_interval),
        open_concurrency=arguments.open_concurrency,
        data_dir=arguments.data_dir.resolve(),
        output=arguments.output,
        keep=arguments.keep,
        strict=arguments.strict,
        watch_files=arguments.watch_files,
    )


@dataclass
class Report:
    """What the phases measured, and which could not finish."""

    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


async def run_phases(settings: Settings, work: Path, report: Report) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        for phase in settings.phases:
            key = f"phase{phase}"
            log(f"phase {phase} starts")
            try:
                if phase == 1:
                    report.results[key] = await phase_one(playwright, settings, work)
                elif phase == 2:
                    lone = report.results.get("phase1", {}).get("app", {}).get("test_accuracy")
                    report.results[key] = await phase_two(playwright, settings, work, lone)
                else:
                    report.results[key] = await phase_three(playwright, settings, work)
            except Exception as error:
                report.errors[key] = f"{error.__class__.__name__}: {error}"
                log(f"phase {phase} failed: {report.errors[key]}")
                traceback.print_exc(file=sys.stderr)
                server_log = work / key / "streamlit.log"
                if server_log.is_file():
                    log(f"end of {server_log}:\n{server_log.read_text(errors='replace')[-3000:]}")


def print_tables(settings: Settings, report: Report) -> None:
    cpu = os.cpu_count()
    memory = psutil.virtual_memory().total / 1e9
    print(
        f"Measured {datetime.now():%Y-%m-%d} on {cpu} cores and {memory:.0f} GB of memory, "
        f"Python {platform.python_version()}, {CHROMIUM} headless through Playwright; each "
        "phase on a fresh `streamlit run dashboard.py`.\n"
    )
    tables = {"phase1": phase_one_table, "phase2": phase_two_table, "phase3": phase_three_table}
    for key, table in tables.items():
        if key in report.results:
            print(f"### Phase {key[-1]}\n")
            print(table(report.results[key]))
            print()
        elif key in report.errors:
            print(f"### Phase {key[-1]}\n\nDid not finish: {report.errors[key]}\n")


def missed_limits(report: Report) -> list[str]:
    return [
        f"{key}: {name}"
        for key, result in report.results.items()
        for name, met in result.get("limits", {}).items()
        if met is False
    ]


def write_json(settings: Settings, report: Report, work: Path) -> None:
    settings.output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "measured_at": datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "memory_bytes": psutil.virtual_memory().total,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "dask_workers_variable": os.environ.get("CONVLAB_DASK_WORKERS"),
        },
        "settings": {
            "phases": list(settings.phases),
            "budget": settings.budget,
            "students": settings.students,
            "sessions": settings.sessions,
            "session_budget": settings.session_budget,
            "click_interval": settings.click_interval,
            "open_concurrency": settings.open_concurrency,
            "data_dir": str(settings.data_dir),
            "watch_files": settings.watch_files,
        },
        "limits": {
            "min_speed_ratio": MIN_SPEED_RATIO,
            "max_server_cores": MAX_SERVER_CORES,
            "max_accuracy_points": MAX_ACCURACY_POINTS,
            "max_server_rss_bytes": MAX_SERVER_RSS,
            "max_total_rss_bytes": MAX_TOTAL_RSS,
            "missed": missed_limits(report),
        },
        **report.results,
        "errors": report.errors,
        "work_folder_kept": str(work) if (settings.keep or report.errors) else None,
    }
    settings.output.write_text(json.dumps(document, indent=2, default=str) + "\n")
    log(f"numbers written to {settings.output}")


def stop_on_signal(number: int, frame: FrameType | None) -> None:
    """SIGTERM ends the benchmark as Ctrl-C does, so the servers and browsers are cleaned up."""
    raise KeyboardInterrupt(f"signal {number}")


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(argv)
    signal.signal(signal.SIGTERM, stop_on_signal)
    work = Path(tempfile.mkdtemp(prefix="convlab-classroom-"))
    log(f"work folder {work}")
    report = Report()
    try:
        asyncio.run(run_phases(settings, work, report))
    except KeyboardInterrupt:
        report.errors["interrupted"] = "interrupted before the phases finished"
        log("interrupted")
    finally:
        print_tables(settings, report)
        write_json(settings, report, work)
        if settings.keep or report.errors:
            log(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    missed = missed_limits(report)
    if missed:
        log("limits missed: " + "; ".join(missed))
    if report.errors:
        return 1
    return 2 if settings.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
