"""Evaluate: where a trained network goes wrong, class by class and image by image."""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

from core.datasets import Dataset
from core.evaluation import (
    Evaluation,
    cell_indices,
    evaluate,
    evaluation_from_probabilities,
    highest_loss_indices,
    image_titles,
    most_confused_pairs,
    most_confused_table,
)
from core.plots import (
    confusion_matrix_figure,
    image_grid_figure,
    live_curves_figure,
    timeline_figure,
    training_curves_figure,
)
from core.runs import Run
from core.timeline import Timeline, matches_test_set
from ui.frame import leave_pages_directory_mode
from ui.runs import run_and_dataset_ui
from ui.time_machine import checkpoint_label, checkpoint_ui, keep_playing

leave_pages_directory_mode()

PAGE = "evaluate"
GALLERY_SIZE = 24


@st.cache_data(max_entries=8, show_spinner="Classifying every test image…")
def evaluation_cached(run_dir: str, created_at: str, _run: Run, _dataset: Dataset) -> Evaluation:
    """evaluate once per run: the test set and the model never change for a saved run."""
    return evaluate(_run.model, _dataset.x_test, _dataset.y_test, class_names=_run.class_names)


@st.cache_data(max_entries=8, show_spinner=False)
def timeline_cached(run_dir: str, created_at: str, _run: Run) -> Timeline | None:
    """The run's stored time line, read once: what it said at each point on a test sample."""
    return _run.timeline()


@st.cache_data(max_entries=32, show_spinner=False)
def evaluation_at_point_cached(
    run_dir: str, created_at: str, index: int, _timeline: Timeline, _run: Run
) -> Evaluation:
    """The evaluation at one kept point, from stored probabilities: no model runs."""
    return evaluation_from_probabilities(
        _timeline.labels, _timeline.probabilities[index], _run.class_names
    )


def history_columns(history: list[dict]) -> dict[str, list[float]]:
    """The record's per-epoch entries as Keras-style lists, complete epochs only."""
    entries = [entry for entry in history if entry.get("complete", True)]
    keys = ("loss", "accuracy", "val_loss", "val_accuracy")
    return {
        key: [entry.get(key) for entry in entries]
        for key in keys
        if any(entry.get(key) is not None for entry in entries)
    }


def confusion_ui(evaluation: Evaluation, images: np.ndarray) -> None:
    st.subheader("Confusion matrix")
    st.caption(
        "Rows are the true classes, columns what the network said. The diagonal is right; "
        "**click any cell** to see those test images."
    )
    normalize = st.toggle("Show each row as shares", key=f"{PAGE}_normalize")
    figure = confusion_matrix_figure(
        evaluation.confusion, evaluation.class_names, normalize=normalize
    )
    event = st.plotly_chart(
        figure,
        width="content",
        on_select="rerun",
        selection_mode="points",
        key=f"{PAGE}_confusion",
    )
    points = event.selection.points if event and event.selection else []
    if not points:
        pairs = most_confused_pairs(evaluation.confusion, limit=1)
        if not pairs:
            st.caption("No mistakes on the test set.")
            return
        true_class, predicted_class, _ = pairs[0]
        st.caption("Showing the most confused pair until you click a cell.")
    else:
        # Points run row by row, so the point's index names its cell.
        true_class, predicted_class = divmod(int(points[0]["point_index"]), evaluation.num_classes)
    indices = cell_indices(evaluation, true_class, predicted_class)
    true_name = evaluation.class_names[true_class]
    predicted_name = evaluation.class_names[predicted_class]
    verb = "read correctly as" if true_class == predicted_class else "taken for"
    st.markdown(
        f"**{len(indices):,} test images of {true_name} {verb} {predicted_name}**"
        + (f", the {GALLERY_SIZE} most confident first:" if len(indices) > GALLERY_SIZE else ":")
    )
    if len(indices):
        shown = indices[:GALLERY_SIZE]
        st.plotly_chart(
            image_grid_figure(images[shown], image_titles(evaluation, shown)),
            width="stretch",
            key=f"{PAGE}_cell_gallery",
        )


st.title("Evaluate")
st.write(
    "Accuracy is one number; the mistakes teach more. See which classes the network confuses, "
    "look at the very images it got wrong, and how sure it was."
)
picked_run = run_and_dataset_ui(PAGE)
if picked_run is None:
    st.stop()
