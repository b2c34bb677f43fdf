"""Inside the network: what each layer of a trained CNN makes of one image, and where it looks."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from core import session_keys
from core.datasets import Dataset
from core.gallery import sample_indices
from core.inspection import (
    FeatureModel,
    class_activation,
    embedding,
    feature_maps,
    filter_strengths,
    first_layer_filters,
    saliency,
)
from core.plots import (
    embedding_figure,
    feature_maps_figure,
    filter_strengths_figure,
    filters_figure,
    image_grid_figure,
    overlay_figure,
)
from core.predictions import top_guesses
from core.runs import Run, RunSummary
from ui.frame import leave_pages_directory_mode
from ui.runs import feature_model_cached, run_and_dataset_ui

leave_pages_directory_mode()

PAGE = "inside"
TOP_CLASSES = 3
EMBEDDING_MIN_IMAGES = 100
EMBEDDING_MAX_IMAGES = 5000
EMBEDDING_DEFAULT_IMAGES = 1000
SELECTION_GALLERY_SIZE = 16
# Class pickers offer the labels themselves: a selectbox remembers the label the user chose,
# and one computed from data (a class number, the predicted class's name) would go stale.
ANY_CLASS = "Any class"
PREDICTED_CLASS = "The predicted class"
# The (run folder, sample size) the user asked a t-SNE map for; any other sample shows PCA until
# the button is pressed again, since t-SNE takes seconds. Not a widget: a button sets it.
TSNE_REQUEST = f"{PAGE}_tsne_request"


@dataclass(frozen=True)
class PickedImage:
    """The image to look inside: uint8 (h, w, c) pixels, its true class (None for a drawing)."""

    pixels: np.ndarray
    label: int | None
    description: str


def embedding_sample(labels: np.ndarray, num_classes: int, count: int) -> np.ndarray:
    """About `count` test indices, the same number from each class, in test-set order.

    Some test sets are stored class by class, so their first images would show one class only.
    """
    per_class = max(1, -(-count // num_classes))
    chosen = sample_indices(labels, num_classes, per_class, seed=0).ravel()
    return np.sort(chosen[chosen >= 0])


# t-SNE takes seconds, so its map is kept; the sample is part of it, so clicks map back.
@st.cache_data(max_entries=8, show_spinner="Placing the test images on a map…")
def embedding_cached(
    run_dir: str, created_at: str, count: int, method: str, _run: Run, _dataset: Dataset
) -> tuple[np.ndarray, np.ndarray]:
    """The test indices of the sample and their 2-D points (n, 2)."""
    indices = embedding_sample(_dataset.y_test, len(_run.class_names), count)
    return indices, embedding(_run.model, _dataset.x_test[indices], method=method)


def keep_choice_valid(key: str, options: list) -> None:
    """Start a widget on its first option, and go back there once another run rules out its value.

    Set through session state, not deleted from it, so the browser shows the change too.
    Selectboxes need none of this: Streamlit resets a value missing from their options itself.
    """
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[0]


def pick_random_image(key: str, count: int) -> None:
    """Jump to another image among `count`, never the one already shown."""
    current = int(st.session_state.get(key, 0))
    if count < 2:
        st.session_state[key] = 0
        return
    choice = random.randrange(count - 1)
    st.session_state[key] = choice + 1 if choice >= current else choice


def show_test_image(index: int) -> None:
    """Make the image picker show test image `index` (from a click on the embedding)."""
    st.session_state[f"{PAGE}_source"] = "test"
    st.session_state[f"{PAGE}_filter"] = ANY_CLASS
    st.session_state[f"{PAGE}_index"] = index


def drawing_fits(drawing: Any, image_shape: tuple[int, ...]) -> bool:
    return (
        isinstance(drawing, np.ndarray)
        and drawing.dtype == np.uint8
        and tuple(drawing.shape) == (1, *image_shape)
    )


def dataset_image_ui(dataset: Dataset, class_names: tuple[str, ...]) -> PickedImage:
    """Pick a test image by number, optionally among one class only, or at random."""
    filter_key, index_key = f"{PAGE}_filter", f"{PAGE}_index"
    class_options = [ANY_CLASS, *class_names]
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    class_filter = left.selectbox(
        "Class",
        class_options,
        key=filter_key,
        help="Only pick among the test images of this class.",
    )
    candidates = np.arange(len(dataset.y_test))
    if class_filter != ANY_CLASS:
        members = np.flatnonzero(dataset.y_test == class_names.index(class_filter))
        if len(members):
            candidates = members
        else:
            st.caption(f"No test image is a {class_filter}: showing them all.")
    last = len(candidates) - 1
    if not 0 <= st.session_state.get(index_key, 0) <= last:
        st.session_state[index_key] = 0
    right.button(
        "Random image",
        icon=":material/casino:",
        on_click=pick_random_image,
        args=(index_key, len(candidates)),
        key=f"{PAGE}_random",
        width="stretch",
    )
    position = st.number_input(
        f"Image number (0 to {last:,})",
        min_value=0,
        max_value=last,
        step=1,
        key=index_key,
        help="Counts the test images of the chosen class, or all of them for any class.",
    )
    index = int(candidates[position])
    label = int(dataset.y_test[index])
    return PickedImage(
        pixels=dataset.x_test[index],
        label=label,
        description=f"test image #{index:,} ({class_names[label]})",
    )


def image_choice_ui(run: Run, dataset: Dataset) -> PickedImage:
    """A test image, or the drawing the Draw page left in this session when it fits the model."""
    drawing = st.session_state.get(session_keys.DRAW_INPUT)
    source = "test"
    if drawing is not None and drawing_fits(drawing, run.image_shape):
        source = st.radio(
            "Look at",
            ["test", "drawing"],
            format_func={"test": "A test image", "drawing": "My drawing"}.__getitem__,
            horizontal=True,
            key=f"{PAGE}_source",
        )
    elif drawing is not None:
        st.caption(
            f"Your drawing from the Draw page is {tuple(np.shape(drawing))[1:]}, but this run's "
            f"model takes {run.image_shape} images: pick a run trained on such images to see it."
        )
    if source == "drawing":
        return PickedImage(drawing[0], None, "your drawing from the Draw page")
    return dataset_image_ui(dataset, run.class_names)


def prediction_ui(
    picked: PickedImage, probabilities: np.ndarray, class_names: tuple[str, ...]
) -> None:
    """The network's top guesses for the picked image, and whether it got it right."""
    guesses = top_guesses(probabilities, class_names, count=TOP_CLASSES)
    best = guesses[0]
    verdict = ""
    if picked.label is not None:
        true_name = class_names[picked.label]
        verdict = ": right" if best.class_name == true_name else f", but it is {true_name}"
    st.markdown(f"The network says **{best.class_name}** ({best.probability:.1%}){verdict}")
    st.dataframe(
        {
            "class": [guess.class_name for guess in guesses],
            "probability": [guess.probability for guess in guesses],
        },
        hide_index=True,
        width="stretch",
        column_config={
            "probability": st.column_config.ProgressColumn(
                format="percent", min_value=0.0, max_value=1.0
            )
        },
        key=f"{PAGE}_guesses",
    )


