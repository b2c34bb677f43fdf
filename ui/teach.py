"""The Teach page's widget groups: the collection, its examples, its .zip and its training."""

from __future__ import annotations

import streamlit as st

from core import session_keys
from core.custom_data import (
    MAX_CLASSES,
    MIN_CLASSES,
    ImportReport,
    class_names_from_text,
    collection_zip,
    decode_image,
    read_collection_zip,
)
from core.datasets import DatasetError
from core.drawing import EmptyDrawingError
from core.engine import TrainingJob
from core.strokes import read_drawing
from core.teach import (
    COLLECTION_KINDS,
    DRAWINGS,
    MIN_EXAMPLES_PER_CLASS,
    SUGGESTED_EXAMPLES_PER_CLASS,
    TEACH_SECONDS,
    Collection,
    collection_from_images,
    missing_examples_message,
    teach_request,
)
from ui.canvas import CANVAS_COLUMNS, drawing_canvas
from ui.engine import submit_training_ui
from ui.user import ask_for_name_ui, current_user

KIND_TITLES = {
    DRAWINGS: "Drawings (28 x 28, then Draw and Play with them)",
    "photos": "Photos (camera, colour 32 x 32)",
}
PREVIEW_PIXELS = 112
THUMBNAIL_PIXELS = 36
THUMBNAILS_SHOWN = 14


# --- The collection in this session -------------------------------------------------------


def stored_collection(kind: str) -> Collection:
    """This session's collection of `kind`, empty until the user names classes."""
    return st.session_state.get(session_keys.TEACH_COLLECTIONS, {}).get(kind, Collection(kind))


def store_collection(collection: Collection) -> None:
    collections = dict(st.session_state.get(session_keys.TEACH_COLLECTIONS, {}))
    collections[collection.kind] = collection
    st.session_state[session_keys.TEACH_COLLECTIONS] = collections


def example_number() -> int:
    """The number in the canvas's and camera's keys: a new one starts them empty."""
    return st.session_state.get(session_keys.TEACH_EXAMPLE_NUMBER, 0)


def _undo_last(kind: str, class_name: str) -> None:
    store_collection(stored_collection(kind).without_last(class_name))


def _clear_class(kind: str, class_name: str) -> None:
    store_collection(stored_collection(kind).cleared(class_name))


def _add_example(kind: str, class_name: str, image) -> None:
    """Keep the example, empty the canvas or camera, and rerun so counts and Train follow."""
    try:
        store_collection(stored_collection(kind).with_image(class_name, image))
    except ValueError as error:
        st.error(str(error), icon=":material/block:")
        return
    st.session_state[session_keys.TEACH_EXAMPLE_NUMBER] = example_number() + 1
    st.rerun()


# --- Widgets ------------------------------------------------------------------------------


def collection_kind_ui(page: str) -> str:
    """Drawings or photos: one kind of collection at a time, each kept while the other shows."""
    return st.radio(
        "What will you teach it?",
        COLLECTION_KINDS,
        format_func=KIND_TITLES.get,
        horizontal=True,
        key=f"{page}_kind",
    )


def upload_collection_ui(page: str, kind: str, names_key: str) -> None:
    """Continue a downloaded collection: its .zip replaces this kind's collection once.

    Runs before the class-names box is drawn, so it can write the uploaded names into it.
    """
    upload = st.file_uploader(
        "Continue a collection (.zip)",
        type=["zip"],
        key=f"{page}_{kind}_upload",
        help="A .zip this page downloaded, or any .zip of 2 to 10 class folders of PNG or JPEG "
        "images, as the Datasets page takes.",
    )
    read = dict(st.session_state.get(session_keys.TEACH_UPLOAD_READ, {}))
    if upload is None or read.get(kind) == upload.file_id:
        return
    read[kind] = upload.file_id
    st.session_state[session_keys.TEACH_UPLOAD_READ] = read
    try:
        with st.spinner("Reading your collection…"):
            images_by_class, report = read_collection_zip(
                upload.getvalue(), stored_collection(kind).options
            )
            collection = collection_from_images(kind, images_by_class)
    except (DatasetError, ValueError) as error:
        st.error(f"This .zip cannot continue a collection: {error}", icon=":material/error:")
        return
    store_collection(collection)
    st.session_state[names_key] = ", ".join(collection.class_names)
    skipped = f" ({len(report.skipped)} files skipped)" if report.skipped else ""
    st.success(
        f"Read {sum(report.images_per_class.values())} examples of "
        f"{len(collection.class_names)} classes{skipped}: carry on where you left off.",
        icon=":material/upload:",
    )


