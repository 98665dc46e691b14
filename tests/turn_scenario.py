"""A volunteer's live take through the kit's TURN server, across network namespaces with no route
between the browser and the collection server (``tests/annotation/test_e2e_turn.py`` makes them).

    ip netns exec WEB python tests/turn_scenario.py volunteer HOME FAKE_Y4M OUT_JSON SRV_NS TURN_NS
    ip netns exec TURN python tests/turn_scenario.py middle HOME      # started by the former

``SERVER`` (namespace SRV) runs the collection app with ``IPE_TURN=local``; ``MIDDLE`` (TURN) has
an interface on each side, does not forward packets, and runs the TURN server (listening on the
browser's side, relaying from the server's side, to the server only) and a TCP relay of the app's
HTTP port, the way a reverse proxy in front of a study server would pass the page and its
WebSocket; ``BROWSER`` (WEB, where this script runs) has Chromium. The browser's own candidates
cannot reach the server's, so the only way for the media is the TURN relay.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.turn import LocalTurn, start, stop  # noqa: E402
from tests import e2e_scenarios  # noqa: E402
from tests.browser_support import (CHROMIUM, audited_server, chromium_args, netlog_hosts,  # noqa: E402
                                   non_loopback_connections)

SERVER, MIDDLE_SERVER_SIDE, MIDDLE_BROWSER_SIDE, BROWSER = "198.18.1.2", "198.18.1.1", "198.18.2.1", "198.18.2.2"
APP_PORT, TURN_PORT = 8501, 3478
TURN = LocalTurn(listen=MIDDLE_BROWSER_SIDE, port=TURN_PORT, relay=MIDDLE_SERVER_SIDE, peers=(SERVER,))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def _middle(home: Path) -> None:
    """The TURN server and the HTTP relay, until SIGTERM."""
    turn = start(TURN, home / "turn")

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(SERVER, APP_PORT)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    http = await asyncio.start_server(relay, MIDDLE_BROWSER_SIDE, APP_PORT)
    try:
        print("ready", flush=True)
        await stopped.wait()
    finally:
        http.close()
        stop(turn.pid)


def _udp_counters(namespace: str) -> dict[str, int]:
    snmp = subprocess.run(["ip", "netns", "exec", namespace, "cat", "/proc/net/snmp"], capture_output=True, text=True,
                          check=True).stdout
    rows = [line.split() for line in snmp.splitlines() if line.startswith("Udp:")]
    return {k: int(v) for k, v in zip(rows[0][1:], rows[1][1:])}


def _start_middle(home: Path, middle_ns: str) -> subprocess.Popen:
    proc = subprocess.Popen(["ip", "netns", "exec", middle_ns, sys.executable, __file__, "middle", str(home)],
                            stdout=subprocess.PIPE, stderr=open(home / "middle.log", "w"), text=True)
    if proc.stdout.readline().strip() != "ready":
        proc.wait(10)
        raise RuntimeError(f"the TURN side did not start: {(home / 'middle.log').read_text()[-2000:]}")
    return proc


async def _volunteer(home: Path, fake: Path, out: Path, server_ns: str, middle_ns: str) -> None:
    from playwright.async_api import async_playwright

    e2e_scenarios.CONSOLE_LOG.append(home / "browser-console.log")
    netlog, connections = home / "chromium-netlog.json", home / "server-connections.jsonl"
    settings = {"IPE_OUTFITS_PER_SESSION": "1", "IPE_MAX_RECORD_SECONDS": "3", "IPE_MIN_RECORD_SECONDS": "1",
                "IPE_RESEARCHER_PASSWORD": "x", "IPE_TURN": "local", "IPE_HOST": SERVER,
                "IPE_TURN_HOST": MIDDLE_BROWSER_SIDE, "IPE_TURN_PORT": str(TURN_PORT),
                "IPE_TEST_WEBRTC_LOG": str(home / "server-webrtc.log")}
    command = ["ip", "netns", "exec", server_ns, sys.executable, "-m", "streamlit", "run", "annotation/home.py",
               "--server.headless", "true", "--server.address", SERVER, "--server.port", str(APP_PORT),
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    middle = _start_middle(home, middle_ns)
    try:
        with audited_server(command, home=home, port=APP_PORT, ready_path="/_stcore/health", log_name="streamlit.log",
                            connections_log=connections, env_extra=settings, address=MIDDLE_BROWSER_SIDE) as url:
            async with async_playwright() as p:
                # the page is plain HTTP on another machine's address: the camera needs it treated as secure,
                # and the no-lookups rule needs that address excluded
                args = [a.replace("EXCLUDE 127.0.0.1", f"EXCLUDE 127.0.0.1, EXCLUDE {MIDDLE_BROWSER_SIDE}")
                        for a in chromium_args(fake, netlog)] + [f"--unsafely-treat-insecure-origin-as-secure={url}"]
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=args)
                result = await e2e_scenarios.volunteer(browser, url, outfits=1, ratings=[70], gender="female")
                await browser.close()
            await asyncio.sleep(1.0)  # let the server notice the closed peer before it stops
    finally:
        middle.terminate()
        middle.wait(30)
    report = {
        "volunteers": [result],
        "server_destinations": sorted({json.loads(line)["host"] for line in non_loopback_connections(connections)}),
        "browser_hosts": sorted(netlog_hosts(netlog)),
        "peer_events": e2e_scenarios.PEER_EVENTS,
        "udp": {ns: _udp_counters(ns) for ns in (server_ns, middle_ns)},  # RcvbufErrors: a socket buffer overflowed
        # for diagnosis (a browser dropping its unused TCP allocation is logged as an error too)
        "turn_log_errors": [line for line in (home / "turn" / "turnserver.log").read_text().splitlines()
                            if "ERROR" in line],
        "finished_at": time.time(),
    }
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    role, home_arg = sys.argv[1], Path(sys.argv[2])
    os.chdir(Path(__file__).resolve().parents[1])
    if role == "middle":
        asyncio.run(_middle(home_arg))
    elif role == "volunteer":
        asyncio.run(_volunteer(home_arg, Path(sys.argv[3]), Path(sys.argv[4]), sys.argv[5], sys.argv[6]))
    else:
        raise SystemExit(f"unknown role {role}")
