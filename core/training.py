"""Train a CNN on a Dataset: configuration, tf.data pipeline, device choice and a live monitor."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from core.drawing import CANVAS_IMAGE_SHAPE, drawing_style
from core.models import (
    ModelSpec,
    activation_values_per_image,
    build_model,
    count_parameters,
    make_predict_function,
)
from core.timeline import checkpoint_steps, compact_weights

if TYPE_CHECKING:  # TensorFlow costs 5 s to import; the functions that train pay it.
    import keras
    import tensorflow as tf

    from core.datasets import Dataset

OPTIMIZER_CHOICES = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULE_CHOICES = ("one_cycle", "cosine", "constant")
STATUS_CHOICES = ("completed", "stopped", "diverged", "learned_nothing")
# Mirror images keep their meaning for clothes, photos and doodles, not for digits (a flipped 2).
FLIP_UNSAFE_DATASETS = ("mnist", "digits")
MAX_LEARNING_RATE = 100.0
MAX_BATCH_SIZE = 8192
MAX_EPOCHS = 1000
# One-cycle: the rate climbs from peak / 25 to the peak over the first quarter, then decays.
ONE_CYCLE_WARMUP_FRACTION = 0.25
ONE_CYCLE_START_DIVISOR = 25.0
# The schedule aims to end a little before the budget so its low-rate finish is not cut off.
TIME_BUDGET_SAFETY = 0.97
# A finished run no more accurate than chance plus this share of the way to 100% learned
# nothing (on ten classes: under 14.5%); judged only after this many steps.
NEAR_CHANCE_SHARE = 0.05
STEPS_BEFORE_VERDICT = 50
# A run whose last training loss ends this many times above its first report diverged, even
# if it never crossed DIVERGENCE_LOSS_FACTOR on the way.
CLIMBED_LOSS_FACTOR = 1.5
# Learning rates that usually train these networks, to say whether a failed one was too big.
TYPICAL_LEARNING_RATE = {"adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "sgd": 1e-2}
# A mean loss this many times chance level (ln k) at two reports in a row counts as diverged.
DIVERGENCE_LOSS_FACTOR = 3.0
REPORTS_PER_EPOCH = 10
# Below this many steps batch-norm moving statistics still lag; they are refreshed to validate.
SHORT_RUN_STEPS = 300
MAX_SECONDS_BETWEEN_REPORTS = 5.0
# 256 CIFAR-10 images through small_vgg need ~35 MB per feature map; 1024 added 80 MB of peak.
EVALUATION_BATCH_SIZE = 256
# Feature maps of one training batch should stay under this: small_vgg on CIFAR-10 at batch
# 256 (350 MB by this count) peaked at 1.49 GB of RSS, at batch 128 at 1.30 GB.
BATCH_ACTIVATION_BYTES = 200_000_000
SMALLEST_SUGGESTED_BATCH = 16
# Stray marks for outlier exposure: drawn once per machine (core.outliers.outlier_pool), then
# sampled into every batch, turned and mirrored.
OUTLIER_POOL_SIZE = 1000


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimiser, learning-rate schedule, batches, stopping and augmentation.

    The defaults are tuned with the 'fast' preset for 28x28 data on a CPU.
    `learning_rate` is the peak rate of the one-cycle and cosine schedules.
    """

    optimizer: str = "adam"
    learning_rate: float = 0.01
    schedule: str = "one_cycle"
    batch_size: int = 256
    epochs: int = 5
    time_budget_seconds: float | None = None
    shift_fraction: float = 0.0
    rotation_degrees: float = 0.0
    zoom_fraction: float = 0.0
    horizontal_flip: bool = False
    max_train_images: int | None = None
    validation_fraction: float = 0.1
    seed: int = 0
    # An epoch passes at least this many training images: a collection of a few dozen drawings
    # goes round several times in one (augmented afresh each time), so its curves count a few
    # dozen epochs rather than a thousand one-step ones. 0 means one pass over the data.
    min_epoch_images: int = 0
    # Outlier exposure (core.outliers): this share of a batch more images, stray marks that
    # are no class, trained towards "unsure" at `outlier_weight`, so a run can tell a letter or
    # a doodle from its classes. Only for 28x28 grayscale runs, the ones a canvas draws for;
    # 0 trains on the dataset alone.
    outlier_share: float = 0.125
    outlier_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZER_CHOICES:
            raise ValueError(
                f"Unknown optimizer {self.optimizer!r}; choose one of "
                f"{', '.join(OPTIMIZER_CHOICES)}."
            )
        if self.schedule not in SCHEDULE_CHOICES:
            raise ValueError(
                f"Unknown learning-rate schedule {self.schedule!r}; choose one of "
                f"{', '.join(SCHEDULE_CHOICES)}."
            )
        if not _is_number(self.learning_rate) or not 0 < self.learning_rate <= MAX_LEARNING_RATE:
            raise ValueError(
                f"The learning rate must be above 0 and at most {MAX_LEARNING_RATE:g} "
                f"(0.001 to 0.01 suits Adam); got {self.learning_rate!r}."
            )
        if not _is_whole(self.batch_size) or not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ValueError(
                f"The batch size must be a whole number from 1 to {MAX_BATCH_SIZE}; "
                f"got {self.batch_size!r}."
            )
        if not _is_whole(self.epochs) or not 1 <= self.epochs <= MAX_EPOCHS:
            raise ValueError(
                f"Epochs must be a whole number from 1 to {MAX_EPOCHS}; got {self.epochs!r}."
            )
        if self.time_budget_seconds is not None and (
            not _is_number(self.time_budget_seconds) or self.time_budget_seconds <= 0
        ):
            raise ValueError(
                "The time budget must be a positive number of seconds, or None for no limit; "
                f"got {self.time_budget_seconds!r}."
            )
        if not _is_number(self.shift_fraction) or not 0 <= self.shift_fraction <= 0.5:
            raise ValueError(
                "The random shift is a fraction of the image size from 0 to 0.5 (0.1 moves up "
                f"to a tenth of the width); got {self.shift_fraction!r}."
            )
        if not _is_number(self.rotation_degrees) or not 0 <= self.rotation_degrees <= 180:
            raise ValueError(
                "The random rotation is a number of degrees from 0 to 180 (10 to 15 suits "
                f"handwriting); got {self.rotation_degrees!r}."
            )
        if not _is_number(self.zoom_fraction) or not 0 <= self.zoom_fraction <= 0.5:
            raise ValueError(
                "The random zoom is a fraction from 0 to 0.5 (0.1 zooms in or out by up to "
                f"10%); got {self.zoom_fraction!r}."
            )
        if not isinstance(self.horizontal_flip, bool):
            raise ValueError(
                f"horizontal_flip must be True or False; got {self.horizontal_flip!r}."
            )
        if self.max_train_images is not None and (
            not _is_whole(self.max_train_images) or self.max_train_images < 1
        ):
            raise ValueError(
                "The training subset must be a positive number of images, or None for all; "
                f"got {self.max_train_images!r}."
            )
        if not _is_number(self.validation_fraction) or not 0 <= self.validation_fraction <= 0.5:
            raise ValueError(
                "The validation fraction must be from 0 (no validation) to 0.5; "
                f"got {self.validation_fraction!r}."
            )
        if not _is_whole(self.seed) or self.seed < 0:
            raise ValueError(f"The seed must be a whole number from 0 up; got {self.seed!r}.")
        if not _is_whole(self.min_epoch_images) or not 0 <= self.min_epoch_images <= 10**7:
            raise ValueError(
                "min_epoch_images must be a whole number of images from 0 to 10,000,000; "
                f"got {self.min_epoch_images!r}."
            )

        if not _is_number(self.outlier_share) or not 0 <= self.outlier_share <= 1:
            raise ValueError(
                "outlier_share is the share of a batch added as outliers, from 0 (none) to 1; "
                f"got {self.outlier_share!r}."
            )
        if not _is_number(self.outlier_weight) or not 0 < self.outlier_weight <= 10:
            raise ValueError(
                f"outlier_weight must be above 0 and at most 10; got {self.outlier_weight!r}."
            )

    def steps_per_epoch(self, train_images: int) -> int:
        """Training steps in one epoch over `train_images` images (at least one)."""
        passes = max(train_images // self.batch_size, 1)
        return max(passes, math.ceil(self.min_epoch_images / self.batch_size))

    @property
    def augments(self) -> bool:
        """Whether any random augmentation is switched on."""
        return bool(
            self.shift_fraction
            or self.rotation_degrees
            or self.zoom_fraction
            or self.horizontal_flip
        )


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _is_whole(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


@dataclass(frozen=True)
class Progress:
    """A snapshot for live curves: `kind` is 'batch' (several per epoch) or 'epoch'.

    Loss and accuracy of a 'batch' snapshot are means over the batches since the last one;
    those of an 'epoch' snapshot are means over that epoch. `epoch` counts epochs done, 1.5
    meaning halfway through the second.
    """

    kind: str
    step: int
    total_steps: int
    epoch: float
    epochs: int
    loss: float
    accuracy: float
    learning_rate: float
    images_per_second: float
    elapsed_seconds: float
    seconds_left: float | None
    val_loss: float | None = None
    val_accuracy: float | None = None


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, eq=False)
class TrainResult:
    """What train returns. `status` is 'completed', 'stopped' (stop event), 'diverged' (the loss
    blew up or climbed far above its start) or 'learned_nothing' (no better than chance).

    `stop_reason` says why training ended: 'epochs', 'time_budget', 'user' or 'diverged'.
    `history` has one dict per epoch, `batch_points` the 'batch' snapshots as dicts.
    """

    model: keras.Model
    status: str
    stop_reason: str
    message: str
    history: tuple[dict[str, Any], ...]
    batch_points: tuple[dict[str, Any], ...]
    steps: int
    epochs_trained: float
    train_seconds: float
    images_per_second: float
    test_loss: float | None
    test_accuracy: float | None
    evaluation_seconds: float
    device: str
    parameters: int
    num_train_images: int
    num_validation_images: int
    batch_size: int
    dtype_policy: str = "float32"
    extra: dict[str, Any] = field(default_factory=dict)
    # The network kept along the way (core.timeline): the untrained start first, the run's end
    # left out (it is `model`). Epochs as floats; weights at half precision where they fit.
    checkpoint_epochs: tuple[float, ...] = ()
    checkpoint_weights: tuple[list[np.ndarray], ...] = ()


def suggest_batch_size(
    spec: ModelSpec,
    input_shape: Sequence[int],
    *,
    largest: int = 256,
    activation_bytes: int = BATCH_ACTIVATION_BYTES,
) -> int:
    """The largest power-of-two batch, at most `largest`, whose feature maps fit the budget.

    Big models on big images get smaller batches, so a shared server keeps its memory.
    """
    bytes_per_image = 4 * max(activation_values_per_image(spec, input_shape), 1)
    batch_size = largest
    while batch_size > SMALLEST_SUGGESTED_BATCH and batch_size * bytes_per_image > activation_bytes:
        batch_size //= 2
    return batch_size


# --- Learning rate ---------------------------------------------------------------------------


def learning_rate_at(schedule: str, peak_learning_rate: float, progress: float) -> float:
    """The learning rate at `progress` (0 = first step, 1 = end of training) of a schedule."""
    progress = min(max(progress, 0.0), 1.0)
    if schedule == "constant":
        return peak_learning_rate
    if schedule == "cosine":
        return peak_learning_rate * 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "one_cycle":
        start = 1 / ONE_CYCLE_START_DIVISOR
        if progress < ONE_CYCLE_WARMUP_FRACTION:
            return peak_learning_rate * (start + (1 - start) * progress / ONE_CYCLE_WARMUP_FRACTION)
        decay = (progress - ONE_CYCLE_WARMUP_FRACTION) / (1 - ONE_CYCLE_WARMUP_FRACTION)
        return peak_learning_rate * 0.5 * (1 + math.cos(math.pi * decay))
    raise ValueError(f"Unknown learning-rate schedule {schedule!r}.")


def build_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """A Keras optimizer by name; SGD gets Nesterov momentum 0.9, AdamW weight decay 1e-4."""
    import keras

    learning_rate = float(learning_rate)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=1e-4)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    raise ValueError(f"Unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZER_CHOICES)}.")


