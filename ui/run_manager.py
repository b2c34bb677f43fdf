"""The Train page's saved runs: compare them, and rename, delete, restore or download one."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from core.datasets import Dataset
from core.plots import comparison_curve, runs_comparison_figure
from core.runs import (
    TRASH_KEEP_SECONDS,
    RunSummary,
    can_change_run,
    default_runs_dir,
    delete_run,
    import_model_as_run,
    list_deleted_runs,
    list_runs,
    purge_deleted_runs,
    rename_run,
    restore_run,
)
from ui.datasets import DatasetChoice
from ui.exports import downloads_ui
from ui.runs import run_choice_ui

KEEP_DAYS = TRASH_KEEP_SECONDS // (24 * 3600)


def runs_table_ui(page: str, runs: list[RunSummary]) -> None:
    """All saved runs in a table; the selected rows' curves overlaid."""
    table = pd.DataFrame(
        {
            "name": [run.name for run in runs],
            "made by": [run.owner or "teacher (command line)" for run in runs],
            "dataset": [run.dataset for run in runs],
            "status": [run.status for run in runs],
            "test accuracy": [run.test_accuracy for run in runs],
            "train seconds": [run.record.get("train_seconds") for run in runs],
            "parameters": [(run.record.get("model") or {}).get("parameters") for run in runs],
            "worker": [run.record.get("worker") or "" for run in runs],
            "created": [run.created_at.replace("T", " ")[:19] for run in runs],
        }
    )
    selection = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key=f"{page}_runs_table",
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="percent"),
            "train seconds": st.column_config.NumberColumn(format="%.1f"),
        },
    )
    chosen_rows = [row for row in selection.selection.rows if row < len(runs)]
    chosen_rows = chosen_rows or list(range(min(5, len(runs))))
    curves = [
        (
            runs[row].name,
            runs[row].record.get("history") or [],
            runs[row].record.get("batch_points") or [],
        )
        for row in chosen_rows
    ]
    st.plotly_chart(runs_comparison_figure(curves), width="stretch", key=f"{page}_runs_curves")
    left_out = [
        name for name, history, points in curves if comparison_curve(history, points) is None
    ]
    note = (
        f" Not drawn, because they recorded no accuracy: {', '.join(left_out)}." if left_out else ""
    )
    st.caption("Select rows in the table to compare those runs (the five newest otherwise)." + note)


def confirm_delete_ui(page: str, run: RunSummary, user: str | None) -> None:
    """The second step of a delete: the run is named, and nothing happens without a yes."""
    st.warning(
        f"Delete **{run.name}**? It leaves every page at once; you can restore it from "
        f"'Recently deleted' below for {KEEP_DAYS} days.",
        icon=":material/delete:",
    )
    left, right = st.columns(2)
    if left.button("Yes, delete it", type="primary", key=f"{page}_delete_yes", width="stretch"):
        st.session_state.pop(f"{page}_confirm_delete", None)
        try:
            delete_run(run.run_id, user=user, runs_dir=default_runs_dir())
        except (PermissionError, FileNotFoundError, OSError) as error:
            st.error(str(error), icon=":material/block:")
            return
        st.toast(f"Deleted {run.name}.", icon=":material/delete:")
        st.rerun()
    if right.button("Keep it", key=f"{page}_delete_no", width="stretch"):
        st.session_state.pop(f"{page}_confirm_delete", None)
        st.rerun()