def class_names_ui(page: str, kind: str) -> Collection | None:
    """The classes box (and the .zip upload beside it); None after saying what is wrong."""
    names_key = f"{page}_{kind}_classes"
    names_column, upload_column = st.columns([3, 2])
    with upload_column:
        upload_collection_ui(page, kind, names_key)
    collection = stored_collection(kind)
    if names_key not in st.session_state and collection.class_names:
        st.session_state[names_key] = ", ".join(collection.class_names)
    text = names_column.text_input(
        f"Your classes: {MIN_CLASSES} to {MAX_CLASSES} names, separated by commas",
        key=names_key,
        placeholder="for example: cat, house, sun",
        max_chars=MAX_CLASSES * 42,
    )
    names_column.caption(
        "Renaming a class keeps its examples; removing one drops them, so download the "
        "collection first if you may want them back."
    )
    if not text.strip():
        st.info(
            "Name the things you will teach it, then draw about "
            f"{SUGGESTED_EXAMPLES_PER_CLASS} examples of each.",
            icon=":material/edit:",
        )
        return None
    try:
        names = class_names_from_text(text)
    except ValueError as error:
        st.error(str(error), icon=":material/block:")
        return None
    if names != collection.class_names:
        collection = collection.with_class_names(names)
        store_collection(collection)
    return collection


def class_picker_ui(page: str, collection: Collection, label: str) -> str:
    """Which class the next example goes to, each with its count; stays put between examples."""
    key = f"{page}_{collection.kind}_class"
    if st.session_state.get(key) not in collection.class_names:
        st.session_state[key] = collection.class_names[0]
    # The counts go in captions: the browser sends back an option's label, so a label that
    # changed with its count would no longer match and the choice would fall back to the first.
    counts = collection.counts()
    return st.radio(
        label,
        collection.class_names,
        captions=[f"{count} so far" for count in counts.values()],
        key=key,
    )


def drawing_ui(page: str, side: int) -> None:
    """The canvas, the class it is for, what will be added, and Add; a fragment per stroke."""

    collection = stored_collection(DRAWINGS)
    canvas_column, add_column = st.columns(CANVAS_COLUMNS)
    with canvas_column:
        # The same canvas and pen as the Draw page's, so a drawing collected here looks like
        # one drawn there.
        result = drawing_canvas(f"{page}_canvas_{example_number()}", side)
        st.caption("Undo a stroke or start again with the bin, on the canvas's top edge.")
    with add_column:
        class_name = class_picker_ui(page, collection, "This drawing is a")
        image = None
        try:
            if result is None or result.image_data is None:
                raise EmptyDrawingError("Nothing is drawn on the canvas yet.")
            # Read as the Draw page reads a drawing for a 28x28 run: MNIST's recipe.
            image = read_drawing(result.image_data, result.json_data, style="mnist").image
        except EmptyDrawingError:
            st.info(f"Draw a {class_name} on the canvas.", icon=":material/draw:")
        if image is not None:
            st.image(image, width=PREVIEW_PIXELS)
            st.caption("What is added: 28 x 28, centred as MNIST's digits are.")
        if st.button(
            "Add this drawing",
            type="primary",
            icon=":material/add:",
            disabled=image is None,
            key=f"{page}_add_drawing",
        ):
            _add_example(DRAWINGS, class_name, image)


def photo_ui(page: str, collection: Collection) -> None:
    """The camera, the class the photo is for, and Add."""
    camera_column, add_column = st.columns(CANVAS_COLUMNS)
    photo = camera_column.camera_input(
        "Take a photo", key=f"{page}_camera_{example_number()}", width="stretch"
    )
    with add_column:
        class_name = class_picker_ui(page, collection, "This photo is a")
        image = None
        if photo is None:
            st.info(
                f"Hold a {class_name} up to the camera and take a photo.",
                icon=":material/photo_camera:",
            )
        else:
            try:
                image = decode_image(photo.getvalue(), collection.options)
            except ValueError as error:
                st.error(f"This photo cannot be read: {error}.", icon=":material/error:")
        if image is not None:
            size = collection.options.image_size
            st.image(image, width=PREVIEW_PIXELS)
            st.caption(f"What is added: {size} x {size}, in colour.")
        if st.button(
            "Add this photo",
            type="primary",
            icon=":material/add:",
            disabled=image is None,
            key=f"{page}_add_photo",
        ):
            _add_example(collection.kind, class_name, image)


