"""AppTests of small things users reported: what the pages say and pick on their own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from tests_support import canvas_state, class_folder_zip, drawn_one, open_page, upload_shapes

from core import runs, session_keys

# One image's probabilities over the ten digits: a 1 at 40%, a 7 at 30%, the rest small.
UNSURE_ONE = np.array([0.05, 0.40, 0.05, 0.05, 0.05, 0.05, 0.05, 0.30, 0.0, 0.0], np.float32)
# A sure 0, some evidence for a 2, next to none for a 1 (0.4%, which reads 0%).
SURE_ZERO = np.array([0.90, 0.004, 0.096, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], np.float32)


def always_predict(monkeypatch: pytest.MonkeyPatch, probabilities: np.ndarray) -> None:
    """Every run answers `probabilities` for every image, so a test knows what it says."""

    from core.recognition import Recognition

    def predict(self: runs.Run, images: np.ndarray) -> np.ndarray:
        count = 1 if np.ndim(images) == 3 else len(images)
        return np.tile(probabilities, (count, 1))

    def recognise(self: runs.Run, images: np.ndarray) -> Recognition:
        # Familiar and calibrated: only the probabilities decide what the page says.
        answers = predict(self, images)
        return Recognition(answers, np.ones(len(answers), dtype=bool), np.zeros(len(answers)))

    monkeypatch.setattr(runs.Run, "predict", predict)
    monkeypatch.setattr(runs.Run, "recognise", recognise)


def copy_run(source_runs: Path, runs_dir: Path, run_id: str, **record_changes) -> Path:
    """A copy of the one run in `source_runs` as `runs_dir/run_id`, its record changed."""
    (source,) = [path for path in source_runs.iterdir() if not path.name.startswith(".")]
    folder = shutil.copytree(source, runs_dir / run_id)
    record_path = folder / "record.json"
    record = json.loads(record_path.read_text())
    dataset_changes = record_changes.pop("dataset", {})
    record.update(record_changes)
    record["dataset"].update(dataset_changes)
    record_path.write_text(json.dumps(record))
    return folder


# --- Draw ---------------------------------------------------------------------------------------


def test_other_networks_on_the_draw_page_say_not_sure_under_the_threshold(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    runs_dir = tmp_path / "runs"
    copy_run(
        digits_runs_dir, runs_dir, "20260101-000000-aaaaaa", name="first net", test_accuracy=0.9
    )
    other = copy_run(
        digits_runs_dir, runs_dir, "20260102-000000-bbbbbb", name="second net", test_accuracy=0.8
    )
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(runs_dir))
    always_predict(monkeypatch, UNSURE_ONE)
    app = open_page("pages/draw.py")
    app.selectbox(key="draw_run").set_value("20260101-000000-aaaaaa").run()
    app.session_state["draw_canvas"] = canvas_state(drawn_one())
    app.multiselect(key="draw_compare").set_value([other]).run()
    assert not app.exception and not app.error
    top_guess, compared = app.metric
    # The network beside the chosen one reads its 40% against the same "Sure above" of 60%.
    assert (compared.label, compared.value, compared.delta) == ("second net", "1", "not sure (40%)")
    assert (top_guess.label, top_guess.delta) == ("Top guess", "not sure (40%)")

    app.slider(key="draw_threshold").set_value(0.3).run()
    assert [metric.delta for metric in app.metric] == ["40% sure", "40% sure"]


def test_the_draw_picker_opens_on_the_most_accurate_canvas_network(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    runs_dir = tmp_path / "runs"
    best = copy_run(
        digits_runs_dir,
        runs_dir,
        "20260101-000000-aaaaaa",
        name="best",
        test_accuracy=0.95,
        created_at="2026-01-01T00:00:00+00:00",
    )
    copy_run(
        digits_runs_dir,
        runs_dir,
        "20260102-000000-bbbbbb",
        name="photos",
        test_accuracy=0.99,
        created_at="2026-01-02T00:00:00+00:00",
        dataset={"image_shape": [32, 32, 3]},
    )
    newest = copy_run(
        digits_runs_dir,
        runs_dir,
        "20260103-000000-cccccc",
        name="newest",
        test_accuracy=0.50,
        created_at="2026-01-03T00:00:00+00:00",
    )
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(runs_dir))
    app = open_page("pages/draw.py")
    picker = app.selectbox(key="draw_run")
    assert picker.value == best.name, "the best 28x28 network, not the newest run"
    # A run the user picks stays picked.
    picker.set_value(newest.name).run()
    app.run()
    assert app.selectbox(key="draw_run").value == newest.name

    # A run this session just trained is shown once, over the best one.
    just_trained = SimpleNamespace(run_dir=newest, running=False, state="finished")
    app = open_page("pages/draw.py", before={session_keys.TRAINING_JOB: just_trained})
    assert app.selectbox(key="draw_run").value == newest.name
    app.selectbox(key="draw_run").set_value(best.name).run()
    app.run()
    assert not app.exception
    assert app.selectbox(key="draw_run").value == best.name


# --- Inside the network -------------------------------------------------------------------------


def test_where_it_looks_has_nothing_to_show_for_a_class_the_network_rules_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(digits_runs_dir))
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path))
    always_predict(monkeypatch, SURE_ZERO)
    app = open_page("pages/inside.py")
    app.selectbox(key="inside_target").set_value("1").run()
    assert not app.exception
    note = " ".join(block.value for block in app.info)
    assert "There is nothing to show for 1: the network sees no evidence of it" in note
    chart_keys = [chart.key for chart in app.get("plotly_chart")]
    assert "inside_grad_cam" not in chart_keys and "inside_saliency" not in chart_keys

    # A class with some evidence, 9.6%, gets its maps.
    app.selectbox(key="inside_target").set_value("2").run()
    assert not app.exception
    assert not any("nothing to show" in block.value for block in app.info)
    chart_keys = [chart.key for chart in app.get("plotly_chart")]
    assert "inside_grad_cam" in chart_keys and "inside_saliency" in chart_keys


# --- Datasets and Train on an upload ------------------------------------------------------------


def test_an_upload_without_images_counts_the_files_it_skipped() -> None:
    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("custom").run()
    notes = {f"notes/{index}.txt": b"not a picture" for index in range(12)}
    app.file_uploader(key="datasets_custom_upload").upload(
        "notes.zip", class_folder_zip({}, extra=notes)
    ).run()
    assert not app.exception
    assert app.error[0].value.startswith(
        "The .zip holds no images: 12 files were skipped because they are not PNG or JPEG images"
    )


def test_the_default_batch_size_fits_a_small_upload(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(tmp_path / "runs"))
    app = open_page("pages/datasets.py", user="Ana")
    upload_shapes(app)
    app.switch_page("pages/train.py").run()
    app.selectbox(key="train_name").set_value("digits").run()
    assert app.selectbox(key="train_batch_size").value == 256
    # Fewer training images than a batch of 256: the default follows them down.
    app.number_input(key="train_subset").set_value(100).run()
    assert app.selectbox(key="train_batch_size").value == 64
    app.number_input(key="train_subset").set_value(0).run()
    assert app.selectbox(key="train_batch_size").value == 256
    # 24 images: 20 to train, 2 of them for validation, so batches of 16.
    app.selectbox(key="train_name").set_value("custom").run()
    assert not app.exception
    assert "20 training and 4 test images" in app.caption[0].value
    assert app.selectbox(key="train_batch_size").value == 16
    assert not app.error
    assert not app.button(key="train_train").disabled
    # A size the user picks is theirs: the page says why it cannot train, and keeps it.
    app.selectbox(key="train_batch_size").set_value(32).run()
    assert "batch size 32 is larger than the 18 training images" in app.error[0].value
    app.selectbox(key="train_name").set_value("digits").run()
    assert app.selectbox(key="train_batch_size").value == 32 and not app.error


# --- Datasets offline ---------------------------------------------------------------------------


def test_an_offline_download_says_what_to_do_without_python_s_error_text(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The autouse fixture sends every download to a closed local port, as on a machine offline.
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path / "empty"))
    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("fashion_mnist").run()
    assert not app.exception
    message = app.error[0].value
    assert message.startswith(
        "Could not download train-images-idx3-ubyte.gz: the server could not be reached; this "
        "machine may be offline. Put train-images-idx3-ubyte.gz in the data folder as "
    )
    assert "connect this machine to the internet" in message
    assert "Errno" not in message and "urlopen" not in message and "<" not in message
