"""Tests for core.strokes: the canvas's own strokes drawn the way Quick, Draw!'s bitmaps were."""

from __future__ import annotations

import numpy as np
import pytest
from tests_support import cairo_quickdraw

from core.drawing import (
    CANVAS_SIDES,
    DEFAULT_CANVAS_SIDE,
    EmptyDrawingError,
    canvas_side,
    preprocess_drawing,
)
from core.strokes import (
    read_drawing,
    render_simplified_strokes,
    simplify_strokes,
    strokes_from_canvas,
    strokes_to_quickdraw_image,
)
from core.synthetic_strokes import (
    CANVAS_BACKGROUNDS,
    DOODLES,
    canvas_image,
    canvas_json,
    hand_drawn,
    place_on_canvas,
)

# What the canvas (Fabric.js 7.4 in streamlit-drawable-canvas) sent for one stroke drawn with the
# mouse in Chromium, trimmed to the keys that matter.
FABRIC_STROKE = {
    "version": "7.4.0",
    "objects": [
        {
            "type": "Path",
            "originX": "center",
            "originY": "center",
            "left": 124.7025,
            "top": 140,
            "width": 49.441,
            "height": 160.036,
            "strokeWidth": 18,
            "scaleX": 1,
            "scaleY": 1,
            "angle": 0,
            "flipX": False,
            "flipY": False,
            "skewX": 0,
            "skewY": 0,
            "path": [
                ["M", 99.982, 59.982],
                ["Q", 100, 60, 105, 65],
                ["Q", 110, 70, 115, 75],
                ["Q", 120, 80, 125, 85],
                ["Q", 130, 90, 135, 95],
                ["Q", 140, 100, 141, 110],
                ["Q", 142, 120, 143.5, 130],
                ["Q", 145, 140, 146, 150],
                ["Q", 147, 160, 148.5, 170],
                ["Q", 150, 180, 146, 185],
                ["Q", 142, 190, 138.5, 195],
                ["Q", 135, 200, 127.5, 210],
                ["L", 119.982, 220.018],
            ],
        }
    ],
    "background": "#ffffff",
}


def correlation(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.corrcoef(first.ravel().astype(float), second.ravel().astype(float))[0, 1])


def test_the_canvas_json_gives_its_strokes_in_canvas_pixels() -> None:
    strokes = strokes_from_canvas(FABRIC_STROKE)
    assert strokes is not None and len(strokes) == 1
    stroke = strokes[0]
    assert stroke[0] == pytest.approx((99.982, 59.982))
    assert stroke[-1] == pytest.approx((119.982, 220.018))
    # The curves pass near their control points, inside the object's recorded box.
    assert stroke[:, 0].max() == pytest.approx(149.4, abs=1.0)
    assert stroke[:, 1].min() == pytest.approx(60.0, abs=0.1)


@pytest.mark.parametrize(
    "change",
    [
        {"left": 180.0},  # moved with the edit toggle
        {"scaleX": 1.5},
        {"angle": 30},
        {"flipY": True},
    ],
)
def test_a_moved_or_transformed_stroke_leaves_the_reading_to_the_bitmap(change: dict) -> None:
    changed = {"objects": [{**FABRIC_STROKE["objects"][0], **change}]}
    assert strokes_from_canvas(changed) is None


@pytest.mark.parametrize(
    "json_data",
    [
        None,
        {},
        {"objects": []},
        {"objects": [{"type": "path"}]},  # no path commands
        {"objects": [{"type": "rect", "left": 10, "top": 10, "width": 50, "height": 50}]},
        {"objects": [{"type": "Path", "path": [["M", 1, 2], ["A", 3, 4, 5]]}]},
        {"objects": [{"type": "Path", "path": [["M", "x", 2]]}]},
    ],
)
def test_anything_but_plain_strokes_gives_none(json_data) -> None:
    assert strokes_from_canvas(json_data) is None


def test_simplification_aligns_scales_and_drops_points_on_a_straight_line() -> None:
    line = np.column_stack([np.linspace(40, 140, 200), np.linspace(30, 80, 200)])
    corner = np.array([[140.0, 30.0], [140.0, 130.0]])
    simplified = simplify_strokes([line, corner])
    every_point = np.concatenate(simplified)
    assert every_point.min(axis=0).tolist() == [0.0, 0.0]
    assert every_point.max() == 255.0
    assert np.array_equal(every_point, np.rint(every_point))
    # A straight line keeps its two ends, however many points the mouse sent.
    assert len(simplified[0]) == 2


