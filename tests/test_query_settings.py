"""The Train page's setup in the URL: reading links, writing short ones, the architecture text."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, quote, urlencode

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.datasets import QUICKDRAW_DEFAULT_CATEGORIES, QUICKDRAW_DEFAULT_PER_CLASS
from core.models import (
    ACTIVATION_CHOICES,
    HEAD_CHOICES,
    PADDING_CHOICES,
    POOLING_CHOICES,
    PRESETS,
    ConvBlock,
    ModelSpec,
)
from core.query_settings import (
    BATCH_SIZES,
    DATASET_CHOICES,
    DROPOUT_RANGE,
    EPOCHS_RANGE,
    LEARNING_RATE_RANGE,
    OUTLIER_SHARE_RANGE,
    PARAMETER_NAMES,
    PER_CLASS_RANGE,
    PRESET_CHOICES,
    ROTATION_RANGE,
    SEED_RANGE,
    SHIFT_RANGE,
    TIME_BUDGET_RANGE,
    ZOOM_RANGE,
    TrainSetup,
    count_training_images,
    decode_architecture,
    encode_architecture,
    fitting_batch_size,
    query_from_setup,
    setup_from_query,
)
from core.training import FLIP_UNSAFE_DATASETS, OPTIMIZER_CHOICES, SCHEDULE_CHOICES, TrainConfig

LENET5_TEXT = "c6-k5-avgpool-nobn-tanh_c16-k5-avgpool-nobn-tanh-valid_d120_d84_dense-tanh"
CUSTOM_SPEC = ModelSpec(
    conv_blocks=(
        ConvBlock(filters=24, kernel_size=5, convs=2, pooling="average", activation="gelu"),
        ConvBlock(filters=48, batch_norm=False, padding="valid", pooling="none"),
    ),
    dense_units=(64, 32),
    dropout_rate=0.25,
    head="global_average",
    dense_activation="elu",
)


def read_link(query_string: str) -> tuple[TrainSetup, list[str]]:
    """What the page would get from a link: parse_qs, like a browser's query, gives lists."""
    return setup_from_query(parse_qs(query_string))


# --- The issue's example and the round trips ------------------------------------------------


def test_the_issue_example_link_opens_mnist_fast_with_a_30_second_budget() -> None:
    setup, problems = read_link("dataset=mnist&preset=fast&time_budget=30")

    assert problems == []
    assert setup == TrainSetup(
        dataset="mnist", preset="fast", config=TrainConfig(time_budget_seconds=30.0)
    )
    # Writing the setup back gives the same short link: a refresh keeps the setup.
    assert urlencode(query_from_setup(setup)) == "dataset=mnist&preset=fast&time_budget=30"


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips_through_its_architecture_text(name: str) -> None:
    spec = PRESETS[name]
    decoded = decode_architecture(encode_architecture(spec))

    assert decoded == spec
    fields = [field.name for field in dataclasses.fields(ModelSpec) if field.compare]
    assert [getattr(decoded, name) for name in fields] == [getattr(spec, name) for name in fields]


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips_through_a_link(name: str) -> None:
    setup = TrainSetup(dataset="fashion_mnist", preset=name)

    assert query_from_setup(setup) == {"dataset": "fashion_mnist", "preset": name}
    assert setup_from_query(query_from_setup(setup)) == (setup, [])


def test_preset_texts_are_short_and_readable() -> None:
    assert encode_architecture(PRESETS["fast"]) == "c16_c32_c64-nopool"
    assert encode_architecture(PRESETS["small_vgg"]) == "c32-x2_c64-x2_c128-x2_d128_drop0.3"
    assert encode_architecture(PRESETS["lenet5"]) == LENET5_TEXT


@pytest.mark.parametrize("spec", [*PRESETS.values(), CUSTOM_SPEC], ids=[*PRESETS, "custom"])
def test_architecture_texts_need_no_escaping_in_a_url(spec: ModelSpec) -> None:
    text = encode_architecture(spec)

    assert quote(text, safe="") == text


