"""Read the canvas's pen strokes and draw them the way Quick, Draw!'s bitmaps were drawn.

Quick, Draw!'s 28x28 bitmaps were not photographs of a screen: Google simplified each drawing's
vector strokes and drew them again with a fixed pen (core.drawing cites the recipe). A bitmap of
the canvas has lost those strokes, and re-stroking it (core.drawing's "quickdraw" style) can only
estimate them; the canvas keeps them, so a doodle drawn here can follow the very same recipe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from core.drawing import (
    IMAGE_SIDE,
    QUICKDRAW_FRAME_UNITS,
    QUICKDRAW_LINE_DIAMETER,
    QUICKDRAW_MAX_COORDINATE,
    QUICKDRAW_ORIGINAL_SIDE,
    QUICKDRAW_PADDING,
    DrawingStages,
    DrawingStyle,
    preprocess_drawing,
)

Strokes = tuple[np.ndarray, ...]

# The simplified dataset's preprocessing (github.com/googlecreativelab/quickdraw-dataset, README,
# "Preprocessed dataset"): align to the top-left corner, scale uniformly so the longer side spans
# 0..255, resample every stroke with a 1-pixel spacing, simplify with Ramer-Douglas-Peucker at an
# epsilon of 2.0. Its coordinates are whole numbers.
RESAMPLE_SPACING = 1.0
SIMPLIFY_EPSILON = 2.0
# The canvas (Fabric.js's pencil) smooths a stroke into quadratic curves; this many points per
# curve follow it to well under a pixel at the 255-unit scale of a stroke a few points long.
CURVE_POINTS = 8
# The pen is drawn on a grid this many times finer than 28x28: 256 levels of coverage.
SUPERSAMPLING = 16
# A canvas object moved by hand keeps its path where it was drawn and records the move in its
# position: beyond this many canvas pixels the two disagree and the strokes are not trusted.
MOVED_TOLERANCE = 3.0
_PATH_TYPES = {"path"}


def strokes_from_canvas(json_data: Mapping[str, Any] | None) -> Strokes | None:
    """The pen strokes in a canvas's Fabric.js JSON, in canvas pixels, or None to use the bitmap.

    Each stroke is an (n, 2) float array of (x, y). None when there is nothing but free-hand
    paths to read: no objects, another kind of object (a shape, a text), or a path that was
    scaled, rotated or moved with the edit toggle, whose bitmap is then the faithful record.
    """
    if not json_data:
        return None
    objects = json_data.get("objects") or []
    strokes = []
    for canvas_object in objects:
        stroke = _path_points(canvas_object)
        if stroke is None:
            return None
        strokes.append(stroke)
    return tuple(strokes) if strokes else None


def _path_points(canvas_object: Mapping[str, Any]) -> np.ndarray | None:
    """The points along one free-hand path object, or None if it is not a plain, unmoved path."""
    if str(canvas_object.get("type", "")).lower() not in _PATH_TYPES:
        return None
    commands = canvas_object.get("path")
    if not isinstance(commands, list) or not commands:
        return None
    untransformed = (
        canvas_object.get("scaleX", 1) == 1
        and canvas_object.get("scaleY", 1) == 1
        and not canvas_object.get("angle", 0)
        and not canvas_object.get("skewX", 0)
        and not canvas_object.get("skewY", 0)
        and not canvas_object.get("flipX", False)
        and not canvas_object.get("flipY", False)
    )
    if not untransformed:
        return None
    try:
        points = _follow_path(commands)
    except (TypeError, ValueError, IndexError):
        return None
    if points.size == 0 or not np.isfinite(points).all():
        return None
    if not _where_it_was_drawn(canvas_object, points):
        return None
    return points


def _follow_path(commands: Sequence[Sequence[Any]]) -> np.ndarray:
    """Points along SVG-style path commands (M, L, Q, C, Z) in absolute coordinates.

    Every piece becomes a cubic Bezier curve (a quadratic one raised, a line with its controls
    on it), so all of them are followed in one vectorised step: a stroke sends hundreds.
    """
    first: tuple[float, float] | None = None
    current = (0.0, 0.0)
    controls: list[tuple[tuple[float, float], ...]] = []
    for command in commands:
        letter = str(command[0])
        values = [float(value) for value in command[1:]]
        if letter == "M":
            current = (values[0], values[1])
            first = first or current
            if controls:
                # The pen jumped without lifting: join it with a line, as the bitmap shows none.
                controls.append((controls[-1][3], controls[-1][3], current, current))
        elif letter == "L":
            end = (values[0], values[1])
            controls.append((current, current, end, end))
            current = end
        elif letter == "Q":
            control, end = (values[0], values[1]), (values[2], values[3])
            # A quadratic curve is the cubic whose controls lie two thirds of the way to its own.
            controls.append(
                (
                    current,
                    tuple(a + 2 / 3 * (b - a) for a, b in zip(current, control, strict=True)),
                    tuple(a + 2 / 3 * (b - a) for a, b in zip(end, control, strict=True)),
                    end,
                )
            )
            current = end
        elif letter == "C":
            end = (values[4], values[5])
            controls.append((current, (values[0], values[1]), (values[2], values[3]), end))
            current = end
        elif letter in ("Z", "z"):
            if first is not None:
                controls.append((current, current, first, first))
                current = first
        else:
            raise ValueError(f"unknown path command {letter!r}")
    if first is None:
        return np.zeros((0, 2))
    if not controls:
        return np.asarray([first], dtype=float)
    fractions = np.linspace(0, 1, CURVE_POINTS + 1)[1:, None]
    rest = 1 - fractions
    bernstein = np.hstack([rest**3, 3 * rest**2 * fractions, 3 * rest * fractions**2, fractions**3])
    curves = np.einsum("pk,skd->spd", bernstein, np.asarray(controls, dtype=float))
    return np.vstack([np.asarray(controls[0][0], dtype=float), curves.reshape(-1, 2)])


def _where_it_was_drawn(canvas_object: Mapping[str, Any], points: np.ndarray) -> bool:
    """Whether the object's recorded position is still that of its path (it was never moved)."""
    left, top = canvas_object.get("left"), canvas_object.get("top")
    if left is None or top is None:
        return True
    # Fabric places a path by the centre of its bounding box when its origin is the centre; the
    # box of the sampled curve is that box to a fraction of a pixel.
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    origin = (canvas_object.get("originX", "left"), canvas_object.get("originY", "top"))
    if origin != ("center", "center"):
        return True
    return bool(np.all(np.abs(centre - (float(left), float(top))) <= MOVED_TOLERANCE))


