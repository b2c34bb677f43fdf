"""Tests for core.game: the Quick, Draw!-style game's rules, played against a fake clock."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.game import (
    TIMEOUT_LINE,
    UNSURE_LINE,
    Game,
    GameSettings,
    choose_prompts,
    game_commentary,
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
from core.predictions import Guess

DIGITS = tuple(str(digit) for digit in range(10))


def sure_of(class_name: str, probability: float = 0.9, class_names=DIGITS) -> np.ndarray:
    """Probabilities with `probability` on one class and the rest spread evenly."""
    rest = (1 - probability) / (len(class_names) - 1)
    probabilities = np.full(len(class_names), rest)
    probabilities[class_names.index(class_name)] = probability
    return probabilities


def a_drawing(value: int = 255) -> np.ndarray:
    drawing = np.zeros((28, 28), dtype=np.uint8)
    drawing[10:18, 13:15] = value
    return drawing


def another_class_than(prompt: str) -> str:
    return next(name for name in DIGITS if name != prompt)


def new_game(now: float = 100.0, **settings_fields) -> Game:
    return start_game(DIGITS, GameSettings(**settings_fields), seed=7, now=now)


def play_round(game: Game, *, guessed: bool, now: float) -> Game:
    """End the current round at `now`, guessed or by a skip, and go on to the next one."""
    if guessed:
        game = observe(game, sure_of(game.prompt), a_drawing(), now)
    else:
        game = skip_round(game, now)
    return next_round(game, now + 1)


def test_prompts_are_distinct_and_the_same_for_the_same_seed() -> None:
    game_settings = GameSettings()
    prompts = choose_prompts(DIGITS, game_settings, seed=3)
    assert len(prompts) == 6
    assert len(set(prompts)) == 6
    assert set(prompts) <= set(DIGITS)
    assert choose_prompts(DIGITS, game_settings, seed=3) == prompts
    others = {choose_prompts(DIGITS, game_settings, seed=seed) for seed in range(10)}
    assert len(others) > 1


@pytest.mark.parametrize("class_names", [("cat", "dog"), ("a", "b", "c"), tuple("abcde")])
def test_a_run_with_fewer_classes_than_rounds_never_repeats_a_prompt_twice_in_a_row(
    class_names: tuple[str, ...],
) -> None:
    for seed in range(20):
        prompts = choose_prompts(class_names, GameSettings(), seed=seed)
        assert len(prompts) == 6
        assert all(first != second for first, second in zip(prompts, prompts[1:], strict=False))
        counts = [prompts.count(name) for name in class_names]
        assert max(counts) - min(counts) <= 2, "every class comes up about equally often"


def test_a_run_needs_two_distinct_classes() -> None:
    with pytest.raises(ValueError, match="at least two classes"):
        choose_prompts(("cat",), GameSettings(), seed=0)
    with pytest.raises(ValueError, match="at least two classes"):
        start_game((), GameSettings(), seed=0, now=0.0)
    with pytest.raises(ValueError, match="repeat"):
        start_game(("cat", "cat", "dog"), GameSettings(), seed=0, now=0.0)


def test_settings_refuse_a_game_that_cannot_be_played() -> None:
    with pytest.raises(ValueError, match="at least one round"):
        GameSettings(rounds=0)
    with pytest.raises(ValueError, match="positive number of seconds"):
        GameSettings(seconds_per_round=0)
    with pytest.raises(ValueError, match="minimum_probability"):
        GameSettings(minimum_probability=0)


def test_a_round_guessed_at_3_2_seconds_records_3_2_seconds() -> None:
    game = new_game(now=100.0)
    assert seconds_left(game, 100.0) == 20.0
    game = observe(game, sure_of(game.prompt), a_drawing(), now=103.2)
    assert game.round_over
    result = game.results[0]
    assert result.guessed
    assert result.seconds == pytest.approx(3.2)
    assert result.line == f"Oh, I know, it's {result.prompt}!"
    assert result.guesses[0] == Guess(result.prompt, pytest.approx(0.9))
    np.testing.assert_array_equal(result.drawing, a_drawing())
    assert seconds_left(game, 104.0) == 0.0


def test_a_sure_top_guess_that_is_not_the_prompt_does_not_end_the_round() -> None:
    game = new_game()
    other = another_class_than(game.prompt)
    game = observe(game, sure_of(other, 0.95), a_drawing(), now=105.0)
    assert not game.round_over
    assert game.line == f"I see {other} …"
    assert seconds_left(game, 105.0) == pytest.approx(15.0)


def test_the_prompt_as_top_guess_at_low_probability_does_not_end_the_round() -> None:
    game = new_game()
    game = observe(game, sure_of(game.prompt, 0.4), a_drawing(), now=105.0)
    assert not game.round_over
    assert game.line.startswith(f"I see {game.prompt}")
    game = observe(game, sure_of(game.prompt, 0.5), a_drawing(), now=106.0)
    assert game.round_over and game.results[0].guessed


def test_a_timeout_at_exactly_20_seconds_ends_unguessed_and_keeps_the_last_drawing() -> None:
    game = new_game(now=100.0)
    other = another_class_than(game.prompt)
    game = observe(game, sure_of(other), a_drawing(), now=110.0)
    assert tick(game, 119.999) is game
    # The prompt drawn at the deadline comes too late: the canvas is locked when time runs out.
    game = observe(game, sure_of(game.prompt), a_drawing(value=128), now=120.0)
    assert game.round_over
    result = game.results[0]
    assert not result.guessed
    assert result.seconds is None
    assert result.line == TIMEOUT_LINE == game.line
    np.testing.assert_array_equal(result.drawing, a_drawing())
    assert result.guesses[0].class_name == other


def test_a_tick_alone_times_the_round_out() -> None:
    game = tick(new_game(now=0.0), 20.0)
    assert game.round_over
    assert not game.results[0].guessed
    assert game.results[0].drawing is None


def test_a_kept_drawing_does_not_change_when_the_callers_canvas_does() -> None:
    game = new_game()
    canvas = a_drawing()
    game = observe(game, sure_of(game.prompt), canvas, now=101.0)
    canvas[:] = 0
    assert game.results[0].drawing.max() == 255
    with pytest.raises(ValueError, match="uint8"):
        observe(new_game(), sure_of("3"), a_drawing().astype(np.float32), now=101.0)


def test_a_cleared_canvas_keeps_the_clock_running_and_forgets_the_drawing() -> None:
    game = new_game(now=100.0)
    game = observe(game, sure_of(another_class_than(game.prompt)), a_drawing(), now=105.0)
    game = observe(game, None, None, now=106.0)
    assert not game.round_over
    assert game.drawing is None and game.line == UNSURE_LINE
    assert observe(game, None, None, now=107.0) is game
    game = observe(game, None, None, now=120.0)
    assert game.round_over and game.results[0].drawing is None


def test_the_next_round_waits_for_the_player_and_resets_the_clock() -> None:
    game = new_game(now=100.0)
    game = observe(game, sure_of(game.prompt), a_drawing(), now=102.0)
    assert tick(game, 500.0) is game, "an ended round waits on the end-of-round screen"
    game = next_round(game, now=130.0)
    assert not game.round_over
    assert game.round_index == 1
    assert game.prompt == game.prompts[1]
    assert game.drawing is None and game.guesses == () and game.line == UNSURE_LINE
    assert seconds_left(game, 135.0) == pytest.approx(15.0)
    assert next_round(game, now=136.0) is game, "no skipping a round being drawn"
    game = tick(game, 149.9)
    assert not game.round_over
    assert tick(game, 150.0).round_over


def test_six_rounds_finish_the_game_and_the_summary_counts_them() -> None:
    game = new_game(now=0.0)
    # Guessed at 2 s, 4 s and 6 s into rounds 1, 3 and 5; rounds 2, 4 and 6 skipped.
    for round_number in range(6):
        start = game.round_started_at
        guessed = round_number % 2 == 0
        game = play_round(game, guessed=guessed, now=start + 2.0 * (round_number + 1))
    assert game.finished
    assert len(game.results) == 6
    assert [result.prompt for result in game.results] == list(game.prompts)
    game_summary = summary(game)
    assert game_summary.rounds_played == 6
    assert game_summary.guessed_count == 3
    assert game_summary.mean_seconds_to_guess == pytest.approx((2.0 + 6.0 + 10.0) / 3)
    assert [result.guessed for result in game_summary.results] == [True, False] * 3
    assert (
        summary_headline(game_summary)
        == "The network guessed 3 of your 6 drawings, in 6.0 s on average."
    )


def test_nothing_changes_a_finished_game() -> None:
    game = new_game(now=0.0, rounds=1)
    game = observe(game, sure_of(game.prompt), a_drawing(), now=1.0)
    assert game.finished
    assert observe(game, sure_of(game.prompt), a_drawing(), now=2.0) is game
    assert tick(game, 100.0) is game
    assert skip_round(game, 3.0) is game
    assert next_round(game, 4.0) is game
    assert seconds_left(game, 4.0) == 0.0


def test_a_drawing_after_the_round_ended_is_ignored() -> None:
    game = new_game(now=0.0)
    game = skip_round(game, 5.0)
    assert observe(game, sure_of(game.prompt), a_drawing(), now=6.0) is game


def test_a_skipped_round_is_unguessed_and_keeps_its_drawing() -> None:
    game = new_game(now=0.0)
    game = observe(game, sure_of(another_class_than(game.prompt)), a_drawing(), now=3.0)
    game = skip_round(game, 4.0)
    result = game.results[0]
    assert game.round_over and not result.guessed and result.seconds is None
    assert result.drawing is not None
    assert summary_headline(summary(game)) == "The network guessed 0 of your 1 drawing."


def test_a_two_class_run_plays_a_whole_game() -> None:
    game = start_game(("cat", "dog"), GameSettings(), seed=1, now=0.0)
    for _ in range(6):
        probabilities = sure_of(game.prompt, 0.8, class_names=("cat", "dog"))
        game = observe(game, probabilities, a_drawing(), now=game.round_started_at + 1.5)
        game = next_round(game, game.round_started_at + 3.0)
    assert game.finished
    assert summary(game).guessed_count == 6


def test_the_commentary_speaks_in_the_games_voice() -> None:
    game_settings = GameSettings()
    assert game_commentary([], "8", game_settings) == UNSURE_LINE
    torn = [Guess("3", 0.45), Guess("5", 0.3), Guess("8", 0.15), Guess("1", 0.1)]
    assert game_commentary(torn, "8", game_settings) == "I see 3, or 5, or 8 …"
    no_evidence = [Guess("3", 0.08), Guess("5", 0.07)]
    assert game_commentary(no_evidence, "8", game_settings) == UNSURE_LINE
    assert game_commentary([Guess("8", 0.7), Guess("3", 0.2)], "8", game_settings) == (
        "Oh, I know, it's 8!"
    )
    assert game_commentary([Guess("3", 0.7)], "8", game_settings) == "I see 3 …"
    assert TIMEOUT_LINE == "Sorry, I couldn't guess it."


def test_a_drawing_unlike_every_class_is_called_so_unless_it_wins_the_round() -> None:
    game = start_game(DIGITS, GameSettings(), seed=7, now=100.0, dataset_name="mnist")
    other = another_class_than(game.prompt)
    game = observe(game, sure_of(other, 0.96), a_drawing(), now=103.0, familiar=False)
    assert not game.round_over
    assert game.line == (
        f"That does not look like any digit I know; my best guess would be {other}."
    )
    assert game.drawing is not None and game.guesses[0].class_name == other
    # The prompt read surely wins, as in Quick, Draw!, familiar or not.
    game = observe(game, sure_of(game.prompt, 0.96), a_drawing(), now=104.0, familiar=False)
    assert game.round_over and game.results[-1].guessed
    assert game.line == f"Oh, I know, it's {game.prompt}!"
    assert game.results[-1].seconds == pytest.approx(4.0)


def test_the_unfamiliar_line_names_what_the_run_knows() -> None:
    settings = GameSettings()
    guesses = [Guess("cat", 0.8), Guess("dog", 0.2)]
    assert game_commentary(guesses, "dog", settings, familiar=False, dataset_name="quickdraw") == (
        "That does not look like any drawing I know; my best guess would be cat."
    )
    assert game_commentary(guesses, "dog", settings, familiar=False) == (
        "That does not look like anything I know; my best guess would be cat."
    )
    assert game_commentary(guesses, "cat", settings, familiar=False) == "Oh, I know, it's cat!"
    # An empty canvas is only unsure, whatever the flag says.
    assert game_commentary([], "cat", settings, familiar=False) == UNSURE_LINE


def test_speech_only_when_the_commentary_changes() -> None:
    assert speech_to_say(None, "I see 3 …") == "I see 3 …"
    assert speech_to_say("I see 3 …", "I see 3 …") is None
    assert speech_to_say("I see 3 …", "I see 3, or 5 …") == "I see 3, or 5 …"
    assert speech_to_say("I see 3, or 5 …", "") is None


ACTIONS = st.sampled_from(["observe_prompt", "observe_other", "observe_empty", "tick", "skip"])


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=25.0, allow_nan=False),
            ACTIONS,
            st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
            st.booleans(),
        ),
        max_size=60,
    ),
    start=st.floats(min_value=0.0, max_value=1e6, allow_nan=False),
)
def test_any_play_keeps_within_the_rounds_and_the_clock(
    steps: list[tuple[float, str, float, bool]], start: float
) -> None:
    game_settings = GameSettings(rounds=4, seconds_per_round=20.0)
    game = start_game(DIGITS, game_settings, seed=0, now=start)
    now = start
    for delay, action, probability, press_next in steps:
        now += delay
        before = len(game.results)
        if action == "observe_prompt":
            game = observe(game, sure_of(game.prompt, probability), a_drawing(), now)
        elif action == "observe_other":
            other = another_class_than(game.prompt)
            game = observe(game, sure_of(other, probability), a_drawing(), now)
        elif action == "observe_empty":
            game = observe(game, None, None, now)
        elif action == "tick":
            game = tick(game, now)
        else:
            game = skip_round(game, now)
        assert len(game.results) - before in (0, 1), "at most one round ends per step"
        assert 0.0 <= seconds_left(game, now) <= game_settings.seconds_per_round
        if press_next:
            game = next_round(game, now)
    assert len(game.results) <= game_settings.rounds
    assert game.finished == (len(game.results) == game_settings.rounds)
    assert [result.prompt for result in game.results] == list(game.prompts[: len(game.results)])
    for result in game.results:
        if result.guessed:
            assert result.seconds is not None
            assert 0.0 <= result.seconds <= game_settings.seconds_per_round
            assert result.guesses[0].class_name == result.prompt
        else:
            assert result.seconds is None
