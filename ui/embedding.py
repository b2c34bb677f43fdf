"""The Inside page's map of the test images: ready-made from the run folder when it can be."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from core.custom_data import CUSTOM_DATASET_NAME
from core.datasets import Dataset
from core.engine import MAP_SECONDS_PER_IMAGE
from core.plots import embedding_figure, image_grid_figure
from core.runs import Run, RunSummary
from core.timeline import (
    EMBEDDING_FILE_NAME,
    EMBEDDING_IMAGES,
    matches_test_set,
    read_embedding,
    stratified_sample,
)
from ui.engine import started_engine

if TYPE_CHECKING:
    from core.engine import SideTask

EMBEDDING_MIN_IMAGES = 100
EMBEDDING_MAX_IMAGES = 5000
SELECTION_GALLERY_SIZE = 16


# The state key holding the (run folder, sample size) the user asked a t-SNE map for. Not a
# widget: a button sets it, so any other sample shows PCA until the button is pressed again.
def _tsne_request_key(page: str) -> str:
    return f"{page}_tsne_request"


def sample_size_for(count: int, total: int) -> int:
    """The size to ask stratified_sample for: the stored map's own at the default size.

    The default shows the map every run keeps, whatever stratified_sample gave for it (a small
    test set gives all its images, not `count` of them).
    """
    return EMBEDDING_IMAGES if count == min(EMBEDDING_IMAGES, total) else count


# t-SNE takes seconds, so its map is kept; the sample is part of it, so clicks map back.
@st.cache_data(max_entries=8, show_spinner=False)
def embedding_cached(
    run_dir: str, created_at: str, sample_size: int, method: str, _run: Run, _dataset: Dataset
) -> tuple[np.ndarray, np.ndarray]:
    """The test indices of the sample and their 2-D points (n, 2), computed here."""
    from core.inspection import embedding

    indices = stratified_sample(_dataset.y_test, len(_run.class_names), sample_size)
    return indices, embedding(_run.model, _dataset.x_test[indices], method=method)


# Keyed by the file's modification time: the t-SNE map a worker adds later rewrites the file.
@st.cache_data(max_entries=16, show_spinner=False)
def stored_maps_cached(path: str, modified_ns: int) -> dict[str, np.ndarray] | None:
    """The run's embedding file as read_embedding gives it; None when it cannot be read."""
    try:
        return read_embedding(path)
    except ValueError:
        return None


def stored_maps(run_dir: Path, test_labels: np.ndarray) -> dict[str, np.ndarray] | None:
    """The run's ready-made maps of the default sample.

    {} when the run has none (an older run), None when they no longer fit this test set.
    """
    path = run_dir / EMBEDDING_FILE_NAME
    try:
        modified_ns = path.stat().st_mtime_ns
    except OSError:
        return {}
    stored = stored_maps_cached(str(path), modified_ns)
    if not stored or not matches_test_set(stored["indices"], stored["labels"], test_labels):
        return None
    return stored


def embedding_size_ui(total: int, page: str) -> int:
    """How many test images to place on the map: a slider, or all of a small test set."""
    if total <= EMBEDDING_MIN_IMAGES:
        return total
    largest = min(EMBEDDING_MAX_IMAGES, total)
    size_key = f"{page}_embedding_size"
    # The default goes through session state, which also repairs a value another run's
    # larger test set left behind.
    if not EMBEDDING_MIN_IMAGES <= st.session_state.get(size_key, 0) <= largest:
        st.session_state[size_key] = min(EMBEDDING_IMAGES, largest)
    return st.slider(
        "Test images on the map",
        EMBEDDING_MIN_IMAGES,
        largest,
        step=100,
        key=size_key,
        help=f"At {min(EMBEDDING_IMAGES, largest):,} the map saved with the run shows at once.",
    )


