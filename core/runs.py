"""The run store: each saved training run is a folder with model.keras and record.json."""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # Listing runs must not pay TensorFlow's 5 s import; loading one does.
    import keras

    from core.datasets import Dataset
    from core.models import ModelSpec
    from core.training import TrainConfig, TrainResult

RUNS_DIR_ENVIRONMENT_VARIABLE = "CONVLAB_RUNS_DIR"
APP_ROOT = Path(__file__).resolve().parent.parent
MODEL_FILE_NAME = "model.keras"
RECORD_FILE_NAME = "record.json"
RECORD_FORMAT_VERSION = 1
# Folders being written or deleted start with a dot, so listings never show them.
TEMPORARY_PREFIX = ".tmp-"
DELETING_PREFIX = ".deleting-"
MAX_NAME_LENGTH = 80


def default_runs_dir() -> Path:
    """The runs folder: $CONVLAB_RUNS_DIR, else runs/ beside the app."""
    from_environment = os.environ.get(RUNS_DIR_ENVIRONMENT_VARIABLE)
    if from_environment:
        return Path(from_environment).expanduser()
    return APP_ROOT / "runs"


def _runs_dir(runs_dir: str | os.PathLike | None) -> Path:
    return Path(runs_dir).expanduser() if runs_dir is not None else default_runs_dir()


def _json_ready(value: Any) -> Any:
    """Plain JSON values: dataclasses and tuples become dicts and lists, NaN becomes None."""
    if is_dataclass(value) and not isinstance(value, type):
        return _json_ready(asdict(value))
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def check_run_name(name: str) -> str:
    """The name with spaces tidied; raises ValueError for an empty or overlong one."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("A run name cannot be empty.")
    name = " ".join(name.split())
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(
            f"A run name can have at most {MAX_NAME_LENGTH} characters; this one has {len(name)}."
        )
    return name


def make_record(
    result: TrainResult,
    dataset: Dataset,
    config: TrainConfig,
    *,
    spec: ModelSpec | None = None,
    preset: str | None = None,
    name: str | None = None,
    categories: list[str] | tuple[str, ...] | None = None,
    per_class: int | None = None,
    started_at: str | None = None,
) -> dict[str, Any]:
    """The record.json content of a finished training run."""
    finished_at = datetime.now(UTC)
    accuracy = "" if result.test_accuracy is None else f", {result.test_accuracy:.1%}"
    return _json_ready(
        {
            "format_version": RECORD_FORMAT_VERSION,
            "name": check_run_name(name or f"{preset or 'custom'} on {dataset.name}{accuracy}"),
            "created_at": finished_at.isoformat(timespec="seconds"),
            "started_at": started_at,
            "status": result.status,
            "stop_reason": result.stop_reason,
            "message": result.message,
            "dataset": {
                "name": dataset.name,
                "class_names": list(dataset.class_names),
                "categories": list(categories) if categories else None,
                "per_class": per_class,
                "image_shape": list(dataset.x_train.shape[1:]),
                "train_images": result.num_train_images,
                "validation_images": result.num_validation_images,
                "test_images": len(dataset.x_test),
            },
            "model": {"preset": preset, "spec": spec, "parameters": result.parameters},
            "config": config,
            "test_accuracy": result.test_accuracy,
            "test_loss": result.test_loss,
            "train_seconds": result.train_seconds,
            "evaluation_seconds": result.evaluation_seconds,
            "images_per_second": result.images_per_second,
            "epochs": result.epochs_trained,
            "steps": result.steps,
            "device": result.device,
            "dtype_policy": result.dtype_policy,
            "history": result.history,
            "batch_points": result.batch_points,
            "extra": result.extra,
        }
    )


def _write_json(path: Path, values: Mapping[str, Any]) -> None:
    """Write JSON next to `path`, flush it to disk, then rename it over `path` in one step."""
    descriptor, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(_json_ready(values), handle, indent=2, allow_nan=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _new_run_id() -> str:
    # Timestamp first so folder names sort by time; the random part keeps two processes apart.
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def save_run(
    model: keras.Model,
    record: Mapping[str, Any],
    runs_dir: str | os.PathLike | None = None,
) -> Path:
    """Save a model and its record as a new run folder and return the folder.

    Everything is written into a hidden temporary folder first. Then the final name is
    reserved with mkdir, which fails if another process took it, and the finished folder is
    renamed onto the empty reservation at once: readers see a complete run or none.
    """
    import keras

    root = _runs_dir(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=TEMPORARY_PREFIX, dir=root))
    reserved: Path | None = None
    try:
        # A fresh graph over the same layers carries no optimizer, so the file loads anywhere
        # without the training code and is a third of the size.
        inference_model = keras.Model(model.inputs, model.outputs, name=model.name)
        inference_model.save(temporary / MODEL_FILE_NAME)
        for _ in range(100):
            run_id = _new_run_id()
            _write_json(temporary / RECORD_FILE_NAME, {**record, "run_id": run_id})
            try:
                (root / run_id).mkdir()
            except FileExistsError:
                continue
            reserved = root / run_id
            break
        else:
            raise OSError(f"Could not find a free run folder name in {root}.")
        try:
            os.rename(temporary, reserved)
        except OSError:
            # Windows will not rename onto a folder, even an empty one; free the name first.
            reserved.rmdir()
            os.rename(temporary, reserved)
        return reserved
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        if reserved is not None and reserved.is_dir() and not any(reserved.iterdir()):
            reserved.rmdir()
        raise


def read_record(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The record.json of a run; raises FileNotFoundError or ValueError with a clear message."""
    path = Path(run_dir) / RECORD_FILE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a saved run: it has no {RECORD_FILE_NAME}.")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"The record of run {run_dir} is damaged: {error}.") from error
    if not isinstance(record, dict):
        raise ValueError(f"The record of run {run_dir} is damaged: it is not a JSON object.")
    return record


