"""The camera component's Python side (declared when a page imports it: Streamlit registers a
component only inside a script run, so ``annotation/serve.py`` must not import this module)."""
from __future__ import annotations

from pathlib import Path

import streamlit.components.v1 as components

from annotation.browser_recorder.routes import PREFIX

_component = components.declare_component("browser_recorder", path=str(Path(__file__).resolve().parent))


def browser_recorder(*, key: str, visit: str, take: str | None, stop_take: str | None, preview: bool,
                     max_seconds: float, show_video: bool = True, chunk_ms: int = 1000) -> dict | None:
    """Render the camera component (keep ``key`` and its place fixed for the whole visit). With
    ``show_video`` off the camera picture is out of sight (the recording goes on)."""
    return _component(key=key, visit=visit, take=take, stop_take=stop_take, preview=bool(preview),
                      max_seconds=float(max_seconds), show_video=bool(show_video), chunk_ms=int(chunk_ms),
                      base=PREFIX, default=None)
