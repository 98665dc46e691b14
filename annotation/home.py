"""Streamlit entry point: ``streamlit run annotation/home.py`` (scripts/run.sh starts it).

Pages: the volunteer flow (default), the labeling tool (when present) and the
password-protected researcher pages. The server process is the one read-write owner of
the DuckDB store (``annotation/resources.py``).
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` puts only annotation/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="Outfit reactions study", layout="wide")
pages = [st.Page(str(HERE / "volunteer_page.py"), title="Take part", icon="🙂", default=True)]
if (HERE / "labeling_page.py").is_file():
    pages.append(st.Page(str(HERE / "labeling_page.py"), title="Label images", icon="🏷️"))
pages.append(st.Page(str(HERE / "researcher_page.py"), title="Researchers", icon="🔒"))
st.navigation(pages).run()
