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
    page: str, *, label: str = "Run", runs: list[RunSummary] | None = None
) -> RunSummary | None:
    """Pick a saved run, this session's latest first; None (with a hint) when there is none."""
    runs = list_runs(default_runs_dir()) if runs is None else runs
    if not runs:
        st.info(
            "No saved runs yet: train a network on the Train page first.",
            icon=":material/model_training:",
        )
        st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
        return None
    job = st.session_state.get(session_keys.TRAINING_JOB)
    latest = getattr(job, "run_dir", None)
    folders = [summary.run_dir for summary in runs]
    index = folders.index(latest) if latest in folders else 0
    labels = {}
    for summary in runs:
        label_text = summary.name
        accuracy = "" if summary.test_accuracy is None else f"{summary.test_accuracy:.1%}"
        # Default names already end with the accuracy; renamed runs get it back here.
        if accuracy and accuracy not in label_text:
            label_text += f" ({accuracy})"
        labels[summary.run_dir] = f"{label_text} · {summary.dataset}"
    chosen = st.selectbox(
        label, folders, index=index, format_func=labels.__getitem__, key=f"{page}_run"
    )
    return next(summary for summary in runs if summary.run_dir == chosen)


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


# One probe model per run, shared and never changed, like the run's own model.
@st.cache_resource(max_entries=4, show_spinner="Preparing the probes…")
def feature_model_cached(run_dir: str, created_at: str, _model: Any) -> FeatureModel:
    """build_feature_model once per run; created_at keys it so a replaced run folder rebuilds."""
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
