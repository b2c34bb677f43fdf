"""Benchmark: what keeping a run's time line costs, in training speed, save time and disk space.

Run: python bench/bench_checkpoints.py [--data-dir ../shared/datasets] [--epochs 2] [--rounds 3]

The 'fast' preset trains on real MNIST for a few epochs with checkpoints kept (the untrained
start and every quarter of the run, as core.timeline plans them) and without, alternated
`rounds` times in one process after a warm-up, so both sides see the same machine. It reports
the median training images/s of each side and their ratio (floor: checkpoints cost at most 3%),
then the seconds core.timeline.files_for_result takes when the run is saved (time line on the
test sample, PCA map, TensorBoard logs) and the run folder's size against its model file
(floor: at most 8x the model plus 2 MB). Writes bench/results/checkpoints.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "bench" / "results"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(ROOT))


def folder_bytes(folder: Path) -> int:
    return sum(
        (Path(parent) / name).stat().st_size
        for parent, _, names in os.walk(folder)
        for name in names
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=SHARED_DATASETS)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()

    from core.datasets import load_dataset
    from core.models import PRESETS
    from core.runs import make_record, save_run
    from core.timeline import files_for_result
    from core.training import TrainConfig, describe_device, train

    dataset = load_dataset("mnist", data_dir=arguments.data_dir)
    config = TrainConfig(epochs=arguments.epochs)
    spec = PRESETS["fast"]
    print(f"device {describe_device()}; warming up", flush=True)
    train(spec, dataset, TrainConfig(epochs=1, max_train_images=4096), keep_checkpoints=False)

    speeds: dict[str, list[float]] = {"with": [], "without": []}
    kept_result = None
    for round_number in range(arguments.rounds):
        # Alternate which side goes first, so neither always gets the warmer machine.
        order = ("with", "without") if round_number % 2 == 0 else ("without", "with")
        for side in order:
            result = train(spec, dataset, config, keep_checkpoints=side == "with")
            speeds[side].append(result.images_per_second)
            print(
                f"round {round_number + 1} {side:>7} checkpoints: "
                f"{result.images_per_second:,.0f} images/s, kept {len(result.checkpoint_epochs)}",
                flush=True,
            )
            if side == "with":
                kept_result = result
    assert kept_result is not None
    start = time.perf_counter()
    files = files_for_result(kept_result, dataset, "bench", config)
    files_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        record = make_record(kept_result, dataset, config, spec=spec, preset="fast")
        run_dir = save_run(kept_result.model, record, folder, extra_files=files)
        model_bytes = (run_dir / "model.keras").stat().st_size
        total_bytes = folder_bytes(run_dir)
        file_sizes = {name: len(data) for name, data in files.items()}

    with_speed = statistics.median(speeds["with"])
    without_speed = statistics.median(speeds["without"])
    results = {
        "device": describe_device(),
        "epochs": arguments.epochs,
        "rounds": arguments.rounds,
        "images_per_second_with": speeds["with"],
        "images_per_second_without": speeds["without"],
        "median_with": with_speed,
        "median_without": without_speed,
        "ratio": with_speed / without_speed,
        "checkpoint_epochs": list(kept_result.checkpoint_epochs),
        "files_for_result_seconds": files_seconds,
        "model_bytes": model_bytes,
        "run_folder_bytes": total_bytes,
        "folder_limit_bytes": 8 * model_bytes + 2_000_000,
        "file_bytes": file_sizes,
    }
    rows = [
        "| round | with checkpoints (images/s) | without (images/s) |",
        "| --- | ---: | ---: |",
        *(
            f"| {number + 1} | {with_value:,.0f} | {without_value:,.0f} |"
            for number, (with_value, without_value) in enumerate(
                zip(speeds["with"], speeds["without"], strict=True)
            )
        ),
        f"| **median** | **{with_speed:,.0f}** | **{without_speed:,.0f}** |",
    ]
    summary = [
        f"MNIST, fast preset, {arguments.epochs} epochs, {describe_device()}.",
        "",
        *rows,
        "",
        f"- Speed with checkpoints: **{with_speed / without_speed:.3f}x** (floor 0.97x).",
        f"- Points kept: {', '.join(f'{epoch:g}' for epoch in kept_result.checkpoint_epochs)}, "
        f"then the run itself at {kept_result.epochs_trained:g}.",
        f"- Files made at save time: {files_seconds:.2f} s.",
        f"- Run folder: {total_bytes:,} bytes for a {model_bytes:,}-byte model "
        f"({total_bytes / model_bytes:.1f}x; limit {8 * model_bytes + 2_000_000:,}).",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "checkpoints.json").write_text(json.dumps(results, indent=2))
    (RESULTS / "checkpoints.md").write_text("\n".join(summary) + "\n")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
