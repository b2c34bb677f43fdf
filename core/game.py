"""The rules of a Quick, Draw!-style game: prompts, timed rounds and the network's voice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.predictions import Guess, top_guesses, unfamiliar_message

UNSURE_LINE = "I'm not sure what that is."
TIMEOUT_LINE = "Sorry, I couldn't guess it."


@dataclass(frozen=True)
class GameSettings:
    """How many rounds, how long each lasts, and when the network calls a drawing."""

    rounds: int = 6
    seconds_per_round: float = 20.0
    # The prompt must be the top guess at this probability or more to end a round. Quick, Draw!
    # says "Oh, I know, it's X!" only when fairly sure: a top guess at 30% among ten classes is
    # the network thinking aloud, and ending the round on it would reward a half-drawn scribble
    # that happened to lean the right way for one stroke.
    minimum_probability: float = 0.5
    # A guess is named in "I see 3, or 5 …" from this probability: under it the network has
    # next to no evidence for the class, and naming it would only read out noise.
    mention_probability: float = 0.1
    # At most this many guesses are named in one line, as Quick, Draw! names a few at a time.
    guesses_named: int = 3
    # How many top guesses a finished round keeps for the end screen.
    guesses_kept: int = 5

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError(f"A game needs at least one round; got rounds={self.rounds}.")
        if not self.seconds_per_round > 0:
            raise ValueError(
                f"Each round needs some time to draw; got seconds_per_round="
                f"{self.seconds_per_round}. Use a positive number of seconds, such as 20."
            )
        if not 0 < self.minimum_probability <= 1:
            raise ValueError(
                f"minimum_probability must be in (0, 1]; got {self.minimum_probability}."
            )
        if not 0 < self.mention_probability <= 1:
            raise ValueError(
                f"mention_probability must be in (0, 1]; got {self.mention_probability}."
            )
        if self.guesses_named < 1 or self.guesses_kept < 1:
            raise ValueError(
                f"guesses_named and guesses_kept must be at least 1; got "
                f"{self.guesses_named} and {self.guesses_kept}."
            )


# Rounds and games hold numpy drawings, and dataclass equality on arrays raises ("the truth value
# of an array is ambiguous"), so these compare by identity: a transition that changes nothing
# returns the very same object, which is what the page and the tests check.
@dataclass(frozen=True, eq=False)
class RoundResult:
    """How one round ended.

    `seconds` is the time the network took to guess the drawing, None when it did not.
    `drawing` is the last drawing observed in the round (uint8, read-only), None if none was.
    """

    prompt: str
    guessed: bool
    seconds: float | None
    drawing: np.ndarray | None
    guesses: tuple[Guess, ...]
    line: str


@dataclass(frozen=True, eq=False)
class Game:
    """A game in progress: its prompts, the rounds played, and the current round's live state.

    While a round is being drawn, `results` holds the rounds before it; once it ends (guessed,
    timed out or skipped) its result is appended and the round waits for `next_round`, as Quick,
    Draw! waits on "Next" after "You drew X". `drawing`, `guesses` and `line` are the current
    round's latest; times are in seconds on whatever clock the caller passes as `now`.
    """

    settings: GameSettings
    class_names: tuple[str, ...]
    prompts: tuple[str, ...]
    round_started_at: float
    # The run's dataset, so a drawing unlike its classes is called "not any digit I know".
    dataset_name: str = ""
    results: tuple[RoundResult, ...] = ()
    round_index: int = 0
    drawing: np.ndarray | None = None
    guesses: tuple[Guess, ...] = ()
    line: str = UNSURE_LINE

    @property
    def prompt(self) -> str:
        """What the player is asked to draw in the current round."""
        return self.prompts[self.round_index]

    @property
    def deadline(self) -> float:
        """When the current round runs out of time."""
        return self.round_started_at + self.settings.seconds_per_round

    @property
    def round_over(self) -> bool:
        """Whether the current round has ended and waits for the player to go on."""
        return len(self.results) > self.round_index

    @property
    def finished(self) -> bool:
        """Whether every round has been played."""
        return len(self.results) >= self.settings.rounds


@dataclass(frozen=True)
class GameSummary:
    """The end screen's numbers: rounds played, how many were guessed, and how fast on average."""

    rounds_played: int
    guessed_count: int
    mean_seconds_to_guess: float | None
    results: tuple[RoundResult, ...]


