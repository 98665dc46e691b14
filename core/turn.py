"""A TURN server for the live WebRTC path: Debian's coturn with time-limited credentials.

A volunteer's browser behind a NAT or a firewall that drops UDP cannot reach the collection
server's host candidates; a TURN server relays its media. ``IPE_TURN=local`` runs coturn on the
collection server's own address (``scripts/run.sh`` through ``python -m app turn``), and the app
hands each browser session its own credentials by the TURN REST API scheme coturn checks with
``use-auth-secret``: the user name is ``<expiry unix time>:<random pseudonym>``, the password
``base64(HMAC-SHA1(secret, user name))``. The shared secret is made once, readable by this user
only, under ``<home>/turn/``; the configuration file (which holds it) too.

What the relay may reach: only the study server's own address (``allowed-peer-ip``; every other
IPv4 and IPv6 address is denied), so the relay cannot be used to reach other machines; coturn
also denies loopback peers unless told otherwise (``allow_loopback_peers``, for tests on one
machine only). Its relayed traffic goes from this machine to this machine, so only the TURN
port (UDP and TCP) has to be open to volunteers. No TLS listener, no CLI, no TCP relay.

The credential's expiry bounds when an allocation may be made, not how long it lasts: coturn
checks the time stamp when a browser authenticates a new allocation, and keeps refreshing an
allocation past it (measured with coturn 4.6.1). So the lifetime needs to cover the time from
a page's render to its camera being turned on (and reconnected), not a whole visit.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from core.errors import SettingsError
from core.files import atomic_write_bytes, temp_name

SECRET_FILE = "secret"
CONFIG_FILE = "turnserver.conf"
LOG_FILE = "turnserver.log"
PID_FILE = "turnserver.pid"


@dataclass(frozen=True)
class LocalTurn:
    """One coturn server: where it listens, what it relays to, how long credentials last."""

    listen: str  # IP address coturn listens on (UDP and TCP)
    port: int = 3478  # IPE_TURN_PORT
    public_host: str = ""  # the name or address browsers reach it at (default: ``listen``); IPE_TURN_HOST
    relay: str = ""  # the address relayed traffic leaves from (default: ``listen``)
    peers: tuple[str, ...] = ()  # the only addresses the relay may reach: the study server's (default: ``listen``)
    credential_lifetime_s: int = 3600  # IPE_TURN_CREDENTIAL_LIFETIME_S
    allow_loopback_peers: bool = False  # tests on one machine only; coturn warns that it is unsafe
    realm: str = "ipe-study"

    def urls(self) -> list[str]:
        """The ``iceServers`` URLs browsers get: UDP first, TCP where UDP is blocked."""
        host = self.public_host or self.listen
        if ":" in host:  # an IPv6 address literal
            host = f"[{host}]"
        return [f"turn:{host}:{self.port}?transport=udp", f"turn:{host}:{self.port}?transport=tcp"]


@dataclass(frozen=True)
class TurnCredentials:
    username: str
    credential: str
    expires_at: int  # unix time

    def ice_server(self, turn: LocalTurn) -> dict[str, object]:
        """One entry of an RTCConfiguration's ``iceServers``."""
        return {"urls": turn.urls(), "username": self.username, "credential": self.credential}


def mint_credentials(secret: str, lifetime_s: int, *, now: float | None = None,
                     pseudonym: str | None = None) -> TurnCredentials:
    """Credentials that coturn's ``use-auth-secret`` accepts until ``now + lifetime_s``; the user
    name carries a random pseudonym (nothing that names the volunteer)."""
    if lifetime_s <= 0:
        raise SettingsError(f"a TURN credential lifetime must be positive, got {lifetime_s} s")
    expires_at = int(time.time() if now is None else now) + int(lifetime_s)
    username = f"{expires_at}:{pseudonym or secrets.token_hex(8)}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredentials(username, base64.b64encode(digest).decode(), expires_at)


def shared_secret(folder: Path) -> str:
    """``folder``'s TURN secret, made on first use (mode 0600). Two processes making it at once
    end with the same one: the file appears whole, by a hard link that fails if it exists."""
    path = folder / SECRET_FILE
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        staged = temp_name(path)
        try:
            fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(staged, path)
            except FileExistsError:
                pass
        finally:
            staged.unlink(missing_ok=True)
    secret = path.read_text().strip()
    if len(secret) < 16:
        raise SettingsError(f"the TURN secret in {path} is too short: delete the file, a new one is made")
    return secret


