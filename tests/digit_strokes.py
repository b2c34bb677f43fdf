"""The ten digits as pen strokes a hand would make, placed on a canvas for the game's tests.

Each template was checked against the fast MNIST run of tests/conftest.py (a 20-second
training): read the MNIST way, every digit is its own top guess at 98% or more on canvases from
280 to 600 pixels, and it stays the top guess for 9 or 10 of 10 hand-like wobbly copies
(core.synthetic_strokes.hand_drawn). tests/test_page_play.py checks them again on each run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.synthetic_strokes import canvas_image, place_on_canvas

TAU = 2 * np.pi
# The drawing's longer side as a share of the canvas, and its top-left corner's place.
DRAWING_SHARE = 0.65
LEFT_SHARE, TOP_SHARE = 0.2, 0.15
# The Draw and Play pages' pen: 18 pixels on a 280-pixel canvas.
PEN_SHARE = 18 / 280


def _curve(
    x: Callable[[np.ndarray], np.ndarray],
    y: Callable[[np.ndarray], np.ndarray],
    start: float,
    end: float,
    points: int = 24,
) -> list[tuple[float, float]]:
    """Points along a curve given as x(t) and y(t) in the unit square, y down."""
    steps = np.linspace(start, end, points)
    return list(zip(np.asarray(x(steps), float), np.asarray(y(steps), float), strict=True))


# Each digit as polylines in the unit square, y down, in the order a hand writes them.
DIGIT_STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "0": [_curve(lambda t: 0.5 + 0.32 * np.sin(t), lambda t: 0.5 - 0.5 * np.cos(t), 0, TAU, 32)],
    "1": [[(0.56, 0.0), (0.44, 1.0)]],
    "2": [
        _curve(lambda t: 0.5 - 0.35 * np.cos(t), lambda t: 0.3 - 0.3 * np.sin(t), 0.2, np.pi, 12)
        + [(0.55, 0.55), (0.12, 1.0), (0.9, 1.0)]
    ],
    "3": [
        _curve(lambda t: 0.45 + 0.32 * np.sin(t), lambda t: 0.25 - 0.25 * np.cos(t), -1.2, np.pi)
        + _curve(lambda t: 0.45 + 0.36 * np.sin(t), lambda t: 0.73 - 0.27 * np.cos(t), 0, 4.34)
    ],
    "4": [[(0.55, 0.0), (0.1, 0.65), (0.9, 0.65)], [(0.68, 0.25), (0.64, 1.0)]],
    "5": [
        [(0.8, 0.0), (0.25, 0.0), (0.2, 0.45)]
        + _curve(lambda t: 0.45 + 0.35 * np.sin(t), lambda t: 0.7 - 0.3 * np.cos(t), -0.6, 4.14)
    ],
    "6": [
        [(0.6, 0.0), (0.3, 0.4)]
        + _curve(lambda t: 0.48 - 0.25 * np.cos(t), lambda t: 0.75 + 0.25 * np.sin(t), -0.9, 5.68)
    ],
    "7": [[(0.1, 0.0), (0.9, 0.0), (0.4, 1.0)]],
    "8": [_curve(lambda t: 0.5 + 0.3 * np.sin(2 * t), lambda t: 0.5 - 0.5 * np.cos(t), 0, TAU, 40)],
    "9": [
        _curve(lambda t: 0.5 + 0.28 * np.cos(t), lambda t: 0.28 - 0.28 * np.sin(t), 0, TAU + 0.2)
        + [(0.75, 0.35), (0.7, 1.0)]
    ],
}


def shape_on_canvas(polylines, side: int) -> list[np.ndarray]:
    """Unit-square polylines in canvas pixels on a square canvas of `side` pixels."""
    strokes = [np.asarray(polyline, dtype=float) for polyline in polylines]
    return place_on_canvas(
        strokes, left=side * LEFT_SHARE, top=side * TOP_SHARE, size=side * DRAWING_SHARE
    )


def shape_canvas(polylines, side: int = 280) -> np.ndarray:
    """(side, side, 4) uint8 RGBA of the polylines drawn in black on the canvas's white."""
    return canvas_image(
        shape_on_canvas(polylines, side), width=side, height=side, pen_width=round(side * PEN_SHARE)
    )


def digit_on_canvas(digit: str, side: int) -> list[np.ndarray]:
    """The digit's strokes in canvas pixels on a square canvas of `side` pixels."""
    return shape_on_canvas(DIGIT_STROKES[digit], side)


def digit_canvas(digit: str, side: int = 280) -> np.ndarray:
    """(side, side, 4) uint8 RGBA of the digit drawn in black on the canvas's white."""
    return shape_canvas(DIGIT_STROKES[digit], side)
