"""Reading a model's probabilities the way a person would: top guesses and how sure it is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Under this probability a class rounds to 0%: the network sees no evidence of it, so a map of
# the evidence for it would only show noise stretched to full scale.
NO_EVIDENCE_BELOW = 0.005


@dataclass(frozen=True)
class Guess:
    """One class and its probability."""

    class_name: str
    probability: float


def top_guesses(
    probabilities: np.ndarray, class_names: Sequence[str], count: int = 5
) -> list[Guess]:
    """The `count` most probable classes of one image's probabilities, most probable first."""
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if len(probabilities) != len(class_names):
        raise ValueError(
            f"Got {len(probabilities)} probabilities for {len(class_names)} class names."
        )
    order = np.argsort(-probabilities, kind="stable")[:count]
    return [Guess(class_names[index], float(probabilities[index])) for index in order]


def commentary(guesses: Sequence[Guess], threshold: float) -> str:
    """What the network would say, Quick, Draw! style: sure, or torn between its top guesses."""
    if not guesses:
        return "I have no idea."
    best = guesses[0]
    if best.probability >= threshold:
        return f"I know, it's {best.class_name}!"
    alternatives = [guess.class_name for guess in guesses[1:3] if guess.probability >= 0.05]
    if alternatives:
        return f"I'm not sure… {best.class_name}? Or maybe {' or '.join(alternatives)}?"
    return f"I'm not sure… is it {best.class_name}?"


# What a run's classes are, in words, for "that does not look like any ... I know".
CLASS_NOUNS = {
    "mnist": "digit",
    "digits": "digit",
    "fashion_mnist": "piece of clothing",
    "quickdraw": "drawing",
    "cifar10": "picture",
}


def unfamiliar_message(dataset_name: str, best_guess: str) -> str:
    """What a network says of an image unlike its training data, Quick, Draw! style."""
    noun = CLASS_NOUNS.get(dataset_name)
    anything = f"any {noun}" if noun else "anything"
    return f"That does not look like {anything} I know; my best guess would be {best_guess}."


def sureness(probability: float, threshold: float, *, familiar: bool = True) -> str:
    """How sure a guess is, in words: '85% sure' at or above `threshold`, else 'not sure (40%)'.

    An image unlike the training data (`familiar` False) is 'not one of mine', however sure.
    """
    if not familiar:
        return f"not one of mine ({probability:.0%})"
    if probability >= threshold:
        return f"{probability:.0%} sure"
    return f"not sure ({probability:.0%})"


def no_evidence_message(class_name: str, probability: float) -> str | None:
    """The sentence to show instead of a map of the evidence for a class the network rules out.

    None when the class's probability is at least NO_EVIDENCE_BELOW, so there is something to show.
    """
    if probability >= NO_EVIDENCE_BELOW:
        return None
    return (
        f"There is nothing to show for {class_name}: the network sees no evidence of it in this "
        f"image (its probability is under {NO_EVIDENCE_BELOW:.1%}). Pick a class the network "
        "gives some probability to."
    )
