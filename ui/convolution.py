"""How a convolution works: pick a layer, channel and pixel, and see the arithmetic behind it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from core.inspection import (
    ConvolutionLayer,
    ConvolutionStep,
    FollowingLayer,
    convolution_maps,
    convolution_step,
    describe_convolutions,
    describe_following,
)
from core.plots import (
    activation_label,
    convolution_step_figure,
    convolution_window_figure,
    number_text,
)

if TYPE_CHECKING:
    import keras

# The input channel picker's option for the sum over all channels; channels are 0, 1, ...
ALL_INPUT_CHANNELS = -1
# (label, material icon, row step, column step) of the buttons that move the window.
MOVES = (
    ("left", ":material/arrow_back:", 0, -1),
    ("up", ":material/arrow_upward:", -1, 0),
    ("down", ":material/arrow_downward:", 1, 0),
    ("right", ":material/arrow_forward:", 0, 1),
)


def layer_label(layer: ConvolutionLayer) -> str:
    """'conv2 · 3×3 kernel, stride 1, same padding · 16 → 32 channels, 14×14 → 14×14'."""
    (kernel_height, kernel_width), (stride_rows, stride_cols) = layer.kernel_size, layer.strides
    stride = f"{stride_rows}" if stride_rows == stride_cols else f"{stride_rows}×{stride_cols}"
    dilation = (
        ""
        if layer.dilation_rate == (1, 1)
        else f", dilation {'×'.join(map(str, layer.dilation_rate))}"
    )
    (in_height, in_width, in_channels), (out_height, out_width, filters) = (
        layer.input_shape,
        layer.output_shape,
    )
    return (
        f"{layer.name} · {kernel_height}×{kernel_width} kernel, stride {stride}, "
        f"{layer.padding} padding{dilation} · {in_channels} → {filters} channels, "
        f"{in_height}×{in_width} → {out_height}×{out_width}"
    )


def keep_in_range(key: str, last: int) -> None:
    """Start a number on 0, and pull it back inside 0..last once another layer makes it too big."""
    value = st.session_state.get(key, 0)
    if not isinstance(value, int) or not 0 <= value <= last:
        st.session_state[key] = min(max(int(value or 0), 0), last)


def move_window(
    row_key: str, col_key: str, row_step: int, col_step: int, size: tuple[int, int]
) -> None:
    """Move the window one output pixel, staying on the map."""
    height, width = size
    st.session_state[row_key] = min(max(st.session_state[row_key] + row_step, 0), height - 1)
    st.session_state[col_key] = min(max(st.session_state[col_key] + col_step, 0), width - 1)


def next_position(row_key: str, col_key: str, size: tuple[int, int]) -> None:
    """Slide the window as the convolution does: right along the row, then the next row down."""
    height, width = size
    row, col = st.session_state[row_key], st.session_state[col_key] + 1
    if col == width:
        row, col = (row + 1) % height, 0
    st.session_state[row_key], st.session_state[col_key] = row, col


def jump_to(row_key: str, col_key: str, position: tuple[int, int]) -> None:
    """Put the window on the map pixel `position` (row, column)."""
    st.session_state[row_key], st.session_state[col_key] = position


def pick_clicked_pixel(chart_key: str, row_key: str, col_key: str) -> None:
    """Move the window to the map pixel clicked on the chart.

    The point's x and y are its column and row; its customdata arrives as a dict keyed "0",
    "1", "2" from Plotly's typed arrays, so it is not read. Only the clickable markers carry it.
    """
    event = st.session_state.get(chart_key)
    points = event.selection.points if event and event.selection else []
    clicked = [point for point in points if "customdata" in point and "x" in point]
    if clicked:
        row, col = int(round(clicked[0]["y"])), int(round(clicked[0]["x"]))
        st.session_state[row_key], st.session_state[col_key] = row, col


def following_text(following: list[FollowingLayer]) -> str:
    """'then batch norm (bn1) → 0.53, ReLU (relu1) → 0.53, max-pool of its 2×2 window → 0.91'."""
    parts = []
    for layer in following:
        value = number_text(layer.value)
        window = "×".join(map(str, layer.pool_size)) if layer.pool_size else ""
        if layer.kind == "batch_norm":
            parts.append(f"batch norm ({layer.name}) → {value}")
        elif layer.kind == "activation":
            parts.append(f"{activation_label(layer.activation or '')} ({layer.name}) → {value}")
        elif layer.kind == "max_pool":
            parts.append(f"max-pool ({layer.name}), the largest of its {window} window → {value}")
        elif layer.kind == "average_pool":
            parts.append(f"average-pool ({layer.name}), the mean of its {window} window → {value}")
        elif layer.kind == "global_max_pool":
            parts.append(f"global max-pool ({layer.name}), the largest of the map → {value}")
        else:
            parts.append(f"global average-pool ({layer.name}), the mean of the map → {value}")
    return ", ".join(parts)


def explanation_text(
    layer: ConvolutionLayer, step: ConvolutionStep, following: list[FollowingLayer]
) -> str:
    """What this layer's numbers mean for a student, in a few sentences."""
    (kernel_height, kernel_width), input_channels = layer.kernel_size, layer.input_shape[2]
    sentences = [
        f"Each number of the feature map is the {kernel_height}×{kernel_width} patch of input "
        "under the window times the kernel's weights, cell by cell, all added up, plus a bias."
    ]
    if input_channels > 1:
        sentences.append(
            f"The input has {input_channels} channels, so the kernel has {input_channels} "
            "layers of weights, one per channel: each channel gives a sum, and the sums add up."
        )
    if layer.strides != (1, 1):
        sentences.append(
            f"With stride {layer.strides[0]} the window jumps {layer.strides[0]} pixels for "
            "each pixel of the map, so the map is smaller than its input."
        )
    if layer.padding == "same":
        sentences.append(
            "Same padding puts zeros around the input, so the window can sit on its edges "
            "and the map keeps its size."
        )
    else:
        sentences.append("Valid padding keeps the window inside the input, so the map shrinks.")
    if not layer.use_bias and following and following[0].kind == "batch_norm":
        sentences.append(
            "This layer has no bias of its own: the batch norm after it shifts the values."
        )
    if step.activation == "relu" or any(after.activation == "relu" for after in following):
        sentences.append("ReLU then turns negative numbers into 0 and keeps the rest.")
    if any(after.kind == "max_pool" for after in following):
        sentences.append(
            "Max-pooling keeps the largest number of each small window, so the map shrinks."
        )
    return " ".join(sentences)


