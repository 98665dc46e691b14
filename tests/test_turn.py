"""The IPE_TURN=local TURN server: credentials coturn accepts, its configuration, a real coturn
started, used through a real TURN client (aioice's) and stopped."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest

from core.errors import SettingsError
from core.settings import load_settings
from core.turn import LocalTurn, config_text, mint_credentials, serving_turn, shared_secret, start, stop, write_config
from tests.conftest import REPO
from tests.turn_client import relay_round_trip


def _needs_coturn() -> None:
    if shutil.which("turnserver") is None:  # setup.sh installs it: a machine without it cannot run IPE_TURN=local
        pytest.fail("needs Debian's coturn (`turnserver`; scripts/setup.sh installs it)")


def _free_port() -> int:
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        port = tcp.getsockname()[1]
        udp.bind(("127.0.0.1", port))  # free for both, as coturn needs
        return port


def test_credentials_follow_the_turn_rest_scheme() -> None:
    # the expected credential is openssl's: printf '1700003600:volunteer-7' | openssl dgst -sha1 -hmac SECRET -binary | base64
    credentials = mint_credentials("north-wind-42-secret", 3600, now=1_700_000_000.7, pseudonym="volunteer-7")
    assert credentials.username == "1700003600:volunteer-7" and credentials.expires_at == 1_700_003_600
    assert credentials.credential == "yMiI2PX8hihRpfgO3/nLU+ejvHA="
    fresh = [mint_credentials("s" * 20, 60).username.split(":") for _ in range(2)]
    assert fresh[0][1] != fresh[1][1] and len(fresh[0][1]) == 16  # a random pseudonym each time
    with pytest.raises(SettingsError, match="positive"):
        mint_credentials("s" * 20, 0)


def test_secret_is_made_once_readable_by_this_user_only(tmp_path) -> None:
    folder = tmp_path / "turn"
    made: list[str] = []
    threads = [threading.Thread(target=lambda: made.append(shared_secret(folder))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 1 and len(made[0]) >= 40  # eight at once agree on one secret
    assert oct((folder / "secret").stat().st_mode & 0o777) == "0o600"
    assert shared_secret(folder) == made[0] and [p.name for p in folder.iterdir()] == ["secret"]  # no temporary left


def test_configuration_relays_only_to_the_study_server(tmp_path) -> None:
    turn = LocalTurn(listen="192.0.2.10", port=3479)
    text = config_text(turn, "a-secret-of-twenty-chars", tmp_path)
    lines = text.splitlines()
    for line in ("listening-ip=192.0.2.10", "listening-port=3479", "relay-ip=192.0.2.10", "use-auth-secret",
                 "static-auth-secret=a-secret-of-twenty-chars", "no-cli", "no-tls", "no-tcp-relay",
                 "denied-peer-ip=0.0.0.0-255.255.255.255", "allowed-peer-ip=192.0.2.10"):
        assert line in lines
    assert "allow-loopback-peers" not in lines and [x for x in lines if x.startswith("allowed-peer-ip")] == \
        ["allowed-peer-ip=192.0.2.10"]
    assert "allow-loopback-peers" in config_text(LocalTurn(listen="127.0.0.1", allow_loopback_peers=True), "s", tmp_path)
    path = write_config(turn, tmp_path / "turn")
    assert oct(path.stat().st_mode & 0o777) == "0o600" and shared_secret(tmp_path / "turn") in path.read_text()
    assert turn.urls() == ["turn:192.0.2.10:3479?transport=udp", "turn:192.0.2.10:3479?transport=tcp"]
    assert LocalTurn(listen="2001:db8::1", public_host="").urls()[0] == "turn:[2001:db8::1]:3478?transport=udp"


def test_serving_settings() -> None:
    assert load_settings({}).local_turn() is None  # off by default
    turn = load_settings({"IPE_TURN": "local", "IPE_HOST": "192.0.2.10", "IPE_TURN_HOST": "study.example.org",
                          "IPE_TURN_CREDENTIAL_LIFETIME_S": "600"}).local_turn()
    assert turn == LocalTurn(listen="192.0.2.10", public_host="study.example.org", credential_lifetime_s=600)
    assert turn.urls()[1] == "turn:study.example.org:3478?transport=tcp"
    for host, message in (("127.0.0.1", "set IPE_HOST"), ("0.0.0.0", "set IPE_HOST"), ("study.local", "IP address")):
        with pytest.raises(SettingsError, match=message):
            serving_turn(host=host, port=3478, public_host=None, lifetime_s=3600, turn_url=None)
    with pytest.raises(SettingsError, match="unset IPE_TURN_URL"):
        serving_turn(host="192.0.2.10", port=3478, public_host=None, lifetime_s=3600, turn_url="turn:x:3478")
    with pytest.raises(SettingsError, match="IPE_TURN_CREDENTIAL_LIFETIME_S"):
        load_settings({"IPE_TURN_CREDENTIAL_LIFETIME_S": "5"})


def test_a_real_coturn_relays_with_minted_credentials_and_refuses_others(tmp_path) -> None:
    """coturn on a loopback port; its peer (the echo) is on loopback too, which coturn refuses
    unless ``allow-loopback-peers`` is set: the test sets it, and allows only 127.0.0.1."""
    _needs_coturn()
    turn = LocalTurn(listen="127.0.0.1", port=_free_port(), allow_loopback_peers=True)
    folder = tmp_path / "turn"
    proc = start(turn, folder)
    try:
        secret = shared_secret(folder)
        server = ("127.0.0.1", turn.port)
        good = mint_credentials(secret, 60)
        for transport in ("udp", "tcp"):
            report = asyncio.run(relay_round_trip(server, good.username, good.credential, "127.0.0.1",
                                                  transport=transport, refused_peer="127.0.0.2"))
            assert report["echo"] == "echo:ping" and report["relayed"][0] == "127.0.0.1", report
            assert report["refused"] == 403, report  # a peer that is not the study server: Forbidden
        expired = mint_credentials(secret, 60, now=0)
        wrong = mint_credentials("another-secret-entirely", 60)
        for credentials in (expired, wrong):
            report = asyncio.run(relay_round_trip(server, credentials.username, credentials.credential, "127.0.0.1"))
            assert report == {"error": 401}
        with pytest.raises(SettingsError, match="is not free"):  # coturn itself would share the port silently
            start(turn, folder)
    finally:
        stop(proc.pid)
    assert proc.wait(5) is not None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", turn.port))  # stopped: the port is free again


def test_start_without_turnserver_is_one_clear_line(tmp_path) -> None:
    with pytest.raises(SettingsError, match="not installed: run scripts/setup.sh"):
        start(LocalTurn(listen="127.0.0.1", port=_free_port()), tmp_path, binary="no-such-turnserver")
    assert not (tmp_path / "turnserver.conf").exists()


def _command(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "turn"], cwd=REPO, env=env, capture_output=True, text=True)


def test_turn_command_refuses_settings_it_cannot_serve(tmp_path) -> None:
    env = {"IPE_HOME": str(tmp_path), "PATH": os.environ["PATH"]}
    off = _command(env)
    assert (off.returncode, off.stdout) == (0, "")  # IPE_TURN off: nothing started, nothing printed
    bad = _command({**env, "IPE_TURN": "local"})  # IPE_HOST defaults to 127.0.0.1
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "set IPE_HOST" in bad.stderr
    assert not (tmp_path / "turn").exists()


def test_turn_command_starts_nothing_for_browser_recorded_takes(tmp_path) -> None:
    """IPE_CAPTURE=browser uploads takes over HTTPS: a TURN server would carry nothing, so none is started
    (even with settings it could serve) and one line says why."""
    env = {"IPE_HOME": str(tmp_path), "PATH": os.environ["PATH"], "IPE_TURN": "local", "IPE_HOST": "198.18.9.1",
           "IPE_CAPTURE": "browser"}
    result = _command(env)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr.count("\n") == 1 and "no TURN server is started" in result.stderr
    assert not (tmp_path / "turn").exists()


def test_turn_command_starts_what_run_sh_stops(tmp_path) -> None:
    """As ``scripts/run.sh`` does it, in a network namespace whose one address is the study server's:
    ``python -m app turn`` starts coturn and prints its pid; a browser's credentials get a relay that
    reaches the server's address (not loopback: no test exception in coturn's configuration) and
    nothing else; ``kill PID`` stops it."""
    _needs_coturn()
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.fail("needs root, util-linux's unshare and iproute2 for a network namespace with its own address")
    secret = shared_secret(tmp_path / "turn")
    credentials = mint_credentials(secret, 60)
    script = (
        "set -e; ip link set lo up; ip link add v0 type veth peer name v1; ip link set v0 up; ip link set v1 up;"
        " ip addr add 198.18.9.1/24 dev v0; ip addr add 198.18.9.2/24 dev v1;"
        f" pid=$({sys.executable} -m app turn); echo started=$pid;"
        f" {sys.executable} tests/turn_client.py 198.18.9.1 3478 '{credentials.username}' '{credentials.credential}'"
        " 198.18.9.1 198.18.9.2;"
        " kill $pid; for i in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done;"
        " kill -0 $pid 2>/dev/null && echo still-running || echo stopped")
    env = {"IPE_HOME": str(tmp_path), "IPE_TURN": "local", "IPE_HOST": "198.18.9.1", "PATH": os.environ["PATH"]}
    result = subprocess.run(["unshare", "--net", "--", "bash", "-c", script], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("started=") and lines[-1] == "stopped", result.stdout
    report = json.loads(lines[1])
    assert report["echo"] == "echo:ping" and report["relayed"][0] == "198.18.9.1", report
    assert report["refused"] == 403, report  # another address on the same machine: not the study server
    assert "turn:198.18.9.1:3478?transport=udp" in result.stderr
