"""The run store: each saved training run is a folder with model.keras and record.json."""

from __future__ import annotations

import io
import json
import math
import os
import secrets
import shutil
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # Listing runs must not pay TensorFlow's 5 s import; loading one does.
    import keras

    from core.datasets import Dataset
    from core.models import ModelSpec
    from core.recognition import Recognition
    from core.timeline import Timeline
    from core.training import TrainConfig, TrainResult

RUNS_DIR_ENVIRONMENT_VARIABLE = "CONVLAB_RUNS_DIR"
APP_ROOT = Path(__file__).resolve().parent.parent
MODEL_FILE_NAME = "model.keras"
RECORD_FILE_NAME = "record.json"
RECORD_FORMAT_VERSION = 1
# Folders being written or deleted start with a dot, so listings never show them.
TEMPORARY_PREFIX = ".tmp-"
DELETING_PREFIX = ".deleting-"
# Deleted runs wait here, hidden for the same reason, until they are restored or purged.
TRASH_DIR_NAME = ".trash"
DELETION_FILE_NAME = "deleted.json"
TRASH_KEEP_SECONDS = 7 * 24 * 3600
MAX_NAME_LENGTH = 80
MAX_USER_NAME_LENGTH = 40
USER_NAME_PUNCTUATION = " -_.'"


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


def _tidy_name(name: str) -> str:
    # NFC first, so an accent typed as a separate mark compares equal to the accented letter.
    return " ".join(unicodedata.normalize("NFC", name).split())


def _allowed_in_user_name(character: str) -> bool:
    # Letters and marks of any script: many scripts write a vowel as a mark on a letter
    # (the i in Hindi "अनिल"), which str.isalpha alone would refuse.
    return (
        unicodedata.category(character)[0] in "LM"
        or character.isdecimal()
        or character in USER_NAME_PUNCTUATION
    )


def check_user_name(name: str) -> str:
    """The user name with spaces tidied; raises ValueError for an empty, long or odd one."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("A user name cannot be empty; type your name, for example Ana.")
    name = _tidy_name(name)
    if len(name) > MAX_USER_NAME_LENGTH:
        raise ValueError(
            f"A user name can have at most {MAX_USER_NAME_LENGTH} characters; "
            f"this one has {len(name)}."
        )
    refused = sorted({character for character in name if not _allowed_in_user_name(character)})
    if refused:
        shown = " ".join(repr(character) for character in refused)
        raise ValueError(
            "A user name can use only letters, digits, spaces, hyphens, underscores, dots and "
            f"apostrophes; remove {shown}."
        )
    return name


def run_owner(record: Mapping[str, Any]) -> str | None:
    """Who made a run in the app, or None for a command-line run or an import without owner."""
    owner = record.get("owner")
    if not isinstance(owner, str) or not owner.strip():
        return None
    return _tidy_name(owner)


def can_change_run(record: Mapping[str, Any], user: str | None) -> bool:
    """Whether `user` may rename, delete or restore the run: only its owner, in any case."""
    owner = run_owner(record)
    if owner is None or not isinstance(user, str) or not user.strip():
        return False
    return _tidy_name(user).casefold() == owner.casefold()


def _check_can_change(record: Mapping[str, Any], user: str | None, action: str) -> None:
    """Raise PermissionError, naming who may `action` the run, unless `user` may."""
    if can_change_run(record, user):
        return
    owner = run_owner(record)
    if owner is not None:
        raise PermissionError(f"This run belongs to {owner}; only {owner} can {action} it.")
    if record.get("status") == "imported":
        raise PermissionError(
            f"This run was imported without a user name; nobody can {action} it in the app."
        )
    raise PermissionError(
        f"This run was made with the command line; nobody can {action} it in the app."
    )


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
    owner: str | None = None,
    worker: str | None = None,
) -> dict[str, Any]:
    """The record.json content of a finished training run.

    `owner` is the app user who started it (None for the command line, whose runs are
    read-only in the app); `worker` says which process or machine trained it.
    """
    finished_at = datetime.now(UTC)
    accuracy = "" if result.test_accuracy is None else f", {result.test_accuracy:.1%}"
    return _json_ready(
        {
            "format_version": RECORD_FORMAT_VERSION,
            "name": check_run_name(name or f"{preset or 'custom'} on {dataset.name}{accuracy}"),
            "owner": None if owner is None else check_user_name(owner),
            "worker": None if worker is None else str(worker),
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
            # The epochs at which the network was kept (checkpoints.npz); the run is the last.
            "checkpoints": list(result.checkpoint_epochs),
            "extra": result.extra,
        }
    )


def write_file_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` next to `path`, flush it to disk, then rename it over `path` in one step.

    Readers see the old file or the new one, never half of it.
    """
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_json(path: Path, values: Mapping[str, Any]) -> None:
    """Write a JSON file atomically; a value JSON cannot hold raises before anything is written."""
    text = json.dumps(_json_ready(values), indent=2, allow_nan=False)
    write_file_atomically(path, text.encode("utf-8"))


