"""Turn a canvas drawing into the 28x28 image a model trained on MNIST or Quick, Draw! expects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image
from scipy import ndimage

DrawingStyle = Literal["mnist", "quickdraw"]
DRAWING_STYLES: tuple[str, ...] = ("mnist", "quickdraw")

IMAGE_SIDE = 28

# Ink weaker than this fraction of the drawing's own ink strength is anti-aliasing dust or
# background noise: it must not stretch the bounding box.
FAINT_INK = 0.1
# A drawing whose strongest pixel differs from the background by less than this (0-255 scale)
# is noise, not ink.
MINIMUM_CONTRAST = 16

# MNIST (yann.lecun.com/exdb/mnist): "normalized to fit in a 20x20 pixel box while preserving
# their aspect ratio ... centered in a 28x28 image by computing the center of mass of the
# pixels". Measured on the 10,000 test digits (t10k): the centre of mass, in pixel-index
# coordinates, lies in [13.5, 14.5] on both axes with its fractional part uniform, so the digit
# was moved by whole pixels to put it at (14, 14); 9,997 of them have a longer side of exactly
# 20 pixels (the other 3, 19).
MNIST_BOX_SIDE = 20
MNIST_CENTRE = 14.0
# Stroke width of the test digits in pixels of the 20-pixel box, by estimate_stroke_width:
# 1st percentile 1.68, median 2.67, 99th percentile 5.25. A canvas drawing whose
# strokes fall outside this range (a thick pen on a small digit, a thin pen on a big one) is
# re-stroked to the nearest bound, so a model never sees a pen MNIST never had.
MNIST_STROKE_RANGE = (1.68, 5.25)

# Quick, Draw! numpy_bitmap files (github.com/googlecreativelab/quickdraw-dataset, README,
# "Numpy bitmaps", and the generating code it links: issue #19, comment 402247262,
# vector_to_raster). Each simplified drawing is aligned to the top-left and uniformly scaled so
# its longer side spans 0..255; it is then offset by (256 - its extent) / 2 on each axis, which
# centres its bounding box in a 256-unit square, and drawn by cairo (ANTIALIAS_BEST, round caps
# and joins, white on black) with a line 16 units wide into a square of 256 + 2 * 16 + 16 = 304
# units (16 units of padding on each side plus half a line) scaled down to 28x28 pixels.
QUICKDRAW_ORIGINAL_SIDE = 256.0
QUICKDRAW_LINE_DIAMETER = 16.0
QUICKDRAW_PADDING = 16.0
QUICKDRAW_FRAME_UNITS = QUICKDRAW_ORIGINAL_SIDE + 2 * QUICKDRAW_PADDING + QUICKDRAW_LINE_DIAMETER
QUICKDRAW_MAX_COORDINATE = 255.0

# Re-stroking works on a grid this many times finer than the output, so the new stroke edges
# are anti-aliased like cairo's.
SUPERSAMPLING = 4
# The stroke width is measured on a copy of the drawing whose longer side is at most this, which
# keeps a 600x600 canvas as fast as a 280x280 one, unless the pen is then narrower than
# RESOLVED_STROKE_WIDTH pixels and has to be measured closer.
WIDTH_ESTIMATE_SIDE = 192
RESOLVED_STROKE_WIDTH = 3.0


# The input a canvas drawing becomes, and so the image shape of a run one can draw for.
CANVAS_IMAGE_SHAPE = (IMAGE_SIDE, IMAGE_SIDE, 1)


def drawing_style(dataset_name: str) -> DrawingStyle:
    """How a run reads a drawing: Quick, Draw! runs as their doodles were drawn, others as MNIST."""
    return "quickdraw" if dataset_name == "quickdraw" else "mnist"


class EmptyDrawingError(ValueError):
    """Raised when the canvas holds no ink, so there is nothing to classify yet."""


@dataclass(frozen=True)
class DrawingStages:
    """Every step from canvas to model input, for a "what the model sees" view.

    background: "transparent" (ink read from alpha) or "opaque" (ink read from colour).
    ink: (canvas height, canvas width) uint8, 255 where the pen was fully on the canvas.
    bounding_box: (top, left, bottom, right) of the ink in canvas pixels, bottom and right
    exclusive, so ink[top:bottom, left:right] is the cropped drawing.
    cropped: that crop of the ink, uint8.
    stroke_width: the pen width estimated from the ink, in canvas pixels.
    image: the final (28, 28) uint8 picture, white ink on black.
    centre_of_mass_shift: (rows, columns) the drawing was moved from the middle of the frame to
    put its centre of mass at (14, 14) ("mnist"); (0, 0) for "quickdraw", which centres the
    bounding box instead.
    read_from: "bitmap", or "strokes" when the image was drawn again from the canvas's own pen
    strokes (core.strokes), as Quick, Draw!'s bitmaps were.
    """

    style: DrawingStyle
    background: str
    ink: np.ndarray
    bounding_box: tuple[int, int, int, int]
    cropped: np.ndarray
    stroke_width: float
    image: np.ndarray
    centre_of_mass_shift: tuple[int, int]
    read_from: str = "bitmap"


def canvas_to_input(rgba: np.ndarray, *, style: DrawingStyle = "mnist") -> np.ndarray:
    """Canvas RGBA image (height, width, 4) uint8 to a model batch (1, 28, 28, 1) uint8, 0-255."""
    stages = preprocess_drawing(rgba, style=style)
    return stages.image.reshape(1, IMAGE_SIDE, IMAGE_SIDE, 1).copy()


def preprocess_drawing(
    rgba: np.ndarray, *, style: DrawingStyle = "mnist", redrawn: np.ndarray | None = None
) -> DrawingStages:
    """Run the dataset's own preprocessing on a canvas drawing and keep every stage.

    `redrawn` is a (28, 28) uint8 image already drawn from the drawing's own strokes
    (core.strokes): it becomes the model input, and the bitmap is not rendered again.
    """
    _check_canvas(rgba)
    if style not in DRAWING_STYLES:
        raise ValueError(f"style must be one of {DRAWING_STYLES}, not {style!r}.")
    ink, background = extract_ink(rgba)
    bounding_box = ink_bounding_box(ink)
    top, left, bottom, right = bounding_box
    cropped = ink[top:bottom, left:right]
    stroke_width = estimate_stroke_width(cropped)
    # Everything after the crop sees only the crop, so a drawing moved by whole pixels gives
    # bit-identical results.
    cropped_image = Image.fromarray(np.ascontiguousarray(cropped))
    if redrawn is not None:
        image, shift = np.array(redrawn, dtype=np.uint8), (0, 0)
    elif style == "mnist":
        image, shift = _render_mnist(cropped_image, stroke_width)
    else:
        image, shift = _render_quickdraw(cropped_image, stroke_width), (0, 0)
    for array in (ink, cropped, image):
        array.flags.writeable = False
    return DrawingStages(
        style=style,
        background=background,
        ink=ink,
        bounding_box=bounding_box,
        cropped=cropped,
        stroke_width=stroke_width,
        image=image,
        centre_of_mass_shift=shift,
        read_from="bitmap" if redrawn is None else "strokes",
    )


def extract_ink(rgba: np.ndarray) -> tuple[np.ndarray, str]:
    """Ink strength (height, width) uint8 of a canvas, and "transparent" or "opaque" background.

    A transparent background keeps the ink in the alpha channel, whatever the pen's colour; an
    opaque one is estimated from the border pixels and the ink is the distance from it. Either
    way the ink is rescaled so the pen's typical pixel is 255 and faint dust is dropped.
    """
    _check_canvas(rgba)
    height, width = rgba.shape[:2]
    border = np.concatenate([rgba[0], rgba[-1], rgba[:, 0], rgba[:, -1]])
    # The median border pixel is the background as long as the drawing covers less than half
    # of the border.
    background_rgba = np.median(border, axis=0).round().astype(np.uint8)
    pixels = np.ascontiguousarray(rgba).view(np.uint32).reshape(height, width)
    if background_rgba[3] < 128:
        background = "transparent"
        # Only alpha carries ink here: the colour under a transparent pixel means nothing.
        channels = (3,)
        alpha_mask = int.from_bytes(bytes([0, 0, 0, 255]), "little")
        differs = (pixels & alpha_mask) != (pixels.dtype.type(background_rgba[3]) << 24)
    else:
        background = "opaque"
        channels = (0, 1, 2)
        background_word = int.from_bytes(bytes([*background_rgba[:3].tolist(), 255]), "little")
        differs = pixels != background_word
    ink = np.zeros((height, width), dtype=np.uint8)
    box = _true_box(differs)
    if box is None:
        return ink, background
    top, left, bottom, right = box
    # Only the region that differs from the background can hold ink; working there alone keeps
    # a large canvas with a small drawing fast.
    region = rgba[top:bottom, left:right]
    # The largest per-channel difference from the background grows linearly across an
    # anti-aliased edge, so it reads any ink colour on any background as coverage.
    strength = np.zeros(region.shape[:2], dtype=np.uint8)
    for channel in channels:
        distance = np.abs(np.arange(256) - int(background_rgba[channel])).astype(np.uint8)
        np.maximum(strength, distance[region[..., channel]], out=strength)
    counts = np.bincount(strength.ravel(), minlength=256)
    strongest = int(np.flatnonzero(counts)[-1])
    if strongest < MINIMUM_CONTRAST:
        return ink, background
    # The pen's own strength is the median of the clearly inked pixels: a stroke's core
    # outnumbers its anti-aliased rim, and one odd pixel cannot set the scale.
    strong_counts = counts[(strongest + 1) // 2 :]
    cumulative = np.cumsum(strong_counts)
    pen_strength = (strongest + 1) // 2 + int(np.searchsorted(cumulative, cumulative[-1] / 2))
    levels = np.arange(256) * (255.0 / max(pen_strength, 1))
    lookup = np.clip(np.rint(levels), 0, 255).astype(np.uint8)
    lookup[lookup < FAINT_INK * 255] = 0
    ink[top:bottom, left:right] = lookup[strength]
    return ink, background


def ink_bounding_box(ink: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the nonzero ink, bottom and right exclusive."""
    box = _true_box(ink != 0)
    if box is None:
        raise EmptyDrawingError("Nothing is drawn on the canvas yet.")
    return box


