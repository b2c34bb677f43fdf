"""Benchmark: one convolution step (the Inside page's click on a pixel) and similar images.

Run: python bench/bench_convolution_step.py [--steps 50] [--searches 20] [--references 10000]

Builds untrained preset models (the arithmetic costs the same trained or not): 'fast' on
28x28x1 (MNIST) and on 32x32x3 (CIFAR-10), and 'small_vgg' on 32x32x3. For each it times
core.inspection.convolution_step on every Conv2D at corners and middles, in turn, after one
warm-up call, and core.inspection.similar_images for one image against `references` random
images whose penultimate features were computed once beforehand, as a page would cache them.
Target: under 100 ms a call. Writes bench/results/convolution_step.{md,json}.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(ROOT))

TARGET_MS = 100.0
MODELS = (
    ("fast", (28, 28, 1)),
    ("fast", (32, 32, 3)),
    ("small_vgg", (32, 32, 3)),
)


def time_calls(function: Callable[[], object], calls: int) -> list[float]:
    """Milliseconds of each of `calls` calls."""
    durations = []
    for _ in range(calls):
        start = time.perf_counter()
        function()
        durations.append((time.perf_counter() - start) * 1000)
    return durations


def measure_model(
    preset: str, image_shape: tuple[int, int, int], arguments: argparse.Namespace, seed: int
) -> dict:
    """Time convolution_step and similar_images on one untrained preset model."""
    import keras
    import numpy as np

    from core.inspection import convolution_step, penultimate_activations, similar_images
    from core.models import PRESETS, build_model

    rng = np.random.default_rng(seed)
    model = build_model(PRESETS[preset], image_shape, 10, seed=seed)
    image = rng.integers(0, 256, image_shape, dtype=np.uint8)
    references = rng.integers(0, 256, (arguments.references, *image_shape), dtype=np.uint8)
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    # Every convolution in turn, at a corner (padding), the middle and the far corner.
    clicks = itertools.cycle(
        [
            (layer.name, row, col, channel)
            for layer in convolutions
            for row, col, channel in (
                (0, 0, 0),
                (layer.output.shape[1] // 2, layer.output.shape[2] // 2, 1),
                (layer.output.shape[1] - 1, layer.output.shape[2] - 1, 2),
            )
        ]
    )

    def step() -> None:
        convolution_step(model, image, *next(clicks))

    first_step_ms = time_calls(step, 1)[0]
    step_ms = time_calls(step, arguments.steps)

    start = time.perf_counter()
    features = penultimate_activations(model, references)
    features_seconds = time.perf_counter() - start

    def search() -> None:
        similar_images(model, image, references, 5, reference_features=features)

    first_search_ms = time_calls(search, 1)[0]
    search_ms = time_calls(search, arguments.searches)
    return {
        "model": f"{preset} on {'x'.join(str(size) for size in image_shape)}",
        "convolutions": len(convolutions),
        "features": int(features.shape[1]),
        "first_step_ms": first_step_ms,
        "step_ms": step_ms,
        "step_median_ms": statistics.median(step_ms),
        "reference_features_seconds": features_seconds,
        "first_search_ms": first_search_ms,
        "search_ms": search_ms,
        "search_median_ms": statistics.median(search_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="timed convolution_step calls")
    parser.add_argument("--searches", type=int, default=20, help="timed similar_images calls")
    parser.add_argument("--references", type=int, default=10_000)
    arguments = parser.parse_args()

    import keras
    import tensorflow as tf

    from core.training import describe_device

    keras.utils.set_random_seed(0)
    results = []
    for preset, image_shape in MODELS:
        results.append(measure_model(preset, image_shape, arguments, seed=0))
        print(results[-1]["model"], "done", flush=True)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    header = (
        f"Measured {time.strftime('%Y-%m-%d')} on {describe_device()}, running on {cores} of "
        f"{os.cpu_count()} cores; TensorFlow {tf.__version__}, Keras {keras.__version__}, Python "
        f"{platform.python_version()}. Untrained preset models, random uint8 images; "
        f"convolution_step: median of {arguments.steps} calls cycling through every Conv2D "
        f"(corners and middle); similar_images: median of {arguments.searches} calls, 5 "
        f"neighbours among {arguments.references:,} references with precomputed features."
    )
    rows = [
        "| model | Conv2D layers | penultimate features | convolution_step, first call "
        "| convolution_step, median | features of the references (once) "
        "| similar_images, median | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        *(
            f"| {result['model']} | {result['convolutions']} | {result['features']:,} "
            f"| {result['first_step_ms']:.1f} ms | **{result['step_median_ms']:.1f} ms** "
            f"| {result['reference_features_seconds']:.2f} s "
            f"| **{result['search_median_ms']:.1f} ms** | < {TARGET_MS:.0f} ms |"
            for result in results
        ),
    ]
    met = all(
        max(result["step_median_ms"], result["search_median_ms"]) < TARGET_MS for result in results
    )
    summary = [header, "", *rows, "", f"- Every median under {TARGET_MS:.0f} ms: {met}."]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "convolution_step.json").write_text(
        json.dumps({"device": describe_device(), "cores": cores, "results": results}, indent=2)
    )
    (RESULTS / "convolution_step.md").write_text("\n".join(summary) + "\n")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