@st.fragment
def feature_maps_ui(feature_model: FeatureModel, picked: PickedImage) -> None:
    maps = feature_maps(feature_model, picked.pixels)
    names = list(maps)
    first, last = names[0], names[-1]
    path = (
        f"{first} is {'×'.join(map(str, maps[first].shape))}, "
        f"{last} {'×'.join(map(str, maps[last].shape))} (height × width × channels)"
    )
    st.caption(
        "Each small square is one channel: what one filter found where in the image, yellow "
        "where it responds strongly, dark blue where it does not. Step through the layers: "
        "the first ones react to strokes and edges at full size, each pooling halves the size, "
        "and deeper layers keep fewer pixels but more channels, each a more abstract pattern. "
        f"Here: {path}."
    )
    layer_key = f"{PAGE}_layer"
    keep_choice_valid(layer_key, names)
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    # Every layer's name in view, in model order, so a student can step through them.
    layer = left.segmented_control(
        "Layer, from the image to the classifier",
        names,
        required=True,
        key=layer_key,
        help="Convolution, normalisation, activation and pooling layers, in model order.",
    )
    shared_scale = right.toggle(
        "Shared colour scale",
        key=f"{PAGE}_shared_scale",
        help="Off: each channel is stretched to its own range, so weak patterns still show. "
        "On: one scale for all, so you can compare how strongly channels respond.",
    )
    height, width, channels = maps[layer].shape
    st.plotly_chart(
        feature_maps_figure(
            maps[layer],
            shared_scale=shared_scale,
            title=f"{layer}: {height}×{width} pixels, {channels} channels",
        ),
        width="stretch",
        key=f"{PAGE}_maps",
    )


