"""Video files for generated media: frame-index stamps that survive lossy codecs, and writers
of H.264 MP4 and raw Y4M (what Chromium's fake camera plays)."""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from core.errors import MediaError
from core.files import fsync_file, temp_name


STAMP_BITS = 12
STAMP_BLOCK = 16
STAMP_GUARD = (1, 0)  # a white then a black block: tells a stamp from picture content
# layout, left to right in one row at the bottom-left: guard, 12 index bits (MSB first), even parity


def _stamp_cells(height: int) -> list[tuple[int, int]]:
    y = height - 2 * STAMP_BLOCK
    return [(8 + k * STAMP_BLOCK, y) for k in range(len(STAMP_GUARD) + STAMP_BITS + 1)]


def stamp_frame_index(frame: np.ndarray, index: int) -> np.ndarray:
    """Write ``index`` (0..4095) into the bottom-left corner as white/black blocks, in place."""
    if not 0 <= index < 2**STAMP_BITS:
        raise ValueError(f"frame index must be in 0..{2**STAMP_BITS - 1}, not {index}")
    data = [(index >> (STAMP_BITS - 1 - b)) & 1 for b in range(STAMP_BITS)]
    bits = list(STAMP_GUARD) + data + [sum(data) % 2]
    for (x, y), bit in zip(_stamp_cells(frame.shape[0]), bits):
        frame[y:y + STAMP_BLOCK, x:x + STAMP_BLOCK] = 255 if bit else 0
    return frame


def read_frame_index(frame: np.ndarray) -> int:
    """Read a stamp written by :func:`stamp_frame_index`; -1 when there is none or it is damaged."""
    gray = frame.mean(axis=2) if frame.ndim == 3 else frame
    q = STAMP_BLOCK // 4  # read the block's centre: codecs smear its edges
    bits = []
    for x, y in _stamp_cells(gray.shape[0]):
        value = gray[y + q:y + STAMP_BLOCK - q, x + q:x + STAMP_BLOCK - q].mean()
        if 70 < value < 185:
            return -1
        bits.append(1 if value >= 185 else 0)
    if tuple(bits[: len(STAMP_GUARD)]) != STAMP_GUARD:
        return -1
    data, parity = bits[len(STAMP_GUARD):-1], bits[-1]
    if sum(data) % 2 != parity:
        return -1
    index = 0
    for bit in data:
        index = (index << 1) | bit
    return index


def write_mp4(frames: np.ndarray, path: str | Path, fps: int = 30, crf: int = 18) -> Path:
    """H.264 (yuv420p) MP4 with PyAV; written to a temporary name, fsynced, then renamed."""
    import av

    path = Path(path)
    if len(frames) == 0:
        raise MediaError("no frames to write")
    tmp = temp_name(path)
    with av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    fsync_file(tmp)
    os.replace(tmp, path)
    return path


def write_y4m(frames: np.ndarray, path: str | Path, fps: int = 30) -> Path:
    """Raw YUV4MPEG2 (4:2:0) as Chromium's ``--use-file-for-fake-video-capture`` reads it."""
    path = Path(path)
    height, width = frames.shape[1:3]
    if width % 2 or height % 2:
        raise MediaError("y4m 4:2:0 needs even width and height")
    tmp = temp_name(path)
    with open(tmp, "wb") as handle:
        handle.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            handle.write(b"FRAME\n")
            handle.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    fsync_file(tmp)
    os.replace(tmp, path)
    return path


def write_webm(frames: np.ndarray, path: str | Path, times_s: list[float] | None = None, codec: str = "libvpx",
               bitrate: int = 1_500_000) -> Path:
    """RGB frames as a WebM (VP8 by default) with millisecond timestamps, as a browser's
    MediaRecorder writes it: ``times_s`` (default 30 fps) may be irregular, like a real camera's."""
    import av

    path = Path(path)
    times = times_s if times_s is not None else [i / 30 for i in range(len(frames))]
    with av.open(str(path), mode="w", format="webm") as container:
        stream = container.add_stream(codec, rate=30)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bitrate
        stream.codec_context.time_base = Fraction(1, 1000)
        for frame, t in zip(frames, times):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = int(round(t * 1000))
            picture.time_base = Fraction(1, 1000)
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
