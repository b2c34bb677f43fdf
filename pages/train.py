"""Train: choose data, an architecture and settings, then watch the network learn live."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from core import session_keys
from core.custom_data import CUSTOM_DATASET_NAME
from core.datasets import Dataset
from core.engine import TrainingJob, TrainingRequest
from core.models import (
    ACTIVATION_CHOICES,
    DEFAULT_PRESET,
    HEAD_CHOICES,
    POOLING_CHOICES,
    PRESETS,
    ConvBlock,
    ModelSpec,
    check_spec,
)
from core.query_settings import (
    BATCH_SIZES,
    PARAMETER_NAMES,
    TrainSetup,
    count_training_images,
    fitting_batch_size,
    query_from_setup,
    setup_from_query,
)
from core.training import (
    FLIP_UNSAFE_DATASETS,
    OPTIMIZER_CHOICES,
    SCHEDULE_CHOICES,
    TrainConfig,
    check_config_for_dataset,
    outliers_per_batch,
    split_indices,
    suggest_batch_size,
    takes_outliers,
)
from ui.datasets import DatasetChoice, dataset_choice_ui, load_dataset_ui
from ui.engine import start_engine_in_background, started_engine, submit_training_ui
from ui.frame import leave_pages_directory_mode
from ui.run_manager import import_model_ui, saved_runs_ui
from ui.training import live_training_ui
from ui.user import ask_for_name_ui, current_user

leave_pages_directory_mode()
start_engine_in_background()

PAGE = "train"
CUSTOM_ARCHITECTURE = "custom"
PRESET_TITLES = {
    "fast": "Fast default (about a minute)",
    "keras_mnist": "Keras 'simple MNIST convnet'",
    "lenet5": "LeNet-5 (1998)",
    "small_vgg": "Small VGG (for CIFAR-10)",
    CUSTOM_ARCHITECTURE: "Custom: build your own",
}
DEFAULTS = TrainConfig()
# The setup read from this session's link, and what it could not use (session-state keys).
LINK_SETUP = f"{PAGE}_link_setup"
LINK_PROBLEMS = f"{PAGE}_link_problems"


# --- Cached computations ------------------------------------------------------------------


@st.cache_data(max_entries=32, show_spinner="Building the model…")
def model_summary(
    spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int
) -> tuple[pd.DataFrame, int]:
    """The layer table and parameter count of a spec, built once per architecture."""
    from core.models import build_model, count_parameters, layer_table

    model = build_model(spec, input_shape, num_classes)
    return layer_table(model), count_parameters(model)


@st.cache_data(max_entries=32, show_spinner="Timing a few training steps…")
def epoch_seconds_estimate(
    spec: ModelSpec,
    input_shape: tuple[int, ...],
    num_classes: int,
    batch_size: int,
    images: int,
    outliers: int,
) -> float:
    from core.models import build_model
    from core.training import estimate_epoch_seconds

    model = build_model(spec, input_shape, num_classes)
    return estimate_epoch_seconds(
        model, input_shape, batch_size, images, outliers_per_batch=outliers
    )


# --- Widgets ------------------------------------------------------------------------------


def custom_spec_ui(start: ModelSpec) -> ModelSpec:
    """An editable table of convolution blocks plus the dense head; raises ValueError."""
    st.caption(
        "Each row is a block: some convolutions with the same number of filters, then an "
        "optional 2x2 pooling that halves the image. Add or delete rows at the bottom."
    )
    starting_blocks = pd.DataFrame([dataclasses.asdict(block) for block in start.conv_blocks])
    edited = st.data_editor(
        starting_blocks,
        num_rows="dynamic",
        key=f"{PAGE}_blocks",
        column_config={
            "filters": st.column_config.NumberColumn("filters", min_value=1, step=1),
            "kernel_size": st.column_config.NumberColumn("kernel", min_value=1, step=1),
            "convs": st.column_config.NumberColumn("convolutions", min_value=1, step=1),
            "pooling": st.column_config.SelectboxColumn("pooling", options=POOLING_CHOICES),
            "batch_norm": st.column_config.CheckboxColumn("batch norm"),
            "activation": st.column_config.SelectboxColumn(
                "activation", options=ACTIVATION_CHOICES
            ),
            "padding": st.column_config.SelectboxColumn("padding", options=("same", "valid")),
        },
        width="stretch",
    )
    left, middle, right = st.columns(3)
    dense_text = left.text_input(
        "Dense layers (units, comma-separated)",
        ", ".join(str(units) for units in start.dense_units),
        key=f"{PAGE}_dense",
        help="For example '128' or '120, 84'. Leave empty for none.",
    )
    dropout = middle.slider(
        "Dropout", 0.0, 0.8, float(start.dropout_rate), 0.05, key=f"{PAGE}_dropout"
    )
    head = right.selectbox(
        "Head", HEAD_CHOICES, index=HEAD_CHOICES.index(start.head), key=f"{PAGE}_head"
    )
    blocks = []
    for number, row in enumerate(edited.to_dict("records"), start=1):
        if any(pd.isna(value) for value in row.values()):
            raise ValueError(f"Block {number} has an empty cell: fill it in or delete the row.")
        blocks.append(
            ConvBlock(
                filters=int(row["filters"]),
                kernel_size=int(row["kernel_size"]),
                convs=int(row["convs"]),
                pooling=str(row["pooling"]),
                batch_norm=bool(row["batch_norm"]),
                activation=str(row["activation"]),
                padding=str(row["padding"]),
            )
        )
    try:
        dense_units = tuple(int(part) for part in dense_text.replace(" ", "").split(",") if part)
    except ValueError as error:
        raise ValueError(
            f"Dense layers must be whole numbers separated by commas, like '128, 64'; "
            f"got {dense_text!r}."
        ) from error
    return ModelSpec(
        conv_blocks=tuple(blocks),
        dense_units=dense_units,
        dropout_rate=dropout,
        head=head,
        # No widget for it yet: a link's dense activation (LeNet-5's tanh) is kept as it came.
        dense_activation=start.dense_activation,
    )


def architecture_ui(dataset: Dataset, start: TrainSetup) -> tuple[str, ModelSpec]:
    """The preset or custom architecture; raises ValueError for an impossible one."""
    suggested = "small_vgg" if dataset.image_shape[-1] == 3 else DEFAULT_PRESET
    names = (*PRESETS, CUSTOM_ARCHITECTURE)
    suggested = start.preset if start.preset in names else suggested
    preset = st.selectbox(
        "Architecture",
        names,
        index=names.index(suggested),
        format_func=lambda name: PRESET_TITLES.get(name, name),
        key=f"{PAGE}_preset",
    )
    if preset == CUSTOM_ARCHITECTURE:
        spec = custom_spec_ui(start.architecture or PRESETS[DEFAULT_PRESET])
    else:
        spec = PRESETS[preset]
        st.caption(spec.description)
    check_spec(spec, dataset.image_shape, dataset.num_classes)
    return preset, spec


def settings_ui(dataset: Dataset, spec: ModelSpec | None, start: TrainConfig) -> TrainConfig:
    """Optimiser, schedule, batches, stopping, augmentation; raises ValueError for bad ones.

    The widgets first show `start`: the defaults, or what a link set.
    """
    first, second, third, fourth = st.columns(4)
    epochs = first.number_input(
        "Epochs",
        1,
        200,
        start.epochs,
        key=f"{PAGE}_epochs",
        help="One epoch shows the network every training image once.",
    )
    budget_on = second.toggle(
        "Time budget",
        value=start.time_budget_seconds is not None,
        key=f"{PAGE}_budget_on",
        help="Stop training when the time is spent, whatever the epochs say.",
    )
    budget = second.number_input(
        "Seconds",
        5,
        3600,
        int(start.time_budget_seconds or 60),
        step=5,
        key=f"{PAGE}_budget",
        disabled=not budget_on,
    )
    # Big networks on big images start with smaller batches, so a shared server keeps its
    # memory (small VGG on CIFAR-10 peaked at about 1.5 GB with 256; see bench_app_memory.py).
    suggested = (
        DEFAULTS.batch_size
        if spec is None
        else suggest_batch_size(spec, dataset.image_shape, largest=DEFAULTS.batch_size)
    )
    if start.batch_size != DEFAULTS.batch_size:
        suggested = start.batch_size  # A link's batch size wins over the suggestion.
    # Nor may it ask for more images than there are to train on, as a small upload has: the
    # count is the one training makes, with the training-images setting as it stands now.
    subset_now = st.session_state.get(f"{PAGE}_subset", start.max_train_images or 0)
    train_images = count_training_images(
        len(dataset.x_train),
        validation_fraction=DEFAULTS.validation_fraction,
        max_train_images=int(subset_now) or None,
    )
    suggested = fitting_batch_size(suggested, train_images)
    # The picker follows the suggestion as the data changes, until the user picks a size.
    batch_key, suggested_key = f"{PAGE}_batch_size", f"{PAGE}_batch_size_suggested"
    if st.session_state.get(batch_key) in (None, st.session_state.get(suggested_key)):
        st.session_state[batch_key] = suggested
    st.session_state[suggested_key] = suggested
    batch_size = third.selectbox("Batch size", BATCH_SIZES, key=batch_key)
    learning_rate = fourth.number_input(
        "Learning rate",
        min_value=0.00001,
        max_value=10.0,
        value=start.learning_rate,
        format="%.5f",
        step=0.001,
        key=f"{PAGE}_learning_rate",
        help="The peak rate of the schedule; too high and the loss explodes.",
    )
    first, second, third, fourth = st.columns(4)
    optimizer = first.selectbox(
        "Optimizer",
        OPTIMIZER_CHOICES,
        index=OPTIMIZER_CHOICES.index(start.optimizer),
        key=f"{PAGE}_optimizer",
    )
    schedule = second.selectbox(
        "Learning-rate schedule",
        SCHEDULE_CHOICES,
        index=SCHEDULE_CHOICES.index(start.schedule),
        key=f"{PAGE}_schedule",
        help="one_cycle warms up then cools down; cosine only cools down.",
    )
    subset = third.number_input(
        "Training images (0 = all)",
        0,
        len(dataset.x_train),
        min(start.max_train_images or 0, len(dataset.x_train)),
        step=1000,
        key=f"{PAGE}_subset",
        help="Train on fewer images to see how data size matters.",
    )
    seed = fourth.number_input("Seed", 0, 1_000_000, start.seed, key=f"{PAGE}_seed")
    with st.expander("Data augmentation: show the network varied copies of each image"):
        first, second, third, fourth = st.columns(4)
        shift = first.slider("Shift", 0.0, 0.3, start.shift_fraction, 0.01, key=f"{PAGE}_shift")
        rotation = second.slider(
            "Rotation (degrees)", 0, 45, int(start.rotation_degrees), key=f"{PAGE}_rotation"
        )
        zoom = third.slider("Zoom", 0.0, 0.3, start.zoom_fraction, 0.01, key=f"{PAGE}_zoom")
        flip_allowed = dataset.name not in FLIP_UNSAFE_DATASETS
        flip = fourth.checkbox(
            "Mirror left-right",
            value=start.horizontal_flip,
            key=f"{PAGE}_flip",
            disabled=not flip_allowed,
            help=None if flip_allowed else "A mirrored digit is not a digit: no flips here.",
        )
    drawable = takes_outliers(dataset.image_shape)
    not_mine = st.checkbox(
        'Learn to say "that is not one of mine"',
        value=drawable and start.outlier_share > 0,
        key=f"{PAGE}_not_mine",
        disabled=not drawable,
        help=(
            "Adds stray marks that are none of the classes (bends, arcs, scribbles: an eighth "
            "more images in each batch) and teaches the network to be unsure of them, so Draw "
            "and Play can tell a letter or a doodle from the classes. About 6% fewer training "
            "images per second."
            if drawable
            else "Only for 28x28 grayscale images, the ones you can draw for."
        ),
    )
    outlier_share = (start.outlier_share or DEFAULTS.outlier_share) if not_mine else 0.0
    return TrainConfig(
        optimizer=optimizer,
        learning_rate=float(learning_rate),
        schedule=schedule,
        batch_size=int(batch_size),
        epochs=int(epochs),
        time_budget_seconds=float(budget) if budget_on else None,
        shift_fraction=float(shift),
        rotation_degrees=float(rotation),
        zoom_fraction=float(zoom),
        horizontal_flip=bool(flip and flip_allowed),
        max_train_images=int(subset) or None,
        seed=int(seed),
        outlier_share=outlier_share,
    )


def before_training_ui(dataset: Dataset, spec: ModelSpec, config: TrainConfig) -> None:
    """The layer table, the parameter count and an estimate of the time per epoch."""
    table, parameters = model_summary(spec, dataset.image_shape, dataset.num_classes)
    images = config.max_train_images or len(dataset.x_train)
    images = int(images * (1 - config.validation_fraction))
    left, right = st.columns([3, 2])
    with left:
        st.dataframe(table, hide_index=True, width="stretch")
    with right:
        st.metric("Parameters", f"{parameters:,}")
        if st.button("Estimate the time per epoch", key=f"{PAGE}_estimate"):
            seconds = epoch_seconds_estimate(
                spec,
                dataset.image_shape,
                dataset.num_classes,
                config.batch_size,
                images,
                outliers_per_batch(config, dataset.image_shape),
            )
            st.metric("Time per epoch on this device", f"≈ {seconds:,.0f} s")
            st.caption(f"{images:,} training images per epoch, batches of {config.batch_size}.")


def training_dataset_ui(start: TrainSetup) -> tuple[DatasetChoice, Dataset] | None:
    link_choice = DatasetChoice(
        name=start.dataset or "", categories=start.categories, per_class=start.per_class
    )
    choice = dataset_choice_ui(PAGE, start=link_choice)
    if choice.name == CUSTOM_DATASET_NAME:
        stored = st.session_state.get(session_keys.CUSTOM_DATASET)
        if stored is None:
            st.info("Upload your images on the Datasets page first.", icon=":material/upload:")
            return None
        return choice, stored[1]
    if choice.name == "quickdraw" and len(choice.categories or ()) < 2:
        st.warning("Choose at least two categories.", icon=":material/warning:")
        return None
    dataset = load_dataset_ui(choice, PAGE)
    return None if dataset is None else (choice, dataset)


def link_setup_ui() -> TrainSetup:
    """The setup this session's link asked for, read once; a note for what it could not use."""
    if LINK_SETUP not in st.session_state:
        setup, problems = setup_from_query(st.query_params.to_dict())
        st.session_state[LINK_SETUP] = setup
        st.session_state[LINK_PROBLEMS] = problems
    for problem in st.session_state[LINK_PROBLEMS]:
        st.warning(f"From the link: {problem}", icon=":material/link_off:")
    return st.session_state[LINK_SETUP]