def test_a_custom_network_round_trips_through_a_link() -> None:
    setup = TrainSetup(
        dataset="cifar10",
        preset="custom",
        architecture=CUSTOM_SPEC,
        config=TrainConfig(
            optimizer="sgd",
            learning_rate=0.001,
            schedule="cosine",
            batch_size=64,
            epochs=12,
            time_budget_seconds=120.0,
            shift_fraction=0.1,
            rotation_degrees=15.0,
            zoom_fraction=0.05,
            horizontal_flip=True,
            max_train_images=20_000,
            seed=7,
        ),
    )
    query = query_from_setup(setup)

    assert query == {
        "dataset": "cifar10",
        "preset": "custom",
        "architecture": "c24-k5-x2-avgpool-gelu_c48-nopool-nobn-valid_d64_d32_drop0.25_gap"
        "_dense-elu",
        "epochs": "12",
        "time_budget": "120",
        "batch_size": "64",
        "learning_rate": "0.001",
        "optimizer": "sgd",
        "schedule": "cosine",
        "train_images": "20000",
        "seed": "7",
        "shift": "0.1",
        "rotation": "15",
        "zoom": "0.05",
        "flip": "1",
    }
    assert read_link(urlencode(query)) == (setup, [])


def test_quickdraw_categories_and_drawings_round_trip_through_a_link() -> None:
    setup = TrainSetup(
        dataset="quickdraw", categories=("cat", "The Eiffel Tower", "dog"), per_class=2000
    )
    query = query_from_setup(setup)

    assert query == {
        "dataset": "quickdraw",
        "categories": "cat,The Eiffel Tower,dog",
        "per_class": "2000",
    }
    assert read_link(urlencode(query)) == (setup, [])


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_every_setup_the_page_can_show_round_trips_through_a_link(data: st.DataObject) -> None:
    setup = data.draw(train_setups())

    query = query_from_setup(setup)

    assert setup_from_query(query) == (setup, [])
    assert read_link(urlencode(query)) == (setup, [])


# --- Short links ----------------------------------------------------------------------------


def test_settings_at_their_defaults_are_left_out_of_the_link() -> None:
    assert query_from_setup(TrainSetup()) == {}
    assert query_from_setup(TrainSetup(dataset="digits", preset="lenet5")) == {
        "dataset": "digits",
        "preset": "lenet5",
    }
    # The default ten categories and 5000 drawings are the page's own: nothing to write.
    setup = TrainSetup(
        dataset="quickdraw",
        categories=QUICKDRAW_DEFAULT_CATEGORIES,
        per_class=QUICKDRAW_DEFAULT_PER_CLASS,
        preset="fast",
    )
    assert query_from_setup(setup) == {"dataset": "quickdraw", "preset": "fast"}


@pytest.mark.parametrize(
    ("config", "parameter", "text"),
    [
        (TrainConfig(time_budget_seconds=30.0), "time_budget", "30"),
        (TrainConfig(learning_rate=0.001), "learning_rate", "0.001"),
        (TrainConfig(learning_rate=0.00001), "learning_rate", "0.00001"),
        (TrainConfig(learning_rate=0.0003), "learning_rate", "0.0003"),
        (TrainConfig(learning_rate=2.0), "learning_rate", "2"),
        (TrainConfig(rotation_degrees=10.0), "rotation", "10"),
        (TrainConfig(shift_fraction=0.15), "shift", "0.15"),
    ],
)
def test_numbers_are_written_minimally(config: TrainConfig, parameter: str, text: str) -> None:
    assert query_from_setup(TrainSetup(config=config)) == {parameter: text}


