"""The CLI beside a running collection app: real processes taking turns on one DuckDB file.

A process uses the store as the Streamlit server does (``tests/store/app_like.py``: two simulated
volunteers committing takes and ratings without pause) while ``python -m app stats``, ``export``
and ``split`` run; every command succeeds, no volunteer's commit fails, the app commits again
afterwards, and what the CLI read is a consistent snapshot.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq

from core.store import Store
from core.store.export import verify_export
from tests.conftest import REPO
from tests.store_helpers import CONSENT, commit_view, store_with_catalog


def cli(home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_stats_export_and_split_run_while_two_volunteers_commit(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        for gender in ("female", "male", "female", "male", "male"):
            vol = store.add_volunteer(age_band="18-24", gender=gender, consent=CONSENT)
            commit_view(store, store.start_session(vol["volunteer_id"]), "o0", 0)
    stop = tmp_path / "stop"
    app = subprocess.Popen([sys.executable, "-m", "tests.store.app_like", str(home.root), str(stop)], cwd=REPO,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert app.stdout.readline().strip() == "ready"  # both volunteers have committed a take

        stats = cli(home, "stats", "--json")
        assert stats.returncode == 0, stats.stderr
        seen = json.loads(stats.stdout)
        assert seen["volunteers"] >= 7 and seen["views"] >= 7

        out = tmp_path / "export"
        exported = cli(home, "export", str(out))
        assert exported.returncode == 0, exported.stderr
        split = cli(home, "split", "--name", "live", "--seed", "3")
        assert split.returncode == 0 and "split 'live'" in split.stdout, split.stderr
        stop.touch()
        report, errors = app.communicate(timeout=300)
    finally:
        stop.touch()
        if app.poll() is None:
            app.kill()
            app.wait()
    assert app.returncode == 0, errors
    result = json.loads(report.strip().splitlines()[-1])
    assert result["failures"] == []  # no volunteer's commit failed while the CLI held the store
    assert result["after_stop"] == 2 and result["commits"] >= 4  # and each committed again after the CLI

    # the export is one snapshot: every exported view's file is in it, with the hash of its row
    verify_export(out)
    views = pq.read_table(out / "tables" / "view.parquet").to_pylist()
    sessions = {s["session_id"] for s in pq.read_table(out / "tables" / "session.parquet").to_pylist()}
    assert len(views) >= 7 and all((out / v["video_path"]).is_file() for v in views)
    assert {v["session_id"] for v in views} <= sessions
    with Store.open(home, read_only=True) as store:
        assert store.count("view") == 5 + result["commits"]
        assert store.count("view") > len(views)  # the app went on committing after the export's snapshot
        from core.collection.splits import load_split
        assert len(load_split(store, "live")) >= 7
        assert store.sweep(temp_grace_s=0)["orphan_files"] == []
    assert not os.path.exists(f"{home.db_path}.wal")
