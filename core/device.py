"""Which compute device TensorFlow sees, found without making the app wait for TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor

PROBE_TIMEOUT_SECONDS = 120


def describe_tensorflow_devices() -> str:
    """A short description of the device TensorFlow trains on, e.g. 'GPU: NVIDIA H100 (x2)'."""
    import tensorflow as tf  # Imported here: it costs 5 s and 790 MB, paid only when asked.

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU ({os.cpu_count()} cores)"
    details = tf.config.experimental.get_device_details(gpus[0])
    name = details.get("device_name", "GPU")
    return f"GPU: {name}" + (f" (x{len(gpus)})" if len(gpus) > 1 else "")


def probe_devices(timeout_seconds: float = PROBE_TIMEOUT_SECONDS) -> str:
    """describe_tensorflow_devices run in a child process.

    The child pays TensorFlow's import, so an app that only shows galleries never holds it.
    """
    if "tensorflow" in sys.modules:
        return describe_tensorflow_devices()
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    code = "from core.device import describe_tensorflow_devices as d; print(d())"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        completed = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout_seconds,
            cwd=root,
            env=environment,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown ({error.__class__.__name__})"
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        return "unknown (TensorFlow did not start)"
    return lines[-1]


def start_device_probe() -> Future[str]:
    """Start probe_devices in a background thread and return its future."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="convlab-device-probe")
    future = executor.submit(probe_devices)
    executor.shutdown(wait=False)
    return future
