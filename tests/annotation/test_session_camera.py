"""The visit's camera sink: takes start at a fresh key frame, and the key-frame request
really reaches a sender (two aiortc peers connected over loopback in this process)."""
from __future__ import annotations

import asyncio
import fractions
import socket
from types import SimpleNamespace

import aioice.ice
import av
import numpy as np
import pytest
from aiortc import RTCPeerConnection, VideoStreamTrack

from annotation.session_camera import KEYFRAME_WAIT_S, SessionCamera, request_keyframe, request_keyframe_from
from annotation.webrtc_config import configure_aiortc, is_key_frame
from core.collection.recorder import TakeRecorder


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _frame(i: int, key: bool = False) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i % 255, np.uint8), format="rgb24")
    frame.pts, frame.time_base = i * 3000, fractions.Fraction(1, 90000)
    frame.key_frame = key
    return frame


def test_a_take_starts_at_the_requested_key_frame(tmp_path) -> None:
    clock = Clock()
    cam = SessionCamera(clock=clock)
    recorder = TakeRecorder(tmp_path / "take.mp4", max_seconds=5, size=(64, 48))
    asked = []
    cam.start_take(recorder, lambda: asked.append(1) or True)
    cam.start_take(recorder, lambda: asked.append(1) or True)  # a rerun of the same take asks nothing
    assert asked == [1]
    for i in range(3):  # damaged inter frames before the key frame are not recorded
        cam.on_frame(_frame(i))
    cam.on_frame(_frame(3, key=True))
    cam.on_frame(_frame(4))
    assert cam.frames_skipped_for_keyframe == 3
    assert recorder.stats.frames_received == 2
    cam.end_take()
    cam.on_frame(_frame(5))
    assert recorder.stats.frames_received == 2 and cam.take is None
    recorder.stop()
    assert recorder.wait(10)


def test_a_take_waits_for_a_key_frame_only_so_long(tmp_path) -> None:
    clock = Clock()
    cam = SessionCamera(clock=clock)
    recorder = TakeRecorder(tmp_path / "take.mp4", max_seconds=5, size=(64, 48))
    cam.start_take(recorder, lambda: True)
    cam.on_frame(_frame(0))
    clock.now += KEYFRAME_WAIT_S
    cam.on_frame(_frame(1))
    assert recorder.stats.frames_received == 1 and cam.frames_skipped_for_keyframe == 1
    other = TakeRecorder(tmp_path / "other.mp4", max_seconds=5, size=(64, 48))
    cam.start_take(other, lambda: False)  # no stream to ask: start at once
    cam.on_frame(_frame(2))
    assert other.stats.frames_received == 1
    for r in (recorder, other):
        r.stop()
        assert r.wait(10)


def test_preview_frames_are_kept_only_between_takes(tmp_path) -> None:
    cam = SessionCamera()
    cam.on_frame(_frame(0))
    assert cam.latest is not None and cam.latest.shape == (48, 64, 3)
    assert request_keyframe(None) is False  # no component yet
    assert request_keyframe(SimpleNamespace(_get_worker=lambda: None)) is False  # not connected yet


@pytest.mark.parametrize("codec, mime", [("libvpx", "video/VP8"), ("libx264", "video/H264")])
def test_key_frames_are_recognised_in_the_encoded_stream(codec, mime) -> None:
    encoder = av.CodecContext.create(codec, "w")
    encoder.width, encoder.height, encoder.pix_fmt = 128, 96, "yuv420p"
    encoder.time_base = fractions.Fraction(1, 30)
    encoder.options = {"g": "10"} if codec == "libvpx" else {"g": "10", "bf": "0", "sc_threshold": "0"}
    packets = []
    for i in range(25):
        ramp = (np.add.outer(np.arange(96), np.arange(128)) + 3 * i) % 256  # a moving ramp, no scene cuts
        frame = av.VideoFrame.from_ndarray(np.repeat(ramp[..., None], 3, axis=2).astype(np.uint8),
                                           format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    truth = [p.is_keyframe for p in packets]
    assert sum(truth) >= 2 and not all(truth)  # key frames and inter frames both present
    assert [is_key_frame(mime, bytes(p)) for p in packets] == truth


class Pattern(VideoStreamTrack):
    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(np.random.default_rng(pts).integers(0, 255, (96, 128, 3), np.uint8),
                                           format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


@pytest.fixture
def loopback_ice(monkeypatch):
    """aioice leaves 127.0.0.1 out of its candidates; the two peers here talk over loopback."""
    original = aioice.ice.get_host_addresses
    monkeypatch.setattr(aioice.ice, "get_host_addresses",
                        lambda use_ipv4, use_ipv6: original(use_ipv4, use_ipv6) + ["127.0.0.1"])


def test_the_key_frame_request_makes_the_sender_send_a_key_frame(loopback_ice) -> None:
    configure_aiortc()  # marks decoded key frames (PyAV's libvpx decoder does not)
    async def scenario() -> tuple[int, int]:
        sender, receiver = RTCPeerConnection(), RTCPeerConnection()
        sender.addTrack(Pattern())
        received: asyncio.Queue = asyncio.Queue()
        receiver.on("track", lambda track: received.put_nowait(track))
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        track = await asyncio.wait_for(received.get(), 20)

        async def key_frames(n: int) -> int:
            return sum([bool((await asyncio.wait_for(track.recv(), 10)).key_frame) for _ in range(n)])

        try:
            before = await key_frames(30)  # the stream's first key frame, then inter frames only
            assert request_keyframe_from(receiver, asyncio.get_running_loop())
            after = await key_frames(30)
        finally:
            await sender.close()
            await receiver.close()
        return before, after

    before, after = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert before == 1
    assert after >= 1  # the picture-loss indication was answered with a new key frame


def test_ice_sockets_get_a_large_receive_buffer(loopback_ice) -> None:
    from annotation.webrtc_config import RECEIVE_BUFFER_BYTES, granted_receive_buffer

    configure_aiortc()

    async def gathered_buffers() -> list[int]:
        pc = RTCPeerConnection()
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        ice = pc.getTransceivers()[0].receiver.transport.transport.iceGatherer._connection
        sizes = [p.transport.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
                 for p in ice._protocols]
        await pc.close()
        return sizes

    sizes = asyncio.run(gathered_buffers())
    assert sizes and all(size == granted_receive_buffer(RECEIVE_BUFFER_BYTES) for size in sizes), sizes
    # more than aioice's default of 256 KiB wherever the kernel allows more (scripts/setup.sh raises the cap)
    assert granted_receive_buffer(RECEIVE_BUFFER_BYTES) > granted_receive_buffer(262144) or \
        int(open("/proc/sys/net/core/rmem_max").read()) <= 262144
