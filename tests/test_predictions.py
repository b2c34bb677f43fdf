"""Tests for core.predictions: how sure a guess reads, and when there is nothing to explain."""

from __future__ import annotations

import numpy as np

from core.predictions import (
    NO_EVIDENCE_BELOW,
    commentary,
    no_evidence_message,
    sureness,
    top_guesses,
)


def test_a_guess_under_the_threshold_says_it_is_not_sure() -> None:
    assert sureness(0.4, threshold=0.6) == "not sure (40%)"
    assert sureness(0.4, threshold=0.3) == "40% sure"
    assert sureness(0.6, threshold=0.6) == "60% sure"


def test_the_top_guesses_come_most_probable_first() -> None:
    guesses = top_guesses(np.array([0.1, 0.7, 0.2]), ("a", "b", "c"), count=2)
    assert [guess.class_name for guess in guesses] == ["b", "c"]
    assert commentary(guesses, threshold=0.6) == "I know, it's b!"
    assert commentary(guesses, threshold=0.8).startswith("I'm not sure… b?")


def test_a_class_the_network_rules_out_has_nothing_to_show() -> None:
    message = no_evidence_message("7", 0.001)
    assert message is not None
    assert message.startswith("There is nothing to show for 7")
    assert "sees no evidence of it" in message
    assert no_evidence_message("7", NO_EVIDENCE_BELOW) is None
    assert no_evidence_message("7", 0.2) is None
