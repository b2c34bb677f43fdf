"""Real-browser test of a classroom: two students, one trainer, a queue."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.runs import list_runs

pytestmark = pytest.mark.e2e


def test_a_second_student_waits_in_the_queue_and_can_cancel(
    page, browser, app_url, app_folder, wait_until_idle, take_screenshot
):
    ben_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    ben = ben_context.new_page()
    stopped_before = {run.run_id for run in list_runs(app_folder / "runs")}
    try:
        # Digits, so a stopped run saves in a moment; the budget outlasts the whole test.
        link = f"{app_url}/train?dataset=digits&preset=fast&epochs=200&time_budget=120"
        page.goto(f"{link}&user=Ana")
        wait_until_idle(page)
        ben.goto(f"{link}&user=Ben")
        wait_until_idle(ben)
        # The link set the page up: both students see the same setup.
        expect(ben.get_by_text("1,497 training and 300 test images")).to_be_visible()
        page.get_by_role("button", name="Train", exact=True).click()
        expect(page.get_by_role("button", name="Stop")).to_be_visible(timeout=90_000)
        # This machine trains one run at a time: Ben waits, and sees where he stands.
        ben.get_by_role("button", name="Train", exact=True).click()
        expect(ben.get_by_text("next in line")).to_be_visible(timeout=30_000)
        expect(ben.get_by_text("Your time budget starts when your training does")).to_be_visible()
        take_screenshot(ben, "train-queued.png")
        ben.get_by_role("button", name="Cancel").click()
        expect(ben.get_by_text("Cancelled: nothing was trained or saved.")).to_be_visible(
            timeout=30_000
        )
        # Ana stops hers: the model so far is kept and saved, made by Ana.
        page.get_by_role("button", name="Stop").click()
        expect(page.get_by_text("Training stopped by request")).to_be_visible(timeout=90_000)
        wait_until_idle(page)
        # One new stopped run in the app's runs folder: Ana's, trained on a worker.
        (run,) = [
            run
            for run in list_runs(app_folder / "runs")
            if run.status == "stopped" and run.run_id not in stopped_before
        ]
        assert run.owner == "Ana" and run.record["worker"]
    finally:
        ben_context.close()
