"""Who is using this browser tab: a name kept in the URL as user=..., no password."""

from __future__ import annotations

import streamlit as st

from core.runs import check_user_name

# The widget key is the URL parameter's name: /train?user=ana opens the app as Ana, and a
# refresh or a shared link keeps it. Bound widgets of the entry point survive page switches.
USER_KEY = "user"


def user_ui() -> str | None:
    """The name box in the shared sidebar; returns the tidy name, or None."""
    st.text_input(
        "Your name",
        key=USER_KEY,
        bind="query-params",
        placeholder="for example Ana",
        max_chars=40,
        help="Runs you train are yours: only you can rename or delete them; everyone can use "
        "them. The name stays in the address, so a refresh or a bookmark keeps it.",
    )
    name = current_user()
    raw = st.session_state.get(USER_KEY) or ""
    if raw.strip() and name is None:
        try:
            check_user_name(raw)
        except ValueError as error:
            st.error(str(error), icon=":material/person_alert:")
    return name


def current_user() -> str | None:
    """The name given in the sidebar (or the URL), tidied; None when empty or not a name."""
    raw = st.session_state.get(USER_KEY)
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return check_user_name(raw)
    except ValueError:
        return None


def ask_for_name_ui(action: str) -> None:
    """Say that `action` needs a name first, and where to give it."""
    st.info(
        f"Type your name in the sidebar (**Your name**) to {action}: the runs you make are "
        "yours, and only you can rename or delete them.",
        icon=":material/person:",
    )
