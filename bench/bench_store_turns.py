"""What the collection app loses while the CLI takes its turns on the store.

Run: ``nice .venv/bin/python -m bench.bench_store_turns [--seconds 20] [--views 300] [--volunteers 2]``.

A process uses the store as the Streamlit server does (``tests/store/app_like.py``: simulated
volunteers committing 200 KB takes with ratings, 20 ms apart), first alone, then while the CLI
runs ``stats`` and ``export`` one after another. Prints the commit latency (median, 95th
percentile, worst) in both phases, failed commits, and the CLI commands' times alone and beside
the app; ``settings`` (which never opens the store) shows what a command's start costs on a box
the app keeps busy, apart from waiting for the store. Uses a temporary data home that is removed
afterwards.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _cli(home: Path, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "app", "--home", str(home), *args], cwd=REPO,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(args)}` failed beside the app: {done.stderr.strip()}")
    return time.perf_counter() - started


def _cli_loop(home: Path, tmp: Path, seconds: float) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"settings": [], "stats": [], "export": []}
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        times["settings"].append(_cli(home, "settings"))
        times["stats"].append(_cli(home, "stats", "--json"))
        times["export"].append(_cli(home, "export", str(tmp / f"export-{n}")))
        n += 1
    return times


def _phase(home: Path, tmp: Path, seconds: float, volunteers: int, with_cli: bool) -> tuple[dict, dict]:
    stop = tmp / f"stop-{with_cli}"
    app = subprocess.Popen([sys.executable, "-m", "tests.store.app_like", str(home), str(stop),
                            "--volunteers", str(volunteers)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == "ready"
        times = _cli_loop(home, tmp, seconds) if with_cli else {}
        if not with_cli:
            time.sleep(seconds)
        stop.touch()
        out, _ = app.communicate(timeout=600)
    finally:
        stop.touch()
        if app.poll() is None:
            app.kill()
    return json.loads(out.strip().splitlines()[-1]), times


def _describe(latencies: list[float]) -> str:
    ms = sorted(1000 * x for x in latencies)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"median {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, worst {ms[-1]:.0f} ms ({len(ms)} commits)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--views", type=int, default=300, help="views in the store before the phases")
    parser.add_argument("--volunteers", type=int, default=2)
    args = parser.parse_args()

    from core.collection.catalog import import_catalog
    from core.paths import DataHome
    from core.store import Store
    from tests.store_helpers import CONSENT, commit_view, write_catalog

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        home = DataHome.resolve(tmp / "home").ensure()
        with Store.open(home) as store:
            import_catalog(store, write_catalog(tmp / "cat", n_tops=4, n_bottoms=4))
            for v in range(max(1, args.views // 10)):
                sid = store.start_session(store.add_volunteer(age_band="25-34", gender="female",
                                                              consent=CONSENT)["volunteer_id"])
                for pos in range(10):
                    commit_view(store, sid, f"o{(v + pos) % 16}", pos, payload=b"%d-%d" % (v, pos) * 1000)
        cli_alone = {"settings": _cli(home.root, "settings"), "stats": _cli(home.root, "stats", "--json"),
                     "export": _cli(home.root, "export", str(tmp / "e0"))}
        alone, _ = _phase(home.root, tmp, args.seconds, args.volunteers, with_cli=False)
        beside, times = _phase(home.root, tmp, args.seconds, args.volunteers, with_cli=True)
        print(f"commit latency, app alone: {_describe(alone['latencies'])}; failed {len(alone['failures'])}")
        print(f"commit latency, CLI beside: {_describe(beside['latencies'])}; failed {len(beside['failures'])}")
        for name, alone_s in cli_alone.items():
            print(f"{name}: {alone_s:.2f} s with the app stopped, beside it median "
                  f"{statistics.median(times[name]):.2f} s, worst {max(times[name]):.2f} s ({len(times[name])} runs)")
        for failure in (alone["failures"] + beside["failures"])[:5]:
            print(f"failure: {failure}")


if __name__ == "__main__":
    main()
