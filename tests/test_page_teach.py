"""AppTests of the Teach page: name classes, draw examples, keep them as a .zip, train."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests_support import canvas_state, drawn_one, open_page

from core import session_keys
from core.teach import MIN_EXAMPLES_PER_CLASS, Collection

PAGE = "pages/teach.py"
NAMES_KEY = "teach_drawings_classes"


@pytest.fixture(autouse=True)
def empty_runs_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONVLAB_RUNS_DIR", str(tmp_path / "runs"))


def counts(app) -> dict[str, int]:
    """The per-class counters, as the page shows them."""
    return {metric.label: int(metric.value) for metric in app.metric}


def add_drawing(app):
    """Draw on the page's current canvas and press Add this drawing."""
    number = 0
    if session_keys.TEACH_EXAMPLE_NUMBER in app.session_state:
        number = app.session_state[session_keys.TEACH_EXAMPLE_NUMBER]
    app.session_state[f"teach_canvas_{number}"] = canvas_state(drawn_one())
    app.run()
    return app.button(key="teach_add_drawing").click().run()


def ready_collection(per_class: int = MIN_EXAMPLES_PER_CLASS) -> dict:
    """Session state with cat, dog and sun drawn `per_class` times each."""
    rng = np.random.default_rng(0)
    collection = Collection().with_class_names(["cat", "dog", "sun"])
    for name in collection.class_names:
        for _ in range(per_class):
            image = rng.integers(0, 256, (28, 28, 1), dtype=np.uint8)
            collection = collection.with_image(name, image)
    return {session_keys.TEACH_COLLECTIONS: {"drawings": collection}}


def test_naming_classes_says_what_is_wrong_and_shows_a_counter_per_class() -> None:
    app = open_page(PAGE, user="Ana")
    assert not app.exception
    assert app.title[0].value == "Teach"
    assert "Name the things you will teach it" in app.info[0].value
    app.text_input(key=NAMES_KEY).input("cat").run()
    assert "Name between 2 and 10 classes" in app.error[0].value
    assert not app.metric and not [button for button in app.button if button.label == "Train"]
    app.text_input(key=NAMES_KEY).input("cat, dog, Cat").run()
    assert "'cat' and 'Cat' have the same name" in app.error[0].value
    app.text_input(key=NAMES_KEY).input("cat, dog, sun").run()
    assert not app.error
    assert counts(app) == {"cat": 0, "dog": 0, "sun": 0}
    assert app.button(key="teach_train").disabled
    info = " ".join(block.value for block in app.info)
    assert "Each class needs at least 5 examples to train on: add 5 more of **cat**" in info


def test_each_added_drawing_counts_for_the_chosen_class_and_can_be_undone() -> None:
    app = open_page(PAGE, user="Ana")
    app.text_input(key=NAMES_KEY).input("cat, dog, sun").run()
    assert app.button(key="teach_add_drawing").disabled, "nothing drawn yet"
    add_drawing(app)
    assert not app.exception
    assert counts(app) == {"cat": 1, "dog": 0, "sun": 0}
    # The canvas is a new, empty one: Add waits for the next drawing.
    assert app.button(key="teach_add_drawing").disabled
    app.radio(key="teach_drawings_class").set_value("sun").run()
    add_drawing(app)
    add_drawing(app)
    assert counts(app) == {"cat": 1, "dog": 0, "sun": 2}
    assert app.radio(key="teach_drawings_class").value == "sun", "the class stays chosen"
    stored = app.session_state[session_keys.TEACH_COLLECTIONS]["drawings"]
    assert stored.examples_of("sun")[0].shape == (28, 28, 1)
    app.button(key="teach_undo_2").click().run()
    assert counts(app) == {"cat": 1, "dog": 0, "sun": 1}
    app.button(key="teach_clear_0").click().run()
    assert counts(app) == {"cat": 0, "dog": 0, "sun": 1}
    # Renaming a class keeps its drawings.
    app.text_input(key=NAMES_KEY).input("cat, dog, moon").run()
    assert counts(app) == {"cat": 0, "dog": 0, "moon": 1}


