"""Widgets several pages share: this session's background training run, shown live."""

from __future__ import annotations

import dataclasses

import streamlit as st

from core import session_keys
from core.jobs import TrainingJob
from core.plots import live_curves_figure


def live_training_ui(page: str) -> None:
    """Progress, live curves and the Stop button of this session's run, then its result."""
    job: TrainingJob | None = st.session_state.get(session_keys.TRAINING_JOB)
    if job is None:
        return

    @st.fragment(run_every=1.0 if job.running else None)
    def progress_fragment() -> None:
        latest = job.latest()
        epochs = job.request.config.epochs
        if job.running:
            budget = job.request.config.time_budget_seconds
            left, right = st.columns([4, 1])
            fraction = 0.0 if latest is None else min(latest.step / max(latest.total_steps, 1), 1)
            text = "Starting: building the model and the data pipeline…"
            if latest is not None:
                text = f"Epoch {latest.epoch:.1f} of {epochs}"
                if latest.seconds_left is not None:
                    text += f", about {latest.seconds_left:,.0f} s left"
                if budget:
                    text += f" (budget {budget:,.0f} s)"
            if job.state == "saving":
                text = "Evaluating on the test set and saving the run…"
            left.progress(fraction, text=text)
            right.button(
                "Stop",
                icon=":material/stop_circle:",
                on_click=job.stop,
                key=f"{page}_stop",
                disabled=job.stop_event.is_set(),
                width="stretch",
            )
        if latest is not None:
            validation = job.latest("epoch")
            columns = st.columns(5)
            columns[0].metric("Loss", f"{latest.loss:.4f}")
            columns[1].metric("Training accuracy", f"{latest.accuracy:.2%}")
            val_accuracy = validation.val_accuracy if validation else None
            columns[2].metric(
                "Validation accuracy", "…" if val_accuracy is None else f"{val_accuracy:.2%}"
            )
            columns[3].metric("Images per second", f"{latest.images_per_second:,.0f}")
            columns[4].metric("Elapsed", f"{latest.elapsed_seconds:,.0f} s")
            batch_points = [dataclasses.asdict(p) for p in job.progress if p.kind == "batch"]
            epoch_points = [dataclasses.asdict(p) for p in job.progress if p.kind == "epoch"]
            st.plotly_chart(
                live_curves_figure(batch_points, epoch_points, planned_epochs=epochs),
                width="stretch",
                key=f"{page}_live_curves",
            )
        if not job.running and not st.session_state.get(session_keys.TRAINING_JOB_SHOWN):
            # The run just ended: rerun the whole page once so the runs table shows it.
            st.session_state[session_keys.TRAINING_JOB_SHOWN] = True
            st.rerun(scope="app")

    progress_fragment()
    if job.state == "failed":
        st.error(job.error, icon=":material/error:")
    elif job.state == "finished" and job.result is not None:
        result = job.result
        summary = (
            f"{result.message} Saved as run **{job.run_dir.name}**; open it on the Evaluate "
            "page or draw for it on the Draw page."
        )
        if result.status == "diverged":
            st.error(result.message, icon=":material/trending_up:")
        elif result.status == "stopped":
            st.warning(summary, icon=":material/stop_circle:")
        else:
            st.success(summary, icon=":material/check_circle:")
        if result.test_accuracy is not None:
            columns = st.columns(4)
            columns[0].metric("Test accuracy", f"{result.test_accuracy:.2%}")
            columns[1].metric("Training time", f"{result.train_seconds:,.1f} s")
            columns[2].metric("Images per second", f"{result.images_per_second:,.0f}")
            columns[3].metric("Device", result.device)
