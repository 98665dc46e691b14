"""The camera component's ICE servers: none by default, the kit's TURN server for the browser with
IPE_TURN=local (per-session credentials, renewed at half their lifetime), never public STUN."""
from __future__ import annotations

import base64
import hashlib
import hmac

from annotation.resources import get_turn
from annotation.webrtc_config import TURN_CREDENTIALS_KEY, ice_configuration


def test_no_ice_servers_without_turn(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("IPE_HOME", str(tmp_path))
    monkeypatch.delenv("IPE_TURN", raising=False)
    monkeypatch.delenv("IPE_TURN_URL", raising=False)
    get_turn.clear()
    assert get_turn() is None
    assert ice_configuration(None, {}) == {"rtc_configuration": {"iceServers": []}}
    monkeypatch.setenv("IPE_TURN_URL", "turn:turn.example.org:3478")  # one run elsewhere: both ends use it
    assert ice_configuration(None, {}) == {"rtc_configuration": {"iceServers": [{"urls": ["turn:turn.example.org:3478"]}]}}


def test_local_turn_gives_each_browser_session_its_own_credentials(monkeypatch, tmp_path) -> None:
    for name, value in {"IPE_HOME": str(tmp_path), "IPE_TURN": "local", "IPE_HOST": "192.0.2.10",
                        "IPE_TURN_HOST": "study.example.org", "IPE_TURN_CREDENTIAL_LIFETIME_S": "3600"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("IPE_TURN_URL", raising=False)
    get_turn.clear()
    try:
        turn = get_turn()
    finally:
        get_turn.clear()
    secret = (tmp_path / "turn" / "secret").read_text().strip()  # the file coturn's configuration reads
    session: dict = {}
    first = ice_configuration(turn, session, now=1_000_000)
    assert first["server_rtc_configuration"] == {"iceServers": []}  # the server sits beside the TURN server
    frontend = first["frontend_rtc_configuration"]
    assert set(frontend) == {"iceServers"}  # policy "all": a direct (LAN) path is used when it works
    (server,) = frontend["iceServers"]
    assert server["urls"] == ["turn:study.example.org:3478?transport=udp", "turn:study.example.org:3478?transport=tcp"]
    expiry, pseudonym = server["username"].split(":")
    assert int(expiry) == 1_000_000 + 3600 and len(pseudonym) == 16
    assert server["credential"] == base64.b64encode(hmac.new(secret.encode(), server["username"].encode(),
                                                             hashlib.sha1).digest()).decode()
    assert ice_configuration(turn, session, now=1_000_000 + 1799) == first  # kept while half the lifetime is left
    renewed = ice_configuration(turn, session, now=1_000_000 + 1801)["frontend_rtc_configuration"]["iceServers"][0]
    assert renewed["username"].startswith(f"{1_000_000 + 1801 + 3600}:") and session[TURN_CREDENTIALS_KEY].username \
        == renewed["username"]
    other = ice_configuration(turn, {}, now=1_000_000)["frontend_rtc_configuration"]["iceServers"][0]
    assert other["username"] != server["username"]  # another browser session, another pseudonym
