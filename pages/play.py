"""Play: Quick, Draw!'s game. Six prompts, 20 seconds each, and the network guessing aloud."""

from __future__ import annotations

import streamlit as st

from core.runs import default_runs_dir, list_runs
from ui.canvas import canvas_run_choice_ui, canvas_side_ui, is_canvas_run
from ui.frame import leave_pages_directory_mode
from ui.play import (
    PAGE,
    apply_play_style,
    game_area_ui,
    game_ui,
    no_canvas_run_ui,
)
from ui.runs import load_run_ui

leave_pages_directory_mode()

# Room the canvas cannot take from the window's height: the title and the network picker above
# it, on top of what core.drawing.canvas_side keeps for the browser's bar and the canvas's
# toolbar.
ROOM_ABOVE_CANVAS = 120

apply_play_style()
title_column, choice_column, speech_column = st.columns([2, 4, 2], vertical_alignment="bottom")
title_column.title("Play")
summaries = [summary for summary in list_runs(default_runs_dir()) if is_canvas_run(summary)]
if not summaries:
    no_canvas_run_ui()
    st.stop()
with choice_column:
    summary = canvas_run_choice_ui(PAGE, summaries)
speak = speech_column.toggle(
    "Speak the guesses",
    key=f"{PAGE}_speak",
    help="The browser reads the network's commentary aloud (your computer's own voice).",
)
if summary is None:
    st.stop()
run = load_run_ui(summary)
if run is None:
    st.stop()
if game_ui(run) is None:
    st.stop()
side = canvas_side_ui(PAGE, room_above=ROOM_ABOVE_CANVAS)
st.fragment(game_area_ui)(run, side, speak)
