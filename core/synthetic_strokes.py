"""Hand-like pen strokes made here: doodles, capital letters, scribbles, and a canvas for them.

No doodle ships with Convlab (Quick, Draw! downloads need the internet), so the doodle path and
the "not one of mine" check are measured on strokes generated here: simple shapes and letters
with the wobble, slant and proportions of a hand, drawn on a canvas the way the browser would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

Stroke = np.ndarray  # (n, 2) float (x, y)


def _circle(start: float = 0.0, turns: float = 1.0, points: int = 40) -> list[tuple]:
    angles = start + np.linspace(0, 2 * np.pi * turns, points)
    return list(zip(0.5 + 0.5 * np.cos(angles), 0.5 + 0.5 * np.sin(angles), strict=True))


def _spiral() -> list[tuple]:
    angles = np.linspace(0, 5 * np.pi, 80)
    radius = 0.5 * angles / angles[-1]
    return list(zip(0.5 + radius * np.cos(angles), 0.5 + radius * np.sin(angles), strict=True))


def _star() -> list[tuple]:
    angles = -np.pi / 2 + np.arange(6) * 4 * np.pi / 5
    return list(zip(0.5 + 0.5 * np.cos(angles), 0.5 + 0.5 * np.sin(angles), strict=True))


# Each doodle class as polylines in the unit square, y down, in the order a hand draws them.
DOODLES: dict[str, list[list[tuple]]] = {
    "circle": [_circle()],
    "triangle": [[(0.5, 0.0), (1.0, 1.0), (0.0, 1.0), (0.5, 0.0)]],
    "square": [[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)]],
    "star": [_star()],
    "house": [
        [(0.0, 0.45), (0.0, 1.0), (1.0, 1.0), (1.0, 0.45), (0.0, 0.45)],
        [(0.0, 0.45), (0.5, 0.0), (1.0, 0.45)],
        [(0.4, 1.0), (0.4, 0.7), (0.6, 0.7), (0.6, 1.0)],
    ],
    "lightning": [[(0.6, 0.0), (0.2, 0.55), (0.6, 0.5), (0.35, 1.0)]],
    "spiral": [_spiral()],
    "smiley": [
        _circle(),
        [(0.33, 0.35), (0.35, 0.4)],
        [(0.65, 0.35), (0.67, 0.4)],
        [(0.25, 0.62), (0.4, 0.75), (0.6, 0.75), (0.75, 0.62)],
    ],
    "envelope": [
        [(0.0, 0.2), (1.0, 0.2), (1.0, 0.8), (0.0, 0.8), (0.0, 0.2)],
        [(0.0, 0.2), (0.5, 0.55), (1.0, 0.2)],
    ],
    "arrow": [[(0.0, 0.5), (1.0, 0.5)], [(0.7, 0.2), (1.0, 0.5), (0.7, 0.8)]],
}

# Capital letters as a hand strokes them, none of them a digit's shape (no O, I, S, Z, B, G).
LETTERS: dict[str, list[list[tuple]]] = {
    "A": [[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)], [(0.22, 0.6), (0.78, 0.6)]],
    "C": [_circle(start=0.25 * np.pi, turns=0.78)],
    "E": [[(0.9, 0.0), (0.1, 0.0), (0.1, 1.0), (0.9, 1.0)], [(0.1, 0.5), (0.7, 0.5)]],
    "F": [[(0.9, 0.0), (0.1, 0.0), (0.1, 1.0)], [(0.1, 0.5), (0.7, 0.5)]],
    "H": [[(0.0, 0.0), (0.0, 1.0)], [(1.0, 0.0), (1.0, 1.0)], [(0.0, 0.5), (1.0, 0.5)]],
    "K": [[(0.1, 0.0), (0.1, 1.0)], [(0.9, 0.0), (0.1, 0.55), (0.9, 1.0)]],
    "M": [[(0.0, 1.0), (0.1, 0.0), (0.5, 0.6), (0.9, 0.0), (1.0, 1.0)]],
    "N": [[(0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]],
    "P": [[(0.1, 1.0), (0.1, 0.0), (0.7, 0.0), (0.9, 0.15), (0.9, 0.35), (0.7, 0.5), (0.1, 0.5)]],
    "R": [
        [(0.1, 1.0), (0.1, 0.0), (0.7, 0.0), (0.9, 0.15), (0.9, 0.35), (0.7, 0.5), (0.1, 0.5)],
        [(0.45, 0.5), (0.9, 1.0)],
    ],
    "T": [[(0.0, 0.0), (1.0, 0.0)], [(0.5, 0.0), (0.5, 1.0)]],
    "U": [[(0.0, 0.0), (0.0, 0.7), (0.2, 0.95), (0.5, 1.0), (0.8, 0.95), (1.0, 0.7), (1.0, 0.0)]],
    "V": [[(0.0, 0.0), (0.5, 1.0), (1.0, 0.0)]],
    "W": [[(0.0, 0.0), (0.25, 1.0), (0.5, 0.35), (0.75, 1.0), (1.0, 0.0)]],
    "X": [[(0.0, 0.0), (1.0, 1.0)], [(1.0, 0.0), (0.0, 1.0)]],
    "Y": [[(0.0, 0.0), (0.5, 0.5), (1.0, 0.0)], [(0.5, 0.5), (0.5, 1.0)]],
}


def hand_drawn(polylines: Sequence[Sequence[tuple]], rng: np.random.Generator) -> list[Stroke]:
    """The shape as a hand draws it: slanted, stretched, wobbly, in dense points, unit scale."""
    angle = np.deg2rad(rng.normal(0, 8))
    stretch = np.exp(rng.normal(0, 0.12, 2))
    shear = rng.normal(0, 0.08)
    transform = (
        np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        @ np.array([[1.0, shear], [0.0, 1.0]])
        @ np.diag(stretch)
    )
    strokes = []
    for polyline in polylines:
        corners = np.asarray(polyline, dtype=float) + rng.normal(0, 0.03, (len(polyline), 2))
        dense = _densify(corners, spacing=0.01)
        # A hand's wobble is slow: a few sine waves along the stroke, a few percent of its size.
        along = np.linspace(0, 1, len(dense))
        wobble = np.zeros_like(dense)
        for _ in range(3):
            frequency = rng.uniform(0.5, 3.0)
            wobble += rng.normal(0, 0.008, 2) * np.sin(
                2 * np.pi * (frequency * along[:, None] + rng.uniform(0, 1, 2))
            )
        strokes.append((dense + wobble - 0.5) @ transform.T + 0.5)
    return strokes


def scribble(rng: np.random.Generator) -> list[Stroke]:
    """One to three random strokes that are no shape at all."""
    strokes = []
    for _ in range(int(rng.integers(1, 4))):
        corners = rng.uniform(0, 1, (int(rng.integers(2, 7)), 2))
        strokes.append(_densify(corners, spacing=0.01))
    return strokes


def _densify(corners: np.ndarray, spacing: float) -> np.ndarray:
    """Points every `spacing` along the polyline through corners, as a mouse samples a stroke."""
    pieces = [corners[:1]]
    for start, end in zip(corners[:-1], corners[1:], strict=True):
        steps = max(1, int(np.ceil(np.hypot(*(end - start)) / spacing)))
        fractions = np.linspace(0, 1, steps + 1)[1:, None]
        pieces.append(start + fractions * (end - start))
    return np.concatenate(pieces)


# Three ways a canvas holds ink: dark pen on a transparent canvas (alpha carries it), black on
# white, and a coloured pen on a coloured paper.
CANVAS_BACKGROUNDS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "transparent": ((0, 0, 0, 0), (20, 20, 20, 255)),
    "white": ((255, 255, 255, 255), (0, 0, 0, 255)),
    "coloured": ((250, 235, 200, 255), (40, 60, 170, 255)),
}
CANVAS_SUPERSAMPLING = 4


def place_on_canvas(
    strokes: Sequence[Stroke], *, left: float, top: float, size: float
) -> list[Stroke]:
    """Unit-scale strokes moved and scaled so their longer side spans `size` canvas pixels."""
    every_point = np.concatenate(strokes)
    corner = every_point.min(axis=0)
    extent = max(float((every_point.max(axis=0) - corner).max()), 1e-6)
    return [(stroke - corner) * (size / extent) + (left, top) for stroke in strokes]


def canvas_image(
    strokes: Sequence[Stroke],
    *,
    width: int,
    height: int,
    pen_width: float,
    background: str = "white",
) -> np.ndarray:
    """(height, width, 4) uint8 RGBA of the strokes drawn with a round pen, anti-aliased."""
    paper, ink = CANVAS_BACKGROUNDS[background]
    scale = CANVAS_SUPERSAMPLING
    coverage = Image.new("L", (width * scale, height * scale))
    pen = ImageDraw.Draw(coverage)
    radius = pen_width * scale / 2
    for stroke in strokes:
        points = [tuple(point) for point in (np.asarray(stroke) * scale)]
        if len(points) > 1:
            pen.line(points, fill=255, width=max(1, round(pen_width * scale)))
        # Round caps and joins, as the browser's pen draws them.
        for x, y in points:
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    alpha = np.asarray(coverage.resize((width, height), Image.Resampling.BOX), dtype=np.float32)
    alpha = alpha[..., None] / 255.0
    rgba = np.asarray(paper, dtype=np.float32) * (1 - alpha) + np.asarray(ink, np.float32) * alpha
    return np.rint(rgba).astype(np.uint8)


def canvas_json(strokes: Sequence[Stroke], pen_width: float) -> dict[str, Any]:
    """The Fabric.js JSON the canvas sends for these strokes, its pencil's curves included.

    The pencil joins the midpoints of successive points with quadratic curves whose controls
    are the points themselves, and places each path by the centre of its box.
    """
    objects = []
    for stroke in strokes:
        points = np.asarray(stroke, dtype=float)
        commands: list[list[Any]] = [["M", *points[0].round(3).tolist()]]
        for point, following in zip(points[:-1], points[1:], strict=True):
            middle = (point + following) / 2
            commands.append(["Q", *point.round(3).tolist(), *middle.round(3).tolist()])
        commands.append(["L", *points[-1].round(3).tolist()])
        centre = (points.min(axis=0) + points.max(axis=0)) / 2
        objects.append(
            {
                "type": "Path",
                "originX": "center",
                "originY": "center",
                "left": float(centre[0]),
                "top": float(centre[1]),
                "strokeWidth": pen_width,
                "scaleX": 1,
                "scaleY": 1,
                "angle": 0,
                "path": commands,
            }
        )
    return {"version": "7.4.0", "objects": objects}
