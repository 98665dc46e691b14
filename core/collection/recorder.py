"""Recording one take: frames in (from a WebRTC sink), a normalised H.264 file out.

Per ``docs/recording-recipe.md``: the sink's callback runs on aiortc's event loop and must
be quick, so :meth:`TakeRecorder.on_frame` only copies the decoded YUV 4:2:0 planes (no
colour conversion: 0.02 ms instead of 0.37 ms for RGB at 640x480) and the timestamp onto a
queue; a writer thread encodes with PyAV (libx264, preset veryfast unless ``IPE_VIDEO_PRESET``
says otherwise, tune zerolatency, crf 20). The stored video is normalised to a fixed size (640x480) and a constant frame rate
(30 fps): frames are written in order, one per output slot; when the input falls a frame or
more behind the 30 fps clock the previous frame is repeated, when it runs a frame or more
ahead a frame is dropped (timestamp jitter under one frame is absorbed, so a 30 fps camera
loses nothing). A 25 fps source gets duplicates, a 60 fps one drops; both are counted, and the browser's own size and frame rate are kept in the metadata. The take stops
at ``max_seconds`` of *media* time (the frames' timestamps, not the wall clock) or when
:meth:`stop` is called; :attr:`done` is set only after the container is closed.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_STOP = object()


@dataclass
class TakeStats:
    frames_received: int = 0
    frames_written: int = 0
    frames_duplicated: int = 0
    frames_dropped: int = 0
    source_width: int = 0
    source_height: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    created_at: float = field(default_factory=time.monotonic)
    first_frame_at: float | None = None
    stop_requested_at: float | None = None
    closed_at: float | None = None
    error: str | None = None


class TakeRecorder:
    """One recording. Thread-safe: ``on_frame`` from the event loop, ``stop``/``meta`` from the UI."""

    def __init__(self, path: str | Path, *, max_seconds: float = 10.0, size: tuple[int, int] = (640, 480),
                 fps: int = 30, crf: int = 20, preset: str = "veryfast", backlog: int = 0) -> None:
        self.path = Path(path)
        self.max_seconds = max_seconds
        self.size = size
        self.fps = fps
        self.crf = crf
        self.preset = preset
        self.stats = TakeStats()
        self.done = threading.Event()
        self._accepting = True
        self._lock = threading.Lock()
        # backlog > 0 makes a producer that decodes faster than real time (an uploaded take) wait for
        # the encoder instead of holding the whole take in memory; the live sink keeps 0 (never blocks)
        self._queue: queue.Queue = queue.Queue(maxsize=backlog)
        self._thread = threading.Thread(target=self._write, name=f"take-writer-{self.path.name}", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- producer side
    def on_frame(self, frame: Any) -> None:
        """Sink callback: copy the YUV planes + timestamp now (the frame object is reused upstream)."""
        if frame.pts is not None and frame.time_base is not None:
            ts = float(frame.pts * frame.time_base)
        else:
            ts = time.monotonic()
        self._offer(ts, lambda: frame.to_ndarray(format="yuv420p"))

    def push_array(self, rgb: np.ndarray, ts: float) -> None:
        """Feed a frame as an RGB array with its timestamp in seconds (tests, benchmarks)."""
        import av

        self._offer(ts, lambda: av.VideoFrame.from_ndarray(rgb, format="rgb24").to_ndarray(format="yuv420p"))

    def _offer(self, ts: float, pixels) -> None:
        with self._lock:
            if not self._accepting:
                return
            if self.stats.first_ts is None:
                self.stats.first_ts = ts
                self.stats.first_frame_at = time.monotonic()
            if ts - self.stats.first_ts >= self.max_seconds:
                self._accepting = False
                self.stats.stop_requested_at = time.monotonic()
                self._queue.put(_STOP)
                return
            self.stats.frames_received += 1
            self.stats.last_ts = ts
            self._queue.put((pixels(), ts))

    def stop(self) -> None:
        """Stop taking frames (the volunteer clicked done, or left); the file is then finished."""
        with self._lock:
            if self._accepting:
                self._accepting = False
                self.stats.stop_requested_at = time.monotonic()
                self._queue.put(_STOP)

    @property
    def recording(self) -> bool:
        return self._accepting

    @property
    def media_seconds(self) -> float:
        s = self.stats
        if s.first_ts is None or s.last_ts is None:
            return 0.0
        return s.last_ts - s.first_ts + 1.0 / self.fps

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    # ---------------------------------------------------------------- writer thread
    def _write(self) -> None:
        import av

        container = stream = None
        last: np.ndarray | None = None
        next_k = 0
        width, height = self.size
        # the output clock's last frame: a source a little faster than the rate (jitter absorbed
        # below) must not make a take longer than max_seconds
        max_frames = int(round(self.max_seconds * self.fps))
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                yuv, ts = item  # (height * 3 / 2, width): the Y plane, then U and V
                if container is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    container = av.open(str(self.path), mode="w", format="mp4")
                    stream = container.add_stream("libx264", rate=self.fps)
                    stream.width, stream.height = width, height
                    stream.pix_fmt = "yuv420p"
                    stream.options = {"preset": self.preset, "tune": "zerolatency", "crf": str(self.crf)}
                    self.stats.source_height, self.stats.source_width = yuv.shape[0] * 2 // 3, yuv.shape[1]
                if yuv.shape != (height * 3 // 2, width):
                    yuv = av.VideoFrame.from_ndarray(yuv, format="yuv420p").reformat(
                        width, height, interpolation="AREA").to_ndarray(format="yuv420p")
                t = ts - (self.stats.first_ts if self.stats.first_ts is not None else ts)
                pos = t * self.fps  # where this frame falls on the output's constant-rate clock
                if pos < next_k - 1.0 or next_k >= max_frames:  # a frame or more ahead of the clock, or past the cut
                    self.stats.frames_dropped += 1
                    last = yuv
                    continue
                while pos >= next_k + 1.0 and last is not None and next_k < max_frames:  # a gap: repeat
                    self._encode(container, stream, last, next_k)
                    self.stats.frames_duplicated += 1
                    next_k += 1
                self._encode(container, stream, yuv, next_k)  # timestamp jitter under a frame is absorbed
                next_k += 1
                last = yuv
            if container is not None:
                for packet in stream.encode():
                    container.mux(packet)
        except Exception as err:  # the take fails visibly: status "failed" with this message
            self.stats.error = f"{type(err).__name__}: {err}"
        finally:
            if container is not None:
                try:
                    container.close()
                except Exception as err:
                    self.stats.error = self.stats.error or f"closing the file failed: {err}"
            self.stats.closed_at = time.monotonic()
            self.done.set()

    def _encode(self, container, stream, yuv: np.ndarray, k: int) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = k
        for packet in stream.encode(frame):
            container.mux(packet)
        self.stats.frames_written += 1

    # ---------------------------------------------------------------- result
    def meta(self) -> dict[str, Any]:
        """What is stored with the view (call after :attr:`done`)."""
        s = self.stats
        src_duration = (s.last_ts - s.first_ts) if s.first_ts is not None and s.last_ts is not None else 0.0
        source_fps = (s.frames_received - 1) / src_duration if src_duration > 0 else 0.0
        return {
            "frames": s.frames_written,
            "fps": float(self.fps),
            "encoder_preset": self.preset,
            "duration_s": round(s.frames_written / self.fps, 3),
            "width": self.size[0],
            "height": self.size[1],
            "source_width": s.source_width,
            "source_height": s.source_height,
            "source_fps": round(source_fps, 2),
            "frames_received": s.frames_received,
            "frames_duplicated": s.frames_duplicated,
            "frames_dropped": s.frames_dropped,
            "start_to_first_frame_s": round(s.first_frame_at - s.created_at, 3) if s.first_frame_at else None,
            "stop_to_closed_s": round(s.closed_at - s.stop_requested_at, 3)
            if s.closed_at and s.stop_requested_at else None,
            "error": s.error,
        }

    def status(self, min_seconds: float) -> str:
        """``ok``, ``short`` (under ``min_seconds``) or ``failed`` (no frames / writer error)."""
        if self.stats.error or self.stats.frames_written == 0 or not self.path.is_file():
            return "failed"
        return "short" if self.stats.frames_written / self.fps < min_seconds else "ok"

