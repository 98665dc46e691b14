"""Process-wide resources of the Streamlit server: the store (the one read-write owner)."""
from __future__ import annotations

import streamlit as st

from core.collection_config import CollectionConfig
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


def outfit_images(outfit: dict) -> tuple[str, str]:
    return outfit["top_path"], outfit["bottom_path"]
