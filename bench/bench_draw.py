"""Benchmark: canvas to guess, the Draw page's hot path (preprocessing plus Run.predict).

Run: python bench/bench_draw.py [--runs-dir DIR] [--repeats 200]
Uses the newest 28x28 grayscale run in the runs folder, or builds the 'fast' preset with
random weights (the speed does not depend on the weights). Compares the compiled Run.predict
with Keras's model.predict and model(x) on the same input, from the main thread and from a new
thread per call (Streamlit runs each rerun on its own thread).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def canvas_with_a_seven(size: int = 280) -> np.ndarray:
    from PIL import Image, ImageDraw

    picture = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    pen = ImageDraw.Draw(picture)
    pen.line([(70, 60), (210, 60), (120, 230)], fill=(0, 0, 0, 255), width=18, joint="curve")
    return np.asarray(picture)


def median_milliseconds(function, repeats: int, *, new_thread: bool = False) -> float:
    timings = []
    for _ in range(repeats):
        if new_thread:
            box = {}

            def timed(box: dict = box) -> None:
                start = time.perf_counter()
                function()
                box["seconds"] = time.perf_counter() - start

            thread = threading.Thread(target=timed)
            thread.start()
            thread.join()
            timings.append(box["seconds"])
        else:
            start = time.perf_counter()
            function()
            timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default=None)
    parser.add_argument("--repeats", type=int, default=200)
    arguments = parser.parse_args()

    from core.drawing import canvas_to_input
    from core.runs import list_runs, load_run

    summaries = [
        summary
        for summary in list_runs(arguments.runs_dir)
        if (summary.record.get("dataset") or {}).get("image_shape") == [28, 28, 1]
    ]
    if summaries:
        run = load_run(summaries[0].run_dir)
        source = f"run {summaries[0].name}"
    else:
        from core.datasets import load_dataset
        from core.models import PRESETS
        from core.runs import make_record, save_run
        from core.training import TrainConfig, train

        dataset = load_dataset("digits")
        config = TrainConfig(epochs=1, max_train_images=256)
        result = train(PRESETS["fast"], dataset, config)
        folder = save_run(
            result.model,
            make_record(result, dataset, config, preset="fast"),
            tempfile.mkdtemp(),
        )
        run = load_run(folder)
        source = "the fast preset, briefly trained on Digits"
    canvas = canvas_with_a_seven()
    model_input = canvas_to_input(canvas)
    run.predict(model_input)
    run.recognise(model_input)
    run.model.predict(model_input, verbose=0)
    run.model(model_input, training=False)
    rows = [
        ("preprocess (canvas_to_input, 280x280)", lambda: canvas_to_input(canvas), False),
        ("Run.predict (compiled)", lambda: run.predict(model_input), False),
        ("canvas to guess: both", lambda: run.predict(canvas_to_input(canvas)), False),
        ("canvas to guess, new thread", lambda: run.predict(canvas_to_input(canvas)), True),
        ("Run.recognise (guess and familiarity)", lambda: run.recognise(model_input), False),
        (
            "canvas to guess and familiarity",
            lambda: run.recognise(canvas_to_input(canvas)),
            False,
        ),
        ("for comparison: model(x)", lambda: run.model(model_input, training=False), False),
        ("for comparison: model.predict", lambda: run.model.predict(model_input, verbose=0), False),
    ]
    print(f"Model: {source}; median of {arguments.repeats} calls.\n")
    print("| step | median |")
    print("| --- | ---: |")
    for name, function, new_thread in rows:
        repeats = (
            arguments.repeats if "model.predict" not in name else max(20, arguments.repeats // 5)
        )
        print(
            f"| {name} | {median_milliseconds(function, repeats, new_thread=new_thread):.2f} ms |"
        )


if __name__ == "__main__":
    main()