def simplify_strokes(strokes: Sequence[np.ndarray]) -> Strokes:
    """Quick, Draw!'s simplification: aligned, longer side 255, resampled, simplified, whole.

    Raises ValueError when there are no points.
    """
    kept = [np.asarray(stroke, dtype=float).reshape(-1, 2) for stroke in strokes]
    kept = [stroke for stroke in kept if len(stroke)]
    if not kept:
        raise ValueError("There are no strokes to simplify.")
    every_point = np.concatenate(kept)
    corner = every_point.min(axis=0)
    extent = float((every_point.max(axis=0) - corner).max())
    # A lone dot has no extent: it stays a dot at the corner.
    scale = QUICKDRAW_MAX_COORDINATE / extent if extent > 0 else 1.0
    simplified = []
    for stroke in kept:
        scaled = (stroke - corner) * scale
        resampled = _resample_stroke(scaled, RESAMPLE_SPACING)
        simplified.append(np.rint(_ramer_douglas_peucker(resampled, SIMPLIFY_EPSILON)))
    return tuple(simplified)


def _resample_stroke(stroke: np.ndarray, spacing: float) -> np.ndarray:
    """Points every `spacing` units along the polyline, its two ends kept."""
    steps = np.hypot(*np.diff(stroke, axis=0).T) if len(stroke) > 1 else np.zeros(0)
    length = float(steps.sum())
    if length == 0.0:
        return stroke[:1]
    along = np.concatenate([[0.0], np.cumsum(steps)])
    wanted = np.append(np.arange(0.0, length, spacing), length)
    return np.column_stack(
        [np.interp(wanted, along, stroke[:, 0]), np.interp(wanted, along, stroke[:, 1])]
    )


