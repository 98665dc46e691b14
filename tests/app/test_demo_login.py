"""The Gradio demo behind ``--auth``, on a real server: the login page says nothing about the
server's runs, and wrong passwords back off exponentially per client (app/login_throttle.py)."""
from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from tests.browser_support import audited_server, free_port, non_loopback_connections


def _post_login(url: str, password: str) -> tuple[int, dict[str, str]]:
    data = urllib.parse.urlencode({"username": "researcher", "password": password}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{url}/login", data=data), timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers)


def test_login_page_shows_no_runs_and_wrong_passwords_back_off(home) -> None:
    run = home.runs / "run-named-secretly"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text(json.dumps({"format": "ipe-checkpoint/1", "kind": "preference-cnn"}))
    (run / "metrics.json").write_text(json.dumps({"accuracy": 0.5}))
    port = free_port()
    command = [sys.executable, "-m", "app.demo", "--port", str(port), "--auth", "researcher:right-one"]
    connections = home.root / "connections.jsonl"
    with audited_server(command, home=home.root, port=port, ready_path="/", log_name="demo.log",
                        connections_log=connections, start_timeout=120) as url:
        with urllib.request.urlopen(f"{url}/", timeout=30) as response:
            page = response.read().decode()
        assert "auth_required" in page  # the login page
        assert str(home.root) not in page and "run-named-secretly" not in page

        answers = [_post_login(url, f"guess-{i}") for i in range(30)]
        statuses = [status for status, _ in answers]
        assert statuses[:3] == [400] * 3 and set(statuses[3:]) == {429}, statuses
        status, headers = _post_login(url, "right-one")  # right, but while the client must wait
        assert status == 429 and int(headers["retry-after"]) >= 1
        time.sleep(int(headers["retry-after"]) + 0.2)
        status, headers = _post_login(url, "right-one")
        assert status == 200 and "access-token" in headers.get("set-cookie", "")
        assert [s for s, _ in (_post_login(url, "wrong") for _ in range(3))] == [400] * 3  # a right one cleared it
    assert non_loopback_connections(connections) == []