def examples_ui(page: str, collection: Collection) -> None:
    """One row per class: its count, its newest examples, Undo and Clear."""
    for index, (class_name, examples) in enumerate(collection.images_by_class().items()):
        count_column, strip_column, undo_column, clear_column = st.columns(
            [2, 5, 1.3, 1.3], vertical_alignment="center"
        )
        count_column.metric(class_name, len(examples), border=True)
        if examples:
            strip_column.image(list(examples[-THUMBNAILS_SHOWN:][::-1]), width=THUMBNAIL_PIXELS)
        else:
            strip_column.caption("No examples yet.")
        arguments = (collection.kind, class_name)
        undo_column.button(
            "Undo",
            icon=":material/undo:",
            key=f"{page}_undo_{index}",
            on_click=_undo_last,
            args=arguments,
            disabled=not examples,
            help="Remove the newest example of this class.",
        )
        clear_column.button(
            "Clear",
            icon=":material/delete:",
            key=f"{page}_clear_{index}",
            on_click=_clear_class,
            args=arguments,
            disabled=not examples,
            help="Remove every example of this class.",
        )


def download_ui(page: str, collection: Collection) -> None:
    """The collection as the .zip of class folders the Datasets page and this page read."""
    counts = collection.counts()
    total = sum(counts.values())
    kept = {name: images for name, images in collection.images_by_class().items() if images}
    st.download_button(
        f"Download the collection (.zip, {total} example{'' if total == 1 else 's'})",
        # Zipped when clicked, not on every rerun of the page.
        data=lambda: collection_zip(kept),
        file_name=f"my-{collection.kind}.zip",
        mime="application/zip",
        on_click="ignore",
        icon=":material/download:",
        disabled=not total,
        key=f"{page}_download",
        help="One folder of PNG files per class: upload it here to carry on, or on the Datasets "
        "page to train on it there. Classes with no examples are left out.",
    )


def teach_training_ui(page: str, collection: Collection) -> None:
    """Why training must wait, or the Train button; a click submits the 20-second run."""
    job: TrainingJob | None = st.session_state.get(session_keys.TRAINING_JOB)
    busy = job is not None and job.running
    user = current_user()
    missing = collection.missing_examples()
    if missing:
        st.info(missing_examples_message(missing), icon=":material/pending:")
    elif min(collection.counts().values()) < SUGGESTED_EXAMPLES_PER_CLASS:
        st.caption(
            f"Ready to train. About {SUGGESTED_EXAMPLES_PER_CLASS} examples of each class teach "
            f"it better than {MIN_EXAMPLES_PER_CLASS}."
        )
    if user is None:
        ask_for_name_ui("train your classes")
    st.caption(
        f"The fast network trains for about {TEACH_SECONDS:.0f} seconds. It sees each example "
        "shifted, turned and zoomed a little every time, so it learns the shape rather than "
        "where you drew it; a fifth of the examples are kept back to test it."
    )
    if st.button(
        "Train",
        type="primary",
        icon=":material/play_arrow:",
        disabled=busy or user is None or bool(missing),
        key=f"{page}_train",
    ):
        request = teach_request(collection, owner=user)
        # The Evaluate, Inside and Play pages read an uploaded run's images from this session:
        # the collection becomes this session's own dataset, exactly as it was split.
        report = ImportReport(images_per_class=collection.counts())
        upload_key = ("teach", collection.kind, request.name)
        st.session_state[session_keys.CUSTOM_DATASET] = (upload_key, request.dataset, report)
        submit_training_ui(request)
    if busy:
        st.caption("Your run is queued or training: stop it or wait for it to start another.")


def play_links_ui() -> None:
    """After a finished run: where to draw for it and play with it."""
    job: TrainingJob | None = st.session_state.get(session_keys.TRAINING_JOB)
    if job is None or job.state != "finished" or job.request.dataset is None:
        return
    if job.request.dataset.image_shape[-1] == 1:
        st.markdown("**Now see what it learned:** its run is chosen on both pages.")
        draw_column, play_column, _ = st.columns([1, 1, 3])
        draw_column.page_link("pages/draw.py", label="Draw for it", icon=":material/draw:")
        play_column.page_link(
            "pages/play.py", label="Play with it", icon=":material/sports_esports:"
        )
    else:
        st.page_link(
            "pages/draw.py",
            label="Show it a photo on the Draw page",
            icon=":material/photo_camera:",
        )