def keep_setup_in_link(
    choice: DatasetChoice, preset: str, spec: ModelSpec, config: TrainConfig
) -> None:
    """Write the page's setup into the URL, so a refresh or a shared link opens it again."""
    try:
        setup = TrainSetup(
            dataset=choice.name,
            categories=choice.categories,
            per_class=choice.per_class,
            preset=preset,
            architecture=spec if preset == CUSTOM_ARCHITECTURE else None,
            config=config,
        )
    except ValueError:
        return  # Mid-edit settings a link cannot carry: the address keeps the last good ones.
    query = query_from_setup(setup)
    for name in PARAMETER_NAMES:
        if name not in query and name in st.query_params:
            del st.query_params[name]
    changed = {name: value for name, value in query.items() if st.query_params.get(name) != value}
    if changed:
        st.query_params.update(changed)


# --- Page ---------------------------------------------------------------------------------

st.title("Train")
st.write(
    "Pick the data and a network, press **Train**, and watch the loss fall and the accuracy "
    "climb. Validation images, kept out of training, show whether it learns or memorises."
)
job: TrainingJob | None = st.session_state.get(session_keys.TRAINING_JOB)
busy = job is not None and job.running
user = current_user()
start = link_setup_ui()

st.subheader("1. Data")
picked = training_dataset_ui(start)
if picked is None:
    live_training_ui(PAGE)
    saved_runs_ui(PAGE, user)
    st.stop()
