"""AppTests of the Inside the network page, on the small Digits run of tests/conftest.py."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import session_keys
from core.datasets import load_dataset
from core.predictions import NO_EVIDENCE_BELOW

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = str(ROOT / "dashboard.py")
PAGE = "pages/inside.py"
TIMEOUT = 60


def open_inside(monkeypatch: pytest.MonkeyPatch, runs_dir: Path, data_dir: Path) -> AppTest:
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(data_dir))
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    app.run()
    app.switch_page(PAGE)
    app.run()
    assert not app.exception
    return app


def chart_texts(app: AppTest) -> list[str]:
    """Each Plotly chart's title and subplot titles: what a user reads on the chart."""
    texts = []
    for chart in app.get("plotly_chart"):
        layout = json.loads(chart.proto.spec)["layout"]
        title = layout.get("title", {})
        parts = [title.get("text") or "" if isinstance(title, dict) else str(title)]
        parts += [annotation.get("text", "") for annotation in layout.get("annotations", [])]
        texts.append(" | ".join(parts))
    return texts


def trace_types(app: AppTest, needle: str) -> list[str]:
    """The trace types of the one chart whose text holds `needle`."""
    charts = [
        chart
        for chart, text in zip(app.get("plotly_chart"), chart_texts(app), strict=True)
        if needle in text
    ]
    assert len(charts) == 1, f"{needle!r} in {chart_texts(app)}"
    return [trace["type"] for trace in json.loads(charts[0].proto.spec)["data"]]


def page_text(app: AppTest) -> str:
    return " ".join(block.value for block in [*app.markdown, *app.caption])