def selected_images(event: Any, image_count: int) -> list[int]:
    """Test indices of the points selected on the map (each point's customdata)."""
    points = event.selection.points if event and event.selection else []
    indices = []
    for point in points:
        value = point.get("customdata")
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None and 0 <= int(value) < image_count:
            indices.append(int(value))
    return indices


def map_task(run: Run, dataset: Dataset) -> SideTask | None:
    """The engine's t-SNE task for this run, submitted now if there is none; None if no engine.

    Never starts an engine: showing a page must not start a cluster.
    """
    engine = started_engine()
    if engine is None:
        return None
    task = engine.side_task("map", run.run_dir.name)
    if task is None:
        described = run.record.get("dataset") or {}
        try:
            task = engine.submit_map(
                run.run_dir,
                dataset_name=run.dataset,
                categories=described.get("categories"),
                per_class=described.get("per_class"),
                dataset=dataset if run.dataset == CUSTOM_DATASET_NAME else None,
            )
        except Exception:  # Any engine failure: the page makes the map itself instead.
            return None
    return task


@st.fragment(run_every=1)
def map_progress_ui(task: SideTask, request_key: str, request: tuple[str, int]) -> None:
    """A worker is making the t-SNE map: its progress each second, the map once stored."""
    if not task.running or st.session_state.get(request_key) != request:
        # Stored, failed or no longer wanted: the whole page draws again, without this bar.
        st.rerun()
    if task.state == "queued":
        st.progress(0.0, text="t-SNE map: waiting for a free worker…")
        return
    seconds = math.ceil(task.seconds_left())
    left = f"about {seconds} s left" if seconds > 0 else "almost done"
    if task.started_at is not None and time.monotonic() - task.started_at > 2 * max(
        task.expected_seconds, 1.0
    ):
        # The map runs at the lowest priority: a training on the same worker goes first.
        left = "the workers are busy training, and make the map in their spare time"
    st.progress(task.fraction_done(), text=f"t-SNE map, made on a worker: {left}")


def map_method_ui(wants_tsne: bool, page: str, request: tuple[str, int]) -> None:
    """What the map's method means, and the button to switch to the other one."""
    left, right = st.columns([3, 1], vertical_alignment="center")
    request_key = _tsne_request_key(page)
    if wants_tsne:
        left.caption(
            "**t-SNE** keeps neighbours together: the clusters mean something, but not the "
            "distances between them or their sizes."
        )
        right.button(
            "Back to PCA",
            on_click=st.session_state.pop,
            args=(request_key, None),
            key=f"{page}_pca",
            width="stretch",
        )
        return
    left.caption(
        "**PCA** shows the two directions along which the activations vary most: faithful "
        "but crowded. t-SNE separates clusters better and takes a few seconds."
    )
    right.button(
        "Run t-SNE",
        icon=":material/scatter_plot:",
        on_click=st.session_state.__setitem__,
        args=(request_key, request),
        key=f"{page}_tsne",
        width="stretch",
    )


def map_points_ui(
    summary: RunSummary, run: Run, dataset: Dataset, count: int, wants_tsne: bool, page: str
) -> tuple[np.ndarray, np.ndarray, str]:
    """The sample, its points and the method drawn: stored, made on a worker, or made here.

    Raises ValueError when the network makes no map.
    """
    total = len(dataset.y_test)
    sample_size = sample_size_for(count, total)
    stored = (
        stored_maps(summary.run_dir, dataset.y_test) if sample_size == EMBEDDING_IMAGES else None
    )
    method = "pca"
    if wants_tsne and stored is not None and "tsne" in stored:
        return stored["indices"], stored["tsne"], "tsne"
    if wants_tsne and stored is not None:
        task = map_task(run, dataset)
        if task is not None and task.running:
            map_progress_ui(task, _tsne_request_key(page), (str(summary.run_dir), count))
            st.caption("The PCA map stays here until the t-SNE map is ready.")
        else:
            if task is not None and task.state == "failed":
                st.caption(f"The worker could not make the map ({task.error}): making it here.")
            method = "tsne"
    elif wants_tsne:
        method = "tsne"
    if method == "pca" and stored and "pca" in stored:
        return stored["indices"], stored["pca"], "pca"
    seconds = math.ceil(min(sample_size, total) * MAP_SECONDS_PER_IMAGE)
    text = (
        f"Placing the test images with t-SNE, here on the server: about {seconds} s…"
        if method == "tsne"
        else "Placing the test images on a map…"
    )
    with st.spinner(text):
        sample, points = embedding_cached(
            str(summary.run_dir), summary.created_at, sample_size, method, run, dataset
        )
    return sample, points, method


