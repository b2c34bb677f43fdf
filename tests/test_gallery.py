"""Tests for core.gallery and the gallery figures of core.plots."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.gallery import (
    class_counts,
    class_mean_images,
    image_mosaic,
    pixel_histogram,
    sample_indices,
)
from core.plots import (
    class_balance_figure,
    mean_images_figure,
    pixel_histogram_figure,
    sample_grid_figure,
)

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (60, 6, 5, 1), dtype=np.uint8)
LABELS = np.repeat(np.arange(3), 20).astype(np.int64)


def test_sample_indices_pick_each_class_from_its_own_images() -> None:
    indices = sample_indices(LABELS, 3, 7, seed=1)
    assert indices.shape == (3, 7)
    for class_index in range(3):
        assert (LABELS[indices[class_index]] == class_index).all()
        assert len(set(indices[class_index].tolist())) == 7
    assert not np.array_equal(indices, sample_indices(LABELS, 3, 7, seed=2)), "reshuffle changes"
    assert np.array_equal(indices, sample_indices(LABELS, 3, 7, seed=1)), "same seed, same grid"


def test_sample_indices_mark_missing_images_of_a_small_class() -> None:
    labels = np.array([0, 0, 1], dtype=np.int64)
    indices = sample_indices(labels, 3, 2, seed=0)
    assert indices[1].tolist() == [2, -1] and indices[2].tolist() == [-1, -1]


def test_mosaic_puts_each_image_in_its_cell() -> None:
    indices = np.array([[0, 5], [7, -1]])
    mosaic = image_mosaic(IMAGES, indices, gap=2)
    assert mosaic.shape == (6 * 2 + 2, 5 * 2 + 2, 1) and mosaic.dtype == np.uint8
    assert np.array_equal(mosaic[0:6, 7:12], IMAGES[5])
    assert np.array_equal(mosaic[8:14, 0:5], IMAGES[7])
    assert mosaic[8:14, 7:12].max() == 0, "a missing image stays blank"


def test_class_statistics_match_numpy() -> None:
    assert class_counts(LABELS, 4).tolist() == [20, 20, 20, 0]
    means = class_mean_images(IMAGES, LABELS, 3)
    expected = np.rint(IMAGES[LABELS == 1].astype(np.float64).mean(axis=0))
    assert means.dtype == np.uint8 and np.array_equal(means[1], expected.astype(np.uint8))
    colour = RNG.integers(0, 256, (10, 4, 4, 3), dtype=np.uint8)
    histogram = pixel_histogram(colour)
    assert histogram.shape == (3, 256) and histogram.sum() == colour.size
    assert histogram[2, colour[0, 0, 0, 2]] >= 1


def test_sample_grid_is_one_image_trace_labelled_by_class() -> None:
    mosaic = image_mosaic(IMAGES, sample_indices(LABELS, 3, 4, seed=0))
    figure = sample_grid_figure(mosaic, ["cat", "dog", "fish"], image_height=6, gap=2)
    assert isinstance(figure, go.Figure) and len(figure.data) == 1
    assert list(figure.layout.yaxis.ticktext) == ["cat", "dog", "fish"]
    assert list(figure.layout.yaxis.tickvals) == [3.0, 11.0, 19.0]


def test_gallery_figures_show_the_numbers_they_are_given() -> None:
    balance = class_balance_figure(np.array([5, 7]), np.array([1, 2]), ["a", "b"])
    assert [trace.name for trace in balance.data] == ["train", "test"]
    assert list(balance.data[0].y) == [5, 7] and list(balance.data[1].y) == [1, 2]
    means = mean_images_figure(class_mean_images(IMAGES, LABELS, 3), ["x", "y", "z"], columns=2)
    assert [annotation.text for annotation in means.layout.annotations] == ["x", "y", "z"]
    gray = pixel_histogram_figure(pixel_histogram(IMAGES))
    assert len(gray.data) == 1 and gray.layout.yaxis.type == "log"
    colour = pixel_histogram_figure(np.ones((3, 256), dtype=np.int64), log_scale=False)
    assert [trace.name for trace in colour.data] == ["red", "green", "blue"]
