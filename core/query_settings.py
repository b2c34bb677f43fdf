"""The Train page's whole setup as URL query parameters, so one shared link opens it set up."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from core.custom_data import CUSTOM_DATASET_NAME
from core.datasets import (
    DATASET_NAMES,
    QUICKDRAW_DEFAULT_CATEGORIES,
    QUICKDRAW_DEFAULT_PER_CLASS,
    quickdraw_categories,
)
from core.models import (
    ACTIVATION_CHOICES,
    PADDING_CHOICES,
    PRESETS,
    ConvBlock,
    ModelSpec,
)
from core.training import FLIP_UNSAFE_DATASETS, OPTIMIZER_CHOICES, SCHEDULE_CHOICES, TrainConfig

CUSTOM_PRESET = "custom"
DATASET_CHOICES = (*DATASET_NAMES, CUSTOM_DATASET_NAME)
PRESET_CHOICES = (*PRESETS, CUSTOM_PRESET)
# Every name this module reads and writes, in the order links show them. Other modules own
# other names (such as `user`), so the page replaces only these when the setup changes.
PARAMETER_NAMES = (
    "dataset",
    "categories",
    "per_class",
    "preset",
    "architecture",
    "epochs",
    "time_budget",
    "batch_size",
    "learning_rate",
    "optimizer",
    "schedule",
    "train_images",
    "seed",
    "shift",
    "rotation",
    "zoom",
    "flip",
    "outliers",
)
# A pasted value is echoed in the problem sentence; a long one is cut so the message stays short.
MAX_SHOWN_CHARACTERS = 40


def _format_number(value: float) -> str:
    """The shortest plain text that reads back as exactly `value`: 30, 0.001, 0.00001."""
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if value == 0:
        return "0"
    # repr gives the shortest digits that round-trip; Decimal writes them without an exponent.
    return format(Decimal(repr(float(value))).normalize(), "f")


@dataclass(frozen=True)
class NumberRange:
    """The numbers a Train page widget offers, so a link asks for nothing the widget refuses.

    `maximum` None means no upper limit. Use `value in NUMBER_RANGE` to check a value.
    """

    minimum: float
    maximum: float | None
    whole: bool = False

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            return False
        if not math.isfinite(value) or value < self.minimum:
            return False
        if self.maximum is not None and value > self.maximum:
            return False
        return not self.whole or float(value).is_integer()

    @property
    def span(self) -> str:
        """The range in words, such as 'from 1 to 200' or 'from 1 up'."""
        if self.maximum is None:
            return f"from {_format_number(self.minimum)} up"
        return f"from {_format_number(self.minimum)} to {_format_number(self.maximum)}"


# The Train page's widgets should be built from these: Streamlit refuses a widget value outside
# its widget's range, so the link reader and the widgets must agree on one set of limits.
BATCH_SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)
EPOCHS_RANGE = NumberRange(1, 200, whole=True)
TIME_BUDGET_RANGE = NumberRange(5, 3600, whole=True)
LEARNING_RATE_RANGE = NumberRange(0.00001, 10.0)
TRAIN_IMAGES_RANGE = NumberRange(1, None, whole=True)
SEED_RANGE = NumberRange(0, 1_000_000, whole=True)
SHIFT_RANGE = NumberRange(0.0, 0.3)
ROTATION_RANGE = NumberRange(0, 45, whole=True)
ZOOM_RANGE = NumberRange(0.0, 0.3)
OUTLIER_SHARE_RANGE = NumberRange(0.0, 1.0)
PER_CLASS_RANGE = NumberRange(6, 100_000, whole=True)
DROPOUT_RANGE = NumberRange(0.0, 0.8)


def count_training_images(
    num_images: int, *, validation_fraction: float, max_train_images: int | None
) -> int:
    """How many images train: what is left after validation, cut to `max_train_images`.

    The same count as `core.training.split_indices` gives, without splitting any labels.
    """
    left = num_images - int(round(num_images * validation_fraction))
    return left if max_train_images is None else min(left, max_train_images)


def fitting_batch_size(batch_size: int, num_train_images: int) -> int:
    """The largest of BATCH_SIZES at most `batch_size` that the training images can fill.

    Training refuses a batch larger than its images, so a default must never be one; with
    fewer images than the smallest batch size it is that smallest one, and the page says why.
    """
    fitting = [size for size in BATCH_SIZES if size <= min(batch_size, num_train_images)]
    return fitting[-1] if fitting else BATCH_SIZES[0]


@dataclass(frozen=True)
class _NumberSetting:
    """One numeric TrainConfig field and the query parameter that carries it."""

    parameter: str
    field_name: str
    limits: NumberRange
    kind: type
    meaning: str
    # What None means for a field that may be None; a link writes it as 0.
    none_meaning: str = ""


_NUMBER_SETTINGS = (
    _NumberSetting(
        "epochs", "epochs", EPOCHS_RANGE, int, f"a whole number of epochs {EPOCHS_RANGE.span}"
    ),
    _NumberSetting(
        "time_budget",
        "time_budget_seconds",
        TIME_BUDGET_RANGE,
        float,
        f"a whole number of seconds {TIME_BUDGET_RANGE.span} (0 for no budget)",
        none_meaning="no time budget",
    ),
    _NumberSetting(
        "learning_rate",
        "learning_rate",
        LEARNING_RATE_RANGE,
        float,
        f"a learning rate {LEARNING_RATE_RANGE.span}",
    ),
    _NumberSetting(
        "train_images",
        "max_train_images",
        TRAIN_IMAGES_RANGE,
        int,
        "a whole number of training images (0 for all)",
        none_meaning="all training images",
    ),
    _NumberSetting("seed", "seed", SEED_RANGE, int, f"a whole number {SEED_RANGE.span}"),
    _NumberSetting("shift", "shift_fraction", SHIFT_RANGE, float, f"a fraction {SHIFT_RANGE.span}"),
    _NumberSetting(
        "rotation",
        "rotation_degrees",
        ROTATION_RANGE,
        float,
        f"a whole number of degrees {ROTATION_RANGE.span}",
    ),
    _NumberSetting("zoom", "zoom_fraction", ZOOM_RANGE, float, f"a fraction {ZOOM_RANGE.span}"),
    _NumberSetting(
        "outliers",
        "outlier_share",
        OUTLIER_SHARE_RANGE,
        float,
        f"a share of each batch {OUTLIER_SHARE_RANGE.span} (0 for no stray marks)",
    ),
)
# Query parameter -> TrainConfig field, for the settings the page shows.
_CONFIG_FIELDS = {
    "epochs": "epochs",
    "time_budget": "time_budget_seconds",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate",
    "optimizer": "optimizer",
    "schedule": "schedule",
    "train_images": "max_train_images",
    "seed": "seed",
    "shift": "shift_fraction",
    "rotation": "rotation_degrees",
    "zoom": "zoom_fraction",
    "flip": "horizontal_flip",
    "outliers": "outlier_share",
}
_FALSE_WORDS = ("0", "false")
_TRUE_WORDS = ("1", "true")


def _shown(text: str) -> str:
    """A pasted text as messages echo it: cut short, so one long value cannot flood them."""
    if len(text) <= MAX_SHOWN_CHARACTERS:
        return text
    return text[: MAX_SHOWN_CHARACTERS - 1] + "…"


def _choice_list(choices: Sequence[object]) -> str:
    texts = [str(choice) for choice in choices]
    return ", ".join(texts[:-1]) + f" or {texts[-1]}"


def _check_config(config: TrainConfig, dataset: str | None) -> None:
    """Raise ValueError when a link cannot carry `config` or the Train page cannot show it."""
    for setting in _NUMBER_SETTINGS:
        value = getattr(config, setting.field_name)
        if value is None and setting.none_meaning:
            continue
        if value not in setting.limits:
            raise ValueError(
                f"The Train page offers {setting.meaning} for {setting.parameter}; got {value!r}."
            )
    if config.batch_size not in BATCH_SIZES:
        raise ValueError(
            f"The Train page offers batch sizes {_choice_list(BATCH_SIZES)}; "
            f"got {config.batch_size!r}."
        )
    default_fraction = TrainConfig().validation_fraction
    if config.validation_fraction != default_fraction:
        raise ValueError(
            "The Train page has no validation setting, so a link always keeps "
            f"{_format_number(default_fraction)} of the images for validation; "
            f"got {config.validation_fraction!r}."
        )
    if config.horizontal_flip and dataset in FLIP_UNSAFE_DATASETS:
        raise ValueError(
            f"Horizontal flips do not suit {dataset}: a mirrored digit is not a digit any more. "
            "Switch flips off."
        )


@dataclass(frozen=True)
class TrainSetup:
    """Everything the Train page lets a student choose; None leaves that choice to the page.

    `categories` and `per_class` apply to Quick, Draw! only, and the page's own defaults are
    stored as None so links stay short. `architecture` is the custom network, so it needs
    `preset` 'custom'. The config must fit the page's widgets (BATCH_SIZES, EPOCHS_RANGE, ...).
    """

    dataset: str | None = None
    categories: tuple[str, ...] | None = None
    per_class: int | None = None
    preset: str | None = None
    architecture: ModelSpec | None = None
    config: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.dataset is not None and self.dataset not in DATASET_CHOICES:
            raise ValueError(
                f"Unknown dataset {self.dataset!r}; choose {_choice_list(DATASET_CHOICES)}, "
                "or None to let the page choose."
            )
        if self.categories is not None:
            categories = tuple(self.categories)
            object.__setattr__(self, "categories", _checked_categories(categories, self.dataset))
        if self.per_class is not None:
            if self.dataset != "quickdraw":
                raise ValueError("Drawings per category apply to the quickdraw dataset only.")
            if self.per_class not in PER_CLASS_RANGE or not isinstance(
                self.per_class, numbers.Integral
            ):
                raise ValueError(
                    f"Take a whole number of drawings per category {PER_CLASS_RANGE.span}; "
                    f"got {self.per_class!r}."
                )
            if self.per_class == QUICKDRAW_DEFAULT_PER_CLASS:
                object.__setattr__(self, "per_class", None)
        if self.preset is not None and self.preset not in PRESET_CHOICES:
            raise ValueError(
                f"Unknown architecture {self.preset!r}; choose {_choice_list(PRESET_CHOICES)}, "
                "or None to let the page choose."
            )
        if self.architecture is not None:
            if self.preset != CUSTOM_PRESET:
                raise ValueError(
                    f"An architecture of your own needs preset '{CUSTOM_PRESET}'; "
                    f"got preset {self.preset!r}."
                )
            if self.architecture.dropout_rate not in DROPOUT_RANGE:
                raise ValueError(
                    f"The Train page offers dropout {DROPOUT_RANGE.span}; "
                    f"got {self.architecture.dropout_rate!r}."
                )
        _check_config(self.config, self.dataset)


def _checked_categories(categories: tuple[str, ...], dataset: str | None) -> tuple[str, ...] | None:
    """The categories as stored: None for the default ten; raises ValueError for bad ones."""
    if dataset != "quickdraw":
        raise ValueError("Categories apply to the quickdraw dataset only.")
    if not categories:
        raise ValueError("Choose at least one Quick, Draw! category, or None for the default ten.")
    known = set(quickdraw_categories())
    unknown = [category for category in categories if category not in known]
    if unknown:
        raise ValueError(
            f"Unknown Quick, Draw! categories: {', '.join(map(repr, unknown))}. Pick names "
            "from the list of 345 (for example 'cat', 'house', 'The Eiffel Tower')."
        )
    if len(set(categories)) != len(categories):
        raise ValueError("Each Quick, Draw! category may be chosen only once.")
    return None if categories == QUICKDRAW_DEFAULT_CATEGORIES else categories


# --- The architecture as text -------------------------------------------------------------

# Words in an architecture text. Block settings are told apart by their words alone, so a block
# lists only the settings that differ from ConvBlock's defaults, in any order.
_POOLING_WORDS = {"max": "maxpool", "average": "avgpool", "none": "nopool"}
_BATCH_NORM_WORDS = {True: "bn", False: "nobn"}
_HEAD_WORDS = {"flatten": "flatten", "global_average": "gap"}
_BLOCK_WORDS = {
    **{word: ("pooling", pooling) for pooling, word in _POOLING_WORDS.items()},
    **{word: ("batch_norm", batch_norm) for batch_norm, word in _BATCH_NORM_WORDS.items()},
    **{activation: ("activation", activation) for activation in ACTIVATION_CHOICES},
    **{padding: ("padding", padding) for padding in PADDING_CHOICES},
}
_NUMBER_PATTERN = r"(\d{1,9}(?:\.\d+)?|\.\d+)"
ARCHITECTURE_HELP = (
    "Write the blocks then the head, joined by '_': a block is c<filters> with optional "
    "-k<kernel size>, -x<convolutions>, -maxpool/-avgpool/-nopool, -bn/-nobn, "
    f"-{'/-'.join(ACTIVATION_CHOICES)} and -same/-valid; then d<units> per dense layer, "
    "drop<rate>, gap or flatten, and dense-<activation>. For example "
    "'c32_c64-k5-avgpool_d128_drop0.5'."
)


def _encode_block(block: ConvBlock) -> str:
    default = ConvBlock()
    parts = [f"c{block.filters}"]
    if block.kernel_size != default.kernel_size:
        parts.append(f"k{block.kernel_size}")
    if block.convs != default.convs:
        parts.append(f"x{block.convs}")
    if block.pooling != default.pooling:
        parts.append(_POOLING_WORDS[block.pooling])
    if block.batch_norm != default.batch_norm:
        parts.append(_BATCH_NORM_WORDS[block.batch_norm])
    if block.activation != default.activation:
        parts.append(block.activation)
    if block.padding != default.padding:
        parts.append(block.padding)
    return "-".join(parts)


def encode_architecture(spec: ModelSpec) -> str:
    """A short, readable, URL-safe text of a spec, such as 'c16_c32_c64-nopool'.

    Only settings that differ from the defaults are written; see ARCHITECTURE_HELP.
    """
    default = ModelSpec()
    parts = [_encode_block(block) for block in spec.conv_blocks]
    parts += [f"d{units}" for units in spec.dense_units]
    if spec.dropout_rate != default.dropout_rate:
        parts.append(f"drop{_format_number(spec.dropout_rate)}")
    if spec.head != default.head:
        parts.append(_HEAD_WORDS[spec.head])
    if spec.dense_activation != default.dense_activation:
        parts.append(f"dense-{spec.dense_activation}")
    # A spec with nothing to write still needs a word, or the link would carry an empty value.
    return "_".join(parts) or _HEAD_WORDS[spec.head]


class _UnreadableArchitecture(ValueError):
    """A text that breaks the architecture grammar, as opposed to a network that cannot be built."""


def _decode_block(word: str, modifiers: list[str], number: int, part: str) -> ConvBlock:
    shown_part = _shown(part)
    settings: dict[str, object] = {"filters": int(word[1:])}
    for modifier in modifiers:
        if match := re.fullmatch(r"k(\d{1,9})", modifier):
            name, value = "kernel_size", int(match.group(1))
        elif match := re.fullmatch(r"x(\d{1,9})", modifier):
            name, value = "convs", int(match.group(1))
        elif modifier in _BLOCK_WORDS:
            name, value = _BLOCK_WORDS[modifier]
        else:
            raise _UnreadableArchitecture(
                f"In block {number} ('{shown_part}'), '{_shown(modifier)}' is not a block setting."
            )
        if name in settings:
            raise _UnreadableArchitecture(
                f"Block {number} ('{shown_part}') sets its {name.replace('_', ' ')} twice; "
                "keep one."
            )
        settings[name] = value
    try:
        return ConvBlock(**settings)
    except ValueError as error:
        raise ValueError(f"Block {number} ('{shown_part}'): {error}") from error


def _parse_architecture(text: str) -> ModelSpec:
    """The spec of an architecture text; raises ValueError with one short reason."""
    cleaned = text.strip().lower()
    if not cleaned:
        raise _UnreadableArchitecture("The architecture is empty.")
    blocks: list[ConvBlock] = []
    dense_units: list[int] = []
    # Settings of the whole network, each allowed once, with the part that set it.
    network: dict[str, tuple[object, str]] = {}

    def set_once(name: str, value: object, part: str) -> None:
        if name in network:
            raise _UnreadableArchitecture(
                f"The architecture sets the {name.replace('_', ' ')} twice "
                f"('{_shown(network[name][1])}' and '{_shown(part)}'); keep one."
            )
        network[name] = (value, part)

    for position, part in enumerate(cleaned.split("_"), start=1):
        word, *modifiers = part.split("-")
        if re.fullmatch(r"c\d{1,9}", word):
            blocks.append(_decode_block(word, modifiers, len(blocks) + 1, part))
        elif word == "dense" and len(modifiers) == 1 and modifiers[0] in ACTIVATION_CHOICES:
            set_once("dense_activation", modifiers[0], part)
        elif not modifiers and re.fullmatch(r"d\d{1,9}", word):
            dense_units.append(int(word[1:]))
        elif not modifiers and (match := re.fullmatch(f"drop{_NUMBER_PATTERN}", word)):
            set_once("dropout_rate", float(match.group(1)), part)
        elif not modifiers and word in _HEAD_WORDS.values():
            head = next(name for name, head_word in _HEAD_WORDS.items() if head_word == word)
            set_once("head", head, part)
        else:
            raise _UnreadableArchitecture(
                f"Part {position} of the architecture, '{_shown(part)}', is not understood."
            )
    try:
        return ModelSpec(
            conv_blocks=tuple(blocks),
            dense_units=tuple(dense_units),
            **{name: value for name, (value, _) in network.items()},
        )
    except ValueError as error:
        raise ValueError(f"This network cannot be built: {error}") from error


def decode_architecture(text: str) -> ModelSpec:
    """The spec an encode_architecture text describes; raises ValueError for a bad text."""
    try:
        return _parse_architecture(text)
    except _UnreadableArchitecture as error:
        # A broken text gets the whole grammar, so the student can rewrite it.
        raise ValueError(f"{error} {ARCHITECTURE_HELP}") from None


# --- Query parameters ---------------------------------------------------------------------


def _query_texts(params: Mapping[str, str | Sequence[str]]) -> dict[str, str]:
    """This module's parameters as stripped text; a repeated one counts by its last value."""
    texts = {}
    for name in PARAMETER_NAMES:
        value = params.get(name)
        if value is not None and not isinstance(value, str):
            # As with st.query_params[name], the last of repeated values wins.
            value = value[-1] if len(value) else None
        if value is not None and value.strip():
            texts[name] = value.strip()
    return texts