def estimate_stroke_width(cropped: np.ndarray) -> float:
    """Pen width in pixels of an ink crop, from its area and the length of its outline."""
    height, width = cropped.shape
    scale = min(1.0, WIDTH_ESTIMATE_SIDE / max(height, width))
    estimate = _stroke_width_at_scale(cropped, scale)
    if scale < 1.0 and estimate * scale < RESOLVED_STROKE_WIDTH:
        # A thin pen blurs into its background once shrunk, which reads as too wide: measure
        # again at a scale that keeps it a few pixels wide.
        scale = min(1.0, scale * RESOLVED_STROKE_WIDTH / max(estimate * scale, 1.0))
        estimate = _stroke_width_at_scale(cropped, scale)
    return estimate


def _stroke_width_at_scale(cropped: np.ndarray, scale: float) -> float:
    """estimate_stroke_width measured on the crop shrunk by scale, in pixels of the crop."""
    height, width = cropped.shape
    image = Image.fromarray(cropped)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = image.resize(size, Image.Resampling.BOX)
    coverage = np.pad(np.asarray(image), 1).astype(np.float32)
    # The gradient of anti-aliased coverage integrates to one across each edge, so its total
    # length is the outline's length. Differences averaged over each 2x2 block share one centre,
    # which keeps a diagonal edge within 3% (plain forward differences read it 20% long); that
    # gradient's length is the two diagonal differences' length over the square root of two.
    diagonal = coverage[1:, 1:] - coverage[:-1, :-1]
    antidiagonal = coverage[:-1, 1:] - coverage[1:, :-1]
    perimeter = float(np.hypot(diagonal, antidiagonal).sum()) / np.sqrt(2) / 255
    area = float(coverage.sum()) / 255
    # Model the ink as one stroke of length L and width W with round ends: area = L W + pi W^2
    # / 4 and perimeter = 2 L + pi W. Solving for W gives 2 area / perimeter for long strokes
    # and the diameter for a lone dot, where 2 area / perimeter would say half of it.
    discriminant = max(perimeter * perimeter - 4 * np.pi * area, 0.0)
    stroke_width = (perimeter - np.sqrt(discriminant)) / np.pi
    return max(stroke_width, 1.0) / scale


