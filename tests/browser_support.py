"""Real-browser test support: a loopback-only network namespace, a real Streamlit server,
Debian's Chromium driven by Playwright with a fake camera, and a record of every network
connection the server attempts (docs/recording-recipe.md).

Run inside the namespace via :func:`run_in_namespace`; everything else here is called by
the scenario scripts that run there.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
AUDIT_DIR = Path(__file__).resolve().parent / "netaudit"


def run_in_namespace(args: list[str], *, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """Run ``python args...`` in a new network namespace with only loopback up (needs root)."""
    script = "ip link set lo up && exec " + " ".join(_quote(a) for a in [sys.executable, *args])
    return subprocess.run(["unshare", "--net", "--", "bash", "-c", script], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def audited_server(command: list[str], *, home: Path, port: int, ready_path: str, log_name: str,
                   connections_log: Path, env_extra: dict[str, str] | None = None, start_timeout: float = 60,
                   scheme: str = "http", address: str = "127.0.0.1"):
    """A real server process, reached at ``address``:``port``, whose every socket connect is logged;
    yields its URL once ``ready_path`` answers, and stops it (and closes its log) afterwards. With
    ``scheme="https"`` the readiness check accepts the server's (test) certificate."""
    import ssl

    env = {
        **os.environ, "IPE_HOME": str(home), "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONPATH": f"{AUDIT_DIR}{os.pathsep}{REPO}", "IPE_NET_AUDIT_LOG": str(connections_log), **(env_extra or {}),
    }
    log = open(home / log_name, "w")
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"{scheme}://{address}:{port}"
    context = ssl._create_unverified_context() if scheme == "https" else None
    try:
        deadline = time.time() + start_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}{ready_path}", timeout=2, context=context) as response:
                    if response.status == 200:
                        break
            except OSError as err:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"{command[2]} did not start: {(home / log_name).read_text()[-3000:]}") from err
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextmanager
def streamlit_server(home: Path, env_extra: dict[str, str], connections_log: Path):
    """The collection app on a real Streamlit server (loopback ICE for the namespace)."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(REPO / "annotation" / "home.py"),
               "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with audited_server(command, home=home, port=port, ready_path="/_stcore/health", log_name=f"streamlit-{port}.log",
                        connections_log=connections_log,
                        env_extra={"IPE_TEST_LOOPBACK_ICE": "1", "IPE_TEST_WEBRTC_LOG": str(home / "server-webrtc.log"),
                                   **env_extra}) as url:
        yield url


@contextmanager
def capture_server(home: Path, env_extra: dict[str, str], connections_log: Path, tls: tuple[Path, Path] | None):
    """The collection app with its browser-capture routes (``annotation/serve.py``), over HTTPS
    with the certificate ``tls`` (cert, key) or plain HTTP without."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(REPO / "annotation" / "serve.py"),
               "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    if tls:
        command += ["--server.sslCertFile", str(tls[0]), "--server.sslKeyFile", str(tls[1])]
    with audited_server(command, home=home, port=port, ready_path="/_stcore/health", log_name=f"streamlit-{port}.log",
                        connections_log=connections_log, env_extra={"IPE_CAPTURE": "browser", **env_extra},
                        scheme="https" if tls else "http") as url:
        yield url


def chromium_args(fake_video: Path, netlog: Path) -> list[str]:
    return [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-domain-reliability", "--no-pings", "--disable-default-apps", "--dns-prefetch-disable",
        "--disable-client-side-phishing-detection",
        "--disable-features=AutofillServerCommunication,DnsOverHttps,OptimizationHints,Translate,MediaRouter,"
        "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,NetworkTimeServiceQuerying,"
        "WebRtcHideLocalIpsWithMdns",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={fake_video}", "--allow-loopback-in-peer-connection",
        f"--log-net-log={netlog}", "--net-log-capture-mode=Default",
    ]


def non_loopback_connections(log: Path) -> list[str]:
    """Destinations the server tried to reach that are not loopback (from the audit hook)."""
    if not log.is_file():
        return []
    bad = []
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        host = str(entry.get("host", ""))
        if host and not (host.startswith("127.") or host in ("::1", "localhost", "0.0.0.0")):
            bad.append(line)
    return bad


def netlog_hosts(netlog: Path) -> set[str]:
    """Every host Chromium opened a socket or URL request to, from its net log."""
    if not netlog.is_file():
        return set()
    text = netlog.read_text(errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:  # the log of a killed browser lacks its closing brackets
        data = json.loads(text.rstrip().rstrip(",") + "]}")
    hosts = set()
    for event in data.get("events", []):
        params = event.get("params") or {}
        for key in ("url", "host", "address"):
            value = params.get(key)
            if isinstance(value, str) and value:
                hosts.add(value)
    return hosts


async def consent_and_profile(page, url: str, *, gender: str, age_band: str = "25-34",
                              load_timeout: int = 60_000, form_timeout: int = 30_000) -> None:
    """Drive the volunteer page from its first screen to the camera check (Playwright, async)."""
    await page.goto(url)
    await page.get_by_text("Thank you for helping with this study").wait_for(timeout=load_timeout)
    await page.get_by_text("I agree that my face is recorded").click()
    await page.get_by_role("button", name="I agree — continue").click()
    await page.get_by_text("About you").wait_for(timeout=form_timeout)
    selects = page.locator('div[data-testid="stSelectbox"]')
    await selects.nth(0).click()
    await page.get_by_role("option", name=age_band).click()
    await selects.nth(1).click()
    await page.get_by_role("option", name=gender, exact=True).click()
    await page.get_by_role("button", name="Continue").click()


def rating_slider(page, own: str):
    """The rating slider of one outfit, ``own`` = "SESSION-POSITION" (the widgets' keys end so).

    By its key, not by role alone: after a Confirm the previous outfit's slider and Confirm stay on
    the page, faded ("stale") but enabled, until the next outfit's run has replaced them, and a
    Confirm clicked there belongs to the previous position and does nothing."""
    return page.locator(f".st-key-rating-{own}").get_by_role("slider")


async def rate_outfit(page, rating: int, own: str) -> None:
    """Set outfit ``own``'s rating slider (it starts on "not set", one stop before 0) to ``rating``
    with the keyboard, by the shorter way (from 0 up, or from 100 down), and click its Confirm
    once that is enabled (each key press hands the value to Streamlit at once; the press's
    rerun enables Confirm)."""
    slider = rating_slider(page, own)
    await slider.focus()
    if rating <= 50:
        for _ in range(rating + 1):  # "not set" -> 0 -> ... -> rating
            await slider.press("ArrowRight")
    else:
        await slider.press("End")
        for _ in range(100 - rating):
            await slider.press("ArrowLeft")
    await page.locator(f".st-key-confirm-{own} button:not([disabled])").click(timeout=60_000)


CAMERA_IFRAME = 'iframe[title="streamlit_webrtc.component.webrtc_streamer"]'


async def turn_camera_on(page, timeout: int = 60_000) -> None:
    """Click the camera component's start button (the volunteer's own click, annotation/volunteer_page.py)."""
    button = page.frame_locator(CAMERA_IFRAME).get_by_role("button", name="Turn camera on")
    await button.click(timeout=timeout)


async def camera_check(page, timeout: int = 240_000) -> float:
    """Turn the camera on at the camera check and wait until the page sees the face; returns seconds."""
    import time

    start = time.monotonic()
    await turn_camera_on(page, timeout=timeout)
    await page.get_by_text("Your face is visible").wait_for(timeout=timeout)
    return round(time.monotonic() - start, 2)
