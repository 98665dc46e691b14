"""Server cost of browser-recorded takes (``IPE_CAPTURE=browser``): CPU-seconds per recorded second,
and how many volunteers one server keeps up with.

    nice python -m bench.bench_capture_browser [--volunteers 4 8 16] [--takes 3] [--seconds 10] [--preset veryfast] [--json out.json]

No browser runs: a lightweight asyncio client (one process, ``httpx``) replays a pre-encoded WebM
(VP8, 640x480, 30 fps, ~2.5 Mbit/s, made once from the generated face video) for each simulated
volunteer, in 1 s chunks at real-time pace, exactly as the camera component uploads (PUT each chunk,
then POST the SHA-256), rates the take 3 s after it ends, and waits for the commit. The server is a
separate process serving the kit's real upload routes (``annotation/browser_recorder/routes.py``)
with the real capture service (upload slots, the normalising worker, ``Store.commit_recording``) on
a fresh data home; two bench-only routes stand in for the Streamlit page's two calls per take (open
the take's slot; store the rating). So the figure is the capture path's cost - chunk intake,
normalisation to the 640x480 CFR MP4, commit - measured from the server process's own CPU time
(``/proc/<pid>/stat``), with the client's CPU excluded; Streamlit's page reruns are NOT in it.

Figures per volunteer count: server CPU-seconds per recorded second (all volunteers together, and
per volunteer), takes committed intact (status ok, every frame of the take) within 30 s of the
take's end, and the worst end -> committed delay.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CHUNK_S = 1.0
RATE_AFTER_S = 3.0
INTACT_WITHIN_S = 30.0
KEEPALIVE_CLIENT_S, KEEPALIVE_SERVER_S = 15.0, 60  # the client lets an idle connection go first


def make_take(path: Path, seconds: float) -> Path:
    from data.reaction_video import ReactionSpec, render_reaction
    from data.video_files import write_webm

    frames = render_reaction(ReactionSpec("smile", duration_s=seconds, seed=0, stamp=True))
    return write_webm(frames, path, bitrate=2_500_000)


# ----------------------------------------------------------------------------- the server process
def serve(home: Path, port: int, max_seconds: float, preset: str) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from annotation.browser_recorder.routes import capture_routes
    from annotation.browser_recorder.service import capture_service
    from core.collection.config import CollectionConfig
    from core.collection.session_plan import start_planned_session
    from core.paths import DataHome
    from core.store import Store, utcnow

    store = Store.open(DataHome.resolve(home))
    service = capture_service(store, CollectionConfig(max_record_seconds=max_seconds, video_preset=preset))

    async def open_take(request: Request) -> JSONResponse:  # what the page does when it shows an outfit
        body = await request.json()
        session_id = body.get("session_id")
        if not session_id:
            volunteer = store.add_volunteer(age_band="25-34", gender="female", extra={},
                                            consent={"version": "bench", "recording": True})
            session_id, _ = start_planned_session(store, volunteer["volunteer_id"], n=50, seed=volunteer["volunteer_id"])
        plan = store.get_session(session_id)["plan"]
        token = service.uploads.open(session_id=session_id, position=body["position"], outfit_id=plan[body["position"]],
                                     shown_at=utcnow().isoformat())
        return JSONResponse({"session_id": session_id, "token": token})

    async def rate(request: Request) -> JSONResponse:  # what the page does on "Confirm"
        body = await request.json()
        service.uploads.rate(body["token"], 60, utcnow().isoformat())
        service.worker.poke()
        return JSONResponse({})

    async def view(request: Request) -> JSONResponse:
        rows = store.views_for_session(request.query_params["session_id"])
        position = int(request.query_params["position"])
        row = next((r for r in rows if r["position"] == position), None)
        return JSONResponse(None if row is None else {"status": row["status"], "frames": row["frames"]})

    app = Starlette(routes=capture_routes() + [Route("/bench/open", open_take, methods=["POST"]),
                                               Route("/bench/rate", rate, methods=["POST"]),
                                               Route("/bench/view", view)])
    # keep idle connections longer than the client does (below): a client reusing a connection the
    # server is closing at that moment gets httpx.ReadError (uvicorn's default is 5 s, httpx's 5 s too)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=KEEPALIVE_SERVER_S)


# ----------------------------------------------------------------------------- the client
async def volunteer(client, base: str, data: bytes, takes: int, seconds: float, results: list) -> None:
    size = max(1, int(len(data) * CHUNK_S / seconds))
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    session_id = None
    for position in range(takes):
        opened = (await client.post(f"{base}/bench/open", json={"session_id": session_id, "position": position})).json()
        session_id, token = opened["session_id"], opened["token"]
        start = time.monotonic()
        for i, chunk in enumerate(chunks):  # real-time pace: chunk i leaves at (i + 1) s, like MediaRecorder's
            await asyncio.sleep(max(0.0, start + (i + 1) * CHUNK_S - time.monotonic()))
            answer = await client.put(f"{base}/capture/take/{token}/{i}", content=chunk)
            answer.raise_for_status()
        answer = await client.post(f"{base}/capture/take/{token}/finish",
                                   json={"sha256": hashlib.sha256(data).hexdigest(), "chunks": len(chunks), "client": {}})
        answer.raise_for_status()
        ended = time.monotonic()
        await asyncio.sleep(RATE_AFTER_S)
        await client.post(f"{base}/bench/rate", json={"token": token})
        row = None
        while time.monotonic() - ended < INTACT_WITHIN_S + 30:
            row = (await client.get(f"{base}/bench/view", params={"session_id": session_id, "position": position})).json()
            if row:
                break
            await asyncio.sleep(0.25)
        results.append({"committed_s": round(time.monotonic() - ended, 2) if row else None,
                        "status": row and row["status"], "frames": row and row["frames"]})


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def run_count(n: int, take: Path, takes: int, seconds: float, work: Path, preset: str) -> dict:
    import httpx

    home = work / f"home-{n}"
    subprocess.run([sys.executable, "-m", "app", "--home", str(home), "init"], cwd=REPO, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.bench_capture_browser", "--serve", str(home), str(port),
                               str(seconds), preset], cwd=REPO, env={**os.environ, "IPE_HOME": str(home)})
    base = f"http://127.0.0.1:{port}"
    try:
        limits = httpx.Limits(max_connections=None, keepalive_expiry=KEEPALIVE_CLIENT_S)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            for _ in range(300):
                try:
                    await client.get(f"{base}/capture/take/x")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.2)
            cpu0 = cpu_seconds(server.pid)
            results: list = []
            await asyncio.gather(*[volunteer(client, base, take.read_bytes(), takes, seconds, results) for _ in range(n)])
            cpu = cpu_seconds(server.pid) - cpu0
    finally:
        server.terminate()
        server.wait(30)
    recorded = n * takes * seconds
    frames = int(round(seconds * 30))
    intact = [r for r in results if r["status"] == "ok" and r["frames"] == frames
              and r["committed_s"] is not None and r["committed_s"] <= INTACT_WITHIN_S]
    delays = [r["committed_s"] for r in results if r["committed_s"] is not None]
    return {"volunteers": n, "takes": len(results), "intact_within_30s": len(intact),
            "server_cpu_s": round(cpu, 2), "cpu_s_per_recorded_s": round(cpu / recorded, 4),
            "worst_end_to_commit_s": max(delays) if delays else None, "takes_detail": results}


def main(argv: list[str] | None = None) -> int:
    from core.collection.config import CollectionConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volunteers", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--takes", type=int, default=3, help="takes per volunteer")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each take")
    parser.add_argument("--preset", default=CollectionConfig.video_preset,
                        help="libx264 preset of the normalised files (IPE_VIDEO_PRESET; bench/bench_normalise.py)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--serve", nargs=4, metavar=("HOME", "PORT", "SECONDS", "PRESET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), float(args.serve[2]), args.serve[3])
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-capture-browser-") as tmp:
        work = Path(tmp)
        take = make_take(work / "take.webm", args.seconds)
        print(f"replayed take: {take.stat().st_size / 1e6:.2f} MB, {args.seconds:g} s VP8 640x480; "
              f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; libx264 preset {args.preset}")
        rows = [asyncio.run(run_count(n, take, args.takes, args.seconds, work, args.preset)) for n in args.volunteers]
    for row in rows:
        print(f"{row['volunteers']:>3} volunteers: {row['intact_within_30s']}/{row['takes']} takes committed intact "
              f"within {INTACT_WITHIN_S:g} s; server {row['server_cpu_s']} CPU-s = {row['cpu_s_per_recorded_s']} "
              f"CPU-s per recorded second per volunteer ({row['cpu_s_per_recorded_s'] * row['volunteers']:.2f} "
              f"cores busy while all {row['volunteers']} record); worst take end -> committed {row['worst_end_to_commit_s']} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