choice, dataset = picked
st.caption(
    f"{len(dataset.x_train):,} training and {len(dataset.x_test):,} test images of "
    f"{' x '.join(map(str, dataset.image_shape))}, {dataset.num_classes} classes."
)

st.subheader("2. Network")
try:
    preset, spec = architecture_ui(dataset, start)
except ValueError as error:
    st.error(str(error), icon=":material/block:")
    spec = None

st.subheader("3. Settings")
try:
    config = settings_ui(dataset, spec, start.config)
    # The same split train() makes, so the page refuses exactly what training would.
    train_indices, _ = split_indices(
        dataset.y_train,
        validation_fraction=config.validation_fraction,
        max_train_images=config.max_train_images,
        seed=config.seed,
    )
    check_config_for_dataset(config, dataset.name, len(train_indices))
except ValueError as error:
    st.error(str(error), icon=":material/block:")
    config = None

if spec is not None and config is not None:
    keep_setup_in_link(choice, preset, spec, config)
    before_training_ui(dataset, spec, config)
    if user is None:
        ask_for_name_ui("train")
    if st.button(
        "Train",
        type="primary",
        icon=":material/play_arrow:",
        disabled=busy or user is None,
        key=f"{PAGE}_train",
    ):
        request = TrainingRequest(
            dataset_name=choice.name,
            spec=spec,
            config=config,
            categories=choice.categories,
            per_class=choice.per_class,
            # A built-in dataset is read by the worker from its own data folder; an upload
            # exists only in this session, so it travels with the job.
            dataset=dataset if choice.name == CUSTOM_DATASET_NAME else None,
            preset=preset,
            owner=user,
        )
        submit_training_ui(request)
    if busy:
        st.caption("Your run is queued or training: stop it or wait for it to start another.")
    engine = started_engine()
    if engine is not None:
        st.caption(f"Trainings run on {engine.describe()}, first come, first served.")

st.subheader("4. Training")
live_training_ui(PAGE)
saved_runs_ui(PAGE, user)
import_model_ui(PAGE, choice, dataset, user)
