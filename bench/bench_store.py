"""Store throughput on a real DuckDB file: recordings committed, labels written, sweep and export time.

Run: ``nice .venv/bin/python -m bench.bench_store [--views 200] [--video-kb 1000] [--labels 1600]
[--backend duckdb|postgresql]``. Prints one line per figure. Uses a temporary data home that is
removed afterwards; ``--backend postgresql`` starts a throw-away PostgreSQL server (fsync on) on a
Unix socket (``tests/pg_server.py``, Debian's postgresql package) and stops it afterwards.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--views", type=int, default=200)
    parser.add_argument("--video-kb", type=int, default=1000, help="size of each fake recording")
    parser.add_argument("--labels", type=int, default=1600, help="image labels written by 8 threads")
    parser.add_argument("--backend", choices=("duckdb", "postgresql"), default="duckdb")
    args = parser.parse_args()
    server = None
    if args.backend == "postgresql":
        from tests.pg_server import PgServer

        server = PgServer(durable=True)  # fsync on, as a real server
    try:
        run(args, server.new_database() if server else None)
    finally:
        if server is not None:
            server.stop()


def run(args: argparse.Namespace, url: str | None) -> None:
    from core.collection.catalog import import_catalog
    from core.store.export import export_dataset
    from core.paths import DataHome
    from core.store import Store, utcnow
    from tests.store_helpers import CONSENT, write_catalog

    with tempfile.TemporaryDirectory() as tmp:
        home = DataHome.resolve(Path(tmp) / "home").ensure()
        t0 = time.perf_counter()
        store = Store.open(home, url=url)
        print(f"[{args.backend}] open + migrate empty store: {1000 * (time.perf_counter() - t0):.0f} ms")
        import_catalog(store, write_catalog(Path(tmp) / "cat", n_tops=4, n_bottoms=4))
        vol = store.add_volunteer(age_band="25-34", gender="female", consent=CONSENT)
        sid = store.start_session(vol["volunteer_id"])
        payload = os.urandom(args.video_kb * 1024)
        elapsed = 0.0
        for pos in range(args.views):
            temp = store.new_video_tempfile()
            temp.write_bytes(payload[:-8] + pos.to_bytes(8, "little"))
            shown = utcnow()
            t = time.perf_counter()
            store.commit_recording(session_id=sid, outfit_id=f"o{pos % 16}", position=pos, temp_video=temp,
                                   rating=pos % 101, status="ok", shown_at=shown, rated_at=shown + timedelta(seconds=2),
                                   video_meta={"frames": 300, "fps": 30.0})
            elapsed += time.perf_counter() - t
        print(f"commit_recording ({args.video_kb} KB, fsync + sha256 + rename + insert): "
              f"{1000 * elapsed / args.views:.1f} ms each, {args.views / elapsed:.0f}/s")

        lab = store.add_labeler("bench")
        per_thread = args.labels // 8

        def worker(t: int) -> None:
            for i in range(per_thread):
                store.add_image_label(labeler_id=lab, image_path=f"{t}/{i}", image_sha256="x", answer="skip",
                                      response_ms=i, label_id=f"{t}-{i}")

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        dt = time.perf_counter() - t
        print(f"add_image_label from 8 threads: {8 * per_thread} in {dt:.2f} s, {8 * per_thread / dt:.0f}/s")

        from core.collection.session_plan import start_planned_session

        planners = [store.add_volunteer(age_band="25-34", gender="male", consent=CONSENT)["volunteer_id"]
                    for _ in range(50)]
        t = time.perf_counter()
        for planner in planners:  # each reserves 15 of the 16 outfits; the coverage counts every live reservation
            start_planned_session(store, planner, n=15, seed=planner)
        print(f"start_planned_session (plan 15 of 16 outfits + start + reserve, under the write lock), "
              f"50 open sessions: {1000 * (time.perf_counter() - t) / len(planners):.1f} ms each")

        t = time.perf_counter()
        sweep = store.sweep()
        print(f"sweep over {args.views} recordings: {1000 * (time.perf_counter() - t):.0f} ms "
              f"({sum(len(v) for v in sweep.values())} findings)")
        t = time.perf_counter()
        export_dataset(store, Path(tmp) / "export", progress=False)
        dt = time.perf_counter() - t
        mb = args.views * args.video_kb / 1024
        print(f"export ({args.views} views, {mb:.0f} MB of video): {dt:.2f} s, {mb / dt:.0f} MB/s")
        t = time.perf_counter()
        store.delete_volunteer(vol["volunteer_id"])
        print(f"delete_volunteer with {args.views} recordings: {1000 * (time.perf_counter() - t):.0f} ms")
        store.close()


if __name__ == "__main__":
    main()
