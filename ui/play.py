"""The Play page's parts: a timed round on the canvas, the card between rounds, the end screen."""

from __future__ import annotations

import math
import secrets
import time
from typing import NoReturn

import numpy as np
import streamlit as st
from streamlit.errors import StreamlitAPIException

from core import session_keys
from core.custom_data import CUSTOM_DATASET_NAME
from core.datasets import DATASET_INFO, is_available_locally
from core.drawing import CANVAS_IMAGE_SHAPE, EmptyDrawingError, drawing_style
from core.game import (
    UNSURE_LINE,
    Game,
    GameSettings,
    RoundResult,
    next_round,
    observe,
    seconds_left,
    skip_round,
    speech_to_say,
    start_game,
    summary,
    summary_headline,
    tick,
)
from core.lookalikes import ReferenceImages, find_lookalikes, reference_images
from core.plots import top_guesses_figure
from core.runs import Run
from core.strokes import read_drawing
from ui.canvas import CANVAS_COLUMNS, drawing_canvas
from ui.runs import run_dataset_ui

PAGE = "play"
# The clock redraws this often, so a round ends on time with no stroke to wake the page, and
# "3 s left" never lags a whole second behind.
TICK_SECONDS = 0.5
# Each 28x28 drawing on the end screen, and each training image like it, in screen pixels:
# whole multiples of 28, so every pixel of the drawing is a crisp square.
DRAWING_PIXELS = 168
CARD_DRAWING_PIXELS = 280
LOOKALIKE_PIXELS = 112
LOOKALIKE_COUNT = 8

# Big type for a projector at the back of a classroom, and crisp (not blurred) enlarged pixels.
PLAY_STYLE = """
<style>
.st-key-play_prompt p { font-size: clamp(2.4rem, 5vw, 4.5rem); font-weight: 700;
    line-height: 1.1; margin: 0; }
.st-key-play_clock p { font-size: clamp(1.8rem, 3.5vw, 3rem); font-weight: 600; margin: 0; }
.st-key-play_line p { font-size: clamp(1.4rem, 2.6vw, 2.2rem); line-height: 1.25; }
.st-key-play_headline p { font-size: clamp(1.6rem, 3vw, 2.6rem); font-weight: 600; }
.st-key-play_drawings img, .st-key-play_lookalikes img, .st-key-play_last img {
    image-rendering: pixelated; }
.st-key-play_drawings p { font-size: 1.4rem; }
</style>
"""

_SPEAK_JS = """
export default function(component) {
    const { data } = component;
    if (!data || !data.text || !("speechSynthesis" in window)) return;
    // Every rerun sends the line again, and a new view mounts this anew: each utterance
    // number is spoken once per browser tab.
    if (window.convlabLastUtterance === data.utterance) return;
    window.convlabLastUtterance = data.utterance;
    // A newer line interrupts the old one, as the network changes its mind mid-sentence.
    window.speechSynthesis.cancel();
    window.speechSynthesis.speak(new SpeechSynthesisUtterance(data.text));
}
"""

_speak = st.components.v2.component("convlab_speech", html="<span></span>", js=_SPEAK_JS)


def apply_play_style() -> None:
    """Add PLAY_STYLE to the page; a style-only st.html takes no room on it."""
    st.html(PLAY_STYLE)


def no_canvas_run_ui() -> None:
    """What to do when no saved network reads drawings."""
    st.info(
        "The game needs a network that reads 28x28 drawings, such as one trained on MNIST "
        "digits or on Quick, Draw! doodles. The Draw page trains one in about a minute.",
        icon=":material/sports_esports:",
    )
    st.page_link("pages/draw.py", label="Go to Draw", icon=":material/draw:")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")


def start_new_game(run: Run) -> None:
    """A new game for `run` with new prompts; its first round starts now."""
    previous_seed = st.session_state.get(session_keys.PLAY_GAME_SEED)
    seed = secrets.randbelow(2**31)
    while seed == previous_seed:
        seed = secrets.randbelow(2**31)
    game = start_game(
        run.class_names, GameSettings(), seed, time.monotonic(), dataset_name=run.dataset
    )
    st.session_state[session_keys.PLAY_GAME] = game
    st.session_state[session_keys.PLAY_GAME_RUN] = run.run_dir.name
    st.session_state[session_keys.PLAY_GAME_SEED] = seed
    st.session_state[session_keys.PLAY_CHOSEN_ROUND] = None
    # A round opens unsure; saying so at every start would only be noise.
    st.session_state[session_keys.PLAY_SPOKEN_LINE] = game.line


