"""Browser scenarios for the collection app, run INSIDE a loopback-only network namespace.

    python tests/e2e_scenarios.py SCENARIO HOME FAKE_Y4M OUT_JSON

Scenarios: ``single`` (one volunteer records and rates every outfit), ``pair`` (two
volunteers at the same time), ``close`` (the browser is closed in the middle of the second
recording), ``refresh`` (the page is reloaded in the middle of the second recording: it resumes at
the same outfit, the volunteer turns the camera on again), ``pause`` and ``silent`` (the camera
check with a fault in the server, see FAULTS). Starts a real Streamlit server and Debian's Chromium (Playwright), writes what
happened (session ids, ratings, WebRTC stats, network destinations) to OUT_JSON.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.browser_support import (CHROMIUM, camera_check, chromium_args, consent_and_profile, netlog_hosts,  # noqa: E402
                                   non_loopback_connections, rate_outfit, rating_slider,
                                   streamlit_server, turn_camera_on)

# Keeps every RTCPeerConnection (for getStats) and logs its signalling, ICE and DTLS states and
# the ICE ufrag of each description it is given to the console, timestamped: the failing case's
# diagnostics (the page's console goes to the scenario's report and to HOME/browser-console.log).
KEEP_PEER_CONNECTIONS = """
window.__pcs = [];
const Orig = window.RTCPeerConnection;
const ufrag = (d) => ((d && d.sdp || '').match(/a=ice-ufrag:(\\S+)/) || [])[1];
window.RTCPeerConnection = function(...args) {
  const pc = new Orig(...args); window.__pcs.push(pc);
  const id = window.__pcs.length;
  const log = (what) => console.log(`[pc${id}] ${Date.now()} ${what}`);
  log('created');
  for (const ev of ['signalingstatechange', 'iceconnectionstatechange', 'connectionstatechange', 'icegatheringstatechange'])
    pc.addEventListener(ev, () => log(`${ev} sig=${pc.signalingState} ice=${pc.iceConnectionState} conn=${pc.connectionState} gather=${pc.iceGatheringState}`));
  pc.addEventListener('icecandidate', (e) => log(`icecandidate ${e.candidate ? e.candidate.candidate : 'end'}`));
  const sld = pc.setLocalDescription.bind(pc), srd = pc.setRemoteDescription.bind(pc);
  pc.setLocalDescription = (d) => { log(`setLocalDescription ${d && d.type} ufrag=${ufrag(d)}`); return sld(d); };
  pc.setRemoteDescription = (d) => { log(`setRemoteDescription ${d && d.type} ufrag=${ufrag(d)}`);
    return srd(d).catch((e) => { log(`setRemoteDescription failed: ${e}`); throw e; }); };
  const timer = setInterval(async () => {  // the ICE pair's STUN counters, each second
    if (pc.connectionState === 'closed') { clearInterval(timer); return; }
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'candidate-pair' && r.nominated)
        log(`pair ${r.state} req>${r.requestsSent} res<${r.responsesReceived} req<${r.requestsReceived} `
            + `res>${r.responsesSent} bytes>${r.bytesSent} bytes<${r.bytesReceived} last<${r.lastPacketReceivedTimestamp}`);
      if (r.type === 'outbound-rtp' && r.kind === 'video')
        log(`video sent=${r.framesSent} ${r.frameWidth}x${r.frameHeight} fps=${r.framesPerSecond} pli=${r.pliCount} key=${r.keyFramesEncoded}`);
    });
  }, 1000);
  return pc;
};
window.RTCPeerConnection.prototype = Orig.prototype;
"""
STATS = """
async () => {
  const out = [];
  for (const pc of (window.__pcs || [])) {
    const stats = await pc.getStats();
    stats.forEach(s => {
      if (s.type === 'outbound-rtp' && s.kind === 'video')
        out.push({frames: s.framesSent, width: s.frameWidth, height: s.frameHeight, fps: s.framesPerSecond,
                  pli: s.pliCount, keyframes: s.keyFramesEncoded});
      if (s.type === 'local-candidate' || s.type === 'remote-candidate')
        out.push({candidate: s.candidateType, address: s.address || s.ip || ''});
      if (s.type === 'transport' && s.selectedCandidatePairId) {  // the pair the media takes
        const pair = stats.get(s.selectedCandidatePairId);
        const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId);
        out.push({selected_pair: {local: local.candidateType, local_address: local.address || '',
                  relay_protocol: local.relayProtocol || '', remote: remote.candidateType,
                  remote_address: remote.address || '', bytes_sent: pair.bytesSent}});
      }
    });
  }
  return out;
}
"""


async def _stats(page) -> list:
    """outbound-rtp video stats of every peer connection in every frame (the component is an iframe)."""
    out = []
    for frame in page.frames:
        try:
            out += await frame.evaluate(STATS)
        except Exception:  # a frame without the hook (about:blank) or already detached
            continue
    return out


CONSOLE_LOG: list[Path] = []  # where every page's console messages go (the component's iframe included)


PEER_EVENTS: list[str] = []  # the [pcN] lines: which peer connections existed, and their states


def _console(line: str) -> None:
    with CONSOLE_LOG[0].open("a") as handle:  # line by line: a killed run keeps its log
        handle.write(line + "\n")
    if "[pc" in line and " pair " not in line and " video " not in line:
        PEER_EVENTS.append(line)


async def volunteer(browser, url: str, *, outfits: int, ratings: list[int], gender: str,
                    close_during: int | None = None, refresh_during: int | None = None,
                    camera_check_only: bool = False, take_s: int = 3) -> dict:
    context = await browser.new_context()
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = await context.new_page()
    page.on("console", lambda message: _console(f"{time.time():.3f} {gender} {message.type}: {message.text}"))
    page.set_default_timeout(90_000)  # a loaded 2-core box re-renders slowly
    await page.add_init_script(KEEP_PEER_CONNECTIONS)
    timeline: dict[str, float] = {}
    result: dict = {"ratings": [], "webrtc": [], "requests": requests, "timeline": timeline}
    await consent_and_profile(page, url, gender=gender)
    # the watchdog's notice, if it ever shows (annotation/camera_watchdog.py)
    notice = asyncio.create_task(page.get_by_text("so the page is reconnecting it").wait_for(timeout=240_000))
    try:
        timeline["camera_check_s"] = await camera_check(page)
    except Exception:  # what the volunteer saw, for the failing case's diagnostics
        _console(f"{time.time():.3f} {gender} PAGE TEXT AT FAILURE: " + (await page.inner_text("body")).replace("\n", " | "))
        raise
    result["saw_reconnecting_notice"] = notice.done() and notice.exception() is None
    notice.cancel()
    await page.get_by_role("button", name="Start the session").click()
    if camera_check_only:  # the session exists (restarts at the camera check are stored with it): done
        await page.get_by_text(f"1 / {outfits}").wait_for(timeout=60_000)
        result["session_id"] = page.url.split("s=")[-1].split("&")[0]
        result["webrtc"].append(await _stats(page))
        await context.close()
        return result
    for k in range(outfits):
        await page.get_by_text(f"{k + 1} / {outfits}").wait_for(timeout=60_000)
        result["session_id"] = page.url.split("s=")[-1].split("&")[0]
        own = f"{result['session_id']}-{k}"
        slider = rating_slider(page, own)  # this outfit's, not the previous one's (browser_support.py)
        if k:  # whether the previous outfit's Confirm was still on the page when this one's progress showed
            timeline[f"take{k}_previous_confirm_seen"] = await page.locator(f".st-key-confirm-{result['session_id']}-{k - 1}").count()
        if close_during == k:
            await page.get_by_text(f"s of {take_s} s").wait_for(timeout=240_000)  # mid-take
            await asyncio.sleep(1.0)
            result["webrtc"].append(await _stats(page))
            await context.close()
            result["closed_at_position"] = k
            return result
        if refresh_during == k:  # mid-take: the page is reloaded, its camera connection with it
            await page.get_by_text(f"s of {take_s} s").wait_for(timeout=240_000)
            await asyncio.sleep(1.0)
            await page.reload()
            await page.get_by_text(f"{k + 1} / {outfits}").wait_for(timeout=60_000)  # the same outfit again
            result["refreshed_at_position"] = k
            result["resumed_session_id"] = page.url.split("s=")[-1].split("&")[0]
            # a reloaded page has no camera until the volunteer's own click, and says so
            await page.get_by_text("Your camera is off").wait_for(timeout=60_000)
            await turn_camera_on(page)
        t = time.monotonic()
        # the first frames arrived; on a slow page a whole take can end between two 1 s updates of
        # its status, and this outfit's rating slider is then the first sign of its frames
        await page.get_by_text(f"s of {take_s} s").or_(slider).first.wait_for(timeout=240_000)
        timeline[f"take{k}_to_first_frames_s"] = round(time.monotonic() - t, 2)
        result["webrtc"].append(await _stats(page))
        await slider.wait_for(timeout=60_000)
        timeline[f"take{k}_to_slider_s"] = round(time.monotonic() - t, 2)
        await rate_outfit(page, ratings[k], own)
        result["ratings"].append(ratings[k])
    await page.get_by_text("Thank you!").wait_for(timeout=60_000)
    if refresh_during is None:  # the code is shown only in the browser session that made it, not after a reload
        result["withdrawal_code"] = (await page.locator("code").first.inner_text()).strip()
    await context.close()
    return result


def udp_counters() -> dict[str, int]:
    """This network namespace's UDP counters (receive-buffer drops show up as RcvbufErrors)."""
    rows = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")]
    return {k: int(v) for k, v in zip(rows[0][1:], rows[1][1:])}