def manage_run_ui(page: str, runs: list[RunSummary], user: str | None) -> None:
    """Rename, delete or download the one run chosen, by its id."""
    run = run_choice_ui(page, runs=runs, key=f"{page}_manage")
    if run is None:
        return
    mine = can_change_run(run.record, user)
    if not mine:
        maker = run.owner or "the teacher (made with the command line)"
        hint = "" if user else " Give your name in the sidebar to manage your own runs."
        st.caption(
            f"This run belongs to {maker}: you can evaluate it, draw for it and download it, "
            f"but only its maker can rename or delete it.{hint}"
        )
    left, middle, right = st.columns([3, 1, 1], vertical_alignment="bottom")
    new_name = left.text_input(
        "New name", run.name, key=f"{page}_new_name_{run.run_id}", disabled=not mine
    )
    if middle.button("Rename", key=f"{page}_rename", width="stretch", disabled=not mine):
        try:
            rename_run(run.run_id, new_name, user=user, runs_dir=default_runs_dir())
            st.rerun()
        except (ValueError, PermissionError, OSError) as error:
            st.error(str(error), icon=":material/block:")
    if right.button("Delete…", key=f"{page}_delete", width="stretch", disabled=not mine):
        st.session_state[f"{page}_confirm_delete"] = run.run_id
    pending = st.session_state.get(f"{page}_confirm_delete")
    if pending == run.run_id:
        confirm_delete_ui(page, run, user)
    elif pending is not None:
        # The choice moved to another run: a confirmation never carries over to it.
        st.session_state.pop(f"{page}_confirm_delete", None)
    downloads_ui(page, run)


def restore_ui(page: str, user: str | None) -> None:
    """The user's recently deleted runs, each with Restore."""
    if not user:
        return
    deleted = list_deleted_runs(default_runs_dir(), user=user)
    if not deleted:
        return
    with st.expander(f"Recently deleted ({len(deleted)}), kept {KEEP_DAYS} days"):
        for run in deleted:
            left, right = st.columns([4, 1], vertical_alignment="center")
            left.write(
                f"**{run.name}** · {run.dataset}, deleted {run.deleted_at.replace('T', ' ')}"
            )
            if right.button("Restore", key=f"{page}_restore_{run.run_id}", width="stretch"):
                try:
                    restore_run(run.run_id, user=user, runs_dir=default_runs_dir())
                except (PermissionError, FileNotFoundError, OSError) as error:
                    st.error(str(error), icon=":material/block:")
                    continue
                st.toast(f"Restored {run.name}.", icon=":material/restore_from_trash:")
                st.rerun()


@st.cache_data(ttl=3600, show_spinner=False)
def purge_old_deleted_runs(runs_dir: str) -> int:
    """Empty the trash of runs deleted over a week ago, at most once an hour per folder."""
    return purge_deleted_runs(runs_dir)


def saved_runs_ui(page: str, user: str | None) -> None:
    """Compare saved runs, and rename, delete, restore or download one."""
    runs_dir = default_runs_dir()
    purge_old_deleted_runs(str(runs_dir))
    runs = list_runs(runs_dir)
    st.subheader("Saved runs")
    if runs:
        runs_table_ui(page, runs)
        with st.expander(
            "Rename, delete or download a run",
            expanded=bool(st.session_state.get(f"{page}_confirm_delete")),
        ):
            manage_run_ui(page, runs, user)
    else:
        st.caption(f"No runs yet in {runs_dir}. Train one above.")
    restore_ui(page, user)


def import_model_ui(page: str, choice: DatasetChoice, dataset: Dataset, user: str | None) -> None:
    """Bring a .keras model made elsewhere in as a run, checked against the chosen dataset."""
    with st.expander("Import a model (.keras) trained elsewhere"):
        st.caption(
            f"The model must take the chosen dataset's {'x'.join(map(str, dataset.image_shape))} "
            f"images as raw 0-255 pixels and output {dataset.num_classes} probabilities. Files "
            "carrying Python code (Lambda layers) are refused and their code never runs."
        )
        upload = st.file_uploader("Model file", type=["keras"], key=f"{page}_import")
        if upload is None or not st.button("Import", key=f"{page}_import_button"):
            return
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(upload.name).name
            path.write_bytes(upload.getvalue())
            try:
                with st.spinner("Checking the model and measuring its test accuracy…"):
                    run_dir = import_model_as_run(
                        path,
                        dataset,
                        categories=choice.categories,
                        per_class=choice.per_class,
                        runs_dir=default_runs_dir(),
                        owner=user,
                    )
            except (ValueError, OSError) as error:
                st.error(str(error), icon=":material/block:")
                return
        st.success(f"Imported as run {run_dir.name}.", icon=":material/check_circle:")
