"""Concurrent takes with ratings from several collection servers on one store, for both backends.

Run: ``nice .venv/bin/python -m bench.bench_store_servers [--servers 2] [--volunteers 16] [--seconds 20]
[--video-kb 20] [--backend duckdb|postgresql]``.

Each server is a process using the store as the Streamlit server does (``tests/store/app_like.py``),
each simulated volunteer a thread committing takes (a fake recording and a rating) back to back.
On DuckDB the servers take turns on the file (``core/store/lease.py``); on PostgreSQL (a throw-away
server, fsync on, ``tests/pg_server.py``) they share a connection pool each. Prints takes per
second over all servers, the commit latency (median, 95th percentile, worst) and failed commits.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--volunteers", type=int, default=16, help="threads per server")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--video-kb", type=int, default=20)
    parser.add_argument("--backend", choices=("duckdb", "postgresql"), default="duckdb")
    args = parser.parse_args()

    from core.collection.catalog import import_catalog
    from core.paths import DataHome
    from core.store import Store
    from tests.pg_server import PgServer
    from tests.store_helpers import write_catalog

    server = PgServer(durable=True) if args.backend == "postgresql" else None
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            home = DataHome.resolve(tmp / "home").ensure()
            env = {k: v for k, v in os.environ.items() if k != "IPE_STORE_URL"}
            if server is not None:
                env["IPE_STORE_URL"] = server.new_database()
            with Store.open(home, url=env.get("IPE_STORE_URL", "")) as store:
                import_catalog(store, write_catalog(tmp / "cat", n_tops=4, n_bottoms=4))
            stop = tmp / "stop"
            procs = [subprocess.Popen([sys.executable, "-m", "tests.store.app_like", str(home.root), str(stop),
                                       "--volunteers", str(args.volunteers), "--pause-s", "0",
                                       "--video-kb", str(args.video_kb)],
                                      cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
                     for _ in range(args.servers)]
            try:
                for proc in procs:
                    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
                started = time.perf_counter()
                time.sleep(args.seconds)
                stop.touch()
                results = [json.loads(proc.communicate(timeout=600)[0].strip().splitlines()[-1]) for proc in procs]
                elapsed = time.perf_counter() - started
            finally:
                stop.touch()
                for proc in procs:
                    if proc.poll() is None:
                        proc.kill()
    finally:
        if server is not None:
            server.stop()
    latencies = sorted(1000 * x for r in results for x in r["latencies"])
    failures = [f for r in results for f in r["failures"]]
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    print(f"[{args.backend}] {args.servers} servers x {args.volunteers} volunteers, {args.video_kb} KB takes: "
          f"{len(latencies) / elapsed:.0f} takes/s; commit median {statistics.median(latencies):.0f} ms, "
          f"p95 {p95:.0f} ms, worst {latencies[-1]:.0f} ms ({len(latencies)} commits); failed {len(failures)}")
    for failure in failures[:5]:
        print(f"failure: {failure}")


if __name__ == "__main__":
    main()