def choose_prompts(
    class_names: Sequence[str], settings: GameSettings, seed: int
) -> tuple[str, ...]:
    """`settings.rounds` prompts from the run's classes, the same ones for the same seed.

    With at least as many classes as rounds the prompts are distinct. With fewer, every class
    comes up about equally often and never twice in a row, so a two-class run alternates.
    """
    names = _checked_class_names(class_names)
    generator = np.random.default_rng(seed)
    if len(names) >= settings.rounds:
        chosen = generator.choice(len(names), size=settings.rounds, replace=False)
        return tuple(names[index] for index in chosen)
    prompts: list[str] = []
    while len(prompts) < settings.rounds:
        order = [names[index] for index in generator.permutation(len(names))]
        # Each pass is a shuffle of all the classes, so a repeat can only happen where two
        # passes meet; swapping the first two of the new pass removes it.
        if prompts and order[0] == prompts[-1]:
            order[0], order[1] = order[1], order[0]
        prompts.extend(order)
    return tuple(prompts[: settings.rounds])


def start_game(
    class_names: Sequence[str],
    settings: GameSettings,
    seed: int,
    now: float,
    *,
    dataset_name: str = "",
) -> Game:
    """A new game whose first round starts at `now`, on a run trained on `dataset_name`."""
    names = _checked_class_names(class_names)
    return Game(
        settings=settings,
        class_names=names,
        prompts=choose_prompts(names, settings, seed),
        round_started_at=now,
        dataset_name=dataset_name,
    )


def tick(game: Game, now: float) -> Game:
    """Time passes with no new drawing: the round ends unguessed once `now` reaches its deadline."""
    if game.finished or game.round_over or now < game.deadline:
        return game
    return _end_round(game, guessed=False, seconds=None, line=TIMEOUT_LINE)


def observe(
    game: Game,
    probabilities: np.ndarray | None,
    drawing: np.ndarray | None,
    now: float,
    *,
    familiar: bool = True,
) -> Game:
    """The network's probabilities (k,) for the current drawing at `now`.

    The round ends guessed when the prompt is the top guess at `minimum_probability` or more,
    as in Quick, Draw!. Otherwise a drawing that is not `familiar` (Run.recognise: unlike what
    the network was trained on) gets "That does not look like any digit I know" instead of
    "I see …". Familiarity does not stop a round being won: measured on two 20 s MNIST runs, a
    clean stroked 2 scored 0.93 and 1.02 against the threshold of 1.0, and a player who drew
    the prompt well should not be told it is no digit at all.
    Time runs out first: a drawing observed at or after the deadline ends the round unguessed
    and is not kept, as Quick, Draw! locks the canvas when the clock stops. Probabilities None
    mean the canvas is empty (the player cleared it): the clock still runs, and the round
    forgets its last drawing so the end screen does not show one the player erased.
    A drawing observed after the round or the game has ended changes nothing.
    """
    timed = tick(game, now)
    if timed.finished or timed.round_over:
        return timed
    if probabilities is None:
        if timed.drawing is None and not timed.guesses:
            return timed
        return replace(timed, drawing=None, guesses=(), line=UNSURE_LINE)
    guesses = tuple(top_guesses(probabilities, game.class_names, count=game.settings.guesses_kept))
    current = replace(
        timed,
        drawing=_frozen_copy(drawing),
        guesses=guesses,
        line=game_commentary(
            guesses, game.prompt, game.settings, familiar=familiar, dataset_name=game.dataset_name
        ),
    )
    if not is_recognised(guesses, game.prompt, game.settings):
        return current
    seconds = _within_round(now - timed.round_started_at, timed.settings)
    return _end_round(current, guessed=True, seconds=seconds, line=current.line)


def skip_round(game: Game, now: float) -> Game:
    """The player gives up on the current round: it ends unguessed, keeping the last drawing."""
    timed = tick(game, now)
    if timed.finished or timed.round_over:
        return timed
    return _end_round(timed, guessed=False, seconds=None, line=TIMEOUT_LINE)


def next_round(game: Game, now: float) -> Game:
    """Start the next round at `now` once the current one has ended.

    Does nothing while a round is being drawn or after the last one, so a second press of "Next"
    that arrives before the page has redrawn never skips a round.
    """
    if game.finished or not game.round_over:
        return game
    return replace(
        game,
        round_index=game.round_index + 1,
        round_started_at=now,
        drawing=None,
        guesses=(),
        line=UNSURE_LINE,
    )