def test_inside_page_shows_feature_maps_grad_cam_filters_and_the_map(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    app = open_inside(monkeypatch, digits_runs_dir, tmp_path)
    assert not app.error
    assert app.title[0].value == "Inside the network"
    # Feature maps of the first layer by default, as one heatmap of channels.
    assert trace_types(app, "conv1: 28×28 pixels, 8 channels") == ["heatmap"]
    # Grad-CAM on the last convolution, over the image, for the predicted class.
    assert trace_types(app, "Grad-CAM for") == ["image", "image", "heatmap"]
    assert "(conv2)" in next(text for text in chart_texts(app) if "Grad-CAM" in text)
    assert any("saliency for" in text for text in chart_texts(app))
    assert "the predicted class" in page_text(app)
    guesses = app.dataframe[0].value
    assert len(guesses) == 3 and guesses["probability"].is_monotonic_decreasing
    # At the default size the map is the one saved with the run: up to 100 test images of each
    # class, so all 300 of Digits.
    assert "300 test images by PCA" in chart_texts(app)
    assert any(text.startswith(" | conv2") for text in chart_texts(app)), "filter strengths"


def test_choices_change_the_image_layer_and_explained_class(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    test_labels = load_dataset("digits").y_test
    app = open_inside(monkeypatch, digits_runs_dir, tmp_path)
    first = test_labels[0]
    assert f"test image #0 ({first})" in chart_texts(app)[0]

    # Among the 3s only, the fifth is the fifth 3 of the test set.
    app.selectbox(key="inside_filter").set_value("3")
    app.number_input(key="inside_index").set_value(4).run()
    fifth_three = int(np.flatnonzero(test_labels == 3)[4])
    assert f"test image #{fifth_three} (3)" in chart_texts(app)[0]
    threes = int((test_labels == 3).sum())
    assert app.number_input(key="inside_index").label == f"Image number (0 to {threes - 1})"

    app.button(key="inside_random").click().run()
    assert app.number_input(key="inside_index").value != 4

    app.segmented_control(key="inside_layer").set_value("pool2").run()
    assert trace_types(app, "pool2: 7×7 pixels, 16 channels") == ["heatmap"]
    app.toggle(key="inside_shared_scale").set_value(True).run()
    chart = json.loads(app.get("plotly_chart")[1].proto.spec)
    assert chart["data"][0]["showscale"] is True, "a shared scale shows its colour bar"

    predicted = app.dataframe[0].value["class"][0]
    assert f"The network says **{predicted}**" in page_text(app)
    assert f"Explaining **{predicted}**, the predicted class" in page_text(app)
    # The runner-up: a class the network gives some probability to, so there is evidence to map.
    guesses = app.dataframe[0].value
    other, other_probability = guesses["class"][1], guesses["probability"][1]
    app.selectbox(key="inside_target").set_value(other).run()
    assert not app.exception
    assert f"Explaining **{other}**, not the predicted class" in page_text(app)
    if other_probability >= NO_EVIDENCE_BELOW:
        assert trace_types(app, f"Grad-CAM for {other}") == ["image", "image", "heatmap"]
    else:
        notes = " ".join(block.value for block in app.info)
        assert f"There is nothing to show for {other}" in notes

    # A class with fewer images brings an out-of-range number back to the first image.
    app.selectbox(key="inside_filter").set_value("Any class")
    app.number_input(key="inside_index").set_value(299).run()
    app.selectbox(key="inside_filter").set_value("5").run()
    assert not app.exception
    assert app.number_input(key="inside_index").value == 0


def test_t_sne_waits_for_its_button_and_a_new_sample_goes_back_to_pca(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    app = open_inside(monkeypatch, digits_runs_dir, tmp_path)
    assert any("test images by PCA" in text for text in chart_texts(app))
    app.button(key="inside_tsne").click().run()
    assert not app.exception
    assert any("test images by t-SNE" in text for text in chart_texts(app))
    # Other choices keep the t-SNE map; a new sample needs the button again.
    app.toggle(key="inside_shared_scale").set_value(True).run()
    assert any("test images by t-SNE" in text for text in chart_texts(app))
    app.slider(key="inside_embedding_size").set_value(200).run()
    assert "200 test images by PCA" in chart_texts(app)


def test_a_drawing_from_the_draw_page_can_be_looked_inside(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    app = open_inside(monkeypatch, digits_runs_dir, tmp_path)
    assert not app.radio, "no drawing yet, no choice"
    drawing = np.zeros((1, 28, 28, 1), dtype=np.uint8)
    drawing[0, 6:22, 13:16] = 255
    app.session_state[session_keys.DRAW_INPUT] = drawing
    app.run()
    app.radio(key="inside_source").set_value("drawing").run()
    assert not app.exception and not app.error
    assert "your drawing from the Draw page" in chart_texts(app)[0]
    assert ", but it is" not in page_text(app), "a drawing has no true class"
    assert any("Grad-CAM for" in text for text in chart_texts(app))

    app.session_state[session_keys.DRAW_INPUT] = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    app.run()
    assert not app.exception and not app.radio
    assert "model takes (28, 28, 1) images" in page_text(app)


def test_choices_another_run_rules_out_go_back_to_their_first_option(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    runs_dir = tmp_path / "runs"
    shutil.copytree(digits_runs_dir, runs_dir)
    (digits_run,) = runs_dir.iterdir()
    letters_run = shutil.copytree(digits_run, runs_dir / f"{digits_run.name}-letters")
    record = json.loads((letters_run / "record.json").read_text())
    record["dataset"]["class_names"] = list("abcdefghij")
    record["name"] = "letters"
    (letters_run / "record.json").write_text(json.dumps(record))
    app = open_inside(monkeypatch, runs_dir, tmp_path)
    app.selectbox(key="inside_run").set_value(letters_run.name).run()
    app.selectbox(key="inside_filter").set_value("c")
    app.selectbox(key="inside_target").set_value("e").run()
    assert "Explaining **e**" in page_text(app)
    app.selectbox(key="inside_run").set_value(digits_run.name).run()
    assert not app.exception
    assert app.selectbox(key="inside_filter").value == "Any class"
    assert app.selectbox(key="inside_target").value == "The predicted class"
    assert ", the predicted class" in page_text(app)


def test_inside_page_without_runs_points_to_the_train_page(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = open_inside(monkeypatch, tmp_path / "none", tmp_path)
    assert "No saved runs yet" in app.info[0].value
    assert [link.proto.page for link in app.get("page_link")] == ["train"]


def test_a_run_whose_dataset_is_missing_says_what_to_fetch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    runs_dir = tmp_path / "runs"
    shutil.copytree(digits_runs_dir, runs_dir)
    (record_path,) = runs_dir.glob("*/record.json")
    record = json.loads(record_path.read_text())
    record["dataset"]["name"] = "mnist"
    record_path.write_text(json.dumps(record))
    app = open_inside(monkeypatch, runs_dir, tmp_path / "empty")
    assert "Could not download" in app.error[0].value
    assert "mnist/ with the four IDX files" in app.info[0].value
    assert not app.get("plotly_chart")


def chart_spec(app: AppTest, key: str) -> dict:
    """The Plotly figure of the chart drawn under `key`."""
    (chart,) = [chart for chart in app.get("plotly_chart") if chart.key == key]
    return json.loads(chart.proto.spec)


def map_trace_points(app: AppTest, run_key: str) -> dict[str, list[float]]:
    """The embedding map's x coordinates by class name, as drawn."""
    keys = [chart.key for chart in app.get("plotly_chart") if chart.key.startswith(run_key)]
    assert len(keys) == 1, keys
    return {trace["name"]: plotly_values(trace["x"]) for trace in chart_spec(app, keys[0])["data"]}


def plotly_values(values: list | dict) -> list[float]:
    """An array from a Plotly figure's JSON: a list, or Plotly's typed base64 form."""
    if isinstance(values, dict):
        data = base64.b64decode(values["bdata"])
        return np.frombuffer(data, dtype=np.dtype(values["dtype"])).tolist()
    return list(values)


def stored_x_by_class(embedding: dict, method: str) -> dict[str, list[float]]:
    points, labels = embedding[method], embedding["labels"]
    return {str(label): points[labels == label, 0].tolist() for label in np.unique(labels).tolist()}


def embedding_must_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any map computed on the page fail the test: only stored maps may be drawn."""
    import core.inspection

    def computed(*arguments, **keywords):
        raise AssertionError("the page computed a map instead of using the stored one")

    monkeypatch.setattr(core.inspection, "embedding", computed)


def copied_run(digits_runs_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the Digits runs folder, to change a run's files: (runs folder, the run)."""
    runs_dir = tmp_path / "runs"
    shutil.copytree(digits_runs_dir, runs_dir)
    (run_dir,) = runs_dir.iterdir()
    return runs_dir, run_dir


def test_the_time_slider_shows_the_untrained_network_s_guess_and_filters(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    app = open_inside(monkeypatch, digits_runs_dir, tmp_path)
    slider = app.select_slider(key="inside_checkpoint")
    labels = list(slider.options)
    assert labels[0] == "untrained" and labels[-1].startswith("end (epoch")
    assert slider.value == len(labels) - 1, "a run opens as it ended"
    trained = app.dataframe[0].value["probability"].tolist()
    trained_filters = chart_spec(app, "inside_filters")["data"]
    assert "The network says" in page_text(app)
    assert "as it ended, whatever the slider says" not in page_text(app)

    slider.set_value(0).run()
    assert not app.exception and not app.error
    untrained = app.dataframe[0].value["probability"].tolist()
    assert untrained != trained
    assert "The untrained network says" in page_text(app)
    assert chart_spec(app, "inside_filters")["data"] != trained_filters
    assert any("Grad-CAM for" in text for text in chart_texts(app))
    # The map stays on the finished network, and says so.
    assert "as it ended, whatever the slider says" in page_text(app)
    assert "300 test images by PCA" in chart_texts(app)

    app.select_slider(key="inside_checkpoint").set_value(1).run()
    assert f"The network at {labels[1]} says" in page_text(app)
    app.select_slider(key="inside_checkpoint").set_value(len(labels) - 1).run()
    assert app.dataframe[0].value["probability"].tolist() == trained


def test_play_steps_through_every_point_and_stops_at_the_end(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    import ui.time_machine
    from core.runs import Run

    monkeypatch.setattr(ui.time_machine, "PLAY_SECONDS", 0.0)
    shown: list[int] = []
    at_checkpoint = Run.at_checkpoint

    def spy(self: Run, index: int) -> Run:
        shown.append(index)
        return at_checkpoint(self, index)

    monkeypatch.setattr(Run, "at_checkpoint", spy)
    app = open_inside(monkeypatch, digits_runs_dir, tmp_path)
    last = len(app.select_slider(key="inside_checkpoint").options) - 1
    shown.clear()
    app.button(key="inside_checkpoint_play").click().run()
    assert not app.exception
    # Play from the end starts again from the untrained network and shows each point once.
    assert shown == list(range(last + 1))
    assert app.select_slider(key="inside_checkpoint").value == last
    assert not app.session_state["inside_checkpoint_playing"]
    assert app.button(key="inside_checkpoint_play").label == "Play"

    # Playing from a point halfway carries on from there.
    app.select_slider(key="inside_checkpoint").set_value(last - 2).run()
    shown.clear()
    app.session_state["inside_checkpoint_playing"] = True
    app.run()
    assert shown == [last - 2, last - 1, last]
    assert app.select_slider(key="inside_checkpoint").value == last


def test_the_map_opens_from_the_stored_pca_without_computing_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    from core.timeline import EMBEDDING_FILE_NAME, read_embedding

    (run_dir,) = digits_runs_dir.iterdir()
    stored = read_embedding(run_dir / EMBEDDING_FILE_NAME)
    assert "tsne" not in stored
    embedding_must_not_run(monkeypatch)
    app = open_inside(monkeypatch, digits_runs_dir, tmp_path)
    assert not app.exception
    assert "300 test images by PCA" in chart_texts(app)
    assert map_trace_points(app, "inside_embedding_") == stored_x_by_class(stored, "pca")

    # Another sample size is computed on the page, as before.
    app.slider(key="inside_embedding_size").set_value(200).run()
    assert "computed a map" in str(app.exception[0].value)


def test_a_stored_t_sne_map_shows_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    from core.timeline import EMBEDDING_FILE_NAME, read_embedding, store_embedding_map

    runs_dir, run_dir = copied_run(digits_runs_dir, tmp_path)
    stored = read_embedding(run_dir / EMBEDDING_FILE_NAME)
    tsne = np.random.default_rng(0).normal(size=(len(stored["indices"]), 2))
    store_embedding_map(run_dir, stored["indices"], stored["labels"], tsne=tsne)
    embedding_must_not_run(monkeypatch)
    app = open_inside(monkeypatch, runs_dir, tmp_path)
    app.button(key="inside_tsne").click().run()
    assert not app.exception
    assert "300 test images by t-SNE" in chart_texts(app)
    expected = stored_x_by_class({**stored, "tsne": tsne.astype(np.float32)}, "tsne")
    assert map_trace_points(app, "inside_embedding_") == expected
    assert not app.get("progress")
    app.button(key="inside_pca").click().run()
    assert "300 test images by PCA" in chart_texts(app)


class FakeEngine:
    """Stands in for the server's training engine: the map tasks it was asked for."""

    def __init__(self, task=None) -> None:
        self.task = task
        self.submitted: list[dict] = []

    def side_task(self, kind: str, run_id: str):
        return self.task if kind == "map" else None

    def submit_map(self, run_dir, **keywords):
        from core.engine import SideTask

        self.submitted.append({"run_dir": Path(run_dir), **keywords})
        self.task = SideTask(
            task_id="map-1", kind="map", run_id=Path(run_dir).name, expected_seconds=8
        )
        return self.task


def test_a_t_sne_map_made_on_a_worker_shows_its_progress_then_the_map(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    import time

    import ui.embedding
    from core.timeline import EMBEDDING_FILE_NAME, read_embedding, store_embedding_map

    runs_dir, run_dir = copied_run(digits_runs_dir, tmp_path)
    engine = FakeEngine()
    monkeypatch.setattr(ui.embedding, "started_engine", lambda: engine)
    embedding_must_not_run(monkeypatch)
    app = open_inside(monkeypatch, runs_dir, tmp_path)
    assert not engine.submitted, "nothing is asked of the workers before the button"

    # No task for this run yet (a run from the command line): the button asks a worker.
    app.button(key="inside_tsne").click().run()
    assert not app.exception
    (submitted,) = engine.submitted
    assert submitted["run_dir"] == run_dir and submitted["dataset_name"] == "digits"
    (bar,) = app.get("progress")
    assert bar.value == 0 and "waiting for a free worker" in bar.text
    assert "300 test images by PCA" in chart_texts(app), "PCA meanwhile"

    engine.task.state = "running"
    engine.task.started_at = time.monotonic() - 2
    app.run()
    (bar,) = app.get("progress")
    assert 20 <= bar.value <= 30 and "about 6 s left" in bar.text
    assert len(engine.submitted) == 1, "one task per run"

    stored = read_embedding(run_dir / EMBEDDING_FILE_NAME)
    tsne = np.random.default_rng(1).normal(size=(len(stored["indices"]), 2))
    store_embedding_map(run_dir, stored["indices"], stored["labels"], tsne=tsne)
    engine.task.state = "finished"
    app.run()
    assert not app.exception and not app.get("progress")
    assert "300 test images by t-SNE" in chart_texts(app)


def test_a_map_the_worker_could_not_make_is_made_on_the_page(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    import ui.embedding
    from core.engine import SideTask

    failed = SideTask(task_id="map-2", kind="map", run_id="x", expected_seconds=8)
    failed.state, failed.error = "failed", "the worker died"
    monkeypatch.setattr(ui.embedding, "started_engine", lambda: FakeEngine(failed))
    app = open_inside(monkeypatch, digits_runs_dir, tmp_path)
    app.button(key="inside_tsne").click().run()
    assert not app.exception and not app.get("progress")
    assert "could not make the map (the worker died)" in page_text(app)
    assert "300 test images by t-SNE" in chart_texts(app)


def test_the_t_sne_button_asks_the_training_cluster_and_its_map_follows(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    digits_runs_dir: Path,
    app_uses_training_cluster: str,
) -> None:
    from ui.engine import training_engine

    runs_dir, run_dir = copied_run(digits_runs_dir, tmp_path)
    engine = training_engine()  # Started as the Train page starts it; Inside never does.
    embedding_must_not_run(monkeypatch)  # The worker is another process: this is the server.
    app = open_inside(monkeypatch, runs_dir, tmp_path)
    app.button(key="inside_tsne").click().run()
    assert not app.exception
    task = engine.side_task("map", run_dir.name)
    assert task is not None and task.wait(120) and task.state == "finished", task and task.error
    app.run()
    assert not app.exception and not app.get("progress")
    assert "300 test images by t-SNE" in chart_texts(app)
