"""The README's nginx example ("Running a larger study") in front of two collection servers: the
config block is taken from the README as written (only the addresses, ports and certificate
paths are replaced) and run by Debian's nginx. Two stand-in upstream servers record what reaches
them. Checked: plain HTTP is redirected to HTTPS; a client's requests all reach one server
(``ip_hash``); the Streamlit WebSocket's upgrade is passed through and the tunnel carries bytes
both ways; a 4 MiB upload chunk is accepted and a larger body refused; when the client's server
is down its requests go to the other one."""
from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from core.tls import self_signed
from tests.browser_support import free_port
from tests.conftest import REPO

HOST = "study.test"


def readme_nginx_block() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Running a larger study"):]
    section = section[:section.index("\n## ", 1)]
    blocks = re.findall(r"```nginx\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the section has one nginx example"
    return blocks[0]


class Upstream(socketserver.ThreadingTCPServer):
    """A stand-in collection server: answers plain requests with its name, completes a WebSocket
    handshake and then echoes the tunnel's bytes, and records the headers it got."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, name: str) -> None:
        self.name, self.seen = name, []
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while True:
            line = self.rfile.readline()
            if not line:
                return
            method, path, _ = line.decode().split(" ", 2)
            headers = {}
            while (line := self.rfile.readline().decode()) not in ("\r\n", "\n", ""):
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
            body = self.rfile.read(int(headers.get("content-length", 0)))
            self.server.seen.append((method, path, headers))
            if headers.get("upgrade", "").lower() == "websocket":
                accept = base64.b64encode(hashlib.sha1((headers["sec-websocket-key"] +
                                                        "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
                self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
                self.wfile.flush()
                while data := self.request.recv(4096):  # the tunnel: echo, marked with the server's name
                    self.request.sendall(self.server.name.encode() + b":" + data)
                return
            answer = f"{self.server.name} {method} {path} {len(body)}".encode()
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                             + str(len(answer)).encode() + b"\r\n\r\n" + answer)
            self.wfile.flush()


def _request(port: int, raw: bytes, *, tls: bool = True) -> tuple[int, dict[str, str], bytes, socket.socket]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the test's self-signed certificate
        sock = context.wrap_socket(sock, server_hostname=HOST)
    sock.sendall(raw)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:])}
    length = int(headers.get("content-length", 0))
    while len(rest) < length:
        rest += sock.recv(65536)
    return int(lines[0].split()[1]), headers, rest, sock


def get(port: int, path: str, *, tls: bool = True, body: bytes = b"", method: str = "GET") -> tuple[int, dict, bytes]:
    raw = (f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(body)}\r\n"
           "Connection: close\r\n\r\n").encode() + body
    status, headers, rest, sock = _request(port, raw, tls=tls)
    sock.close()
    return status, headers, rest


@pytest.fixture
def proxy(tmp_path: Path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).is_file():  # setup.sh installs it; a machine without it cannot check the example
        pytest.fail("needs Debian's nginx (bash scripts/setup.sh installs it)")
    servers = [Upstream("A"), Upstream("B")]
    http_port, https_port = free_port(), free_port()
    tls = self_signed(tmp_path / "tls", names=(HOST,))
    site = readme_nginx_block()
    for old, new in (("10.0.0.11:8501", f"127.0.0.1:{servers[0].port}"), ("10.0.0.12:8501", f"127.0.0.1:{servers[1].port}"),
                     ("listen 80;", f"listen 127.0.0.1:{http_port};"),
                     ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
                     ("/etc/ssl/study.example.org/fullchain.pem", str(tls.cert)),
                     ("/etc/ssl/study.example.org/privkey.pem", str(tls.key)), ("study.example.org", HOST)):
        assert old in site, old
        site = site.replace(old, new)
    (tmp_path / "site.conf").write_text(site)
    temp = tmp_path / "nginx-temp"
    temp.mkdir()
    (tmp_path / "nginx.conf").write_text(f"""
daemon off;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
{"user root root;" if os.geteuid() == 0 else ""}  # workers read the test's private folder
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {tmp_path}/site.conf;
}}
""")
    conf = ["-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")]
    checked = subprocess.run([nginx, "-t", *conf], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen([nginx, *conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "error.log").read_text()
                time.sleep(0.1)
        yield http_port, https_port, servers
    finally:
        proc.terminate()
        proc.wait(30)
        for server in servers:
            server.shutdown()
            server.server_close()


def test_the_readme_nginx_example_is_sticky_passes_websockets_and_uploads_and_fails_over(proxy) -> None:
    http_port, https_port, servers = proxy
    status, headers, _ = get(http_port, "/?s=x", tls=False)
    assert status == 301 and headers["location"] == f"https://{HOST}/?s=x"

    answers = {get(https_port, f"/page-{k}")[2].split()[0] for k in range(6)}
    assert len(answers) == 1  # ip_hash: one client, one server
    mine = next(s for s in servers if s.name.encode() in answers)
    other = next(s for s in servers if s is not mine)
    assert other.seen == []
    method, path, headers = mine.seen[0]
    assert headers["x-forwarded-proto"] == "https" and headers["host"] == HOST

    key = base64.b64encode(b"0123456789abcdef").decode()
    status, headers, rest, sock = _request(https_port, (
        f"GET /_stcore/stream HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    try:
        assert status == 101 and headers["upgrade"].lower() == "websocket"
        assert mine.seen[-1][2]["connection"].lower() == "upgrade"
        sock.sendall(b"frame")
        assert sock.recv(100) == mine.name.encode() + b":frame"  # the tunnel carries bytes both ways
    finally:
        sock.close()

    chunk = b"\0" * (4 * 1024 * 1024)  # the largest take chunk the server accepts (UploadLimits)
    status, _, body = get(https_port, "/capture/take/token/0", method="PUT", body=chunk)
    assert status == 200 and body.decode() == f"{mine.name} PUT /capture/take/token/0 {len(chunk)}"
    assert get(https_port, "/capture/take/token/1", method="PUT", body=b"\0" * (6 * 1024 * 1024))[0] == 413

    mine.shutdown()
    mine.server_close()  # the volunteer's server goes down: the next request reaches the other one
    status, _, body = get(https_port, "/?s=x&k=y")
    assert status == 200 and body.split()[0] == other.name.encode()
