"""Tests for core.plots: what a reader sees on the figures, their labels, colours and texts."""

from __future__ import annotations

import numpy as np
import plotly.express as px
import pytest

from core.plots import (
    class_balance_figure,
    class_colours,
    confusion_matrix_figure,
    convolution_step_figure,
    convolution_window_figure,
    embedding_figure,
    number_text,
    share_text,
)


def test_class_balance_labels_every_class_on_a_category_axis() -> None:
    names = [str(digit) for digit in range(12)]
    counts = np.arange(12) + 100
    figure = class_balance_figure(counts, counts // 5, names)
    axis = figure.layout.xaxis
    # "7" stays a label, not a number, and no label is dropped to make room.
    assert axis.type == "category"
    assert axis.tickmode == "array"
    assert list(axis.tickvals) == names and list(axis.ticktext) == names
    assert [list(trace.x) for trace in figure.data] == [names, names]


def test_embedding_colours_tell_ten_classes_apart() -> None:
    names = [f"class {index}" for index in range(10)]
    labels = np.repeat(np.arange(10), 3)
    points = np.random.default_rng(0).normal(size=(30, 2))
    figure = embedding_figure(points, labels, names)
    colours = [trace.marker.color for trace in figure.data]
    assert len(set(colours)) == 10
    assert colours == list(px.colors.qualitative.D3)


def test_a_class_keeps_its_colour_when_another_class_has_no_points() -> None:
    names = [f"class {index}" for index in range(10)]
    labels = np.repeat(np.arange(1, 10), 3)  # Class 0 is missing from this sample.
    points = np.random.default_rng(0).normal(size=(27, 2))
    figure = embedding_figure(points, labels, names)
    colour_of = {trace.name: trace.marker.color for trace in figure.data}
    assert colour_of["class 3"] == class_colours(10)[3]
    assert len(set(colour_of.values())) == 9


@pytest.mark.parametrize("num_classes", [10, 20, 26])
def test_more_classes_get_a_larger_palette_of_distinct_colours(num_classes: int) -> None:
    colours = class_colours(num_classes)
    assert len(colours) == num_classes and len(set(colours)) == num_classes


@pytest.mark.parametrize(
    ("share", "text"),
    [
        (0.0, "0%"),
        (0.00004, "<0.1%"),
        (0.003, "0.3%"),
        (0.04, "4.0%"),
        (0.1, "10%"),
        (0.5, "50%"),
        (0.997, "99.7%"),
        (0.99996, ">99.9%"),
        (1.0, "100%"),
    ],
)
def test_a_share_keeps_a_decimal_when_small_and_never_rounds_to_zero(
    share: float, text: str
) -> None:
    assert share_text(share) == text


def test_a_row_of_shares_never_reads_zero_for_a_confused_image() -> None:
    # 3 of 1,000 sevens read as ones: a real confusion that "0%" would hide.
    matrix = np.array([[997, 3], [1, 9]])
    figure = confusion_matrix_figure(matrix, ["7", "1"], normalize=True)
    assert list(figure.data[0].text) == ["99.7%", "0.3%", "10%", "90%"]
    counts = confusion_matrix_figure(matrix, ["7", "1"])
    assert list(counts.data[0].text) == ["997", "3", "1", "9"]


def hand_made_step(input_channels: int = 1, kernel_size: int = 3):
    """A ConvolutionStep at the top-left corner of a 4x4 input: its first row and column are
    padding. Imported here: core.inspection brings TensorFlow, which the other tests skip."""
    from core.inspection import ConvolutionStep

    rng = np.random.default_rng(0)
    shape = (kernel_size, kernel_size, input_channels)
    patch = rng.uniform(0, 1, shape).astype(np.float32)
    patch[0] = 0.0
    patch[:, 0] = 0.0
    kernel = rng.normal(0, 0.3, shape).astype(np.float32)
    products = patch * kernel
    bias = -0.125
    pre_activation = float(products.sum(dtype=np.float64) + bias)
    return ConvolutionStep(
        layer_name="conv",
        row=0,
        col=0,
        channel=1,
        patch=patch,
        kernel=kernel,
        products=products,
        per_channel_sums=products.sum(axis=(0, 1)),
        bias=bias,
        pre_activation=pre_activation,
        activation="relu",
        value=max(pre_activation, 0.0),
        input_rows=tuple(range(-1, kernel_size - 1)),
        input_cols=tuple(range(-1, kernel_size - 1)),
        after=(),
    )


def cell_texts(trace) -> np.ndarray:
    return np.asarray(trace.text, dtype=object)


def test_the_step_figure_writes_patch_kernel_and_products_and_the_equation() -> None:
    step = hand_made_step()
    figure = convolution_step_figure(step, (4, 4))
    padding_trace, patch_trace, kernel_trace, products_trace = figure.data
    assert [trace.type for trace in figure.data] == ["heatmap"] * 4
    # Padding: the first row and column, grey, written as zeros on their own trace.
    padding = np.zeros((3, 3), dtype=bool)
    padding[0] = padding[:, 0] = True
    assert (cell_texts(padding_trace)[padding] == "0.00").all()
    assert (cell_texts(padding_trace)[~padding] == "").all()
    assert (cell_texts(patch_trace)[padding] == "").all()
    expected_patch = [number_text(value) for value in step.patch[..., 0][~padding]]
    assert cell_texts(patch_trace)[~padding].tolist() == expected_patch
    assert cell_texts(kernel_trace).tolist() == [
        [number_text(value) for value in row] for row in step.kernel[..., 0]
    ]
    np.testing.assert_allclose(np.asarray(products_trace.z), step.products[..., 0], rtol=1e-6)
    titles = [annotation.text for annotation in figure.layout.annotations]
    assert titles[0].startswith("input under the window<br>grey: padding")
    assert titles[2] == "input × weight: they add up to " + number_text(float(step.products.sum()))
    total = number_text(float(step.products.sum()))
    assert figure.layout.title.text == (
        f"sum of the products {total} + bias -0.12 = {number_text(step.pre_activation)} "
        f"→ ReLU → {number_text(step.value)} (the value in the map)"
    )


def test_with_several_input_channels_a_bar_per_channel_adds_up_to_the_total() -> None:
    step = hand_made_step(input_channels=4)
    figure = convolution_step_figure(step, (4, 4), input_channel=2)
    assert [trace.type for trace in figure.data] == ["heatmap"] * 4 + ["bar"]
    bars = figure.data[-1]
    np.testing.assert_allclose(bars.y, step.per_channel_sums, rtol=1e-6)
    assert list(bars.x) == ["0", "1", "2", "3"]
    assert bars.marker.color[2] == "#ff7f0e" and bars.marker.color[0] != "#ff7f0e"
    np.testing.assert_allclose(np.asarray(figure.data[2].z), step.kernel[..., 2], rtol=1e-6)
    titles = [annotation.text for annotation in figure.layout.annotations]
    assert "kernel: the weights, channel 2" in titles
    assert titles[-1].endswith(f"the 4 bars add up to {number_text(float(step.products.sum()))}")
    assert "over all 4 input channels" in figure.layout.title.text

    summed = convolution_step_figure(step, (4, 4), input_channel=None)
    assert [trace.type for trace in summed.data] == ["heatmap", "bar"]
    np.testing.assert_allclose(
        np.asarray(summed.data[0].z), step.products.sum(axis=-1), rtol=1e-5, atol=1e-7
    )
    with pytest.raises(ValueError, match="input_channel must be from 0 to 3"):
        convolution_step_figure(step, (4, 4), input_channel=4)


@pytest.mark.parametrize(("kernel_size", "longest"), [(5, 5), (7, 5), (11, 4)])
def test_large_kernels_keep_their_numbers_short(kernel_size: int, longest: int) -> None:
    figure = convolution_step_figure(hand_made_step(kernel_size=kernel_size), (20, 20))
    texts = [text for trace in figure.data for row in trace.text for text in row]
    assert max(len(text) for text in texts) <= longest
    assert figure.layout.height <= 560


def test_numbers_are_written_to_two_decimals() -> None:
    assert number_text(0.456) == "0.46"
    assert number_text(-0.001) == "0.00", "no minus zero"
    assert number_text(-0.456, compact=True) == "-.46"
    assert number_text(12.5, compact=True) == "12.50"


def test_the_window_figure_frames_the_window_and_lets_every_map_pixel_be_clicked() -> None:
    step = hand_made_step(input_channels=2)
    layer_input = np.random.default_rng(1).uniform(0, 1, (4, 4, 2)).astype(np.float32)
    feature_map = np.arange(12, dtype=np.float32).reshape(3, 4)
    figure = convolution_window_figure(layer_input, feature_map, step, input_channel=1)
    input_trace, map_trace, clickable = figure.data
    # The input grows by the padding row and column the window reaches, left empty (grey).
    shown = np.asarray(input_trace.z, dtype=np.float64)
    assert shown.shape == (5, 5) and np.isnan(shown[0]).all() and np.isnan(shown[:, 0]).all()
    np.testing.assert_allclose(shown[1:, 1:], layer_input[..., 1], rtol=1e-6)
    assert (input_trace.x0, input_trace.y0) == (-1, -1)
    padding, window, chosen = figure.layout.shapes
    assert (padding.x0, padding.y0, padding.fillcolor) == (-1.5, -1.5, "#c8c8c8")
    assert (window.x0, window.x1, window.y0, window.y1) == (-1.5, 1.5, -1.5, 1.5)
    assert (chosen.x0, chosen.y0, chosen.xref) == (-0.5, -0.5, "x2")
    np.testing.assert_array_equal(np.asarray(map_trace.z), feature_map)
    # One invisible marker per map pixel: x is the column, y the row.
    assert clickable.type == "scatter" and len(clickable.x) == 12
    assert (clickable.y[6], clickable.x[6]) == (1, 2)
    assert clickable.customdata[6].tolist() == [1, 2, 6]
    assert figure.layout.clickmode == "event+select"
    assert "grey: padding" in figure.layout.annotations[0].text

    mean = convolution_window_figure(layer_input, feature_map, step, input_channel=None)
    np.testing.assert_allclose(
        np.asarray(mean.data[0].z, dtype=np.float64)[1:, 1:], layer_input.mean(axis=-1), rtol=1e-6
    )
