"""Benchmark: the time machine and the embedding map as a student meets them, in Chromium.

Run (from the repository root, about 3 minutes on 2 cores):

    . .venv/bin/activate
    python bench/bench_time_machine.py [--budget 20] [--data-dir ../shared/datasets]
        [--screenshots docs/screenshots]

One `streamlit run dashboard.py` (127.0.0.1, a fresh runs folder, its own local Dask cluster)
driven by Debian's headless Chromium through Playwright:

1. A student opens /train?user=Bench&dataset=mnist&preset=fast&time_budget=B and presses Train;
   the run is saved with its checkpoints, time line and PCA map. Measures how long after the
   page says "Saved as run" the t-SNE map is stored by the side task on the worker.
2. Inside the network, Embedding tab: seconds from the tab click to the PCA map of the default
   1,000 test images on screen, then from the "Run t-SNE" click to the t-SNE map (both stored
   with the run). The baseline, in the same run: 1,100 test images, a sample nothing stored,
   whose t-SNE the page computes on the server as it always did.
3. Evaluate: seconds from a key press on the time slider (Home: the untrained network; End:
   the run) to the page showing that point, and a Play from the start to the end.

Prints a Markdown table and writes bench/results/time_machine.{md,json}; with --screenshots,
saves the pages it passes through.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_classroom import (  # noqa: E402
    AppServer,
    launch_browser,
    log,
    open_session,
    result_shown,
    wait_idle,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "bench" / "results"
TIMEOUT_S = 240


async def seconds_until_text(page, action, text: str, timeout_s: float = TIMEOUT_S) -> float:
    """Run `action` (a coroutine function), then wait until `text` shows and the page is idle."""
    start = time.perf_counter()
    await action()
    await page.get_by_text(text).first.wait_for(timeout=timeout_s * 1000)
    await wait_idle(page)
    return time.perf_counter() - start


def stored_tsne(run_dir: Path) -> bool:
    path = run_dir / "embedding.npz"
    if not path.is_file():
        return False
    try:
        with np.load(path) as archive:
            return "tsne" in archive.files
    except (OSError, ValueError):
        return False


async def drive(url: str, runs_dir: Path, budget: int, screenshots: Path | None) -> dict:
    from playwright.async_api import async_playwright

    results: dict = {}
    async with async_playwright() as playwright:
        browser = await launch_browser(playwright)
        page, _ = await open_session(browser, url, "Bench", budget)
        await page.set_viewport_size({"width": 1400, "height": 1000})
        await page.get_by_role("button", name="Train", exact=True).click()
        if not await result_shown(page, budget + TIMEOUT_S):
            raise RuntimeError("the training did not end with a saved run")
        saved_at = time.perf_counter()
        (run_dir,) = [folder for folder in runs_dir.iterdir() if not folder.name.startswith(".")]
        while not stored_tsne(run_dir) and time.perf_counter() - saved_at < TIMEOUT_S:
            await asyncio.sleep(0.2)
        results["tsne_stored_after_save_s"] = time.perf_counter() - saved_at
        record = json.loads((run_dir / "record.json").read_text())
        results["checkpoints"] = [*record["checkpoints"], record["epochs"]]
        results["test_accuracy"] = record["test_accuracy"]
        log(f"t-SNE stored {results['tsne_stored_after_save_s']:.1f} s after the save")

        # Inside the network: the stored maps, then the page's own t-SNE as the baseline.
        await page.goto(f"{url}/inside?user=Bench", timeout=TIMEOUT_S * 1000)
        await wait_idle(page)
        results["embedding_pca_s"] = await seconds_until_text(
            page,
            lambda: page.get_by_role("tab", name="Embedding").click(),
            "1,000 test images by PCA",
        )
        results["embedding_tsne_stored_s"] = await seconds_until_text(
            page,
            lambda: page.get_by_role("button", name="Run t-SNE").click(),
            "1,000 test images by t-SNE",
        )
        if screenshots:
            await page.screenshot(path=str(screenshots / "inside-embedding.png"), full_page=True)
        await page.get_by_role("button", name="Back to PCA").click()
        await wait_idle(page)
        size_slider = page.get_by_role("slider", name="Test images on the map")
        await size_slider.focus()
        await size_slider.press("ArrowRight")  # 1,100 images: no stored map for this sample.
        await page.get_by_text("1,100 test images by PCA").first.wait_for(timeout=TIMEOUT_S * 1000)
        await wait_idle(page)
        results["embedding_tsne_on_page_s"] = await seconds_until_text(
            page,
            lambda: page.get_by_role("button", name="Run t-SNE").click(),
            "1,100 test images by t-SNE",
        )
        log(
            f"map: PCA {results['embedding_pca_s']:.2f} s, stored t-SNE "
            f"{results['embedding_tsne_stored_s']:.2f} s, page t-SNE of 1,100 "
            f"{results['embedding_tsne_on_page_s']:.1f} s"
        )

        # Inside at the untrained start, for the screenshot.
        time_slider = page.get_by_role("slider").first
        await time_slider.focus()
        await time_slider.press("Home")
        await page.get_by_text("The untrained network says").first.wait_for(timeout=60_000)
        await wait_idle(page)
        if screenshots:
            await page.get_by_role("tab", name="Feature maps").click()
            await wait_idle(page)
            await page.screenshot(path=str(screenshots / "inside-untrained.png"), full_page=True)

        # Evaluate: scrub to the start and back, then Play.
        await page.goto(f"{url}/evaluate?user=Bench", timeout=TIMEOUT_S * 1000)
        await wait_idle(page)
        slider = page.get_by_role("slider").first
        await slider.focus()
        results["evaluate_to_untrained_s"] = await seconds_until_text(
            page, lambda: slider.press("Home"), "You are looking at the network"
        )
        if screenshots:
            await page.screenshot(path=str(screenshots / "evaluate-untrained.png"), full_page=True)
        start = time.perf_counter()
        await slider.press("End")
        await page.get_by_text("You are looking at the network").first.wait_for(
            state="detached", timeout=60_000
        )
        await wait_idle(page)
        results["evaluate_to_end_s"] = time.perf_counter() - start
        start = time.perf_counter()
        await page.get_by_role("button", name="Play").click()
        await page.get_by_role("button", name="Pause").wait_for(timeout=60_000)
        await page.get_by_role("button", name="Play").wait_for(timeout=120_000)
        await wait_idle(page)
        results["evaluate_play_s"] = time.perf_counter() - start
        if screenshots:
            await page.screenshot(path=str(screenshots / "evaluate.png"), full_page=True)
        log(
            f"evaluate: to untrained {results['evaluate_to_untrained_s']:.2f} s, back "
            f"{results['evaluate_to_end_s']:.2f} s, play {results['evaluate_play_s']:.1f} s"
        )
        await browser.close()
    return results


def table(results: dict, budget: int) -> str:
    points = len(results["checkpoints"])
    return "\n".join(
        [
            f"MNIST, fast preset, {budget} s budget, trained from the Train page; headless "
            f"Chromium and the server on the same 2 cores; {points} points kept.",
            "",
            "| what the student does | seconds |",
            "| --- | ---: |",
            f"| Inside, Embedding tab: PCA map of 1,000 test images (stored) | "
            f"{results['embedding_pca_s']:.2f} |",
            f"| Run t-SNE on those 1,000 (stored by the worker) | "
            f"{results['embedding_tsne_stored_s']:.2f} |",
            f"| baseline: Run t-SNE on 1,100 (nothing stored, computed on the page) | "
            f"{results['embedding_tsne_on_page_s']:.1f} |",
            f"| t-SNE map stored, counted from the run's save | "
            f"{results['tsne_stored_after_save_s']:.1f} |",
            f"| Evaluate: slider to the untrained network | "
            f"{results['evaluate_to_untrained_s']:.2f} |",
            f"| Evaluate: slider back to the end | {results['evaluate_to_end_s']:.2f} |",
            f"| Evaluate: Play from the start to the end ({points} points) | "
            f"{results['evaluate_play_s']:.1f} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--screenshots", type=Path, default=None)
    arguments = parser.parse_args()
    if arguments.screenshots:
        arguments.screenshots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="convlab-time-machine-") as folder:
        work = Path(folder)
        runs_dir = work / "runs"
        with AppServer(arguments.data_dir, runs_dir, work / "streamlit.log") as server:
            try:
                results = asyncio.run(
                    drive(server.url, runs_dir, arguments.budget, arguments.screenshots)
                )
            except Exception:
                print(server.log_tail(), file=sys.stderr)
                raise
    text = table(results, arguments.budget)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "time_machine.json").write_text(json.dumps(results, indent=2))
    (RESULTS / "time_machine.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
