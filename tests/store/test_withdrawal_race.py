"""Withdrawal against a recording being committed at the same moment: nothing of the volunteer remains."""
from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from core.errors import StoreError, VolunteerWithdrawnError
from core.store import Store, utcnow
from core.store.connection import TABLES
from core.store.export import export_dataset
from tests.conftest import REPO
from tests.store_helpers import CONSENT, commit_view, fake_recording, store_with_catalog

TRIALS = 50


def _cells_mentioning(store: Store, needles: set[str]) -> list[tuple[str, str]]:
    """Every (table, value) in the whole database that contains one of ``needles``."""
    found = []
    with store.snapshot() as cur:
        for table in TABLES:
            for row in cur.execute(f"SELECT * FROM {table}").fetchall():
                for value in row:
                    if isinstance(value, str) and any(n in value for n in needles):
                        found.append((table, value))
    return found


def _files_holding(root: Path, markers: list[bytes]) -> list[Path]:
    """Every file under ``root`` whose bytes contain one of ``markers``."""
    return [p for p in root.rglob("*") if p.is_file() and any(m in p.read_bytes() for m in markers)]


def test_delete_during_commit_leaves_no_row_and_no_file_of_the_volunteer(home, tmp_path) -> None:
    rng = random.Random(15)
    outcomes: Counter = Counter()
    gone_ids: set[str] = set()
    markers: list[bytes] = []
    with store_with_catalog(home, tmp_path) as store:
        stays = store.add_volunteer(age_band="35-44", gender="male", consent=CONSENT)
        commit_view(store, store.start_session(stays["volunteer_id"]), "o0", 0, payload=b"someone who stays")
        for trial in range(TRIALS):
            vol = store.add_volunteer(age_band="18-24", gender="female", consent=CONSENT)
            sid = store.start_session(vol["volunteer_id"], plan=["o0", "o1"])
            earlier = commit_view(store, sid, "o0", 0, payload=f"trial {trial} earlier take".encode())
            marker = f"trial {trial} late take".encode()
            temp = fake_recording(store, marker * 2000)
            gone_ids |= {vol["volunteer_id"], sid, earlier["view_id"]}
            markers += [marker, f"trial {trial} earlier take".encode()]
            # jitter: each side starts 0-8 ms after the barrier, as two independent clients would
            delays = {"commit": rng.uniform(0, 0.008), "delete": rng.uniform(0, 0.008)}
            barrier = threading.Barrier(2)
            results: dict[str, object] = {}

            def commit() -> None:
                barrier.wait()
                time.sleep(delays["commit"])
                shown = utcnow()
                try:
                    view = store.commit_recording(session_id=sid, outfit_id="o1", position=1, temp_video=temp,
                                                  rating=60, status="ok", shown_at=shown,
                                                  rated_at=shown + timedelta(seconds=2))
                    results["commit"] = "committed"
                    gone_ids.add(view["view_id"])
                except VolunteerWithdrawnError:
                    results["commit"] = "refused"
                except BaseException as err:  # anything else fails the test in the main thread
                    results["commit"] = err

            def delete() -> None:
                barrier.wait()
                time.sleep(delays["delete"])
                try:
                    results["delete"] = store.delete_volunteer(vol["withdrawal_code"])
                except BaseException as err:  # re-raised in the main thread
                    results["delete"] = err

            threads = [threading.Thread(target=commit), threading.Thread(target=delete)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            assert results["commit"] in ("committed", "refused"), results["commit"]
            assert isinstance(results["delete"], dict) and results["delete"]["verified"], results["delete"]
            outcomes[results["commit"]] += 1
            # walk of rows and of files, right after the deletion said "verified"
            assert _cells_mentioning(store, gone_ids) == [], f"trial {trial}: rows of the volunteer remain"
            assert not (home.videos / vol["volunteer_id"]).exists(), f"trial {trial}"
            assert not temp.exists(), f"trial {trial}: the late take's temporary file remains"
            assert _files_holding(home.root, [marker, markers[-1]]) == [], f"trial {trial}: their video remains"
            with pytest.raises(StoreError, match="no volunteer"):
                store.delete_volunteer(vol["volunteer_id"])
        assert store.find_volunteer(stays["volunteer_id"]) is not None and store.count("view") == 1
        out = export_dataset(store, tmp_path / "export", progress=False)
    print(f"delete during commit, {TRIALS} trials: {dict(outcomes)}")
    import pyarrow.parquet as pq

    for table in (out / "tables").glob("*.parquet"):
        for row in pq.read_table(table).to_pylist():
            assert not any(isinstance(v, str) and any(n in v for n in gone_ids) for v in row.values()), table.name
    assert _files_holding(out, markers) == []


def test_a_commit_for_a_deleted_volunteer_is_refused_and_its_take_deleted(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        vol = store.add_volunteer(age_band="18-24", gender="female", consent=CONSENT)
        sid = store.start_session(vol["volunteer_id"])
        store.delete_volunteer(vol["volunteer_id"])
        temp = fake_recording(store, b"a late take")
        with pytest.raises(VolunteerWithdrawnError, match="withdrawn.*discarded"):
            store.commit_recording(session_id=sid, outfit_id="o0", position=0, temp_video=temp, rating=50,
                                   status="ok", shown_at=utcnow())
        assert not temp.exists() and store.count("view") == 0
        with pytest.raises(VolunteerWithdrawnError, match="no session was started"):
            store.start_session(vol["volunteer_id"])
        assert store.count("session") == 0
        # an id this process never knew is still just unknown, and its file is left to the sweep
        other = fake_recording(store, b"unknown session")
        with pytest.raises(StoreError, match="unknown session") as info:
            store.commit_recording(session_id="s-nope", outfit_id="o0", position=0, temp_video=other, rating=50,
                                   status="ok", shown_at=utcnow())
        assert not isinstance(info.value, VolunteerWithdrawnError) and other.exists()


def test_a_late_take_on_another_server_is_discarded_as_a_withdrawal(home, tmp_path) -> None:
    """The volunteer withdraws through another process (another collection server, or the CLI):
    this process never saw it, yet their late take is refused as a withdrawal and its file deleted
    at once, and what the store keeps of the withdrawal names no id of theirs."""
    with store_with_catalog(home, tmp_path) as store:
        vol = store.add_volunteer(age_band="18-24", gender="female", consent=CONSENT)
        sid = store.start_session(vol["volunteer_id"], plan=["o0", "o1"])
        commit_view(store, sid, "o0", 0, payload=b"an earlier take")
    gone = subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), "delete-volunteer", "--yes",
                           vol["volunteer_id"]],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert gone.returncode == 0, gone.stderr
    with Store.open(home) as store:
        assert sid not in store._withdrawn  # this process learns it from the store only
        temp = fake_recording(store, b"a late take on the other server")
        with pytest.raises(VolunteerWithdrawnError, match="withdrawn.*discarded"):
            store.commit_recording(session_id=sid, outfit_id="o1", position=1, temp_video=temp, rating=50,
                                   status="ok", shown_at=utcnow())
        assert not temp.exists() and store.count("view") == 0
        assert _cells_mentioning(store, {vol["volunteer_id"], sid}) == []
        with store.snapshot() as cur:
            kept = [r[0] for r in cur.execute("SELECT session_hash FROM withdrawn_session").fetchall()]
        assert len(kept) == 1 and sid not in kept[0]
