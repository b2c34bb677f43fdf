"""AppTests: every page renders without an exception and shows what a user would check."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import datasets, session_keys

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = str(ROOT / "dashboard.py")
TIMEOUT = 60


def open_page(page: str) -> AppTest:
    app = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    app.run()
    assert not app.exception
    if page != "pages/home.py":
        app.switch_page(page)
        app.run()
    return app


def metric_values(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def test_home_page_explains_each_page() -> None:
    app = open_page("pages/home.py")
    assert app.title[0].value == "Convlab"
    text = " ".join(block.value for block in app.markdown)
    assert "Browse MNIST digits" in text and "average image" in text
    assert [link.proto.page for link in app.get("page_link")] == ["datasets"]
    sidebar_text = " ".join(caption.value for caption in app.sidebar.caption)
    assert "Compute device" in sidebar_text


def test_datasets_page_shows_the_offline_digits_by_default_choice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path))
    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("digits").run()
    assert not app.exception and not app.error
    metrics = metric_values(app)
    assert metrics["Image size"] == "28 x 28" and metrics["Classes"] == "10"
    assert metrics["Training images"] == "1,497" and metrics["Test images"] == "300"
    assert len(app.get("plotly_chart")) == 4, "samples, balance, means and pixels"


def test_datasets_page_reads_real_mnist_and_reshuffles(
    monkeypatch: pytest.MonkeyPatch, shared_datasets: Path
) -> None:
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(shared_datasets))
    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("fashion_mnist").run()
    assert not app.exception
    assert metric_values(app)["Training images"] == "60,000"
    assert "Zalando Research" in app.caption[0].value
    app.button(key="datasets_reshuffle").click().run()
    assert app.session_state[session_keys.GALLERY_SEED] == 1


def test_a_corrupt_file_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, shared_datasets: Path, tmp_path: Path
) -> None:
    shutil.copytree(shared_datasets / "mnist", tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"junk"))
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path))
    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("mnist").run()
    assert not app.exception
    assert "t10k-images-idx3-ubyte.gz is corrupt" in app.error[0].value
    assert "The Digits dataset works offline" in app.info[0].value
    app.button[0].click().run()
    assert app.selectbox(key="datasets_name").value == "digits"
    assert metric_values(app)["Test images"] == "300"


def test_missing_files_that_cannot_be_downloaded_say_what_to_fetch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, file_server
) -> None:
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setitem(datasets.IDX_MIRRORS, "fashion_mnist", (f"{file_server.url}/none/",))
    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("fashion_mnist").run()
    assert not app.exception
    assert "Could not download train-images-idx3-ubyte.gz" in app.error[0].value
    assert "fashion-mnist/ with the four IDX files" in app.info[0].value


def test_quickdraw_categories_are_fetched_from_the_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, file_server
) -> None:
    for index, category in enumerate(datasets.QUICKDRAW_DEFAULT_CATEGORIES):
        drawings = np.random.default_rng(index).integers(0, 256, (60, 784), dtype=np.uint8)
        np.save(file_server.root / f"{category}.npy", drawings)
    monkeypatch.setenv("CONVLAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CONVLAB_QUICKDRAW_URL", file_server.url)
    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("quickdraw").run()
    assert not app.exception and not app.error
    assert metric_values(app)["Classes"] == "10"
    assert metric_values(app)["Training images"] == "500"
    app.multiselect(key="datasets_categories").set_value(["cat"]).run()
    assert "at least two categories" in app.warning[0].value


def test_an_uploaded_zip_of_class_folders_becomes_a_gallery(tmp_path: Path) -> None:
    from tests_support import class_folder_zip

    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("custom").run()
    assert not app.exception
    archive = class_folder_zip({"circles": 4, "squares": 4}, extra={"readme.txt": b"hi"})
    app.file_uploader(key="datasets_custom_upload").upload("shapes.zip", archive).run()
    assert not app.exception and not app.error
    metrics = metric_values(app)
    assert metrics["Classes"] == "2" and metrics["Test images"] == "2"
    assert "1 files were skipped" in app.expander[0].label
    assert len(app.get("plotly_chart")) == 4


def test_an_uploaded_archive_with_one_class_is_refused_with_the_reason() -> None:
    from tests_support import class_folder_zip

    app = open_page("pages/datasets.py")
    app.selectbox(key="datasets_name").set_value("custom").run()
    app.file_uploader(key="datasets_custom_upload").upload(
        "one.zip", class_folder_zip({"circles": 3})
    ).run()
    assert not app.exception
    assert "at least two classes" in app.error[0].value