def _render_mnist(
    cropped_image: Image.Image, stroke_width: float
) -> tuple[np.ndarray, tuple[int, int]]:
    """Fit the ink in a 20-pixel box, scale it to full strength, centre its mass at (14, 14)."""
    width, height = cropped_image.size
    scale = MNIST_BOX_SIDE / max(width, height)
    low, high = MNIST_STROKE_RANGE
    if low <= stroke_width * scale <= high:
        source_box = (0.0, 0.0, float(width), float(height))
        coverage = _resample(cropped_image, source_box, _fitted_size(width, height, scale))
    else:
        coverage = _restroke_for_mnist(cropped_image, stroke_width)
    strongest = coverage.max()
    if strongest <= 0.0:
        raise EmptyDrawingError("The drawing is too faint to read.")
    # MNIST digits reach full white; a thin pen on a big canvas averages down to grey.
    coverage = coverage / strongest
    box_height, box_width = coverage.shape
    mass = coverage.sum()
    centre_row = float(coverage.sum(axis=1) @ np.arange(box_height) / mass)
    centre_column = float(coverage.sum(axis=0) @ np.arange(box_width) / mass)
    row_offset = _clamped_offset(centre_row, box_height)
    column_offset = _clamped_offset(centre_column, box_width)
    image = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    image[row_offset : row_offset + box_height, column_offset : column_offset + box_width] = (
        np.rint(coverage * 255).astype(np.uint8)
    )
    shift = (
        row_offset - (IMAGE_SIDE - box_height) // 2,
        column_offset - (IMAGE_SIDE - box_width) // 2,
    )
    return image, shift


