"""Tests for core.evaluation and the confusion, per-class, gallery and training-curve figures."""

from __future__ import annotations

import base64
import io

import keras
import numpy as np
import plotly.graph_objects as go
import pytest
from keras import layers
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix
from sklearn.metrics import precision_recall_fscore_support

from core import evaluation, plots

NUM_CLASSES = 10
CLASS_NAMES = [f"digit {digit}" for digit in range(NUM_CLASSES)]
TRAIN_COUNT = 1400


def load_small_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8x8 digits as uint8 16x16x1 images, pixels 0-255."""
    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    images = np.repeat(np.repeat(images, 2, axis=1), 2, axis=2)[..., np.newaxis]
    return images, digits.target.astype(np.int64)


def build_small_cnn() -> keras.Model:
    inputs = keras.Input(shape=(16, 16, 1))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(32, activation="relu")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return load_small_digits()


@pytest.fixture(scope="module")
def trained_model(digits) -> keras.Model:
    images, labels = digits
    keras.utils.set_random_seed(0)
    model = build_small_cnn()
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(images[:TRAIN_COUNT], labels[:TRAIN_COUNT], epochs=6, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def test_set(digits) -> tuple[np.ndarray, np.ndarray]:
    images, labels = digits
    return images[TRAIN_COUNT:], labels[TRAIN_COUNT:]


@pytest.fixture(scope="module")
def result(trained_model, test_set) -> evaluation.Evaluation:
    images, labels = test_set
    # 397 images in batches of 64: the short last batch is exercised too.
    return evaluation.evaluate(
        trained_model, images, labels, class_names=CLASS_NAMES, batch_size=64
    )


def model_probabilities(model: keras.Model, images: np.ndarray) -> np.ndarray:
    return np.asarray(model(images.astype(np.float32), training=False))


def test_confusion_matrix_comes_from_the_models_own_predictions(trained_model, test_set, result):
    images, labels = test_set
    predictions = np.argmax(model_probabilities(trained_model, images), axis=1)
    expected = sklearn_confusion_matrix(labels, predictions, labels=np.arange(NUM_CLASSES))

    np.testing.assert_array_equal(result.confusion, expected)
    np.testing.assert_array_equal(result.predictions, predictions)
    assert result.confusion.sum() == len(images)
    assert result.accuracy == pytest.approx(np.trace(result.confusion) / len(images))
    assert result.accuracy == pytest.approx(np.mean(predictions == labels))
    # The model learned something, so the matrix has a real diagonal and real errors.
    assert result.accuracy > 0.8
    assert result.confusion.sum() > np.trace(result.confusion)


def test_probabilities_match_the_model_and_are_float32(trained_model, test_set, result):
    images, _ = test_set
    assert result.probabilities.dtype == np.float32
    assert result.probabilities.shape == (len(images), NUM_CLASSES)
    np.testing.assert_allclose(
        result.probabilities, model_probabilities(trained_model, images), atol=1e-5
    )


def test_losses_are_per_image_cross_entropy(trained_model, test_set, result):
    images, labels = test_set
    expected = keras.losses.sparse_categorical_crossentropy(
        labels, model_probabilities(trained_model, images)
    )
    np.testing.assert_allclose(result.losses, np.asarray(expected), rtol=1e-4, atol=1e-5)
    assert result.losses.dtype == np.float32


def test_per_class_scores_match_scikit_learn(test_set, result):
    _, labels = test_set
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, result.predictions, labels=np.arange(NUM_CLASSES), zero_division=0
    )
    table = result.per_class
    assert list(table.columns) == ["class", "precision", "recall", "f1", "support"]
    assert list(table["class"]) == CLASS_NAMES
    np.testing.assert_allclose(table["precision"], precision)
    np.testing.assert_allclose(table["recall"], recall)
    np.testing.assert_allclose(table["f1"], f1)
    np.testing.assert_array_equal(table["support"], support)
    np.testing.assert_array_equal(table["support"], result.confusion.sum(axis=1))


def test_batch_size_does_not_change_the_results(trained_model, test_set, result):
    images, labels = test_set
    other = evaluation.evaluate(trained_model, images, labels, batch_size=1000)
    np.testing.assert_array_equal(other.confusion, result.confusion)
    np.testing.assert_allclose(other.probabilities, result.probabilities, atol=1e-5)
    assert other.class_names == tuple(str(digit) for digit in range(NUM_CLASSES))


def test_results_are_read_only(result):
    with pytest.raises(ValueError):
        result.confusion[0, 0] = 99


def test_most_confused_pairs_sorts_by_count_and_skips_the_diagonal():
    matrix = np.array([[50, 3, 7], [3, 40, 0], [1, 9, 30]])
    assert evaluation.most_confused_pairs(matrix) == [
        (2, 1, 9),
        (0, 2, 7),
        (0, 1, 3),
        (1, 0, 3),
        (2, 0, 1),
    ]
    assert evaluation.most_confused_pairs(matrix, limit=2) == [(2, 1, 9), (0, 2, 7)]
    assert evaluation.most_confused_pairs(np.diag([5, 5])) == []


def test_most_confused_table_names_the_classes(result):
    table = evaluation.most_confused_table(result, limit=3)
    true, predicted, count = evaluation.most_confused_pairs(result.confusion, limit=1)[0]
    assert list(table.columns) == ["true", "predicted", "count"]
    assert table.iloc[0].tolist() == [CLASS_NAMES[true], CLASS_NAMES[predicted], count]
    assert table["count"].is_monotonic_decreasing


def test_cell_indices_hold_that_cell_most_confident_first(result):
    true, predicted, count = evaluation.most_confused_pairs(result.confusion, limit=1)[0]
    for true_class, predicted_class in ((true, predicted), (true, true)):
        indices = evaluation.cell_indices(result, true_class, predicted_class)
        assert len(indices) == result.confusion[true_class, predicted_class]
        assert np.all(result.labels[indices] == true_class)
        assert np.all(result.predictions[indices] == predicted_class)
        confidence = result.probabilities[indices, predicted_class]
        assert np.all(np.diff(confidence) <= 0)
    assert len(evaluation.cell_indices(result, true, predicted)) == count


def test_highest_loss_indices_are_the_worst_images(result):
    indices = evaluation.highest_loss_indices(result, 5)
    assert len(indices) == 5
    assert np.all(np.diff(result.losses[indices]) <= 0)
    others = np.setdiff1d(np.arange(len(result.losses)), indices)
    assert result.losses[indices].min() >= result.losses[others].max()
    # The worst images are misclassified ones.
    assert np.all(result.predictions[indices] != result.labels[indices])


def test_image_titles_give_true_predicted_and_probability(result):
    index = int(evaluation.highest_loss_indices(result, 1)[0])
    true, predicted = result.labels[index], result.predictions[index]
    percent = round(100 * float(result.probabilities[index, predicted]))
    (title,) = evaluation.image_titles(result, [index])
    assert title == f"{CLASS_NAMES[true]} → {CLASS_NAMES[predicted]} ({percent}%)"


@pytest.mark.parametrize(
    ("images", "labels", "class_names", "message"),
    [
        (np.zeros((4, 16, 16, 1), np.float32), np.zeros(4), None, "uint8"),
        (np.zeros((4, 28, 28, 1), np.uint8), np.zeros(4), None, "shape"),
        (np.zeros((4, 16, 16, 1), np.uint8), np.zeros(3), None, "labels"),
        (np.zeros((4, 16, 16, 1), np.uint8), np.full(4, 10), None, "between 0 and 9"),
        (np.zeros((4, 16, 16, 1), np.uint8), np.zeros(4), ["a", "b"], "class names"),
        (np.zeros((0, 16, 16, 1), np.uint8), np.zeros(0), None, "no images"),
    ],
)
def test_evaluate_rejects_bad_input_with_a_clear_message(
    trained_model, images, labels, class_names, message
):
    with pytest.raises(ValueError, match=message):
        evaluation.evaluate(trained_model, images, labels, class_names=class_names)


def test_confusion_matrix_function_counts_pairs():
    matrix = evaluation.confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])


# Figures.


def points_by_cell(trace: go.Scatter) -> dict[tuple[int, int], int]:
    """Map each (true, predicted) in customdata to its point index."""
    return {(int(true), int(predicted)): i for i, (true, predicted) in enumerate(trace.customdata)}


def test_confusion_figure_is_a_clickable_scatter_with_counts(result):
    figure = plots.confusion_matrix_figure(result.confusion, CLASS_NAMES)
    (trace,) = figure.data
    assert isinstance(trace, go.Scatter)
    assert trace.marker.symbol == "square"
    cells = points_by_cell(trace)
    assert sorted(cells) == [(t, p) for t in range(NUM_CLASSES) for p in range(NUM_CLASSES)]
    for (true, predicted), point in cells.items():
        assert trace.text[point] == str(result.confusion[true, predicted])
        # Rows are true classes on y, columns predicted on x.
        assert (trace.y[point], trace.x[point]) == (true, predicted)
        assert trace.marker.color[point] == result.confusion[true, predicted]
    assert list(figure.layout.xaxis.ticktext) == CLASS_NAMES
    assert list(figure.layout.yaxis.ticktext) == CLASS_NAMES
    low_end, high_end = figure.layout.yaxis.range
    assert low_end > high_end, "row 0 must be on top"


def test_confusion_figure_customdata_decodes_an_asymmetric_matrix():
    matrix = np.array([[5, 1, 0], [7, 2, 0], [0, 3, 4]])
    figure = plots.confusion_matrix_figure(matrix, ["a", "b", "c"])
    (trace,) = figure.data
    texts = {cell: trace.text[point] for cell, point in points_by_cell(trace).items()}
    assert texts[(1, 0)] == "7"
    assert texts[(0, 1)] == "1"
    assert texts[(2, 1)] == "3"


def test_normalised_confusion_rows_sum_to_one(result):
    figure = plots.confusion_matrix_figure(result.confusion, CLASS_NAMES, normalize=True)
    (trace,) = figure.data
    shares = np.zeros((NUM_CLASSES, NUM_CLASSES))
    for (true, predicted), point in points_by_cell(trace).items():
        shares[true, predicted] = trace.marker.color[point]
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(shares), result.per_class["recall"])
    assert all(text.endswith("%") for text in trace.text)


def test_confusion_figure_rejects_a_matrix_of_the_wrong_size():
    with pytest.raises(ValueError, match="3x3"):
        plots.confusion_matrix_figure(np.zeros((2, 2)), ["a", "b", "c"])


def test_per_class_figure_draws_the_scores(result):
    figure = plots.per_class_figure(result.per_class)
    assert [trace.name for trace in figure.data] == ["precision", "recall", "F1"]
    np.testing.assert_allclose(figure.data[2].y, result.per_class["f1"])


def decode_image_trace(figure: go.Figure) -> np.ndarray:
    (trace,) = figure.data
    header, encoded = trace.source.split(",", 1)
    assert header == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))


def test_image_grid_is_one_image_trace_holding_every_image(test_set):
    images, _ = test_set
    images = images[:7]
    titles = [f"image {index}\nline two" for index in range(7)]
    figure = plots.image_grid_figure(images, titles, columns=3)
    mosaic = decode_image_trace(figure)
    annotations = figure.layout.annotations
    assert [annotation.text for annotation in annotations] == [
        title.replace("\n", "<br>") for title in titles
    ]
    height, width = images.shape[1:3]
    for index, annotation in enumerate(annotations):
        # Each caption sits just above its tile, centred on it.
        left = int(round(annotation.x - (width - 1) / 2))
        top = int(round(annotation.y + 0.5))
        tile = mosaic[top : top + height, left : left + width]
        np.testing.assert_array_equal(tile[..., 0], images[index, ..., 0])
        assert np.all(tile[..., 3] == 255)
    assert mosaic[..., 3].mean() < 255, "gaps are transparent"


def test_image_grid_of_nothing_says_so():
    figure = plots.image_grid_figure(np.zeros((0, 16, 16, 1), np.uint8), [])
    assert figure.layout.annotations[0].text == "No images to show"


def test_training_curves_show_loss_and_accuracy_for_both_splits():
    history = {
        "loss": [1.0, 0.5, 0.3],
        "accuracy": [0.6, 0.8, 0.9],
        "val_loss": [1.1, 0.7, 0.6],
        "val_accuracy": [0.55, 0.75, 0.8],
    }
    figure = plots.training_curves_figure(history)
    curves = {(trace.xaxis, trace.name): list(trace.y) for trace in figure.data}
    assert curves == {
        ("x", "training"): history["loss"],
        ("x", "validation"): history["val_loss"],
        ("x2", "training"): history["accuracy"],
        ("x2", "validation"): history["val_accuracy"],
    }
    assert list(figure.data[0].x) == [1, 2, 3]
    assert sum(bool(trace.showlegend) for trace in figure.data) == 2
