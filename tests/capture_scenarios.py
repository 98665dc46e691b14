"""Browser-recorded takes (``IPE_CAPTURE=browser``) end to end, run INSIDE a loopback-only network namespace.

    python tests/capture_scenarios.py SCENARIO HOME FAKE_Y4M OUT_JSON

The app is served over HTTPS with the kit's self-signed certificate and opened as
``https://study.test:PORT`` (Chromium maps the name to 127.0.0.1 and trusts that certificate's
key by its SPKI hash), so the page is a secure context only because of HTTPS. Scenarios:
``https`` (one volunteer records and rates two outfits; then the same app over plain HTTP is
refused the camera), ``pair`` (two volunteers at once), ``close`` (the browser is closed in the
middle of the second take), ``drop`` (the network is down for 3 s in the middle of the first take),
``refresh`` (the first take's upload is blocked until the page is refreshed after its rating: the
refreshed page resumes that upload from the browser's storage and continues at the second outfit),
``full`` (one volunteer records and rates a whole 15-outfit session over HTTPS; run by hand).
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.tls import self_signed  # noqa: E402
from tests.browser_support import (CHROMIUM, capture_server, chromium_args, consent_and_profile,  # noqa: E402
                                   netlog_hosts, non_loopback_connections, rate_outfit, rating_slider)

HOST = "study.test"
COMPONENT = 'iframe[title*="browser_recorder"]'
OUTFITS = 2
DEBUG = Path("/tmp")  # replaced by the scenario's home in main()
# how the camera picture is shown: its box, its opacity, and whether it still holds the live camera
# stream (the recorder records that stream; Chromium pauses a muted video scrolled out of view,
# hidden or not, so "paused" is reported, not a sign of lost frames)
VIDEO_VIEW = """v => { const r = v.getBoundingClientRect(), track = v.srcObject && v.srcObject.getVideoTracks()[0];
  return {width: r.width, height: r.height, opacity: Number(getComputedStyle(v).opacity), paused: v.paused,
          live: !!track && track.readyState === "live"}; }"""


async def volunteer(browser, url: str, **kwargs) -> dict:
    """One volunteer's visit (see :func:`visit`); a screenshot of the page is kept if it fails."""
    context = await browser.new_context()
    try:
        return await visit(context, url, **kwargs)
    except Exception:
        for k, page in enumerate(context.pages):
            await page.screenshot(path=str(DEBUG / f"failed-{kwargs['gender']}-{k}.png"))
        raise


async def visit(context, url: str, *, ratings: list[int], gender: str, close_during: int | None = None,
                drop_during: int | None = None, refresh_after: int | None = None) -> dict:
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = await context.new_page()
    page.set_default_timeout(90_000)
    result: dict = {"ratings": [], "requests": requests, "timeline": {}}
    await consent_and_profile(page, url, gender=gender)
    t = time.monotonic()
    page.on("console", lambda m: result.setdefault("console", []).append(m.text[:300]))
    await page.get_by_text("Your face is visible").wait_for(timeout=120_000)
    result["timeline"]["camera_check_s"] = round(time.monotonic() - t, 2)
    camera = page.frame_locator(COMPONENT)
    result["video_at_check"] = await camera.locator("video").evaluate(VIDEO_VIEW)
    await page.get_by_role("button", name="Start the session").click()
    for k in range(OUTFITS):
        await page.get_by_text(f"{k + 1} / {OUTFITS}").wait_for(timeout=60_000)
        result["session_id"] = page.url.split("s=")[-1].split("&")[0]
        await camera.get_by_text("Recording…").wait_for(timeout=60_000)
        await asyncio.sleep(1.0)  # into the take (a loaded machine updates the counter only a few times a second)
        result.setdefault("video_during_takes", []).append(await camera.locator("video").evaluate(VIDEO_VIEW))
        if refresh_after == k:  # this take's upload cannot reach the server until the page is refreshed
            await context.route("**/capture/take/**", lambda route: route.abort())
        if close_during == k:
            await context.close()
            result["closed_at_position"] = k
            return result
        if drop_during == k:
            await context.set_offline(True)
            await asyncio.sleep(3.0)
            await context.set_offline(False)
            result["dropped_at_position"] = k
        elif k == 1:  # the first take runs to the 3 s cut, the second ends with "Done looking" after ~2 s
            await asyncio.sleep(1.0)  # the file starts up to ~1 s after the counter: it keeps > 1 s (not short)
            await page.get_by_role("button", name="Done looking").click()
        t = time.monotonic()
        own = f"{result['session_id']}-{k}"
        await rating_slider(page, own).wait_for(timeout=60_000)
        result["timeline"][f"take{k}_to_slider_s"] = round(time.monotonic() - t, 2)
        await rate_outfit(page, ratings[k], own)
        result["ratings"].append(ratings[k])
        if refresh_after == k:
            await page.get_by_text(f"{k + 2} / {OUTFITS}").wait_for(timeout=60_000)  # rated: the page moved on
            await context.unroute("**/capture/take/**")
            await page.reload()
            result["refreshed_after_position"] = k
    await page.get_by_text("Thank you!").wait_for(timeout=60_000)
    if refresh_after is None:  # the code is shown only in the browser session that made it
        result["withdrawal_code"] = (await page.locator("code").first.inner_text()).strip()
    await context.close()
    return result