def _problem(parameter: str, text: str, reason: str, fallback: str) -> str:
    return f"{parameter}={_shown(text)} {reason}; {fallback}."


def _default_text(value: object, none_meaning: str = "") -> str:
    if value is None:
        return f"using {none_meaning}"
    if isinstance(value, bool):
        return f"leaving it {'on' if value else 'off'}"
    if isinstance(value, numbers.Real):
        return f"using the default {_format_number(value)}"
    return f"using the default {value}"


def _match_choice(text: str, choices: Sequence[str]) -> str | None:
    """The choice `text` names, ignoring case, or None."""
    by_lower_name = {choice.lower(): choice for choice in choices}
    return by_lower_name.get(text.lower())


def _read_number(text: str, limits: NumberRange) -> float | None:
    """The number in `text` when it lies in `limits`, else None."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number in limits else None


def _read_categories(text: str) -> tuple[str, ...]:
    """Comma-separated category names, matched ignoring case; raises ValueError with a reason."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    by_lower_name = {category.lower(): category for category in quickdraw_categories()}
    unknown = [name for name in names if name.lower() not in by_lower_name]
    if unknown:
        raise ValueError(
            f"names {'a category' if len(unknown) == 1 else 'categories'} Quick, Draw! lacks "
            f"({', '.join(unknown)})"
        )
    categories = tuple(by_lower_name[name.lower()] for name in names)
    if not categories:
        raise ValueError("names no Quick, Draw! category")
    if len(set(categories)) != len(categories):
        raise ValueError("names a category twice")
    return categories


