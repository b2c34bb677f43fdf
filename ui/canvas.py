"""The drawing canvas Draw, Play and Teach share: sized to the window, its pen to scale."""

from __future__ import annotations

import streamlit as st

from core.drawing import CANVAS_IMAGE_SHAPE, canvas_side
from core.runs import RunSummary, best_run
from ui.runs import run_choice_ui
from ui.viewport import viewport_ui

# The canvas's column and the one beside it (guesses, prompt, class picker).
CANVAS_COLUMNS = (3, 2)
COLUMN_GAP_PIXELS = 16
# The default pen: 18 pixels on a 280-pixel canvas, a marker on paper.
BRUSH_SHARE = 18 / 280


def canvas_side_ui(page: str, *, room_above: int = 0) -> int:
    """The canvas side that fits the wider of CANVAS_COLUMNS in this browser's window.

    `room_above` is window height the page keeps above the canvas (a title, a picker) so the
    whole canvas stays on the screen with it. Measured where it is called: call it at the full
    width of the page.
    """
    viewport = viewport_ui(f"{page}_viewport")
    share = CANVAS_COLUMNS[0] / sum(CANVAS_COLUMNS)
    return canvas_side(
        viewport and int((viewport.width - COLUMN_GAP_PIXELS) * share),
        viewport and viewport.height - room_above,
    )


def default_brush(side: int) -> int:
    """The pen width in pixels for a canvas of this side."""
    return round(side * BRUSH_SHARE)


def drawing_canvas(key: str, side: int, *, stroke_width: int | None = None):
    """A white, square free-hand canvas with a black pen; its CanvasResult (image and strokes)."""
    from streamlit_drawable_canvas import st_canvas

    # The canvas's toolbar floats over its top edge: this keeps it off the widgets above.
    st.space("small")
    return st_canvas(
        stroke_width=stroke_width or default_brush(side),
        stroke_color="#000000",
        background_color="#ffffff",
        height=side,
        width=side,
        drawing_mode="freedraw",
        return_image_data=True,
        key=key,
    )


def is_canvas_run(summary: RunSummary) -> bool:
    """Whether a run reads 28x28 grey images, so a drawing on the canvas can be its input."""
    shape = (summary.record.get("dataset") or {}).get("image_shape")
    return tuple(shape or ()) == CANVAS_IMAGE_SHAPE


def canvas_run_choice_ui(page: str, summaries: list[RunSummary]) -> RunSummary | None:
    """The network picker, opening on the 28x28 run that reads drawings best until one is picked."""
    best_canvas_run = best_run(summaries, image_shape=CANVAS_IMAGE_SHAPE)
    return run_choice_ui(
        page,
        label="Network",
        runs=summaries,
        prefer=best_canvas_run.run_id if best_canvas_run is not None else None,
    )
