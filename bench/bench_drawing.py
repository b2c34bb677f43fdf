"""Time canvas preprocessing for each style and canvas size; prints a Markdown table of medians."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.drawing import DRAWING_STYLES, preprocess_drawing  # noqa: E402

# A "2" as a student draws it, in fractions of the canvas: a hook, a diagonal, a base.
DIGIT_STROKES = (
    ((0.30, 0.30), (0.40, 0.18), (0.58, 0.16), (0.68, 0.28), (0.64, 0.44), (0.30, 0.80)),
    ((0.30, 0.80), (0.72, 0.80)),
)


def draw_canvas(side: int, pen_width: int, background: str) -> np.ndarray:
    """A (side, side, 4) uint8 canvas holding the digit, like streamlit-drawable-canvas returns."""
    supersampling = 4
    coverage_image = Image.new("L", (side * supersampling, side * supersampling))
    draw = ImageDraw.Draw(coverage_image)
    radius = pen_width * supersampling / 2
    for stroke in DIGIT_STROKES:
        points = [(x * side * supersampling, y * side * supersampling) for x, y in stroke]
        draw.line(points, fill=255, width=pen_width * supersampling, joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    coverage = np.asarray(coverage_image.resize((side, side), Image.Resampling.BOX))
    rgba = np.zeros((side, side, 4), dtype=np.uint8)
    if background == "transparent":
        rgba[..., 3] = coverage
    else:
        # Black ink on an opaque white background.
        rgba[..., :3] = (255 - coverage)[..., None]
        rgba[..., 3] = 255
    return rgba


def median_milliseconds(rgba: np.ndarray, style: str, repeats: int) -> float:
    """Median wall time of preprocess_drawing on rgba, in milliseconds, after one warm-up."""
    preprocess_drawing(rgba, style=style)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        preprocess_drawing(rgba, style=style)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=200, help="timed runs per cell")
    arguments = parser.parse_args()
    print("| style | canvas | background | pen | median ms |")
    print("| --- | --- | --- | --- | --- |")
    # 20 px is the canvas component's default pen; 3 px on 600x600 is the slow case, where the
    # pen must be measured at full resolution.
    for side, pen_width in ((280, 20), (600, 20), (600, 3)):
        for background in ("transparent", "opaque white"):
            rgba = draw_canvas(side, pen_width, background)
            for style in DRAWING_STYLES:
                milliseconds = median_milliseconds(rgba, style, arguments.repeats)
                print(
                    f"| {style} | {side}x{side} | {background} | {pen_width} px "
                    f"| {milliseconds:.2f} |"
                )


if __name__ == "__main__":
    main()