# --- Bad values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        (
            {"time_budget": "abc"},
            "time_budget=abc is not a whole number of seconds from 5 to 3600 (0 for no budget); "
            "using no time budget.",
        ),
        ({"time_budget": "2"}, "time_budget=2 is not a whole number of seconds"),
        ({"dataset": "imagenet"}, "dataset=imagenet is not one of mnist, fashion_mnist,"),
        ({"preset": "resnet"}, "preset=resnet is not one of fast, keras_mnist,"),
        ({"epochs": "0"}, "epochs=0 is not a whole number of epochs from 1 to 200; using the "),
        ({"epochs": "2.5"}, "epochs=2.5 is not a whole number of epochs"),
        ({"epochs": "500"}, "epochs=500 is not a whole number of epochs from 1 to 200; using the "),
        ({"batch_size": "100"}, "batch_size=100 is not one of the batch sizes 8, 16, 32,"),
        ({"batch_size": "big"}, "batch_size=big is not one of the batch sizes"),
        ({"learning_rate": "-1"}, "learning_rate=-1 is not a learning rate from 0.00001 to 10;"),
        ({"learning_rate": "nan"}, "learning_rate=nan is not a learning rate"),
        ({"learning_rate": "inf"}, "learning_rate=inf is not a learning rate"),
        ({"optimizer": "lbfgs"}, "optimizer=lbfgs is not one of adam, adamw, sgd or rmsprop;"),
        ({"schedule": "step"}, "schedule=step is not one of one_cycle, cosine or constant;"),
        ({"train_images": "-5"}, "train_images=-5 is not a whole number of training images"),
        ({"train_images": "lots"}, "; using all training images."),
        ({"seed": "-1"}, "seed=-1 is not a whole number from 0 to 1000000; using the default 0."),
        ({"shift": "0.9"}, "shift=0.9 is not a fraction from 0 to 0.3; using the default 0."),
        ({"rotation": "90"}, "rotation=90 is not a whole number of degrees from 0 to 45;"),
        ({"zoom": "x"}, "zoom=x is not a fraction from 0 to 0.3; using the default 0."),
        ({"flip": "maybe"}, "flip=maybe is not 0, false, 1 or true; leaving it off."),
        ({"architecture": "c16_q5"}, "architecture=c16_q5 was not used (Part 2"),
        ({"architecture": "c5000"}, "needs between 1 and 1024 filters"),
        ({"architecture": "c16_drop0.9"}, "has a dropout the page does not offer"),
        ({"categories": "cat,dog"}, "categories=cat,dog applies to dataset=quickdraw only;"),
        ({"per_class": "100"}, "per_class=100 applies to dataset=quickdraw only; ignoring it."),
    ],
)
def test_a_bad_value_keeps_the_default_and_says_why(query: dict[str, str], problem: str) -> None:
    setup, problems = setup_from_query(query)

    assert setup == TrainSetup()
    assert len(problems) == 1
    assert problems[0].startswith(f"{next(iter(query))}=")
    assert problem in problems[0]
    assert problems[0].endswith(".")


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        (
            {"categories": "cat,unicorn"},
            "categories=cat,unicorn names a category Quick, Draw! lacks (unicorn); "
            "using the default ten.",
        ),
        (
            {"categories": "cat,cat"},
            "categories=cat,cat names a category twice; using the default ten.",
        ),
        (
            {"categories": ",,"},
            "categories=,, names no Quick, Draw! category; using the default ten.",
        ),
        (
            {"per_class": "3"},
            "per_class=3 is not a whole number of drawings per category from 6 to 100000; "
            "using the default 5000.",
        ),
    ],
)
def test_bad_quickdraw_values_keep_the_default(query: dict[str, str], problem: str) -> None:
    setup, problems = setup_from_query({"dataset": "quickdraw", **query})

    assert setup == TrainSetup(dataset="quickdraw")
    assert problems == [problem]


def test_flips_of_digits_are_refused() -> None:
    setup, problems = read_link("dataset=mnist&flip=1")

    assert setup == TrainSetup(dataset="mnist")
    assert problems == [
        "flip=1 does not suit mnist (a mirrored digit is not a digit); leaving it off."
    ]


def test_an_architecture_with_a_named_preset_keeps_the_preset() -> None:
    setup, problems = read_link("preset=lenet5&architecture=c16")

    assert setup == TrainSetup(preset="lenet5")
    assert problems == ["architecture=c16 applies to preset=custom only; using the lenet5 preset."]


def test_each_bad_value_gets_its_own_sentence_in_link_order() -> None:
    setup, problems = read_link("zoom=x&dataset=mnist&epochs=0&seed=1&optimizer=nope")

    assert setup == TrainSetup(dataset="mnist", config=TrainConfig(seed=1))
    assert [problem.split("=")[0] for problem in problems] == ["epochs", "optimizer", "zoom"]


