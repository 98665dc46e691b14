"""A process that uses the store as the collection app does, for tests and the benchmark.

``python -m tests.store.app_like HOME STOP_FILE [--volunteers 2] [--pause-s 0.02] [--video-kb 200]``
opens the store as ``annotation/resources.get_store`` does (settings' timing), then runs one
thread per simulated volunteer: each consents, starts a session and commits takes (a fake
recording and a rating) one after another, reading the outfit coverage before each as the
session plan does. It prints ``ready`` after every volunteer's first commit; once STOP_FILE
exists it commits one more take per volunteer and prints one JSON line: commits, failures (with
their messages) and every commit's latency in seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from core.settings import load_settings
from core.store import Store, utcnow

CONSENT = {"version": "test-1", "recording": True, "training": True, "publication": False}


def volunteer(store: Store, stop: Path, pause_s: float, payload: bytes, first: threading.Barrier,
              out: dict) -> None:
    outfits = sorted(store.outfit_coverage())
    vol = store.add_volunteer(age_band="25-34", gender="female", consent=CONSENT)
    session = store.start_session(vol["volunteer_id"], plan=outfits)
    position, stopping = 0, False
    while True:
        stopping = stop.exists()
        store.outfit_coverage(include_planned=True)
        temp = store.new_video_tempfile()
        temp.write_bytes(payload + os.urandom(16))
        shown = utcnow()
        started = time.perf_counter()
        try:
            store.commit_recording(session_id=session, outfit_id=outfits[position % len(outfits)], position=position,
                                   temp_video=temp, rating=position % 101, status="ok", shown_at=shown,
                                   rated_at=shown + timedelta(seconds=2), video_meta={"frames": 30, "fps": 30.0})
            out["latencies"].append(time.perf_counter() - started)
            out["commits"] += 1
        except Exception as err:  # every failure is reported, none hidden: the caller asserts there are none
            out["failures"].append(f"{type(err).__name__}: {err}")
        if position == 0:
            first.wait()
        position += 1
        if stopping:
            out["after_stop"] += 1
            return
        time.sleep(pause_s)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("home")
    parser.add_argument("stop", type=Path)
    parser.add_argument("--volunteers", type=int, default=2)
    parser.add_argument("--pause-s", type=float, default=0.02)
    parser.add_argument("--video-kb", type=int, default=200)
    args = parser.parse_args()
    store = Store.open(args.home, timing=load_settings().store_timing())
    out: dict = {"commits": 0, "failures": [], "latencies": [], "after_stop": 0}
    first = threading.Barrier(args.volunteers + 1, timeout=300)
    payload = os.urandom(args.video_kb * 1024)
    threads = [threading.Thread(target=volunteer, args=(store, args.stop, args.pause_s, payload, first, out))
               for _ in range(args.volunteers)]
    for thread in threads:
        thread.start()
    first.wait()
    print("ready", flush=True)
    for thread in threads:
        thread.join()
    store.close()
    print(json.dumps(out), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
