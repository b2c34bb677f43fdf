"""AppTests of the run pages on CIFAR-10 (colour) and Quick, Draw! (categories) runs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest
from tests_support import canvas_state, drawn_one

from core.runs import list_runs

ROOT = Path(__file__).resolve().parents[1]


def open_run_page(
    page: str, run_name: str, cifar_and_quickdraw, monkeypatch: pytest.MonkeyPatch
) -> AppTest:
    """Open a run page on the run named run_name, as a user picking it from the list."""
    data_dir, runs_dir = cifar_and_quickdraw
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(runs_dir))
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    app.run()
    app.switch_page(f"pages/{page}.py").run()
    run_dir = next(run.run_dir for run in list_runs(runs_dir) if run.name == run_name)
    picker = "draw_run" if page == "draw" else f"{page}_run"
    app.selectbox(key=picker).set_value(run_dir.name).run()
    assert not app.exception, app.exception
    return app


@pytest.mark.parametrize("run_name", ["tiny cifar10", "tiny quickdraw"])
def test_evaluate_works_on_colour_and_doodle_runs(run_name, cifar_and_quickdraw, monkeypatch):
    app = open_run_page("evaluate", run_name, cifar_and_quickdraw, monkeypatch)
    metrics = {metric.label: metric.value for metric in app.metric}
    expected_classes = "10" if "cifar" in run_name else "2"
    assert metrics["Classes"] == expected_classes and not app.error
    assert metrics["Test images"] == ("40" if "cifar" in run_name else "20")


@pytest.mark.parametrize("run_name", ["tiny cifar10", "tiny quickdraw"])
def test_inside_works_on_colour_and_doodle_runs(run_name, cifar_and_quickdraw, monkeypatch):
    app = open_run_page("inside", run_name, cifar_and_quickdraw, monkeypatch)
    assert not app.error
    assert len(app.get("plotly_chart")) >= 3, "the image, the feature maps and more"


def test_draw_takes_a_photo_for_a_colour_run(cifar_and_quickdraw, monkeypatch):
    app = open_run_page("draw", "tiny cifar10", cifar_and_quickdraw, monkeypatch)
    assert "colour photos" in app.info[0].value
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 30)).save(buffer, format="JPEG")
    app.file_uploader(key="draw_photo").upload("red.jpg", buffer.getvalue()).run()
    assert not app.exception and not app.error
    assert app.metric[0].label == "Top guess"
    assert app.metric[0].value in (
        "airplane automobile bird cat deer dog frog horse ship truck".split()
    )
    app.file_uploader(key="draw_photo").set_value(("notes.png", b"not a png", "image/png")).run()
    assert not app.exception
    assert "cannot be read" in app.error[0].value


def test_draw_reads_a_doodle_the_quick_draw_way(cifar_and_quickdraw, monkeypatch):
    app = open_run_page("draw", "tiny quickdraw", cifar_and_quickdraw, monkeypatch)
    assert "Nothing drawn yet" in app.info[0].value
    app.session_state["draw_canvas"] = canvas_state(drawn_one())
    app.run()
    assert not app.exception
    assert app.metric[0].value in ("cat", "house")
    assert "as the Quick, Draw! bitmaps were" in " ".join(c.value for c in app.caption)


def test_draw_redraws_a_doodle_from_its_strokes(cifar_and_quickdraw, monkeypatch):
    import numpy as np

    from core.synthetic_strokes import (
        DOODLES,
        canvas_image,
        canvas_json,
        hand_drawn,
        place_on_canvas,
    )

    app = open_run_page("draw", "tiny quickdraw", cifar_and_quickdraw, monkeypatch)
    strokes = hand_drawn(DOODLES["house"], np.random.default_rng(0))
    placed = place_on_canvas(strokes, left=30, top=40, size=180)
    drawing = canvas_image(placed, width=280, height=280, pen_width=14)
    app.session_state["draw_canvas"] = canvas_state(drawing, canvas_json(placed, 14))
    app.run()
    assert not app.exception
    assert "redrawn from your pen strokes" in " ".join(c.value for c in app.caption)
    # The drawing the page hands to Inside is the strokes' rendering, not the bitmap's.
    from core.drawing import preprocess_drawing
    from core.strokes import strokes_to_quickdraw_image

    shown = app.session_state["draw_input"][0, :, :, 0]
    assert np.corrcoef(shown.ravel(), strokes_to_quickdraw_image(strokes).ravel())[0, 1] > 0.97
    assert not np.array_equal(shown, preprocess_drawing(drawing, style="quickdraw").image)
