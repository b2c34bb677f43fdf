"""TrainConfig checks, the schedule, the tf.data pipeline, the monitor and real (tiny) training."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from core.datasets import Dataset, load_dataset
from core.models import PRESETS, ConvBlock, ModelSpec, build_model
from core.training import (
    Progress,
    TrainConfig,
    TrainingMonitor,
    build_augmentation,
    build_train_dataset,
    check_config_for_dataset,
    estimate_epoch_seconds,
    learning_rate_at,
    split_indices,
    train,
)

ROOT = Path(__file__).resolve().parents[1]
TINY_SPEC = ModelSpec(
    conv_blocks=(ConvBlock(filters=4), ConvBlock(filters=8, pooling="none")),
    head="global_average",
)


def synthetic_dataset(
    num_train: int = 64, num_test: int = 32, *, name: str = "synthetic", seed: int = 0
) -> Dataset:
    generator = np.random.default_rng(seed)
    return Dataset(
        name=name,
        class_names=tuple("abcd"),
        x_train=generator.integers(0, 256, (num_train, 28, 28, 1), dtype=np.uint8),
        y_train=np.arange(num_train, dtype=np.int64) % 4,
        x_test=generator.integers(0, 256, (num_test, 28, 28, 1), dtype=np.uint8),
        y_test=np.arange(num_test, dtype=np.int64) % 4,
    )


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


# --- Configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"optimizer": "adagrad"}, "Unknown optimizer 'adagrad'; choose one of adam"),
        ({"schedule": "step"}, "Unknown learning-rate schedule 'step'"),
        ({"learning_rate": 0}, "The learning rate must be above 0"),
        ({"learning_rate": float("nan")}, "The learning rate must be above 0"),
        ({"batch_size": 0}, "The batch size must be a whole number from 1"),
        ({"batch_size": 32.5}, "The batch size must be a whole number from 1"),
        ({"epochs": 0}, "Epochs must be a whole number from 1"),
        ({"time_budget_seconds": -5}, "The time budget must be a positive number of seconds"),
        ({"shift_fraction": 0.9}, "The random shift is a fraction of the image size"),
        ({"rotation_degrees": 400}, "The random rotation is a number of degrees from 0 to 180"),
        ({"zoom_fraction": -0.1}, "The random zoom is a fraction from 0 to 0.5"),
        ({"max_train_images": 0}, "The training subset must be a positive number of images"),
        ({"validation_fraction": 0.8}, "The validation fraction must be from 0"),
        ({"seed": -1}, "The seed must be a whole number"),
        ({"min_epoch_images": -1}, "min_epoch_images must be a whole number of images"),
    ],
)
def test_bad_settings_say_what_to_change(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(**arguments)


def test_flips_are_refused_for_digits_and_allowed_for_clothes() -> None:
    config = TrainConfig(horizontal_flip=True)
    with pytest.raises(ValueError, match="Horizontal flips do not suit mnist"):
        check_config_for_dataset(config, "mnist", 1000)
    check_config_for_dataset(config, "fashion_mnist", 1000)


def test_a_batch_larger_than_the_data_is_explained() -> None:
    with pytest.raises(ValueError, match="batch size 256 is larger than the 57 training images"):
        check_config_for_dataset(TrainConfig(), "mnist", 57)
    with pytest.raises(ValueError, match="split evenly over the 2 devices"):
        check_config_for_dataset(TrainConfig(batch_size=33), "mnist", 1000, num_replicas=2)


# --- Learning-rate schedules --------------------------------------------------------------


def test_one_cycle_warms_up_to_the_peak_then_decays_to_zero() -> None:
    rates = [learning_rate_at("one_cycle", 0.01, step / 100) for step in range(101)]
    assert rates[0] == pytest.approx(0.01 / 25)
    assert max(rates) == pytest.approx(0.01) and rates.index(max(rates)) == 25
    assert rates[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(later <= earlier for earlier, later in zip(rates[25:], rates[26:], strict=False))


def test_cosine_and_constant_schedules() -> None:
    assert learning_rate_at("cosine", 0.1, 0.0) == pytest.approx(0.1)
    assert learning_rate_at("cosine", 0.1, 0.5) == pytest.approx(0.05)
    assert learning_rate_at("constant", 0.1, 0.9) == 0.1


# --- Data ---------------------------------------------------------------------------------


def test_split_is_stratified_disjoint_and_honours_the_subset() -> None:
    labels = np.repeat(np.arange(10), [100, 200, 100, 100, 100, 100, 100, 100, 100, 100])
    train_indices, validation_indices = split_indices(
        labels, validation_fraction=0.1, max_train_images=500, seed=0
    )
    assert len(validation_indices) == 110 and len(train_indices) == 500
    assert not set(train_indices) & set(validation_indices)
    # Class 1 is twice as common: it keeps twice the share in both parts.
    assert np.bincount(labels[validation_indices]).tolist() == [10, 20] + [10] * 8
    counts = np.bincount(labels[train_indices], minlength=10)
    assert abs(counts[1] - 2 * counts[0]) <= 2 and counts.min() >= 44


def test_pipeline_yields_float_batches_that_cover_an_epoch_once() -> None:
    images = np.arange(100, dtype=np.uint8).reshape(100, 1, 1, 1).repeat(4, axis=1)
    images = images.reshape(100, 2, 2, 1)
    labels = np.arange(100, dtype=np.int64)
    indices = np.arange(0, 100, 2)  # 50 images: 6 full batches of 8, 2 dropped.
    dataset = build_train_dataset(images, labels, indices, 8, seed=0)
    assert dataset.options().autotune.enabled is False
    seen = []
    for batch_images, batch_labels in dataset.take(6):
        assert batch_images.dtype.name == "float32" and batch_images.shape == (8, 2, 2, 1)
        np.testing.assert_array_equal(batch_images.numpy()[:, 0, 0, 0], batch_labels.numpy())
        seen.extend(batch_labels.numpy().tolist())
    assert len(set(seen)) == 48 and set(seen) <= set(indices.tolist())
    # The dataset repeats: more batches follow the first epoch.
    assert len(list(dataset.take(20))) == 20


def test_augmentation_moves_pixels_and_keeps_shapes() -> None:
    assert build_augmentation(TrainConfig(), (28, 28, 1), seed=0) is None
    augment = build_augmentation(TrainConfig(shift_fraction=0.2), (28, 28, 1), seed=0)
    images = np.zeros((16, 28, 28, 1), dtype=np.float32)
    images[:, 10:18, 10:18] = 255
    moved = np.asarray(augment(images))
    assert moved.shape == images.shape
    assert not np.array_equal(moved, images)


# --- The monitor, with a fake clock -----------------------------------------------------


class FakeOptimizer:
    learning_rate = 0.0


class FakeModel:
    def __init__(self) -> None:
        self.optimizer = FakeOptimizer()
        self.stop_training = False


def run_monitor(monitor: TrainingMonitor, clock: list[float], losses: list[float]) -> None:
    monitor.on_train_begin()
    monitor.on_epoch_begin(0)
    for batch, loss in enumerate(losses):
        clock[0] += 1.0
        monitor.on_train_batch_end(batch, {"loss": loss, "accuracy": 0.5})
        if monitor.model.stop_training:
            break


def test_the_schedule_shrinks_to_end_inside_the_time_budget() -> None:
    clock = [0.0]
    model = FakeModel()
    rates = []
    monitor = TrainingMonitor(
        model=model,
        steps_per_epoch=1000,
        epochs=1,
        batch_size=32,
        num_classes=10,
        schedule="one_cycle",
        peak_learning_rate=0.01,
        time_budget_seconds=50,
        validate=None,
        on_progress=lambda progress: rates.append(progress.learning_rate),
        stop_event=None,
        clock=lambda: clock[0],
    )
    run_monitor(monitor, clock, [1.0] * 1000)
    # One second a step and 50 s: the plan shrinks from 1000 steps to about 48.
    assert monitor.stop_reason == "time_budget" and model.stop_training
    assert 45 <= monitor.step <= 50
    assert max(rates) == pytest.approx(0.01, rel=0.1)
    assert model.optimizer.learning_rate < 0.01 * 0.05


def test_a_run_that_finishes_its_epochs_inside_the_budget_says_so() -> None:
    clock = [0.0]
    model = FakeModel()
    monitor = TrainingMonitor(
        model=model,
        steps_per_epoch=20,
        epochs=1,
        batch_size=32,
        num_classes=10,
        schedule="one_cycle",
        peak_learning_rate=0.01,
        time_budget_seconds=1000,
        validate=None,
        on_progress=None,
        stop_event=None,
        clock=lambda: clock[0],
    )
    run_monitor(monitor, clock, [1.0] * 20)
    assert monitor.step == 20 and monitor.stop_reason == "epochs"
    assert not model.stop_training


def test_an_exploding_loss_is_called_divergence() -> None:
    clock = [0.0]
    model = FakeModel()
    monitor = TrainingMonitor(
        model=model,
        steps_per_epoch=10,
        epochs=5,
        batch_size=32,
        num_classes=10,
        schedule="constant",
        peak_learning_rate=0.5,
        time_budget_seconds=None,
        validate=None,
        on_progress=None,
        stop_event=None,
        clock=lambda: clock[0],
    )
    run_monitor(monitor, clock, [2.3, 2.0, 9.0, 12.0, 14.0, 15.0] + [15.0] * 44)
    assert monitor.stop_reason == "diverged" and model.stop_training
    assert "try 0.05" in monitor.message
    assert monitor.step == 4  # Two reports in a row above 3 ln(10) = 6.9.


# --- Real training on tiny data ------------------------------------------------------------


def test_one_epoch_on_64_images_reports_progress_and_evaluates() -> None:
    snapshots: list[Progress] = []
    result = train(
        TINY_SPEC,
        synthetic_dataset(),
        TrainConfig(epochs=1, batch_size=8, validation_fraction=0.25),
        on_progress=snapshots.append,
        reports_per_epoch=3,
    )
    assert result.status == "completed" and result.stop_reason == "epochs"
    assert result.steps == 6 and result.epochs_trained == 1.0
    assert result.num_train_images == 48 and result.num_validation_images == 16
    assert [snapshot.kind for snapshot in snapshots] == ["batch", "batch", "batch", "epoch"]
    assert len(result.batch_points) == 3
    assert result.history[0]["val_accuracy"] is not None
    assert 0.0 <= result.test_accuracy <= 1.0 and math.isfinite(result.test_loss)
    assert result.train_seconds > 0 and result.images_per_second > 0
    assert result.model.predict_on_batch(np.zeros((2, 28, 28, 1))).shape == (2, 4)


def test_a_small_set_goes_round_several_times_in_an_epoch_of_min_epoch_images() -> None:
    config = TrainConfig(epochs=1, batch_size=8, validation_fraction=0.25, min_epoch_images=100)
    assert config.steps_per_epoch(48) == 13 and TrainConfig(batch_size=8).steps_per_epoch(48) == 6
    assert config.steps_per_epoch(800) == 100, "a larger set keeps its own epoch"
    result = train(TINY_SPEC, synthetic_dataset(), config)
    assert result.status == "completed" and result.stop_reason == "epochs"
    assert result.steps == 13 and result.epochs_trained == 1.0
    assert result.num_train_images == 48


def test_training_on_digits_learns(digits: Dataset) -> None:
    result = train(PRESETS["fast"], digits, TrainConfig(epochs=4, batch_size=64, seed=1))
    assert result.status == "completed"
    assert result.test_accuracy > 0.9, result.history
    assert result.history[-1]["val_accuracy"] > 0.9


def learnable_dataset(num_train: int = 256) -> Dataset:
    """synthetic_dataset with each class's images lit in its own quarter: easy to learn."""
    dataset = synthetic_dataset(num_train)
    images = {"x_train": dataset.x_train.copy(), "x_test": dataset.x_test.copy()}
    for split, labels in (("x_train", dataset.y_train), ("x_test", dataset.y_test)):
        for index, label in enumerate(labels):
            row, column = divmod(int(label), 2)
            images[split][index, row * 14 : row * 14 + 14, column * 14 : column * 14 + 14] = 255
    return Dataset(
        dataset.name, dataset.class_names, images["x_train"], dataset.y_train,
        images["x_test"], dataset.y_test,
    )  # fmt: skip


