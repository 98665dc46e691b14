"""The camera watchdog: a camera that was turned on but delivers no frames is reconnected by itself.

After the volunteer's click (and during the session), the page looks once a second at how many
frames the camera's sink has received. If the count has not moved for ``IPE_CAMERA_STALL_S``
seconds (default 8) while the camera component is on, the page says so in plain words and
restarts the connection itself: it asks the component to stop (``desired_playing_state=False``),
waits until the server has dropped the old connection completely (no worker, no answer left to
hand to the browser: a stale answer applied to the new connection would break it), then asks it
to start (``desired_playing_state=True``; the served frontend opens exactly one connection for
that, ``annotation/webrtc_frontend.py``), and hands control back to the volunteer's buttons once
the new connection is signalling. A phase that does not complete within the same number of
seconds is tried again, and counted again.

Each restart doubles the time the connection it makes is given (16, 32, then 64 s at most with
the default; back to ``IPE_CAMERA_STALL_S`` once frames flow): a connection that needs longer than
that to deliver its first frame (a slow or busy machine: with six browsers sharing one core the
camera check took 13-15 s) would otherwise be torn down every time just before it got there.

Each restart is counted in the session's row (``session.camera_restarts``; restarts at the
camera check, before there is a session, are added when the session starts) and shown to
researchers (researcher page, ``python -m app stats``).

The camera is never turned on before the volunteer's own first click: the watchdog only watches
a camera that is on, and a volunteer who turns it off is left alone.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

import streamlit as st

from core.store import Store

WATCHING, STOPPING, STARTING = "watching", "stopping", "starting"
MAX_DOUBLINGS = 3  # the wait after restarts without a frame between them: stall_s x 2, 4, 8 at most
log = logging.getLogger(__name__)


class CameraWatchdog:
    """Decides when the camera must be stopped and started again (no Streamlit in here)."""

    def __init__(self, stall_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if stall_s <= 0:
            raise ValueError(f"stall_s must be positive, not {stall_s}")
        self.stall_s = stall_s
        self.phase = WATCHING
        self.restarts = 0  # in this visit
        self.unsaved = 0  # restarts not yet added to a session's row
        self._clock = clock
        self._since: float | None = None  # when the frame count last moved (or the camera came on)
        self._frames = -1
        self._phase_since = 0.0
        self._awaiting_frames = False  # restarted, and no frame since
        self._fruitless = 0  # restarts since frames last flowed

    @property
    def desired_playing_state(self) -> bool | None:
        """What the camera component is asked to do now (None: follow the volunteer's buttons)."""
        return {STOPPING: False, STARTING: True}.get(self.phase)

    @property
    def wait_s(self) -> float:
        """How long the current phase may take: ``stall_s``, doubled for each restart since frames last flowed."""
        return self.stall_s * 2 ** min(self._fruitless, MAX_DOUBLINGS)

    @property
    def reconnecting(self) -> bool:
        """From a stall until the new connection delivers its first frame."""
        return self.phase != WATCHING or self._awaiting_frames

    def observe(self, *, on: bool, frames: int) -> bool:
        """One look: ``on`` whether the component (or the server's side of it) holds a connection or
        is making one, ``frames`` the sink's frame count. True when the page must rerun to render
        the component with a new :attr:`desired_playing_state`."""
        now = self._clock()
        if self.phase == STOPPING:
            if not on or now - self._phase_since >= self.wait_s:
                self._enter(STARTING, now)
                return True
            return False
        if self.phase == STARTING:
            if on:
                self._enter(WATCHING, now)
                self._since, self._frames, self._awaiting_frames = now, frames, True
                return True
            if now - self._phase_since >= self.wait_s:  # the start did not take: stop and start again
                self._stall(now)
                return True
            return False
        if not on:
            self._since = None
            return False
        if frames != self._frames and self._frames >= 0:  # frames flow (not merely the first look)
            self._awaiting_frames = False
            self._fruitless = 0
        if self._since is None or frames != self._frames:
            self._since, self._frames = now, frames
            return False
        if now - self._since >= self.wait_s:
            self._stall(now)
            return True
        return False

    def _stall(self, now: float) -> None:
        self._fruitless += 1  # frames flowing set it back to 0
        self.restarts += 1
        self.unsaved += 1
        self._enter(STOPPING, now)

    def _enter(self, phase: str, now: float) -> None:
        log.info("camera watchdog: %s -> %s (restarts in this visit: %d)", self.phase, phase, self.restarts)
        self.phase, self._phase_since = phase, now

    def take_unsaved(self) -> int:
        """The restarts not yet stored (and now considered stored)."""
        count, self.unsaved = self.unsaved, 0
        return count


def component_on(context: Any) -> bool:
    """Whether a streamlit-webrtc context holds or is making a connection: the browser says it is
    playing or signalling, or the server still has a worker or an answer for it."""
    if context is None:
        return False
    state = context.state
    worker = context._get_worker() if hasattr(context, "_get_worker") else None
    return bool(state.playing or state.signalling or worker is not None or getattr(context, "_sdp_answer_json", None))


def watch(watchdog: CameraWatchdog, context: Any, frames: int, *, reconnecting_text: str, store: Store | None = None,
          session_id: str | None = None) -> None:
    """One look from a page's 1-second fragment: reruns the whole page when the camera must be
    stopped or started again, says so (``reconnecting_text``, from the page's catalogue) while it
    reconnects, and counts restarts in the session."""
    if watchdog.observe(on=component_on(context), frames=frames):
        if store is not None and session_id:
            save_restarts(watchdog, store, session_id)
        st.rerun(scope="app")
    if watchdog.reconnecting:
        st.warning(reconnecting_text)


def save_restarts(watchdog: CameraWatchdog, store: Store, session_id: str) -> None:
    """Add the restarts not yet stored (those of the camera check too) to the session's row."""
    if watchdog.unsaved:
        store.add_camera_restarts(session_id, watchdog.take_unsaved())
