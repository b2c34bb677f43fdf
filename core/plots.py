"""Plotly figure builders: each takes computed arrays and returns a go.Figure; pages show them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.predictions import Guess

if TYPE_CHECKING:  # core.inspection imports TensorFlow, which the figures do not need.
    from core.inspection import ConvolutionStep

# --- Dataset gallery figures ---

CHANNEL_COLOURS = ("#d62728", "#2ca02c", "#1f77b4")


def _mosaic_trace_figure(mosaic: np.ndarray, *, height: int) -> go.Figure:
    """One image trace for a whole uint8 mosaic, sent to the browser as a PNG."""
    picture = mosaic[..., 0] if mosaic.shape[-1] == 1 else mosaic
    figure = px.imshow(picture, binary_string=True)
    figure.update_xaxes(showticklabels=False, showgrid=False, ticks="")
    figure.update_yaxes(showgrid=False, ticks="")
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    figure.update_traces(hoverinfo="skip", hovertemplate=None)
    return figure


def sample_grid_figure(
    mosaic: np.ndarray, class_names: Sequence[str], *, image_height: int, gap: int
) -> go.Figure:
    """A grid of sample images, one row per class, the class names on the left."""
    row_centres = [row * (image_height + gap) + image_height / 2 for row in range(len(class_names))]
    height = min(60 + 48 * len(class_names), 1200)
    figure = _mosaic_trace_figure(mosaic, height=height)
    figure.update_yaxes(tickmode="array", tickvals=row_centres, ticktext=list(class_names))
    figure.update_layout(title="Samples, one row per class")
    return figure


def mean_images_figure(
    means: np.ndarray, class_names: Sequence[str], *, columns: int = 5, gap: int = 2
) -> go.Figure:
    """The mean image of each class, in a grid with the class names as captions."""
    count, image_height, image_width = means.shape[:3]
    rows = -(-count // columns)
    grid = np.full(rows * columns, -1, dtype=np.int64)
    grid[:count] = np.arange(count)
    grid = grid.reshape(rows, columns)
    mosaic = np.zeros(
        (rows * (image_height + gap) - gap, columns * (image_width + gap) - gap, means.shape[-1]),
        dtype=np.uint8,
    )
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = row * (image_height + gap), column * (image_width + gap)
        mosaic[top : top + image_height, left : left + image_width] = means[index]
    figure = _mosaic_trace_figure(mosaic, height=120 + 130 * rows)
    figure.update_yaxes(showticklabels=False)
    for index, name in enumerate(class_names):
        row, column = divmod(index, columns)
        figure.add_annotation(
            x=column * (image_width + gap) + image_width / 2,
            y=row * (image_height + gap) - 0.5,
            text=name,
            showarrow=False,
            yanchor="bottom",
            font={"size": 12},
        )
    figure.update_layout(title="Mean image of each class", margin={"t": 60})
    return figure


def class_balance_figure(
    train_counts: np.ndarray, test_counts: np.ndarray, class_names: Sequence[str]
) -> go.Figure:
    """Images per class in the training and test sets, as grouped bars."""
    figure = go.Figure(
        [
            go.Bar(name="train", x=[str(name) for name in class_names], y=train_counts.tolist()),
            go.Bar(name="test", x=[str(name) for name in class_names], y=test_counts.tolist()),
        ]
    )
    names = [str(name) for name in class_names]
    # A category axis keeps names such as "7" as labels; listing every tick stops Plotly from
    # dropping every other label once there are ten classes or more.
    figure.update_xaxes(type="category", tickmode="array", tickvals=names, ticktext=names)
    figure.update_layout(
        title="Images per class",
        barmode="group",
        yaxis_title="images",
        height=360,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
    )
    return figure


def pixel_histogram_figure(histogram: np.ndarray, *, log_scale: bool = True) -> go.Figure:
    """How often each pixel value 0-255 occurs, one line per channel."""
    names = ("intensity",) if len(histogram) == 1 else ("red", "green", "blue")
    colours = ("#444444",) if len(histogram) == 1 else CHANNEL_COLOURS
    figure = go.Figure(
        [
            go.Scatter(
                x=np.arange(256),
                y=counts.tolist(),
                name=name,
                mode="lines",
                line={"color": colour},
            )
            for counts, name, colour in zip(histogram, names, colours, strict=True)
        ]
    )
    figure.update_layout(
        title="Pixel intensities (training set)",
        xaxis_title="pixel value (0 = black, 255 = white)",
        yaxis_title="pixels" + (" (log scale)" if log_scale else ""),
        yaxis_type="log" if log_scale else "linear",
        height=360,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return figure


# --- Evaluation and inspection figures ---

# Pixels per confusion cell: large enough for a three-digit count, small enough for 20 classes.
CONFUSION_CELL_PIXELS = (14, 48)
CONFUSION_PLOT_PIXELS = 560
# Below this cell size the counts no longer fit inside the squares, so they are left to the hover.
CONFUSION_TEXT_MIN_PIXELS = 22
GALLERY_TILE_PIXELS = 96
GALLERY_TITLE_PIXELS = 34


def _row_shares(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum; a row without images stays at zero."""
    totals = matrix.sum(axis=1, keepdims=True).astype(np.float64)
    return np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)