def test_a_lone_dot_is_drawn_as_a_dot_in_the_middle() -> None:
    image = strokes_to_quickdraw_image([np.array([[50.0, 60.0]])])
    rows, columns = np.nonzero(image > 20)
    assert 1 <= len(rows) <= 6
    assert rows.mean() == pytest.approx(13.5, abs=0.6)
    assert columns.mean() == pytest.approx(13.5, abs=0.6)


def test_no_strokes_cannot_be_simplified() -> None:
    with pytest.raises(ValueError, match="no strokes"):
        simplify_strokes([np.zeros((0, 2))])


def test_rendering_matches_cairo_the_datasets_own_renderer() -> None:
    cairo = pytest.importorskip(
        "cairocffi", reason="cairocffi (the dataset's renderer) is not installed"
    )
    rng = np.random.default_rng(3)
    for name in ("house", "star", "smiley"):
        simplified = simplify_strokes(hand_drawn(DOODLES[name], rng))
        rendered = cairo_quickdraw(cairo, simplified)
        ours = render_simplified_strokes(simplified)
        assert correlation(ours, rendered) > 0.99, name
        assert np.abs(ours.astype(int) - rendered).mean() < 4, name


def test_doodles_drawn_anywhere_on_the_canvas_read_as_their_dataset_form() -> None:
    """The doodle path on stroke lists: size, place, pen and background change nothing."""
    rng = np.random.default_rng(0)
    for index, name in enumerate(list(DOODLES) * 2):
        strokes = hand_drawn(DOODLES[name], rng)
        dataset_form = strokes_to_quickdraw_image(strokes)
        size = rng.uniform(80, 250)
        placed = place_on_canvas(
            strokes, left=rng.uniform(0, 390), top=rng.uniform(0, 230), size=size
        )
        pen = rng.uniform(8, 30)
        background = list(CANVAS_BACKGROUNDS)[index % len(CANVAS_BACKGROUNDS)]
        rgba = canvas_image(placed, width=640, height=480, pen_width=pen, background=background)
        stages = read_drawing(rgba, canvas_json(placed, pen), style="quickdraw")
        assert stages.read_from == "strokes"
        assert correlation(stages.image, dataset_form) > 0.97, (name, size, pen)
        # The bitmap's stages stay for the "what the model sees" view.
        assert stages.ink.shape == (480, 640)


def test_strokes_beat_the_bitmap_on_a_thick_pen_in_a_small_doodle() -> None:
    """Where the bitmap has lost the strokes (a thick pen closes a small star), they still tell."""
    rng = np.random.default_rng(1)
    stroke_scores, bitmap_scores = [], []
    for _ in range(6):
        strokes = hand_drawn(DOODLES["star"], rng)
        dataset_form = strokes_to_quickdraw_image(strokes)
        placed = place_on_canvas(strokes, left=40, top=40, size=80)
        rgba = canvas_image(placed, width=280, height=280, pen_width=28)
        by_strokes = read_drawing(rgba, canvas_json(placed, 28), style="quickdraw").image
        by_bitmap = preprocess_drawing(rgba, style="quickdraw").image
        stroke_scores.append(correlation(by_strokes, dataset_form))
        bitmap_scores.append(correlation(by_bitmap, dataset_form))
    assert min(stroke_scores) > 0.97
    assert np.mean(stroke_scores) > np.mean(bitmap_scores) + 0.05


def test_a_digit_run_reads_the_bitmap_and_an_empty_canvas_says_so() -> None:
    rng = np.random.default_rng(2)
    placed = place_on_canvas(hand_drawn(DOODLES["circle"], rng), left=50, top=50, size=150)
    rgba = canvas_image(placed, width=280, height=280, pen_width=18)
    stages = read_drawing(rgba, canvas_json(placed, 18), style="mnist")
    assert stages.read_from == "bitmap"
    assert np.array_equal(stages.image, preprocess_drawing(rgba, style="mnist").image)
    # Without strokes (older canvases, shapes, edits) a doodle run reads the bitmap too.
    assert read_drawing(rgba, None, style="quickdraw").read_from == "bitmap"
    with pytest.raises(EmptyDrawingError):
        read_drawing(np.zeros((280, 280, 4), np.uint8), {"objects": []}, style="quickdraw")


@pytest.mark.parametrize(
    ("column_width", "window_height", "expected"),
    [
        (None, None, DEFAULT_CANVAS_SIDE),
        (327, 768, 320),  # 1024x768 with the sidebar open: fits its column
        (530, 768, 560 - 40),  # sidebar closed: the window's height rules
        (980, 1080, 720),  # a large screen draws big
        (100, 900, CANVAS_SIDES[0]),  # a phone: the smallest canvas, not none
    ],
)
def test_the_canvas_fits_its_column_and_the_window(column_width, window_height, expected) -> None:
    assert canvas_side(column_width, window_height) == expected