def _restroke_for_mnist(cropped_image: Image.Image, stroke_width: float) -> np.ndarray:
    """Redraw the ink with the nearest pen in MNIST's range, its longer side 20 pixels."""
    width, height = cropped_image.size
    longest = max(width, height)
    low, high = MNIST_STROKE_RANGE
    target_width = min(max(stroke_width * MNIST_BOX_SIDE / longest, low), high)
    # Re-stroking moves every edge by the change in radius, so the new ink's box is the centre
    # line's box grown by the new radius: choose the scale that makes its longer side 20 pixels.
    radius = stroke_width / 2
    scale = (MNIST_BOX_SIDE - target_width) / max(longest - stroke_width, 1.0)
    # The pen estimate is not exact, so draw with two pixels to spare on each side, then fit
    # the new ink's own box.
    margin = (target_width / 2 + 2) / scale
    source_box = (-margin, -margin, width + margin, height + margin)
    size = _fitted_size(width + 2 * margin, height + 2 * margin, scale)
    fine = _restroke(cropped_image, source_box, size, radius * scale, target_width / 2)
    fine_top, fine_left, fine_bottom, fine_right = _true_box(fine >= FAINT_INK) or (0, 0, 1, 1)
    fine_crop = fine[fine_top:fine_bottom, fine_left:fine_right]
    fine_scale = MNIST_BOX_SIDE / max(fine_crop.shape)
    fitted = _fitted_size(fine_crop.shape[1], fine_crop.shape[0], fine_scale)
    resized = Image.fromarray(fine_crop).resize(fitted, Image.Resampling.BOX)
    return np.asarray(resized, dtype=np.float32)