# --- Devices ----------------------------------------------------------------------------------


def select_strategy(devices: Sequence[str] | None = None) -> tf.distribute.Strategy:
    """MirroredStrategy over `devices`, else over all GPUs when there are several, else default.

    Call it before building the model: variables belong to the strategy they are made under.
    """
    import tensorflow as tf

    if devices is not None and len(devices) > 1:
        return tf.distribute.MirroredStrategy(list(devices))
    gpus = tf.config.list_logical_devices("GPU")
    if devices is None and len(gpus) > 1:
        return tf.distribute.MirroredStrategy([gpu.name for gpu in gpus])
    return tf.distribute.get_strategy()


def choose_dtype_policy() -> str:
    """'mixed_float16' on GPUs with tensor cores (compute capability 7.0 and up), else float32.

    On CPUs mixed precision does not speed these small convolutions up (measured: no gain with
    bfloat16 on this machine), so CPUs keep float32.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "float32"
    for gpu in gpus:
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability is None or tuple(capability) < (7, 0):
            return "float32"
    return "mixed_float16"


def describe_device() -> str:
    """What training runs on, e.g. 'CPU (2 cores)' or 'GPU: NVIDIA H100 80GB HBM3'."""
    from core.device import describe_tensorflow_devices

    return describe_tensorflow_devices()


# --- Data -------------------------------------------------------------------------------------


def _stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """All indices in a random order whose every prefix holds the classes in their proportions."""
    generator = np.random.default_rng(seed)
    positions = np.empty(len(labels), dtype=np.float64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        # Member i of a class of size c sits at (i + jitter) / c: classes interleave evenly.
        ranks = generator.permutation(len(members)) + generator.random(len(members))
        positions[members] = ranks / len(members)
    return np.argsort(positions, kind="stable")


def split_indices(
    labels: np.ndarray,
    *,
    validation_fraction: float,
    max_train_images: int | None,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) index arrays, both stratified by class and sorted."""
    order = _stratified_order(np.asarray(labels), seed)
    num_validation = int(round(len(order) * validation_fraction))
    validation = order[:num_validation]
    train = order[num_validation:]
    if max_train_images is not None:
        train = train[:max_train_images]
    return np.sort(train), np.sort(validation)


