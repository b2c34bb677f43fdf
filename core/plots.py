"""Plotly figure builders: each takes computed arrays and returns a go.Figure; pages show them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.express as px
import plotly.graph_objects as go

# --- Dataset gallery figures (owner: foundation) ---

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
            go.Bar(name="train", x=list(class_names), y=train_counts.tolist()),
            go.Bar(name="test", x=list(class_names), y=test_counts.tolist()),
        ]
    )
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


# --- Evaluation and inspection figures (owner: evaluation) ---
