"""Outlier exposure: stray marks, their loss and accuracy, batches that carry them, a run that
learns to be unsure of what is none of its classes."""

from __future__ import annotations

import numpy as np
import pytest

from core.datasets import Dataset, load_dataset
from core.models import PRESETS
from core.outliers import (
    LabelledAccuracy,
    OutlierExposureLoss,
    outlier_images,
    outlier_pool,
    stray_marks,
    turned_and_mirrored,
)
from core.training import (
    TrainConfig,
    build_train_dataset,
    estimate_epoch_seconds,
    outliers_per_batch,
    train,
)


def test_stray_marks_are_drawn_as_the_run_reads_a_drawing_and_repeat_by_seed():
    for style in ("mnist", "quickdraw"):
        images = outlier_images(12, style, seed=3)
        assert images.shape == (12, 28, 28, 1) and images.dtype == np.uint8
        # Every mark leaves ink, and none fills the frame.
        ink = (images > 127).mean(axis=(1, 2, 3))
        assert (ink > 0.01).all() and (ink < 0.6).all()
        assert np.array_equal(images, outlier_images(12, style, seed=3))
        assert not np.array_equal(images, outlier_images(12, style, seed=4))


def test_a_pool_is_drawn_once_then_read_back_and_a_broken_cache_is_drawn_again(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("CONVLAB_CACHE_DIR", str(tmp_path / "cache"))
    outlier_pool.cache_clear()
    drawn = outlier_pool(6, "mnist", seed=5)
    assert not drawn.flags.writeable
    (cached,) = (tmp_path / "cache").glob("outliers-mnist-6-5-*.npy")
    outlier_pool.cache_clear()
    assert np.array_equal(outlier_pool(6, "mnist", seed=5), drawn)
    cached.write_bytes(b"half a file")
    outlier_pool.cache_clear()
    assert np.array_equal(outlier_pool(6, "mnist", seed=5), drawn)
    assert np.array_equal(np.load(cached), drawn)
    # A cache that cannot be written only costs the drawing.
    monkeypatch.setenv("CONVLAB_CACHE_DIR", str(cached / "not-a-folder"))
    outlier_pool.cache_clear()
    assert np.array_equal(outlier_pool(6, "mnist", seed=5), drawn)
    assert [path.name for path in (tmp_path / "cache").iterdir()] == [cached.name]
    outlier_pool.cache_clear()


def test_a_lone_straight_line_is_never_an_outlier():
    rng = np.random.default_rng(0)
    for _ in range(300):
        strokes = stray_marks(rng)
        if len(strokes) == 1:
            points = strokes[0]
            direction = points[-1] - points[0]
            offsets = points - points[0]
            distance = np.abs(offsets[:, 0] * direction[1] - offsets[:, 1] * direction[0])
            assert distance.max() / np.hypot(*direction) > 0.03


def test_turning_and_mirroring_keeps_each_mark_and_its_ink():
    images = outlier_images(20, "mnist", seed=0)
    turned = turned_and_mirrored(images, np.random.default_rng(1))
    assert turned.shape == images.shape
    assert np.array_equal(np.sort(turned.reshape(20, -1)), np.sort(images.reshape(20, -1)))
    assert not np.array_equal(turned, images)


def test_the_loss_is_cross_entropy_for_labels_and_weighted_uniform_for_outliers():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]], "float32")
    labels = np.array([0, -1, -1])
    per_row = [-np.log(0.7), -0.5 * np.log(probabilities[1]).mean(), 0.5 * np.log(3)]
    loss = OutlierExposureLoss(0.5)
    assert float(loss(labels, probabilities)) == pytest.approx(np.mean(per_row), rel=1e-5)
    # A model sure of an outlier pays more than one that spreads its bets.
    sure = np.array([[0.98, 0.01, 0.01]], "float32")
    assert float(loss(np.array([-1]), sure)) > float(loss(np.array([-1]), probabilities[2:]))
    assert OutlierExposureLoss.from_config(loss.get_config()).outlier_weight == 0.5


def test_accuracy_counts_only_labelled_images():
    metric = LabelledAccuracy()
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.9, 0.1]], "float32")
    metric.update_state(np.array([0, 0, -1, -1]), probabilities)
    assert float(metric.result()) == pytest.approx(0.5)
    assert metric.name == "accuracy"


def test_each_batch_carries_its_outliers_after_the_dataset_images():
    images = np.zeros((40, 28, 28, 1), np.uint8)
    labels = np.arange(40) % 4
    pool = outlier_images(10, "mnist", seed=0)
    dataset = build_train_dataset(
        images, labels, np.arange(40), 8, seed=0, outliers=pool, outliers_per_batch=2
    )
    batch_images, batch_labels = next(iter(dataset))
    assert batch_images.shape == (10, 28, 28, 1)
    assert list(batch_labels.numpy()[8:]) == [-1, -1]
    assert (batch_labels.numpy()[:8] >= 0).all()
    assert float(batch_images[8:].numpy().max()) > 0 and float(batch_images[:8].numpy().max()) == 0


def test_only_runs_a_canvas_draws_for_get_outliers():
    config = TrainConfig(batch_size=64, outlier_share=0.25)
    assert outliers_per_batch(config, (28, 28, 1)) == 16
    assert outliers_per_batch(config, (28, 28, 1), replicas=3) == 15
    assert outliers_per_batch(config, (32, 32, 3)) == 0
    assert outliers_per_batch(TrainConfig(outlier_share=0.0), (28, 28, 1)) == 0
    with pytest.raises(ValueError, match="outlier_share"):
        TrainConfig(outlier_share=1.5)


def test_the_epoch_estimate_counts_the_outliers_work():
    from core.models import build_model

    model = build_model(PRESETS["fast"], (28, 28, 1), 10)
    plain = estimate_epoch_seconds(model, (28, 28, 1), 64, 6400, steps=3)
    doubled = estimate_epoch_seconds(model, (28, 28, 1), 64, 6400, steps=3, outliers_per_batch=64)
    assert doubled > 1.2 * plain


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


def test_a_run_with_outlier_exposure_is_unsure_of_stray_marks_and_still_reads_its_classes(
    digits: Dataset,
):
    assert digits.image_shape == (28, 28, 1)
    marks = outlier_images(200, "mnist", seed=99)  # Not the pool's seed: marks it never saw.
    sureness = {}
    for share in (0.0, 0.5):
        config = TrainConfig(epochs=3, batch_size=64, outlier_share=share, seed=0)
        result = train(PRESETS["fast"], digits, config, keep_checkpoints=False)
        assert result.status == "completed"
        assert result.test_accuracy > 0.9, share
        probabilities = result.model.predict(marks, verbose=0)
        sureness[share] = float(probabilities.max(axis=1).mean())
    # Measured after 4 epochs: 0.95 without, 0.14 with.
    assert sureness[0.5] < sureness[0.0] - 0.4, sureness