def game_ui(run: Run) -> Game | None:
    """This session's game with `run`, started anew for a new run; None after saying why not."""
    game = st.session_state.get(session_keys.PLAY_GAME)
    played_with = st.session_state.get(session_keys.PLAY_GAME_RUN)
    if game is None or played_with != run.run_dir.name or game.class_names != run.class_names:
        # The first recognition loads the model and builds its probe (0.16 s measured alone, more
        # on a busy server): done before the clock starts, so the first round does not pay it.
        run.recognise(np.zeros((1, *run.image_shape), dtype=np.uint8))
        try:
            start_new_game(run)
        except ValueError as error:
            st.warning(str(error), icon=":material/sports_esports:")
            return None
    return st.session_state[session_keys.PLAY_GAME]


def speech_ui(line: str, speak: bool) -> None:
    """Hand a changed line to the browser's voice; nothing is sent while `speak` is off."""
    # Before anything is said, the network is as unsure as a round's start: nothing to say.
    said = speech_to_say(st.session_state.get(session_keys.PLAY_SPOKEN_LINE, UNSURE_LINE), line)
    if said is not None:
        st.session_state[session_keys.PLAY_SPOKEN_LINE] = said
        utterance = st.session_state.get(session_keys.PLAY_UTTERANCE, 0) + 1
        st.session_state[session_keys.PLAY_UTTERANCE] = utterance
    if speak:
        _speak(
            key=f"{PAGE}_speech",
            data={
                "text": st.session_state.get(session_keys.PLAY_SPOKEN_LINE),
                "utterance": st.session_state.get(session_keys.PLAY_UTTERANCE, 0),
            },
            height=0,
        )


def _big_text(key: str, text: str) -> None:
    """Markdown in a keyed container, which PLAY_STYLE sets in projector-sized type."""
    st.container(key=f"{PAGE}_{key}").markdown(text)


def _show_the_next_view() -> NoReturn:
    """Rerun the game area alone when it runs alone (a stroke, a click), else the whole page."""
    try:
        st.rerun(scope="fragment")
    except StreamlitAPIException:
        # A fragment-scoped rerun is refused while the whole page runs (its first load).
        st.rerun()


def _clock() -> None:
    """The time left; ends the round when it runs out, with no stroke needed to notice."""
    now = time.monotonic()
    before = st.session_state[session_keys.PLAY_GAME]
    game = tick(before, now)
    if game is not before:
        st.session_state[session_keys.PLAY_GAME] = game
        # The card between rounds belongs to the game area around this clock, and a fragment
        # can rerun only itself or the whole page.
        st.rerun()
    left = seconds_left(game, now)
    _big_text("clock", f":material/timer: {math.ceil(left)} s")
    st.progress(left / game.settings.seconds_per_round)


def _read_canvas(run: Run, canvas_result) -> tuple[np.ndarray | None, np.ndarray | None, bool]:
    """(probabilities (k,), 28x28 uint8 drawing, familiar) of what is on the canvas.

    (None, None, True) when the canvas is blank. A run that cannot tell strange drawings
    (imported, uncalibrated) calls every drawing familiar.
    """
    image = canvas_result.image_data if canvas_result is not None else None
    if image is None:
        return None, None, True
    style = drawing_style(run.dataset)
    try:
        drawing = read_drawing(image, canvas_result.json_data, style=style).image
    except EmptyDrawingError:
        return None, None, True
    recognition = run.recognise(drawing.reshape(1, *CANVAS_IMAGE_SHAPE))
    return recognition.probabilities[0], drawing, bool(recognition.familiar[0])


def game_area_ui(run: Run, side: int, speak: bool) -> None:
    """The game as it stands: a round, the card between rounds, or the end screen.

    Runs as a fragment, so a stroke or a click reruns only this. Every view is drawn in this
    one place, so each replaces the last whole: views drawn by separate runs of the page were
    seen in Chromium to leave the last one's elements behind when a clock tick raced the end of
    the page's run.
    """
    game = st.session_state[session_keys.PLAY_GAME]
    if game.finished:
        end_screen_ui(run, game, speak)
    elif game.round_over:
        round_over_ui(game, speak)
    else:
        round_ui(run, side, speak)


