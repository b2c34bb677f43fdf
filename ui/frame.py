"""Keeps pages inside dashboard.py's frame, even after a deep link to a fresh server."""


def leave_pages_directory_mode() -> None:
    """End Streamlit's older pages/ mode for this server process.

    A fresh server whose first visitor opens a deep link (say /train) runs that page on its
    own, in Streamlit's older pages/ mode: no shared sidebar, every file of pages/ listed.
    That mode ends for the whole process as soon as anything calls st.navigation, which
    dashboard.py does on every run but does not get to do here. Ending it from the page makes
    the visitor's next rerun go through dashboard.py. Rerunning at once would be nicer but
    would drop the click that caused this run. Streamlit keeps the switch in
    PagesManager.uses_pages_directory (checked with Streamlit 1.67).
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
