"""The run store: atomic saves, listing, renaming, deleting, loading and the fast predict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import keras
import numpy as np
import pytest

from core import runs
from core.models import ConvBlock, ModelSpec, build_model
from core.runs import (
    delete_run,
    list_runs,
    load_run,
    model_file_path,
    remove_stale_temporary_folders,
    rename_run,
    save_run,
)

ROOT = Path(__file__).resolve().parents[1]
SPEC = ModelSpec(conv_blocks=(ConvBlock(filters=4),), head="global_average")
CLASS_NAMES = ["zero", "one", "two"]


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return build_model(SPEC, (28, 28, 1), 3, seed=0)


def record(name: str = "a run", created_at: str = "2025-01-01T00:00:00+00:00") -> dict:
    return {
        "name": name,
        "created_at": created_at,
        "status": "completed",
        "test_accuracy": 0.5,
        "dataset": {"name": "digits", "class_names": CLASS_NAMES},
    }


def visible_entries(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir())


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
    rename_run(run_dir, "  my   best\tmodel ")
    assert list_runs(tmp_path)[0].name == "my best model"
    assert json.loads((run_dir / "record.json").read_text())["name"] == "my best model"
    with pytest.raises(ValueError, match="cannot be empty"):
        rename_run(run_dir, "   ")
    with pytest.raises(ValueError, match="at most 80 characters"):
        rename_run(run_dir, "x" * 81)
    assert visible_entries(run_dir) == ["model.keras", "record.json"]


def test_delete_removes_a_run_and_refuses_other_folders(model: keras.Model, tmp_path: Path) -> None:
    run_dir = save_run(model, record(), tmp_path)
    precious = tmp_path / "not-a-run"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(FileNotFoundError, match="is not a saved run"):
        delete_run(precious)
    delete_run(run_dir)
    assert visible_entries(tmp_path) == ["not-a-run"]
    assert list_runs(tmp_path) == []
    with pytest.raises(FileNotFoundError):
        load_run(run_dir)


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


def test_listing_runs_does_not_import_tensorflow(model: keras.Model, tmp_path: Path) -> None:
    save_run(model, record(), tmp_path)
    code = (
        "import sys; from core.runs import list_runs; "
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
    assert completed.stdout.split() == ["1", "False"], completed.stderr