def selection_ui(
    event: Any, run: Run, dataset: Dataset, page: str, on_open: Callable[[int], None]
) -> None:
    """The images selected on the map, with the network's guesses, and a way to look inside."""
    selected = selected_images(event, len(dataset.y_test))
    if not selected:
        st.caption("Nothing selected yet.")
        return
    chosen = np.asarray(selected[:SELECTION_GALLERY_SIZE])
    predictions = run.predict(dataset.x_test[chosen]).argmax(axis=1)
    names = run.class_names
    titles = [
        f"#{index:,}: {names[dataset.y_test[index]]}"
        + ("" if predicted == dataset.y_test[index] else f" → {names[predicted]}")
        for index, predicted in zip(chosen, predictions, strict=True)
    ]
    more = f", the first {len(chosen)} shown" if len(selected) > len(chosen) else ""
    st.markdown(
        f"**{len(selected):,} selected{more}**: true class, then the network's guess if wrong."
    )
    st.plotly_chart(
        image_grid_figure(dataset.x_test[chosen], titles),
        width="stretch",
        key=f"{page}_selected",
    )
    if st.button(
        f"Look inside test image #{chosen[0]:,}",
        icon=":material/visibility:",
        on_click=on_open,
        args=(int(chosen[0]),),
        key=f"{page}_open_selected",
    ):
        # The picker sits outside this fragment: the whole page shows the new image.
        st.rerun()


@st.fragment
def embedding_ui(
    summary: RunSummary, run: Run, dataset: Dataset, page: str, on_open: Callable[[int], None]
) -> None:
    """The map of the test images by the final network; a click opens an image."""
    st.caption(
        "Each dot is a test image, placed by the activations of the layer before the "
        "classifier: what the last layer gets to decide from. Separate clusters mean the "
        "layers before have made the classes easy to tell apart; a dot inside another class's "
        "cluster is an image the network mixes up. **Click a dot, or drag a box**, to see the "
        "images."
    )
    total = len(dataset.y_test)
    if total < 3:
        st.info("A map needs at least 3 test images.", icon=":material/info:")
        return
    count = embedding_size_ui(total, page)
    request = (str(summary.run_dir), count)
    wants_tsne = st.session_state.get(_tsne_request_key(page)) == request
    map_method_ui(wants_tsne, page, request)
    try:
        sample, points, method = map_points_ui(summary, run, dataset, count, wants_tsne, page)
    except ValueError as error:
        st.info(f"No map for this network: {error}", icon=":material/info:")
        return
    figure = embedding_figure(
        points,
        dataset.y_test[sample],
        run.class_names,
        title=f"{len(sample):,} test images by {'t-SNE' if method == 'tsne' else 'PCA'}",
    )
    # The figure numbers the points by their place in the sample; number them by test image
    # instead, so the hover, the gallery and the image picker name an image alike.
    for trace in figure.data:
        trace.customdata = sample[np.asarray(trace.customdata)]
    event = st.plotly_chart(
        figure,
        width="stretch",
        on_select="rerun",
        selection_mode=("points", "box", "lasso"),
        # One chart per sample: a selection made on another run's map means other images.
        key=f"{page}_embedding_{summary.run_dir.name}_{count}",
    )
    selection_ui(event, run, dataset, page, on_open)
