"""WebRTC settings for recording volunteers (see docs/recording-recipe.md for the measurements).

- Bitrate hints: aiortc answers with REMB only, so Chrome starts at 300 kbps and then sends
  480x360 or 320x240 at 7-20 fps. Adding x-google-{min,start,max}-bitrate to aiortc's video
  codecs before any answer is made keeps 640x480 at 30 fps.
- No public STUN server: ``iceServers`` is empty unless a TURN server is configured for remote
  volunteers: ``IPE_TURN_URL`` (e.g. ``turn:turn.example.org:3478``), ``IPE_TURN_USER``,
  ``IPE_TURN_CREDENTIAL``.
- ``IPE_TEST_LOOPBACK_ICE=1`` (tests only, never in production): aioice skips 127.0.0.1 when
  gathering candidates, so inside a loopback-only network namespace the server would have
  none; the switch makes it offer 127.0.0.1.
"""
from __future__ import annotations

import os
from typing import Any

BITRATE_HINTS_KBPS = {"x-google-min-bitrate": 1000, "x-google-start-bitrate": 1500, "x-google-max-bitrate": 3000}
MEDIA_CONSTRAINTS = {"video": {"width": 640, "height": 480, "frameRate": 30}, "audio": False}
_patched = False


def apply_bitrate_hints() -> None:
    """Add the bitrate hints to aiortc's VP8 and H.264 codec parameters (once per process)."""
    global _patched
    if _patched:
        return
    from aiortc.codecs import CODECS

    for codec in CODECS["video"]:
        if codec.mimeType in ("video/VP8", "video/H264"):
            codec.parameters.update({k: str(v) for k, v in BITRATE_HINTS_KBPS.items()})
    if os.environ.get("IPE_TEST_LOOPBACK_ICE") == "1":
        _offer_loopback_candidates()
    _patched = True


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