def seconds_left(game: Game, now: float) -> float:
    """Seconds left to draw in the current round; 0 once it has ended."""
    if game.finished or game.round_over:
        return 0.0
    return _within_round(game.deadline - now, game.settings)


def summary(game: Game) -> GameSummary:
    """Rounds played, how many the network guessed, and its mean time to guess them."""
    times = [result.seconds for result in game.results if result.seconds is not None]
    return GameSummary(
        rounds_played=len(game.results),
        guessed_count=sum(result.guessed for result in game.results),
        mean_seconds_to_guess=float(np.mean(times)) if times else None,
        results=game.results,
    )


def summary_headline(game_summary: GameSummary) -> str:
    """The end screen's first sentence, e.g. 'The network guessed 4 of your 6 drawings.'"""
    played = game_summary.rounds_played
    noun = "drawing" if played == 1 else "drawings"
    headline = f"The network guessed {game_summary.guessed_count} of your {played} {noun}"
    if game_summary.mean_seconds_to_guess is None:
        return headline + "."
    return f"{headline}, in {game_summary.mean_seconds_to_guess:.1f} s on average."


def is_recognised(guesses: Sequence[Guess], prompt: str, settings: GameSettings) -> bool:
    """Whether the network calls the drawing: the prompt is its top guess and it is sure enough."""
    if not guesses:
        return False
    best = guesses[0]
    return best.class_name == prompt and best.probability >= settings.minimum_probability


def game_commentary(
    guesses: Sequence[Guess],
    prompt: str,
    settings: GameSettings,
    *,
    familiar: bool = True,
    dataset_name: str = "",
) -> str:
    """The network's running commentary: 'I see 3, or 5 …', then 'Oh, I know, it's 8!'.

    core.predictions.commentary speaks for any sure guess; in the game only the prompt ends a
    round, so a sure guess of another class is still only something the network sees. A drawing
    that is not `familiar`, and does not win the round, gets "That does not look like any digit
    I know; my best guess would be …".
    """
    if is_recognised(guesses, prompt, settings):
        return f"Oh, I know, it's {prompt}!"
    if guesses and not familiar:
        return unfamiliar_message(dataset_name, guesses[0].class_name)
    named = [
        guess.class_name
        for guess in guesses[: settings.guesses_named]
        if guess.probability >= settings.mention_probability
    ]
    if not named:
        return UNSURE_LINE
    return f"I see {', or '.join(named)} …"


def speech_to_say(previous_line: str | None, new_line: str | None) -> str | None:
    """The line for the browser to speak: the new one only when it changed, else None."""
    if not new_line or new_line == previous_line:
        return None
    return new_line


def _checked_class_names(class_names: Sequence[str]) -> tuple[str, ...]:
    """The class names as a tuple, or ValueError when a game cannot be played with them."""
    names = tuple(class_names)
    if len(names) < 2:
        raise ValueError(
            f"The game needs a run with at least two classes to tell apart; this one has "
            f"{len(names)}. Pick a run trained on two or more classes."
        )
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(
            f"The run's class names repeat ({', '.join(duplicates)}), so a prompt could not "
            "say which class to draw. Give each class its own name."
        )
    return names


def _frozen_copy(drawing: np.ndarray | None) -> np.ndarray | None:
    """A read-only copy, so a later stroke on the caller's array cannot change a kept round."""
    if drawing is None:
        return None
    if drawing.dtype != np.uint8:
        raise ValueError(
            f"A drawing must be uint8 pixels 0-255, as the model takes them; got {drawing.dtype}."
        )
    copy = np.array(drawing, copy=True)
    copy.setflags(write=False)
    return copy


def _within_round(seconds: float, settings: GameSettings) -> float:
    """`seconds` clamped to [0, seconds_per_round].

    The deadline is a sum of floats, so the time left or taken can come out a hair over the
    round's length (20.000000000000004 s); a timer or an end screen should never show that.
    """
    return min(max(seconds, 0.0), settings.seconds_per_round)


def _end_round(game: Game, *, guessed: bool, seconds: float | None, line: str) -> Game:
    """The game with its current round ended and recorded, keeping the round's last drawing."""
    result = RoundResult(
        prompt=game.prompt,
        guessed=guessed,
        seconds=seconds,
        drawing=game.drawing,
        guesses=game.guesses,
        line=line,
    )
    return replace(game, results=(*game.results, result), line=line)