def round_ui(run: Run, side: int, speak: bool) -> None:
    """One round: the prompt, the clock, the canvas and the network's commentary.

    The clock is a fragment of its own that redraws every TICK_SECONDS; `side` is the canvas's
    side in pixels.
    """
    # The canvas declares its component on import, which fails outside a running app: importing
    # it here keeps ui.play importable anywhere (TRAPS.md).

    game = st.session_state[session_keys.PLAY_GAME]
    seed = st.session_state.get(session_keys.PLAY_GAME_SEED, 0)
    canvas_column, talk_column = st.columns(CANVAS_COLUMNS)
    with talk_column:
        st.caption(f"Round {game.round_index + 1} of {game.settings.rounds}")
        _big_text("prompt", f"Draw **{game.prompt}**")
        st.fragment(run_every=TICK_SECONDS)(_clock)()
    with canvas_column:
        # A new key per round is a new, empty canvas.
        canvas_result = drawing_canvas(f"{PAGE}_canvas_{seed}_{game.round_index}", side)
    probabilities, drawing, familiar = _read_canvas(run, canvas_result)
    # The clock may have moved the game on since this run read it.
    game = observe(
        st.session_state[session_keys.PLAY_GAME],
        probabilities,
        drawing,
        time.monotonic(),
        familiar=familiar,
    )
    st.session_state[session_keys.PLAY_GAME] = game
    if game.round_over:
        _show_the_next_view()
    with talk_column:
        _big_text("line", game.line)
        if st.button("Skip this drawing", key=f"{PAGE}_skip", icon=":material/skip_next:"):
            st.session_state[session_keys.PLAY_GAME] = skip_round(game, time.monotonic())
            _show_the_next_view()
        speech_ui(game.line, speak)
    st.caption(
        f"Draw what the prompt says: the round ends when the network's top guess is the prompt, "
        f"or after {game.settings.seconds_per_round:.0f} seconds. "
        f"The game is {game.settings.rounds} rounds."
    )


def _go_on() -> None:
    """Start the next round's clock now; next_round ignores a second click that comes late."""
    game = st.session_state[session_keys.PLAY_GAME]
    st.session_state[session_keys.PLAY_GAME] = next_round(game, time.monotonic())
    st.session_state[session_keys.PLAY_SPOKEN_LINE] = UNSURE_LINE


def round_over_ui(game: Game, speak: bool) -> None:
    """The card between rounds: how the round ended, and the next prompt before its clock runs."""
    result = game.results[-1]
    drawing_column, talk_column = st.columns(CANVAS_COLUMNS)
    with talk_column:
        st.caption(f"Round {game.round_index + 1} of {game.settings.rounds}")
        _big_text("line", result.line)
        st.write(round_story(result))
        st.caption("Next:")
        _big_text("prompt", f"Draw **{game.prompts[game.round_index + 1]}**")
        st.button(
            f"Start round {game.round_index + 2}",
            key=f"{PAGE}_next",
            type="primary",
            icon=":material/play_arrow:",
            on_click=_go_on,
        )
        speech_ui(game.line, speak)
    with drawing_column:
        # The same small space as over the round's canvas: the drawing sits where it was drawn.
        st.space("small")
        if result.drawing is not None:
            st.container(key=f"{PAGE}_last").image(
                result.drawing, caption="what the network saw", width=CARD_DRAWING_PIXELS
            )


def round_story(result: RoundResult) -> str:
    """One sentence on a finished round, for the card between rounds."""
    if result.guessed:
        return f"You drew {result.prompt}: the network knew it after {result.seconds:.1f} s."
    if result.drawing is None:
        return f"Nothing was drawn for {result.prompt}."
    return f"You drew {result.prompt}, but the network did not guess it."


def _choose_round(index: int) -> None:
    """Look closer at round `index`'s drawing on the end screen."""
    st.session_state[session_keys.PLAY_CHOSEN_ROUND] = index