async def refused_over_http(browser, url: str) -> dict:
    """The same app over plain HTTP under a host name: no camera, and the volunteer is told why."""
    context = await browser.new_context()
    page = await context.new_page()
    page.set_default_timeout(90_000)
    await consent_and_profile(page, url, gender="female")
    await page.get_by_text("connection is not secure").wait_for(timeout=60_000)
    secure = await page.evaluate("window.isSecureContext")
    text = await page.get_by_text("connection is not secure").inner_text()
    await context.close()
    return {"secure_context": secure, "message": text}


def study_chromium_args(fake: Path, netlog: Path, tls) -> list[str]:
    """Chromium's flags for the study at ``https://HOST``: HOST resolves to loopback and nothing else
    resolves, and the kit's self-signed certificate ``tls`` is trusted by its key."""
    args = [a for a in chromium_args(fake, netlog) if not a.startswith("--host-resolver-rules")]
    return args + [f"--host-resolver-rules=MAP {HOST} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                   f"--ignore-certificate-errors-spki-list={tls.spki_sha256()}"]


def wait_until_committed(home: Path, timeout: float = 90.0) -> float:
    """Seconds until the server's worker has committed every take (no upload slot left)."""
    start = time.monotonic()
    uploads = home / "uploads"
    while any(uploads.iterdir()) if uploads.is_dir() else False:
        if time.monotonic() - start > timeout:
            raise SystemExit(f"takes not committed after {timeout} s: {sorted(p.name for p in uploads.iterdir())}")
        time.sleep(0.2)
    return round(time.monotonic() - start, 2)


async def main(scenario: str, home: Path, fake: Path, out: Path) -> None:
    from playwright.async_api import async_playwright

    global DEBUG, OUTFITS
    DEBUG = home
    OUTFITS = 15 if scenario == "full" else 2
    netlog = home / "chromium-netlog.json"
    connections = home / "server-connections.jsonl"
    tls = self_signed(home / "tls", names=(HOST,))
    args = study_chromium_args(fake, netlog, tls)
    env = {"IPE_OUTFITS_PER_SESSION": str(OUTFITS), "IPE_MAX_RECORD_SECONDS": "10" if scenario == "full" else "3",
           "IPE_MIN_RECORD_SECONDS": "1",
           "IPE_RESEARCHER_PASSWORD": "x",
           # the volunteer sees their own picture during takes in this one (IPE_SELF_VIEW, off by default)
           "IPE_SELF_VIEW": "1" if scenario == "refresh" else "0"}
    report: dict = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=args)
        with capture_server(home, env, connections, (tls.cert, tls.key)) as url:
            url = url.replace("127.0.0.1", HOST)
            if scenario == "full":  # a whole default-length session (not in the test suite: minutes)
                runs = [volunteer(browser, url, ratings=[(37 * k) % 101 for k in range(OUTFITS)], gender="female")]
            elif scenario in ("https", "close", "drop", "refresh"):
                runs = [volunteer(browser, url, ratings=[80, 20], gender="female",
                                  close_during=1 if scenario == "close" else None,
                                  drop_during=0 if scenario == "drop" else None,
                                  refresh_after=0 if scenario == "refresh" else None)]
            elif scenario == "pair":
                runs = [volunteer(browser, url, ratings=[70, 30], gender="female"),
                        volunteer(browser, url, ratings=[60, 40], gender="male")]
            else:
                raise SystemExit(f"unknown scenario {scenario}")
            report["volunteers"] = await asyncio.gather(*runs)
            if scenario != "close":
                report["commit_wait_s"] = wait_until_committed(home)
        if scenario == "https":
            with capture_server(home, env, connections, None) as url:
                report["plain_http"] = await refused_over_http(browser, url.replace("127.0.0.1", HOST))
        await browser.close()
    report["server_non_loopback"] = non_loopback_connections(connections)
    report["browser_hosts"] = sorted(netlog_hosts(netlog))
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])))
