"""AppTests of the Play page: Quick, Draw!'s game on an MNIST run, drawn with pen strokes."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest
from digit_strokes import DIGIT_STROKES, digit_canvas, shape_canvas
from tests_support import canvas_state, open_page

from core import session_keys
from core.game import TIMEOUT_LINE, GameSettings, start_game

PAGE = "pages/play.py"
DIGITS = tuple(str(digit) for digit in range(10))


@pytest.fixture
def mnist_app_folders(
    monkeypatch: pytest.MonkeyPatch, mnist_runs_dir: Path, shared_datasets: Path
) -> Path:
    """The app on the fast MNIST run, with the real MNIST files in its data folder."""
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(mnist_runs_dir))
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(shared_datasets))
    return mnist_runs_dir


def run_id_of(runs_dir: Path) -> str:
    from core.runs import list_runs

    return list_runs(runs_dir)[0].run_id


def a_game(runs_dir: Path, prompts: str, *, started_seconds_ago: float = 0.0) -> dict:
    """Session state holding a game on the run in `runs_dir` whose prompts are `prompts`."""
    game = start_game(
        DIGITS,
        GameSettings(),
        seed=1,
        now=time.monotonic() - started_seconds_ago,
        dataset_name="mnist",
    )
    game = dataclasses.replace(game, prompts=tuple(prompts))
    return {
        session_keys.PLAY_GAME: game,
        session_keys.PLAY_GAME_RUN: run_id_of(runs_dir),
        session_keys.PLAY_GAME_SEED: 1,
    }


def put_on_canvas(app, rgba: np.ndarray):
    """Put an RGBA drawing on the current round's canvas and let the page read it."""
    game = app.session_state[session_keys.PLAY_GAME]
    key = f"play_canvas_{app.session_state[session_keys.PLAY_GAME_SEED]}_{game.round_index}"
    app.session_state[key] = canvas_state(rgba)
    return app.run()


def draw(app, digit: str):
    """Put the digit's strokes on the current round's canvas and let the page read them."""
    return put_on_canvas(app, digit_canvas(digit))


def texts(app) -> list[str]:
    return [element.value for element in app.markdown]


def image_captions(app) -> list[str]:
    return [caption for image in app.get("image") for caption in image.captions]


def skip_to_the_end(app):
    """Skip every round left, pressing Start between rounds, until the end screen shows."""
    while not app.session_state[session_keys.PLAY_GAME].finished:
        buttons = {button.key for button in app.button}
        app.button(key="play_skip" if "play_skip" in buttons else "play_next").click().run()
        assert not app.exception
    return app


def test_each_digit_s_strokes_read_as_that_digit(mnist_runs_dir: Path) -> None:
    """The pen strokes the game's tests (and the browser test) draw mean what they say."""
    from core.runs import load_run
    from core.strokes import read_drawing

    run = load_run(mnist_runs_dir / run_id_of(mnist_runs_dir))
    for digit in DIGIT_STROKES:
        drawing = read_drawing(digit_canvas(digit, 440), None, style="mnist").image
        recognition = run.recognise(drawing.reshape(1, 28, 28, 1))
        probabilities = recognition.probabilities[0]
        assert run.class_names[int(np.argmax(probabilities))] == digit
        assert probabilities.max() >= 0.9, (digit, probabilities.max())


def test_the_page_opens_on_a_game_with_a_prompt_and_a_countdown(mnist_app_folders: Path) -> None:
    app = open_page(PAGE)
    assert not app.exception and not app.error
    game = app.session_state[session_keys.PLAY_GAME]
    assert app.selectbox(key="play_run").value == run_id_of(mnist_app_folders)
    assert f"Draw **{game.prompt}**" in texts(app)
    assert ":material/timer: 20 s" in texts(app)
    assert "I'm not sure what that is." in texts(app)
    assert app.caption[0].value == "Round 1 of 6"
    assert not app.toggle(key="play_speak").value, "the voice is off until asked for"


def test_drawing_the_prompt_ends_the_round_as_guessed_and_a_new_round_gets_a_clean_canvas(
    mnist_app_folders: Path,
) -> None:
    app = open_page(PAGE, before=a_game(mnist_app_folders, "835170"))
    app.toggle(key="play_speak").set_value(True).run()
    draw(app, "3")
    assert not app.exception
    assert "I see 3" in " ".join(texts(app)), "a wrong digit keeps the round going"
    assert "Draw **8**" in texts(app)

    draw(app, "8")
    assert not app.exception
    assert texts(app)[0] == "Oh, I know, it's 8!"
    assert texts(app)[1].startswith("You drew 8: the network knew it after ")
    assert "Draw **3**" in texts(app), "the card shows the next prompt before its clock runs"
    assert app.caption[1].value == "Next:"
    result = app.session_state[session_keys.PLAY_GAME].results[0]
    assert result.guessed and result.seconds < 20
    # The voice was handed each new line: "I see 3 …", then the guess.
    assert app.session_state[session_keys.PLAY_SPOKEN_LINE] == "Oh, I know, it's 8!"
    assert app.session_state[session_keys.PLAY_UTTERANCE] == 2

    app.button(key="play_next").click().run()
    assert "Draw **3**" in texts(app)
    assert "I'm not sure what that is." in texts(app), "round 2's canvas starts empty"
    assert app.caption[0].value == "Round 2 of 6"


