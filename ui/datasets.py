"""Widgets several pages share: choosing, loading and uploading a dataset."""

from dataclasses import dataclass

import streamlit as st

from core import session_keys
from core.custom_data import CUSTOM_DATASET_NAME, ImageFolderOptions, load_image_zip
from core.datasets import (
    DATASET_INFO,
    DATASET_NAMES,
    QUICKDRAW_DEFAULT_CATEGORIES,
    QUICKDRAW_DEFAULT_PER_CLASS,
    Dataset,
    DatasetError,
    is_available_locally,
    load_dataset,
    missing_files_message,
    quickdraw_categories,
    resolve_data_dir,
)


@dataclass(frozen=True)
class DatasetChoice:
    """What the user picked: enough to load the dataset and to key its caches."""

    name: str
    categories: tuple[str, ...] | None = None
    per_class: int | None = None
    data_dir: str = ""


# Datasets live in a resource cache: st.cache_data would pickle a fresh copy of up to 180 MB
# on every rerun. The arrays are read-only, so sessions can share them safely.
@st.cache_resource(max_entries=3, show_spinner=False)
def load_dataset_cached(choice: DatasetChoice) -> Dataset:
    # The progress bar is made inside the cached function so Streamlit can replay it (empty).
    progress_bar = st.empty()

    def show_progress(fraction: float, message: str) -> None:
        progress_bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    try:
        return load_dataset(
            choice.name,
            data_dir=choice.data_dir,
            categories=choice.categories,
            per_class=choice.per_class,
            progress=show_progress,
        )
    finally:
        progress_bar.empty()


def dataset_choice_ui(
    page: str, *, include_custom: bool = True, start: DatasetChoice | None = None
) -> DatasetChoice:
    """The dataset picker; for Quick, Draw! also the categories and drawings per category.

    `page` prefixes the widget keys, so each page keeps its own choice. `start` (from a
    link) sets what the widgets first show.
    """
    data_dir = str(resolve_data_dir())
    names = (*DATASET_NAMES, CUSTOM_DATASET_NAME) if include_custom else DATASET_NAMES
    # Open on a dataset that is already here, so a first visit never starts a download.
    local = [name for name in DATASET_NAMES if is_available_locally(name, data_dir)]
    first = start.name if start is not None and start.name in names else local[0]
    name = st.selectbox(
        "Dataset",
        names,
        index=names.index(first),
        format_func=lambda key: DATASET_INFO[key].title,
        key=f"{page}_name",
        help=f"Data folder: {data_dir} (set CONVLAB_DATA_DIR to change it).",
    )
    if name != "quickdraw":
        return DatasetChoice(name=name, data_dir=data_dir)
    left, right = st.columns([3, 1])
    categories = left.multiselect(
        "Categories",
        quickdraw_categories(),
        default=list((start and start.categories) or QUICKDRAW_DEFAULT_CATEGORIES),
        key=f"{page}_categories",
        help="Each category's drawings are fetched once and kept in the data folder.",
    )
    per_class = right.number_input(
        "Drawings per category",
        min_value=6,
        max_value=100_000,
        value=(start and start.per_class) or QUICKDRAW_DEFAULT_PER_CLASS,
        step=500,
        key=f"{page}_per_class",
    )
    return DatasetChoice(name, tuple(categories), int(per_class), data_dir)


def load_dataset_ui(choice: DatasetChoice, page: str) -> Dataset | None:
    """Load with a progress bar; on failure say what went wrong and what to do."""
    try:
        return load_dataset_cached(choice)
    except DatasetError as error:
        st.error(str(error), icon=":material/error:")
        st.info(missing_files_message(choice.name, choice.data_dir), icon=":material/help:")
        if choice.name != "digits":
            st.button(
                "Show the offline Digits dataset instead",
                on_click=st.session_state.update,
                kwargs={f"{page}_name": "digits"},
                key=f"{page}_use_digits",
            )
        return None


def custom_dataset_ui(page: str) -> Dataset | None:
    """Upload a .zip of class folders; the dataset stays in this session only."""
    st.write(
        "Upload a **.zip with one folder per class** (for example `cats/` and `dogs/`), each "
        "holding PNG or JPEG images. They are resized to a square and split into training and "
        "test images."
    )
    left, right = st.columns(2)
    size = left.select_slider(
        "Image size",
        [16, 28, 32, 48, 64],
        value=ImageFolderOptions.image_size,
        key=f"{page}_custom_size",
    )
    colour = right.radio(
        "Colour", ["Grayscale", "Colour (RGB)"], horizontal=True, key=f"{page}_custom_colour"
    )
    upload = st.file_uploader("Images (.zip)", type=["zip"], key=f"{page}_custom_upload")
    if upload is None:
        return None
    try:
        options = ImageFolderOptions(image_size=size, channels=1 if colour == "Grayscale" else 3)
    except ValueError as error:
        st.error(str(error))
        return None
    upload_key = (upload.file_id, options)
    stored = st.session_state.get(session_keys.CUSTOM_DATASET)
    if stored is None or stored[0] != upload_key:
        try:
            with st.spinner("Reading your images…"):
                dataset, report = load_image_zip(upload.getvalue(), options)
        except DatasetError as error:
            st.error(str(error), icon=":material/error:")
            return None
        stored = (upload_key, dataset, report)
        st.session_state[session_keys.CUSTOM_DATASET] = stored
    _, dataset, report = stored
    if report.skipped:
        with st.expander(f"{len(report.skipped)} files were skipped"):
            st.dataframe(
                {
                    "file": [name for name, _ in report.skipped],
                    "why": [reason for _, reason in report.skipped],
                },
                hide_index=True,
            )
    return dataset
