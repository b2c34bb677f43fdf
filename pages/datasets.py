"""Datasets: a gallery of every dataset, with samples, class balance, mean images and pixels."""

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
    dataset_bytes,
    is_available_locally,
    load_dataset,
    missing_files_message,
    quickdraw_categories,
    resolve_data_dir,
)
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

MOSAIC_GAP = 2


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


def gallery_statistics(dataset: Dataset) -> dict:
    """Class counts, mean images and the pixel histogram of a dataset."""
    return {
        "train_counts": class_counts(dataset.y_train, dataset.num_classes),
        "test_counts": class_counts(dataset.y_test, dataset.num_classes),
        "means": class_mean_images(dataset.x_train, dataset.y_train, dataset.num_classes),
        "histogram": pixel_histogram(dataset.x_train),
    }


@st.cache_data(max_entries=8, show_spinner=False)
def shared_gallery_statistics(choice: DatasetChoice, _dataset: Dataset) -> dict:
    """gallery_statistics once per built-in dataset, shared by every session."""
    return gallery_statistics(_dataset)


def dataset_choice_ui() -> DatasetChoice:
    """The dataset picker; for Quick, Draw! also the categories and drawings per category."""
    data_dir = str(resolve_data_dir())
    # Open on a dataset that is already here, so a first visit never starts a download.
    local = [name for name in DATASET_NAMES if is_available_locally(name, data_dir)]
    name = st.selectbox(
        "Dataset",
        (*DATASET_NAMES, CUSTOM_DATASET_NAME),
        index=DATASET_NAMES.index(local[0]),
        format_func=lambda key: DATASET_INFO[key].title,
        key="datasets_name",
        help=f"Data folder: {data_dir} (set CONVLAB_DATA_DIR to change it).",
    )
    if name != "quickdraw":
        return DatasetChoice(name=name, data_dir=data_dir)
    left, right = st.columns([3, 1])
    categories = left.multiselect(
        "Categories",
        quickdraw_categories(),
        default=list(QUICKDRAW_DEFAULT_CATEGORIES),
        key="datasets_categories",
        help="Each category's drawings are fetched once and kept in the data folder.",
    )
    per_class = right.number_input(
        "Drawings per category",
        min_value=6,
        max_value=100_000,
        value=QUICKDRAW_DEFAULT_PER_CLASS,
        step=500,
        key="datasets_per_class",
    )
    return DatasetChoice(name, tuple(categories), int(per_class), data_dir)


def load_dataset_ui(choice: DatasetChoice) -> Dataset | None:
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
                kwargs={"datasets_name": "digits"},
            )
        return None


def custom_dataset_ui() -> Dataset | None:
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
        key="datasets_custom_size",
    )
    colour = right.radio(
        "Colour", ["Grayscale", "Colour (RGB)"], horizontal=True, key="datasets_custom_colour"
    )
    upload = st.file_uploader("Images (.zip)", type=["zip"], key="datasets_custom_upload")
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


def summary_ui(dataset: Dataset) -> None:
    info = DATASET_INFO[dataset.name]
    height, width, channels = dataset.image_shape
    columns = st.columns(5)
    columns[0].metric("Image size", f"{height} x {width}")
    columns[1].metric("Channels", "1 (gray)" if channels == 1 else f"{channels} (RGB)")
    columns[2].metric("Classes", dataset.num_classes)
    columns[3].metric("Training images", f"{len(dataset.x_train):,}")
    columns[4].metric("Test images", f"{len(dataset.x_test):,}")
    source = f"[{info.source}]({info.source_url})" if info.source_url else info.source
    st.caption(
        f"{info.description} Source: {source}. Licence: {info.licence}."
        f" In memory: {dataset_bytes(dataset) / 1e6:,.0f} MB of uint8."
    )


def samples_ui(dataset: Dataset) -> None:
    left, right = st.columns([3, 1])
    per_class = left.slider("Samples per class", 4, 24, 12, key="datasets_samples_per_class")
    if right.button("Reshuffle", icon=":material/shuffle:", key="datasets_reshuffle"):
        st.session_state[session_keys.GALLERY_SEED] = (
            st.session_state.get(session_keys.GALLERY_SEED, 0) + 1
        )
    seed = st.session_state.get(session_keys.GALLERY_SEED, 0)
    indices = sample_indices(dataset.y_train, dataset.num_classes, per_class, seed=seed)
    mosaic = image_mosaic(dataset.x_train, indices, gap=MOSAIC_GAP)
    figure = sample_grid_figure(
        mosaic, dataset.class_names, image_height=dataset.image_shape[0], gap=MOSAIC_GAP
    )
    st.plotly_chart(figure, width="stretch", key="datasets_samples")


st.title("Datasets")
st.write(
    "A network only knows what its data shows it. Look at each class: how much do its images "
    "vary, and which classes could be confused?"
)
choice = dataset_choice_ui()
if choice.name == "quickdraw" and len(choice.categories or ()) < 2:
    st.warning("Choose at least two categories to compare.", icon=":material/warning:")
    st.stop()
if choice.name == CUSTOM_DATASET_NAME:
    dataset = custom_dataset_ui()
else:
    dataset = load_dataset_ui(choice)
if dataset is None:
    st.stop()
summary_ui(dataset)
# A user's own upload is small and private: its statistics never enter the shared cache.
if choice.name == CUSTOM_DATASET_NAME:
    statistics = gallery_statistics(dataset)
else:
    statistics = shared_gallery_statistics(choice, dataset)
samples_tab, balance_tab, means_tab, pixels_tab = st.tabs(
    ["Samples", "Class balance", "Mean images", "Pixel intensities"]
)
with samples_tab:
    samples_ui(dataset)
with balance_tab:
    st.plotly_chart(
        class_balance_figure(
            statistics["train_counts"], statistics["test_counts"], dataset.class_names
        ),
        width="stretch",
        key="datasets_balance",
    )
    st.caption("A balanced dataset has about as many images of each class.")
with means_tab:
    st.plotly_chart(
        mean_images_figure(statistics["means"], dataset.class_names),
        width="stretch",
        key="datasets_means",
    )
    st.caption(
        "The average of every training image of a class: sharp where the class is consistent, "
        "blurred where its images vary."
    )
with pixels_tab:
    log_scale = st.toggle("Log scale", value=True, key="datasets_log_scale")
    st.plotly_chart(
        pixel_histogram_figure(statistics["histogram"], log_scale=log_scale),
        width="stretch",
        key="datasets_pixels",
    )
    st.caption(
        "Drawings and digits are mostly black background with a few bright strokes; photos use "
        "the whole range. The model rescales 0-255 to 0-1 inside itself."
    )
