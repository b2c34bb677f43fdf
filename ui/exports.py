"""Downloads of a saved run: the .keras model, and SavedModel and TFLite built on a worker."""

from __future__ import annotations

import streamlit as st

from core.engine import SideTask
from core.exports import export_file_names
from core.runs import RunSummary, model_file_path
from core.timeline import LOGS_DIR_NAME
from ui.engine import training_engine_ui

EXPORTS = {
    "saved_model": ("SavedModel (.zip)", "application/zip", 0),
    "tflite": ("TFLite (.tflite)", "application/octet-stream", 1),
}


def _task_key(page: str, kind: str) -> str:
    return f"{page}_export_{kind}"


def _start_export(page: str, kind: str, run_dir: str) -> None:
    engine = training_engine_ui()
    if engine is not None:
        st.session_state[_task_key(page, kind)] = engine.submit_export(run_dir, kind)


@st.fragment(run_every=1.0)
def _export_progress_ui(label: str, task: SideTask) -> None:
    """A building export's progress, redrawn each second; the whole page reruns once it ends."""
    if not task.running:
        st.rerun()
    waiting = "waiting for a free worker" if task.state == "queued" else "building"
    st.progress(task.fraction_done(), text=f"{label}: {waiting}…")


def _export_ui(page: str, kind: str, run: RunSummary) -> None:
    """One export's button, then its progress, then its download."""
    label, mime, _ = EXPORTS[kind]
    task: SideTask | None = st.session_state.get(_task_key(page, kind))
    if task is not None and task.run_id != run.run_id:
        task = None  # Made for another run.
    if task is None:
        st.button(
            f"Prepare {label}",
            key=f"{page}_prepare_{kind}",
            on_click=_start_export,
            args=(page, kind, str(run.run_dir)),
            width="stretch",
        )
    elif task.running:
        _export_progress_ui(label, task)
    elif task.state == "failed":
        st.error(f"{label} could not be built: {task.error}", icon=":material/error:")
        st.button(
            "Try again",
            key=f"{page}_retry_{kind}",
            on_click=_start_export,
            args=(page, kind, str(run.run_dir)),
        )
    else:
        file_name = export_file_names(run.name)[EXPORTS[kind][2]]
        st.download_button(
            f"Download {label}",
            data=task.result["bytes"],
            file_name=file_name,
            mime=mime,
            key=f"{page}_download_{kind}",
            icon=":material/download:",
            width="stretch",
        )


def downloads_ui(page: str, run: RunSummary) -> None:
    """The run's model as .keras at once; as SavedModel or TFLite once a worker has built it."""
    st.markdown("**Take the model with you**")
    keras_column, saved_model_column, tflite_column = st.columns(3)
    keras_column.download_button(
        "Download .keras",
        data=model_file_path(run.run_dir).read_bytes(),
        file_name=f"{run.run_id}.keras",
        mime="application/octet-stream",
        key=f"{page}_download",
        icon=":material/download:",
        width="stretch",
    )
    with saved_model_column:
        _export_ui(page, "saved_model", run)
    with tflite_column:
        _export_ui(page, "tflite", run)
    logs = run.run_dir / LOGS_DIR_NAME
    if logs.is_dir():
        st.caption(
            "Keras loads the .keras file; TensorFlow Serving and `tf.saved_model.load` the "
            "SavedModel (signature `serve`, float32 pixels 0-255); phones and microcontrollers "
            "the TFLite file. Training curves and weight histograms for TensorBoard are in "
            f"`{logs}`: run `pip install tensorboard` then `tensorboard --logdir "
            f"{run.run_dir.parent}`."
        )