def _render_quickdraw(cropped_image: Image.Image, stroke_width: float) -> np.ndarray:
    """Draw the ink the way the numpy_bitmap files were drawn from the simplified strokes."""
    width, height = cropped_image.size
    radius = stroke_width / 2
    # The dataset's coordinates are the pen's centre line, so the ink's box shrinks by the pen's
    # radius on each side before the longer side is scaled to 255 units.
    extent_columns = max(width - stroke_width, 0.0)
    extent_rows = max(height - stroke_width, 0.0)
    # A lone dot has no extent; scaling its width instead keeps it a dot of the dataset's size.
    units_per_pixel = QUICKDRAW_MAX_COORDINATE / max(extent_columns, extent_rows, stroke_width)
    # The frame's top-left corner in crop pixels: the centre line's corner, less the offset
    # that centres the drawing in 256 units, less the padding and half a line.
    margin = (QUICKDRAW_PADDING + QUICKDRAW_LINE_DIAMETER / 2) / units_per_pixel
    offset_columns = (QUICKDRAW_ORIGINAL_SIDE / units_per_pixel - extent_columns) / 2
    offset_rows = (QUICKDRAW_ORIGINAL_SIDE / units_per_pixel - extent_rows) / 2
    frame_left = radius - offset_columns - margin
    frame_top = radius - offset_rows - margin
    frame_pixels = QUICKDRAW_FRAME_UNITS / units_per_pixel
    source_box = (frame_left, frame_top, frame_left + frame_pixels, frame_top + frame_pixels)
    output_pixels_per_unit = IMAGE_SIDE / QUICKDRAW_FRAME_UNITS
    fine = _restroke(
        cropped_image,
        source_box,
        (IMAGE_SIDE, IMAGE_SIDE),
        radius * units_per_pixel * output_pixels_per_unit,
        QUICKDRAW_LINE_DIAMETER / 2 * output_pixels_per_unit,
    )
    # Averaging each block of the finer grid gives the coverage cairo's anti-aliasing computes.
    coverage = fine.reshape(IMAGE_SIDE, SUPERSAMPLING, IMAGE_SIDE, SUPERSAMPLING).mean(axis=(1, 3))
    return np.rint(coverage * 255).astype(np.uint8)


def _resample(
    ink_image: Image.Image, source_box: tuple[float, float, float, float], size: tuple[int, int]
) -> np.ndarray:
    """Area-average the region source_box (left, top, right, bottom) of ink to size, in [0, 1]."""
    left, top, right, bottom = source_box
    # Pillow's crop pads outside the image with zeros (no ink); resize then takes the exact
    # fractional box inside that crop.
    crop_left, crop_top = int(np.floor(left)), int(np.floor(top))
    crop = ink_image.crop((crop_left, crop_top, int(np.ceil(right)), int(np.ceil(bottom))))
    inner_box = (left - crop_left, top - crop_top, right - crop_left, bottom - crop_top)
    shrinking = (right - left) >= size[0]
    # BOX is exact area averaging when shrinking; when a tiny drawing is enlarged it would
    # copy blocky pixels, so bilinear interpolation takes over.
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    resized = crop.convert("F").resize(size, resample, box=inner_box)
    return np.clip(np.asarray(resized, dtype=np.float32) / 255.0, 0.0, 1.0)


