"""Builders of test inputs shared by several test files."""

from __future__ import annotations

import base64
import io
import zipfile

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


def canvas_state(drawing: np.ndarray) -> dict:
    """The canvas component's state for an RGBA drawing, as the browser would send it."""
    buffer = io.BytesIO()
    Image.fromarray(drawing, "RGBA").save(buffer, format="PNG")
    data = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {
        "drawing": {"raw": {"objects": [{"type": "path"}]}, "data": data},
        "backgroundFit": None,
    }


def drawn_one(size: int = 280) -> np.ndarray:
    """A white canvas with a black vertical stroke: a handwritten 1."""
    picture = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    ImageDraw.Draw(picture).line([(150, 50), (140, 230)], fill=(0, 0, 0, 255), width=18)
    return np.asarray(picture)
