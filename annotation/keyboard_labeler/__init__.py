"""A tiny bidirectional Streamlit component (plain HTML+JS, no build step) for labeling images.

It shows one image as large as the window allows, takes answers by keyboard and by its own
buttons, and measures the response time IN THE BROWSER: from the moment the decoded image has
been painted (``img.decode()`` then two animation frames) to the key press / click event's
timestamp. Server round trips and Streamlit reruns are therefore not part of the time.

Keys (listened for on the Streamlit page's document as well as inside the component, so no
click into the iframe is needed; ignored while typing in a text field):
  →  or  A   preferred          ←  or  X   not preferred
  S          skip               U  or  Backspace   undo the last answer
  Enter / Space   continue after a break, or skip the decisive-region click

Each render carries a sequence number ``seq``; the component sends at most one event per
``seq`` (``{"seq", "action", "response_ms", "region_xy"}``) and the server acts only on an event
whose ``seq`` is current, so double presses and stale events cannot answer twice.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit.components.v1 as components

_component = components.declare_component("keyboard_labeler", path=str(Path(__file__).resolve().parent))


def keyboard_labeler(*, mode: str, seq: int, key: str, image: str | None = None, caption: str = "",
                     remaining_s: float = 0.0, ask_region: bool = False, can_undo: bool = False,
                     message: str = "", on_change: Any = None) -> dict | None:
    """Render the labeler; ``mode`` is 'labeling', 'break' or 'done' (LabelingSession.state); ``image`` a data: URL."""
    return _component(mode=mode, seq=seq, image=image, caption=caption, remaining_s=float(remaining_s),
                      ask_region=bool(ask_region), can_undo=bool(can_undo), message=message, key=key,
                      default=None, on_change=on_change)
