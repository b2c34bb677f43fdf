"""AppTests of "How a convolution works" on the Inside the network and Draw pages."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from tests_support import canvas_state, drawn_one

from core.runs import list_runs

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = str(ROOT / "dashboard.py")
TIMEOUT = 60
VALUE_IN_THE_MAP = re.compile(r"(-?\d+\.\d\d) \(the value in the map\)$")


def open_page(
    monkeypatch: pytest.MonkeyPatch, page: str, runs_dir: Path, data_dir: Path | None = None
) -> AppTest:
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(runs_dir))
    if data_dir is not None:
        monkeypatch.setenv("CONVLAB_DATA_DIR", str(data_dir))
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    app.run()
    app.switch_page(page)
    app.run()
    assert not app.exception
    return app


def plotly_array(values: list | dict) -> np.ndarray:
    """An array from a Plotly figure's JSON: nested lists, or Plotly's typed base64 form."""
    if isinstance(values, dict):
        array = np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
        shape = values.get("shape")
        if shape:
            array = array.reshape([int(size) for size in str(shape).split(",")])
        return array
    return np.asarray(values, dtype=np.float64)


def chart(app: AppTest, key_start: str) -> dict:
    """The Plotly figure of the one chart whose key starts with `key_start`."""
    charts = [chart for chart in app.get("plotly_chart") if chart.key.startswith(key_start)]
    assert len(charts) == 1, [chart.key for chart in app.get("plotly_chart")]
    return json.loads(charts[0].proto.spec)


def shown_step(app: AppTest, page: str) -> dict:
    """What the view shows: the position, the equation's value and the map's value there."""
    row = app.number_input(key=f"{page}_convolution_row").value
    col = app.number_input(key=f"{page}_convolution_col").value
    window = chart(app, f"{page}_convolution_window_")
    feature_map = plotly_array(
        [trace for trace in window["data"] if trace["type"] == "heatmap"][-1]["z"]
    )
    step = chart(app, f"{page}_convolution_step")
    equation = step["layout"]["title"]["text"]
    match = VALUE_IN_THE_MAP.search(equation)
    assert match, equation
    return {
        "position": (row, col),
        "equation": equation,
        "value": float(match.group(1)),
        "map": feature_map,
        "map_value": float(feature_map[row, col]),
        "step": step,
        "window": window,
    }


def assert_equation_gives_the_map_value(shown: dict) -> None:
    # The equation is written to 2 decimals; the map holds the layer's real output.
    assert shown["value"] == pytest.approx(shown["map_value"], abs=0.0051), shown["equation"]


def page_text(app: AppTest) -> str:
    return " ".join(block.value for block in [*app.markdown, *app.caption])


def test_the_inside_tab_works_out_the_map_value_at_any_layer_channel_and_pixel(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, digits_runs_dir: Path
) -> None:
    app = open_page(monkeypatch, "pages/inside.py", digits_runs_dir, tmp_path)
    assert not app.error
    assert "How a convolution works" in [tab.label for tab in app.tabs]
    layer_box = app.selectbox(key="inside_convolution_layer")
    assert layer_box.options == [
        "conv1 · 3×3 kernel, stride 1, same padding · 1 → 8 channels, 28×28 → 28×28",
        "conv2 · 3×3 kernel, stride 1, same padding · 8 → 16 channels, 14×14 → 14×14",
    ]
    first = shown_step(app, "inside")
    # It opens on the pixel where the filter responds most.
    assert first["map_value"] == pytest.approx(first["map"].max())
    assert_equation_gives_the_map_value(first)
    row, col = first["position"]
    assert f"is the value at row {row}, column {col} of channel 0 of conv1" in page_text(app)
    assert "then batch norm (bn1) → " in page_text(app)
    assert "max-pool (pool1), the largest of its 2×2 window" in page_text(app)
    # One input channel: patch, kernel and products, each on a padding trace or its own.
    assert [trace["type"] for trace in first["step"]["data"]] == ["heatmap"] * 4
    assert "inside_convolution_input" not in [box.key for box in app.selectbox]

    # Another pixel, by number and by the arrows.
    app.number_input(key="inside_convolution_row").set_value(0)
    app.number_input(key="inside_convolution_col").set_value(0).run()
    corner = shown_step(app, "inside")
    assert corner["position"] == (0, 0)
    assert_equation_gives_the_map_value(corner)
    assert "grey: padding" in json.dumps(corner["step"]["layout"]["annotations"])
    app.button(key="inside_convolution_right").click().run()
    app.button(key="inside_convolution_down").click().run()
    assert shown_step(app, "inside")["position"] == (1, 1)
    assert app.button(key="inside_convolution_up").disabled is False
    app.button(key="inside_convolution_up").click().run()
    assert app.button(key="inside_convolution_up").disabled, "the window is on the top row"
    app.number_input(key="inside_convolution_col").set_value(27).run()
    app.button(key="inside_convolution_next").click().run()
    assert shown_step(app, "inside")["position"] == (1, 0), "Next wraps to the next row"

    # Another output channel makes another map and another equation.
    app.number_input(key="inside_convolution_channel").set_value(5).run()
    fifth = shown_step(app, "inside")
    assert_equation_gives_the_map_value(fifth)
    assert not np.array_equal(fifth["map"], corner["map"])

    # The second layer reads 8 channels: each is a bar, and the bars add up to the total.
    app.selectbox(key="inside_convolution_layer").set_value("conv2").run()
    assert not app.exception
    app.button(key="inside_convolution_strongest").click().run()
    second = shown_step(app, "inside")
    assert second["map"].shape == (14, 14)
    assert second["map_value"] == pytest.approx(second["map"].max())
    assert_equation_gives_the_map_value(second)
    assert "over all 8 input channels" in second["equation"]
    (bars,) = [trace for trace in second["step"]["data"] if trace["type"] == "bar"]
    assert len(plotly_array(bars["y"])) == 8
    assert "input: pool1's output, channel 0, 14×14" in json.dumps(
        second["window"]["layout"]["annotations"], ensure_ascii=False
    )


def test_a_colour_run_shows_each_input_channel_and_their_sum(
    monkeypatch: pytest.MonkeyPatch, cifar_and_quickdraw: tuple[Path, Path]
) -> None:
    data_dir, runs_dir = cifar_and_quickdraw
    (cifar,) = [summary for summary in list_runs(runs_dir) if summary.dataset == "cifar10"]
    app = open_page(monkeypatch, "pages/inside.py", runs_dir, data_dir)
    app.selectbox(key="inside_run").set_value(cifar.run_id).run()
    assert not app.exception and not app.error
    picker = app.selectbox(key="inside_convolution_input")
    assert picker.options == [
        "channel 0",
        "channel 1",
        "channel 2",
        "all 3 (the sum over the channels)",
    ]
    shown = shown_step(app, "inside")
    assert_equation_gives_the_map_value(shown)
    assert "over all 3 input channels" in shown["equation"]
    (bars,) = [trace for trace in shown["step"]["data"] if trace["type"] == "bar"]
    sums = plotly_array(bars["y"])
    assert len(sums) == 3
    # The three channel sums plus the bias make the value before the activation.
    total = float(re.search(r"input channels (-?\d+\.\d\d)", shown["equation"]).group(1))
    assert sums.sum() == pytest.approx(total, abs=0.0051)
    assert bars["marker"]["color"][0] == "#ff7f0e", "the shown channel's bar stands out"

    picker.set_value(2).run()
    assert "channel 2" in json.dumps(chart(app, "inside_convolution_step")["layout"]["annotations"])
    app.selectbox(key="inside_convolution_input").set_value(-1).run()
    summed = shown_step(app, "inside")
    assert [trace["type"] for trace in summed["step"]["data"]] == ["heatmap", "bar"]
    assert summed["value"] == shown["value"]


def test_the_draw_page_takes_a_drawing_apart(
    monkeypatch: pytest.MonkeyPatch, digits_runs_dir: Path
) -> None:
    app = open_page(monkeypatch, "pages/draw.py", digits_runs_dir)
    app.session_state["draw_canvas"] = canvas_state(drawn_one())
    app.run()
    assert not app.exception and not app.error
    # Built only when asked, so a stroke does not pay for it.
    assert "draw_convolution_row" not in [widget.key for widget in app.number_input]
    app.toggle(key="draw_convolution_open").set_value(True).run()
    shown = shown_step(app, "draw")
    assert_equation_gives_the_map_value(shown)
    assert shown["map_value"] == pytest.approx(shown["map"].max())
    app.number_input(key="draw_convolution_row").set_value(10)
    app.number_input(key="draw_convolution_col").set_value(10).run()
    app.button(key="draw_convolution_left").click().run()
    assert not app.exception
    moved = shown_step(app, "draw")
    assert moved["position"] == (10, 9)
    assert_equation_gives_the_map_value(moved)
