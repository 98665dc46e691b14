"""The volunteer's one camera connection per visit, and how each take gets its frames.

The camera component (streamlit-webrtc, SENDONLY) is opened once, at the camera check, by
the volunteer's own click, and stays open until the last outfit. :class:`SessionCamera` is
its sink: it keeps an occasional frame for the face-visible check and hands every frame to
the take that is current (``core.collection.recorder.TakeRecorder``), if any.

A long-lived VP8 stream has one weakness: when packets are lost and not recovered (a loaded
machine, a bad network), the decoder keeps producing damaged pictures until the browser
sends a new key frame, and Chrome sends one only when asked. So each take begins by asking
the browser for a key frame (an RTCP picture-loss indication, :func:`request_keyframe`) and
starts from the first key frame that arrives, or after :data:`KEYFRAME_WAIT_S` if none
does, so a take never inherits damage from before it started.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Callable

from streamlit_webrtc import VideoSinkTrack

from core.collection.recorder import TakeRecorder

log = logging.getLogger(__name__)
KEYFRAME_WAIT_S = 1.0  # the longest a take waits for the requested key frame
PREVIEW_EVERY = 10  # keep every 10th frame for the face-visible check


class SessionCamera:
    """The visit's camera sink: keeps a preview frame and feeds the current take."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.count = 0
        self.latest = None  # RGB array of a recent frame, for the face check
        self.take: TakeRecorder | None = None
        self.preview_during_takes = False  # the study's self-view: keep preview frames during takes too
        self.frames_skipped_for_keyframe = 0
        self.sink = VideoSinkTrack(self.on_frame)
        self._clock = clock
        self._lock = threading.Lock()
        self._key_deadline = 0.0  # > 0 while the current take waits for a key frame

    def start_take(self, recorder: TakeRecorder, request_keyframe: Callable[[], bool]) -> None:
        """Make ``recorder`` the current take (once per take); it starts at the next key frame
        if ``request_keyframe()`` could ask the browser for one, else at the next frame."""
        with self._lock:
            if self.take is recorder:
                return
            asked = request_keyframe()
            self._key_deadline = self._clock() + KEYFRAME_WAIT_S if asked else 0.0
            self.take = recorder

    def end_take(self) -> None:
        with self._lock:
            self.take = None
            self._key_deadline = 0.0

    def on_frame(self, frame: Any) -> None:
        """Sink callback (aiortc's event loop): quick, never blocks."""
        self.count += 1
        if self.count % 150 == 1:
            log.debug("camera: frame %d, %dx%d, key frame %s", self.count, frame.width, frame.height,
                      getattr(frame, "key_frame", False))
        take = self.take
        if take is not None and self._ready_for(frame):
            take.on_frame(frame)
        if self.count % PREVIEW_EVERY == 1 and (take is None or self.preview_during_takes):
            self.latest = frame.to_ndarray(format="rgb24")

    def _ready_for(self, frame: Any) -> bool:
        if not self._key_deadline:
            return True
        if getattr(frame, "key_frame", False) or self._clock() >= self._key_deadline:
            self._key_deadline = 0.0
            return True
        self.frames_skipped_for_keyframe += 1
        return False


def request_keyframe_from(pc: Any, loop: asyncio.AbstractEventLoop | None) -> bool:
    """Send an RTCP picture-loss indication (PLI) for every video stream ``pc`` receives.

    Uses aiortc's receiver method for it (``RTCRtpReceiver._send_rtcp_pli``, aiortc 1.16,
    pinned); returns False, and sends nothing, when there is no such stream yet.
    """
    if pc is None or loop is None or loop.is_closed():
        return False
    sent = False
    for transceiver in list(pc.getTransceivers()):
        receiver = transceiver.receiver
        if transceiver.kind != "video" or not hasattr(receiver, "_send_rtcp_pli"):
            continue
        try:
            sources = receiver.getSynchronizationSources()
        except RuntimeError:  # the receiver's table changed under us (another thread): try next time
            continue
        for source in sources:
            asyncio.run_coroutine_threadsafe(receiver._send_rtcp_pli(source.source), loop)
            sent = True
    return sent


def request_keyframe(context: Any) -> bool:
    """Ask the browser behind a streamlit-webrtc context for a key frame (see the module doc)."""
    worker = context._get_worker() if context is not None and hasattr(context, "_get_worker") else None
    try:
        return request_keyframe_from(getattr(worker, "pc", None), getattr(worker, "_loop", None))
    except Exception as err:  # a missing key frame must never stop a recording
        log.warning("could not request a key frame: %s", err)
        return False