def input_title(layer: ConvolutionLayer, input_channel: int | None) -> str:
    (height, width, channels) = layer.input_shape
    # Convlab's models scale the pixels in a layer named "rescaling"; imported ones may not.
    source = (
        f"{layer.source}'s output"
        if not layer.reads_image
        else "the image (pixels ÷ 255)"
        if layer.source == "rescaling"
        else "the image"
    )
    which = (
        ""
        if channels == 1
        else f", mean of its {channels} channels"
        if input_channel is None
        else f", channel {input_channel}"
    )
    return f"input: {source}{which}, {height}×{width}"


def layer_choice_ui(convolutions: list[ConvolutionLayer], page: str) -> ConvolutionLayer | None:
    """Pick a plain Conv2D layer; say which convolutions this view cannot take apart."""
    plain = [layer for layer in convolutions if layer.steppable]
    others = [layer for layer in convolutions if not layer.steppable]
    if others:
        st.caption(
            "Not shown here: "
            + ", ".join(f"{layer.name} (a {layer.kind})" for layer in others)
            + ". Those convolutions work channel by channel, and this view takes apart plain "
            "Conv2D layers only."
        )
    if not plain:
        st.info("This network has no plain Conv2D layer to take apart.", icon=":material/info:")
        return None
    by_name = {layer.name: layer for layer in plain}
    chosen = st.selectbox(
        "Convolution layer",
        list(by_name),
        format_func=lambda name: layer_label(by_name[name]),
        key=f"{page}_convolution_layer",
    )
    return by_name[chosen]


