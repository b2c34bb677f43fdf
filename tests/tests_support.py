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
