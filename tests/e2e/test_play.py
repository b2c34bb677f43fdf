"""Real-browser test of the Play page: a whole game on the MNIST run, drawn with the mouse."""

from __future__ import annotations

import re
import time
import warnings

import pytest
from digit_strokes import digit_on_canvas
from playwright.sync_api import expect
from test_browser import draw_stroke

from core.game import UNSURE_LINE

pytestmark = pytest.mark.e2e

# The browser's voice, replaced by a list of what it was asked to say: headless Chromium has
# no voices, and a test should not talk.
RECORD_SPEECH_JS = """
window.spokenLines = [];
class RecordedUtterance { constructor(text) { this.text = text; } }
window.SpeechSynthesisUtterance = RecordedUtterance;
Object.defineProperty(window, "speechSynthesis", {
    configurable: true,
    value: { speak: (utterance) => window.spokenLines.push(utterance.text), cancel: () => {} },
});
"""


def settled_canvas_box(page) -> dict:
    """The round's canvas on screen, once it has stopped moving.

    Each round mounts a new canvas (a new key is an empty canvas), and for a moment after it
    mounts, before its own styles apply, the canvas sits a canvas's height lower than where it
    settles: strokes drawn then land on the page, not on the canvas.
    """
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    for _ in range(100):
        page.wait_for_timeout(250)
        settled = canvas.bounding_box()
        if settled == box:
            return box
        box = settled
    raise AssertionError("The canvas never stopped moving.")


# Dark pixels on the canvas Fabric.js paints its strokes on: whether the pen left ink.
INK_PIXELS_JS = """(canvas) => {
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let dark = 0;
    for (let index = 0; index < pixels.length; index += 4) {
        if (pixels[index + 3] > 0 && pixels[index] < 128) dark += 1;
    }
    return dark;
}"""


def ink_pixels(page) -> int | None:
    """Dark pixels on the round's canvas; None when there is no canvas on the page."""
    canvas = page.locator("canvas.lower-canvas")
    return canvas.first.evaluate(INK_PIXELS_JS) if canvas.count() else None


def _stroke_digit(page, digit: str) -> float:
    box = settled_canvas_box(page)
    # draw_stroke takes a 280-pixel canvas's coordinates and scales them to the one on screen.
    for stroke in digit_on_canvas(digit, 280):
        draw_stroke(page, box, [tuple(point) for point in stroke])
    return time.perf_counter()


def draw_digit(page, digit: str, take_screenshot) -> float:
    """Draw the digit on the round's canvas; returns the time the pen was last lifted.

    Once in a full CI run (not reproduced in tens of runs since, loaded or not) a one-stroke 9
    left the commentary at "not sure" for the whole round: the stroke never reached the
    network. When the network has said nothing after a while, the digit is drawn again over
    itself, as a player would go over a drawing the game ignored, and a warning in the test
    report says whether the first stroke had left ink (a lost update) or none (the pen missed a
    canvas that moved).
    """
    lifted = _stroke_digit(page, digit)
    try:
        # The network speaks, or the last round ended on the game's end screen.
        answered = commentary(page).filter(has_not_text=UNSURE_LINE)
        expect(answered.or_(page.locator(".st-key-play_headline")).first).to_be_visible(
            timeout=8_000
        )
    except AssertionError:
        ink = ink_pixels(page)
        take_screenshot(page, f"play-silent-{digit}.png")
        warnings.warn(
            f"The network said nothing of a {digit} for 8 s after the pen lifted; the canvas "
            f"held {ink} dark pixels; the page said {commentary(page).all_inner_texts()}. "
            f"Drawn again.",
            stacklevel=2,
        )
        lifted = _stroke_digit(page, digit)
    return lifted


def prompted_digit(page) -> str:
    text = page.locator(".st-key-play_prompt").inner_text(timeout=30_000)
    match = re.fullmatch(r"Draw (\d)", text.strip())
    assert match, text
    return match.group(1)


def commentary(page):
    return page.locator(".st-key-play_line")


def test_a_game_on_mnist_drawn_with_the_mouse(page, app_url, wait_until_idle, take_screenshot):
    page.add_init_script(RECORD_SPEECH_JS)
    page.goto(f"{app_url}/play")
    wait_until_idle(page)
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option").filter(has_text="fast on mnist").first.click()
    wait_until_idle(page)
    page.get_by_text("Speak the guesses").click()
    wait_until_idle(page)
    expect(commentary(page)).to_have_text("I'm not sure what that is.")

    # The clock runs with no stroke to wake the page.
    clock = page.locator(".st-key-play_clock")
    before = clock.inner_text()
    expect(clock).not_to_have_text(before, timeout=5_000)

    prompt = prompted_digit(page)
    canvas_side = round(settled_canvas_box(page)["width"])
    # A wrong digit first: the network says what it sees and the round goes on.
    wrong = "1" if prompt != "1" else "7"
    lifted = draw_digit(page, wrong, take_screenshot)
    expect(commentary(page)).to_have_text(re.compile(rf"^I see {wrong}\b"), timeout=30_000)
    wrong_seconds = time.perf_counter() - lifted
    wait_until_idle(page)
    take_screenshot(page, "play.png")
    assert prompted_digit(page) == prompt

    page.get_by_role("button", name="Reset canvas & history").click()
    expect(commentary(page)).to_have_text("I'm not sure what that is.", timeout=30_000)
    guessed_seconds = []
    for round_number in range(1, 7):
        if round_number > 1:
            page.get_by_role("button", name=f"Start round {round_number}").click()
            wait_until_idle(page)
            expect(commentary(page)).to_have_text("I'm not sure what that is.")
            prompt = prompted_digit(page)
        lifted = draw_digit(page, prompt, take_screenshot)
        if round_number < 6:
            expect(commentary(page)).to_have_text(f"Oh, I know, it's {prompt}!", timeout=30_000)
            guessed_seconds.append(time.perf_counter() - lifted)
            story = page.get_by_text(f"You drew {prompt}: the network knew it after")
            expect(story).to_be_visible()
        wait_until_idle(page)

    headline = page.locator(".st-key-play_headline")
    expect(headline).to_have_text(
        re.compile(r"^The network guessed 6 of your 6 drawings, in \d+\.\d s on average\.$"),
        timeout=30_000,
    )
    # The voice speaks each round's last line, the sixth one from the end screen.
    page.wait_for_function(
        "() => window.spokenLines.filter((line) => line.startsWith('Oh, I know')).length === 6",
        timeout=30_000,
    )
    spoken = page.evaluate("window.spokenLines")
    assert any(line.startswith(f"I see {wrong}") for line in spoken), spoken
    expect(page.get_by_role("button", name="Look closer")).to_have_count(6)
    page.get_by_role("button", name="Look closer").first.click()
    expect(page.get_by_text("it looked like these")).to_be_visible(timeout=60_000)
    wait_until_idle(page)
    expect(page.locator(".st-key-play_lookalikes img")).to_have_count(8)
    assert not page.locator('[data-testid="stException"]').count()
    take_screenshot(page, "play-end.png")

    page.get_by_role("button", name="Play again").click()
    wait_until_idle(page)
    expect(page.locator(".st-key-play_prompt")).to_have_text(re.compile(r"^Draw \d$"))
    print(
        f"\ncanvas {canvas_side} px; pen lift to commentary: wrong digit {wrong_seconds:.2f} s, "
        f"guessed {', '.join(f'{seconds:.2f}' for seconds in guessed_seconds)} s"
    )
    # The commentary follows the pen: well within a classroom's patience.
    assert wrong_seconds < 5 and max(guessed_seconds) < 5