def test_a_time_budget_ends_training_early_but_completed() -> None:
    budget = 2.0
    result = train(
        TINY_SPEC,
        learnable_dataset(256),
        TrainConfig(epochs=1000, batch_size=8, time_budget_seconds=budget),
    )
    assert result.status == "completed" and result.stop_reason == "time_budget"
    assert result.epochs_trained < 1000
    assert result.train_seconds < budget + 1.0
    assert result.test_accuracy is not None


def test_the_stop_event_ends_training_at_the_next_batch_and_keeps_the_model() -> None:
    stop_event = threading.Event()
    stopped_at: list[int] = []

    def stop_after_three_batches(progress: Progress) -> None:
        if progress.step == 3:
            stop_event.set()
            stopped_at.append(progress.step)

    model = build_model(TINY_SPEC, (28, 28, 1), 4)
    before = [weight.copy() for weight in model.get_weights()]
    result = train(
        model,
        synthetic_dataset(256),
        TrainConfig(epochs=50, batch_size=8),
        on_progress=stop_after_three_batches,
        stop_event=stop_event,
        reports_per_epoch=32,
    )
    assert stopped_at == [3]
    assert result.status == "stopped" and result.stop_reason == "user"
    assert result.steps == 4
    assert result.model is model
    assert not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    assert result.test_accuracy is not None