def _read_data_choice(
    texts: Mapping[str, str],
) -> tuple[str | None, tuple[str, ...] | None, int | None, dict[str, str]]:
    """Dataset, Quick, Draw! categories and drawings per category, with their problems."""
    problems: dict[str, str] = {}
    dataset = None
    if "dataset" in texts:
        dataset = _match_choice(texts["dataset"], DATASET_CHOICES)
        if dataset is None:
            problems["dataset"] = _problem(
                "dataset",
                texts["dataset"],
                f"is not one of {_choice_list(DATASET_CHOICES)}",
                "ignoring it",
            )
    categories = None
    per_class = None
    for parameter in ("categories", "per_class"):
        if parameter in texts and dataset != "quickdraw":
            problems[parameter] = _problem(
                parameter, texts[parameter], "applies to dataset=quickdraw only", "ignoring it"
            )
    if dataset != "quickdraw":
        return dataset, categories, per_class, problems
    if "categories" in texts:
        try:
            categories = _read_categories(texts["categories"])
        except ValueError as reason:
            problems["categories"] = _problem(
                "categories", texts["categories"], str(reason), "using the default ten"
            )
        # The default ten are stored as None, as TrainSetup stores them.
        if categories == QUICKDRAW_DEFAULT_CATEGORIES:
            categories = None
    if "per_class" in texts:
        number = _read_number(texts["per_class"], PER_CLASS_RANGE)
        if number is None:
            problems["per_class"] = _problem(
                "per_class",
                texts["per_class"],
                f"is not a whole number of drawings per category {PER_CLASS_RANGE.span}",
                f"using the default {QUICKDRAW_DEFAULT_PER_CLASS}",
            )
        elif number != QUICKDRAW_DEFAULT_PER_CLASS:
            per_class = int(number)
    return dataset, categories, per_class, problems