@dataclass(frozen=True)
class RunSummary:
    """One line of the run list: where a run is and what its record says."""

    run_dir: Path
    name: str
    dataset: str
    status: str
    test_accuracy: float | None
    created_at: str
    record: dict[str, Any]


def list_runs(runs_dir: str | os.PathLike | None = None) -> list[RunSummary]:
    """Saved runs, newest first; unfinished, hidden and damaged folders are left out."""
    root = _runs_dir(runs_dir)
    if not root.is_dir():
        return []
    summaries = []
    for folder in root.iterdir():
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        if not (folder / MODEL_FILE_NAME).is_file():
            continue
        try:
            record = read_record(folder)
        except (OSError, ValueError):
            continue
        summaries.append(
            RunSummary(
                run_dir=folder,
                name=str(record.get("name", folder.name)),
                dataset=str((record.get("dataset") or {}).get("name", "")),
                status=str(record.get("status", "")),
                test_accuracy=record.get("test_accuracy"),
                created_at=str(record.get("created_at", "")),
                record=record,
            )
        )
    # Folder names begin with a UTC timestamp, so they break ties within one second.
    summaries.sort(key=lambda summary: (summary.created_at, summary.run_dir.name), reverse=True)
    return summaries


def _checked_run_dir(run_dir: str | os.PathLike) -> Path:
    folder = Path(run_dir)
    if folder.name.startswith(".") or not (folder / RECORD_FILE_NAME).is_file():
        raise FileNotFoundError(f"{run_dir} is not a saved run: it has no {RECORD_FILE_NAME}.")
    return folder


def rename_run(run_dir: str | os.PathLike, new_name: str) -> dict[str, Any]:
    """Give a run a new display name (its folder keeps its id); returns the updated record."""
    folder = _checked_run_dir(run_dir)
    record = read_record(folder)
    record["name"] = check_run_name(new_name)
    _write_json(folder / RECORD_FILE_NAME, record)
    return record


def delete_run(run_dir: str | os.PathLike) -> None:
    """Delete a saved run. It disappears from listings at once, then its files are removed."""
    folder = _checked_run_dir(run_dir)
    doomed = folder.with_name(f"{DELETING_PREFIX}{folder.name}-{secrets.token_hex(3)}")
    os.rename(folder, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def model_file_path(run_dir: str | os.PathLike) -> Path:
    """The run's model.keras, for a download button or keras.models.load_model."""
    path = _checked_run_dir(run_dir) / MODEL_FILE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"Run {run_dir} has no {MODEL_FILE_NAME}.")
    return path


def remove_stale_temporary_folders(
    runs_dir: str | os.PathLike | None = None, *, older_than_seconds: float = 3600
) -> int:
    """Remove what killed processes left (hidden temporary folders, empty reservations)."""
    root = _runs_dir(runs_dir)
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than_seconds
    removed = 0
    for entry in root.iterdir():
        try:
            if entry.stat().st_mtime > cutoff:
                continue
            if entry.name.startswith((TEMPORARY_PREFIX, DELETING_PREFIX)):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed += 1
            elif entry.is_dir() and not any(entry.iterdir()):
                entry.rmdir()
                removed += 1
        except OSError:
            continue
    return removed


@dataclass(frozen=True, eq=False)
class Run:
    """A loaded run: the Keras model, its record and a fast predict on uint8 images."""

    run_dir: Path
    record: dict[str, Any]
    model: keras.Model
    predict_function: Callable[[np.ndarray], np.ndarray]

    @property
    def name(self) -> str:
        return str(self.record.get("name", self.run_dir.name))

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.record["dataset"]["class_names"])

    @property
    def dataset(self) -> str:
        return str(self.record["dataset"]["name"])

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(int(size) for size in self.model.input_shape[1:])

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities float32 (n, k) for uint8 images (n, h, w, c) or one (h, w, c)."""
        return self.predict_function(images)


def load_run(run_dir: str | os.PathLike) -> Run:
    """Load a saved run's model and record; raises FileNotFoundError or ValueError clearly."""
    import keras

    from core.models import make_predict_function

    folder = _checked_run_dir(run_dir)
    record = read_record(folder)
    model_path = folder / MODEL_FILE_NAME
    if not model_path.is_file():
        raise FileNotFoundError(f"Run {run_dir} has no {MODEL_FILE_NAME}.")
    try:
        model = keras.models.load_model(model_path, compile=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"The model file of run {run_dir} could not be read: {error}") from error
    class_names = (record.get("dataset") or {}).get("class_names")
    if not class_names or len(class_names) != int(model.output_shape[-1]):
        raise ValueError(f"The record of run {run_dir} does not name one class per model output.")
    return Run(
        run_dir=folder,
        record=record,
        model=model,
        predict_function=make_predict_function(model),
    )