# camera-check scenarios with a fault in the server (tests/netaudit/sitecustomize.py):
# pause: the whole server stops for 8 s right after the connection is made, long enough for the
#   browser to report ICE "disconnected"; the watchdog is kept out of it (60 s), so only the
#   connection itself can survive it
# silent: the first connection delivers no frame; the watchdog (default 8 s) must reconnect
FAULTS = {"pause": {"IPE_TEST_SERVER_PAUSE_S": "8", "IPE_CAMERA_STALL_S": "60"},
          "silent": {"IPE_TEST_SILENT_FIRST_CONNECTION": "1"}}


async def main(scenario: str, home: Path, fake: Path, out: Path) -> None:
    from playwright.async_api import async_playwright

    CONSOLE_LOG.append(home / "browser-console.log")
    netlog = home / "chromium-netlog.json"
    connections = home / "server-connections.jsonl"
    outfits = 2
    take_s = 10 if scenario in ("close", "refresh") else 3  # a take long enough to be seen recording
    settings = {"IPE_OUTFITS_PER_SESSION": str(outfits), "IPE_MAX_RECORD_SECONDS": str(take_s), "IPE_MIN_RECORD_SECONDS": "1",
                "IPE_RESEARCHER_PASSWORD": "x", **FAULTS.get(scenario, {})}
    with streamlit_server(home, settings, connections) as url:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(fake, netlog))
            if scenario == "single":
                runs = [volunteer(browser, url, outfits=outfits, ratings=[80, 20], gender="female")]
            elif scenario == "pair":
                runs = [volunteer(browser, url, outfits=outfits, ratings=[70, 30], gender="female"),
                        volunteer(browser, url, outfits=outfits, ratings=[60, 40], gender="male")]
            elif scenario in FAULTS:
                runs = [volunteer(browser, url, outfits=outfits, ratings=[], gender="female", camera_check_only=True)]
            elif scenario == "close":
                runs = [volunteer(browser, url, outfits=outfits, ratings=[90, 10], gender="male", close_during=1,
                                  take_s=take_s)]
            elif scenario == "refresh":
                runs = [volunteer(browser, url, outfits=outfits, ratings=[35, 65], gender="female", refresh_during=1,
                                  take_s=take_s)]
            else:
                raise SystemExit(f"unknown scenario {scenario}")
            results = await asyncio.gather(*runs)
            await browser.close()
        await asyncio.sleep(1.0)  # let the server notice closed peers before it stops
    report = {
        "volunteers": results,
        "server_non_loopback": non_loopback_connections(connections),
        "browser_hosts": sorted(netlog_hosts(netlog)),
        "udp": udp_counters(),
        "peer_events": PEER_EVENTS,
    }
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])))
