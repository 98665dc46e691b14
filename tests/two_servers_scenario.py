"""Two collection servers on one PostgreSQL store and one data home, run INSIDE a loopback-only
network namespace (``tests/browser_support.py``).

    python tests/two_servers_scenario.py move HOME FAKE_Y4M OUT_JSON

``IPE_STORE_URL`` names the study's database. Two Streamlit servers (the real collection app,
takes recorded in the browser, HTTPS under the host name ``study.test``) share the home; two
volunteers, one starting on each server, click "Start the session" at the same moment (so both
servers plan at once), record and rate their first outfit, and once that take is stored open the
same session URL (``?s=...&k=...``) on the OTHER server, which resumes it at the second outfit;
they finish there. The servers are two origins here (two ports): a take still uploading when the
volunteer moves could only be resumed from the browser's storage of the same origin, so each
volunteer moves once the take is stored (behind a reverse proxy both servers are one origin).
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.tls import self_signed  # noqa: E402
from tests.browser_support import (CHROMIUM, capture_server, consent_and_profile,  # noqa: E402
                                   netlog_hosts, non_loopback_connections, rate_outfit,
                                   rating_slider)
from tests.capture_scenarios import COMPONENT, HOST, study_chromium_args, wait_until_committed  # noqa: E402

OUTFITS = 2


def stored_positions(store, session_id: str) -> list[int]:
    return [v["position"] for v in store.views_for_session(session_id)]


async def until_stored(store, session_id: str, position: int, timeout: float = 120.0) -> float:
    start = time.monotonic()
    while position not in await asyncio.to_thread(stored_positions, store, session_id):
        if time.monotonic() - start > timeout:
            raise SystemExit(f"take {position} of {session_id} not stored after {timeout} s")
        await asyncio.sleep(0.3)
    return round(time.monotonic() - start, 2)


async def volunteer(browser, store, start_url: str, other_url: str, start_together: asyncio.Barrier, *,
                    ratings: list[int], gender: str, debug: Path) -> dict:
    context = await browser.new_context()
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = await context.new_page()
    page.set_default_timeout(90_000)
    result: dict = {"ratings": [], "requests": requests, "servers": [start_url], "timeline": {}}
    try:
        await consent_and_profile(page, start_url, gender=gender)
        await page.get_by_text("Your face is visible").wait_for(timeout=120_000)
        await start_together.wait()  # both servers plan a session at the same moment
        await page.get_by_role("button", name="Start the session").click()
        camera = page.frame_locator(COMPONENT)
        for k in range(OUTFITS):
            await page.get_by_text(f"{k + 1} / {OUTFITS}").wait_for(timeout=60_000)
            result["session_id"] = page.url.split("s=")[-1].split("&")[0]
            await camera.get_by_text("Recording…").wait_for(timeout=60_000)
            own = f"{result['session_id']}-{k}"  # this outfit's own slider and Confirm, not a stale one
            await rating_slider(page, own).wait_for(timeout=60_000)  # each take runs to the 3 s cut
            await rate_outfit(page, ratings[k], own)
            result["ratings"].append(ratings[k])
            if k == 0:  # rated: the page moves on; once the take is stored, continue on the other server
                await page.get_by_text(f"2 / {OUTFITS}").wait_for(timeout=60_000)
                result["timeline"]["take0_stored_s"] = await until_stored(store, result["session_id"], 0)
                query = page.url.split("?", 1)[1]
                await page.goto(f"{other_url}/?{query}")
                result["servers"].append(other_url)
        await page.get_by_text("Thank you!").wait_for(timeout=120_000)
        result["final_url"] = page.url
    except Exception:
        await page.screenshot(path=str(debug / f"failed-{gender}.png"))
        raise
    finally:
        await context.close()
    return result


async def main(home: Path, fake: Path, out: Path) -> None:
    from playwright.async_api import async_playwright

    from core.store import Store

    netlog = home / "chromium-netlog.json"
    connections = home / "server-connections.jsonl"
    tls = self_signed(home / "tls", names=(HOST,))
    args = study_chromium_args(fake, netlog, tls)
    env = {"IPE_OUTFITS_PER_SESSION": str(OUTFITS), "IPE_MAX_RECORD_SECONDS": "3", "IPE_MIN_RECORD_SECONDS": "1",
           "IPE_RESEARCHER_PASSWORD": "x"}
    report: dict = {}
    with Store.open(home, read_only=True) as store:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=args)
            with capture_server(home, env, connections, (tls.cert, tls.key)) as first, \
                    capture_server(home, env, connections, (tls.cert, tls.key)) as second:
                first, second = first.replace("127.0.0.1", HOST), second.replace("127.0.0.1", HOST)
                together = asyncio.Barrier(2)
                report["volunteers"] = await asyncio.gather(
                    volunteer(browser, store, first, second, together, ratings=[70, 30], gender="female", debug=home),
                    volunteer(browser, store, second, first, together, ratings=[60, 40], gender="male", debug=home))
                report["commit_wait_s"] = wait_until_committed(home)
            await browser.close()
    report["server_non_loopback"] = non_loopback_connections(connections)
    report["browser_hosts"] = sorted(netlog_hosts(netlog))
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    if sys.argv[1] != "move":
        raise SystemExit(f"unknown scenario {sys.argv[1]} (there is one: move)")
    asyncio.run(main(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])))
