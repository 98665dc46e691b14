"""Reading videos with PyAV, with the real timestamp of every frame.

Errors are :class:`MediaError` with a message that says what is wrong with the file
(missing, empty, not a video, no video stream, no decodable frame, too large). Frame size and
frame count are checked from the container's header before anything is decoded
(:func:`check_header`, bounds from ``core/media_limits.py``), and every decoded frame is
checked again, since a header can lie.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import MediaError
from core.media_limits import MediaLimits

if TYPE_CHECKING:
    import av


@dataclass(frozen=True)
class VideoFrames:
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    timestamps_s: np.ndarray  # (T,) float64, from the stream's presentation timestamps
    fps: float  # frames / duration between first and last timestamp (nominal rate if one frame)

    @property
    def duration_s(self) -> float:
        if len(self.timestamps_s) < 2:
            return len(self.timestamps_s) / self.fps if self.fps else 0.0
        return float(self.timestamps_s[-1] - self.timestamps_s[0]) + 1.0 / self.fps


def _check_file(path: Path) -> None:
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if not path.is_file():
        raise MediaError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: the file is empty (0 bytes); record or copy it again")


# luma in video range (16-235) -> full range (0-255)
_LIMITED_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)


def _open(path: Path):
    import av

    _check_file(path)
    try:
        return av.open(str(path))
    except (av.error.InvalidDataError, av.error.FFmpegError, UnicodeDecodeError) as err:
        raise MediaError(f"{path}: not a readable video ({err})") from err


@dataclass(frozen=True)
class VideoHeader:
    """What the container says about its first video stream (nothing decoded)."""

    width: int
    height: int
    frames: int  # from the header, or estimated from duration x rate when the header has none
    duration_s: float  # 0.0 when the header has none
    fps: float  # nominal


def _header_of(path: Path, container) -> VideoHeader:
    if not container.streams.video:
        raise MediaError(f"{path}: contains no video stream")
    stream = container.streams.video[0]
    fps = float(stream.average_rate or stream.base_rate or 30)
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    else:
        duration = container.duration / 1_000_000 if container.duration is not None else 0.0
    frames = int(stream.frames or 0) or int(round(duration * fps))
    return VideoHeader(int(stream.codec_context.width or stream.width or 0),
                       int(stream.codec_context.height or stream.height or 0), frames, duration, fps)


def read_header(path: str | Path) -> VideoHeader:
    """Frame size, frame count, duration and rate from the container header, without decoding."""
    path = Path(path)
    with _open(path) as container:
        return _header_of(path, container)


def check_header(path: str | Path, limits: MediaLimits | None = None) -> VideoHeader:
    """:func:`read_header`, refusing (MediaError) a frame size or frame count over ``limits``."""
    header = read_header(path)
    (limits or MediaLimits.from_env()).check_video(header.width, header.height, header.frames, Path(path).name)
    return header


def iter_decoded(path: str | Path, *, max_frames: int | None = None,
                 limits: MediaLimits | None = None) -> Iterator[tuple["av.VideoFrame", float, float]]:
    """Yield ``(PyAV frame, timestamp in s, nominal fps)``; the frame is converted by the caller.

    The header is checked against ``limits`` (default: from the environment) before decoding,
    and each decoded frame's size and the running count again.
    """
    import av

    path = Path(path)
    limits = limits or MediaLimits.from_env()
    container = _open(path)
    with container:
        header = _header_of(path, container)
        limits.check_video(header.width, header.height, header.frames, path.name)
        stream = container.streams.video[0]
        # no codec threads: extraction runs one process per core, threads only contend
        nominal = header.fps
        count = 0
        last_t = None
        try:
            for frame in container.decode(stream):
                limits.check_video(frame.width, frame.height, count + 1, path.name)
                if frame.pts is not None and frame.time_base is not None:
                    t = float(frame.pts * frame.time_base)
                else:
                    t = (last_t + 1.0 / nominal) if last_t is not None else 0.0
                last_t = t
                yield frame, t, nominal
                count += 1
                if max_frames is not None and count >= max_frames:
                    return
        except av.error.FFmpegError as err:
            if count == 0:
                raise MediaError(f"{path}: no decodable frame ({err})") from err
            # a truncated file: keep the frames that decoded
    if count == 0:
        raise MediaError(f"{path}: the video has no frames (zero length)")


def iter_frames(path: str | Path, *, max_frames: int | None = None,
                limits: MediaLimits | None = None) -> Iterator[tuple[np.ndarray, float, float]]:
    """Yield ``(rgb frame, timestamp in s, nominal fps)`` frame by frame."""
    for frame, t, nominal in iter_decoded(path, max_frames=max_frames, limits=limits):
        yield frame.to_ndarray(format="rgb24"), t, nominal


def iter_frames_gray(path: str | Path, *, max_frames: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray, float, float]]:
    """Yield ``(rgb, grey, timestamp in s, nominal fps)``.

    For the usual yuv420p streams (H.264, VP8) the grey image is the decoded luma plane itself
    (stretched from video range 16-235 to 0-255, so it matches ``cv2.COLOR_RGB2GRAY`` within a
    few levels) and RGB comes from OpenCV's I420 conversion (BT.601), about twice as fast as
    PyAV's rgb24 conversion plus a separate grey conversion; other formats go through rgb24.
    """
    import cv2

    for frame, t, nominal in iter_decoded(path, max_frames=max_frames):
        if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
            planes = frame.to_ndarray()
            if planes.shape == (frame.height * 3 // 2, frame.width):
                rgb = cv2.cvtColor(planes, cv2.COLOR_YUV2RGB_I420)
                yield rgb, cv2.LUT(planes[: frame.height], _LIMITED_TO_FULL), t, nominal
                continue
        rgb = frame.to_ndarray(format="rgb24")
        yield rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), t, nominal


def read_video(path: str | Path, *, max_frames: int | None = None, max_seconds: float | None = None) -> VideoFrames:
    """Decode a whole video (or its first ``max_frames`` / ``max_seconds``)."""
    frames: list[np.ndarray] = []
    times: list[float] = []
    nominal = 30.0
    for frame, t, nominal in iter_frames(path, max_frames=max_frames):  # noqa: B007 (the rate is read after the loop)
        if max_seconds is not None and times and t - times[0] >= max_seconds:
            break
        frames.append(frame)
        times.append(t)
    ts = np.asarray(times, dtype=np.float64)
    ts -= ts[0]
    fps = (len(ts) - 1) / ts[-1] if len(ts) > 1 and ts[-1] > 0 else nominal
    return VideoFrames(np.stack(frames), ts, float(fps))


def probe_video(path: str | Path) -> dict[str, float | int]:
    """Frames, fps, duration, width and height, by decoding (reliable for browser-made files);
    one frame at a time, so memory does not grow with the video's length."""
    times: list[float] = []
    shape = (0, 0)
    nominal = 30.0
    for frame, t, rate in iter_decoded(path):
        times.append(t)
        shape, nominal = (frame.height, frame.width), rate
    ts = np.asarray(times, dtype=np.float64) - times[0]
    fps = (len(ts) - 1) / ts[-1] if len(ts) > 1 and ts[-1] > 0 else nominal
    duration = float(ts[-1]) + 1.0 / fps if len(ts) > 1 else len(ts) / fps
    return {"frames": len(ts), "fps": round(fps, 3), "duration_s": round(duration, 3),
            "width": int(shape[1]), "height": int(shape[0])}


def header_duration(path: str | Path) -> float:
    """Seconds from the container header, without decoding (0.0 when the header has none)."""
    return read_header(path).duration_s
