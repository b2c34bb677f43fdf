"""Convlab's entry point: page config, navigation over pages/, and the sidebar every page shares."""

import streamlit as st

from core.device import start_device_probe
from ui.frame import keep_keras_session, mark_frame_shown
from ui.user import user_ui


@st.cache_resource(show_spinner=False)
def device_probe():
    """One probe per server process: the device does not change while the app runs."""
    return start_device_probe()


def device_ui() -> None:
    """Show the compute device, polling until the background probe has answered."""
    probe = device_probe()

    @st.fragment(run_every=None if probe.done() else 1.0)
    def device_line() -> None:
        if probe.done():
            st.caption(f"**Compute device:** {probe.result()}")
        else:
            st.caption("**Compute device:** checking what TensorFlow sees…")

    device_line()


def main() -> None:
    st.set_page_config(page_title="Convlab", page_icon=":material/neurology:", layout="wide")
    keep_keras_session()
    pages = [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/datasets.py", title="Datasets", icon=":material/photo_library:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/evaluate.py", title="Evaluate", icon=":material/grid_on:"),
        st.Page("pages/inside.py", title="Inside the network", icon=":material/visibility:"),
        st.Page("pages/draw.py", title="Draw", icon=":material/draw:"),
        st.Page("pages/play.py", title="Play", icon=":material/sports_esports:"),
        st.Page("pages/teach.py", title="Teach", icon=":material/school:"),
    ]
    navigation = st.navigation(pages)
    mark_frame_shown()
    with st.sidebar:
        user_ui()
        device_ui()
        st.caption("Convlab: see how a convolutional neural network learns to recognise images.")
    navigation.run()


# Streamlit runs this file as __main__. A Dask worker process that the app spawns imports it
# again as __mp_main__ (multiprocessing takes the running script for the main module): the
# app must not start inside a training worker.
if __name__ == "__main__":
    main()
