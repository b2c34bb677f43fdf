"""Draw: sketch on a canvas and watch the network guess while you draw, Quick, Draw! style."""

from __future__ import annotations

import streamlit as st

from core import session_keys
from core.custom_data import ImageFolderOptions, decode_image
from core.datasets import DATASET_INFO, is_available_locally
from core.drawing import CANVAS_IMAGE_SHAPE, EmptyDrawingError, drawing_style
from core.engine import TrainingRequest
from core.inspection import class_activation
from core.models import DEFAULT_PRESET, PRESETS
from core.plots import drawing_stages_figure, overlay_figure, top_guesses_figure
from core.predictions import commentary, sureness, top_guesses, unfamiliar_message
from core.runs import Run, default_runs_dir, list_runs
from core.strokes import read_drawing
from core.training import QUICK_START_CONFIG
from ui.canvas import (
    CANVAS_COLUMNS,
    canvas_run_choice_ui,
    canvas_side_ui,
    default_brush,
    drawing_canvas,
    is_canvas_run,
)
from ui.convolution import convolution_ui
from ui.engine import start_engine_in_background, submit_training_ui
from ui.frame import leave_pages_directory_mode
from ui.runs import feature_model_cached, load_run_ui
from ui.time_machine import checkpoint_ui, keep_playing
from ui.training import live_training_ui
from ui.user import ask_for_name_ui, current_user

leave_pages_directory_mode()

PAGE = "draw"
CANVAS_KEY = "draw_canvas"


def quick_start_ui() -> None:
    """No run to draw for yet: train the fast default in place, then carry on."""
    job = st.session_state.get(session_keys.TRAINING_JOB)
    if job is not None and (job.running or job.state == "failed"):
        live_training_ui(PAGE)
        return
    start_engine_in_background()
    dataset_name = "mnist" if is_available_locally("mnist") else "digits"
    title = DATASET_INFO[dataset_name].title
    st.info(
        f"There is no trained network for 28x28 drawings yet. Train the fast default on "
        f"{title} now (about {QUICK_START_CONFIG.time_budget_seconds:.0f} seconds), then draw.",
        icon=":material/model_training:",
    )
    user = current_user()
    if user is None:
        ask_for_name_ui("train one")
    if st.button("Train it now", type="primary", key=f"{PAGE}_quick_start", disabled=user is None):
        config = QUICK_START_CONFIG
        request = TrainingRequest(
            dataset_name=dataset_name,
            spec=PRESETS[DEFAULT_PRESET],
            config=config,
            preset=DEFAULT_PRESET,
            owner=user,
        )
        submit_training_ui(request)


def guesses_ui(run: Run, model_input, threshold: float) -> None:
    """The top guess as a metric, what the network would say, and the top five as bars."""
    recognition = run.recognise(model_input)
    familiar = bool(recognition.familiar[0])
    guesses = top_guesses(recognition.probabilities[0], run.class_names, count=5)
    best = guesses[0]
    st.metric(
        "Top guess",
        best.class_name,
        sureness(best.probability, threshold, familiar=familiar),
        delta_color="normal" if familiar and best.probability >= threshold else "inverse",
    )
    if familiar:
        st.write(commentary(guesses, threshold))
    else:
        st.warning(unfamiliar_message(run.dataset, best.class_name), icon=":material/help:")
    if not recognition.calibrated:
        st.caption(
            "This network cannot tell a drawing of something else from its own classes: "
            + (
                "only the finished run was calibrated for that."
                if run.checkpoint_index is not None
                else "it was saved without a calibration (an imported model)."
                if run.record.get("status") == "imported"
                else "it had too few images set aside for validation to calibrate on (at least "
                "20 are needed: a run on your own small collection has fewer)."
            )
        )
    st.plotly_chart(
        top_guesses_figure(guesses, threshold=threshold),
        width="stretch",
        key=f"{PAGE}_guesses_{run.run_dir.name}",
        config={"displayModeBar": False},
    )


