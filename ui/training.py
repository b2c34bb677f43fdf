"""Widgets several pages share: this session's training job, followed live from the engine."""

from __future__ import annotations

import dataclasses

import streamlit as st

from core import session_keys
from core.engine import TrainingJob, describe_wait
from core.plots import live_curves_figure
from core.training import Progress
from ui.engine import retry_training, training_engine

# How often the page redraws a running job. Each redraw costs the browser a Plotly render on
# the same cores the training uses (bench/bench_classroom.py).
LIVE_REFRESH_SECONDS = 3.0


def queued_ui(job: TrainingJob, page: str) -> None:
    """The student's place in the queue, an estimated wait, and Cancel."""
    engine = training_engine()
    position = engine.queue_position(job)
    wait = engine.estimated_wait_seconds(job)
    left, right = st.columns([4, 1])
    if position is None:
        left.info("Starting on a worker…", icon=":material/hourglass_top:")
    else:
        ahead = "next in line" if position == 1 else f"number {position} in the queue"
        left.info(
            f"The trainers are busy: you are **{ahead}**, {describe_wait(wait)} to wait. "
            "Your time budget starts when your training does.",
            icon=":material/hourglass_top:",
        )
    right.button(
        "Cancel",
        icon=":material/cancel:",
        on_click=engine.cancel,
        args=(job,),
        key=f"{page}_cancel",
        width="stretch",
    )


def last_validation(job: TrainingJob) -> Progress | None:
    """The newest epoch snapshot that carries a validation accuracy: the last measured one."""
    for snapshot in reversed(job.progress):
        if snapshot.kind == "epoch" and snapshot.val_accuracy is not None:
            return snapshot
    return None


def expected_epochs(job: TrainingJob) -> float:
    """How many epochs the job will actually run: a time budget's plan, else its epochs.

    The worker's latest planned step count (a budget shrinks it) over its steps per epoch.
    """
    planned = float(job.request.config.epochs)
    latest = job.latest()
    if latest is None or latest.step < 1 or latest.epoch <= 0:
        return planned
    steps_per_epoch = latest.step / latest.epoch
    return min(planned, max(latest.epoch, latest.total_steps / steps_per_epoch))


def training_progress_ui(job: TrainingJob, page: str) -> None:
    """Progress bar, Stop, metrics and live curves of a running job."""
    latest = job.latest()
    epochs = job.request.config.epochs
    if job.running:
        budget = job.request.config.time_budget_seconds
        left, right = st.columns([4, 1])
        fraction = 0.0 if latest is None else min(latest.step / max(latest.total_steps, 1), 1)
        text = "Starting: loading the data and building the model…"
        if latest is not None:
            if budget and expected_epochs(job) < epochs:
                # The budget ends the run first: say how far it will get, not the cap.
                text = f"Epoch {latest.epoch:.1f} of about {expected_epochs(job):.1f}"
            else:
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
            on_click=training_engine().stop,
            args=(job,),
            key=f"{page}_stop",
            disabled=job.stop_requested,
            width="stretch",
            help="Ends training after the current batch; the model so far is kept.",
        )
    if job.worker:
        st.caption(f"Training on worker {job.worker}, {job.device or 'device unknown'}.")
    if latest is None:
        return
    columns = st.columns(5)
    columns[0].metric("Loss", f"{latest.loss:.4f}")
    columns[1].metric("Training accuracy", f"{latest.accuracy:.2%}")
    validated = last_validation(job)
    columns[2].metric(
        "Validation accuracy",
        "not yet" if validated is None else f"{validated.val_accuracy:.2%}",
        help="Measured on held-out training images at the end of each full epoch; "
        + (
            "the first comes after epoch 1."
            if validated is None
            else f"this is the last one, after epoch {validated.epoch:.0f}."
        ),
    )
    columns[3].metric("Images per second", f"{latest.images_per_second:,.0f}")
    columns[4].metric("Elapsed", f"{latest.elapsed_seconds:,.0f} s")
    batch_points = [dataclasses.asdict(point) for point in job.progress if point.kind == "batch"]
    epoch_points = [dataclasses.asdict(point) for point in job.progress if point.kind == "epoch"]
    st.plotly_chart(
        live_curves_figure(batch_points, epoch_points, planned_epochs=expected_epochs(job)),
        width="stretch",
        key=f"{page}_live_curves",
    )


def finished_ui(job: TrainingJob, page: str) -> None:
    """How the job ended: the saved run, a failure with Retry, or a cancellation."""
    if job.state == "failed":
        st.error(job.error, icon=":material/error:")
        st.button("Retry", icon=":material/replay:", on_click=retry_training, key=f"{page}_retry")
        return
    if job.state == "cancelled":
        st.info("Cancelled: nothing was trained or saved.", icon=":material/cancel:")
        return
    record = job.record or {}
    status = record.get("status")
    message = str(record.get("message") or "")
    summary = (
        f"{message} Saved as run **{record.get('name', job.run_dir.name)}**; open it on the "
        "Evaluate page or draw for it on the Draw page."
    )
    if status == "diverged":
        st.error(message, icon=":material/trending_up:")
    elif status == "learned_nothing":
        st.error(
            f"{message} The run is saved as **{record.get('name', job.run_dir.name)}** for a "
            "look inside.",
            icon=":material/trending_flat:",
        )
    elif status == "stopped":
        st.warning(summary, icon=":material/stop_circle:")
    else:
        st.success(summary, icon=":material/check_circle:")
    if record.get("test_accuracy") is not None:
        columns = st.columns(4)
        columns[0].metric("Test accuracy", f"{record['test_accuracy']:.2%}")
        columns[1].metric("Training time", f"{record.get('train_seconds') or 0:,.1f} s")
        columns[2].metric("Images per second", f"{record.get('images_per_second') or 0:,.0f}")
        columns[3].metric("Device", str(record.get("device")))
        st.caption(f"Trained on worker {record.get('worker') or 'unknown'}.")


def live_training_ui(page: str) -> None:
    """This session's job: its place in the queue, then live progress, then its result."""
    job: TrainingJob | None = st.session_state.get(session_keys.TRAINING_JOB)
    if job is None:
        return

    @st.fragment(run_every=LIVE_REFRESH_SECONDS if job.running else None)
    def progress_fragment() -> None:
        if job.state == "queued":
            queued_ui(job, page)
        elif job.state in ("running", "saving") or job.progress:
            training_progress_ui(job, page)
        if not job.running and not st.session_state.get(session_keys.TRAINING_JOB_SHOWN):
            # The job just ended: rerun the whole page once so the runs table shows it.
            st.session_state[session_keys.TRAINING_JOB_SHOWN] = True
            st.rerun(scope="app")

    progress_fragment()
    if not job.running:
        finished_ui(job, page)