def _ramer_douglas_peucker(points: np.ndarray, epsilon: float) -> np.ndarray:
    """The polyline's points that keep every dropped one within epsilon of it (iterative RDP)."""
    if len(points) < 3:
        return points
    keep = np.zeros(len(points), dtype=bool)
    keep[[0, -1]] = True
    spans = [(0, len(points) - 1)]
    while spans:
        first, last = spans.pop()
        if last - first < 2:
            continue
        start, end = points[first], points[last]
        inner = points[first + 1 : last]
        direction = end - start
        length = float(np.hypot(*direction))
        if length == 0.0:
            distances = np.hypot(*(inner - start).T)
        else:
            offset = inner - start
            distances = np.abs(direction[0] * offset[:, 1] - direction[1] * offset[:, 0]) / length
        farthest = int(np.argmax(distances))
        if distances[farthest] > epsilon:
            middle = first + 1 + farthest
            keep[middle] = True
            spans.extend([(first, middle), (middle, last)])
    return points[keep]


def render_simplified_strokes(simplified: Sequence[np.ndarray]) -> np.ndarray:
    """The (28, 28) uint8 numpy_bitmap of simplified strokes (coordinates 0..255), white on black.

    The drawing's box is centred in 256 units and drawn with a round 16-unit pen inside 16 units
    of padding, as Google's vector_to_raster did with cairo. Pillow draws the pen on a grid
    SUPERSAMPLING times finer and averaging its blocks gives cairo's anti-aliased coverage.
    """
    every_point = np.concatenate([np.asarray(stroke, dtype=float) for stroke in simplified])
    offset = (QUICKDRAW_ORIGINAL_SIDE - every_point.max(axis=0)) / 2
    fine_per_unit = IMAGE_SIDE * SUPERSAMPLING / QUICKDRAW_FRAME_UNITS
    margin = QUICKDRAW_PADDING + QUICKDRAW_LINE_DIAMETER / 2
    fine_side = IMAGE_SIDE * SUPERSAMPLING
    radius = QUICKDRAW_LINE_DIAMETER / 2 * fine_per_unit
    picture = Image.new("L", (fine_side, fine_side))
    pen = ImageDraw.Draw(picture)
    for stroke in simplified:
        # Pillow's pixel i spans [i, i + 1) as cairo's does, so coordinates carry over as they are.
        fine = (np.asarray(stroke, dtype=float) + offset + margin) * fine_per_unit
        points = [tuple(point) for point in fine.tolist()]
        if len(points) > 1:
            pen.line(points, fill=255, width=round(2 * radius))
        # Round caps and joins: a disc of the pen at every point (a lone point is a dot).
        for x, y in points:
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    image = picture.resize((IMAGE_SIDE, IMAGE_SIDE), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.uint8).copy()


def strokes_to_quickdraw_image(strokes: Sequence[np.ndarray]) -> np.ndarray:
    """Canvas strokes to the (28, 28) uint8 image a Quick, Draw! run was trained on."""
    return render_simplified_strokes(simplify_strokes(strokes))


def read_drawing(
    rgba: np.ndarray, json_data: Mapping[str, Any] | None, *, style: DrawingStyle
) -> DrawingStages:
    """A canvas drawing the way the run's dataset was made, with every stage kept.

    A Quick, Draw! run gets the drawing's own strokes drawn by Google's recipe when the canvas
    sent plain free-hand strokes; otherwise, and for MNIST (scanned ink, no strokes), the bitmap
    is read (core.drawing). Raises EmptyDrawingError when there is no ink.
    """
    strokes = strokes_from_canvas(json_data) if style == "quickdraw" else None
    redrawn = strokes_to_quickdraw_image(strokes) if strokes is not None else None
    return preprocess_drawing(rgba, style=style, redrawn=redrawn)