def _read_network_choice(
    texts: Mapping[str, str],
) -> tuple[str | None, ModelSpec | None, dict[str, str]]:
    """The preset and, for a custom network, its architecture, with their problems."""
    problems: dict[str, str] = {}
    preset = None
    if "preset" in texts:
        preset = _match_choice(texts["preset"], PRESET_CHOICES)
        if preset is None:
            problems["preset"] = _problem(
                "preset",
                texts["preset"],
                f"is not one of {_choice_list(PRESET_CHOICES)}",
                "ignoring it",
            )
    if "architecture" not in texts:
        return preset, None, problems
    text = texts["architecture"]
    if preset not in (None, CUSTOM_PRESET):
        problems["architecture"] = _problem(
            "architecture",
            text,
            f"applies to preset={CUSTOM_PRESET} only",
            f"using the {preset} preset",
        )
        return preset, None, problems
    try:
        architecture = _parse_architecture(text)
    except ValueError as reason:
        problems["architecture"] = _problem(
            "architecture", text, f"was not used ({str(reason).rstrip('.')})", "ignoring it"
        )
        return preset, None, problems
    if architecture.dropout_rate not in DROPOUT_RANGE:
        problems["architecture"] = _problem(
            "architecture",
            text,
            f"has a dropout the page does not offer (it offers {DROPOUT_RANGE.span})",
            "ignoring it",
        )
        return preset, None, problems
    # A network of one's own is the custom preset, whether or not the link names it.
    return CUSTOM_PRESET, architecture, problems


