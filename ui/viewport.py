"""How much room the browser gives a page: its main column's width and the window's height.

Streamlit tells Python nothing about the screen, so a tiny inline component measures it in the
browser and reports it once, and again only when it changes by more than a few dozen pixels
(a window dragged wider), so a page sized by it does not rerun while the user works.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

# Changes smaller than this are not reported: every report reruns the page.
REPORT_STEP_PIXELS = 40

_MEASURE_JS = f"""
export default function(component) {{
    const {{ setStateValue, parentElement }} = component;
    // The component lives in a shadow root: its own empty, full-width div is what is measured.
    const ruler = parentElement.querySelector(".convlab-ruler");
    let last = null;
    const report = () => {{
        const width = Math.round(ruler.getBoundingClientRect().width);
        const height = Math.round(window.innerHeight);
        if (width <= 0) return;
        if (last && Math.abs(last.width - width) < {REPORT_STEP_PIXELS}
            && Math.abs(last.height - height) < {REPORT_STEP_PIXELS}) return;
        last = {{ width, height }};
        setStateValue("size", last);
    }};
    report();
    const observer = new ResizeObserver(report);
    observer.observe(ruler);
    window.addEventListener("resize", report);
    return () => {{
        observer.disconnect();
        window.removeEventListener("resize", report);
    }};
}}
"""

_measure = st.components.v2.component(
    "convlab_viewport",
    html='<div class="convlab-ruler" style="width: 100%; height: 0"></div>',
    js=_MEASURE_JS,
)


@dataclass(frozen=True)
class Viewport:
    """The page's main column width and the browser window's height, in CSS pixels."""

    width: int
    height: int


def viewport_ui(key: str) -> Viewport | None:
    """Measure the room where this is called (full width of its container); None until known."""
    result = _measure(key=key, default={"size": None}, on_size_change=lambda: None, width="stretch")
    size = getattr(result, "size", None)
    if not isinstance(size, dict):
        return None
    try:
        return Viewport(width=int(size["width"]), height=int(size["height"]))
    except (KeyError, TypeError, ValueError):
        return None