def build_augmentation(
    config: TrainConfig, input_shape: Sequence[int], *, seed: int
) -> Callable[[tf.Tensor], tf.Tensor] | None:
    """A random per-batch augmentation for float images 0-255, or None when nothing is on."""
    if not config.augments:
        return None
    import keras
    from keras import layers

    # Grayscale digits and doodles sit on black, so new pixels are black; photos are mirrored.
    fill_mode = "constant" if input_shape[-1] == 1 else "reflect"
    steps: list[keras.layers.Layer] = []
    if config.horizontal_flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed))
    if config.rotation_degrees:
        steps.append(
            layers.RandomRotation(config.rotation_degrees / 360, fill_mode=fill_mode, seed=seed + 1)
        )
    if config.zoom_fraction:
        steps.append(
            layers.RandomZoom(
                (-config.zoom_fraction, config.zoom_fraction), fill_mode=fill_mode, seed=seed + 2
            )
        )
    if config.shift_fraction:
        steps.append(
            layers.RandomTranslation(
                config.shift_fraction, config.shift_fraction, fill_mode=fill_mode, seed=seed + 3
            )
        )
    pipeline = keras.Sequential(steps, name="augmentation")

    def augment(images: tf.Tensor) -> tf.Tensor:
        return pipeline(images, training=True)

    return augment