def test_a_huge_learning_rate_diverges_with_advice(digits: Dataset) -> None:
    result = train(
        PRESETS["keras_mnist"],
        digits,
        TrainConfig(optimizer="sgd", learning_rate=100.0, schedule="constant", epochs=3),
    )
    assert result.status == "diverged" and result.stop_reason == "diverged"
    assert "Training diverged" in result.message and "try 10" in result.message
    assert result.test_accuracy is None
    assert result.steps < 3 * (len(digits.x_train) * 9 // 10 // 256)


def test_a_model_for_other_images_is_refused() -> None:
    model = build_model(TINY_SPEC, (32, 32, 3), 4)
    with pytest.raises(ValueError, match=r"takes images of shape \(32, 32, 3\)"):
        train(model, synthetic_dataset(), TrainConfig(epochs=1, batch_size=8))


def test_estimating_an_epoch_times_real_steps_and_leaves_the_model_alone() -> None:
    model = build_model(TINY_SPEC, (28, 28, 1), 4)
    before = [weight.copy() for weight in model.get_weights()]
    one = estimate_epoch_seconds(model, (28, 28, 1), 16, 160)
    ten = estimate_epoch_seconds(model, (28, 28, 1), 16, 1600)
    assert 0 < one < 5 and ten > one
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


MULTI_DEVICE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    sys.path.insert(0, sys.argv[1])
    from core.datasets import Dataset
    from core.models import PRESETS
    from core.training import TrainConfig, select_strategy, train

    generator = np.random.default_rng(0)
    labels = np.arange(192, dtype=np.int64) % 2
    # Class 1 images are bright, class 0 dark: learnable in one epoch.
    images = (generator.integers(0, 100, (192, 28, 28, 1)) + 150 * labels[:, None, None, None])
    images = images.astype(np.uint8)
    dataset = Dataset("synthetic", ("dark", "bright"), images[:128], labels[:128],
                      images[128:], labels[128:])
    strategy = select_strategy(["/cpu:0", "/cpu:1"])
    config = TrainConfig(epochs=2, batch_size=32)
    result = train(PRESETS["fast"], dataset, config, strategy=strategy)
    print(json.dumps({
        "strategy": type(strategy).__name__,
        "replicas": strategy.num_replicas_in_sync,
        "status": result.status,
        "steps": result.steps,
        "loss": result.history[-1]["loss"],
        "test_accuracy": result.test_accuracy,
    }))
    """
)


def test_mirrored_strategy_trains_over_two_logical_cpus() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", MULTI_DEVICE_SCRIPT, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    assert summary["strategy"] == "MirroredStrategy" and summary["replicas"] == 2
    assert summary["status"] == "completed" and summary["steps"] == 6
    assert math.isfinite(summary["loss"])
    assert summary["test_accuracy"] > 0.9
