"""Teach: name your own classes, draw or photograph examples, train 20 seconds, then play."""

from __future__ import annotations

import streamlit as st

from core.teach import DRAWINGS
from ui.canvas import canvas_side_ui
from ui.engine import start_engine_in_background
from ui.frame import leave_pages_directory_mode
from ui.teach import (
    class_names_ui,
    collection_kind_ui,
    download_ui,
    drawing_ui,
    examples_ui,
    photo_ui,
    play_links_ui,
    teach_training_ui,
)
from ui.training import live_training_ui

leave_pages_directory_mode()
start_engine_in_background()

PAGE = "teach"

st.title("Teach")
st.write(
    "Teach a network your own classes, as Google's Teachable Machine does: name them, give it "
    "about 20 examples of each, train it for 20 seconds, then draw for it and play."
)
kind = collection_kind_ui(PAGE)

st.subheader("1. Your classes")
collection = class_names_ui(PAGE, kind)
if collection is None:
    live_training_ui(PAGE)
    st.stop()

if kind == DRAWINGS:
    st.subheader("2. Draw examples")
    side = canvas_side_ui(PAGE)
    # A stroke reruns only the canvas; adding an example reruns the page, so counts follow.
    st.fragment(drawing_ui)(PAGE, side)
else:
    st.subheader("2. Take photos")
    photo_ui(PAGE, collection)
examples_ui(PAGE, collection)
download_ui(PAGE, collection)

st.subheader("3. Train")
teach_training_ui(PAGE, collection)
live_training_ui(PAGE)
play_links_ui()