def build_train_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    batch_size: int,
    *,
    seed: int,
    augment: Callable[[tf.Tensor], tf.Tensor] | None = None,
    outliers: np.ndarray | None = None,
    outliers_per_batch: int = 0,
) -> tf.data.Dataset:
    """An endless dataset of shuffled (float32 images 0-255, int64 labels) batches.

    With `outliers`, each batch also carries `outliers_per_batch` of them drawn at random,
    labelled -1 (core.outliers), after its `batch_size` dataset images.

    The uint8 arrays are read in place; each batch is gathered, cast and augmented on the fly,
    so neither a float32 nor a second uint8 copy of the dataset is ever made. It repeats
    before batching (use steps_per_epoch): every batch is full, so epochs neither build a new
    iterator nor retrace.
    """
    import tensorflow as tf

    image_shape = tuple(images.shape[1:])
    extra = outliers_per_batch if outliers is not None else 0
    if extra:
        from core.outliers import turned_and_mirrored
    outlier_rng = np.random.default_rng(seed + 7)

    def gather_arrays(batch_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Sorted indices read memory in order; the order inside a batch does not matter.
        batch_indices = np.sort(batch_indices)
        batch_images = images[batch_indices]
        batch_labels = labels[batch_indices].astype(np.int64, copy=False)
        if extra:
            chosen = outlier_rng.integers(0, len(outliers), extra)
            extra_images = turned_and_mirrored(outliers[chosen], outlier_rng)
            batch_images = np.concatenate([batch_images, extra_images])
            batch_labels = np.concatenate([batch_labels, np.full(extra, -1, dtype=np.int64)])
        return batch_images, batch_labels

    def gather(batch_indices: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # numpy_function reads the caller's arrays in place: tf.convert_to_tensor would have
        # copied CIFAR-10's 150 MB (measured +300 MB of RSS), for 0.2 ms a batch saved.
        batch_images, batch_labels = tf.numpy_function(
            gather_arrays, [batch_indices], [tf.uint8, tf.int64], stateful=False
        )
        batch_images.set_shape((batch_size + extra, *image_shape))
        batch_labels.set_shape((batch_size + extra,))
        batch_images = tf.cast(batch_images, tf.float32)
        if augment is not None:
            batch_images = augment(batch_images)
        return batch_images, batch_labels

    dataset = (
        tf.data.Dataset.from_tensor_slices(np.asarray(indices, dtype=np.int64))
        .shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .map(gather)
        .prefetch(2)
    )
    options = tf.data.Options()
    # Autotuning stalled each epoch ~9 s with the CPU idle (TRAPS.md); a fixed pipeline doesn't.
    options.autotune.enabled = False
    options.deterministic = True
    return dataset.with_options(options)


def make_statistics_refresher(
    model: keras.Model, *, batch_size: int = 256, batches: int = 8, seed: int = 0
) -> Callable[[np.ndarray, np.ndarray], None]:
    """A function (images, indices) that resets batch-norm statistics from training batches.

    After a few hundred steps the moving averages still remember their start (mean 0, variance
    1) and lag behind weights that moved: on a 25-step run test accuracy read 31% before this
    refresh and 91% after it. Each moving mean and variance becomes the average of its batch
    values over a few batches. The forward pass is compiled once, with momentum 0 so that a
    pass leaves the batch's own statistics in the moving variables.
    """
    import tensorflow as tf
    from keras import layers

    norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    generator = np.random.default_rng(seed)
    forward_passes: list[Callable[[np.ndarray], tf.Tensor]] = []

    def forward(batch: tf.Tensor) -> tf.Tensor:
        return model(batch, training=True)

    def refresh(images: np.ndarray, indices: np.ndarray) -> None:
        if not norms or len(indices) == 0:
            return
        if not forward_passes:
            forward_passes.append(tf.function(forward))
        momenta = [norm.momentum for norm in norms]
        for norm in norms:
            norm.momentum = 0.0  # Read when the pass is traced, at its first call below.
        sums = [
            [np.zeros(norm.moving_mean.shape), np.zeros(norm.moving_variance.shape)]
            for norm in norms
        ]
        count = min(batches, max(1, len(indices) // batch_size))
        try:
            for _ in range(count):
                chosen = generator.choice(indices, min(batch_size, len(indices)), replace=False)
                forward_passes[0](images[np.sort(chosen)].astype(np.float32))
                for total, norm in zip(sums, norms, strict=True):
                    total[0] += np.asarray(norm.moving_mean)
                    total[1] += np.asarray(norm.moving_variance)
        finally:
            for norm, momentum in zip(norms, momenta, strict=True):
                norm.momentum = momentum
        for (mean_sum, variance_sum), norm in zip(sums, norms, strict=True):
            norm.moving_mean.assign(mean_sum / count)
            norm.moving_variance.assign(variance_sum / count)

    return refresh


def evaluate_predictions(
    predict: Callable[[np.ndarray], np.ndarray],
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int = EVALUATION_BATCH_SIZE,
) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy) of a predict function on labelled uint8 images."""
    total_loss = 0.0
    correct = 0
    for start in range(0, len(images), batch_size):
        probabilities = predict(images[start : start + batch_size])
        batch_labels = labels[start : start + batch_size]
        chosen = probabilities[np.arange(len(batch_labels)), batch_labels]
        # Keras clips probabilities the same way, so these losses match its training loss.
        total_loss += float(-np.log(np.clip(chosen, 1e-7, 1.0)).sum())
        correct += int((probabilities.argmax(axis=1) == batch_labels).sum())
    count = max(len(images), 1)
    return total_loss / count, correct / count


# --- The monitor that drives progress, stopping and the schedule ------------------------------


class TrainingMonitor:
    """Keras callback hooks (wired through a LambdaCallback) for one training run.

    Per batch it only counts, compares a few numbers and sets the learning rate; every
    tenth of an epoch it reports. It stops training at the next batch on the stop event, when
    the time budget is spent, or when the loss diverges.
    """

    def __init__(
        self,
        *,
        model: keras.Model,
        steps_per_epoch: int,
        epochs: int,
        batch_size: int,
        num_classes: int,
        schedule: str,
        peak_learning_rate: float,
        time_budget_seconds: float | None,
        validate: Callable[[], tuple[float, float]] | None,
        refresh_statistics: Callable[[], None] | None = None,
        on_progress: ProgressCallback | None,
        stop_event: threading.Event | None,
        reports_per_epoch: int = REPORTS_PER_EPOCH,
        clock: Callable[[], float] = time.perf_counter,
        keep_checkpoint: Callable[[int], None] | None = None,
    ) -> None:
        self.model = model
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        self.batch_size = batch_size
        self.schedule = schedule
        self.peak_learning_rate = peak_learning_rate
        self.time_budget_seconds = time_budget_seconds
        self.validate = validate
        self.refresh_statistics = refresh_statistics
        self.on_progress = on_progress
        self.stop_event = stop_event
        self.clock = clock
        self.keep_checkpoint = keep_checkpoint
        self.report_every = max(1, steps_per_epoch // reports_per_epoch)
        self.divergence_loss = DIVERGENCE_LOSS_FACTOR * math.log(num_classes)
        self.full_steps = steps_per_epoch * epochs
        self.planned_steps = float(self.full_steps)
        self.step = 0
        self.epoch_start_step = 0
        self.start_time = 0.0
        self.end_time = 0.0
        self.first_step_time: float | None = None
        self.stop_reason = "epochs"
        self.message = ""
        self.history: list[dict[str, Any]] = []
        self.batch_points: list[dict[str, Any]] = []
        self.learning_rate = learning_rate_at(schedule, peak_learning_rate, 0.0)
        self._report_step = 0
        self._report_time = 0.0
        self._report_loss_sum = 0.0
        self._report_accuracy_sum = 0.0
        self._high_loss_reports = 0
        self._checkpoint_fractions: tuple[float, ...] | None = None
        self._checkpoints_taken = 0

    # Keras hooks.

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.keep_checkpoint is not None:
            self.keep_checkpoint(0)
        self.start_time = self._report_time = self.clock()
        self._set_learning_rate(0.0)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_start_step = self.step
        # Windows restart with the epoch: images per second leave out the validation pass.
        self._report_step, self._report_time = self.step, self.clock()
        self._report_loss_sum = self._report_accuracy_sum = 0.0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        now = self.clock()
        self.step += 1
        if self.first_step_time is None:
            # The first step traces the graph; rates are measured from its end.
            self.first_step_time = now
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            self._diverge(f"the loss became {loss} at step {self.step}")
            return
        if self.stop_event is not None and self.stop_event.is_set():
            self._stop("user")
            return
        elapsed = now - self.start_time
        if self.time_budget_seconds is not None:
            self._plan_for_budget(now)
            # At the very last step Keras ends anyway: that run finished its epochs.
            out_of_time = elapsed >= self.time_budget_seconds or self.step >= self.planned_steps
            if out_of_time and self.step < self.full_steps:
                self._stop("time_budget")
                return
        if (
            self.step - self._report_step >= self.report_every
            or now - self._report_time >= MAX_SECONDS_BETWEEN_REPORTS
        ):
            self._report(now, logs or {})
            if self.model.stop_training:
                return
        if self.keep_checkpoint is not None and self._checkpoint_due(now):
            self.keep_checkpoint(self.step)
        self._set_learning_rate(self.step / self.planned_steps)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        steps_done = self.step - self.epoch_start_step
        complete = steps_done >= self.steps_per_epoch
        val_loss = val_accuracy = None
        # A stopped epoch skips validation, so a time budget is never overrun by it.
        if complete and self.validate is not None and self.stop_reason != "diverged":
            if self.refresh_statistics is not None and self.step < SHORT_RUN_STEPS:
                self.refresh_statistics()
            val_loss, val_accuracy = self.validate()
        now = self.clock()
        entry = {
            "epoch": epoch + 1,
            "steps": steps_done,
            "complete": complete,
            "loss": _finite_or_none(logs.get("loss")),
            "accuracy": _finite_or_none(logs.get("accuracy")),
            "val_loss": _finite_or_none(val_loss),
            "val_accuracy": _finite_or_none(val_accuracy),
            "learning_rate": self.learning_rate,
            "elapsed_seconds": now - self.start_time,
        }
        self.history.append(entry)
        if self.on_progress is not None and steps_done > 0:
            self.on_progress(
                Progress(
                    kind="epoch",
                    step=self.step,
                    total_steps=int(math.ceil(self.planned_steps)),
                    epoch=self.step / self.steps_per_epoch,
                    epochs=self.epochs,
                    loss=float(logs.get("loss", math.nan)),
                    accuracy=float(logs.get("accuracy", math.nan)),
                    learning_rate=self.learning_rate,
                    images_per_second=self._images_per_second(now),
                    elapsed_seconds=now - self.start_time,
                    seconds_left=self._seconds_left(now),
                    val_loss=val_loss,
                    val_accuracy=val_accuracy,
                )
            )

    def on_train_end(self, logs: dict | None = None) -> None:
        self.end_time = self.clock()

    # Helpers.

    def _checkpoint_due(self, now: float) -> bool:
        """Whether the run has reached its next point of core.timeline.checkpoint_steps's plan.

        The plan is made once, when the run's length is known (for a time budget, after the
        first steps are timed), as fractions of the run. A run that its budget ends measures
        its progress in time, which moves steadily while the planned steps jump about (the
        validation pass at each epoch's end slows the estimate), so the points come evenly.
        """
        if self._checkpoint_fractions is None:
            if self.time_budget_seconds is not None and self.step < 3:
                return False
            planned = self.planned_steps
            steps = checkpoint_steps(planned, self.steps_per_epoch)
            self._checkpoint_fractions = tuple(step / planned for step in steps)
        if self.time_budget_seconds is not None and self.planned_steps < self.full_steps:
            # Counted from the end of the first step: tracing the graph is not training.
            origin = self.first_step_time if self.first_step_time is not None else now
            usable_seconds = self.time_budget_seconds * TIME_BUDGET_SAFETY
            progress = (now - origin) / max(usable_seconds - (origin - self.start_time), 1e-9)
        else:
            progress = self.step / self.planned_steps
        fractions = self._checkpoint_fractions
        due = False
        while (
            self._checkpoints_taken < len(fractions)
            and progress >= fractions[self._checkpoints_taken]
        ):
            # Points passed in one step (a budget that shrank suddenly) make one checkpoint.
            self._checkpoints_taken += 1
            due = True
        return due and self.step < self.planned_steps

    def _set_learning_rate(self, progress: float) -> None:
        self.learning_rate = learning_rate_at(self.schedule, self.peak_learning_rate, progress)
        self.model.optimizer.learning_rate = self.learning_rate

    def _plan_for_budget(self, now: float) -> None:
        """Shrink the planned steps so the schedule ends when the time budget runs out."""
        if self.first_step_time is None or self.step < 3:
            return
        seconds_per_step = (now - self.first_step_time) / (self.step - 1)
        seconds_left = self.time_budget_seconds * TIME_BUDGET_SAFETY - (now - self.start_time)
        affordable = self.step + max(seconds_left, 0.0) / max(seconds_per_step, 1e-9)
        self.planned_steps = max(float(self.step), min(float(self.full_steps), affordable))

    def _images_per_second(self, now: float) -> float:
        if self.first_step_time is None or self.step < 2 or now <= self.first_step_time:
            return 0.0
        return (self.step - 1) * self.batch_size / (now - self.first_step_time)

    def _seconds_left(self, now: float) -> float | None:
        rate = self._images_per_second(now) / self.batch_size
        if rate <= 0:
            return None
        left = max(self.planned_steps - self.step, 0.0) / rate
        if self.time_budget_seconds is not None:
            left = min(left, max(self.time_budget_seconds - (now - self.start_time), 0.0))
        return left

    def _report(self, now: float, logs: dict) -> None:
        steps_in_epoch = self.step - self.epoch_start_step
        # Keras logs running means over the epoch; differences of sums give the recent window.
        loss_sum = float(logs.get("loss", math.nan)) * steps_in_epoch
        accuracy_sum = float(logs.get("accuracy", math.nan)) * steps_in_epoch
        window = steps_in_epoch - (self._report_step - self.epoch_start_step)
        loss = (loss_sum - self._report_loss_sum) / window
        accuracy = (accuracy_sum - self._report_accuracy_sum) / window
        images_per_second = window * self.batch_size / max(now - self._report_time, 1e-9)
        self._report_step, self._report_time = self.step, now
        self._report_loss_sum, self._report_accuracy_sum = loss_sum, accuracy_sum
        point = Progress(
            kind="batch",
            step=self.step,
            total_steps=int(math.ceil(self.planned_steps)),
            epoch=self.step / self.steps_per_epoch,
            epochs=self.epochs,
            loss=loss,
            accuracy=accuracy,
            learning_rate=self.learning_rate,
            images_per_second=images_per_second,
            elapsed_seconds=now - self.start_time,
            seconds_left=self._seconds_left(now),
        )
        self.batch_points.append(
            {
                "step": point.step,
                "epoch": point.epoch,
                "loss": _finite_or_none(loss),
                "accuracy": _finite_or_none(accuracy),
                "learning_rate": point.learning_rate,
                "images_per_second": point.images_per_second,
                "elapsed_seconds": point.elapsed_seconds,
            }
        )
        if self.on_progress is not None:
            self.on_progress(point)
        self._high_loss_reports = self._high_loss_reports + 1 if loss > self.divergence_loss else 0
        if not math.isfinite(loss) or self._high_loss_reports >= 2:
            self._diverge(f"the loss rose to {loss:.3g} by step {self.step}")

    def _stop(self, reason: str) -> None:
        self.stop_reason = reason
        self.model.stop_training = True

    def _diverge(self, what: str) -> None:
        smaller = self.peak_learning_rate / 10
        self.message = (
            f"Training diverged: {what}. The learning rate {self.peak_learning_rate:g} is too "
            f"large for this model; try {smaller:g}."
        )
        self._stop("diverged")


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# --- Training ---------------------------------------------------------------------------------


def check_config_for_dataset(
    config: TrainConfig, dataset_name: str, num_train_images: int, num_replicas: int = 1
) -> None:
    """Raise ValueError when a config cannot train on this data (too few images, flipped digits)."""
    if config.horizontal_flip and dataset_name in FLIP_UNSAFE_DATASETS:
        raise ValueError(
            f"Horizontal flips do not suit {dataset_name}: a mirrored digit is not a digit any "
            "more. Switch flips off; they suit clothes, photos and doodles."
        )
    if num_train_images < config.batch_size:
        raise ValueError(
            f"The batch size {config.batch_size} is larger than the {num_train_images} training "
            f"images left after validation; use a batch size of at most {num_train_images}."
        )
    if config.batch_size % num_replicas:
        raise ValueError(
            f"The batch size {config.batch_size} must split evenly over the {num_replicas} "
            "devices; choose a multiple of that number."
        )


def takes_outliers(input_shape: Sequence[int]) -> bool:
    """Whether outlier exposure applies to images of this shape: its stray marks are canvas
    drawings, 28x28 grayscale, so only runs a canvas draws for can learn from them."""
    return tuple(input_shape) == CANVAS_IMAGE_SHAPE


def outliers_per_batch(config: TrainConfig, input_shape: Sequence[int], replicas: int = 1) -> int:
    """Outliers added to each batch: the configured share, a multiple of the replicas; none
    where outlier exposure does not apply (takes_outliers)."""
    if not takes_outliers(input_shape):
        return 0
    count = int(round(config.outlier_share * config.batch_size))
    return count - count % replicas


def exposure_outliers(
    config: TrainConfig, dataset_name: str, input_shape: Sequence[int]
) -> np.ndarray | None:
    """The outlier pool a run trains with, or None: off, or not a run a canvas draws for."""
    if outliers_per_batch(config, input_shape) == 0:
        return None
    from core.outliers import outlier_pool

    # One pool per drawing style whatever the run's seed, so a machine draws it once; the
    # seed still decides which marks each batch takes, turned and mirrored how.
    return outlier_pool(OUTLIER_POOL_SIZE, drawing_style(dataset_name), seed=0)


def _prepare_model(
    model_or_spec: keras.Model | ModelSpec,
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    seed: int,
    strategy: tf.distribute.Strategy,
    dtype_policy: str,
) -> keras.Model:
    import keras

    if isinstance(model_or_spec, ModelSpec):
        return build_model(
            model_or_spec, input_shape, num_classes, seed=seed, dtype_policy=dtype_policy
        )
    model = model_or_spec
    if tuple(model.input_shape[1:]) != tuple(input_shape):
        raise ValueError(
            f"The model takes images of shape {tuple(model.input_shape[1:])} but the dataset's "
            f"are {tuple(input_shape)}; build the model for this dataset."
        )
    if int(model.output_shape[-1]) != num_classes:
        raise ValueError(
            f"The model has {model.output_shape[-1]} outputs but the dataset has {num_classes} "
            "classes; build the model for this dataset."
        )
    import tensorflow as tf

    if strategy is not tf.distribute.get_strategy():
        # Variables must be created under the strategy: rebuild the model there, same weights.
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        return clone
    return model


def train(
    model_or_spec: keras.Model | ModelSpec,
    dataset: Dataset,
    config: TrainConfig,
    *,
    on_progress: ProgressCallback | None = None,
    stop_event: threading.Event | None = None,
    strategy: tf.distribute.Strategy | None = None,
    reports_per_epoch: int = REPORTS_PER_EPOCH,
    keep_checkpoints: bool = True,
) -> TrainResult:
    """Train a model (or build one from a spec) on `dataset` and evaluate it on its test set.

    `on_progress` gets a Progress several times per epoch and at each epoch end. Setting
    `stop_event` ends training after the current batch and keeps the model (status 'stopped');
    the time budget ends it the same way (status 'completed'). A NaN or exploding loss ends it
    with status 'diverged' and a message, and no test evaluation.
    """
    import keras
    import tensorflow as tf

    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}.")
    strategy = strategy or select_strategy()
    input_shape = tuple(int(size) for size in dataset.x_train.shape[1:])
    num_classes = len(dataset.class_names)
    train_indices, validation_indices = split_indices(
        dataset.y_train,
        validation_fraction=config.validation_fraction,
        max_train_images=config.max_train_images,
        seed=config.seed,
    )
    check_config_for_dataset(
        config, dataset.name, len(train_indices), strategy.num_replicas_in_sync
    )
    dtype_policy = choose_dtype_policy() if isinstance(model_or_spec, ModelSpec) else "float32"
    with strategy.scope():
        model = _prepare_model(
            model_or_spec,
            input_shape,
            num_classes,
            seed=config.seed,
            strategy=strategy,
            dtype_policy=dtype_policy,
        )
        optimizer = build_optimizer(config.optimizer, config.learning_rate)
        if dtype_policy == "mixed_float16":
            # float16 gradients underflow without loss scaling; Keras only adds it for models
            # built under a global mixed policy, and this one is set per layer.
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        outliers = exposure_outliers(config, dataset.name, input_shape)
        if outliers is None:
            model.compile(
                optimizer=optimizer,
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
        else:
            from core.outliers import LabelledAccuracy, OutlierExposureLoss

            model.compile(
                optimizer=optimizer,
                loss=OutlierExposureLoss(config.outlier_weight),
                metrics=[LabelledAccuracy()],
            )
    steps_per_epoch = config.steps_per_epoch(len(train_indices))
    augment = build_augmentation(config, input_shape, seed=config.seed)
    train_data = build_train_dataset(
        dataset.x_train,
        dataset.y_train,
        train_indices,
        config.batch_size,
        seed=config.seed,
        augment=augment,
        outliers=outliers,
        outliers_per_batch=outliers_per_batch(config, input_shape, strategy.num_replicas_in_sync),
    )
    predict = make_predict_function(model, batch_size=EVALUATION_BATCH_SIZE)
    validation_images = dataset.x_train[validation_indices]
    validation_labels = dataset.y_train[validation_indices]

    def validate() -> tuple[float, float]:
        return evaluate_predictions(predict, validation_images, validation_labels)

    refresher = make_statistics_refresher(model, seed=config.seed)

    def refresh_statistics() -> None:
        refresher(dataset.x_train, train_indices)

    checkpoint_steps_taken: list[int] = []
    checkpoint_weights: list[list[np.ndarray]] = []

    def keep_checkpoint(step: int) -> None:
        checkpoint_steps_taken.append(step)
        checkpoint_weights.append(compact_weights(model.get_weights()))

    monitor = TrainingMonitor(
        model=model,
        steps_per_epoch=steps_per_epoch,
        epochs=config.epochs,
        batch_size=config.batch_size,
        num_classes=num_classes,
        schedule=config.schedule,
        peak_learning_rate=config.learning_rate,
        time_budget_seconds=config.time_budget_seconds,
        validate=validate if len(validation_indices) else None,
        refresh_statistics=refresh_statistics,
        on_progress=on_progress,
        stop_event=stop_event,
        reports_per_epoch=reports_per_epoch,
        keep_checkpoint=keep_checkpoint if keep_checkpoints else None,
    )
    callback = keras.callbacks.LambdaCallback(
        on_train_begin=monitor.on_train_begin,
        on_epoch_begin=monitor.on_epoch_begin,
        on_train_batch_end=monitor.on_train_batch_end,
        on_epoch_end=monitor.on_epoch_end,
        on_train_end=monitor.on_train_end,
    )
    fit_start = time.perf_counter()
    model.fit(
        train_data,
        epochs=config.epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=[callback],
        verbose=0,
        shuffle=False,
    )
    fit_seconds = time.perf_counter() - fit_start
    del train_data  # Ends the pipeline and its prefetched batches before evaluation.
    train_seconds = monitor.end_time - monitor.start_time
    status = {"diverged": "diverged", "user": "stopped"}.get(monitor.stop_reason, "completed")
    test_loss = test_accuracy = None
    evaluation_start = time.perf_counter()
    if status != "diverged":
        refresh_statistics()
        test_loss, test_accuracy = evaluate_predictions(predict, dataset.x_test, dataset.y_test)
        checkpoint_weights = _refresh_checkpoint_statistics(
            model, checkpoint_steps_taken, checkpoint_weights, dataset.x_train, train_indices
        )
    evaluation_seconds = time.perf_counter() - evaluation_start
    if status == "completed":
        losses = [point["loss"] for point in monitor.batch_points if point["loss"] is not None]
        verdict = judge_finished_run(
            first_loss=losses[0] if losses else None,
            last_loss=losses[-1] if losses else None,
            accuracy=test_accuracy,
            num_classes=num_classes,
            steps=monitor.step,
            optimizer=config.optimizer,
            learning_rate=config.learning_rate,
        )
        if verdict is not None:
            status, monitor.message = verdict
    message = monitor.message or _summary_message(status, monitor.stop_reason, test_accuracy)
    return TrainResult(
        model=model,
        status=status,
        stop_reason=monitor.stop_reason,
        message=message,
        history=tuple(monitor.history),
        batch_points=tuple(monitor.batch_points),
        steps=monitor.step,
        epochs_trained=monitor.step / steps_per_epoch,
        train_seconds=train_seconds,
        images_per_second=monitor.step * config.batch_size / max(train_seconds, 1e-9),
        test_loss=test_loss,
        test_accuracy=test_accuracy,
        evaluation_seconds=evaluation_seconds,
        device=describe_device(),
        parameters=count_parameters(model),
        num_train_images=len(train_indices),
        num_validation_images=len(validation_indices),
        batch_size=config.batch_size,
        dtype_policy=dtype_policy,
        extra={
            "replicas": strategy.num_replicas_in_sync,
            "fit_seconds": fit_seconds,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        checkpoint_epochs=tuple(step / steps_per_epoch for step in checkpoint_steps_taken),
        checkpoint_weights=tuple(checkpoint_weights),
    )


def learning_rate_advice(optimizer: str, learning_rate: float) -> str:
    """A sentence on whether a learning rate is far from what usually trains these networks."""
    typical = TYPICAL_LEARNING_RATE.get(optimizer, 1e-3)
    if learning_rate >= 10 * typical:
        return (
            f"The learning rate {learning_rate:g} is far too large for {optimizer}; "
            f"try {typical:g}."
        )
    if learning_rate <= typical / 100:
        return (
            f"The learning rate {learning_rate:g} is far too small for {optimizer}; "
            f"try {typical:g}, or train longer."
        )
    return (
        f"The learning rate {learning_rate:g} is usual for {optimizer}: check the data (are the "
        "labels right?) and the architecture, or train longer."
    )


def judge_finished_run(
    *,
    first_loss: float | None,
    last_loss: float | None,
    accuracy: float | None,
    num_classes: int,
    steps: int,
    optimizer: str,
    learning_rate: float,
) -> tuple[str, str] | None:
    """('diverged' or 'learned_nothing', a message naming the learning rate), or None if fine.

    A run that ran its course can still have failed: Adam at learning rate 10 on MNIST ends
    with every image called one class (11.35%), its loss never NaN.
    """
    if steps < STEPS_BEFORE_VERDICT:
        return None
    advice = learning_rate_advice(optimizer, learning_rate)
    if (
        first_loss is not None
        and last_loss is not None
        and last_loss > CLIMBED_LOSS_FACTOR * first_loss
        and last_loss > math.log(max(num_classes, 2))
    ):
        return "diverged", (
            f"Training diverged: the loss climbed from {first_loss:.3g} to {last_loss:.3g}. "
            f"{advice}"
        )
    chance = 1 / max(num_classes, 1)
    if accuracy is not None and accuracy < chance + NEAR_CHANCE_SHARE * (1 - chance):
        return "learned_nothing", (
            f"The network learned nothing: its test accuracy {accuracy:.2%} is what guessing "
            f"gives ({chance:.0%} for {num_classes} classes). {advice}"
        )
    return None


def _refresh_checkpoint_statistics(
    model: keras.Model,
    steps: Sequence[int],
    weights: list[list[np.ndarray]],
    images: np.ndarray,
    indices: np.ndarray,
) -> list[list[np.ndarray]]:
    """The kept networks of a short run, their batch-norm statistics made from their weights.

    Early on the moving statistics still remember their start, as the run's own do before its
    refresh (make_statistics_refresher). Done after training, on a copy, so that keeping a
    point never takes time from the run or changes it.
    """
    import keras
    from keras import layers

    short = [position for position, step in enumerate(steps) if 0 < step < SHORT_RUN_STEPS]
    if not short or not any(isinstance(layer, layers.BatchNormalization) for layer in model.layers):
        return weights
    copy = keras.models.clone_model(model)
    refresh = make_statistics_refresher(copy)
    refreshed = list(weights)
    for position in short:
        copy.set_weights([np.asarray(array, dtype=np.float32) for array in weights[position]])
        refresh(images, indices)
        refreshed[position] = compact_weights(copy.get_weights())
    return refreshed


def _summary_message(status: str, stop_reason: str, test_accuracy: float | None) -> str:
    accuracy = "" if test_accuracy is None else f" Test accuracy {test_accuracy:.2%}."
    if status == "stopped":
        return f"Training stopped by request; the model keeps what it learnt so far.{accuracy}"
    if stop_reason == "time_budget":
        return f"Training used its whole time budget.{accuracy}"
    return f"Training completed.{accuracy}"


def estimate_epoch_seconds(
    model: keras.Model,
    input_shape: Sequence[int],
    batch_size: int,
    num_train: int,
    *,
    steps: int = 5,
    seed: int = 0,
    outliers_per_batch: int = 0,
) -> float:
    """Seconds one epoch of `num_train` images would take, timed on a few real training steps.

    Each step also carries `outliers_per_batch` images, as outlier exposure's batches do.
    The steps run on a copy of the model with random images, so `model` is left untouched.
    """
    import keras

    if batch_size < 1 or num_train < 1 or steps < 1:
        raise ValueError("batch_size, num_train and steps must all be at least 1.")
    generator = np.random.default_rng(seed)
    num_classes = int(model.output_shape[-1])
    step_images = batch_size + outliers_per_batch
    images = generator.integers(0, 256, (step_images, *input_shape)).astype(np.float32)
    labels = generator.integers(0, num_classes, step_images).astype(np.int64)
    copy = keras.models.clone_model(model)
    copy.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    # Two untimed steps trace the training function and warm the caches.
    for _ in range(2):
        copy.train_on_batch(images, labels)
    start = time.perf_counter()
    for _ in range(steps):
        copy.train_on_batch(images, labels)
    seconds_per_step = (time.perf_counter() - start) / steps
    return seconds_per_step * max(1, num_train // batch_size)


# What Draw trains in place when there is no network for drawings yet: the fast default for a
# minute, or 20 epochs if those come first (Digits, offline, gets there in seconds).
QUICK_START_CONFIG = TrainConfig(epochs=20, time_budget_seconds=60)

__all__ = [
    "FLIP_UNSAFE_DATASETS",
    "OPTIMIZER_CHOICES",
    "QUICK_START_CONFIG",
    "SCHEDULE_CHOICES",
    "STATUS_CHOICES",
    "Progress",
    "ProgressCallback",
    "TrainConfig",
    "TrainResult",
    "TrainingMonitor",
    "build_augmentation",
    "build_optimizer",
    "build_train_dataset",
    "check_config_for_dataset",
    "choose_dtype_policy",
    "describe_device",
    "estimate_epoch_seconds",
    "evaluate_predictions",
    "judge_finished_run",
    "learning_rate_advice",
    "learning_rate_at",
    "make_statistics_refresher",
    "outliers_per_batch",
    "select_strategy",
    "split_indices",
    "suggest_batch_size",
    "takes_outliers",
    "train",
]
