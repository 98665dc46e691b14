"""WebRTC settings for recording volunteers (see docs/recording-recipe.md for the measurements).

- Bitrate hints: aiortc answers with REMB only, so Chrome starts at 300 kbps and then sends
  480x360 or 320x240 at 7-20 fps. Adding x-google-{min,start,max}-bitrate to aiortc's video
  codecs before any answer is made keeps 640x480 at 30 fps.
- Key frames marked: PyAV's libvpx decoder leaves ``key_frame`` unset on decoded pictures, so
  the receiver's decoder is wrapped to mark the pictures decoded from a key frame (VP8: the
  frame header's type bit; H.264: an IDR slice). A take starts at the key frame it asked for
  (``annotation/session_camera.py``).
- Large UDP receive buffers: the server's event loop also runs Streamlit, so it can pause for a
  few hundred ms; with Linux's default 208 KB buffer (about 100 media packets) a key frame
  arriving then overflows it (measured in the loopback E2E: 302 datagrams dropped,
  ``RcvbufErrors``) and the stream shows damaged pictures until the next key frame. Each
  ICE socket asks for ``RECEIVE_BUFFER_BYTES``; the kernel caps it at ``net.core.rmem_max``
  (4 MiB on this project's machines; raise it with ``sysctl -w net.core.rmem_max=4194304``
  where it is lower: the server logs a warning then). aioice's own default is 256 KiB.
- No public STUN server: ``iceServers`` is empty unless a TURN server is configured for remote
  volunteers: the kit's own (``IPE_TURN=local``, ``core/turn.py``: each browser session gets
  its own time-limited credentials, for the browser only, since the server sits beside the TURN
  server and the relay reaches its host candidates), or one run elsewhere: ``IPE_TURN_URL``
  (e.g. ``turn:turn.example.org:3478``), ``IPE_TURN_USER``, ``IPE_TURN_CREDENTIAL``. The ICE
  transport policy stays "all": direct paths (a LAN) are used when they work, the relay when not.
- ``IPE_TEST_LOOPBACK_ICE=1`` (tests only, never in production): aioice skips 127.0.0.1 when
  gathering candidates, so inside a loopback-only network namespace the server would have
  none; the switch makes it offer 127.0.0.1.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import MutableMapping
from typing import Any

from core.turn import LocalTurn, TurnCredentials, mint_credentials

BITRATE_HINTS_KBPS = {"x-google-min-bitrate": 1000, "x-google-start-bitrate": 1500, "x-google-max-bitrate": 3000}
MEDIA_CONSTRAINTS = {"video": {"width": 640, "height": 480, "frameRate": 30}, "audio": False}
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
TURN_CREDENTIALS_KEY = "turn_credentials"  # a browser session's credentials, in its session state
_patched = False
log = logging.getLogger(__name__)


def configure_aiortc() -> None:
    """Bitrate hints on aiortc's VP8 and H.264 codecs, key-frame marking on its video
    decoders, large receive buffers on its ICE sockets (once per process; see the module doc)."""
    global _patched
    if _patched:
        return
    import aiortc.rtcrtpreceiver
    from aiortc.codecs import CODECS

    for codec in CODECS["video"]:
        if codec.mimeType in ("video/VP8", "video/H264"):
            codec.parameters.update({k: str(v) for k, v in BITRATE_HINTS_KBPS.items()})
    make_decoder = aiortc.rtcrtpreceiver.get_decoder
    aiortc.rtcrtpreceiver.get_decoder = lambda codec: KeyFrameMarkingDecoder(make_decoder(codec), codec.mimeType)
    _enlarge_receive_buffers()
    if os.environ.get("IPE_TEST_LOOPBACK_ICE") == "1":
        _offer_loopback_candidates()
    _patched = True


def granted_receive_buffer(size: int = RECEIVE_BUFFER_BYTES) -> int:
    """The receive buffer (bytes) the kernel grants a UDP socket that asks for ``size``
    (Linux reports twice the usable size; the ask is capped at ``net.core.rmem_max``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


def _enlarge_receive_buffers() -> None:
    import aioice.turn

    # aioice sets this size on every host and TURN socket it opens (its default: 256 KiB)
    aioice.turn.UDP_SOCKET_BUFFER_SIZE = RECEIVE_BUFFER_BYTES
    if granted_receive_buffer() < RECEIVE_BUFFER_BYTES:
        log.warning("UDP receive buffers are capped below %d bytes: raise net.core.rmem_max "
                    "(sysctl -w net.core.rmem_max=%d), or video may lose packets on a busy server",
                    RECEIVE_BUFFER_BYTES, RECEIVE_BUFFER_BYTES)


def is_key_frame(mime_type: str, data: bytes) -> bool:
    """Whether an encoded video frame (as aiortc's depayloader assembles it) is a key frame."""
    mime = mime_type.lower()
    if mime == "video/vp8":  # RFC 6386 9.1: bit 0 of the frame tag is 0 for a key frame
        return len(data) > 0 and data[0] & 1 == 0
    if mime == "video/h264":  # Annex B: an IDR slice (NAL unit type 5) after a start code
        start = data.find(b"\x00\x00\x01")
        while start != -1 and start + 3 < len(data):
            if data[start + 3] & 0x1F == 5:
                return True
            start = data.find(b"\x00\x00\x01", start + 3)
    return False


class KeyFrameMarkingDecoder:
    """Wraps an aiortc decoder; pictures decoded from a key frame get ``key_frame = True``."""

    def __init__(self, inner: Any, mime_type: str) -> None:
        self.inner = inner
        self.mime_type = mime_type

    def decode(self, encoded_frame: Any) -> list:
        frames = self.inner.decode(encoded_frame)
        if frames and is_key_frame(self.mime_type, encoded_frame.data):
            for frame in frames:
                frame.key_frame = True
        return frames


def _offer_loopback_candidates() -> None:
    import aioice.ice

    original = aioice.ice.get_host_addresses

    def with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        addresses = original(use_ipv4, use_ipv6)
        return addresses + ["127.0.0.1"] if use_ipv4 and "127.0.0.1" not in addresses else addresses

    aioice.ice.get_host_addresses = with_loopback


def rtc_configuration() -> dict[str, Any]:
    """No STUN by default; one TURN server when ``IPE_TURN_URL`` is set."""
    url = os.environ.get("IPE_TURN_URL")
    if not url:
        return {"iceServers": []}
    server: dict[str, Any] = {"urls": [url]}
    if os.environ.get("IPE_TURN_USER"):
        server["username"] = os.environ["IPE_TURN_USER"]
        server["credential"] = os.environ.get("IPE_TURN_CREDENTIAL", "")
    return {"iceServers": [server]}


def ice_configuration(turn: tuple[LocalTurn, str] | None, state: MutableMapping[str, Any],
                      now: float | None = None) -> dict[str, dict[str, Any]]:
    """The camera component's ICE arguments. With the kit's TURN server (``turn`` = the server and
    its secret), the browser gets credentials kept in ``state`` (its session), renewed when less
    than half their lifetime is left, and the server none; else :func:`rtc_configuration` for both."""
    if turn is None:
        return {"rtc_configuration": rtc_configuration()}
    server, secret = turn
    now = time.time() if now is None else now
    credentials: TurnCredentials | None = state.get(TURN_CREDENTIALS_KEY)
    if credentials is None or credentials.expires_at - now < server.credential_lifetime_s / 2:
        credentials = state[TURN_CREDENTIALS_KEY] = mint_credentials(secret, server.credential_lifetime_s, now=now)
    return {"frontend_rtc_configuration": {"iceServers": [credentials.ice_server(server)]},
            "server_rtc_configuration": {"iceServers": []}}
