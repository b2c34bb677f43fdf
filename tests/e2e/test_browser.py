"""Real-browser tests: the app as a user sees it in Debian's headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def choose_dataset(page, title: str) -> None:
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=title, exact=True).click()


def test_home_page_shows_the_frame_and_the_device(page, app_url, wait_until_idle, screenshot_dir):
    page.goto(app_url)
    wait_until_idle(page)
    assert page.get_by_role("heading", name="Convlab").is_visible()
    navigation = page.locator('[data-testid="stSidebarNav"]')
    assert navigation.inner_text().split() == ["home", "Home", "photo_library", "Datasets"]
    # The device probe runs in the background; the sidebar fills it in without a click.
    page.get_by_text("CPU (").or_(page.get_by_text("GPU:")).first.wait_for(timeout=90_000)
    page.screenshot(path=str(screenshot_dir / "home.png"), full_page=True)


@pytest.mark.parametrize(
    ("title", "slug", "training_images"),
    [
        ("MNIST handwritten digits", "mnist", "60,000"),
        ("Fashion-MNIST", "fashion_mnist", "60,000"),
        ("CIFAR-10", "cifar10", "1,000"),
        ("Quick, Draw!", "quickdraw", "1,000"),
        ("Digits (offline)", "digits", "1,497"),
    ],
)
def test_datasets_page_shows_each_dataset(
    page, app_url, wait_until_idle, screenshot_dir: Path, title, slug, training_images
):
    page.goto(f"{app_url}/datasets")
    wait_until_idle(page)
    choose_dataset(page, title)
    training_metric = page.locator('[data-testid="stMetric"]').nth(3)
    expect(training_metric.locator('[data-testid="stMetricValue"]')).to_have_text(
        training_images, timeout=60_000
    )
    wait_until_idle(page)
    # The sample grid is drawn: a Plotly chart with its image layer.
    page.locator(".js-plotly-plot .imagelayer image").first.wait_for(timeout=30_000)
    assert not page.locator('[data-testid="stException"]').count()
    page.screenshot(path=str(screenshot_dir / f"datasets-{slug}.png"), full_page=True)


def test_reshuffle_draws_new_samples(page, app_url, wait_until_idle):
    page.goto(f"{app_url}/datasets")
    wait_until_idle(page)
    image = page.locator(".js-plotly-plot .imagelayer image").first
    before = image.get_attribute("href")
    page.get_by_role("button", name="Reshuffle").click()
    wait_until_idle(page)
    page.wait_for_function(
        "(before) => document.querySelector('.js-plotly-plot .imagelayer image')"
        ".getAttribute('href') !== before",
        arg=before,
        timeout=30_000,
    )
