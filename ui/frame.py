"""Keeps pages inside dashboard.py's frame, even after a deep link to a fresh server."""

import streamlit as st

FRAME_SHOWN = "frame_shown"


def mark_frame_shown() -> None:
    """dashboard.py calls this once its navigation and sidebar are drawn."""
    st.session_state[FRAME_SHOWN] = True


def leave_pages_directory_mode() -> None:
    """End Streamlit's older pages/ mode for this server process.

    A fresh server whose first visitor opens a deep link (say /train) runs that page on its
    own, in Streamlit's older pages/ mode: no shared sidebar, every file of pages/ listed.
    That mode ends for the whole process as soon as anything calls st.navigation, which
    dashboard.py does on every run but does not get to do here. So the page ends it, and on
    a session's first run (a page load, which carries no click that a rerun would drop) it
    reruns at once through dashboard.py. Streamlit keeps the switch in
    PagesManager.uses_pages_directory (checked with Streamlit 1.67).
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
    # Every session whose first run skipped the frame reruns, not only the one that ended
    # the mode: students opening the same link at once on a fresh server all started in it.
    if not st.session_state.get(FRAME_SHOWN):
        st.session_state[FRAME_SHOWN] = True
        st.rerun()


def keep_keras_session() -> None:
    """Stop Streamlit from clearing the Keras session after every script run.

    Streamlit calls keras.backend.clear_session() when a run ends (script_runner's
    _clean_problem_modules). A training on a background thread, still using that session,
    then dies with a segmentation fault inside TensorFlow: seen here training CIFAR-10 from
    the Train page while its progress fragment reran (faulthandler showed clear_session on the
    script thread and model.fit on the training thread). Convlab keeps models in its caches
    and jobs, not in Keras's global state, so the clearing buys nothing here.
    """
    from streamlit.runtime.scriptrunner import script_runner

    script_runner._clean_problem_modules = _keep_problem_modules


def _keep_problem_modules() -> None:
    """Stands in for Streamlit's cleanup: Convlab has no module state to clear between runs."""
