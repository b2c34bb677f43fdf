"""Benchmark: load time and memory of every dataset through core.datasets.load_dataset.

Run: python bench/bench_datasets.py [--shared ../shared/datasets]
Each load runs in a fresh process so times are cold and memory is that dataset's alone.
MNIST and Fashion-MNIST are the real files; CIFAR-10 and Quick, Draw! are synthesized at
their real sizes (50,000 + 10,000 colour images; 10 categories x 5,000 drawings served over
HTTP with Range on 127.0.0.1), since their real files cannot be fetched here.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.datasets import QUICKDRAW_DEFAULT_CATEGORIES  # noqa: E402

CHILD = """
import json, os, resource, sys, time
import psutil
sys.path.insert(0, {root!r})
from core.datasets import load_dataset, dataset_bytes
before = psutil.Process().memory_info().rss
start = time.perf_counter()
dataset = load_dataset({name!r}, data_dir={data_dir!r})
seconds = time.perf_counter() - start
after = psutil.Process().memory_info().rss
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({{"seconds": seconds, "arrays": dataset_bytes(dataset),
    "rss_added": after - before, "peak_rss": peak, "train": len(dataset.x_train),
    "test": len(dataset.x_test), "shape": list(dataset.x_train.shape[1:])}}))
"""


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder and honours single byte ranges, like Google's bucket."""

    def log_message(self, *arguments) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        from urllib.parse import unquote

        path = Path(self.directory) / unquote(self.path).lstrip("/")
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
        if not path.is_file() or not match:
            self.send_error(404 if not path.is_file() else 400)
            return
        start, end = int(match.group(1)), int(match.group(2))
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def measure(name: str, data_dir: Path, environment: dict[str, str]) -> dict:
    code = CHILD.format(root=str(ROOT), name=name, data_dir=str(data_dir))
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def write_synthetic_cifar(folder: Path) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{index}" for index in range(1, 6)] + ["test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, (10_000, 3072), dtype=np.uint8),
            b"labels": rng.integers(0, 10, 10_000).tolist(),
        }
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle, protocol=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "datasets")
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="convlab-bench-"))
    served = work / "served"
    served.mkdir()
    rng = np.random.default_rng(1)
    for category in QUICKDRAW_DEFAULT_CATEGORIES:
        # Full-size files: 100,000 drawings each (78 MB), of which 5,000 are fetched.
        np.save(served / f"{category}.npy", rng.integers(0, 256, (100_000, 784), dtype=np.uint8))
    handler = functools.partial(RangeHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    environment = dict(os.environ, CONVLAB_QUICKDRAW_URL=f"http://127.0.0.1:{server.server_port}")

    data_dir = work / "data"
    data_dir.mkdir()
    for folder in ("mnist", "fashion-mnist"):
        if (arguments.shared / folder).is_dir():
            (data_dir / folder).symlink_to(arguments.shared / folder)
    write_synthetic_cifar(data_dir / "cifar-10-batches-py")

    rows = []
    cases = [
        ("mnist", "real files"),
        ("fashion_mnist", "real files"),
        ("cifar10", "synthetic, real size"),
        ("quickdraw", "first fetch over HTTP Range, 10 x 5,000"),
        ("quickdraw", "from the cache"),
        ("digits", "bundled with scikit-learn"),
    ]
    for name, note in cases:
        if name in ("mnist", "fashion_mnist") and not (data_dir / name.replace("_", "-")).exists():
            continue
        result = measure(name, data_dir, environment)
        rows.append((name, note, result))
    server.shutdown()
    shutil.rmtree(work)

    print("| dataset | source | train / test | load time | arrays | RSS added | peak RSS |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for name, note, result in rows:
        print(
            f"| {name} | {note} | {result['train']:,} / {result['test']:,} "
            f"| {result['seconds']:.2f} s | {result['arrays'] / 1e6:.0f} MB "
            f"| {result['rss_added'] / 1e6:.0f} MB | {result['peak_rss'] / 1e6:.0f} MB |"
        )


if __name__ == "__main__":
    main()