summary, run, dataset = picked_run
run_key = (str(summary.run_dir), summary.created_at)
point_run, point = checkpoint_ui(run, PAGE)
at_end = point == len(run.checkpoints) - 1
timeline = timeline_cached(*run_key, run)
if timeline is not None and not matches_test_set(timeline.indices, timeline.labels, dataset.y_test):
    timeline = None  # The test set changed since the run was saved (an upload made again).
if at_end:
    evaluation = evaluation_cached(*run_key, run, dataset)
    images = dataset.x_test
elif timeline is not None:
    evaluation = evaluation_at_point_cached(*run_key, point, timeline, run)
    images = dataset.x_test[timeline.indices]
else:
    evaluation = evaluation_cached(f"{run_key[0]}#{point}", run_key[1], point_run, dataset)
    images = dataset.x_test
point_name = checkpoint_label(run.checkpoints, point)
if timeline is not None:
    st.plotly_chart(
        timeline_figure(
            timeline.epochs, timeline.accuracies, point, num_classes=len(run.class_names)
        ),
        width="stretch",
        key=f"{PAGE}_timeline",
    )
    st.caption(
        f"Accuracy on the same {len(timeline.indices):,} test images at each point where the "
        "network was kept. Slide back, or press Play, to watch the confusion matrix clear."
    )
if not at_end:
    sample = "" if images is dataset.x_test else f" on {len(images):,} of the test images"
    st.info(
        f"You are looking at the network **{point_name}**{sample}. Slide to the end to see the "
        "finished run on the whole test set.",
        icon=":material/history:",
    )

columns = st.columns(4)
columns[0].metric("Test accuracy", f"{evaluation.accuracy:.2%}")
columns[1].metric("Test images", f"{len(evaluation.labels):,}")
columns[2].metric("Mistakes", f"{int((evaluation.predictions != evaluation.labels).sum()):,}")
columns[3].metric("Classes", evaluation.num_classes)

confusion_tab, classes_tab, errors_tab, history_tab = st.tabs(
    ["Confusion matrix", "Per class", "Worst mistakes", "Training and record"]
)
with confusion_tab:
    confusion_ui(evaluation, images)
with classes_tab:
    st.caption(
        "Precision: of the images called this class, the share that are. Recall: of the images "
        "of this class, the share found. F1 balances the two. Click a column to sort."
    )
    st.dataframe(
        evaluation.per_class,
        hide_index=True,
        width="stretch",
        column_config={
            name: st.column_config.NumberColumn(format="percent")
            for name in ("precision", "recall", "f1")
        },
        key=f"{PAGE}_per_class",
    )
    st.markdown("**Most confused pairs**")
    st.dataframe(most_confused_table(evaluation), hide_index=True, width="stretch")
with errors_tab:
    st.caption(
        "The test images with the highest loss: wrong and sure of it. Some are mislabelled or "
        "truly ambiguous."
    )
    worst = highest_loss_indices(evaluation, count=GALLERY_SIZE)
    st.plotly_chart(
        image_grid_figure(images[worst], image_titles(evaluation, worst)),
        width="stretch",
        key=f"{PAGE}_worst",
    )
with history_tab:
    history = history_columns(run.record.get("history") or [])
    batch_points = run.record.get("batch_points") or []
    if history:
        st.plotly_chart(training_curves_figure(history), width="stretch", key=f"{PAGE}_curves")
    elif batch_points:
        st.plotly_chart(live_curves_figure(batch_points, []), width="stretch", key=f"{PAGE}_curves")
        st.caption(
            "This run was shorter than one epoch, so it was never validated: these are its "
            "training batches, by fraction of an epoch."
        )
    else:
        st.caption("This run recorded no training curves (an imported model).")
    record = run.record
    st.caption(
        f"Trained on {record.get('device', 'an unknown device')} for "
        f"{record.get('train_seconds') or 0:,.1f} s ({record.get('epochs') or 0:.1f} epochs), "
        f"status {record.get('status')}."
    )
    with st.expander("The run's full record (JSON)"):
        st.code(json.dumps(record, indent=2)[:20_000], language="json")

keep_playing(run, PAGE)
