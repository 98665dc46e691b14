"""Streamlit entry point: ``streamlit run annotation/home.py`` (scripts/run.sh starts it).

One server, three entries (one process must own the DuckDB store read-write,
``annotation/resources.py``, so volunteers and staff share it):

- ``/`` — the study link volunteers get: only the volunteer flow. Nothing on it links to
  another page (no navigation, no sidebar, no toolbar: ``.streamlit/config.toml``).
- ``/labeling_page`` — labelers (sign in by name); ``/researcher_page`` — researchers
  (password). These two link to each other in their sidebar.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` puts only annotation/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

HERE = Path(__file__).resolve().parent
STAFF_PAGES = {"labeling_page": ("Label images", ":material/label:"),
               "researcher_page": ("Researchers", ":material/lock:")}

# a local file: a Material or emoji favicon is fetched from Google's or a CDN's servers by the browser
st.set_page_config(page_title="Outfit reactions study", page_icon=str(HERE / "favicon.png"), layout="wide")
volunteer = st.Page(str(HERE / "volunteer_page.py"), title="Take part", default=True)
staff = [st.Page(str(HERE / f"{name}.py"), title=title, icon=icon, url_path=name)
         for name, (title, icon) in STAFF_PAGES.items() if (HERE / f"{name}.py").is_file()]
page = st.navigation([volunteer, *staff], position="hidden")
if page.url_path != volunteer.url_path:
    with st.sidebar:
        for other in staff:
            st.page_link(other)
page.run()