def _write_extra_files(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write {relative path: bytes} under `folder`; a path may not leave it."""
    for relative, data in files.items():
        path = (folder / relative).resolve()
        if Path(relative).is_absolute() or folder.resolve() not in path.parents:
            raise ValueError(f"The run file {relative!r} would be written outside the run.")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)


def _new_run_id() -> str:
    # Timestamp first so folder names sort by time; the random part keeps two processes apart.
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _rename_onto_reservation(source: Path, reserved: Path) -> None:
    """Rename a folder onto an empty folder reserved for it with mkdir."""
    try:
        os.rename(source, reserved)
    except OSError:
        # Windows will not rename onto a folder, even an empty one; free the name first.
        reserved.rmdir()
        os.rename(source, reserved)


def _save_new_run(
    write_model: Callable[[Path], None],
    record: Mapping[str, Any],
    runs_dir: str | os.PathLike | None,
    extra_files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write a model (by `write_model`), its record and `extra_files` as a new run folder.

    `extra_files` maps paths inside the folder (checkpoints, time line, logs) to their bytes.

    Everything is written into a hidden temporary folder first. Then the final name is
    reserved with mkdir, which fails if another process took it, and the finished folder is
    renamed onto the empty reservation at once: readers see a complete run or none.
    """
    root = _runs_dir(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=TEMPORARY_PREFIX, dir=root))
    reserved: Path | None = None
    try:
        write_model(temporary / MODEL_FILE_NAME)
        _write_extra_files(temporary, extra_files or {})
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
        _rename_onto_reservation(temporary, reserved)
        return reserved
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        if reserved is not None and reserved.is_dir() and not any(reserved.iterdir()):
            reserved.rmdir()
        raise


def save_inference_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Write `model` as a .keras file that carries no optimizer.

    A fresh graph over the same layers loads anywhere without the training code and is a
    third of the size.
    """
    import keras

    keras.Model(model.inputs, model.outputs, name=model.name).save(path)


def save_run(
    model: keras.Model,
    record: Mapping[str, Any],
    runs_dir: str | os.PathLike | None = None,
    extra_files: Mapping[str, bytes] | None = None,
) -> Path:
    """Save a model, its record and extra files as a new run folder, atomically."""
    return _save_new_run(
        lambda path: save_inference_model(model, path), record, runs_dir, extra_files
    )


def save_run_files(
    model_bytes: bytes,
    record: Mapping[str, Any],
    runs_dir: str | os.PathLike | None = None,
    extra_files: Mapping[str, bytes] | None = None,
) -> Path:
    """Save a model file's bytes (sent back by a worker), its record and files as a new run.

    The same atomic steps as save_run, without importing Keras. Raises ValueError when the
    bytes are empty or are not a .keras file (a zip archive), before anything is written.
    """
    if not model_bytes:
        raise ValueError(
            "The model file is empty: the training worker sent no bytes, so there is no model "
            "to save. Train the run again."
        )
    if not zipfile.is_zipfile(io.BytesIO(model_bytes)):
        raise ValueError(
            f"The {len(model_bytes):,} bytes sent back are not a complete .keras model file; "
            "it was probably cut off on the way. Train the run again."
        )

    def write_model(path: Path) -> None:
        with open(path, "wb") as handle:
            handle.write(model_bytes)
            handle.flush()
            os.fsync(handle.fileno())

    return _save_new_run(write_model, record, runs_dir, extra_files)


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
    # Only runs in the trash have one: when they were deleted, as an ISO 8601 UTC time.
    deleted_at: str | None = None

    @property
    def run_id(self) -> str:
        """The run's folder name, which never changes; use it, not a list position."""
        return self.run_dir.name

    @property
    def owner(self) -> str | None:
        return run_owner(self.record)


