"""Inside the network: what each layer of a trained CNN makes of one image, and where it looks."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from core import session_keys
from core.datasets import Dataset
from core.inspection import (
    FeatureModel,
    class_activation,
    feature_maps,
    filter_strengths,
    first_layer_filters,
    saliency,
)
from core.plots import (
    feature_maps_figure,
    filter_strengths_figure,
    filters_figure,
    image_grid_figure,
    overlay_figure,
)
from core.predictions import no_evidence_message, top_guesses
from core.runs import Run
from ui.convolution import convolution_ui
from ui.embedding import embedding_ui
from ui.frame import leave_pages_directory_mode
from ui.runs import feature_model_cached, run_and_dataset_ui
from ui.time_machine import checkpoint_label, checkpoint_ui, keep_playing

leave_pages_directory_mode()

PAGE = "inside"
TOP_CLASSES = 3
# Class pickers offer the labels themselves: a selectbox remembers the label the user chose,
# and one computed from data (a class number, the predicted class's name) would go stale.
ANY_CLASS = "Any class"
PREDICTED_CLASS = "The predicted class"


@dataclass(frozen=True)
class PickedImage:
    """The image to look inside: uint8 (h, w, c) pixels, its true class (None for a drawing)."""

    pixels: np.ndarray
    label: int | None
    description: str


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


def network_name(run: Run, checkpoint: int) -> str:
    """Who answers: 'The network', 'The untrained network', 'The network at epoch 1.5'."""
    epochs = run.checkpoints
    if checkpoint >= len(epochs) - 1:
        return "The network"
    label = checkpoint_label(epochs, checkpoint)
    return "The untrained network" if label == "untrained" else f"The network at {label}"


def prediction_ui(
    picked: PickedImage, probabilities: np.ndarray, class_names: tuple[str, ...], who: str
) -> None:
    """The network's top guesses for the picked image, and whether it got it right."""
    guesses = top_guesses(probabilities, class_names, count=TOP_CLASSES)
    best = guesses[0]
    verdict = ""
    if picked.label is not None:
        true_name = class_names[picked.label]
        verdict = ": right" if best.class_name == true_name else f", but it is {true_name}"
    st.markdown(f"{who} says **{best.class_name}** ({best.probability:.1%}){verdict}")
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
    nothing_to_show = no_evidence_message(name, float(probabilities[class_index]))
    if nothing_to_show is not None:
        # Grad-CAM stretches whatever is left to full scale: a map here would show only noise.
        st.info(nothing_to_show, icon=":material/visibility_off:")
        return
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


st.title("Inside the network")
st.write(
    "Open a trained network up: see what each layer makes of one image, the patterns its "
    "filters look for, where it looks to decide, and how it arranges all the test images."
)
picked_run = run_and_dataset_ui(PAGE)
if picked_run is None:
    st.stop()
summary, run, dataset = picked_run
# Everything but the map shows the network at the slider's point: untrained, along the way, end.
point_run, checkpoint = checkpoint_ui(run, PAGE)
try:
    feature_model = feature_model_cached(
        str(summary.run_dir), summary.created_at, checkpoint, point_run.model
    )
except ValueError as error:
    st.error(f"There is nothing to look inside: {error}", icon=":material/error:")
    st.stop()

picker_column, image_column, prediction_column = st.columns([3, 1, 2])
with picker_column:
    picked = image_choice_ui(run, dataset)
probabilities = point_run.predict(picked.pixels)[0]
image_column.plotly_chart(
    image_grid_figure(picked.pixels[np.newaxis], [picked.description]),
    width="stretch",
    key=f"{PAGE}_image",
)
with prediction_column:
    prediction_ui(picked, probabilities, run.class_names, network_name(run, checkpoint))

maps_tab, convolution_tab, attention_tab, filters_tab, embedding_tab = st.tabs(
    ["Feature maps", "How a convolution works", "Where it looks", "Filters", "Embedding"]
)
with maps_tab:
    feature_maps_ui(feature_model, picked)
with convolution_tab:
    convolution_ui(point_run.model, picked.pixels, PAGE)
with attention_tab:
    class_activation_ui(feature_model, picked, probabilities, run.class_names)
with filters_tab:
    filters_ui(point_run)
with embedding_tab:
    if checkpoint < len(run.checkpoints) - 1:
        st.caption(
            "The map shows the network as it ended, whatever the slider says: placing every "
            "test image takes seconds, too long to follow the slider."
        )
    embedding_ui(summary, run, dataset, PAGE, show_test_image)
keep_playing(run, PAGE)
