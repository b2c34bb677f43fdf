"""Benchmark: peak memory of the app's server process while it trains on CIFAR-10.

Run: python bench/bench_app_memory.py [--seconds 30] [--preset small_vgg]
Writes CIFAR-10-sized python batches (50,000 + 10,000 random 32x32x3 images, the real files
cannot be fetched here) to a temporary data folder, starts `streamlit run dashboard.py`, and in
headless Chromium picks CIFAR-10 on the Train page, sets a time budget and presses Train,
sampling the server's resident memory (with its children) until the run is saved.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_datasets import write_synthetic_cifar  # noqa: E402
from bench_load import CHROMIUM_ARGUMENTS, IDLE, PeakMemory, start_server  # noqa: E402

PRESET_TITLES = {"small_vgg": "Small VGG (for CIFAR-10)", "fast": "Fast default (about a minute)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--preset", default="small_vgg", choices=sorted(PRESET_TITLES))
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="convlab-memory-"))
    write_synthetic_cifar(work / "data" / "cifar-10-batches-py")
    url, server = start_server(str(work / "data"), str(work / "runs"), "/tmp/memory-server.log")
    memory = PeakMemory(server.pid)
    memory.start()
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGUMENTS
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(f"{url}/train?user=bench")
            page.wait_for_selector(IDLE, timeout=120_000)
            page.get_by_text("Compute device:").wait_for(timeout=120_000)
            time.sleep(3)  # Let the device probe's child process end.
            idle_memory = psutil.Process(server.pid).memory_info().rss
            page.locator('[data-testid="stSelectbox"]').first.click()
            page.get_by_role("option", name="CIFAR-10", exact=True).click()
            page.get_by_text("50,000 training and 10,000 test images").wait_for(timeout=120_000)
            page.wait_for_selector(IDLE, timeout=120_000)
            loaded_memory = psutil.Process(server.pid).memory_info().rss
            preset = page.locator('[data-testid="stSelectbox"]').nth(1)
            preset.click()
            page.get_by_role("option", name=PRESET_TITLES[arguments.preset]).click()
            page.wait_for_selector(IDLE, timeout=120_000)
            page.get_by_text("Time budget").click()
            page.wait_for_selector(IDLE, timeout=120_000)
            seconds = page.get_by_label("Seconds")
            seconds.fill(str(arguments.seconds))
            seconds.press("Enter")
            page.wait_for_selector(IDLE, timeout=120_000)
            start = time.perf_counter()
            page.get_by_role("button", name="Train", exact=True).click()
            try:
                page.get_by_text("Saved as run").wait_for(timeout=(arguments.seconds + 240) * 1000)
            except Exception:
                text = page.inner_text("body")
                print(text[text.find("4. Training") :][:1500])
                raise
            elapsed = time.perf_counter() - start
            text = page.locator('[data-testid="stAlertContentSuccess"]').first.inner_text()
            browser.close()
    finally:
        memory.running = False
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    print(f"Preset {arguments.preset}, time budget {arguments.seconds} s, {elapsed:.0f} s from")
    print(f"the click to the saved run. {text.strip()}\n")
    print("| app server process | resident memory |")
    print("| --- | ---: |")
    print(f"| Train page open (TensorFlow imported) | {idle_memory / 1e6:,.0f} MB |")
    print(f"| CIFAR-10 loaded (50,000 + 10,000 images) | {loaded_memory / 1e6:,.0f} MB |")
    print(f"| peak while training and saving | {memory.peak_server / 1e6:,.0f} MB |")
    children = "peak with its children (the Dask worker, the device probe)"
    print(f"| {children} | {memory.peak / 1e6:,.0f} MB |")


if __name__ == "__main__":
    main()