def _summary(folder: Path, record: dict[str, Any], deleted_at: str | None = None) -> RunSummary:
    return RunSummary(
        run_dir=folder,
        name=str(record.get("name", folder.name)),
        dataset=str((record.get("dataset") or {}).get("name", "")),
        status=str(record.get("status", "")),
        test_accuracy=record.get("test_accuracy"),
        created_at=str(record.get("created_at", "")),
        record=record,
        deleted_at=deleted_at,
    )


def _saved_run_folders(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Each complete run folder directly in `root` with its record; hidden, unfinished and
    damaged ones are skipped."""
    for folder in root.iterdir():
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        if not (folder / MODEL_FILE_NAME).is_file():
            continue
        try:
            yield folder, read_record(folder)
        except (OSError, ValueError):
            continue


def list_runs(runs_dir: str | os.PathLike | None = None) -> list[RunSummary]:
    """Saved runs, newest first; unfinished, hidden and damaged folders are left out."""
    root = _runs_dir(runs_dir)
    if not root.is_dir():
        return []
    summaries = [_summary(folder, record) for folder, record in _saved_run_folders(root)]
    # Folder names begin with a UTC timestamp, so they break ties within one second.
    summaries.sort(key=lambda summary: (summary.created_at, summary.run_dir.name), reverse=True)
    return summaries


def best_run(
    summaries: Iterable[RunSummary], *, image_shape: tuple[int, ...] | None = None
) -> RunSummary | None:
    """The run with the highest test accuracy, among those taking `image_shape` images if given.

    A run without a test accuracy (say, imported) counts below any that has one; ties go to the
    newest. None when no run fits.
    """
    fitting = [
        summary
        for summary in summaries
        if image_shape is None
        or tuple((summary.record.get("dataset") or {}).get("image_shape") or ()) == image_shape
    ]
    if not fitting:
        return None
    return max(
        fitting,
        key=lambda summary: (
            summary.test_accuracy is not None,
            summary.test_accuracy or 0.0,
            summary.created_at,
            summary.run_dir.name,
        ),
    )


def _checked_run_dir(run_dir: str | os.PathLike) -> Path:
    folder = Path(run_dir)
    if folder.name.startswith(".") or not (folder / RECORD_FILE_NAME).is_file():
        raise FileNotFoundError(f"{run_dir} is not a saved run: it has no {RECORD_FILE_NAME}.")
    return folder


def _check_run_id(run_id: str) -> str:
    """The id itself; raises ValueError for anything that could name another folder."""
    if (
        not isinstance(run_id, str)
        or not run_id
        or run_id.startswith(".")
        or ".." in run_id
        or any(separator in run_id for separator in ("/", "\\", os.sep, os.altsep or "/", "\0"))
    ):
        raise ValueError(
            f"{run_id!r} is not a run id: a run id is a folder name such as "
            "20250101-120000-a1b2c3, without slashes, '..' or a leading dot."
        )
    return run_id


def run_dir_for_id(run_id: str, runs_dir: str | os.PathLike | None = None) -> Path:
    """The folder of the saved run `run_id`; raises ValueError or FileNotFoundError clearly."""
    folder = _runs_dir(runs_dir) / _check_run_id(run_id)
    if not (folder / RECORD_FILE_NAME).is_file():
        raise FileNotFoundError(
            f"That run no longer exists: {run_id}. Someone may have deleted it; reload the list."
        )
    return folder


def rename_run(
    run_id: str,
    new_name: str,
    *,
    user: str | None,
    runs_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Give the run `run_id` a new display name (its folder keeps its id); returns the record.

    Only its owner may: raises PermissionError otherwise, ValueError for a bad name.
    """
    folder = run_dir_for_id(run_id, runs_dir)
    record = read_record(folder)
    _check_can_change(record, user, "rename")
    record["name"] = check_run_name(new_name)
    _write_json(folder / RECORD_FILE_NAME, record)
    return record


def _trash_dir(runs_dir: str | os.PathLike | None) -> Path:
    return _runs_dir(runs_dir) / TRASH_DIR_NAME


def delete_run(run_id: str, *, user: str | None, runs_dir: str | os.PathLike | None = None) -> None:
    """Move the run `run_id` to the trash, where restore_run can bring it back for a week.

    Only its owner may: raises PermissionError otherwise. The run leaves listings at once.
    """
    folder = run_dir_for_id(run_id, runs_dir)
    record = read_record(folder)
    _check_can_change(record, user, "delete")
    trash = _trash_dir(runs_dir)
    trash.mkdir(exist_ok=True)
    destination = trash / folder.name
    if destination.exists():
        raise FileExistsError(
            f"A deleted run with the id {run_id} is already in the trash; restore or purge it "
            "before deleting this one."
        )
    # The time goes inside the folder before the move, so a run in the trash always says when
    # it was deleted; writing it also sets the folder's mtime, the fallback if it is lost.
    deletion_file = folder / DELETION_FILE_NAME
    deleted_at = datetime.now(UTC).isoformat(timespec="microseconds")
    try:
        _write_json(deletion_file, {"deleted_at": deleted_at, "deleted_by": run_owner(record)})
    except FileNotFoundError as error:
        raise FileNotFoundError(f"That run no longer exists: {run_id}.") from error
    try:
        os.rename(folder, destination)
    except BaseException as error:
        deletion_file.unlink(missing_ok=True)
        if not folder.exists():
            raise FileNotFoundError(f"That run no longer exists: {run_id}.") from error
        raise


def _deleted_timestamp(folder: Path) -> float:
    """When a run in the trash was deleted, in seconds since the epoch."""
    try:
        values = json.loads((folder / DELETION_FILE_NAME).read_text(encoding="utf-8"))
        deleted_at = datetime.fromisoformat(values["deleted_at"])
        if deleted_at.tzinfo is None:
            deleted_at = deleted_at.replace(tzinfo=UTC)
        return deleted_at.timestamp()
    except (OSError, ValueError, TypeError, KeyError):
        # A missing or damaged file: the folder's mtime is when it was last written.
        return folder.stat().st_mtime


def list_deleted_runs(
    runs_dir: str | os.PathLike | None = None, *, user: str | None = None
) -> list[RunSummary]:
    """Runs in the trash, most recently deleted first; only `user`'s own when given."""
    trash = _trash_dir(runs_dir)
    if not trash.is_dir():
        return []
    found = []
    for folder, record in _saved_run_folders(trash):
        try:
            timestamp = _deleted_timestamp(folder)
        except (OSError, ValueError):
            continue
        if user is not None and not can_change_run(record, user):
            continue
        deleted_at = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
        found.append((timestamp, _summary(folder, record, deleted_at)))
    found.sort(key=lambda pair: (pair[0], pair[1].run_id), reverse=True)
    return [summary for _, summary in found]


def restore_run(
    run_id: str, *, user: str | None, runs_dir: str | os.PathLike | None = None
) -> Path:
    """Bring the run `run_id` back from the trash and return its folder.

    Only its owner may: raises PermissionError otherwise, FileNotFoundError if it is not
    in the trash.
    """
    folder = _trash_dir(runs_dir) / _check_run_id(run_id)
    not_in_trash = (
        f"That run is not in the trash: {run_id}. It may have been restored already, or "
        f"removed for good {TRASH_KEEP_SECONDS // (24 * 3600)} days after it was deleted."
    )
    if not (folder / RECORD_FILE_NAME).is_file():
        raise FileNotFoundError(not_in_trash)
    _check_can_change(read_record(folder), user, "restore")
    # Reserve the id as save_run does, so a restore can never land on a run being saved.
    reserved = _runs_dir(runs_dir) / run_id
    try:
        reserved.mkdir()
    except FileExistsError as error:
        raise FileExistsError(
            f"A run with the id {run_id} already exists, so the deleted one cannot come back "
            "under the same id."
        ) from error
    try:
        _rename_onto_reservation(folder, reserved)
    except BaseException as error:
        if reserved.is_dir() and not any(reserved.iterdir()):
            reserved.rmdir()
        if not folder.exists():
            raise FileNotFoundError(not_in_trash) from error
        raise
    (reserved / DELETION_FILE_NAME).unlink(missing_ok=True)
    return reserved


def purge_deleted_runs(
    runs_dir: str | os.PathLike | None = None,
    *,
    older_than_seconds: float = TRASH_KEEP_SECONDS,
) -> int:
    """Remove for good the runs deleted more than `older_than_seconds` ago; returns how many."""
    trash = _trash_dir(runs_dir)
    if not trash.is_dir():
        return 0
    cutoff = time.time() - older_than_seconds
    removed = 0
    for entry in trash.iterdir():
        try:
            if entry.name.startswith(DELETING_PREFIX):
                # An earlier purge was stopped half way; this folder was already doomed.
                shutil.rmtree(entry, ignore_errors=True)
                continue
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            if _deleted_timestamp(entry) > cutoff:
                continue
            # Hide it in one rename first, so no listing shows a half-removed run.
            doomed = trash / f"{DELETING_PREFIX}{entry.name}-{secrets.token_hex(3)}"
            os.rename(entry, doomed)
            shutil.rmtree(doomed, ignore_errors=True)
            removed += 1
        except OSError:
            continue
    return removed


def model_file_path(run_dir: str | os.PathLike) -> Path:
    """The run's model.keras, for a download button or keras.models.load_model."""
    path = _checked_run_dir(run_dir) / MODEL_FILE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"Run {run_dir} has no {MODEL_FILE_NAME}.")
    return path


