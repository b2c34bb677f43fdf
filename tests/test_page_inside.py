"""AppTests of the Inside the network page, on the small Digits run of tests/conftest.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import session_keys
from core.datasets import load_dataset

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
    # The map takes as many of the 300 test images from each class: 30, or all of a smaller one.
    per_class = np.bincount(load_dataset("digits").y_test)
    on_map = np.minimum(per_class, 30).sum()
    assert f"{on_map} test images by PCA" in chart_texts(app)
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
    other = next(name for name in "0123456789" if name != predicted)
    app.selectbox(key="inside_target").set_value(other).run()
    assert not app.exception
    assert f"Explaining **{other}**, not the predicted class" in page_text(app)
    assert trace_types(app, f"Grad-CAM for {other}") == ["image", "image", "heatmap"]

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
