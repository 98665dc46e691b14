"""The outfit as a volunteer sees it, on both capture paths: progress, then the outfit large (top
above bottom in the wide left column; full width on phones, page CSS in ``volunteer_page.py``)."""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st


def show_outfit(t: Callable[..., str], outfit: dict[str, Any], position: int, total: int) -> Any:
    """Render the progress and the outfit; return the right-hand column for the controls."""
    st.progress(position / total, text=t("outfit.progress", position=position + 1, total=total))
    left, right = st.columns([3, 2])
    with left, st.container(key="outfit"):
        st.image(outfit["top_path"], caption=t("outfit.top"), alt=t("outfit.top_alt"), width="stretch")
        st.image(outfit["bottom_path"], caption=t("outfit.bottom"), alt=t("outfit.bottom_alt"), width="stretch")
    return right
