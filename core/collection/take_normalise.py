"""Uploaded takes -> the same 640x480 constant-30-fps MP4 the live path writes, then the commit.

:func:`normalise_take` decodes the browser's file (WebM VP8/VP9 or MP4 H.264; Chromium's WebM has
no duration or cues and a variable frame rate) by its packets' timestamps and feeds every picture
to :class:`core.collection.recorder.TakeRecorder`, the live path's writer, so both transports
share one normalisation (constant rate by repeating or dropping against the 30 fps clock, cut at
``max_seconds`` of media time) and one metadata layout. The container's own frame timestamps are
stored with the view (``source_frame_times_ms``), as are the browser's reported camera settings.

:class:`CaptureWorker` is one background thread per server: it normalises finished uploads in
order and commits each take once it is normalised and rated, with ``Store.commit_recording`` -
the live path's atomic, idempotent call.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.collection.config import CollectionConfig
from core.collection.recorder import TakeRecorder
from core.collection.take_upload import Slot, TakeUploads
from core.errors import MediaError, StoreError, VolunteerWithdrawnError
from core.media_limits import MediaLimits

if TYPE_CHECKING:
    from core.store import Store

log = logging.getLogger(__name__)
CODECS = ("vp8", "vp9", "h264", "av1")


def normalise_take(source: str | Path, dest: str | Path, config: CollectionConfig = CollectionConfig(),
                   limits: MediaLimits = MediaLimits()) -> TakeRecorder:
    """Write ``dest`` from the uploaded ``source``; the returned recorder is done (see its ``meta``).

    MediaError when the file is not a single video the limits allow (nothing is written then).
    """
    import av

    try:
        container = av.open(str(source), mode="r")
    except (av.FFmpegError, OSError) as err:
        raise MediaError(f"the uploaded take is not a readable video ({err})") from None
    with container:
        if not container.streams.video:
            raise MediaError("the uploaded take has no video stream")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        if codec not in CODECS:
            raise MediaError(f"the uploaded take is {codec}, not one of {', '.join(CODECS)}")
        if stream.width * stream.height > limits.max_video_pixels:
            raise MediaError(f"the uploaded take's frames are {stream.width}x{stream.height}, over "
                             f"IPE_MAX_VIDEO_PIXELS={limits.max_video_pixels}")
        recorder = TakeRecorder(dest, max_seconds=config.max_record_seconds, size=config.video_size,
                                fps=config.video_fps, preset=config.video_preset, backlog=8)
        times: list[float] = []
        try:
            for frame in container.decode(stream):
                if frame.width * frame.height > limits.max_video_pixels:  # a stream may change size
                    raise MediaError(f"a frame of {frame.width}x{frame.height} is over IPE_MAX_VIDEO_PIXELS")
                if len(times) >= limits.max_video_frames:
                    raise MediaError(f"the uploaded take has over IPE_MAX_VIDEO_FRAMES={limits.max_video_frames}"
                                     " frames")
                if frame.pts is None:
                    continue
                ts = float(frame.pts * frame.time_base)
                if times and ts <= times[-1]:  # a broken or hostile stream: time must move forward
                    continue
                times.append(ts)
                recorder.on_frame(frame)
                if not recorder.recording:
                    break
        except av.FFmpegError as err:  # a truncated tail still yields the frames before it
            recorder.stats.error = None
            log.info("the uploaded take ends in undecodable data (%s); its first %d frames are kept", err, len(times))
        except MediaError:
            recorder.stop()
            recorder.wait()
            Path(dest).unlink(missing_ok=True)
            raise
        recorder.stop()
        recorder.wait()
    times = times[:recorder.stats.frames_received]  # the frame that reached the cut is not part of the take
    recorder.source_frame_times_ms = [round((t - times[0]) * 1000, 1) for t in times]  # type: ignore[attr-defined]
    recorder.source_codec = codec  # type: ignore[attr-defined]
    return recorder


class CaptureWorker:
    """Normalises uploaded takes and commits rated ones, in ``threads`` daemon threads (default one
    per CPU, at most 4: normalising is the browser path's main server cost, ~0.15 CPU-s per second
    of video, and each take is claimed by one thread)."""

    def __init__(self, store: "Store", uploads: TakeUploads, config: CollectionConfig,
                 limits: MediaLimits = MediaLimits(), *, start: bool = True, threads: int | None = None) -> None:
        self.store, self.uploads, self.config, self.limits = store, uploads, config, limits
        self._wake = threading.Condition()
        self._claimed: dict[str, int] = {}  # key -> the descriptor holding its claim (TakeUploads.claim)
        self._claim_lock = threading.Lock()
        count = threads or min(4, os.cpu_count() or 1)
        self._threads = [threading.Thread(target=self._run, name=f"capture-worker-{i}", daemon=True)
                         for i in range(count)]
        self._stopping = False
        if start:  # start=False: the caller drives it with run_once (tests, benchmarks)
            for thread in self._threads:
                thread.start()

    def poke(self) -> None:
        """Something changed (an upload finished, a take was rated): look again."""
        with self._wake:
            self._wake.notify_all()

    def stop(self) -> None:
        self._stopping = True
        self.poke()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(30)

    def run_once(self) -> int:
        """Normalise every finished upload, commit every rated result; returns how many steps."""
        steps = 0
        for key in self.uploads.keys_in_state("uploaded"):
            if self._claim(key):
                try:
                    self._normalise(key)
                    steps += 1
                finally:
                    self._release(key)
        for key in self.uploads.keys_in_state("normalised", "failed"):
            if not self._claim(key):
                continue
            try:
                slot = self.uploads.load(key)
                if slot is not None and slot.rating is not None and self._commit(key, slot):
                    steps += 1
            finally:
                self._release(key)
        self.uploads.sweep()
        return steps

    def _claim(self, key: str) -> bool:
        """One thread of one server works on a take at a time (other servers may share the folder)."""
        with self._claim_lock:
            if key in self._claimed:
                return False
            fd = self.uploads.claim(key)
            if fd is None:
                return False
            self._claimed[key] = fd
            return True

    def _release(self, key: str) -> None:
        with self._claim_lock:
            fd = self._claimed.pop(key, None)
        if fd is not None:
            os.close(fd)

    def _run(self) -> None:
        while not self._stopping:
            try:
                busy = self.run_once()
            except Exception:  # one bad take must not stop every later one
                log.exception("capture worker step failed")
                busy = 0
            if not busy:
                with self._wake:
                    self._wake.wait(5.0)

    def _normalise(self, key: str) -> None:
        slot = self.uploads.load(key)
        if slot is None or slot.state != "uploaded":  # another server's worker did it meanwhile
            return
        dest = self.store.new_video_tempfile()
        try:
            recorder = normalise_take(self.uploads.data_path(key), dest, self.config, self.limits)
        except MediaError as err:
            self.uploads.set_result(key, video=None, meta={"transport": "browser", "error": str(err)}, error=str(err))
            return
        meta = {**recorder.meta(), "transport": "browser", "source_codec": recorder.source_codec,
                "source_container": slot.container, "upload_bytes": slot.size, "upload_sha256": slot.sha256,
                "source_frame_times_ms": recorder.source_frame_times_ms, "browser": slot.client}
        failed = recorder.status(self.config.min_record_seconds) == "failed"
        if failed:
            dest.unlink(missing_ok=True)
        if self.uploads.set_result(key, video=None if failed else str(dest), meta=meta,
                                   error=(recorder.stats.error or "no frames") if failed else None) is None:
            dest.unlink(missing_ok=True)  # the take was discarded (skipped, recorded again) meanwhile

    def _commit(self, key: str, slot: Slot) -> bool:
        from datetime import datetime

        video = Path(slot.video) if slot.video else None
        status = "failed"
        if video is not None and video.is_file():
            frames = int(slot.meta.get("frames") or 0)
            status = "short" if frames / self.config.video_fps < self.config.min_record_seconds else "ok"
        else:
            video = None
        try:
            self.store.commit_recording(
                session_id=slot.session_id, outfit_id=slot.outfit_id, position=slot.position, temp_video=video,
                rating=slot.rating, status=status, shown_at=datetime.fromisoformat(slot.shown_at),
                rated_at=datetime.fromisoformat(slot.rated_at) if slot.rated_at else None,
                touched_at=datetime.fromisoformat(slot.touched_at) if slot.touched_at else None,
                video_meta=_meta_for_store(slot))
        except VolunteerWithdrawnError as err:  # their face is not kept anywhere
            log.warning("take of session %s position %d discarded: %s", slot.session_id, slot.position, err)
        except StoreError as err:  # e.g. a full disk: the slot stays and is committed on the next look
            log.error("take of session %s position %d not stored yet: %s", slot.session_id, slot.position, err)
            return False
        self.uploads.delete(key)
        return True


def _meta_for_store(slot: Slot) -> dict[str, Any]:
    return {**slot.meta, **({"error": slot.error} if slot.error else {})}
