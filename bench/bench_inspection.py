"""Time evaluation and inspection on an MNIST-size CNN; prints a Markdown table of medians."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from core import evaluation, inspection  # noqa: E402


def build_benchmark_cnn() -> keras.Model:
    """conv32-pool-conv64-pool-dense128 on 28x28x1, as a student's first MNIST model."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def time_runs(function: Callable[[], object], runs: int) -> list[float]:
    durations = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        durations.append(time.perf_counter() - start)
    return durations


def format_seconds(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5, help="runs of each dataset-wide operation")
    parser.add_argument("--single-runs", type=int, default=50, help="runs of each one-image call")
    parser.add_argument("--skip-tsne", action="store_true")
    arguments = parser.parse_args()

    keras.utils.set_random_seed(0)
    model = build_benchmark_cnn()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (arguments.images, 28, 28, 1), dtype=np.uint8)
    labels = rng.integers(0, 10, arguments.images)
    image = images[0]
    rows: list[tuple[str, list[float], str]] = []

    def add(name: str, durations: list[float], target: str = "") -> None:
        rows.append((name, durations, target))

    count = f"{arguments.images:,}"
    # evaluate() builds and traces a fresh tf.function each call, so its runs include tracing.
    add(
        f"evaluate {count} images (tf.function, batch 1024)",
        time_runs(lambda: evaluation.evaluate(model, images, labels), arguments.runs),
        "< 3 s",
    )
    model.predict(images[:1024], batch_size=1024, verbose=0)
    add(
        f"for comparison: model.predict {count} images, batch 1024",
        time_runs(lambda: model.predict(images, batch_size=1024, verbose=0), arguments.runs),
    )

    start = time.perf_counter()
    feature_model = inspection.build_feature_model(model)
    inspection.feature_maps(feature_model, image)
    inspection.class_activation(feature_model, image)
    inspection.saliency(feature_model, image)
    add("build_feature_model + first call of each probe (tracing)", [time.perf_counter() - start])

    single = arguments.single_runs
    add(
        "feature_maps, one image (cached FeatureModel)",
        time_runs(lambda: inspection.feature_maps(feature_model, image), single),
        "< 100 ms",
    )
    add(
        "class_activation (Grad-CAM), one image (cached FeatureModel)",
        time_runs(lambda: inspection.class_activation(feature_model, image), single),
        "< 100 ms",
    )
    add(
        "saliency, one image (cached FeatureModel)",
        time_runs(lambda: inspection.saliency(feature_model, image), single),
        "< 100 ms",
    )
    add(
        "feature_maps, one image (plain model, no cache)",
        time_runs(lambda: inspection.feature_maps(model, image), single),
        "< 100 ms",
    )
    add(
        "class_activation, one image (plain model, no cache)",
        time_runs(lambda: inspection.class_activation(model, image), single),
        "< 100 ms",
    )
    add(
        "embedding PCA, 2,000 images",
        time_runs(lambda: inspection.embedding(model, images[:2000], "pca"), arguments.runs),
    )
    if not arguments.skip_tsne:
        add(
            "embedding t-SNE, 1,000 images (1 thread)",
            time_runs(lambda: inspection.embedding(model, images[:1000], "tsne"), 1),
        )

    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; random uint8 images, untrained "
        "conv32-pool-conv64-pool-dense128 on 28x28x1.\n"
    )
    print("| operation | median | min | runs | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, durations, target in rows:
        median, fastest = statistics.median(durations), min(durations)
        print(
            f"| {name} | {format_seconds(median)} | {format_seconds(fastest)} "
            f"| {len(durations)} | {target} |"
        )


if __name__ == "__main__":
    main()