def canvas_ui(run: Run, checkpoint: int, other_runs: list[Run], side: int) -> None:
    """The canvas and everything that follows a stroke; reruns alone, not the whole page.

    `run` is the chosen network at the slider's point `checkpoint`; the other runs as they ended;
    `side` the canvas's side in pixels.
    """
    style = drawing_style(run.dataset)
    drawing_column, guess_column = st.columns(CANVAS_COLUMNS)
    brush_key, threshold_key = f"{PAGE}_brush", f"{PAGE}_threshold"
    with drawing_column:
        # The pen scales with the canvas, so a drawing looks the same on any screen.
        result = drawing_canvas(
            CANVAS_KEY, side, stroke_width=st.session_state.get(brush_key, default_brush(side))
        )
        st.caption(
            "Undo, redo, edit and the bin (start again) are in the small toolbar on the "
            "canvas's top edge."
        )
        brush_column, threshold_column = st.columns(2)
        brush_column.slider("Brush size", 4, 60, default_brush(side), key=brush_key)
        threshold = threshold_column.slider(
            "Sure above", 0.3, 0.95, 0.6, 0.05, key=threshold_key,
            help="Under this probability the network says it is not sure.",
        )  # fmt: skip
    image = result.image_data if result is not None else None
    strokes_json = result.json_data if result is not None else None
    try:
        if image is None:
            raise EmptyDrawingError("Nothing is drawn on the canvas yet.")
        stages = read_drawing(image, strokes_json, style=style)
    except EmptyDrawingError:
        st.session_state.pop(session_keys.DRAW_INPUT, None)
        guess_column.info(
            "Nothing drawn yet: draw something on the canvas.", icon=":material/draw:"
        )
        return
    model_input = stages.image.reshape(1, *CANVAS_IMAGE_SHAPE)
    # The Inside page offers the latest drawing as an image to look inside.
    st.session_state[session_keys.DRAW_INPUT] = model_input
    with guess_column:
        guesses_ui(run, model_input, threshold)
    st.markdown("**What the model sees**")
    st.plotly_chart(
        drawing_stages_figure(stages.ink, stages.bounding_box, stages.image),
        width="stretch",
        key=f"{PAGE}_stages",
    )
    recipe = (
        "redrawn from your pen strokes the way Google drew the Quick, Draw! bitmaps: simplified, "
        "its longer side scaled to fill the frame, centred, with the dataset's own pen"
        if stages.read_from == "strokes"
        else "scaled so its longer side fills the frame and centred on its bounding box, as the "
        "Quick, Draw! bitmaps were"
        if style == "quickdraw"
        else "cropped to the ink, its longer side scaled to 20 pixels and centred by its centre "
        "of mass in 28x28, as MNIST's digits were"
    )
    st.caption(
        f"Your drawing is {recipe}. Shrinking the whole canvas instead would leave a tiny, "
        "off-centre drawing the network has never seen."
    )
    # A closed expander still runs what is inside it: tracking it open or shut lets a stroke
    # skip the gradients while nobody looks.
    where_it_looked = st.expander(
        "Where the network looked (Grad-CAM)", key=f"{PAGE}_gradcam_open", on_change="rerun"
    )
    with where_it_looked:
        if where_it_looked.open:
            probe = feature_model_cached(
                str(run.run_dir), run.record.get("created_at", ""), checkpoint, run.model
            )
            heatmap = class_activation(probe, model_input[0])
            st.plotly_chart(
                overlay_figure(model_input[0], heatmap, title="what drove the top guess"),
                width="stretch",
                key=f"{PAGE}_gradcam",
            )
            st.caption(
                "Bright areas raised the top guess the most. The Inside the network page shows "
                "this drawing's feature maps, layer by layer."
            )
    # The convolution view is built only when asked, for the same reason.
    if st.toggle("How a convolution works on your drawing", key=f"{PAGE}_convolution_open"):
        convolution_ui(run.model, model_input[0], PAGE)
    if other_runs:
        st.markdown("**The same drawing, other networks**")
        columns = st.columns(len(other_runs))
        # The drawing is read once per dataset style, however many networks share it.
        inputs = {style: model_input}
        for column, other in zip(columns, other_runs, strict=True):
            other_style = drawing_style(other.dataset)
            if other_style not in inputs:
                inputs[other_style] = read_drawing(
                    image, strokes_json, style=other_style
                ).image.reshape(1, *CANVAS_IMAGE_SHAPE)
            other_input = inputs[other_style]
            other_recognition = other.recognise(other_input)
            other_familiar = bool(other_recognition.familiar[0])
            guess = top_guesses(other_recognition.probabilities[0], other.class_names, count=1)[0]
            # The same "Sure above" threshold as the main guess, so every network is read alike.
            column.metric(
                other.name,
                guess.class_name,
                sureness(guess.probability, threshold, familiar=other_familiar),
                delta_color="normal"
                if other_familiar and guess.probability >= threshold
                else "inverse",
            )
        st.caption("A network only knows its own classes: it always picks one of them.")


def upload_ui(run: Run) -> None:
    """For colour runs (CIFAR-10): a photo instead of a drawing, resized to the model's input."""
    height, width, channels = run.image_shape
    upload = st.file_uploader(
        "A photo (PNG or JPEG)", type=["png", "jpg", "jpeg"], key=f"{PAGE}_photo"
    )
    if upload is None:
        st.info(
            f"This network reads {height}x{width} colour photos: upload one to see its guess.",
            icon=":material/photo_camera:",
        )
        return
    try:
        options = ImageFolderOptions(image_size=height, channels=channels)
        pixels = decode_image(upload.getvalue(), options)
    except ValueError as error:
        st.error(f"This file cannot be read: {error}.", icon=":material/error:")
        return
    left, right = st.columns(2)
    left.image(upload.getvalue(), caption="your photo", width="stretch")
    right.image(pixels, caption=f"what the model sees ({height} x {width})", width=200)
    guesses_ui(run, pixels[None], threshold=0.5)


st.title("Draw")
st.write(
    "Draw on the canvas and the network guesses as you go, like Google's Quick, Draw!; below, "
    "what the network actually sees."
)
summaries = list_runs(default_runs_dir())
if not summaries or not any(is_canvas_run(summary) for summary in summaries):
    quick_start_ui()
    if not summaries:
        st.stop()
choice_column, compare_column = st.columns(CANVAS_COLUMNS)
with choice_column:
    summary = canvas_run_choice_ui(PAGE, summaries)
if summary is None:
    st.stop()
run = load_run_ui(summary)
if run is None:
    st.stop()
# Slide back to the untrained network to see it guess at random, then Play to watch it learn.
point_run, checkpoint = checkpoint_ui(run, PAGE)
if is_canvas_run(summary):
    others = [
        candidate
        for candidate in summaries
        if candidate.run_dir != summary.run_dir and is_canvas_run(candidate)
    ]
    compared = compare_column.multiselect(
        "Compare with",
        [candidate.run_dir for candidate in others],
        format_func=lambda folder: next(c.name for c in others if c.run_dir == folder),
        max_selections=3,
        key=f"{PAGE}_compare",
        help="Send the same drawing to other networks, say one trained on Quick, Draw!.",
    )
    other_runs = [
        loaded
        for loaded in (
            load_run_ui(next(c for c in others if c.run_dir == folder)) for folder in compared
        )
        if loaded is not None
    ]
    side = canvas_side_ui(PAGE)
    st.fragment(canvas_ui)(point_run, checkpoint, other_runs, side)
else:
    upload_ui(point_run)
keep_playing(run, PAGE)
