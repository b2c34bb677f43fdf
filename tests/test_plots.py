"""Tests for core.plots: what a reader sees on the figures, their labels, colours and texts."""

from __future__ import annotations

import numpy as np
import plotly.express as px
import pytest

from core.plots import (
    class_balance_figure,
    class_colours,
    confusion_matrix_figure,
    embedding_figure,
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