def test_the_collection_downloads_as_a_zip_that_a_new_session_continues_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streamlit.runtime.media_file_manager import MediaFileManager

    # The zip is made when the button is clicked: keep what the click would call.
    made_on_click = []
    add_deferred = MediaFileManager.add_deferred

    def keep_callable(self, data_callable, *arguments, **keywords):
        made_on_click.append(data_callable)
        return add_deferred(self, data_callable, *arguments, **keywords)

    monkeypatch.setattr(MediaFileManager, "add_deferred", keep_callable)
    app = open_page(PAGE, user="Ana", before=ready_collection(per_class=6))
    assert counts(app) == {"cat": 6, "dog": 6, "sun": 6}
    button = app.get("download_button")[0].proto
    assert button.label == "Download the collection (.zip, 18 examples)"
    assert button.deferred_file_id
    archive = made_on_click[-1]()
    assert archive[:2] == b"PK"
    fresh = open_page(PAGE, user="Ana")
    fresh.file_uploader(key="teach_drawings_upload").upload("my-drawings.zip", archive).run()
    assert not fresh.exception and not fresh.error
    assert "Read 18 examples of 3 classes" in fresh.success[0].value
    assert fresh.text_input(key=NAMES_KEY).value == "cat, dog, sun"
    assert counts(fresh) == {"cat": 6, "dog": 6, "sun": 6}
    original = app.session_state[session_keys.TEACH_COLLECTIONS]["drawings"]
    restored = fresh.session_state[session_keys.TEACH_COLLECTIONS]["drawings"]
    for name in original.class_names:
        for drawn, read in zip(original.examples_of(name), restored.examples_of(name), strict=True):
            np.testing.assert_array_equal(drawn, read)
    # A later rerun does not read the same upload again over new drawings.
    add_drawing(fresh)
    assert counts(fresh) == {"cat": 7, "dog": 6, "sun": 6}


def test_train_submits_the_collection_as_the_maker_s_20_second_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ui.teach

    submitted = []
    monkeypatch.setattr(ui.teach, "submit_training_ui", submitted.append)
    app = open_page(PAGE, before=ready_collection(per_class=MIN_EXAMPLES_PER_CLASS - 1))
    assert app.button(key="teach_train").disabled
    info = " ".join(block.value for block in app.info)
    assert "add 1 more of **cat**, 1 more of **dog** and 1 more of **sun**" in info
    for key, value in ready_collection().items():
        app.session_state[key] = value
    app.run()
    assert "Type your name in the sidebar" in " ".join(block.value for block in app.info)
    assert app.button(key="teach_train").disabled, "a run needs a maker"
    app.session_state["user"] = "Ana"
    app.run()
    assert not app.button(key="teach_train").disabled
    app.button(key="teach_train").click().run()
    assert not app.exception
    (request,) = submitted
    assert request.owner == "Ana" and request.name == "my classes: cat, dog, sun"
    assert request.preset == "fast" and request.config.time_budget_seconds == 20
    assert request.dataset.class_names == ("cat", "dog", "sun")
    assert request.dataset.image_shape == (28, 28, 1)
    assert len(request.dataset.x_train) + len(request.dataset.x_test) == 15
    # Evaluate, Inside and Play find the run's images in the session, as for an upload.
    assert app.session_state[session_keys.CUSTOM_DATASET][1] is request.dataset


def test_photos_are_a_collection_of_their_own() -> None:
    app = open_page(PAGE, user="Ana", before=ready_collection())
    app.radio(key="teach_kind").set_value("photos").run()
    assert not app.exception
    app.text_input(key="teach_photos_classes").input("cup, pen").run()
    assert "2. Take photos" in [header.value for header in app.subheader]
    assert counts(app) == {"cup": 0, "pen": 0}
    app.radio(key="teach_kind").set_value("drawings").run()
    assert counts(app) == {"cat": 5, "dog": 5, "sun": 5}, "the drawings are still there"
