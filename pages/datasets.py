"""Datasets: a gallery of every dataset, with samples, class balance, mean images and pixels."""

import streamlit as st

from core import session_keys
from core.custom_data import CUSTOM_DATASET_NAME
from core.datasets import DATASET_INFO, Dataset, dataset_bytes
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
from ui.datasets import DatasetChoice, custom_dataset_ui, dataset_choice_ui, load_dataset_ui
from ui.frame import leave_pages_directory_mode

leave_pages_directory_mode()

MOSAIC_GAP = 2
PAGE = "datasets"


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
choice = dataset_choice_ui(PAGE)
if choice.name == "quickdraw" and len(choice.categories or ()) < 2:
    st.warning("Choose at least two categories to compare.", icon=":material/warning:")
    st.stop()
if choice.name == CUSTOM_DATASET_NAME:
    dataset = custom_dataset_ui(PAGE)
else:
    dataset = load_dataset_ui(choice, PAGE)
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