def letter_canvas(letter: str, side: int = 280) -> np.ndarray:
    """A capital letter stroked on a white canvas with the page's pen, placed as the digits are."""
    from core.synthetic_strokes import LETTERS

    return shape_canvas(LETTERS[letter], side)


def test_a_letter_is_called_not_a_digit(mnist_app_folders: Path) -> None:
    from core.runs import load_run
    from core.strokes import read_drawing

    run = load_run(mnist_app_folders / run_id_of(mnist_app_folders))
    letters = "AEFHKMNPRTUVWXY"
    drawings = np.stack(
        [read_drawing(letter_canvas(letter), None, style="mnist").image for letter in letters]
    )
    recognition = run.recognise(drawings.reshape(-1, 28, 28, 1))
    # Which letters a run finds strange depends on the run (measured: most, not all).
    strange = np.flatnonzero(~recognition.familiar)
    assert len(strange) >= len(letters) // 2, [letters[index] for index in strange]
    letter_index = int(strange[0])
    best_guess = run.class_names[int(np.argmax(recognition.probabilities[letter_index]))]
    prompt = "1" if best_guess != "1" else "7"
    app = open_page(PAGE, before=a_game(mnist_app_folders, prompt + "01234"))
    put_on_canvas(app, letter_canvas(letters[letter_index]))
    assert not app.exception
    line = f"That does not look like any digit I know; my best guess would be {best_guess}."
    assert line in texts(app)
    assert not app.session_state[session_keys.PLAY_GAME].round_over
    assert f"Draw **{prompt}**" in texts(app)


def test_time_running_out_ends_the_round_without_a_stroke(mnist_app_folders: Path) -> None:
    app = open_page(PAGE, before=a_game(mnist_app_folders, "835170", started_seconds_ago=25))
    assert not app.exception
    assert texts(app)[0] == TIMEOUT_LINE
    assert "Nothing was drawn for 8." in texts(app)


def test_the_end_screen_shows_six_drawings_and_what_one_looked_like(
    mnist_app_folders: Path,
) -> None:
    app = open_page(PAGE, before=a_game(mnist_app_folders, "835170"))
    draw(app, "8")
    app.button(key="play_next").click().run()
    draw(app, "5")  # A 5 for a 3: a drawing the network does not take for the prompt.
    skip_to_the_end(app)

    seconds = app.session_state[session_keys.PLAY_GAME].results[0].seconds
    assert texts(app)[0] == (
        f"The network guessed 1 of your 6 drawings, in {seconds:.1f} s on average."
    )
    # Each drawing's prompt, then how it went.
    assert texts(app)[1:13] == [
        "**8**",
        f":green[:material/check: {seconds:.1f} s]",
        *[
            text
            for digit in "35170"
            for text in (f"**{digit}**", ":orange[:material/close: not guessed]")
        ],
    ]
    assert [caption.value for caption in app.caption].count("nothing drawn") == 4
    looks = [app.button(key=f"play_look_{index}") for index in range(6)]
    assert [button.disabled for button in looks] == [False, False, True, True, True, True]

    looks[0].click().run()
    assert not app.exception and not app.error
    assert app.subheader[0].value == "Your 8: it looked like these"
    lookalikes = image_captions(app)[-8:]
    assert len(lookalikes) == 8
    assert lookalikes.count("8") >= 6, lookalikes
    assert app.get("plotly_chart")[0].key == "play_guesses"

    app.button(key="play_look_1").click().run()
    assert app.subheader[0].value == "Your 3: it looked like these"
    assert image_captions(app)[-8:].count("5") >= 4, "a 5 looks like fives, whatever was asked"

    app.button(key="play_again").click().run()
    game = app.session_state[session_keys.PLAY_GAME]
    assert not game.results and game.round_index == 0
    assert f"Draw **{game.prompt}**" in texts(app)


def test_without_the_training_data_the_end_screen_says_where_to_get_it(
    monkeypatch: pytest.MonkeyPatch, mnist_runs_dir: Path, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(mnist_runs_dir))
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path))
    app = open_page(PAGE, before=a_game(mnist_runs_dir, "835170"))
    draw(app, "8")
    assert texts(app)[0] == "Oh, I know, it's 8!", "the game plays without the training data"
    app.button(key="play_next").click().run()
    skip_to_the_end(app)
    app.button(key="play_look_0").click().run()
    assert not app.exception and not app.error
    (message,) = [info.value for info in app.info]
    assert "needs the data this network was trained on (MNIST handwritten digits)" in message
    assert app.get("plotly_chart")[0].key == "play_guesses", "the top guesses still show"


def test_with_no_network_for_drawings_the_page_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(tmp_path / "runs"))
    app = open_page(PAGE)
    assert not app.exception
    (message,) = [info.value for info in app.info]
    assert message.startswith("The game needs a network that reads 28x28 drawings")


def test_a_network_with_one_class_cannot_play_and_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import keras

    from core.runs import save_run

    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(1, "softmax")]
    )
    record = {
        "name": "only zeros",
        "created_at": "2026-01-01T00:00:00+00:00",
        "dataset": {"name": "mnist", "class_names": ["0"], "image_shape": [28, 28, 1]},
    }
    save_run(model, record, tmp_path / "runs")
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(tmp_path / "runs"))
    app = open_page(PAGE)
    assert not app.exception
    (warning,) = [element.value for element in app.warning]
    assert warning.startswith("The game needs a run with at least two classes")