def share_text(share: float) -> str:
    """A share of a row as a cell reads it: whole percents from 10%, one decimal below.

    Only an empty cell reads "0%" and only a whole row "100%": a tiny share reads "<0.1%", and
    one just short of the row ">99.9%", so a single image is never rounded away.
    """
    if share <= 0:
        return "0%"
    if share >= 1:
        return "100%"
    if share < 0.001:
        return "<0.1%"
    if share > 0.999:
        return ">99.9%"
    if share < 0.1 or share >= 0.995:
        return f"{share:.1%}"
    return f"{share:.0%}"


def confusion_matrix_figure(
    matrix: np.ndarray, class_names: Sequence[str], *, normalize: bool = False
) -> go.Figure:
    """Clickable confusion matrix: one square marker per cell, rows true, columns predicted.

    A Scatter rather than a heatmap because Streamlit gets no selection from Plotly heatmaps.
    Points run row by row (point k is cell divmod(k, num_classes)) and each point's customdata
    is (true, predicted). Text holds the counts, or each row's shares when normalize is set.
    """
    counts = np.asarray(matrix)
    num_classes = len(class_names)
    if counts.shape != (num_classes, num_classes):
        raise ValueError(
            f"A confusion matrix for {num_classes} classes must be {num_classes}x{num_classes}, "
            f"got shape {counts.shape}."
        )
    shares = _row_shares(counts)
    values = shares if normalize else counts.astype(np.float64)
    true_classes, predicted_classes = np.divmod(np.arange(num_classes * num_classes), num_classes)
    flat_counts = counts.ravel()
    flat_values = values.ravel()
    highest = float(flat_values.max()) if flat_values.size and flat_values.max() > 0 else 1.0

    cell_pixels = int(np.clip(CONFUSION_PLOT_PIXELS // num_classes, *CONFUSION_CELL_PIXELS))
    plot_pixels = cell_pixels * num_classes
    text = (
        [share_text(share) for share in flat_values] if normalize else [str(c) for c in flat_counts]
    )
    names = [str(name) for name in class_names]
    hover = [
        f"true {names[true]}<br>predicted {names[predicted]}<br>"
        f"{count} images ({share:.1%} of the row)"
        for true, predicted, count, share in zip(
            true_classes, predicted_classes, flat_counts, shares.ravel(), strict=True
        )
    ]
    figure = go.Figure(
        go.Scatter(
            x=predicted_classes,
            y=true_classes,
            mode="markers+text" if cell_pixels >= CONFUSION_TEXT_MIN_PIXELS else "markers",
            marker={
                "symbol": "square",
                "size": cell_pixels * 0.94,
                "color": flat_values,
                "colorscale": "Blues",
                "cmin": 0.0,
                "cmax": highest,
                "showscale": True,
                "colorbar": {"title": {"text": "share of row" if normalize else "images"}},
            },
            text=text,
            textfont={
                # Light text on dark cells, dark on light ones.
                "color": [
                    "white" if value > 0.55 * highest else "#1f2d3d" for value in flat_values
                ],
                "size": 12 if cell_pixels >= 34 else 10,
            },
            customdata=np.column_stack([true_classes, predicted_classes]),
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
            showlegend=False,
        )
    )
    axis = {
        "tickmode": "array",
        "tickvals": list(range(num_classes)),
        "ticktext": names,
        "showgrid": False,
        "zeroline": False,
    }
    figure.update_xaxes(axis, title_text="predicted class", range=[-0.5, num_classes - 0.5])
    # Row 0 on top, as in a printed matrix; scaleanchor keeps the cells square at any width.
    figure.update_yaxes(
        axis,
        title_text="true class",
        range=[num_classes - 0.5, -0.5],
        scaleanchor="x",
        constrain="domain",
    )
    figure.update_layout(
        height=plot_pixels + 140,
        margin={"l": 20, "r": 20, "t": 40, "b": 20},
        plot_bgcolor="rgba(0,0,0,0)",
        clickmode="event+select",
    )
    return figure


def per_class_figure(per_class: pd.DataFrame) -> go.Figure:
    """Grouped bars of precision, recall and F1 per class, from Evaluation.per_class."""
    figure = go.Figure(
        [
            go.Bar(name=label, x=per_class["class"].astype(str), y=per_class[column])
            for column, label in (("precision", "precision"), ("recall", "recall"), ("f1", "F1"))
        ]
    )
    figure.update_layout(barmode="group", yaxis={"range": [0, 1], "title": "score"}, height=360)
    return figure


def _to_rgb(images: np.ndarray) -> np.ndarray:
    """uint8 (n, h, w, 1 or 3) to (n, h, w, 3)."""
    if images.shape[-1] == 1:
        return np.repeat(images, 3, axis=-1)
    if images.shape[-1] != 3:
        raise ValueError(f"Images need 1 or 3 channels, got {images.shape[-1]}.")
    return images


def image_grid_figure(images: np.ndarray, titles: Sequence[str], columns: int = 8) -> go.Figure:
    """A gallery of uint8 images (n, h, w, c) with a caption above each, as one image trace.

    Captions may hold a newline for a second line.
    """
    if len(images) != len(titles):
        raise ValueError(f"Got {len(images)} images but {len(titles)} titles.")
    if len(images) == 0:
        figure = go.Figure()
        figure.add_annotation(text="No images to show", showarrow=False, x=0.5, y=0.5)
        figure.update_xaxes(visible=False)
        figure.update_yaxes(visible=False)
        return figure.update_layout(height=120)
    rgb = _to_rgb(np.asarray(images, dtype=np.uint8))
    count, height, width = rgb.shape[:3]
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    scale = GALLERY_TILE_PIXELS / max(height, width)
    title_band = math.ceil(GALLERY_TITLE_PIXELS / scale)
    gap = max(1, width // 8)
    cell_height, cell_width = height + title_band, width + gap
    # RGBA with a transparent background, so the gaps take the page's colour in either theme.
    mosaic = np.zeros((rows * cell_height, columns * cell_width - gap, 4), dtype=np.uint8)
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = row * cell_height + title_band, column * cell_width
        mosaic[top : top + height, left : left + width, :3] = rgb[index]
        mosaic[top : top + height, left : left + width, 3] = 255
    # binary_string sends the mosaic as one PNG, far smaller than Plotly's JSON pixel arrays.
    figure = px.imshow(mosaic, binary_string=True)
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = row * cell_height + title_band, column * cell_width
        figure.add_annotation(
            x=left + (width - 1) / 2,
            y=top - 0.5,
            text=str(titles[index]).replace("\n", "<br>"),
            showarrow=False,
            yanchor="bottom",
            font={"size": 11},
        )
    figure.update_traces(hoverinfo="skip", hovertemplate=None)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.update_layout(
        height=int(rows * cell_height * scale) + 20,
        margin={"l": 0, "r": 0, "t": 10, "b": 10},
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def _mosaic(
    tiles: np.ndarray, columns: int, fill: float = np.nan, gap: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Lay (n, h, w) tiles out in a grid: the mosaic, and each cell's tile index (-1 in gaps)."""
    count, height, width = tiles.shape
    rows = math.ceil(count / columns)
    shape = (rows * (height + gap) - gap, columns * (width + gap) - gap)
    mosaic = np.full(shape, fill, dtype=np.float64)
    owner = np.full(shape, -1, dtype=np.int64)
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = row * (height + gap), column * (width + gap)
        mosaic[top : top + height, left : left + width] = tiles[index]
        owner[top : top + height, left : left + width] = index
    return mosaic, owner


def feature_maps_figure(
    maps: np.ndarray,
    *,
    shared_scale: bool = False,
    max_channels: int = 32,
    columns: int | None = None,
    title: str | None = None,
) -> go.Figure:
    """One layer's feature maps (h, w, channels) as a grid of channels, in one heatmap trace.

    shared_scale=False stretches every channel to its own range, so weak channels still show
    their pattern; shared_scale=True puts all on one scale, so their strengths compare.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"Feature maps must be (height, width, channels), got {maps.shape}.")
    total = maps.shape[-1]
    tiles = np.moveaxis(maps[..., :max_channels], -1, 0)
    shown = len(tiles)
    columns = columns or math.ceil(math.sqrt(shown * 2))
    columns = max(1, min(columns, shown))
    raw, owner = _mosaic(tiles, columns)
    if shared_scale:
        values, low, high = raw, float(np.nanmin(raw)), float(np.nanmax(raw))
    else:
        lows = tiles.min(axis=(1, 2), keepdims=True)
        spans = tiles.max(axis=(1, 2), keepdims=True) - lows
        stretched = np.divide(tiles - lows, spans, out=np.zeros_like(tiles), where=spans > 0)
        values, _ = _mosaic(stretched, columns)
        low, high = 0.0, 1.0
    channel = np.where(owner >= 0, owner, np.nan)
    figure = go.Figure(
        go.Heatmap(
            z=values,
            zmin=low,
            zmax=high if high > low else low + 1.0,
            colorscale="Viridis",
            showscale=shared_scale,
            customdata=np.stack([channel, raw], axis=-1),
            hovertemplate="channel %{customdata[0]}<br>activation %{customdata[1]:.3f}"
            "<extra></extra>",
        )
    )
    caption = title or "feature maps"
    if shown < total:
        caption += f" (first {shown} of {total} channels)"
    rows = math.ceil(shown / columns)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    figure.update_layout(
        title=caption,
        height=int(np.clip(rows * 90, 200, 900)) + 60,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def filters_figure(filters: np.ndarray, *, columns: int | None = None) -> go.Figure:
    """First-layer filters (n, kh, kw, c) in [0, 1] as small images; 0.5 grey is a zero weight."""
    filters = np.asarray(filters, dtype=np.float32)
    count, height, width, channels = filters.shape
    columns = max(1, min(columns or math.ceil(math.sqrt(count * 2)), count))
    rows = math.ceil(count / columns)
    figure = go.Figure()
    if channels == 3:
        planes = [_mosaic(filters[..., channel], columns, fill=1.0)[0] for channel in range(3)]
        rgb = np.round(np.stack(planes, axis=-1) * 255).astype(np.uint8)
        figure.add_trace(go.Image(z=rgb, hoverinfo="skip"))
    else:
        # Filters on other than three channels show their mean over the channels.
        mosaic, owner = _mosaic(filters.mean(axis=-1), columns)
        figure.add_trace(
            go.Heatmap(
                z=mosaic,
                zmin=0.0,
                zmax=1.0,
                colorscale="Greys",
                reversescale=True,
                showscale=False,
                customdata=np.where(owner >= 0, owner, np.nan),
                hovertemplate="filter %{customdata}<br>weight %{z:.2f}<extra></extra>",
            )
        )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    figure.update_layout(
        height=int(np.clip(rows * 60, 120, 700)) + 40,
        margin={"l": 10, "r": 10, "t": 20, "b": 10},
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def filter_strengths_figure(strengths: Mapping[str, np.ndarray]) -> go.Figure:
    """Bars of each filter's mean absolute weight, one row of bars per convolution layer."""
    names = list(strengths)
    figure = make_subplots(rows=max(1, len(names)), cols=1, subplot_titles=names)
    for row, name in enumerate(names, start=1):
        values = np.asarray(strengths[name])
        figure.add_trace(
            go.Bar(x=np.arange(len(values)), y=values, name=name, showlegend=False),
            row=row,
            col=1,
        )
        figure.update_xaxes(title_text="filter", row=row, col=1)
        figure.update_yaxes(title_text="mean |weight|", row=row, col=1)
    figure.update_layout(height=220 * max(1, len(names)) + 40)
    return figure


def overlay_figure(
    image: np.ndarray, heatmap: np.ndarray, *, opacity: float = 0.5, title: str | None = None
) -> go.Figure:
    """The image beside itself under a [0, 1] heatmap (Grad-CAM, saliency)."""
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 2:
        image = image[:, :, np.newaxis]
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.shape != image.shape[:2]:
        raise ValueError(f"Heatmap shape {heatmap.shape} differs from image {image.shape[:2]}.")
    rgb = _to_rgb(image[np.newaxis])[0]
    figure = make_subplots(rows=1, cols=2, subplot_titles=("image", title or "heatmap"))
    for column in (1, 2):
        figure.add_trace(go.Image(z=rgb, hoverinfo="skip"), row=1, col=column)
    # An Image trace centres pixel (row, column) at (column, row), as does this heatmap.
    figure.add_trace(
        go.Heatmap(
            z=heatmap,
            zmin=0.0,
            zmax=1.0,
            colorscale="Turbo",
            opacity=opacity,
            colorbar={"title": {"text": "importance"}},
            hovertemplate="row %{y}, column %{x}<br>importance %{z:.2f}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, autorange="reversed")
    figure.update_yaxes(scaleanchor="x", row=1, col=1)
    figure.update_yaxes(scaleanchor="x2", row=1, col=2)
    figure.update_layout(height=360, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure


def class_colours(num_classes: int) -> list[str]:
    """One colour per class index, told apart at a glance: D3's ten for up to ten classes, the
    26 of Alphabet for more, repeating beyond that. Class i has colour i on every figure."""
    palette = px.colors.qualitative.D3 if num_classes <= 10 else px.colors.qualitative.Alphabet
    return [palette[index % len(palette)] for index in range(num_classes)]


def embedding_figure(
    points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *, title: str | None = None
) -> go.Figure:
    """2-D embedding, one WebGL trace per class; each point's customdata is its image index."""
    points = np.asarray(points)
    labels = np.asarray(labels)
    if points.shape != (len(labels), 2):
        raise ValueError(f"Expected points of shape ({len(labels)}, 2), got {points.shape}.")
    figure = go.Figure()
    # Colours go by class index, not by trace: a class without points shifts no other colour.
    colours = class_colours(len(class_names))
    for class_index, name in enumerate(class_names):
        (indices,) = np.nonzero(labels == class_index)
        if len(indices) == 0:
            continue
        figure.add_trace(
            go.Scattergl(
                x=points[indices, 0],
                y=points[indices, 1],
                mode="markers",
                name=str(name),
                marker={"size": 5, "opacity": 0.75, "color": colours[class_index]},
                customdata=indices,
                hovertemplate=f"{name}<br>image %{{customdata}}<extra></extra>",
            )
        )
    figure.update_xaxes(showticklabels=False, title_text="")
    figure.update_yaxes(showticklabels=False, title_text="")
    figure.update_layout(
        title=title, height=520, legend={"title": {"text": "true class"}, "itemsizing": "constant"}
    )
    return figure


def training_curves_figure(history: Mapping[str, Sequence[float]]) -> go.Figure:
    """Loss and accuracy per epoch, training solid and validation dashed, from History.history."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    colours = {"training": "#1f77b4", "validation": "#ff7f0e"}
    for column, metric in ((1, "loss"), (2, "accuracy")):
        for split, key in (("training", metric), ("validation", f"val_{metric}")):
            values = history.get(key)
            if not values:
                continue
            figure.add_trace(
                go.Scatter(
                    x=np.arange(1, len(values) + 1),
                    y=list(values),
                    mode="lines+markers",
                    name=split,
                    legendgroup=split,
                    # One legend entry per split, not one per panel.
                    showlegend=column == 1 or "loss" not in history,
                    line={
                        "color": colours[split],
                        "dash": "dash" if split == "validation" else "solid",
                    },
                    hovertemplate=f"epoch %{{x}}<br>{split} {metric} %{{y:.4f}}<extra></extra>",
                ),
                row=1,
                col=column,
            )
        figure.update_xaxes(title_text="epoch", row=1, col=column)
    figure.update_yaxes(range=[0, 1], row=1, col=2)
    figure.update_layout(height=360, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure


def timeline_figure(
    epochs: Sequence[float], accuracies: Sequence[float], current: int, *, num_classes: int
) -> go.Figure:
    """Accuracy at each kept point of a run, the point on show ringed, chance as a dotted line."""
    epochs = np.asarray(epochs, dtype=float)
    accuracies = np.asarray(accuracies, dtype=float)
    figure = go.Figure(
        go.Scatter(
            x=epochs,
            y=accuracies,
            mode="lines+markers",
            name="accuracy",
            line={"color": "#1f77b4"},
            hovertemplate="epoch %{x:.2f}<br>accuracy %{y:.1%}<extra></extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=[epochs[current]],
            y=[accuracies[current]],
            mode="markers",
            name="shown",
            marker={"size": 16, "color": "rgba(0,0,0,0)", "line": {"width": 3, "color": "#d62728"}},
            hoverinfo="skip",
        )
    )
    figure.add_hline(
        y=1 / max(num_classes, 1),
        line={"dash": "dot", "color": "grey"},
        annotation_text="chance",
        annotation_position="bottom right",
    )
    figure.update_xaxes(title_text="epoch")
    figure.update_yaxes(title_text="accuracy", range=[0, 1], tickformat=".0%")
    figure.update_layout(
        title="Accuracy along the way",
        height=240,
        showlegend=False,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return figure


# --- Training figures ---


def live_curves_figure(
    batch_points: Sequence[Mapping[str, float | None]],
    epoch_points: Sequence[Mapping[str, float | None]],
    *,
    planned_epochs: float | None = None,
) -> go.Figure:
    """Loss and accuracy while training: a line for the training batches, dots per validation.

    Points are dicts with 'epoch' (1.5 = halfway through the second), 'loss', 'accuracy' and,
    for epoch points, 'val_loss' and 'val_accuracy'.
    """
    figure = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    colours = {"training": "#1f77b4", "validation": "#ff7f0e"}
    for column, metric in ((1, "loss"), (2, "accuracy")):
        series = (
            ("training", batch_points, metric, "lines"),
            ("validation", epoch_points, f"val_{metric}", "lines+markers"),
        )
        for split, points, key, mode in series:
            kept = [point for point in points if point.get(key) is not None]
            figure.add_trace(
                go.Scatter(
                    x=[point["epoch"] for point in kept],
                    y=[point[key] for point in kept],
                    mode=mode,
                    name=split,
                    legendgroup=split,
                    showlegend=column == 1,
                    line={"color": colours[split]},
                    hovertemplate=f"epoch %{{x:.2f}}<br>{split} {metric} %{{y:.4f}}<extra></extra>",
                ),
                row=1,
                col=column,
            )
        figure.update_xaxes(title_text="epoch", row=1, col=column, rangemode="tozero")
        if planned_epochs:
            figure.update_xaxes(range=[0, planned_epochs], row=1, col=column)
    figure.update_yaxes(rangemode="tozero", row=1, col=1)
    figure.update_yaxes(range=[0, 1], row=1, col=2)
    figure.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": 1.18, "x": 1, "xanchor": "right"},
        uirevision="live",  # Keep the user's zoom while new points arrive.
    )
    return figure


def comparison_curve(
    history: Sequence[Mapping[str, Any]], batch_points: Sequence[Mapping[str, Any]]
) -> tuple[str, list[float], list[float]] | None:
    """What a run contributes to a comparison: ('validation' or 'training', epochs, accuracies).

    Validation accuracy per complete epoch. A run validated less than twice (shorter than two
    epochs, such as 20 s on MNIST) would be a lone dot, so it gives its training accuracy by
    fraction of an epoch instead, when it has batches; None if it has neither.
    """
    validated = [
        entry
        for entry in history
        if entry.get("val_accuracy") is not None and entry.get("complete", True)
    ]
    trained = [point for point in batch_points if point.get("accuracy") is not None]
    if len(validated) >= 2 or (validated and len(trained) < 2):
        return (
            "validation",
            [float(entry["epoch"]) for entry in validated],
            [float(entry["val_accuracy"]) for entry in validated],
        )
    if trained:
        return (
            "training",
            [float(point["epoch"]) for point in trained],
            [float(point["accuracy"]) for point in trained],
        )
    return None


def runs_comparison_figure(
    runs: Sequence[tuple[str, Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]]],
) -> go.Figure:
    """Accuracy of several runs, one line each named by its run, for comparing them.

    `runs` holds (name, history, batch_points). Validation accuracy per epoch, solid; a run
    validated less than twice draws its training accuracy by fraction of an epoch, dotted.
    """
    figure = go.Figure()
    for name, history, batch_points in runs:
        curve = comparison_curve(history, batch_points)
        if curve is None:
            continue
        kind, epochs, accuracies = curve
        label = name if kind == "validation" else f"{name} (training)"
        figure.add_trace(
            go.Scatter(
                x=epochs,
                y=accuracies,
                mode="lines+markers" if kind == "validation" else "lines",
                name=label,
                line={"dash": "solid" if kind == "validation" else "dot"},
                hovertemplate=f"epoch %{{x:.2f}}<br>{kind} accuracy %{{y:.2%}}"
                "<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_layout(
        title="Validation accuracy per epoch (training accuracy, dotted, for shorter runs)",
        xaxis_title="epoch",
        yaxis={"title": "accuracy", "range": [0, 1], "tickformat": ".0%"},
        height=380,
        legend={"title": {"text": "run"}},
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return figure


# --- Drawing figures ---


def top_guesses_figure(guesses: Sequence[Guess], *, threshold: float | None = None) -> go.Figure:
    """The top guesses as horizontal bars, the most probable on top."""
    names = [guess.class_name for guess in guesses][::-1]
    values = [guess.probability for guess in guesses][::-1]
    colours = ["#1f77b4"] * len(values)
    if colours:
        colours[-1] = "#2ca02c" if threshold is None or values[-1] >= threshold else "#ff7f0e"
    figure = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker_color=colours,
            text=[f"{value:.0%}" for value in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    if threshold is not None:
        figure.add_vline(x=threshold, line_dash="dot", line_color="#888888")
    figure.update_layout(
        xaxis={"range": [0, 1], "tickformat": ".0%", "title": "probability"},
        # Class names such as "7" must stay labels, not become numbers on the axis.
        yaxis={"type": "category"},
        height=60 + 34 * len(names),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure


def drawing_stages_figure(
    ink: np.ndarray, bounding_box: tuple[int, int, int, int], model_input: np.ndarray
) -> go.Figure:
    """What the model sees: the ink as drawn with its bounding box, then the 28x28 input."""
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("your ink and its bounding box", "what the model sees (28 x 28)"),
        horizontal_spacing=0.08,
    )
    figure.add_trace(go.Heatmap(z=ink, colorscale="gray", showscale=False, hoverinfo="skip"), 1, 1)
    top, left, bottom, right = bounding_box
    figure.add_shape(
        type="rect",
        x0=left - 0.5,
        x1=right - 0.5,
        y0=top - 0.5,
        y1=bottom - 0.5,
        line={"color": "#ff7f0e", "width": 2},
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Heatmap(
            z=model_input,
            colorscale="gray",
            showscale=False,
            zmin=0,
            zmax=255,
            hovertemplate="row %{y}, column %{x}: %{z}<extra></extra>",
        ),
        1,
        2,
    )
    for column in (1, 2):
        figure.update_xaxes(visible=False, row=1, col=column, constrain="domain")
        figure.update_yaxes(
            visible=False, autorange="reversed", scaleanchor=f"x{'' if column == 1 else 2}",
            row=1, col=column,
        )  # fmt: skip
    figure.update_layout(height=300, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure


# --- Convolution arithmetic figures ---

# How activation functions are written for a reader; others keep their Keras name.
ACTIVATION_LABELS = {
    "relu": "ReLU",
    "elu": "ELU",
    "gelu": "GELU",
    "selu": "SELU",
    "leakyrelu": "leaky ReLU",
    "leaky_relu": "leaky ReLU",
    "prelu": "PReLU",
}
# Pixels per kernel cell: room for "-0.12" up to 7x7, beyond which the text gets compact.
CONVOLUTION_CELL_PIXELS = {3: 52, 5: 44, 7: 38}
CONVOLUTION_LARGE_CELL_PIXELS = 30
PADDING_COLOUR = "#c8c8c8"
WINDOW_COLOUR = "#ff7f0e"
CHOSEN_PIXEL_COLOUR = "#d62728"
# Per-channel sums are written on their bars up to this many channels.
CHANNEL_SUM_TEXT_MAX = 16


def activation_label(name: str) -> str:
    """An activation's name as a reader knows it: "ReLU" for "relu"."""
    return ACTIVATION_LABELS.get(name, name)


def number_text(value: float, *, compact: bool = False) -> str:
    """A value as a cell shows it, to 2 decimals; compact drops the zero before the point."""
    text = f"{value:.2f}"
    if text == "-0.00":
        text = "0.00"
    if compact:
        text = text.replace("-0.", "-.", 1) if text.startswith("-0.") else text
        text = text[1:] if text.startswith("0.") else text
    return text


def convolution_equation(step: ConvolutionStep) -> str:
    """One line of a ConvolutionStep's arithmetic: products summed, bias, activation, value."""
    input_channels = step.products.shape[-1]
    total = float(step.products.sum(dtype=np.float64))
    where = "" if input_channels == 1 else f" over all {input_channels} input channels"
    equation = (
        f"sum of the products{where} {number_text(total)} + bias {number_text(step.bias)} "
        f"= {number_text(step.pre_activation)}"
    )
    if step.activation != "linear":
        equation += f" → {activation_label(step.activation)} → {number_text(step.value)}"
    return equation + " (the value in the map)"


def _cell_pixels(size: int) -> int:
    for largest, pixels in CONVOLUTION_CELL_PIXELS.items():
        if size <= largest:
            return pixels
    return CONVOLUTION_LARGE_CELL_PIXELS


def _is_padding(indices: Sequence[int], size: int) -> np.ndarray:
    return np.array([not 0 <= index < size for index in indices])


def convolution_step_figure(
    step: ConvolutionStep, input_size: tuple[int, int], *, input_channel: int | None = None
) -> go.Figure:
    """A ConvolutionStep as CNN Explainer draws it: patch, kernel and products with their numbers.

    `input_size` is the layer input's (height, width), to tell padding from the image. With
    several input channels, `input_channel` picks the one whose patch, kernel and products are
    shown, and a bar per channel below shows the sums that add up to the total; None shows the
    products summed over the channels instead. The title is the equation to the value.
    """
    kernel_height, kernel_width, input_channels = step.patch.shape
    if input_channel is not None and not 0 <= input_channel < input_channels:
        raise ValueError(
            f"input_channel must be from 0 to {input_channels - 1} or None; got {input_channel!r}."
        )
    if input_channels == 1:
        input_channel = 0
    padding = _is_padding(step.input_rows, input_size[0])[:, np.newaxis] | _is_padding(
        step.input_cols, input_size[1]
    )
    largest_side = max(kernel_height, kernel_width)
    compact = largest_side > max(CONVOLUTION_CELL_PIXELS)
    font_size = 13 if largest_side <= 5 else 11 if not compact else 9
    positions = np.stack(np.meshgrid(step.input_rows, step.input_cols, indexing="ij"), axis=-1)

    if input_channel is None:
        summed = step.products.sum(axis=-1)
        panels = [
            (
                f"products summed over the {input_channels} channels: "
                f"{number_text(float(summed.sum(dtype=np.float64)))} in all",
                summed,
                "products",
            )
        ]
    else:
        products = step.products[..., input_channel]
        which = "" if input_channels == 1 else f", channel {input_channel}"
        panels = [
            ("input under the window" + which, step.patch[..., input_channel], "input"),
            ("kernel: the weights" + which, step.kernel[..., input_channel], "weight"),
            (
                "input × weight: they add up to "
                + number_text(float(products.sum(dtype=np.float64))),
                products,
                "product",
            ),
        ]
    titles = [title for title, _, _ in panels]
    if padding.any() and input_channel is not None:
        titles[0] += "<br>grey: padding, zeros outside the input"
    with_sums = input_channels > 1
    if with_sums:
        titles.append(
            f"each input channel's products add up to one bar; the {input_channels} bars add up "
            f"to {number_text(float(step.products.sum(dtype=np.float64)))}"
        )
    columns = len(panels)
    figure = make_subplots(
        rows=2 if with_sums else 1,
        cols=columns,
        subplot_titles=titles,
        horizontal_spacing=0.06,
        vertical_spacing=0.22,
        row_heights=[0.6, 0.4] if with_sums else None,
        specs=[[{}] * columns, [{"colspan": columns}] + [None] * (columns - 1)]
        if with_sums
        else None,
    )
    for column, (_, values, noun) in enumerate(panels, start=1):
        values = np.asarray(values, dtype=np.float64)
        text = np.vectorize(lambda value: number_text(value, compact=compact))(values)
        shown = values.copy()
        # A grey ground under the cells shows between them, so white cells keep their edges.
        figure.add_shape(
            type="rect",
            x0=-0.5,
            x1=kernel_width - 0.5,
            y0=-0.5,
            y1=kernel_height - 0.5,
            fillcolor=PADDING_COLOUR,
            line={"width": 0},
            layer="below",
            row=1,
            col=column,
        )
        if noun == "input":
            # Padding cells sit on their own grey trace, so they read as outside the input.
            shown[padding] = np.nan
            text[padding] = ""
            figure.add_trace(
                go.Heatmap(
                    z=np.where(padding, 0.0, np.nan),
                    colorscale=[[0, PADDING_COLOUR], [1, PADDING_COLOUR]],
                    showscale=False,
                    text=np.where(padding, number_text(0.0, compact=compact), "").tolist(),
                    texttemplate="%{text}",
                    textfont={"size": font_size, "color": "#555555"},
                    customdata=positions,
                    hovertemplate="padding outside the input<br>row %{customdata[0]}, "
                    "column %{customdata[1]}: 0<extra></extra>",
                ),
                row=1,
                col=column,
            )
            inside = shown[~padding]
            low = min(0.0, float(inside.min())) if inside.size else 0.0
            high = float(inside.max()) if inside.size else 1.0
            colours = {"colorscale": "gray", "zmin": low, "zmax": high if high > low else low + 1}
        else:
            largest = float(np.abs(values).max()) or 1.0
            # Blue for positive, red for negative, white for zero, in every panel alike.
            colours = {"colorscale": "RdBu", "zmin": -largest, "zmax": largest}
        hover = (
            "input row %{customdata[0]}, column %{customdata[1]}<br>"
            if noun != "weight"
            else "weight at row %{y}, column %{x}<br>"
        )
        figure.add_trace(
            go.Heatmap(
                z=shown,
                **colours,
                showscale=False,
                text=text.tolist(),
                texttemplate="%{text}",
                textfont={"size": font_size},
                customdata=positions,
                hovertemplate=hover + f"{noun} %{{z:.4f}}<extra></extra>",
                xgap=2,
                ygap=2,
            ),
            row=1,
            col=column,
        )
        axis_name = "x" if column == 1 else f"x{column}"
        figure.update_xaxes(
            visible=False, range=[-0.5, kernel_width - 0.5], constrain="domain", row=1, col=column
        )
        figure.update_yaxes(
            visible=False, range=[kernel_height - 0.5, -0.5], scaleanchor=axis_name,
            constrain="domain", row=1, col=column,
        )  # fmt: skip
    if with_sums:
        sums = np.asarray(step.per_channel_sums, dtype=np.float64)
        colours = ["#2166ac" if value >= 0 else "#b2182b" for value in sums]
        if input_channel is not None:
            colours = [
                WINDOW_COLOUR if index == input_channel else colour
                for index, colour in enumerate(colours)
            ]
        figure.add_trace(
            go.Bar(
                x=[str(index) for index in range(input_channels)],
                y=sums,
                marker_color=colours,
                text=[number_text(value) for value in sums]
                if input_channels <= CHANNEL_SUM_TEXT_MAX
                else None,
                textposition="outside",
                cliponaxis=False,
                hovertemplate="input channel %{x}: its products add up to %{y:.4f}<extra></extra>",
                showlegend=False,
            ),
            row=2,
            col=1,
        )
        figure.update_xaxes(type="category", title_text="input channel", row=2, col=1)
        figure.update_yaxes(title_text="sum", zeroline=True, row=2, col=1)
    side = largest_side * _cell_pixels(largest_side)
    figure.update_layout(
        title={
            "text": convolution_equation(step),
            "font": {"size": 18},
            "x": 0.5,
            "xanchor": "center",
        },
        height=side + 130 + (260 if with_sums else 0),
        # Room for the equation above subplot titles of two lines.
        margin={"l": 10, "r": 10, "t": 120, "b": 10},
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def convolution_window_figure(
    layer_input: np.ndarray,
    feature_map: np.ndarray,
    step: ConvolutionStep,
    *,
    input_channel: int | None = None,
    input_title: str = "the layer's input",
    output_title: str = "its feature map",
) -> go.Figure:
    """Where the window of a ConvolutionStep sits on the layer's input, beside the feature map.

    `layer_input` is (h, w, channels), shown one channel at a time (None: their mean), with
    zeros drawn where the window hangs over the padding; `feature_map` (h', w') is the output
    channel, the step's pixel outlined. Its last trace is a Scatter of invisible markers, one
    per map pixel with customdata (row, column, value), so a click picks a pixel (Streamlit gets
    no selection from heatmaps).
    """
    layer_input = np.asarray(layer_input, dtype=np.float32)
    feature_map = np.asarray(feature_map, dtype=np.float32)
    if layer_input.ndim != 3 or feature_map.ndim != 2:
        raise ValueError(
            "The layer input must be (height, width, channels) and the feature map "
            f"(height, width); got {layer_input.shape} and {feature_map.shape}."
        )
    input_height, input_width, input_channels = layer_input.shape
    plane = layer_input.mean(axis=-1) if input_channel is None else layer_input[..., input_channel]
    # Grow the picture by the padding the window reaches, grey as on the step figure.
    top = min(0, min(step.input_rows))
    left = min(0, min(step.input_cols))
    bottom = max(input_height - 1, max(step.input_rows))
    right = max(input_width - 1, max(step.input_cols))
    padded = np.full((bottom - top + 1, right - left + 1), np.nan, dtype=np.float32)
    padded[-top : -top + input_height, -left : -left + input_width] = plane
    output_height, output_width = feature_map.shape
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(
            input_title
            if padded.shape == plane.shape
            else f"{input_title}<br>grey: padding, zeros outside the input",
            output_title,
        ),
        horizontal_spacing=0.08,
    )
    figure.add_trace(
        go.Heatmap(
            z=padded,
            x0=left,
            y0=top,
            colorscale="gray",
            showscale=False,
            hovertemplate="row %{y}, column %{x}: %{z:.3f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    if (top, left, bottom, right) != (0, 0, input_height - 1, input_width - 1):
        # The padding the window reaches, under the input: zeros outside it.
        figure.add_shape(
            type="rect",
            x0=left - 0.5,
            x1=right + 0.5,
            y0=top - 0.5,
            y1=bottom + 0.5,
            fillcolor=PADDING_COLOUR,
            line={"width": 0},
            layer="below",
            row=1,
            col=1,
        )
    figure.add_shape(
        type="rect",
        x0=min(step.input_cols) - 0.5,
        x1=max(step.input_cols) + 0.5,
        y0=min(step.input_rows) - 0.5,
        y1=max(step.input_rows) + 0.5,
        line={"color": WINDOW_COLOUR, "width": 3},
        fillcolor="rgba(255, 127, 14, 0.15)",
        row=1,
        col=1,
    )
    dilated = len(step.input_rows) > 1 and step.input_rows[1] - step.input_rows[0] > 1
    if dilated or (len(step.input_cols) > 1 and step.input_cols[1] - step.input_cols[0] > 1):
        # A dilated kernel reads only every other pixel or so of its span: mark those.
        rows, cols = np.meshgrid(step.input_rows, step.input_cols, indexing="ij")
        figure.add_trace(
            go.Scatter(
                x=cols.ravel(),
                y=rows.ravel(),
                mode="markers",
                marker={"color": WINDOW_COLOUR, "size": 6},
                hoverinfo="skip",
                showlegend=False,
            ),
            row=1,
            col=1,
        )
    figure.add_trace(
        go.Heatmap(
            z=feature_map,
            colorscale="Viridis",
            showscale=False,
            hoverinfo="skip",
        ),
        row=1,
        col=2,
    )
    figure.add_shape(
        type="rect",
        x0=step.col - 0.5,
        x1=step.col + 0.5,
        y0=step.row - 0.5,
        y1=step.row + 0.5,
        line={"color": CHOSEN_PIXEL_COLOUR, "width": 3},
        row=1,
        col=2,
    )
    map_rows, map_cols = np.divmod(np.arange(output_height * output_width), output_width)
    figure.add_trace(
        go.Scatter(
            x=map_cols,
            y=map_rows,
            mode="markers",
            marker={"symbol": "square", "size": 8, "opacity": 0},
            selected={"marker": {"opacity": 0}},
            unselected={"marker": {"opacity": 0}},
            customdata=np.column_stack([map_rows, map_cols, feature_map.ravel()]),
            hovertemplate="row %{customdata[0]}, column %{customdata[1]}: "
            "%{customdata[2]:.3f}<br>click to see how it is made<extra></extra>",
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_xaxes(range=[left - 0.5, right + 0.5], row=1, col=1)
    figure.update_xaxes(range=[-0.5, output_width - 0.5], row=1, col=2)
    figure.update_yaxes(visible=False, constrain="domain")
    figure.update_yaxes(range=[bottom + 0.5, top - 0.5], scaleanchor="x", row=1, col=1)
    figure.update_yaxes(range=[output_height - 0.5, -0.5], scaleanchor="x2", row=1, col=2)
    figure.update_layout(
        height=380,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        plot_bgcolor="rgba(0,0,0,0)",
        clickmode="event+select",
        hovermode="closest",
        dragmode=False,
    )
    return figure