@pytest.mark.parametrize("parameter", ["optimizer", "architecture"])
def test_a_long_pasted_value_is_cut_in_the_message(parameter: str) -> None:
    _, problems = setup_from_query({parameter: "c" + "9" * 5000})

    assert len(problems[0]) < 200
    assert "…" in problems[0]


@settings(max_examples=300, deadline=None)
@given(
    query=st.dictionaries(
        st.sampled_from(PARAMETER_NAMES),
        st.one_of(st.text(max_size=30), st.lists(st.text(max_size=10), max_size=3)),
    )
)
def test_no_link_makes_the_reader_raise(query: dict[str, str | list[str]]) -> None:
    setup, problems = setup_from_query(query)

    assert isinstance(setup, TrainSetup)
    assert all(problem.endswith(".") for problem in problems)
    assert len(problems) <= len(query)


# --- Lenient reading ------------------------------------------------------------------------


def test_unknown_names_are_ignored_without_a_word() -> None:
    setup, problems = read_link("user=ada&dataset=digits&utm_source=mail&theme=dark")

    assert setup == TrainSetup(dataset="digits")
    assert problems == []


def test_empty_values_count_as_absent() -> None:
    assert setup_from_query({"dataset": "", "epochs": "  ", "flip": []}) == (TrainSetup(), [])


def test_the_last_of_repeated_values_counts() -> None:
    setup, problems = read_link("epochs=3&epochs=9")

    assert setup.config.epochs == 9
    assert problems == []


@pytest.mark.parametrize(("text", "budget"), [("0", None), ("30", 30.0), ("60.0", 60.0)])
def test_time_budget_zero_means_none(text: str, budget: float | None) -> None:
    setup, problems = setup_from_query({"time_budget": text})

    assert setup.config.time_budget_seconds == budget
    assert problems == []


def test_outliers_zero_trains_on_the_dataset_alone() -> None:
    setup, problems = setup_from_query({"outliers": "0"})
    assert setup.config.outlier_share == 0 and problems == []
    assert query_from_setup(setup) == {"outliers": "0"}
    assert setup_from_query({"outliers": "0.5"})[0].config.outlier_share == 0.5
    setup, problems = setup_from_query({"outliers": "2"})
    assert setup.config.outlier_share == TrainConfig().outlier_share
    assert problems == [
        "outliers=2 is not a share of each batch from 0 to 1 (0 for no stray marks); "
        "using the default 0.125."
    ]


def test_train_images_zero_means_all() -> None:
    assert setup_from_query({"train_images": "0"}) == (TrainSetup(), [])
    assert setup_from_query({"train_images": "500"})[0].config.max_train_images == 500


@pytest.mark.parametrize(("text", "flip"), [("1", True), ("TRUE", True), ("0", False)])
def test_flip_reads_zero_one_true_and_false(text: str, flip: bool) -> None:
    setup, problems = setup_from_query({"dataset": "cifar10", "flip": text})

    assert setup.config.horizontal_flip is flip
    assert problems == []


def test_names_ignore_case() -> None:
    setup, problems = read_link(
        "dataset=QuickDraw&categories=CAT,the eiffel tower&preset=LeNet5&optimizer=SGD"
    )

    assert problems == []
    assert setup == TrainSetup(
        dataset="quickdraw",
        categories=("cat", "The Eiffel Tower"),
        preset="lenet5",
        config=TrainConfig(optimizer="sgd"),
    )


def test_an_architecture_alone_means_the_custom_preset() -> None:
    setup, problems = read_link("dataset=mnist&architecture=c8_c16-nopool_gap")

    assert problems == []
    assert setup.preset == "custom"
    assert setup.architecture == ModelSpec(
        conv_blocks=(ConvBlock(filters=8), ConvBlock(filters=16, pooling="none")),
        head="global_average",
    )


def test_the_custom_preset_without_an_architecture_leaves_the_network_to_the_page() -> None:
    assert read_link("preset=custom") == (TrainSetup(preset="custom"), [])


# --- The architecture text ------------------------------------------------------------------


def test_block_settings_may_come_in_any_order() -> None:
    assert decode_architecture("c16-tanh-k5-nopool") == decode_architecture("c16-k5-nopool-tanh")
    assert decode_architecture(" C16-MAXPOOL-BN-RELU-SAME-K3-X1 ") == ModelSpec(
        conv_blocks=(ConvBlock(filters=16),)
    )