def remove_stale_temporary_folders(
    runs_dir: str | os.PathLike | None = None, *, older_than_seconds: float = 3600
) -> int:
    """Remove what killed processes left (hidden temporary folders, empty reservations).

    The trash is never touched: see purge_deleted_runs.
    """
    root = _runs_dir(runs_dir)
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than_seconds
    removed = 0
    for entry in root.iterdir():
        if entry.name == TRASH_DIR_NAME:
            continue  # Deleted runs are kept there on purpose; purge_deleted_runs empties it.
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
    """A loaded run: the Keras model, its record and a fast predict on uint8 images.

    A run that kept checkpoints can be turned back in time: `checkpoints` lists the epochs
    (the untrained start 0.0 first, the run itself last) and `at_checkpoint(index)` is the run
    as it was then, a Run like any other.
    """

    run_dir: Path
    record: dict[str, Any]
    model: keras.Model
    predict_function: Callable[[np.ndarray], np.ndarray]
    checkpoint_index: int | None = None
    _earlier: dict[int, Run] = field(default_factory=dict, repr=False)
    _recognition: dict[str, Any] = field(default_factory=dict, repr=False)

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

    @property
    def checkpoints(self) -> tuple[float, ...]:
        """Epochs of the kept networks, 0.0 first and the run's own last; (end,) if none kept."""
        from core.timeline import CHECKPOINTS_FILE_NAME

        end = float(self.record.get("epochs") or 0.0)
        kept = self.record.get("checkpoints") or []
        if not kept or not (self.run_dir / CHECKPOINTS_FILE_NAME).is_file():
            return (end,)
        return (*(float(epoch) for epoch in kept), end)

    def at_checkpoint(self, index: int) -> Run:
        """The run as it was at `checkpoints[index]`; the last index is the run itself."""
        import keras

        from core.models import make_predict_function
        from core.timeline import CHECKPOINTS_FILE_NAME, read_checkpoint_weights

        if self.checkpoint_index is not None:
            raise ValueError("This is already an earlier point of a run; ask the run itself.")
        count = len(self.checkpoints)
        if not -count <= index < count:
            raise IndexError(f"This run has {count} checkpoints; there is no number {index}.")
        index %= count
        if index == count - 1:
            return self
        if index not in self._earlier:
            try:
                weights = read_checkpoint_weights(self.run_dir / CHECKPOINTS_FILE_NAME, index)
                earlier = keras.models.clone_model(self.model)
                earlier.set_weights(weights)
            except (OSError, KeyError, ValueError) as error:
                raise ValueError(
                    f"The checkpoints of run {self.run_dir.name} could not be read: {error}"
                ) from error
            self._earlier[index] = Run(
                run_dir=self.run_dir,
                record=self.record,
                model=earlier,
                predict_function=make_predict_function(earlier),
                checkpoint_index=index,
            )
        return self._earlier[index]

    @property
    def calibrated(self) -> bool:
        """Whether the run can tell familiar images from strange ones (core.recognition)."""
        from core.timeline import RECOGNITION_FILE_NAME

        # The calibration fits the finished network's features, not an earlier point's.
        return self.checkpoint_index is None and (self.run_dir / RECOGNITION_FILE_NAME).is_file()

    def recognise(self, images: np.ndarray) -> Recognition:
        """Probabilities (n, k) of uint8 images and whether each looks like the training data.

        A run saved without a calibration (imported) calls everything familiar and says so
        with `Recognition.calibrated` False.
        """
        from core.recognition import make_features_function, read_calibration, recognise
        from core.timeline import RECOGNITION_FILE_NAME

        if "features" not in self._recognition:
            path = self.run_dir / RECOGNITION_FILE_NAME
            calibration = None
            if self.calibrated:
                try:
                    calibration = read_calibration(path)
                except ValueError:
                    calibration = None
            layer_name = calibration.layer_name if calibration is not None else ""
            try:
                features_of = make_features_function(self.model, layer_name=layer_name)
            except ValueError:
                # A calibration naming a layer this model lacks: the other three scores remain.
                features_of = make_features_function(self.model)
            self._recognition["calibration"] = calibration
            self._recognition["features"] = features_of
        return recognise(self._recognition["features"], self._recognition["calibration"], images)

    def timeline(self) -> Timeline | None:
        """What the network said at each checkpoint on a fixed test sample; None if not kept."""
        from core.timeline import TIMELINE_FILE_NAME, read_timeline

        path = self.run_dir / TIMELINE_FILE_NAME
        if not path.is_file():
            return None
        try:
            timeline = read_timeline(path)
        except ValueError:
            return None
        return timeline if len(timeline.epochs) == len(self.checkpoints) else None


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
    owner: str | None = None,
    runs_dir: str | os.PathLike | None = None,
) -> Path:
    """Check a user's model against a dataset, measure its test accuracy, save it as a run.

    `owner` is the app user importing it; without one, nobody can change the run in the app.
    """
    from core.evaluation import evaluate

    model = import_model(
        path, image_shape=tuple(dataset.x_test.shape[1:]), num_classes=len(dataset.class_names)
    )
    evaluation = evaluate(model, dataset.x_test, dataset.y_test, class_names=dataset.class_names)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    record = {
        "format_version": RECORD_FORMAT_VERSION,
        "name": check_run_name(name or f"imported {Path(path).stem} on {dataset.name}"),
        "owner": None if owner is None else check_user_name(owner),
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
    "TRASH_KEEP_SECONDS",
    "Run",
    "RunSummary",
    "can_change_run",
    "check_run_name",
    "check_user_name",
    "default_runs_dir",
    "delete_run",
    "import_model",
    "import_model_as_run",
    "list_deleted_runs",
    "list_runs",
    "load_run",
    "make_record",
    "model_file_path",
    "purge_deleted_runs",
    "read_record",
    "remove_stale_temporary_folders",
    "rename_run",
    "restore_run",
    "run_dir_for_id",
    "run_owner",
    "save_run",
    "save_run_files",
    "write_file_atomically",
]
