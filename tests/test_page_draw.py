"""AppTests of the Draw page's time slider: the same drawing, read by the network at any point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from tests_support import canvas_state, drawn_one

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = str(ROOT / "dashboard.py")
TIMEOUT = 60


def open_draw(monkeypatch: pytest.MonkeyPatch, runs_dir: Path) -> AppTest:
    """The Draw page on `runs_dir`'s first run, with a handwritten 1 on the canvas."""
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(runs_dir))
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    app.run()
    app.switch_page("pages/draw.py")
    app.run()
    app.session_state["draw_canvas"] = canvas_state(drawn_one())
    app.run()
    assert not app.exception and not app.error
    return app


def chart_data(app: AppTest, key_start: str) -> list[dict]:
    """The traces of the one chart whose key starts with `key_start`."""
    (chart,) = [chart for chart in app.get("plotly_chart") if chart.key.startswith(key_start)]
    return json.loads(chart.proto.spec)["data"]


def test_the_draw_page_reads_the_drawing_with_the_network_at_the_slider_s_point(
    monkeypatch: pytest.MonkeyPatch, digits_runs_dir: Path
) -> None:
    app = open_draw(monkeypatch, digits_runs_dir)
    slider = app.select_slider(key="draw_checkpoint")
    labels = list(slider.options)
    assert labels[0] == "untrained" and labels[-1].startswith("end (epoch")
    assert slider.value == len(labels) - 1
    trained = (app.metric[0].value, app.metric[0].delta, chart_data(app, "draw_guesses_"))
    # Grad-CAM is worked out only once its expander is opened, not on every stroke.
    assert [chart.key for chart in app.get("plotly_chart")][1:] == ["draw_stages"]
    app.session_state["draw_gradcam_open"] = True
    app.run()
    trained_heatmap = chart_data(app, "draw_gradcam")

    slider.set_value(0).run()
    assert not app.exception and not app.error
    untrained = (app.metric[0].value, app.metric[0].delta, chart_data(app, "draw_guesses_"))
    assert untrained != trained, "the untrained network guesses otherwise"
    assert chart_data(app, "draw_gradcam") != trained_heatmap
    assert [chart.key for chart in app.get("plotly_chart")][1:] == ["draw_stages", "draw_gradcam"]

    app.select_slider(key="draw_checkpoint").set_value(len(labels) - 1).run()
    assert (app.metric[0].value, app.metric[0].delta, chart_data(app, "draw_guesses_")) == trained


def test_play_on_the_draw_page_ends_on_the_trained_network(
    monkeypatch: pytest.MonkeyPatch, digits_runs_dir: Path
) -> None:
    import ui.time_machine

    monkeypatch.setattr(ui.time_machine, "PLAY_SECONDS", 0.0)
    app = open_draw(monkeypatch, digits_runs_dir)
    last = len(app.select_slider(key="draw_checkpoint").options) - 1
    trained = app.metric[0].delta
    app.select_slider(key="draw_checkpoint").set_value(0).run()
    app.button(key="draw_checkpoint_play").click().run()
    assert not app.exception
    assert app.select_slider(key="draw_checkpoint").value == last
    assert not app.session_state["draw_checkpoint_playing"]
    assert app.metric[0].delta == trained