@st.fragment
def class_activation_ui(
    feature_model: FeatureModel,
    picked: PickedImage,
    probabilities: np.ndarray,
    class_names: tuple[str, ...],
) -> None:
    st.caption(
        "**Grad-CAM** weighs the last convolution's feature maps by how much each raises the "
        "class's score: warm areas hold the evidence, at that layer's coarse resolution. "
        "**Saliency** marks the single pixels whose change would move the score most: finer, "
        "noisier. Pick a class the network did not choose to see what speaks for it."
    )
    predicted = int(np.argmax(probabilities))
    target_key = f"{PAGE}_target"
    options = [PREDICTED_CLASS, *class_names]
    target = st.selectbox(
        "Explain the class",
        options,
        key=target_key,
    )
    class_index = predicted if target == PREDICTED_CLASS else class_names.index(target)
    name = class_names[class_index]
    role = "the predicted class" if class_index == predicted else "not the predicted class"
    st.markdown(
        f"Explaining **{name}**, {role}, with probability {probabilities[class_index]:.1%}."
    )
    activation = class_activation(feature_model, picked.pixels, class_index)
    gradients = saliency(feature_model, picked.pixels, class_index)
    left, right = st.columns(2)
    left.plotly_chart(
        overlay_figure(
            picked.pixels,
            activation,
            title=f"Grad-CAM for {name} ({feature_model.last_convolution_name})",
        ),
        width="stretch",
        key=f"{PAGE}_grad_cam",
    )
    right.plotly_chart(
        overlay_figure(picked.pixels, gradients, title=f"saliency for {name}"),
        width="stretch",
        key=f"{PAGE}_saliency",
    )


def filters_ui(run: Run) -> None:
    st.caption(
        "The first layer's filters are the small pixel patterns slid over the image: light is "
        "a positive weight, dark a negative one, mid grey zero. A light side next to a dark "
        "side detects an edge running that way; compare them with the first layer's feature "
        "maps."
    )
    st.plotly_chart(filters_figure(first_layer_filters(run.model)), key=f"{PAGE}_filters")
    strengths = filter_strengths(run.model)
    if not strengths:
        st.caption("This network has a single convolution layer.")
        return
    st.caption(
        "Deeper filters look at many channels at once, so they make no picture. Their mean "
        "absolute weight shows which filters matter: a filter near zero barely contributes."
    )
    st.plotly_chart(
        filter_strengths_figure(strengths), width="stretch", key=f"{PAGE}_filter_strengths"
    )


def embedding_size_ui(total: int) -> int:
    """How many test images to place on the map: a slider, or all of a small test set."""
    if total <= EMBEDDING_MIN_IMAGES:
        return total
    largest = min(EMBEDDING_MAX_IMAGES, total)
    size_key = f"{PAGE}_embedding_size"
    # The default goes through session state, which also repairs a value another run's
    # larger test set left behind.
    if not EMBEDDING_MIN_IMAGES <= st.session_state.get(size_key, 0) <= largest:
        st.session_state[size_key] = min(EMBEDDING_DEFAULT_IMAGES, largest)
    return st.slider(
        "Test images on the map",
        EMBEDDING_MIN_IMAGES,
        largest,
        step=100,
        key=size_key,
    )


def selected_images(event: Any, image_count: int) -> list[int]:
    """Test indices of the points selected on the map (each point's customdata)."""
    points = event.selection.points if event and event.selection else []
    indices = []
    for point in points:
        value = point.get("customdata")
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None and 0 <= int(value) < image_count:
            indices.append(int(value))
    return indices


