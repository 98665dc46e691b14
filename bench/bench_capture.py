"""Capture fidelity and server cost of the live WebRTC path with 1, 2 and 4 volunteers recording at once.

    nice python -m bench.bench_capture [--volunteers 1 2 4] [--seconds 4] [--pin] [--json out.json] [--keep DIR]

This is the live WebRTC path; ``bench/bench_capture_browser.py`` measures the browser-recorded path
(``IPE_CAPTURE=browser``) by the server's CPU alone.

Needs root (a loopback-only network namespace via ``unshare --net``) and Debian's Chromium,
like ``tests/annotation/test_e2e_recording.py``. For each volunteer count it starts a real Streamlit
server on a fresh data home and that many headless Chromium contexts whose fake camera plays
a generated face video stamped with each frame's index. Every volunteer goes through
consent -> profile -> camera check -> two outfits: the first take runs to the media-time cap,
the second is ended with "Done looking" after about half of it; both are rated.

Figures per take, read back from the stored videos and the DuckDB rows:
- frames kept / sent: distinct source frames in the file / source frames the browser played
  during the take (from the stamps: first to last index seen); the goal is >= 0.99 with 2;
- damaged pictures: stored frames whose stamp cannot be read (packets lost before a key frame);
- the browser's fps and resolution as the server received them (``source_fps``, size);
  these three are what the recording end-to-end tests measure but do not assert (a loaded
  machine's browsers send fewer frames);
- START -> first frame: the take's recorder is created when the outfit page renders; time
  until its first frame arrived (server clock, from ``video_meta``);
- STOP -> file closed: cap reached or "done" clicked -> container closed (server clock);
- STOP -> committed: "Done looking" click -> the rating slider appears (the file is final),
  and "Confirm" click -> the next page (the row is committed), both on the browser's clock.

Server cost, per volunteer count: the Streamlit server process's own CPU time (``/proc/<pid>/stat``,
all its threads) over the whole run - the volunteers' pages, the camera check's face detection, the
WebRTC receive and VP8 decode, the takes' H.264 encode, the commits - divided by the recorded media
seconds; the same CPU time sampled every 0.25 s over the moments when every volunteer was recording
at once (the steady cost of a take: receive, decode, encode and the page's 1 s status updates),
in cores busy and per volunteer; and the UDP datagrams the kernel dropped because the server did not read its sockets in
time (``RcvbufErrors`` of the namespace, which holds only the browsers and the server).

``--pin`` keeps the browsers' CPU out of the server's: the server runs on core 0 only and the
browsers (and this driver) on the other cores. On a 2-core box that measures what ONE core of
server holds while one core of browsers sends what it can; the browsers' frame rate then shows
what their core managed, and frames they did not send are not the server's loss. What the server
kept of what reached it: every frame its socket received is decoded and handed to the take (its
queues do not drop; the writer places frames by their media time), so its losses are exactly the
dropped datagrams, and falling behind shows as a growing STOP -> file closed.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CLIP = dict(expression="smile", duration_s=4.0, seed=0, stamp=True)  # Chromium loops the file


# ------------------------------------------------------------------ inside the namespace
async def _volunteer(browser, url: str, index: int, seconds: float, home: Path, takes: int) -> dict:
    context = await browser.new_context()
    try:
        return await _drive(context, url, index, seconds, takes)
    except Exception:  # keep what the page showed for the report, then fail the run
        for n, p in enumerate(context.pages):
            await p.screenshot(path=str(home / f"failed-volunteer{index}-page{n}.png"), full_page=True)
            (home / f"failed-volunteer{index}-page{n}.txt").write_text(await p.inner_text("body"))
        raise


async def _drive(context, url: str, index: int, seconds: float, takes: int) -> dict:
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    from tests.browser_support import camera_check, consent_and_profile, rating_slider

    page = await context.new_page()
    page.set_default_timeout(120_000)  # a loaded 2-core machine can take long to rerun a page
    out: dict = {"index": index, "takes": []}
    await consent_and_profile(page, url, gender="male", load_timeout=120_000, form_timeout=60_000)
    out["camera_check_s"] = await camera_check(page)
    await page.get_by_role("button", name="Start the session").click()
    for k in range(takes):
        await page.get_by_text(f"{k + 1} / {takes}").wait_for(timeout=120_000)
        out["session_id"] = page.url.split("s=")[-1].split("&")[0]
        take: dict = {"position": k}
        t_page = time.monotonic()
        await page.get_by_text(f"s of {seconds:g} s").wait_for(timeout=120_000)
        take["browser_page_to_recording_text_s"] = round(time.monotonic() - t_page, 2)
        take["recording_from"] = time.monotonic()  # the page shows frames arriving (driver's clock)
        if k == takes - 1:  # end this one early, as a volunteer clicking "done"
            await asyncio.sleep(seconds / 2)
            t_stop = time.monotonic()
            done = page.get_by_role("button", name="Done looking")
            try:  # under load the take may have reached its cap (and the button gone) already
                await done.click(timeout=10_000)
            except PlaywrightTimeout:
                t_stop = None
        else:
            t_stop = None
        own = f"{out['session_id']}-{k}"  # this outfit's keyed controls, not the previous one's stale ones
        await rating_slider(page, own).wait_for(timeout=120_000)
        take["recording_to"] = time.monotonic()  # the file is final
        if t_stop is not None:
            take["browser_done_to_slider_s"] = round(time.monotonic() - t_stop, 2)
        slider = rating_slider(page, own)
        await slider.focus()
        await slider.press("ArrowRight")  # "not set" -> 0; the press's rerun enables Confirm
        confirm = page.locator(f".st-key-confirm-{own} button:not([disabled])")
        await confirm.wait_for(timeout=120_000)
        t_confirm = time.monotonic()
        await confirm.click()
        next_text = f"{k + 2} / {takes}" if k + 1 < takes else "Thank you!"
        await page.get_by_text(next_text).wait_for(timeout=120_000)
        take["browser_confirm_to_next_page_s"] = round(time.monotonic() - t_confirm, 2)
        out["takes"].append(take)
    await context.close()
    return out


def server_pid(port: int) -> int:
    """The pid of the Streamlit server listening on ``port`` (found by its command line)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(argv) and str(port).encode() in argv:
            return int(proc.name)
    raise RuntimeError(f"no streamlit process on port {port}")