def end_screen_ui(run: Run, game: Game, speak: bool) -> None:
    """Every drawing of the game, guessed or not and how fast; a click looks closer at one."""
    game_summary = summary(game)
    headline_column, again_column = st.columns([4, 1], vertical_alignment="center")
    with headline_column:
        _big_text("headline", summary_headline(game_summary))
    again_column.button(
        "Play again",
        key=f"{PAGE}_again",
        type="primary",
        icon=":material/replay:",
        on_click=start_new_game,
        args=(run,),
        width="stretch",
    )
    chosen = st.session_state.get(session_keys.PLAY_CHOSEN_ROUND)
    with st.container(key=f"{PAGE}_drawings"):
        columns = st.columns(len(game.results))
        for index, (column, result) in enumerate(zip(columns, game.results, strict=True)):
            with column:
                if result.drawing is None:
                    st.caption("nothing drawn")
                else:
                    st.image(result.drawing, width=DRAWING_PIXELS)
                st.markdown(f"**{result.prompt}**")
                st.markdown(
                    f":green[:material/check: {result.seconds:.1f} s]"
                    if result.guessed
                    else ":orange[:material/close: not guessed]"
                )
                st.button(
                    "Look closer",
                    key=f"{PAGE}_look_{index}",
                    type="primary" if index == chosen else "secondary",
                    disabled=result.drawing is None,
                    on_click=_choose_round,
                    args=(index,),
                )
    if chosen is not None and 0 <= chosen < len(game.results):
        result = game.results[chosen]
        if result.drawing is not None:
            lookalikes_ui(run, result, game.settings)
    else:
        st.caption("Look closer at a drawing to see what the network thought it looked like.")
    speech_ui(game.line, speak)


@st.cache_resource(max_entries=2, show_spinner="Reading the training drawings to compare with…")
def reference_images_cached(
    run_dir: str, created_at: str, _run: Run, _x_train, _y_train
) -> ReferenceImages:
    """reference_images once per run; created_at keys it so a replaced run folder redoes it."""
    return reference_images(_run.model, _x_train, _y_train, len(_run.class_names))


def references_ui(run: Run) -> ReferenceImages | None:
    """The run's sample of training images and their features; None after saying why not."""
    described = run.record.get("dataset") or {}
    if run.dataset != CUSTOM_DATASET_NAME and not is_available_locally(
        run.dataset, categories=described.get("categories")
    ):
        title = DATASET_INFO[run.dataset].title if run.dataset in DATASET_INFO else run.dataset
        st.info(
            f"Finding the training drawings most like yours needs the data this network was "
            f"trained on ({title}), which is not on this machine. Fetch it on the Datasets page, "
            "then look again.",
            icon=":material/photo_library:",
        )
        st.page_link("pages/datasets.py", label="Go to Datasets", icon=":material/photo_library:")
        return None
    dataset = run_dataset_ui(run, PAGE)
    if dataset is None:
        return None
    if dataset.class_names != run.class_names or dataset.image_shape != run.image_shape:
        st.info(
            "The training data on this machine no longer matches this network (its classes or "
            "image size changed), so there are no training drawings to compare with.",
            icon=":material/photo_library:",
        )
        return None
    return reference_images_cached(
        str(run.run_dir), run.record.get("created_at", ""), run, dataset.x_train, dataset.y_train
    )


def lookalikes_ui(run: Run, result: RoundResult, settings: GameSettings) -> None:
    """The training drawings the network finds most like one drawing, and its top guesses."""
    st.subheader(f"Your {result.prompt}: it looked like these")
    alike_column, guesses_column = st.columns(CANVAS_COLUMNS)
    with alike_column:
        references = references_ui(run)
        if references is not None:
            lookalikes = find_lookalikes(run.model, result.drawing, references, LOOKALIKE_COUNT)
            st.container(key=f"{PAGE}_lookalikes").image(
                list(lookalikes.images),
                caption=[run.class_names[label] for label in lookalikes.labels],
                width=LOOKALIKE_PIXELS,
            )
            st.caption(
                f"The {len(lookalikes.labels)} of {len(references.labels):,} training drawings "
                "whose features, just before the network's last layer, point the same way as "
                "your drawing's (cosine similarity), nearest first."
            )
    with guesses_column:
        st.markdown("**Its top guesses**")
        st.plotly_chart(
            top_guesses_figure(list(result.guesses), threshold=settings.minimum_probability),
            width="stretch",
            key=f"{PAGE}_guesses",
            config={"displayModeBar": False},
        )
        st.caption(
            f"A round ends when the prompt is the top guess at "
            f"{settings.minimum_probability:.0%} or more (the dotted line)."
        )
