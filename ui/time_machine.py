"""The time slider pages share: a run as it was at any kept point of its training, with Play."""

from __future__ import annotations

import time

import streamlit as st

from core.runs import Run

# Seconds each point stays on screen while playing: long enough to see the matrix change.
PLAY_SECONDS = 1.2


def checkpoint_label(epochs: tuple[float, ...], index: int) -> str:
    """How a point reads on the slider: 'untrained', 'epoch 1.5', 'end (epoch 3)'."""
    epoch = epochs[index]
    if index == 0 and epoch == 0.0 and len(epochs) > 1:
        return "untrained"
    text = f"epoch {epoch:.2f}".rstrip("0").rstrip(".") if epoch % 1 else f"epoch {epoch:.0f}"
    return f"end ({text})" if index == len(epochs) - 1 else text


def _slider_key(page: str) -> str:
    return f"{page}_checkpoint"


def _playing_key(page: str) -> str:
    return f"{page}_checkpoint_playing"


def _next_key(page: str) -> str:
    return f"{page}_checkpoint_next"


def _toggle_play(page: str, count: int) -> None:
    playing = not st.session_state.get(_playing_key(page), False)
    st.session_state[_playing_key(page)] = playing
    if playing and st.session_state.get(_slider_key(page), count - 1) >= count - 1:
        st.session_state[_slider_key(page)] = 0  # Play from the start once at the end.


def checkpoint_ui(run: Run, page: str) -> tuple[Run, int]:
    """A slider over the run's kept points and a Play button; (the run at that point, index).

    A run that kept no points gets no slider and is returned as it is.
    """
    epochs = run.checkpoints
    count = len(epochs)
    key = _slider_key(page)
    if count < 2:
        st.caption(
            "This run kept no checkpoints along the way (an older or imported run), so there "
            "is no time slider: you see the network as it ended."
        )
        return run, count - 1
    if _next_key(page) in st.session_state:
        # Play moves the slider between runs of the page: a widget's value can only be set
        # before the widget is drawn.
        st.session_state[key] = st.session_state.pop(_next_key(page))
    run_key = f"{page}_checkpoint_run"
    if (
        st.session_state.get(run_key) != run.run_dir.name
        or not 0 <= st.session_state.get(key, -1) < count
    ):
        # Another run was picked: it opens as it ended, not at the last one's point.
        st.session_state[key] = count - 1
        st.session_state[_playing_key(page)] = False
        st.session_state[run_key] = run.run_dir.name
    slider_column, button_column = st.columns([6, 1], vertical_alignment="bottom")
    index = slider_column.select_slider(
        "Training so far: slide back to see the network as it was",
        options=list(range(count)),
        format_func=lambda position: checkpoint_label(epochs, position),
        key=key,
        help="The network was kept at its untrained start and at points along its training; "
        "everything below shows it as it was then.",
    )
    playing = st.session_state.get(_playing_key(page), False)
    button_column.button(
        "Pause" if playing else "Play",
        icon=":material/pause:" if playing else ":material/play_arrow:",
        key=f"{page}_checkpoint_play",
        on_click=_toggle_play,
        args=(page, count),
        width="stretch",
    )
    try:
        return run.at_checkpoint(index), index
    except ValueError as error:  # A damaged checkpoints file: the run itself still works.
        st.warning(f"{error} Showing the network as it ended.", icon=":material/warning:")
        return run, count - 1


def keep_playing(run: Run, page: str) -> None:
    """At the end of a page: while playing, show the next point after a pause; stop at the end."""
    if not st.session_state.get(_playing_key(page), False):
        return
    count = len(run.checkpoints)
    index = int(st.session_state.get(_slider_key(page), count - 1))
    if index >= count - 1:
        st.session_state[_playing_key(page)] = False
        return
    placeholder = st.empty()
    time.sleep(PLAY_SECONDS)
    # Sending any element lets Streamlit end this run here if the student pressed Pause or
    # moved the slider during the pause; otherwise the next run would step on regardless.
    placeholder.empty()
    st.session_state[_next_key(page)] = index + 1
    if index + 1 >= count - 1:
        st.session_state[_playing_key(page)] = False
    st.rerun()