def window_controls_ui(
    size: tuple[int, int], row_key: str, col_key: str, page: str, strongest: tuple[int, int]
) -> None:
    """Row and column of the map pixel, and buttons that step the window across the input or
    jump to the `strongest` pixel."""
    height, width = size
    row_column, col_column, *button_columns, strongest_column = st.columns(
        [2, 2, 1, 1, 1, 1, 2, 2], vertical_alignment="bottom"
    )
    row_column.number_input(
        f"Row (0 to {height - 1})", min_value=0, max_value=height - 1, step=1, key=row_key
    )
    col_column.number_input(
        f"Column (0 to {width - 1})", min_value=0, max_value=width - 1, step=1, key=col_key
    )
    row, col = st.session_state[row_key], st.session_state[col_key]
    blocked = {
        "left": col == 0,
        "up": row == 0,
        "down": row == height - 1,
        "right": col == width - 1,
    }
    for column, (name, icon, row_step, col_step) in zip(button_columns[:-1], MOVES, strict=True):
        column.button(
            "",
            icon=icon,
            help=f"Move the window one pixel of the map {name}.",
            on_click=move_window,
            args=(row_key, col_key, row_step, col_step, size),
            disabled=blocked[name],
            key=f"{page}_convolution_{name}",
            width="stretch",
        )
    button_columns[-1].button(
        "Next",
        icon=":material/skip_next:",
        help="Slide the window on, as the convolution does: along the row, then the next one.",
        on_click=next_position,
        args=(row_key, col_key, size),
        key=f"{page}_convolution_next",
        width="stretch",
    )
    strongest_column.button(
        "Strongest",
        icon=":material/my_location:",
        help="Jump to the pixel where this filter responds most.",
        on_click=jump_to,
        args=(row_key, col_key, tuple(int(index) for index in strongest)),
        key=f"{page}_convolution_strongest",
        width="stretch",
    )


@st.fragment
def convolution_ui(model: keras.Model, image: np.ndarray, page: str) -> None:
    """The arithmetic behind any pixel of any Conv2D layer's feature map, for one uint8 image."""
    st.caption(
        "A convolution slides a small grid of weights, the **kernel**, over its input. At each "
        "place it multiplies the input under the window by the weights, adds the products up "
        "and adds a bias: that is one pixel of the feature map. **Click a pixel of the map** "
        "(right), or step the window with the arrows, to see how it is made."
    )
    layer = layer_choice_ui(describe_convolutions(model), page)
    if layer is None:
        return
    output_height, output_width, filters = layer.output_shape
    input_channels = layer.input_shape[2]
    channel_key, input_channel_key = f"{page}_convolution_channel", f"{page}_convolution_input"
    row_key, col_key = f"{page}_convolution_row", f"{page}_convolution_col"
    keep_in_range(channel_key, filters - 1)

    channel_column, input_column = st.columns(2)
    channel = channel_column.number_input(
        f"Output channel: which filter (0 to {filters - 1})",
        min_value=0,
        max_value=filters - 1,
        step=1,
        key=channel_key,
        help="Each filter has its own kernel and makes its own feature map.",
    )
    input_channel: int | None = 0
    if input_channels > 1:
        choice = input_column.selectbox(
            "Input channel shown",
            [*range(input_channels), ALL_INPUT_CHANNELS],
            format_func=lambda option: (
                f"all {input_channels} (the sum over the channels)"
                if option == ALL_INPUT_CHANNELS
                else f"channel {option}"
            ),
            key=input_channel_key,
            help="The kernel has one layer of weights per input channel; the value in the map "
            "adds up the products of all of them.",
        )
        input_channel = None if choice == ALL_INPUT_CHANNELS else choice
    layer_input, layer_output = convolution_maps(model, image, layer.name)
    strongest = np.unravel_index(
        np.argmax(layer_output[..., channel]), (output_height, output_width)
    )
    if row_key not in st.session_state:
        # Open where the filter responds most, not on a corner of zeros.
        st.session_state[row_key], st.session_state[col_key] = (int(index) for index in strongest)
    keep_in_range(row_key, output_height - 1)
    keep_in_range(col_key, output_width - 1)
    window_controls_ui((output_height, output_width), row_key, col_key, page, strongest)
    row, col = st.session_state[row_key], st.session_state[col_key]

    step = convolution_step(model, image, layer.name, row, col, channel)
    chart_key = f"{page}_convolution_window_{layer.name}_{channel}_{row}_{col}"
    st.plotly_chart(
        convolution_window_figure(
            layer_input,
            layer_output[..., channel],
            step,
            input_channel=input_channel,
            input_title=input_title(layer, input_channel),
            output_title=f"{layer.name}, channel {channel}: pixel ({row}, {col}) outlined",
        ),
        width="stretch",
        # A new chart per pixel: a click on the old one never lingers as a selection.
        key=chart_key,
        on_select=lambda: pick_clicked_pixel(chart_key, row_key, col_key),
        selection_mode="points",
    )
    st.plotly_chart(
        convolution_step_figure(step, layer.input_shape[:2], input_channel=input_channel),
        width="stretch",
        key=f"{page}_convolution_step",
    )
    following = describe_following(model, step)
    st.markdown(
        f"**{number_text(step.value)}** is the value at row {row}, column {col} of channel "
        f"{channel} of {layer.name}"
        + (f"; then {following_text(following)}." if following else ".")
    )
    st.caption(explanation_text(layer, step, following))
