"""The run store: atomic saves, owners, listing, renaming, the trash, loading and predict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import keras
import numpy as np
import pytest

from core import runs
from core.datasets import Dataset
from core.models import ConvBlock, ModelSpec, build_model
from core.runs import (
    TRASH_KEEP_SECONDS,
    can_change_run,
    check_user_name,
    delete_run,
    list_deleted_runs,
    list_runs,
    load_run,
    make_record,
    model_file_path,
    purge_deleted_runs,
    remove_stale_temporary_folders,
    rename_run,
    restore_run,
    run_dir_for_id,
    run_owner,
    save_run,
    save_run_files,
)
from core.training import TrainConfig, TrainResult

ROOT = Path(__file__).resolve().parents[1]
SPEC = ModelSpec(conv_blocks=(ConvBlock(filters=4),), head="global_average")
CLASS_NAMES = ["zero", "one", "two"]


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return build_model(SPEC, (28, 28, 1), 3, seed=0)


def record(
    name: str = "a run", created_at: str = "2025-01-01T00:00:00+00:00", owner: str | None = "Ana"
) -> dict:
    return {
        "name": name,
        "owner": owner,
        "created_at": created_at,
        "status": "completed",
        "test_accuracy": 0.5,
        "dataset": {"name": "digits", "class_names": CLASS_NAMES},
    }


def visible_entries(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir())


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_a_saved_run_loads_and_predicts_like_the_model(model: keras.Model, tmp_path: Path) -> None:
    run_dir = save_run(model, record(), tmp_path)
    assert sorted(path.name for path in run_dir.iterdir()) == ["model.keras", "record.json"]
    assert visible_entries(tmp_path) == [run_dir.name]
    run = load_run(run_dir)
    assert run.class_names == tuple(CLASS_NAMES) and run.dataset == "digits"
    assert run.record["run_id"] == run_dir.name and run.name == "a run"
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28, 1), dtype=np.uint8)
    expected = model(images.astype(np.float32), training=False).numpy()
    np.testing.assert_allclose(run.predict(images), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run.predict(images[0]), expected[:1], rtol=1e-5, atol=1e-6)
    assert run.predict_function.compiled_function.experimental_get_tracing_count() == 1


def test_the_downloadable_file_is_a_plain_keras_model(model: keras.Model, tmp_path: Path) -> None:
    path = model_file_path(save_run(model, record(), tmp_path))
    assert path.name == "model.keras"
    reloaded = keras.models.load_model(path)
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]


def test_a_failing_save_leaves_nothing_behind(
    model: keras.Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_save(self: keras.Model, *arguments: object, **keywords: object) -> None:
        Path(arguments[0]).write_bytes(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_run(model, record(), tmp_path)
    assert visible_entries(tmp_path) == []


def test_an_unwritable_record_leaves_nothing_behind(model: keras.Model, tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        save_run(model, {**record(), "bad": object()}, tmp_path)
    assert visible_entries(tmp_path) == []


def test_a_name_already_taken_is_never_reused(
    model: keras.Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Force the same timestamp and random part twice: the second save must pick another name.
    names = iter(["20250101-000000-aaaaaa", "20250101-000000-aaaaaa", "20250101-000000-bbbbbb"])
    monkeypatch.setattr(runs, "_new_run_id", lambda: next(names))
    first = save_run(model, record("first"), tmp_path)
    second = save_run(model, record("second"), tmp_path)
    assert first.name == "20250101-000000-aaaaaa" and second.name == "20250101-000000-bbbbbb"
    assert runs.read_record(first)["name"] == "first"
    assert runs.read_record(second)["name"] == "second"


def test_concurrent_saves_each_get_their_own_complete_folder(
    model: keras.Model, tmp_path: Path
) -> None:
    results: dict[int, Path] = {}
    errors: list[BaseException] = []

    def save(number: int) -> None:
        try:
            results[number] = save_run(model, record(f"run {number}"), tmp_path)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below.
            errors.append(error)

    threads = [threading.Thread(target=save, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results.values())) == 6
    for number, run_dir in results.items():
        assert runs.read_record(run_dir)["name"] == f"run {number}"
        assert (run_dir / "model.keras").stat().st_size > 0
    assert len(list_runs(tmp_path)) == 6
    assert not [name for name in visible_entries(tmp_path) if name.startswith(".")]


def test_listing_is_newest_first_and_skips_unfinished_folders(
    model: keras.Model, tmp_path: Path
) -> None:
    old = save_run(model, record("old", "2025-01-01T10:00:00+00:00"), tmp_path)
    new = save_run(model, record("new", "2025-03-01T10:00:00+00:00"), tmp_path)
    middle = save_run(model, record("middle", "2025-02-01T10:00:00+00:00"), tmp_path)
    (tmp_path / ".tmp-killed").mkdir()  # What a killed save leaves.
    (tmp_path / ".tmp-killed" / "model.keras").write_bytes(b"partial")
    (tmp_path / "20250101-000000-empty").mkdir()  # A reservation whose owner died.
    damaged = tmp_path / "20250101-000000-broken"
    damaged.mkdir()
    (damaged / "model.keras").write_bytes(b"x")
    (damaged / "record.json").write_text("{not json")
    listed = list_runs(tmp_path)
    assert [summary.name for summary in listed] == ["new", "middle", "old"]
    assert [summary.run_dir for summary in listed] == [new, middle, old]
    assert listed[0].dataset == "digits" and listed[0].test_accuracy == 0.5
    assert listed[0].run_id == new.name and listed[0].owner == "Ana"
    assert list_runs(tmp_path / "missing") == []


def test_stale_leftovers_are_cleaned(model: keras.Model, tmp_path: Path) -> None:
    kept = save_run(model, record(), tmp_path)
    (tmp_path / ".tmp-killed").mkdir()
    (tmp_path / "20250101-000000-empty").mkdir()
    assert remove_stale_temporary_folders(tmp_path, older_than_seconds=3600) == 0
    assert remove_stale_temporary_folders(tmp_path, older_than_seconds=-1) == 2
    assert visible_entries(tmp_path) == [kept.name]


def test_rename_keeps_the_folder_and_checks_the_name(model: keras.Model, tmp_path: Path) -> None:
    run_dir = save_run(model, record("before"), tmp_path)
    rename_run(run_dir.name, "  my   best\tmodel ", user="Ana", runs_dir=tmp_path)
    assert list_runs(tmp_path)[0].name == "my best model"
    assert json.loads((run_dir / "record.json").read_text())["name"] == "my best model"
    with pytest.raises(ValueError, match="cannot be empty"):
        rename_run(run_dir.name, "   ", user="Ana", runs_dir=tmp_path)
    with pytest.raises(ValueError, match="at most 80 characters"):
        rename_run(run_dir.name, "x" * 81, user="Ana", runs_dir=tmp_path)
    assert visible_entries(run_dir) == ["model.keras", "record.json"]


def test_delete_moves_a_run_to_the_trash_and_refuses_other_folders(
    model: keras.Model, tmp_path: Path
) -> None:
    run_dir = save_run(model, record(), tmp_path)
    precious = tmp_path / "not-a-run"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(FileNotFoundError, match="That run no longer exists: not-a-run"):
        delete_run("not-a-run", user="Ana", runs_dir=tmp_path)
    delete_run(run_dir.name, user="Ana", runs_dir=tmp_path)
    assert visible_entries(tmp_path) == [".trash", "not-a-run"]
    assert (precious / "notes.txt").read_text() == "keep me"
    assert list_runs(tmp_path) == []
    with pytest.raises(FileNotFoundError):
        load_run(run_dir)
    with pytest.raises(FileNotFoundError, match="That run no longer exists"):
        delete_run(run_dir.name, user="Ana", runs_dir=tmp_path)


def test_a_record_that_does_not_match_the_model_is_refused(
    model: keras.Model, tmp_path: Path
) -> None:
    wrong = {**record(), "dataset": {"name": "digits", "class_names": ["a", "b"]}}
    with pytest.raises(ValueError, match="one class per model output"):
        load_run(save_run(model, wrong, tmp_path))


def test_the_runs_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVLAB_RUNS_DIR", "/somewhere/else")
    assert runs.default_runs_dir() == Path("/somewhere/else")
    monkeypatch.delenv("CONVLAB_RUNS_DIR")
    assert runs.default_runs_dir() == ROOT / "runs"


def test_listing_and_saving_bytes_do_not_import_tensorflow(
    model: keras.Model, tmp_path: Path
) -> None:
    model_bytes = model_file_path(save_run(model, record(), tmp_path)).read_bytes()
    (tmp_path.parent / f"{tmp_path.name}.keras").write_bytes(model_bytes)
    code = (
        "import sys, json; from pathlib import Path; "
        "from core.runs import list_runs, save_run_files; "
        f"save_run_files(Path({str(tmp_path)!r} + '.keras').read_bytes(), "
        f"json.loads({json.dumps(json.dumps(record()))}), {str(tmp_path)!r}); "
        f"print(len(list_runs({str(tmp_path)!r})), 'tensorflow' in sys.modules)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert completed.stdout.split() == ["2", "False"], completed.stderr


# Owners: a run belongs to the user who made it in the app.


def tiny_train_result(model: keras.Model) -> TrainResult:
    return TrainResult(
        model=model, status="completed", stop_reason="epochs", message="Done.", history=(),
        batch_points=(), steps=1, epochs_trained=1.0, train_seconds=0.1, images_per_second=10.0,
        test_loss=1.0, test_accuracy=0.5, evaluation_seconds=0.1, device="CPU", parameters=10,
        num_train_images=4, num_validation_images=0, batch_size=4,
    )  # fmt: skip


def test_make_record_keeps_the_owner_and_the_worker(model: keras.Model) -> None:
    images = np.zeros((4, 28, 28, 1), dtype=np.uint8)
    labels = np.arange(4, dtype=np.int64) % 3
    dataset = Dataset("digits", tuple(CLASS_NAMES), images, labels, images, labels)
    result = tiny_train_result(model)
    made = make_record(
        result, dataset, TrainConfig(), owner="  ana   María ", worker="tcp://10.0.0.7:4100"
    )
    assert made["owner"] == "ana María" and made["worker"] == "tcp://10.0.0.7:4100"
    assert run_owner(made) == "ana María"
    from_the_command_line = make_record(result, dataset, TrainConfig())
    assert from_the_command_line["owner"] is None and from_the_command_line["worker"] is None
    assert run_owner(from_the_command_line) is None
    with pytest.raises(ValueError, match="remove '/'"):
        make_record(result, dataset, TrainConfig(), owner="../ana")


def test_user_names_are_tidied_and_odd_ones_refused() -> None:
    assert check_user_name("  Ana   María\t") == "Ana María"
    assert check_user_name("O'Brien-Smith_2.") == "O'Brien-Smith_2."
    assert check_user_name("अनिल") == "अनिल"  # A vowel mark on a letter is part of a name.
    assert check_user_name(unicodedata.normalize("NFD", "Zoë")) == "Zoë"
    with pytest.raises(ValueError, match="cannot be empty"):
        check_user_name("   ")
    with pytest.raises(ValueError, match="at most 40 characters; this one has 41"):
        check_user_name("a" * 41)
    with pytest.raises(ValueError, match="remove '<' '>'"):
        check_user_name("<b>Ana")


def test_only_the_owner_can_change_a_run_in_any_case() -> None:
    owned = record(owner="Ana María")
    for user in (
        "Ana María",
        "ana maría",
        "  ANA   MARÍA ",
        unicodedata.normalize("NFD", "ana maría"),
    ):
        assert can_change_run(owned, user), user
    for user in (None, "", "   ", "Ana", "Ben"):
        assert not can_change_run(owned, user), user
    for nobody_owns in (record(owner=None), {"name": "imported", "status": "imported"}):
        for user in (None, "", "Ana", "None"):
            assert not can_change_run(nobody_owns, user)


def test_another_user_cannot_rename_delete_or_restore(model: keras.Model, tmp_path: Path) -> None:
    run_dir = save_run(model, record("Ana's run"), tmp_path)
    before = folder_bytes(run_dir)
    for user in ("Ben", None):
        with pytest.raises(PermissionError, match="belongs to Ana; only Ana can rename it"):
            rename_run(run_dir.name, "mine now", user=user, runs_dir=tmp_path)
        with pytest.raises(PermissionError, match="belongs to Ana; only Ana can delete it"):
            delete_run(run_dir.name, user=user, runs_dir=tmp_path)
    assert folder_bytes(run_dir) == before
    assert [summary.name for summary in list_runs(tmp_path)] == ["Ana's run"]
    delete_run(run_dir.name, user="ANA", runs_dir=tmp_path)
    with pytest.raises(PermissionError, match="only Ana can restore it"):
        restore_run(run_dir.name, user="Ben", runs_dir=tmp_path)
    assert list_runs(tmp_path) == []


def test_a_command_line_run_refuses_everyone(model: keras.Model, tmp_path: Path) -> None:
    run_dir = save_run(model, record("teacher's run", owner=None), tmp_path)
    before = folder_bytes(run_dir)
    for user in ("Ana", "teacher", None):
        with pytest.raises(PermissionError, match="made with the command line; nobody can rename"):
            rename_run(run_dir.name, "x", user=user, runs_dir=tmp_path)
        with pytest.raises(PermissionError, match="made with the command line; nobody can delete"):
            delete_run(run_dir.name, user=user, runs_dir=tmp_path)
    assert folder_bytes(run_dir) == before
    assert list_runs(tmp_path)[0].owner is None


def test_rename_and_delete_by_id_hit_exactly_that_run(model: keras.Model, tmp_path: Path) -> None:
    first, second, third = (
        save_run(model, record(name, f"2025-01-0{day}T00:00:00+00:00"), tmp_path)
        for day, name in ((1, "first"), (2, "second"), (3, "third"))
    )
    untouched = {first.name: folder_bytes(first), third.name: folder_bytes(third)}
    rename_run(second.name, "renamed", user="ana", runs_dir=tmp_path)
    assert [summary.name for summary in list_runs(tmp_path)] == ["third", "renamed", "first"]
    delete_run(second.name, user="Ana", runs_dir=tmp_path)
    assert [summary.run_id for summary in list_runs(tmp_path)] == [third.name, first.name]
    assert {name: folder_bytes(tmp_path / name) for name in untouched} == untouched
    assert run_dir_for_id(first.name, tmp_path) == first


def test_deleted_runs_are_listed_for_their_owner_newest_first(
    model: keras.Model, tmp_path: Path
) -> None:
    anas = save_run(model, record("Ana's", owner="Ana"), tmp_path)
    bens = save_run(model, record("Ben's", owner="Ben"), tmp_path)
    kept = save_run(model, record("kept", owner="Ana"), tmp_path)
    delete_run(anas.name, user="Ana", runs_dir=tmp_path)
    time.sleep(0.01)  # Deletion times are recorded to the microsecond.
    delete_run(bens.name, user="Ben", runs_dir=tmp_path)
    assert [summary.run_id for summary in list_runs(tmp_path)] == [kept.name]
    assert [summary.name for summary in list_deleted_runs(tmp_path)] == ["Ben's", "Ana's"]
    anas_trash = list_deleted_runs(tmp_path, user=" ana ")
    assert [summary.name for summary in anas_trash] == ["Ana's"]
    assert anas_trash[0].run_id == anas.name and anas_trash[0].owner == "Ana"
    assert anas_trash[0].deleted_at is not None and anas_trash[0].deleted_at[:2] == "20"
    assert list_deleted_runs(tmp_path, user="Carla") == []
    assert list_deleted_runs(tmp_path / "missing") == []


def test_restore_brings_a_run_back_byte_identical(model: keras.Model, tmp_path: Path) -> None:
    run_dir = save_run(model, record("precious"), tmp_path)
    before = folder_bytes(run_dir)
    delete_run(run_dir.name, user="Ana", runs_dir=tmp_path)
    assert restore_run(run_dir.name, user="ana", runs_dir=tmp_path) == run_dir
    assert folder_bytes(run_dir) == before
    assert [summary.name for summary in list_runs(tmp_path)] == ["precious"]
    assert list_deleted_runs(tmp_path) == []
    with pytest.raises(FileNotFoundError, match="That run is not in the trash"):
        restore_run(run_dir.name, user="Ana", runs_dir=tmp_path)


def test_purge_removes_only_old_trash(model: keras.Model, tmp_path: Path) -> None:
    old, recent, lost_time = (
        save_run(model, record(name), tmp_path) for name in ("old", "recent", "lost time")
    )
    for run_dir in (old, recent, lost_time):
        delete_run(run_dir.name, user="Ana", runs_dir=tmp_path)
    eight_days_ago = datetime.now(UTC) - timedelta(days=8)
    (tmp_path / ".trash" / old.name / runs.DELETION_FILE_NAME).write_text(
        json.dumps({"deleted_at": eight_days_ago.isoformat()})
    )
    # Without its deletion file, a run in the trash is as old as its folder.
    (tmp_path / ".trash" / lost_time.name / runs.DELETION_FILE_NAME).unlink()
    os.utime(tmp_path / ".trash" / lost_time.name, (eight_days_ago.timestamp(),) * 2)
    assert purge_deleted_runs(tmp_path) == 2
    assert [summary.name for summary in list_deleted_runs(tmp_path)] == ["recent"]
    assert visible_entries(tmp_path / ".trash") == [recent.name]
    assert purge_deleted_runs(tmp_path, older_than_seconds=TRASH_KEEP_SECONDS) == 0
    assert purge_deleted_runs(tmp_path, older_than_seconds=0) == 1
    assert list_deleted_runs(tmp_path) == [] and purge_deleted_runs(tmp_path / "missing") == 0


def test_cleaning_temporary_folders_leaves_the_trash_alone(
    model: keras.Model, tmp_path: Path
) -> None:
    deleted = save_run(model, record("deleted"), tmp_path)
    restored = save_run(model, record("restored"), tmp_path)
    delete_run(deleted.name, user="Ana", runs_dir=tmp_path)
    (tmp_path / ".tmp-killed").mkdir()
    assert remove_stale_temporary_folders(tmp_path, older_than_seconds=-1) == 1
    assert [summary.name for summary in list_deleted_runs(tmp_path)] == ["deleted"]
    # An empty trash is still the trash, not an empty reservation left by a killed save.
    restore_run(deleted.name, user="Ana", runs_dir=tmp_path)
    assert remove_stale_temporary_folders(tmp_path, older_than_seconds=-1) == 0
    assert visible_entries(tmp_path) == sorted([".trash", deleted.name, restored.name])


def test_bad_run_ids_are_refused(model: keras.Model, tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    outside = save_run(model, record("outside"), tmp_path)
    run_dir = save_run(model, record("inside"), runs_dir)
    delete_run(run_dir.name, user="Ana", runs_dir=runs_dir)
    for bad in ("", ".", "..", f"../{outside.name}", "a/b", "a\\b", ".trash", ".tmp-x", "a..b"):
        with pytest.raises(ValueError, match="is not a run id"):
            run_dir_for_id(bad, runs_dir)
        with pytest.raises(ValueError, match="is not a run id"):
            rename_run(bad, "x", user="Ana", runs_dir=runs_dir)
        with pytest.raises(ValueError, match="is not a run id"):
            delete_run(bad, user="Ana", runs_dir=runs_dir)
        with pytest.raises(ValueError, match="is not a run id"):
            restore_run(bad, user="Ana", runs_dir=runs_dir)
    with pytest.raises(FileNotFoundError, match="That run no longer exists: 20250101-000000-gone"):
        run_dir_for_id("20250101-000000-gone", runs_dir)
    # The run in the trash cannot be reached by its id as if it were still saved.
    with pytest.raises(FileNotFoundError, match="That run no longer exists"):
        rename_run(run_dir.name, "x", user="Ana", runs_dir=runs_dir)
    assert [summary.name for summary in list_runs(tmp_path)] == ["outside"]


# Runs trained elsewhere come back as the model file's bytes and the record.


def test_a_run_saved_from_bytes_loads_and_predicts(model: keras.Model, tmp_path: Path) -> None:
    model_bytes = model_file_path(save_run(model, record(), tmp_path / "worker")).read_bytes()
    run_dir = save_run_files(model_bytes, record("from a worker"), tmp_path / "app")
    assert visible_entries(tmp_path / "app") == [run_dir.name]
    assert (run_dir / "model.keras").read_bytes() == model_bytes
    run = load_run(run_dir)
    assert run.name == "from a worker" and run.record["run_id"] == run_dir.name
    images = np.random.default_rng(1).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    expected = model(images.astype(np.float32), training=False).numpy()
    np.testing.assert_allclose(run.predict(images), expected, rtol=1e-5, atol=1e-6)


def test_a_failing_save_from_bytes_leaves_nothing_behind(
    model: keras.Model, tmp_path: Path
) -> None:
    model_bytes = model_file_path(save_run(model, record(), tmp_path / "worker")).read_bytes()
    runs_dir = tmp_path / "app"
    runs_dir.mkdir()
    with pytest.raises(ValueError, match="The model file is empty"):
        save_run_files(b"", record(), runs_dir)
    with pytest.raises(ValueError, match="not a complete .keras model file"):
        save_run_files(model_bytes[: len(model_bytes) // 2], record(), runs_dir)
    with pytest.raises(TypeError):
        save_run_files(model_bytes, {**record(), "bad": object()}, runs_dir)
    assert visible_entries(runs_dir) == []


def _listed(
    name: str, accuracy: float | None, created_at: str, shape: list[int]
) -> runs.RunSummary:
    record = {"name": name, "test_accuracy": accuracy, "created_at": created_at}
    record["dataset"] = {"name": "digits", "image_shape": shape}
    return runs.RunSummary(
        run_dir=Path(f"/runs/{name}"),
        name=name,
        dataset="digits",
        status="completed",
        test_accuracy=accuracy,
        created_at=created_at,
        record=record,
    )


def test_the_best_run_is_the_most_accurate_one_for_the_images_asked_for() -> None:
    listed = [
        _listed("newest", 0.61, "2026-01-03T00:00:00", [28, 28, 1]),
        _listed("colour", 0.99, "2026-01-02T12:00:00", [32, 32, 3]),
        _listed("best", 0.97, "2026-01-02T00:00:00", [28, 28, 1]),
        _listed("imported", None, "2026-01-01T00:00:00", [28, 28, 1]),
    ]
    assert runs.best_run(listed, image_shape=(28, 28, 1)).name == "best"
    assert runs.best_run(listed).name == "colour"
    assert runs.best_run(listed, image_shape=(64, 64, 3)) is None
    # Without any accuracy, the newest of them.
    unscored = [
        _listed(name, None, f"2026-01-0{day}", [28, 28, 1]) for name, day in (("a", 1), ("b", 2))
    ]
    assert runs.best_run(unscored, image_shape=(28, 28, 1)).name == "b"