def pin(pid: int, cores: set[int]) -> None:
    """Pin every thread of ``pid`` (threads it starts later inherit it) to ``cores``."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), cores)


def allowed_cores(pid: int) -> set[str]:
    """The CPU lists the threads of ``pid`` may run on (read back to show the pinning held)."""
    lists = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("Cpus_allowed_list:"):
                lists.add(line.split()[1])
    return lists


async def _inner(n: int, home: Path, fake: Path, out: Path, seconds: float, takes: int, pinned: bool) -> None:
    from playwright.async_api import async_playwright

    from bench.bench_capture_browser import cpu_seconds
    from tests.browser_support import CHROMIUM, chromium_args, streamlit_server
    from tests.e2e_scenarios import udp_counters

    env = {"IPE_OUTFITS_PER_SESSION": str(takes), "IPE_MAX_RECORD_SECONDS": f"{seconds:g}",
           "IPE_MIN_RECORD_SECONDS": "1", "IPE_RESEARCHER_PASSWORD": "bench"}
    cores = set(os.sched_getaffinity(0))
    if pinned:  # the server (started now) inherits core 0; the browsers, started below, the others
        pin(os.getpid(), {min(cores)})
    with streamlit_server(home, env, home / "server-connections.jsonl") as url:
        server = server_pid(int(url.rsplit(":", 1)[1].split("/")[0]))
        if pinned:
            pin(server, {min(cores)})
            pin(os.getpid(), cores - {min(cores)})
        cpu0, udp0 = cpu_seconds(server), udp_counters()
        samples: list[tuple[float, float]] = []
        sampler = asyncio.create_task(_sample_cpu(server, samples))
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(fake, home / "netlog.json"))
            t0 = time.monotonic()
            volunteers = await asyncio.gather(*(_volunteer(browser, url, i, seconds, home, takes) for i in range(n)))
            wall = time.monotonic() - t0
            await browser.close()
        sampler.cancel()
        server_cpu = cpu_seconds(server) - cpu0
        udp1 = udp_counters()
        server_cores = sorted(allowed_cores(server))
    out.write_text(json.dumps({"volunteers": volunteers, "wall_s": round(wall, 1), "server_cpu_s": round(server_cpu, 2),
                               "server_cores": server_cores, "driver_cores": sorted(os.sched_getaffinity(0)),
                               "udp": {k: udp1[k] - udp0.get(k, 0) for k in udp1},
                               "all_recording": _cpu_while_all_record(samples, volunteers, n)}))


async def _sample_cpu(pid: int, samples: list, every_s: float = 0.25) -> None:
    from bench.bench_capture_browser import cpu_seconds

    while True:
        samples.append((time.monotonic(), cpu_seconds(pid)))
        await asyncio.sleep(every_s)


def _cpu_while_all_record(samples: list, volunteers: list, n: int) -> dict:
    """The server's CPU over the moments when all ``n`` volunteers were recording at once (each
    take from the page showing its first frames to its rating slider): the steady cost of n takes."""
    spans = [[(t["recording_from"], t["recording_to"]) for t in v["takes"] if "recording_to" in t] for v in volunteers]
    seconds = cpu = 0.0
    for (t0, c0), (t1, c1) in zip(samples, samples[1:]):
        if all(any(a <= t0 and t1 <= b for a, b in mine) for mine in spans):
            seconds += t1 - t0
            cpu += c1 - c0
    return {"seconds": round(seconds, 1), "cpu_s": round(cpu, 2),
            "cores_busy": round(cpu / seconds, 3) if seconds else None,
            "per_volunteer": round(cpu / seconds / n, 3) if seconds else None}


# ------------------------------------------------------------------ outside: setup + analysis
def _analyse(view: dict, home: Path, source) -> dict:
    import numpy as np

    from core.reaction.video import read_video
    from data.video_files import read_frame_index

    meta = view.get("video_meta") or {}
    row = {"status": view["status"], "frames": view.get("frames"), "source_fps": meta.get("source_fps"),
           "source_size": f"{meta.get('source_width')}x{meta.get('source_height')}",
           "start_to_first_frame_s": meta.get("start_to_first_frame_s"), "stop_to_closed_s": meta.get("stop_to_closed_s"),
           "duplicated": meta.get("frames_duplicated"), "dropped": meta.get("frames_dropped")}
    if not view.get("video_path"):
        return row
    frames = read_video(home / view["video_path"]).frames
    stamps = np.array([read_frame_index(f) for f in frames])
    good = stamps[stamps >= 0]
    steps = np.diff(good) % len(source)
    sent = int(steps.sum()) + 1 if len(good) else 0
    kept = int((steps > 0).sum()) + 1 if len(good) else 0
    row.update(sent=sent, kept=kept, kept_ratio=round(kept / sent, 4) if sent else 0.0,
               unreadable_stamps=int((stamps < 0).sum()))
    sample = [i for i in range(0, len(frames), 10) if stamps[i] >= 0]
    if sample:
        mad = [np.abs(frames[i].astype(np.int16) - source[stamps[i]].astype(np.int16)).mean() for i in sample]
        row["mean_abs_diff"] = round(float(np.mean(mad)), 2)
    return row


def _run_count(n: int, work: Path, fake: Path, seconds: float, source, takes: int, pinned: bool = False) -> dict:
    from core.store import Store
    from tests.browser_support import run_in_namespace

    home = work / f"home-{n}"
    subprocess.run([sys.executable, "-m", "app", "--home", str(home), "init"], cwd=REPO, check=True, capture_output=True)
    out = home / "bench.json"
    result = run_in_namespace([str(Path(__file__).resolve()), "--inner", str(n), str(home), str(fake), str(out),
                               "--seconds", f"{seconds:g}", "--takes", str(takes), *(["--pin"] if pinned else [])],
                              env={**os.environ, "IPE_HOME": str(home)}, timeout=900)
    if result.returncode != 0:
        tail = [line for line in result.stderr.splitlines() if line.strip()][-4:]
        return {"volunteers": n, "failed": "\n".join(tail), "home": str(home)}
    report = json.loads(out.read_text())
    rows = []
    with Store.open(home, read_only=True) as store:
        for volunteer in report["volunteers"]:
            views = store.views_for_session(volunteer["session_id"])
            for view, browser_side in zip(views, volunteer["takes"]):
                rows.append({"volunteer": volunteer["index"], **_analyse(view, home, source), **browser_side})
    return {"volunteers": n, "wall_s": report["wall_s"], "takes": rows, "server_cpu_s": report["server_cpu_s"],
            "server_cores": report["server_cores"], "driver_cores": report["driver_cores"], "udp": report["udp"],
            "all_recording": report["all_recording"]}


def _summary(run: dict) -> dict:
    takes = [t for t in run["takes"] if "sent" in t]

    def med(key: str) -> float | None:
        values = [t[key] for t in run["takes"] if t.get(key) is not None]
        return round(statistics.median(values), 2) if values else None

    sent = sum(t["sent"] for t in takes)
    kept = sum(t["kept"] for t in takes)
    recorded_s = sum((t["frames"] or 0) for t in run["takes"]) / 30.0
    per_volunteer = run["server_cpu_s"] / recorded_s if recorded_s else None
    return {
        "volunteers": run["volunteers"], "takes": len(run["takes"]),
        "ok": sum(t["status"] == "ok" for t in run["takes"]),
        "kept/sent": f"{kept}/{sent} = {kept / sent:.4f}" if sent else "-",
        "worst take kept": min((t["kept_ratio"] for t in takes), default=None),
        "damaged pictures (unreadable stamps)": f"{sum(t['unreadable_stamps'] for t in takes)}/"
        f"{sum(t['frames'] or 0 for t in takes)}",
        "fps (median, min)": f"{med('source_fps')}, {min((t['source_fps'] for t in takes), default=0)}",
        "resolutions": sorted({t["source_size"] for t in run["takes"]}),
        "START->first frame s (median)": med("start_to_first_frame_s"),
        "STOP->file closed s (median, max)": f"{med('stop_to_closed_s')}, "
        f"{max((t['stop_to_closed_s'] or 0 for t in run['takes']), default=0)}",
        "done click->slider s (median)": med("browser_done_to_slider_s"),
        "confirm->committed+next page s (median)": med("browser_confirm_to_next_page_s"),
        "mean abs diff /255 (median)": med("mean_abs_diff"),
        "wall s": run["wall_s"],
        "server CPU s (whole run), recorded s": f"{run['server_cpu_s']}, {recorded_s:.1f}",
        "server CPU-s per recorded s per volunteer": round(per_volunteer, 3) if per_volunteer else None,
        "while all record: s, server cores busy, per volunteer": ", ".join(
            str(run["all_recording"][k]) for k in ("seconds", "cores_busy", "per_volunteer")),
        "server cores / driver+browser cores": f"{run['server_cores']} / {run['driver_cores']}",
        "UDP datagrams in, dropped at a full socket": f"{run['udp'].get('InDatagrams')}, {run['udp'].get('RcvbufErrors')}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volunteers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=4.0, help="media-time cap of a take")
    parser.add_argument("--takes", type=int, default=2, help="takes per volunteer (the last ended with 'done' halfway)")
    parser.add_argument("--json", type=Path, help="write every take's figures here")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (server logs, videos)")
    parser.add_argument("--pin", action="store_true",
                        help="server on core 0 only, browsers on the other cores (the browsers' CPU kept out of the server's)")
    parser.add_argument("--inner", nargs=4, metavar=("N", "HOME", "FAKE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        n, home, fake, out = args.inner
        asyncio.run(_inner(int(n), Path(home), Path(fake), Path(out), args.seconds, args.takes, args.pin))
        return 0
    if os.geteuid() != 0 or not shutil.which("unshare") or not Path("/usr/bin/chromium").exists():
        print("needs root, util-linux's unshare and Debian's chromium (scripts/setup.sh)", file=sys.stderr)
        return 2
    from data.reaction_video import ReactionSpec, make_reaction_video, render_reaction

    spec = ReactionSpec(**CLIP)
    source = render_reaction(spec)
    runs = []
    with tempfile.TemporaryDirectory(prefix="ipe-bench-capture-") as tmp:
        work = Path(tmp)
        if args.keep:
            work = args.keep
            work.mkdir(parents=True, exist_ok=True)
        fake = make_reaction_video(work / "fake.y4m", spec)
        for n in args.volunteers:
            t0, load = time.perf_counter(), os.getloadavg()
            run = _run_count(n, work, fake, args.seconds, source, args.takes, args.pin)
            runs.append(run)
            print(f"--- {n} volunteer(s) ({time.perf_counter() - t0:.0f} s incl. start-up; "
                  f"load average before: {load[0]:.1f})")
            if "failed" in run:
                print(f"  FAILED (screenshots in {run['home']} with --keep):\n{run['failed']}")
                continue
            for key, value in _summary(run).items():
                print(f"  {key:<42} {value}")
            sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))
    print(f"load average at the end (1, 5, 15 min): {os.getloadavg()}")
    where = ("server pinned to core 0, browsers and driver to the others" if args.pin
             else "browser(s) and server sharing all cores")
    print(f"machine: {os.cpu_count()} CPU cores; {where}; "
          f"takes of {args.seconds:g} s media time ({args.takes} per volunteer, the last ended with 'done').")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