@st.fragment
def embedding_ui(summary: RunSummary, run: Run, dataset: Dataset) -> None:
    st.caption(
        "Each dot is a test image, placed by the activations of the layer before the "
        "classifier: what the last layer gets to decide from. Separate clusters mean the "
        "layers before have made the classes easy to tell apart; a dot inside another class's "
        "cluster is an image the network mixes up. **Click a dot, or drag a box**, to see the "
        "images."
    )
    total = len(dataset.y_test)
    if total < 3:
        st.info("A map needs at least 3 test images.", icon=":material/info:")
        return
    count = embedding_size_ui(total)
    sample_name = (str(summary.run_dir), count)
    method = "tsne" if st.session_state.get(TSNE_REQUEST) == sample_name else "pca"
    left, right = st.columns([3, 1], vertical_alignment="center")
    if method == "tsne":
        left.caption(
            "**t-SNE** keeps neighbours together: the clusters mean something, but not the "
            "distances between them or their sizes."
        )
        right.button(
            "Back to PCA",
            on_click=st.session_state.pop,
            args=(TSNE_REQUEST, None),
            key=f"{PAGE}_pca",
            width="stretch",
        )
    else:
        left.caption(
            "**PCA** shows the two directions along which the activations vary most: faithful "
            "but crowded. t-SNE separates clusters better and takes a few seconds."
        )
        right.button(
            "Run t-SNE",
            icon=":material/scatter_plot:",
            on_click=st.session_state.__setitem__,
            args=(TSNE_REQUEST, sample_name),
            key=f"{PAGE}_tsne",
            width="stretch",
        )
    try:
        sample, points = embedding_cached(
            str(summary.run_dir), summary.created_at, count, method, run, dataset
        )
    except ValueError as error:
        st.info(f"No map for this network: {error}", icon=":material/info:")
        return
    figure = embedding_figure(
        points,
        dataset.y_test[sample],
        run.class_names,
        title=f"{len(sample):,} test images by {'t-SNE' if method == 'tsne' else 'PCA'}",
    )
    # The figure numbers the points by their place in the sample; number them by test image
    # instead, so the hover, the gallery and the image picker name an image alike.
    for trace in figure.data:
        trace.customdata = sample[np.asarray(trace.customdata)]
    event = st.plotly_chart(
        figure,
        width="stretch",
        on_select="rerun",
        selection_mode=("points", "box", "lasso"),
        # One chart per sample: a selection made on another run's map means other images.
        key=f"{PAGE}_embedding_{summary.run_dir.name}_{count}",
    )
    selected = selected_images(event, len(dataset.y_test))
    if not selected:
        st.caption("Nothing selected yet.")
        return
    chosen = np.asarray(selected[:SELECTION_GALLERY_SIZE])
    predictions = run.predict(dataset.x_test[chosen]).argmax(axis=1)
    names = run.class_names
    titles = [
        f"#{index:,}: {names[dataset.y_test[index]]}"
        + ("" if predicted == dataset.y_test[index] else f" → {names[predicted]}")
        for index, predicted in zip(chosen, predictions, strict=True)
    ]
    more = f", the first {len(chosen)} shown" if len(selected) > len(chosen) else ""
    st.markdown(
        f"**{len(selected):,} selected{more}**: true class, then the network's guess if wrong."
    )
    st.plotly_chart(
        image_grid_figure(dataset.x_test[chosen], titles),
        width="stretch",
        key=f"{PAGE}_selected",
    )
    if st.button(
        f"Look inside test image #{chosen[0]:,}",
        icon=":material/visibility:",
        on_click=show_test_image,
        args=(int(chosen[0]),),
        key=f"{PAGE}_open_selected",
    ):
        # The picker sits outside this fragment: the whole page shows the new image.
        st.rerun()


st.title("Inside the network")
st.write(
    "Open a trained network up: see what each layer makes of one image, the patterns its "
    "filters look for, where it looks to decide, and how it arranges all the test images."
)
picked_run = run_and_dataset_ui(PAGE)
if picked_run is None:
    st.stop()
summary, run, dataset = picked_run
try:
    feature_model = feature_model_cached(str(summary.run_dir), summary.created_at, run.model)
except ValueError as error:
    st.error(f"There is nothing to look inside: {error}", icon=":material/error:")
    st.stop()

picker_column, image_column, prediction_column = st.columns([3, 1, 2])
with picker_column:
    picked = image_choice_ui(run, dataset)
probabilities = run.predict(picked.pixels)[0]
image_column.plotly_chart(
    image_grid_figure(picked.pixels[np.newaxis], [picked.description]),
    width="stretch",
    key=f"{PAGE}_image",
)
with prediction_column:
    prediction_ui(picked, probabilities, run.class_names)

maps_tab, attention_tab, filters_tab, embedding_tab = st.tabs(
    ["Feature maps", "Where it looks", "Filters", "Embedding"]
)
with maps_tab:
    feature_maps_ui(feature_model, picked)
with attention_tab:
    class_activation_ui(feature_model, picked, probabilities, run.class_names)
with filters_tab:
    filters_ui(run)
with embedding_tab:
    embedding_ui(summary, run, dataset)