MAX_IMPORT_BYTES = 200_000_000


def import_model(
    path: str | os.PathLike,
    *,
    image_shape: tuple[int, ...] | None = None,
    num_classes: int | None = None,
) -> keras.Model:
    """Load a user's .keras file without running any code it carries, and check it fits.

    Keras's safe mode refuses to deserialise Lambda layers (pickled Python functions), so a
    file carrying code is refused before that code can run. Raises ValueError with a sentence.
    """
    import keras

    file = Path(path)
    if not file.is_file():
        raise ValueError(f"{file.name} does not exist.")
    if file.stat().st_size > MAX_IMPORT_BYTES:
        raise ValueError(
            f"{file.name} is {file.stat().st_size / 1e6:,.0f} MB; models over "
            f"{MAX_IMPORT_BYTES / 1e6:,.0f} MB are refused."
        )
    try:
        model = keras.models.load_model(file, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many kinds for a bad file; all mean the same.
        text = str(error)
        if "safe_mode" in text or "Lambda" in text:
            raise ValueError(
                f"{file.name} carries Python code (a Lambda layer). Convlab never runs code from "
                "a file: rebuild the model from standard Keras layers."
            ) from error
        raise ValueError(
            f"{file.name} is not a Keras model file Convlab can read ({error.__class__.__name__}: "
            f"{text[:200]})."
        ) from error
    if not isinstance(model, keras.Model) or len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"{file.name} must be a model with one image input and one output.")
    input_shape = tuple(model.inputs[0].shape[1:])
    output_shape = tuple(model.outputs[0].shape[1:])
    if len(input_shape) != 3 or None in input_shape:
        raise ValueError(
            f"{file.name} takes inputs of shape {input_shape}; Convlab models take images of a "
            "fixed (height, width, channels)."
        )
    if len(output_shape) != 1 or output_shape[0] is None or output_shape[0] < 2:
        raise ValueError(
            f"{file.name} outputs shape {output_shape}; a classifier outputs one probability "
            "per class."
        )
    if image_shape is not None and tuple(input_shape) != tuple(image_shape):
        raise ValueError(
            f"{file.name} takes {'x'.join(map(str, input_shape))} images but the dataset's are "
            f"{'x'.join(map(str, image_shape))}; choose the dataset it was trained on."
        )
    if num_classes is not None and output_shape[0] != num_classes:
        raise ValueError(
            f"{file.name} has {output_shape[0]} outputs but the dataset has {num_classes} "
            "classes; choose the dataset it was trained on."
        )
    return model


def import_model_as_run(
    path: str | os.PathLike,
    dataset: Dataset,
    *,
    name: str | None = None,
    categories: list[str] | tuple[str, ...] | None = None,
    per_class: int | None = None,
    runs_dir: str | os.PathLike | None = None,
) -> Path:
    """Check a user's model against a dataset, measure its test accuracy, save it as a run."""
    from core.evaluation import evaluate

    model = import_model(
        path, image_shape=tuple(dataset.x_test.shape[1:]), num_classes=len(dataset.class_names)
    )
    evaluation = evaluate(model, dataset.x_test, dataset.y_test, class_names=dataset.class_names)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    record = {
        "format_version": RECORD_FORMAT_VERSION,
        "name": check_run_name(name or f"imported {Path(path).stem} on {dataset.name}"),
        "created_at": created,
        "started_at": created,
        "status": "imported",
        "stop_reason": "imported",
        "message": f"Imported from {Path(path).name}. Test accuracy {evaluation.accuracy:.2%}.",
        "dataset": {
            "name": dataset.name,
            "class_names": list(dataset.class_names),
            "categories": list(categories) if categories else None,
            "per_class": per_class,
            "image_shape": list(dataset.x_test.shape[1:]),
            "test_images": len(dataset.x_test),
        },
        "model": {"preset": None, "spec": None, "parameters": int(model.count_params())},
        "test_accuracy": float(evaluation.accuracy),
        "history": [],
        "batch_points": [],
    }
    return save_run(model, record, runs_dir)


__all__ = [
    "MODEL_FILE_NAME",
    "RECORD_FILE_NAME",
    "RUNS_DIR_ENVIRONMENT_VARIABLE",
    "Run",
    "RunSummary",
    "check_run_name",
    "default_runs_dir",
    "delete_run",
    "import_model",
    "import_model_as_run",
    "list_runs",
    "load_run",
    "make_record",
    "model_file_path",
    "read_record",
    "remove_stale_temporary_folders",
    "rename_run",
    "save_run",
]
