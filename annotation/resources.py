"""Process-wide resources of the Streamlit server: the store (the one read-write owner)."""
from __future__ import annotations

import hmac
import os

import streamlit as st

from core.collection.config import CollectionConfig
from core.paths import DataHome
from core.store import Store


@st.cache_resource
def get_store() -> Store:
    """The server's read-write connection; pages use it from their own threads (own cursors)."""
    store = Store.open(DataHome.resolve())
    sweep = store.sweep(temp_grace_s=0)  # at start-up no take is being recorded yet
    if any(sweep[k] for k in ("orphan_files", "missing_files", "temp_files")):
        print(f"store sweep at start-up: {({k: len(v) for k, v in sweep.items()})}; "
              "run `python -m app init --quarantine` with the server stopped to move orphans aside")
    return store


@st.cache_resource
def get_config() -> CollectionConfig:
    return CollectionConfig.from_env()


def researcher_password() -> str | None:
    """``$IPE_RESEARCHER_PASSWORD`` or Streamlit secrets ``researcher_password``; None when neither is set."""
    if os.environ.get("IPE_RESEARCHER_PASSWORD"):
        return os.environ["IPE_RESEARCHER_PASSWORD"]
    try:
        return st.secrets.get("researcher_password")
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        return None


def researcher_signed_in() -> bool:
    """The one researcher sign-in of the app (shared by every page that shows research data).

    Renders the refusal (no password configured) or the sign-in form and returns False until
    the right password was given in this browser session.
    """
    password = researcher_password()
    if not password:
        st.error("No researcher password is configured: set IPE_RESEARCHER_PASSWORD (scripts/run.sh makes one) "
                 "or `researcher_password` in .streamlit/secrets.toml, then restart the server.")
        return False
    if st.session_state.get("researcher_ok"):
        return True
    given = st.text_input("Password", type="password")
    if st.button("Sign in"):
        if hmac.compare_digest(given.encode(), password.encode()):
            st.session_state["researcher_ok"] = True
            st.rerun()
        st.error("Wrong password.")
    return False