def _restroke(
    ink_image: Image.Image,
    source_box: tuple[float, float, float, float],
    size: tuple[int, int],
    radius: float,
    target_radius: float,
) -> np.ndarray:
    """Ink of source_box on a grid SUPERSAMPLING times finer than size, with a new pen.

    radius (the pen's now) and target_radius are in pixels of size. A stroke is its centre line
    grown by the pen's radius, so growing or shrinking the ink by the difference of radii gives
    the same centre line drawn with the new pen. The ink is resampled to the finer grid,
    thresholded, and its distance to the outline sets the new coverage in [0, 1].
    """
    width, height = size
    fine = _resample(ink_image, source_box, (width * SUPERSAMPLING, height * SUPERSAMPLING))
    fine_radius = radius * SUPERSAMPLING
    # A pen thinner than a fine pixel averages to grey, down to half its width where it
    # straddles two pixels: half of that still catches it, and leaves a mask about one fine
    # pixel wide.
    threshold = min(0.5, fine_radius / 2)
    mask = fine >= max(threshold, MINIMUM_CONTRAST / 255)
    if not mask.any():
        # A faint speck shrunk a long way: its own peak sets the level.
        mask = fine >= fine.max() / 2
    # The low threshold also takes the neighbours a thin line straddles: its mask is about half
    # a fine pixel wider than the pen, and at least one and a half pixels wide.
    mask_radius = fine_radius if threshold == 0.5 else max(fine_radius + 0.25, 0.75)
    growth = target_radius * SUPERSAMPLING - mask_radius
    if not mask.any():
        coverage_fine = np.zeros_like(fine)
    elif growth >= 0:
        # Distance from each empty pixel centre to the nearest inked one; the outline lies half
        # a pixel beyond that ink.
        distance_outside = ndimage.distance_transform_edt(~mask)
        coverage_fine = np.clip(growth + 1.0 - distance_outside, 0.0, 1.0)
    else:
        padded = np.pad(mask, 1)
        distance_inside = ndimage.distance_transform_edt(padded)[1:-1, 1:-1]
        # A pen misjudged by a fraction of a pixel would thin every new stroke by as much, so
        # measure it on the mask itself: the distance map's ridge runs along the centre line,
        # where the distance to the nearest empty pixel is the pen's radius plus half a pixel.
        deepest = float(distance_inside.max())
        ridge = (distance_inside >= ndimage.maximum_filter(distance_inside, size=3)) & (
            # Ragged outlines leave shallow local maxima that are not the centre line.
            distance_inside >= deepest / 2
        )
        measured_radius = float(np.median(distance_inside[ridge])) - 0.5
        shrink = measured_radius - target_radius * SUPERSAMPLING
        # A blob narrower than its neighbours (a speck beside a thick stroke) keeps its core
        # rather than vanishing.
        shrink = min(shrink, deepest - 1.0)
        coverage_fine = np.clip(distance_inside - shrink, 0.0, 1.0)
    return coverage_fine.astype(np.float32)


def _fitted_size(width: float, height: float, scale: float) -> tuple[int, int]:
    """(width, height) in whole pixels of a box scaled by scale, at least one pixel each way."""
    return max(1, round(width * scale)), max(1, round(height * scale))


def _clamped_offset(centre: float, length: int) -> int:
    """Where to put a row or column run of length so its centre lands at 14, inside the frame."""
    offset = int(np.floor(MNIST_CENTRE - centre + 0.5))
    return min(max(offset, 0), IMAGE_SIDE - length)


def _true_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) of the True cells of a 2-D mask, or None when there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    columns = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(columns[0]), int(rows[-1]) + 1, int(columns[-1]) + 1


def _check_canvas(rgba: np.ndarray) -> None:
    """Raise ValueError unless rgba is a (height, width, 4) uint8 image."""
    if not isinstance(rgba, np.ndarray) or rgba.ndim != 3 or rgba.shape[2] != 4:
        shape = getattr(rgba, "shape", None)
        raise ValueError(f"The canvas image must be (height, width, 4) RGBA, not shape {shape}.")
    if rgba.dtype != np.uint8:
        raise ValueError(f"The canvas image must be uint8, not {rgba.dtype}.")
    if rgba.shape[0] == 0 or rgba.shape[1] == 0:
        raise ValueError("The canvas image has no pixels.")


# The canvas is square and takes one of these sides, so a window dragged a little wider does
# not resize it (and its drawing) under the pen.
CANVAS_SIDES = (240, 280, 320, 360, 400, 440, 480, 520, 560, 600, 640, 720)
DEFAULT_CANVAS_SIDE = 280
# Window height the canvas cannot use: the browser's own bar aside, the toolbar over the canvas's
# top edge and the sliders under it stay on screen with it.
CANVAS_VERTICAL_ROOM = 200


def canvas_side(column_width: int | None, window_height: int | None) -> int:
    """The largest canvas side that fits its column and stays whole on the screen.

    Quick, Draw! draws big: a large screen gets a large canvas, a 1024x768 one a canvas that
    fits beside the guesses. Unknown sizes (before the browser has reported) give the default.
    """
    if not column_width or not window_height:
        return DEFAULT_CANVAS_SIDE
    room = min(column_width, window_height - CANVAS_VERTICAL_ROOM)
    fitting = [side for side in CANVAS_SIDES if side <= room]
    return fitting[-1] if fitting else CANVAS_SIDES[0]
