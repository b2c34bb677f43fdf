"""Widgets several pages share: picking a saved run, loading it and its test data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

from core import session_keys
from core.custom_data import CUSTOM_DATASET_NAME
from core.datasets import Dataset, resolve_data_dir
from core.runs import Run, RunSummary, default_runs_dir, list_runs, load_run
from ui.datasets import DatasetChoice, load_dataset_ui

if TYPE_CHECKING:
    from core.inspection import FeatureModel


# A loaded model is shared and never changed, so one copy serves every session.
@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def load_run_cached(run_dir: str, created_at: str) -> Run:
    """load_run once per run; created_at keys the cache so a replaced folder reloads."""
    return load_run(run_dir)


def run_choice_ui(
    page: str,
    *,
    label: str = "Run",
    runs: list[RunSummary] | None = None,
    key: str | None = None,
    prefer: str | None = None,
) -> RunSummary | None:
    """Pick a saved run by its id; None (with a hint) when there is none.

    The picker follows the runs folder: a run this session just made is chosen once, a
    renamed run keeps its place under its new name, and a deleted one is never still shown.
    Until the user picks, it shows the run `prefer` names, or the newest when that is None.
    """
    runs = list_runs(default_runs_dir()) if runs is None else runs
    if not runs:
        st.info(
            "No saved runs yet: train a network on the Train page first.",
            icon=":material/model_training:",
        )
        st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
        return None
    key = key or f"{page}_run"
    by_id = {summary.run_id: summary for summary in runs}
    job = st.session_state.get(session_keys.TRAINING_JOB)
    latest = getattr(getattr(job, "run_dir", None), "name", None)
    seen_key = f"{key}_latest_seen"
    if latest in by_id and st.session_state.get(seen_key) != latest:
        st.session_state[key] = latest
        st.session_state[seen_key] = latest
    if st.session_state.get(key) not in by_id:
        # Deleted, or never chosen: start on the preferred or newest run, not on a stale id.
        if prefer in by_id:
            st.session_state[key] = prefer
        else:
            st.session_state.pop(key, None)
    chosen = st.selectbox(
        label, list(by_id), format_func=lambda run_id: run_label(by_id[run_id]), key=key
    )
    return by_id[chosen]


def run_label(summary: RunSummary) -> str:
    """How a run reads in pickers: name, accuracy, dataset and maker."""
    text = summary.name
    accuracy = "" if summary.test_accuracy is None else f"{summary.test_accuracy:.1%}"
    # Default names already end with the accuracy; renamed runs get it back here.
    if accuracy and accuracy not in text:
        text += f" ({accuracy})"
    return f"{text} · {summary.dataset} · {summary.owner or 'teacher'}"


def load_run_ui(summary: RunSummary) -> Run | None:
    try:
        return load_run_cached(str(summary.run_dir), summary.created_at)
    except (OSError, ValueError) as error:
        st.error(f"This run cannot be loaded: {error}", icon=":material/error:")
        return None


def run_dataset_ui(run: Run, page: str) -> Dataset | None:
    """The dataset a run was trained on, loaded the way the Datasets page loads it."""
    described = run.record.get("dataset") or {}
    if run.dataset == CUSTOM_DATASET_NAME:
        stored = st.session_state.get(session_keys.CUSTOM_DATASET)
        if stored is None or stored[1].class_names != run.class_names:
            st.info(
                "This run was trained on uploaded images: upload the same .zip on the Datasets "
                "page to evaluate it.",
                icon=":material/upload:",
            )
            return None
        return stored[1]
    categories = described.get("categories")
    choice = DatasetChoice(
        name=run.dataset,
        categories=tuple(categories) if categories else None,
        per_class=described.get("per_class"),
        data_dir=str(resolve_data_dir()),
    )
    return load_dataset_ui(choice, page)


# One probe model per point of a run, shared and never changed, like the run's own model.
# Room for every point of a run or two, so Play does not rebuild them on each pass.
@st.cache_resource(max_entries=24, show_spinner="Preparing the probes…")
def feature_model_cached(
    run_dir: str, created_at: str, checkpoint: int, _model: Any
) -> FeatureModel:
    """build_feature_model once per run and checkpoint index (the run's own point is the last).

    created_at keys it so a replaced run folder rebuilds.
    """
    from core.inspection import build_feature_model

    return build_feature_model(_model)


def run_and_dataset_ui(page: str) -> tuple[RunSummary, Run, Dataset] | None:
    """Pick a run, load it and the test data it was trained on; None after saying why not."""
    summary = run_choice_ui(page)
    if summary is None:
        return None
    run = load_run_ui(summary)
    if run is None:
        return None
    dataset = run_dataset_ui(run, page)
    if dataset is None:
        return None
    if tuple(dataset.x_test.shape[1:]) != run.image_shape:
        st.error(
            f"The run's model takes {run.image_shape} images but the dataset's are "
            f"{tuple(dataset.x_test.shape[1:])}: the data changed since training.",
            icon=":material/error:",
        )
        return None
    return summary, run, dataset
