"""The training engine of this server process, shared by every session, and its widgets."""

from __future__ import annotations

import os
import threading

import streamlit as st

from core import session_keys
from core.engine import SCHEDULER_ENVIRONMENT_VARIABLE, TrainingEngine, TrainingRequest

# Held here rather than in st.cache_resource: clearing Streamlit's caches must never drop the
# jobs in flight, nor leave a cluster running that nobody follows. One per scheduler address.
_ENGINES: dict[str, TrainingEngine] = {}
_ENGINES_LOCK = threading.Lock()
EARLY_START_ENVIRONMENT_VARIABLE = "CONVLAB_START_ENGINE_EARLY"


def training_engine() -> TrainingEngine:
    """The engine for $CONVLAB_DASK_SCHEDULER, or for a local cluster started on first use."""
    address = os.environ.get(SCHEDULER_ENVIRONMENT_VARIABLE, "")
    with _ENGINES_LOCK:
        engine = _ENGINES.get(address)
        if engine is None:
            engine = TrainingEngine.start(address or None)
            _ENGINES[address] = engine
        return engine


def started_engine() -> TrainingEngine | None:
    """The engine if it is already running; never starts one."""
    return _ENGINES.get(os.environ.get(SCHEDULER_ENVIRONMENT_VARIABLE, ""))


def start_engine_in_background() -> None:
    """Start the engine on a thread, so the workers are up before the first Train click.

    Pages that can start a training call this; $CONVLAB_START_ENGINE_EARLY=0 turns it off
    (the page tests do, so only the tests that train start a cluster).
    """
    address = os.environ.get(SCHEDULER_ENVIRONMENT_VARIABLE, "")
    if os.environ.get(EARLY_START_ENVIRONMENT_VARIABLE, "1") == "0":
        return
    if address in _ENGINES or _ENGINES_LOCK.locked():
        return

    def start() -> None:
        try:
            training_engine()
        except Exception:  # The page says what went wrong when someone presses Train.
            pass

    threading.Thread(target=start, name="convlab-engine-start", daemon=True).start()


def training_engine_ui() -> TrainingEngine | None:
    """The engine, or None after saying why trainings cannot start."""
    try:
        with st.spinner("Starting the training workers…"):
            return training_engine()
    except Exception as error:  # Any failure to reach a cluster means the same to a student.
        address = os.environ.get(SCHEDULER_ENVIRONMENT_VARIABLE)
        where = f"the cluster at {address}" if address else "the local training workers"
        st.error(
            f"Trainings cannot start: {where} did not answer ({error.__class__.__name__}). "
            "Pages and saved runs still work; ask your teacher to check the cluster.",
            icon=":material/cloud_off:",
        )
        return None


def submit_training_ui(request: TrainingRequest) -> None:
    """Queue a training for this session and rerun, so the page follows it."""
    engine = training_engine_ui()
    if engine is None:
        return
    st.session_state[session_keys.TRAINING_JOB] = engine.submit(request)
    st.session_state[session_keys.TRAINING_JOB_SHOWN] = False
    st.rerun()


def retry_training() -> None:
    """A button callback: submit this session's failed job again."""
    job = st.session_state.get(session_keys.TRAINING_JOB)
    if job is None:
        return
    st.session_state[session_keys.TRAINING_JOB] = training_engine().retry(job)
    st.session_state[session_keys.TRAINING_JOB_SHOWN] = False