def test_a_network_without_convolutions_is_written_as_its_head() -> None:
    assert encode_architecture(ModelSpec(conv_blocks=())) == "flatten"
    assert decode_architecture("flatten") == ModelSpec(conv_blocks=())
    assert decode_architecture("d64") == ModelSpec(conv_blocks=(), dense_units=(64,))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The architecture is empty"),
        ("c16__c32", "Part 2 of the architecture, '', is not understood"),
        ("c16_conv32", "Part 2 of the architecture, 'conv32', is not understood"),
        ("c16-k3-k5", "Block 1 ('c16-k3-k5') sets its kernel size twice; keep one."),
        ("c16-maxpool-nopool", "sets its pooling twice"),
        ("c16-swish", "In block 1 ('c16-swish'), 'swish' is not a block setting."),
        ("c16_drop0.2_drop0.3", "sets the dropout rate twice ('drop0.2' and 'drop0.3')"),
        ("c16_drop1.5", "Dropout rate must be at least 0 and below 1"),
        ("c16_d0", "A dense layer needs between 1 and 4096 units"),
        ("c16-k12", "Block 1 ('c16-k12'): Kernel size must be between 1 and 11"),
        ("c16-x5", "A block holds between 1 and 4 convolutions"),
        ("d64_gap", "Global average pooling needs at least one convolution block"),
        ("c16_dense-swish", "'dense-swish', is not understood"),
        ("c16_d64-tanh", "'d64-tanh', is not understood"),
    ],
)
def test_a_bad_architecture_text_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^.+$") as raised:
        decode_architecture(text)

    assert message in str(raised.value)


def test_an_unreadable_architecture_text_explains_how_to_write_one() -> None:
    with pytest.raises(ValueError, match="For example 'c32_c64-k5-avgpool_d128_drop0.5'"):
        decode_architecture("conv32")


