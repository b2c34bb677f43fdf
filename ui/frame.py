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
        if not st.session_state.get(FRAME_SHOWN):
            st.session_state[FRAME_SHOWN] = True
            st.rerun()
