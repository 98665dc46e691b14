"""Streamlit entry point: ``streamlit run annotation/home.py`` (scripts/run.sh starts it).

For now a landing page that shows what the store holds; the volunteer flow, the labeling
tool and the researcher pages are added as pages of this app.
"""
from __future__ import annotations

import streamlit as st

from core.paths import DataHome
from core.store import Store


@st.cache_resource
def get_store() -> Store:
    """The server's one read-write connection to the store (see docs/architecture.md)."""
    return Store.open(DataHome.resolve())


st.set_page_config(page_title="Implicit preference estimation", layout="wide")
st.title("Implicit preference estimation kit")
store = get_store()
stats = store.stats()
demo = any(c["is_demo"] for c in store.list_catalogs())
st.write(
    f"Catalog: **{stats['items']} garments**, **{stats['outfits']} outfits**"
    + (" (the generated DEMO catalog)" if demo else "")
    + f" · volunteers: {stats['volunteers']} · recorded views: {stats['views_by_status']['ok']}"
)
outfits = store.list_outfits()[:6]
cols = st.columns(len(outfits) or 1)
for col, outfit in zip(cols, outfits):
    col.image(outfit["top_path"], use_container_width=True)
    col.image(outfit["bottom_path"], use_container_width=True)
    col.caption(outfit["outfit_id"])
