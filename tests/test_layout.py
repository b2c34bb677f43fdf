"""The project's layout promises: core has no UI, every page is listed and has an AppTest."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_core_never_imports_streamlit() -> None:
    offenders = [
        path.name
        for path in (ROOT / "core").rglob("*.py")
        if re.search(r"^\s*(import streamlit|from streamlit)", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []


def test_every_page_file_is_in_the_navigation_and_has_an_apptest() -> None:
    dashboard = (ROOT / "dashboard.py").read_text()
    page_tests = "".join(
        path.read_text() for path in sorted((ROOT / "tests").glob("test_page*.py"))
    )
    for page in sorted((ROOT / "pages").glob("*.py")):
        assert f'"pages/{page.name}"' in dashboard, f"{page.name} is not in st.navigation"
        assert f"pages/{page.name}" in page_tests, f"{page.name} has no AppTest"


def test_requirements_name_the_products_packages() -> None:
    requirements = (ROOT / "requirements.txt").read_text()
    for package in ("streamlit", "tensorflow", "plotly", "pandas", "streamlit-drawable-canvas"):
        assert re.search(rf"^{re.escape(package)}>=", requirements, re.MULTILINE), package
