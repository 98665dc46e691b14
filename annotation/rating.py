"""The rating of an outfit: a 0-100 slider with no accepted default.

The slider starts on a "not set" stop before 0, so an untouched slider cannot be confirmed and
"chose 50" differs from "never moved it" in the data. The first time the volunteer sets it, the
time is kept (as the server receives the change) and stored beside the rating's time.
"""
from __future__ import annotations

from datetime import datetime

import streamlit as st

from core.store import utcnow

UNSET = "unset"
OPTIONS = (UNSET, *range(101))


def rating_input(key: str, label: str, unset_label: str, help_text: str | None = None
                 ) -> tuple[int | None, datetime | None]:
    """Render the slider; return ``(rating or None while not set, time of the first touch or None)``."""
    touches: dict[str, datetime] = st.session_state.setdefault("rating_touched", {})

    def touched() -> None:
        touches.setdefault(key, utcnow())

    value = st.select_slider(label, options=OPTIONS, value=UNSET, key=key, help=help_text, on_change=touched,
                             format_func=lambda v: unset_label if v == UNSET else str(v))
    return (None if value == UNSET else int(value)), touches.get(key)


def forget(key: str) -> None:
    st.session_state.setdefault("rating_touched", {}).pop(key, None)
