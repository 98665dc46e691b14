"""End to end: a volunteer whose browser cannot reach the collection server's media address records
a live take through the kit's TURN server (``IPE_TURN=local``).

Three network namespaces (``ip netns``, needs root): the server's, the browser's, and a middle one
with an interface on each side that forwards nothing. The middle runs coturn (listening on the
browser's side, relaying from the server's side, to the server's address only) and passes the
page's HTTP and WebSocket on to the server, as a reverse proxy would (``tests/turn_scenario.py``).
So the browser's host candidates have no route to the server's: the media must take the relay.
Asserted: the selected candidate pair is the browser's relay candidate to the server's host
candidate, media bytes went over it, and the take was committed with its rating and the same
video checks as the loopback tests.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager

import pytest

from core.store import Store
from tests.annotation.test_e2e_recording import check_video
from tests.conftest import REPO
from tests.turn_scenario import BROWSER, MIDDLE_BROWSER_SIDE, MIDDLE_SERVER_SIDE, SERVER

pytestmark = [pytest.mark.browser, pytest.mark.webrtc]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextmanager
def relay_only_network():
    """The three namespaces (their names), removed afterwards with their interfaces."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.fail("needs root and iproute2's `ip netns` for the server/TURN/browser network namespaces")
    tag = str(os.getpid())
    names = {role: f"ipe-{role}-{tag}" for role in ("srv", "turn", "web")}
    try:
        for name in names.values():
            _ip("netns", "add", name)
            _ip("-n", name, "link", "set", "lo", "up")
            for key in ("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
                        "net.ipv4.ip_forward=0"):  # no link-local paths, and the middle forwards nothing
                subprocess.run(["ip", "netns", "exec", name, "sysctl", "-qw", key], check=True)
        for side, (outer, inner, outer_ip, inner_ip) in {"s": ("srv", "turn", SERVER, MIDDLE_SERVER_SIDE),
                                                          "w": ("web", "turn", BROWSER, MIDDLE_BROWSER_SIDE)}.items():
            a, b = f"ipe{side}a{tag}"[:15], f"ipe{side}b{tag}"[:15]
            _ip("link", "add", a, "netns", names[outer], "type", "veth", "peer", "name", b, "netns", names[inner])
            _ip("-n", names[outer], "addr", "add", f"{outer_ip}/24", "dev", a)
            _ip("-n", names[inner], "addr", "add", f"{inner_ip}/24", "dev", b)
            _ip("-n", names[outer], "link", "set", a, "up")
            _ip("-n", names[inner], "link", "set", b, "up")
        yield names
    finally:
        for name in names.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_a_volunteer_behind_no_route_records_through_the_turn_relay(home, fake_camera, source_frames) -> None:
    subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), "init"], cwd=REPO, check=True,
                   capture_output=True)
    out = home.root / "scenario.json"
    with relay_only_network() as ns:
        unreachable = subprocess.run(["ip", "netns", "exec", ns["web"], "ip", "route", "get", SERVER],
                                     capture_output=True, text=True)
        assert unreachable.returncode != 0, "the browser's namespace has a route to the server"
        result = subprocess.run(["ip", "netns", "exec", ns["web"], sys.executable, "tests/turn_scenario.py", "volunteer",
                                 str(home.root), str(fake_camera), str(out), ns["srv"], ns["turn"]],
                                cwd=REPO, env={**os.environ, "IPE_HOME": str(home.root)}, capture_output=True,
                                text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    volunteer = report["volunteers"][0]
    pairs = [s["selected_pair"] for take in volunteer["webrtc"] for s in take if "selected_pair" in s]
    assert pairs, volunteer["webrtc"]
    for pair in pairs:  # the browser's relay on the TURN server, to the server's own address
        assert (pair["local"], pair["local_address"], pair["remote_address"]) == ("relay", MIDDLE_SERVER_SIDE, SERVER), pair
        assert pair["bytes_sent"] > 100_000, pair
    assert set(report["server_destinations"]) <= {MIDDLE_SERVER_SIDE, BROWSER}, report["server_destinations"]
    assert all(u.startswith((f"http://{MIDDLE_BROWSER_SIDE}:", f"ws://{MIDDLE_BROWSER_SIDE}:", "data:", "blob:", "about:"))
               for u in volunteer["requests"]), volunteer["requests"]
    with Store.open(home, read_only=True) as store:
        views = store.views_for_session(volunteer["session_id"])
        assert [(v["status"], v["rating"]) for v in views] == [("ok", 70)]
        check_video(views[0], home, source_frames)
