"""Reading a model's probabilities the way a person would: top guesses and how sure it is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


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
