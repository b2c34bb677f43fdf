"""Builders of test inputs shared by several test files."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def class_folder_zip(
    images_per_class: dict[str, int], extra: dict[str, bytes] | None = None
) -> bytes:
    """A .zip with one folder of PNG drawings per class, plus any extra files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for class_index, (class_name, count) in enumerate(images_per_class.items()):
            for index in range(count):
                picture = Image.new("RGB", (64, 48), "white")
                pen = ImageDraw.Draw(picture)
                box = (8 + index, 8, 40 + index, 40)
                if class_index % 2:
                    pen.rectangle(box, outline="black", width=3)
                else:
                    pen.ellipse(box, outline="black", width=3)
                png = io.BytesIO()
                picture.save(png, format="PNG")
                archive.writestr(f"{class_name}/{index}.png", png.getvalue())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def canvas_state(drawing: np.ndarray, json_data: dict | None = None) -> dict:
    """The canvas component's state for an RGBA drawing, as the browser would send it.

    `json_data` is the canvas's Fabric.js JSON (its strokes); by default a bare path object,
    which carries no strokes, so the drawing is read from its bitmap.
    """
    buffer = io.BytesIO()
    Image.fromarray(drawing, "RGBA").save(buffer, format="PNG")
    data = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {
        "drawing": {"raw": json_data or {"objects": [{"type": "path"}]}, "data": data},
        "backgroundFit": None,
    }


def drawn_one(size: int = 280) -> np.ndarray:
    """A white canvas with a black vertical stroke: a handwritten 1."""
    picture = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    ImageDraw.Draw(picture).line([(150, 50), (140, 230)], fill=(0, 0, 0, 255), width=18)
    return np.asarray(picture)


DASHBOARD = str(Path(__file__).resolve().parents[1] / "dashboard.py")
APP_TIMEOUT = 60


def open_page(page: str, *, user: str | None = None, before: dict | None = None, **query: str):
    """An AppTest of the app on `page`, as `user` (the URL's user=...), with `before` put into
    the session state and `query` into the address first."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(DASHBOARD, default_timeout=APP_TIMEOUT)
    if user is not None:
        app.query_params["user"] = user
    app.query_params.update(query)
    app.run()
    assert not app.exception
    for key, value in (before or {}).items():
        app.session_state[key] = value
    if page != "pages/home.py":
        app.switch_page(page)
        app.run()
    return app


def upload_shapes(app, images_per_class: int = 12) -> None:
    """On the Datasets page: choose "your own images" and upload circles and squares."""
    app.selectbox(key="datasets_name").set_value("custom").run()
    archive = class_folder_zip({"circles": images_per_class, "squares": images_per_class})
    app.file_uploader(key="datasets_custom_upload").upload("shapes.zip", archive).run()


def cairo_quickdraw(cairo, strokes) -> np.ndarray:
    """The (28, 28) numpy_bitmap of simplified strokes ((n, 2) x, y in 0..255) drawn by cairo
    itself (`cairo` is the cairocffi module), as Google's vector_to_raster drew them."""
    side, line, padding = 28, 16.0, 16.0
    surface = cairo.ImageSurface(cairo.FORMAT_ARGB32, side, side)
    context = cairo.Context(surface)
    context.set_antialias(cairo.ANTIALIAS_BEST)
    context.set_line_cap(cairo.LINE_CAP_ROUND)
    context.set_line_join(cairo.LINE_JOIN_ROUND)
    context.set_line_width(line)
    total_padding = 2 * padding + line
    context.scale(side / (256 + total_padding), side / (256 + total_padding))
    context.translate(total_padding / 2, total_padding / 2)
    context.set_source_rgb(1, 1, 1)
    points = [np.asarray(stroke, dtype=float) for stroke in strokes]
    offset = (256.0 - np.concatenate(points).max(axis=0)) / 2
    for stroke in points:
        context.move_to(*(stroke[0] + offset))
        for point in stroke:
            context.line_to(*(point + offset))
        context.stroke()
    return np.frombuffer(surface.get_data(), dtype=np.uint8)[::4].reshape(side, side).copy()