def config_text(turn: LocalTurn, secret: str, folder: Path) -> str:
    """coturn's configuration for ``turn`` (see the module doc for why each line)."""
    lines = [
        f"listening-ip={turn.listen}", f"listening-port={turn.port}", f"relay-ip={turn.relay or turn.listen}",
        f"realm={turn.realm}", "use-auth-secret", f"static-auth-secret={secret}", "fingerprint",
        "no-cli", "no-tls", "no-dtls", "no-tcp-relay", "no-multicast-peers", "no-software-attribute",
        "denied-peer-ip=0.0.0.0-255.255.255.255", "denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        *(f"allowed-peer-ip={peer}" for peer in (turn.peers or (turn.listen,))),
        f"log-file={folder / LOG_FILE}", "simple-log", "no-stdout-log",
        f"pidfile={folder / PID_FILE}", f"userdb={folder / 'turndb'}",
    ]
    if turn.allow_loopback_peers:
        lines.append("allow-loopback-peers")
    return "\n".join(lines) + "\n"


def write_config(turn: LocalTurn, folder: Path) -> Path:
    """Write ``folder``'s coturn configuration (mode 0600: it holds the secret); returns its path."""
    secret = shared_secret(folder)
    path = folder / CONFIG_FILE
    atomic_write_bytes(path, config_text(turn, secret, folder).encode())
    path.chmod(0o600)
    return path


def start(turn: LocalTurn, folder: Path, *, binary: str = "turnserver", wait_s: float = 15.0) -> subprocess.Popen:
    """Start coturn for ``turn`` in its own session (so a terminal's Ctrl-C reaches it only through
    whoever started it) and return once it accepts TCP connections on its port."""
    found = shutil.which(binary)
    if found is None:
        raise SettingsError(f"IPE_TURN=local needs coturn's `{binary}`, which is not installed: "
                            "run scripts/setup.sh (Debian: apt-get install coturn)")
    _check_port_free(turn.listen, turn.port)
    config = write_config(turn, folder)
    (folder / LOG_FILE).unlink(missing_ok=True)  # this run's log only
    proc = subprocess.Popen([found, "-c", str(config)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + wait_s
    while True:
        if proc.poll() is not None:
            raise SettingsError(f"the TURN server stopped at start (exit {proc.returncode}): {_log_tail(folder)}")
        try:
            with socket.create_connection((turn.listen, turn.port), timeout=1):
                return proc
        except OSError:
            if time.monotonic() > deadline:
                stop(proc.pid)
                raise SettingsError(f"the TURN server did not listen on {turn.listen}:{turn.port} within {wait_s:.0f} s: "
                                    f"{_log_tail(folder)}") from None
            time.sleep(0.1)


def stop(pid: int, wait_s: float = 10.0) -> None:
    """Stop the TURN server ``pid`` (SIGTERM, then SIGKILL after ``wait_s``); a gone one is fine."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:  # our own child: reap it, or it stays a zombie that still "exists"
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _check_port_free(host: str, port: int) -> None:
    # coturn binds with SO_REUSEPORT, so a second one would start on a busy port and share it
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for kind, name in ((socket.SOCK_STREAM, "TCP"), (socket.SOCK_DGRAM, "UDP")):
        with socket.socket(family, kind) as probe:
            try:
                probe.bind((host, port))
            except OSError as err:
                raise SettingsError(f"the TURN port {host}:{port} ({name}) is not free ({err.strerror}): stop what "
                                    "uses it (a TURN server left from an earlier run?) or set IPE_TURN_PORT") from None


def _log_tail(folder: Path) -> str:
    log = folder / LOG_FILE
    if not log.is_file():
        return "no log"
    errors = [line.strip() for line in log.read_text(errors="replace").splitlines() if "ERROR" in line]
    return (errors[-1] if errors else "see " + str(log))[:300]


def serving_turn(*, host: str, port: int, public_host: str | None, lifetime_s: int,
                 turn_url: str | None) -> LocalTurn:
    """The TURN server ``scripts/run.sh`` runs beside the collection app at ``host`` (IPE_HOST)."""
    if turn_url:
        raise SettingsError("IPE_TURN=local runs this kit's own TURN server: unset IPE_TURN_URL (or IPE_TURN)")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise SettingsError(f"IPE_TURN=local needs IPE_HOST to be this server's IP address, not {host!r}") from None
    if address.is_unspecified or address.is_loopback:
        raise SettingsError(f"IPE_TURN=local relays volunteers' media to this server at IPE_HOST, which is {host}: "
                            "set IPE_HOST to the server's own address that volunteers reach "
                            "(and IPE_TURN_HOST to its public name if it has one)")
    return LocalTurn(listen=host, port=port, public_host=public_host or "", credential_lifetime_s=lifetime_s)