# --- TrainSetup itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dataset": "imagenet"}, "Unknown dataset 'imagenet'"),
        ({"dataset": "mnist", "categories": ("cat", "dog")}, "quickdraw dataset only"),
        ({"dataset": "quickdraw", "categories": ()}, "at least one Quick, Draw! category"),
        ({"dataset": "quickdraw", "categories": ("cat", "unicorn")}, "'unicorn'"),
        ({"dataset": "quickdraw", "categories": ("cat", "cat")}, "only once"),
        ({"dataset": "quickdraw", "per_class": 3}, "drawings per category from 6 to 100000"),
        ({"dataset": "mnist", "per_class": 100}, "quickdraw dataset only"),
        ({"preset": "resnet"}, "Unknown architecture 'resnet'"),
        ({"preset": "fast", "architecture": CUSTOM_SPEC}, "needs preset 'custom'"),
        (
            {"preset": "custom", "architecture": ModelSpec(dropout_rate=0.9)},
            "dropout from 0 to 0.8",
        ),
        ({"config": TrainConfig(epochs=500)}, "epochs from 1 to 200"),
        ({"config": TrainConfig(batch_size=100)}, "batch sizes 8, 16"),
        ({"config": TrainConfig(time_budget_seconds=2.5)}, "seconds from 5 to 3600"),
        ({"config": TrainConfig(validation_fraction=0.2)}, "no validation setting"),
        ({"dataset": "digits", "config": TrainConfig(horizontal_flip=True)}, "do not suit"),
    ],
)
def test_a_setup_the_page_cannot_show_is_refused(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainSetup(**fields)


# --- Strategies -----------------------------------------------------------------------------


def number_in(number_range, *, whole_as_float: bool = False) -> st.SearchStrategy:
    if number_range.whole:
        whole_numbers = st.integers(int(number_range.minimum), int(number_range.maximum))
        return whole_numbers.map(float) if whole_as_float else whole_numbers
    return st.floats(number_range.minimum, number_range.maximum, allow_nan=False)


conv_blocks = st.builds(
    ConvBlock,
    filters=st.integers(1, 1024),
    kernel_size=st.integers(1, 11),
    convs=st.integers(1, 4),
    pooling=st.sampled_from(POOLING_CHOICES),
    batch_norm=st.booleans(),
    activation=st.sampled_from(ACTIVATION_CHOICES),
    padding=st.sampled_from(PADDING_CHOICES),
)


@st.composite
def model_specs(draw: st.DrawFn) -> ModelSpec:
    blocks = tuple(draw(st.lists(conv_blocks, max_size=4)))
    heads = HEAD_CHOICES if blocks else ("flatten",)
    return ModelSpec(
        conv_blocks=blocks,
        dense_units=tuple(draw(st.lists(st.integers(1, 4096), max_size=3))),
        dropout_rate=draw(number_in(DROPOUT_RANGE)),
        head=draw(st.sampled_from(heads)),
        dense_activation=draw(st.sampled_from(ACTIVATION_CHOICES)),
    )


@given(spec=model_specs())
@settings(max_examples=300, deadline=None)
def test_every_spec_round_trips_through_its_architecture_text(spec: ModelSpec) -> None:
    text = encode_architecture(spec)

    assert decode_architecture(text) == spec
    assert quote(text, safe="") == text


@st.composite
def train_setups(draw: st.DrawFn) -> TrainSetup:
    from core.datasets import quickdraw_categories

    dataset = draw(st.one_of(st.none(), st.sampled_from(DATASET_CHOICES)))
    categories = per_class = None
    if dataset == "quickdraw":
        categories = draw(
            st.one_of(
                st.none(),
                st.lists(
                    st.sampled_from(quickdraw_categories()), min_size=1, max_size=5, unique=True
                ).map(tuple),
            )
        )
        per_class = draw(st.one_of(st.none(), number_in(PER_CLASS_RANGE)))
    preset = draw(st.one_of(st.none(), st.sampled_from(PRESET_CHOICES)))
    architecture = None
    if preset == "custom":
        architecture = draw(st.one_of(st.none(), model_specs()))
    flip_allowed = dataset not in FLIP_UNSAFE_DATASETS
    config = TrainConfig(
        optimizer=draw(st.sampled_from(OPTIMIZER_CHOICES)),
        learning_rate=draw(number_in(LEARNING_RATE_RANGE)),
        schedule=draw(st.sampled_from(SCHEDULE_CHOICES)),
        batch_size=draw(st.sampled_from(BATCH_SIZES)),
        epochs=draw(number_in(EPOCHS_RANGE)),
        time_budget_seconds=draw(
            st.one_of(st.none(), number_in(TIME_BUDGET_RANGE, whole_as_float=True))
        ),
        shift_fraction=draw(number_in(SHIFT_RANGE)),
        rotation_degrees=draw(number_in(ROTATION_RANGE, whole_as_float=True)),
        zoom_fraction=draw(number_in(ZOOM_RANGE)),
        horizontal_flip=draw(st.booleans()) and flip_allowed,
        max_train_images=draw(st.one_of(st.none(), st.integers(1, 10_000_000))),
        seed=draw(number_in(SEED_RANGE)),
        outlier_share=draw(number_in(OUTLIER_SHARE_RANGE)),
    )
    return TrainSetup(dataset, categories, per_class, preset, architecture, config)


@pytest.mark.parametrize(
    ("suggested", "train_images", "expected"),
    [(256, 60_000, 256), (256, 18, 16), (256, 256, 256), (256, 255, 128), (64, 1000, 64)],
)
def test_the_default_batch_size_fits_the_training_images(
    suggested: int, train_images: int, expected: int
) -> None:
    assert fitting_batch_size(suggested, train_images) == expected


def test_with_fewer_images_than_any_batch_the_smallest_batch_size_is_offered() -> None:
    assert fitting_batch_size(256, 5) == BATCH_SIZES[0]


@pytest.mark.parametrize(
    ("num_images", "max_train_images"), [(20, None), (1797, None), (1797, 500), (7, None)]
)
def test_the_training_images_are_counted_as_training_splits_them(
    num_images: int, max_train_images: int | None
) -> None:
    from core.training import split_indices

    labels = np.arange(num_images) % 2
    train, _ = split_indices(
        labels, validation_fraction=0.1, max_train_images=max_train_images, seed=0
    )
    counted = count_training_images(
        num_images, validation_fraction=0.1, max_train_images=max_train_images
    )
    assert counted == len(train)