def _read_config(
    texts: Mapping[str, str], dataset: str | None
) -> tuple[TrainConfig, dict[str, str]]:
    """The training settings, each bad one left at TrainConfig's default, with the problems."""
    problems: dict[str, str] = {}
    defaults = TrainConfig()
    values: dict[str, object] = {}
    for setting in _NUMBER_SETTINGS:
        if setting.parameter not in texts:
            continue
        text = texts[setting.parameter]
        # 0 is how a link spells None: no time budget, all training images.
        if setting.none_meaning and _read_number(text, NumberRange(0, 0)) is not None:
            values[setting.field_name] = None
            continue
        number = _read_number(text, setting.limits)
        if number is None:
            problems[setting.parameter] = _problem(
                setting.parameter,
                text,
                f"is not {setting.meaning}",
                _default_text(getattr(defaults, setting.field_name), setting.none_meaning),
            )
        else:
            values[setting.field_name] = setting.kind(number)

    if "batch_size" in texts:
        number = _read_number(texts["batch_size"], NumberRange(1, None, whole=True))
        if number is None or int(number) not in BATCH_SIZES:
            problems["batch_size"] = _problem(
                "batch_size",
                texts["batch_size"],
                f"is not one of the batch sizes {_choice_list(BATCH_SIZES)}",
                _default_text(defaults.batch_size),
            )
        else:
            values["batch_size"] = int(number)

    for parameter, choices in (("optimizer", OPTIMIZER_CHOICES), ("schedule", SCHEDULE_CHOICES)):
        if parameter not in texts:
            continue
        choice = _match_choice(texts[parameter], choices)
        if choice is None:
            problems[parameter] = _problem(
                parameter,
                texts[parameter],
                f"is not one of {_choice_list(choices)}",
                _default_text(getattr(defaults, parameter)),
            )
        else:
            values[parameter] = choice

    if "flip" in texts:
        word = texts["flip"].lower()
        if word not in _FALSE_WORDS + _TRUE_WORDS:
            problems["flip"] = _problem(
                "flip",
                texts["flip"],
                f"is not {_choice_list(_FALSE_WORDS + _TRUE_WORDS)}",
                _default_text(defaults.horizontal_flip),
            )
        elif word in _TRUE_WORDS and dataset in FLIP_UNSAFE_DATASETS:
            problems["flip"] = _problem(
                "flip",
                texts["flip"],
                f"does not suit {dataset} (a mirrored digit is not a digit)",
                "leaving it off",
            )
        else:
            values["horizontal_flip"] = word in _TRUE_WORDS
    # Every value lies within the page's limits, which lie inside TrainConfig's own.
    return TrainConfig(**values), problems


