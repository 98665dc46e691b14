"""streamlit-webrtc 0.79, corrected where it lost the volunteer's camera (docs/recording-recipe.md).

On the server, :func:`forget_render_count` keeps 0.79 from stopping a live camera it wrongly takes
for orphaned (the stall after an idle period). Its browser code is served with two corrections:

1. **A transient ICE "disconnected" no longer ends the connection.** The component's frontend
   stopped the peer connection (and the camera) as soon as the browser reported the connection
   ``disconnected``: a state the WebRTC specification defines as transient, which the browser
   reports when it has heard nothing from the server for a few seconds and leaves by itself
   when packets arrive again (Chromium: after ~5.5-6 s of silence). A server or browser that
   pauses that long (seen on a loaded 2-core machine; a cold start's first imports can too)
   therefore lost the volunteer's camera for good: nothing restarts it, and the page waited
   forever for a face or a take for its frames. Now only ``failed`` and ``closed`` end it.
2. **A programmatic start opens exactly one peer connection.** The start function is called
   again by an effect that re-runs whenever new arguments arrive, and its guard (state
   ``STOPPED``) holds until the first ``await`` has finished, so a start requested through
   ``desired_playing_state=True`` could open two or three connections at once and apply the
   server's answer to the wrong one. A flag set synchronously at the start now closes that
   window; the camera watchdog (``annotation/camera_watchdog.py``) restarts the camera this way.

The installed bundle is copied once per process to a private folder (``mkdtemp``: only this
user can write it; removed at exit) and patched by exact text replacement; each replacement
must match exactly once, so another streamlit-webrtc version stops the app at start with a
one-line error instead of running unpatched. The component keeps its name (the page and the tests find its iframe by
it) and is re-registered to be served from the copy; the copy's scripts live under
``assets-ipe/`` so a browser never reuses an unpatched bundle it cached earlier.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from core.errors import IPEError

ASSETS = "assets-ipe"
# (what the bundle says, what it says instead): see the module doc, points 1 and 2
PATCHES = [
    ("(c.connectionState===`disconnected`||c.connectionState===`closed`||c.connectionState===`failed`)&&f.current()",
     "(c.connectionState===`closed`||c.connectionState===`failed`)&&f.current()"),
    ("h=(0,J.useCallback)(()=>c.webRtcState===`STOPPED`?(async()=>{",
     "h=(0,J.useCallback)(()=>c.webRtcState===`STOPPED`&&!window.__ipeStarting?(window.__ipeStarting=!0,async()=>{"),
    ("})().catch(e=>l({type:`ERROR`,error:e})):Promise.reject(Error(`WebRTC is already started`))",
     "})().catch(e=>{window.__ipeStarting=!1;l({type:`ERROR`,error:e})}):Promise.reject(Error(`WebRTC is already started`))"),
    ("(0,J.useEffect)(()=>{let t=e.desiredPlayingState;",
     "(0,J.useEffect)(()=>{c.webRtcState!==`STOPPED`&&(window.__ipeStarting=!1);let t=e.desiredPlayingState;"),
]
_served: Path | None = None
_serving = threading.Lock()


def forget_render_count(context: Any) -> None:
    """Call before each render of the component: streamlit-webrtc 0.79 must not reset a live camera.

    0.79 takes a context as orphaned (and stops its worker) when Streamlit's script-run count has
    grown by more than one since the component was last rendered. That count is raised on the
    server's event loop when a run's "finished" message is sent, while the script thread reads it
    at the start of the next run; when the loop lags (a cold or loaded server, exactly while the
    offer and each ICE candidate cause back-to-back runs) a run reads a stale count, and the run
    after it sees a jump of two: the worker of the connection just made is stopped, the browser
    stays "playing" with no server behind it, and the page waits for a face forever. This was
    the camera-start stall seen after an idle period (server log: "Context for key=camera was not
    rendered for 1 script runs" 1 s after the worker was made). Without a recorded count the check
    is skipped; a remounted component still resets the context, by the stopped state it sends.
    """
    if context is not None and hasattr(context, "_last_rendered_run_count"):
        context._last_rendered_run_count = None


def patched_frontend(dist: Path, out: Path) -> Path:
    """Write a patched copy of the component's ``dist`` folder to the new folder ``out``;
    IPEError when the bundle is not the one the patches fit."""
    bundles = sorted((dist / "assets").glob("index-*.js"))
    if len(bundles) != 1 or not (dist / "index.html").is_file():
        raise IPEError(f"streamlit-webrtc's frontend at {dist} is not the 0.79 layout; install requirements.txt")
    text = bundles[0].read_text(encoding="utf-8")
    for old, new in PATCHES:
        if text.count(old) != 1:
            raise IPEError(f"streamlit-webrtc's frontend bundle {bundles[0].name} does not contain the code the kit "
                           f"corrects ({old[:50]}…): install the pinned version from requirements.txt")
        text = text.replace(old, new)
    shutil.copytree(dist / "assets", out / ASSETS)
    (out / ASSETS / bundles[0].name).write_text(text, encoding="utf-8")
    html = (dist / "index.html").read_text(encoding="utf-8")
    (out / "index.html").write_text(html.replace("./assets/", f"./{ASSETS}/"), encoding="utf-8")
    return out


def serve_patched_frontend() -> None:
    """Serve the component from the patched copy (once per process; call it during a script run,
    before the component is rendered)."""
    global _served
    with _serving:  # two sessions' first runs may come here at once
        if _served is None:
            _served = _serve()


def _serve() -> Path:
    import streamlit_webrtc.component as component
    from streamlit.components.v1.custom_component import CustomComponent
    from streamlit.runtime import Runtime

    original = component._component_func
    out = Path(tempfile.mkdtemp(prefix="ipe-webrtc-frontend-"))
    atexit.register(shutil.rmtree, out, True)
    patched_frontend(Path(original.path), out / "dist")
    patched = CustomComponent(name=original.name, path=str(out / "dist"), url=None, module_name=original.module_name)
    if Runtime.exists():  # a real server (AppTest has none, and serves no component files)
        Runtime.instance().component_registry.register_component(patched)
    component._component_func = patched
    return out
