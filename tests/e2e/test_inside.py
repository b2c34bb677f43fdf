"""Real-browser test of the Inside the network page on the small Digits run."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

# The screen position of the embedding's first point, from Plotly's own axes: the points are
# drawn in WebGL, so there is no element to click.
FIRST_POINT_JS = """
() => {
  const chart = [...document.querySelectorAll('.js-plotly-plot')].find(
    (plot) => String(plot.layout?.title?.text ?? '').includes('test images by'));
  const trace = chart._fullData[0];
  const xaxis = chart._fullLayout.xaxis, yaxis = chart._fullLayout.yaxis;
  const box = chart.getBoundingClientRect();
  return {x: box.left + xaxis._offset + xaxis.l2p(trace.x[0]),
          y: box.top + yaxis._offset + yaxis.l2p(trace.y[0])};
}
"""


def chart_with_text(page, text: str):
    return page.locator(".js-plotly-plot").filter(has_text=text)


def test_inside_page_shows_what_the_layers_see_and_where_it_looks(
    page, app_url, wait_until_idle, take_screenshot
):
    page.goto(f"{app_url}/inside")
    wait_until_idle(page)
    expect(page.get_by_role("heading", name="Inside the network")).to_be_visible()
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=re.compile(r"^tiny digits")).click()
    wait_until_idle(page)
    # Feature maps: one heatmap of all the first layer's channels, drawn as an image.
    maps = chart_with_text(page, "conv1: 28×28 pixels, 8 channels")
    maps.locator(".heatmaplayer image").first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Random image").click()
    wait_until_idle(page)
    assert not page.locator('[data-testid="stException"]').count()
    take_screenshot(page, "inside.png")

    page.get_by_role("tab", name="Where it looks").click()
    grad_cam = chart_with_text(page, "Grad-CAM for")
    # The image itself twice (image layers) and the heatmap over the second.
    expect(grad_cam.locator(".imagelayer image")).to_have_count(2)
    expect(grad_cam.locator(".heatmaplayer image")).to_have_count(1)
    expect(page.get_by_text("the predicted class, with probability")).to_be_visible()
    take_screenshot(page, "inside-where-it-looks.png")

    page.get_by_role("tab", name="Filters").click()
    # The first layer's 8 filters as one picture, then bars of conv2's 16 filter strengths.
    expect(page.get_by_text("The first layer's filters are")).to_be_visible()
    expect(chart_with_text(page, "conv2").locator(".barlayer .point")).to_have_count(16)
    take_screenshot(page, "inside-filters.png")

    page.get_by_role("tab", name="Embedding").click()
    embedding = chart_with_text(page, "test images by PCA")
    embedding.locator(".gl-container canvas").first.wait_for(timeout=30_000)
    wait_until_idle(page)
    # A mouse click lands only inside the viewport.
    embedding.scroll_into_view_if_needed()
    point = page.evaluate(FIRST_POINT_JS)
    page.mouse.click(point["x"], point["y"])
    wait_until_idle(page)
    opener = page.get_by_role("button", name="Look inside test image #")
    expect(opener).to_be_visible(timeout=30_000)
    test_index = opener.inner_text().split("#")[-1].strip()
    take_screenshot(page, "inside-embedding.png")
    opener.click()
    wait_until_idle(page)
    page.get_by_role("tab", name="Feature maps").click()
    expect(page.locator(".js-plotly-plot").first).to_contain_text(f"test image #{test_index}")
    assert not page.locator('[data-testid="stException"]').count()