def setup_from_query(
    params: Mapping[str, str | Sequence[str]],
) -> tuple[TrainSetup, list[str]]:
    """The setup a link's query parameters describe, and one sentence per value it ignored.

    Unknown names (such as `user`) are ignored without a word; an empty value counts as absent;
    of a repeated name the last value counts. A bad value never raises: the setting keeps its
    default and its problem is reported, in PARAMETER_NAMES order.
    """
    texts = _query_texts(params)
    dataset, categories, per_class, data_problems = _read_data_choice(texts)
    preset, architecture, network_problems = _read_network_choice(texts)
    config, config_problems = _read_config(texts, dataset)
    problems = {**data_problems, **network_problems, **config_problems}
    setup = TrainSetup(
        dataset=dataset,
        categories=categories,
        per_class=per_class,
        preset=preset,
        architecture=architecture,
        config=config,
    )
    return setup, [problems[name] for name in PARAMETER_NAMES if name in problems]


def _config_text(value: object) -> str:
    if value is None:
        return "0"  # 0 reads back as None: no time budget, all training images.
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, numbers.Real):
        return _format_number(value)
    return str(value)


def query_from_setup(setup: TrainSetup) -> dict[str, str]:
    """A link's query parameters for a setup; settings at their defaults are left out.

    Dataset and preset are written whenever chosen (not None); the rest only when they differ
    from TrainConfig's defaults, so shared links stay short. Numbers are written minimally.
    """
    query: dict[str, str] = {}
    if setup.dataset is not None:
        query["dataset"] = setup.dataset
    if setup.categories is not None:
        query["categories"] = ",".join(setup.categories)
    if setup.per_class is not None:
        query["per_class"] = str(setup.per_class)
    if setup.preset is not None:
        query["preset"] = setup.preset
    if setup.architecture is not None:
        query["architecture"] = encode_architecture(setup.architecture)
    defaults = TrainConfig()
    for parameter, field_name in _CONFIG_FIELDS.items():
        value = getattr(setup.config, field_name)
        if value != getattr(defaults, field_name):
            query[parameter] = _config_text(value)
    return query


__all__ = [
    "ARCHITECTURE_HELP",
    "BATCH_SIZES",
    "CUSTOM_PRESET",
    "DATASET_CHOICES",
    "DROPOUT_RANGE",
    "EPOCHS_RANGE",
    "LEARNING_RATE_RANGE",
    "OUTLIER_SHARE_RANGE",
    "PARAMETER_NAMES",
    "PER_CLASS_RANGE",
    "PRESET_CHOICES",
    "ROTATION_RANGE",
    "SEED_RANGE",
    "SHIFT_RANGE",
    "TIME_BUDGET_RANGE",
    "TRAIN_IMAGES_RANGE",
    "ZOOM_RANGE",
    "NumberRange",
    "TrainSetup",
    "count_training_images",
    "decode_architecture",
    "encode_architecture",
    "fitting_batch_size",
    "query_from_setup",
    "setup_from_query",
]
