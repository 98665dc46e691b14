"""The DuckDB store on real files: migrations, round trips, concurrency, crashes, locking."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta

import pytest

from core.errors import StoreError, StoreLockedError
from core.store.migrations import LATEST
from core.store import Store, StoreTiming, utcnow
from tests.conftest import REPO
from tests.store_helpers import CONSENT, commit_view, fake_recording, store_held_elsewhere, store_with_catalog


def test_migrations_from_empty_and_reopen(home) -> None:
    with Store.open(home) as store:
        assert store.schema_version == LATEST
        assert store.count("volunteer") == 0
    with Store.open(home) as store:  # reopening applies nothing twice
        assert store.schema_version == LATEST
    with Store.open(home, read_only=True) as store:
        assert store.count("item") == 0
        with pytest.raises(StoreError, match="read-only"):
            store.add_labeler("x")


def test_read_only_open_of_missing_store_says_to_init(home) -> None:
    with pytest.raises(StoreError, match="app init"):
        Store.open(home, read_only=True)


def test_opening_again_in_another_mode_in_the_same_process_says_what_to_do(home) -> None:
    with Store.open(home):
        with pytest.raises(StoreError, match="already open in this process read-write"):
            Store.open(home, read_only=True)


def test_catalog_items_and_outfits_round_trip(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        items = store.list_items()
        assert {i["kind"] for i in items} == {"top", "bottom"} and len(items) == 6
        assert all(os.path.isfile(i["path"]) for i in items)
        assert store.list_items("top")[0]["attributes"]["color"]
        outfits = store.list_outfits()
        assert len(outfits) == 9 and os.path.isfile(outfits[0]["top_path"])


def test_volunteers_sessions_and_views_round_trip(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        vol = store.add_volunteer(age_band="25-34", gender="female", extra={"country": "IT"}, consent=CONSENT)
        assert vol["volunteer_id"].startswith("v-") and len(vol["withdrawal_code"]) == 14
        assert vol["consent_version"] == "test-1" and vol["consent_training"] is True
        assert store.find_volunteer(vol["withdrawal_code"].lower())["volunteer_id"] == vol["volunteer_id"]
        assert store.get_volunteer(vol["volunteer_id"])["extra"] == {"country": "IT"}

        sid = store.start_session(vol["volunteer_id"], device_info={"ua": "test"}, plan=["o0", "o1"])
        assert store.get_session(sid)["plan"] == ["o0", "o1"]
        view = commit_view(store, sid, "o0", 0, rating=85)
        assert view["status"] == "ok" and view["rating"] == 85 and view["frames"] == 300
        assert (store.home.root / view["video_path"]).is_file()
        assert view["lead_time_s"] == pytest.approx(3.0)
        skipped = store.commit_recording(
            session_id=sid, outfit_id="o1", position=1, temp_video=None, rating=None, status="skipped", shown_at=utcnow()
        )
        assert skipped["video_path"] is None
        assert [v["position"] for v in store.views_for_session(sid)] == [0, 1]
        assert store.outfits_seen_by(vol["volunteer_id"]) == {"o0", "o1"}
        assert store.outfit_coverage()["o0"] == 1 and store.outfit_coverage()["o2"] == 0
        store.finish_session(sid, stopped_early=True)
        assert store.get_session(sid)["stopped_early"] is True
        stats = store.stats()
        assert stats["views_by_status"] == {"ok": 1, "skipped": 1, "short": 0, "failed": 0}
        assert stats["classes"]["positive"] == 1


def test_image_labels_round_trip_with_undo(home) -> None:
    with Store.open(home) as store:
        lab = store.add_labeler("anna")
        assert store.add_labeler("anna") == lab
        label = store.add_image_label(
            labeler_id=lab, image_path="x.png", image_sha256="ab", answer="preferred", response_ms=640,
            region_xy=(0.2, 0.7), is_gold=False, slow=False,
        )
        assert store.list_image_labels(lab)[0]["region_xy"] == (0.2, 0.7)
        store.undo_image_label(label)
        assert store.list_image_labels(lab) == []
        assert len(store.list_image_labels(lab, include_undone=True)) == 1


def test_feature_cache_and_model_runs_round_trip(home) -> None:
    with Store.open(home) as store:
        store.put_feature_cache(video_sha256="h", extractor="flow", version="1", path="features/h.npz", meta={"n": 1})
        assert store.get_feature_cache("h", "flow", "1")["meta"] == {"n": 1}
        assert store.get_feature_cache("h", "flow", "2") is None
        run = store.add_model_run(kind="plm-ipe", config={"a": 1}, metrics={"acc": 0.5}, checkpoint_path="runs/x")
        assert store.list_model_runs("plm-ipe")[0]["run_id"] == run and store.list_model_runs("other") == []


@pytest.mark.parametrize("rating", [-1, 101, 50.5, True, "70"])
def test_out_of_range_rating_is_refused_and_nothing_is_kept(home, tmp_path, rating) -> None:
    with store_with_catalog(home, tmp_path) as store:
        vol = store.add_volunteer(age_band="18-24", gender="male", consent=CONSENT)
        sid = store.start_session(vol["volunteer_id"])
        temp = fake_recording(store)
        with pytest.raises(StoreError, match="0 to 100"):
            store.commit_recording(session_id=sid, outfit_id="o0", position=0, temp_video=temp, rating=rating,
                                   status="ok", shown_at=utcnow())
        assert store.count("view") == 0
        assert store.sweep()["orphan_files"] == []


def test_commit_is_idempotent_per_slot(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        vol = store.add_volunteer(age_band="18-24", gender="male", consent=CONSENT)
        sid = store.start_session(vol["volunteer_id"])
        first = commit_view(store, sid, "o0", 0)
        again = commit_view(store, sid, "o0", 0)  # e.g. a browser refresh re-sends the take
        assert again["view_id"] == first["view_id"] and store.count("view") == 1
        sweep = store.sweep(temp_grace_s=0)
        assert sweep == {"orphan_files": [], "missing_files": [], "changed_files": [], "temp_files": [],
                         "quarantined": []}


def test_consent_is_required(home) -> None:
    with Store.open(home) as store:
        with pytest.raises(StoreError, match="consent"):
            store.add_volunteer(age_band="18-24", gender="x", consent={"version": "1", "recording": False})


def test_eight_threads_times_200_writes_none_lost_or_duplicated(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        lab = store.add_labeler("threads")
        errors: list[BaseException] = []

        def worker(t: int) -> None:
            try:
                for i in range(200):
                    store.add_image_label(
                        labeler_id=lab, image_path=f"{t}/{i}.png", image_sha256=f"{t}-{i}", answer="skip",
                        response_ms=i, label_id=f"{t}-{i}",
                    )
                    if i % 50 == 0:
                        store.list_image_labels(lab)  # concurrent reads on the thread's own cursor
            except BaseException as err:  # collected and re-raised in the main thread
                errors.append(err)

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors, errors
        rows = store.list_image_labels(lab)
        assert len(rows) == 1600
        assert len({r["label_id"] for r in rows}) == 1600


@pytest.mark.duckdb_only
def test_a_process_that_keeps_the_store_past_the_wait_is_named_in_a_clear_error(home) -> None:
    Store.open(home).close()
    brief = StoreTiming(lock_wait_s=0.5)
    with store_held_elsewhere(home) as holder:
        started = time.monotonic()
        with pytest.raises(StoreLockedError) as info:
            Store.open(home, timing=brief)
        waited = time.monotonic() - started
        message = str(info.value)
        assert f"PID {holder.pid}" in message and "0.5 s" in message and "IPE_STORE_LOCK_WAIT_S" in message
        assert "Streamlit" in message and "--home" in message
        assert 0.5 <= waited < 30  # it waited its turn, bounded
        with pytest.raises(StoreLockedError):  # a reader cannot open it either while a writer works
            Store.open(home, read_only=True, timing=brief)
    Store.open(home).close()  # usable again once the holder is gone


CRASH_CHILD = textwrap.dedent(
    """
    import os, sys, time
    from datetime import datetime
    from core.store import Store, StoreTiming, utcnow
    store = Store.open(sys.argv[1])
    sid, mode = sys.argv[2], sys.argv[3]
    def pause():
        print("renamed", flush=True)
        time.sleep(60)
    pos = 0
    while True:
        temp = store.new_video_tempfile()
        with open(temp, "wb") as f:
            f.write(os.urandom(200_000))
        store.commit_recording(session_id=sid, outfit_id="o0", position=pos, temp_video=temp, rating=50,
                               status="ok", shown_at=utcnow(),
                               _after_rename=pause if mode == "pause" else None)
        pos += 1
        if pos == 1:
            print("committing", flush=True)
    """
)


def _check_invariants(store: Store) -> dict:
    rows = store.list_views()
    for row in rows:  # no half row: every row is complete and its file is there with its hash
        assert row["video_sha256"] and (store.home.root / row["video_path"]).is_file()
    return store.sweep(temp_grace_s=0)


def test_writer_killed_mid_commit_leaves_no_half_row_and_sweep_finds_orphans(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        vol = store.add_volunteer(age_band="18-24", gender="male", consent=CONSENT)
        sid = store.start_session(vol["volunteer_id"])
    # 1) killed exactly between rename and insert: the file has no row; the sweep finds it
    child = subprocess.Popen([sys.executable, "-c", CRASH_CHILD, str(home.root), sid, "pause"], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "renamed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    with Store.open(home) as store:
        sweep = _check_invariants(store)
        assert store.count("view") == 0
        assert len(sweep["orphan_files"]) == 1 and sweep["missing_files"] == []
        moved = store.sweep(quarantine=True, temp_grace_s=0)["quarantined"]
        assert len(moved) == 1 and os.path.isfile(moved[0])
        assert store.sweep(temp_grace_s=0)["orphan_files"] == []
    # 2) killed at random moments of a stream of commits: after restart every row is whole
    for delay in (0.15, 0.4, 0.7):
        child = subprocess.Popen([sys.executable, "-c", CRASH_CHILD, str(home.root), sid + "", "run"], cwd=REPO,
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "committing"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        with Store.open(home) as store:
            n_before = store.count("view")
            sweep = _check_invariants(store)
            assert sweep["missing_files"] == []
            store.sweep(quarantine=True, temp_grace_s=0)
            # the next child continues after the committed positions (idempotent slots)
            assert n_before >= 1
        # make the next run start at fresh positions by starting a new session
        with Store.open(home) as store:
            sid = store.start_session(vol["volunteer_id"])


def test_delete_volunteer_removes_rows_and_files(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        keep = store.add_volunteer(age_band="35-44", gender="male", consent=CONSENT)
        gone = store.add_volunteer(age_band="18-24", gender="female", consent=CONSENT)
        s_keep = store.start_session(keep["volunteer_id"])
        commit_view(store, s_keep, "o0", 0)
        s_gone = store.start_session(gone["volunteer_id"])
        views = [commit_view(store, s_gone, f"o{i}", i) for i in range(3)]
        feature_file = home.features / "f.npz"
        feature_file.write_bytes(b"features")
        store.put_feature_cache(video_sha256=views[0]["video_sha256"], extractor="flow72", version="1",
                                path=str(feature_file.relative_to(home.root)))
        before = sorted(p.name for p in home.root.rglob("*") if p.is_file())
        report = store.delete_volunteer(gone["withdrawal_code"])
        after = sorted(p.name for p in home.root.rglob("*") if p.is_file())
        removed = set(before) - set(after)
        assert removed == {v["view_id"] + ".mp4" for v in views} | {"f.npz"}
        assert report["verified"] and report["rows_by_table"]["view"] == 3
        assert store.find_volunteer(gone["volunteer_id"]) is None
        assert store.list_views(volunteer_id=gone["volunteer_id"]) == []
        assert store.get_feature_cache(views[0]["video_sha256"], "flow72", "1") is None
        assert len(store.list_views(volunteer_id=keep["volunteer_id"])) == 1
        with pytest.raises(StoreError, match="no volunteer"):
            store.delete_volunteer(gone["volunteer_id"])


def test_missing_file_is_reported(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        vol = store.add_volunteer(age_band="18-24", gender="male", consent=CONSENT)
        sid = store.start_session(vol["volunteer_id"])
        view = commit_view(store, sid, "o0", 0)
        (home.root / view["video_path"]).unlink()
        assert store.sweep()["missing_files"] == [view["view_id"]]


def test_a_video_changed_after_its_commit_is_reported_by_the_sweep(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        vol = store.add_volunteer(age_band="18-24", gender="male", consent=CONSENT)
        sid = store.start_session(vol["volunteer_id"])
        changed, kept = commit_view(store, sid, "o0", 0), commit_view(store, sid, "o1", 1)
        store.put_feature_cache(video_sha256=changed["video_sha256"], extractor="flow72", version="1",
                                path="features/old.npz")  # features of the original bytes
        assert store.sweep()["changed_files"] == []
        video = home.root / changed["video_path"]
        video.write_bytes(video.read_bytes()[:-1] + b"!")  # same size, one byte different
        sweep = store.sweep()
        assert sweep["changed_files"] == [changed["view_id"]] and sweep["missing_files"] == []
        assert kept["view_id"] not in sweep["changed_files"]
        assert store.sweep(verify_hashes=False)["changed_files"] == []  # the quick sweep only stats files


def test_shown_and_rated_times_round_trip(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        vol = store.add_volunteer(age_band="18-24", gender="male", consent=CONSENT)
        sid = store.start_session(vol["volunteer_id"])
        shown = utcnow()
        view = store.commit_recording(session_id=sid, outfit_id="o1", position=0, temp_video=fake_recording(store),
                                      rating=0, status="ok", shown_at=shown, rated_at=shown + timedelta(seconds=12))
        assert view["shown_at"] == shown and view["rating"] == 0 and view["lead_time_s"] == pytest.approx(12)


def test_migrations_apply_in_order_and_a_failing_one_changes_nothing(tmp_path, monkeypatch) -> None:
    import duckdb

    from core.store import migrations

    conn = duckdb.connect(str(tmp_path / "m.duckdb"))
    assert migrations.migrate(conn) == list(range(1, LATEST + 1)) and migrations.current_version(conn) == LATEST
    assert migrations.migrate(conn) == []  # already current
    good = (LATEST + 1, "add a column", ["ALTER TABLE labeler ADD COLUMN note VARCHAR"])
    bad = (LATEST + 2, "broken", ["CREATE TABLE t2 (x INTEGER, created_at TIMESTAMP)", "THIS IS NOT SQL"])
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, good, bad])
    with pytest.raises(duckdb.Error):
        migrations.migrate(conn)
    assert migrations.current_version(conn) == LATEST + 1  # the good one stays, the broken one rolled back
    tables = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert "t2" not in tables
    # every table of the schema has created_at
    for table in tables:
        columns = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()}
        assert "created_at" in columns, table
    conn.close()


def test_newer_schema_is_refused(home, backend) -> None:
    Store.open(home).close()
    if backend == "duckdb":
        import duckdb

        conn = duckdb.connect(str(home.db_path))
        conn.execute("INSERT INTO schema_version (version, description) VALUES (?, ?)", [LATEST + 5, "future"])
        conn.close()
    else:
        import psycopg

        with psycopg.connect(os.environ["IPE_STORE_URL"], autocommit=True) as conn:
            conn.execute("INSERT INTO schema_version (version, description) VALUES (%s, %s)", [LATEST + 5, "future"])
    with pytest.raises(StoreError, match="newer than this code"):
        Store.open(home)
    with pytest.raises(StoreError, match="schema version"):
        Store.open(home, read_only=True)


def test_driver_errors_become_store_errors_from_the_driver_error(home, backend) -> None:
    import duckdb
    import psycopg

    constraint, error = ((duckdb.ConstraintException, duckdb.Error) if backend == "duckdb"
                         else (psycopg.IntegrityError, psycopg.Error))
    with Store.open(home) as store:
        with pytest.raises(StoreError) as info:
            with store.transaction() as cur:
                cur.execute("INSERT INTO labeler (labeler_id, name) VALUES (?, ?)", ["l-1", "a"])
                cur.execute("INSERT INTO labeler (labeler_id, name) VALUES (?, ?)", ["l-2", "a"])  # name is unique
        assert isinstance(info.value.__cause__, constraint)
        assert store.count("labeler") == 0  # rolled back
        with pytest.raises(StoreError) as info:
            store.rows("SELECT * FROM no_such_table")
        assert isinstance(info.value.__cause__, error)


def test_more_round_trips(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        assert [c["catalog_id"] for c in store.list_catalogs()] == ["cat"]
        vol = store.add_volunteer(age_band="45-54", gender="non-binary", extra=None, consent=CONSENT)
        vid = vol["volunteer_id"]
        s1 = store.start_session(vid, research_mode="reaction-only")
        s2 = store.start_session(vid)
        assert [s["session_id"] for s in store.sessions_for_volunteer(vid)] == [s1, s2]
        assert store.get_session(s1)["research_mode"] == "reaction-only" and store.get_session(s1)["finished_at"] is None
        assert store.list_volunteers()[0]["sessions"] == 2
        view = commit_view(store, s1, "o3", 0, rating=41)
        assert store.get_view(view["view_id"])["outfit_id"] == "o3"
        assert store.video_abspath(view).is_file()
        assert store.list_views(status="ok")[0]["view_id"] == view["view_id"]
        assert store.list_views(status="failed") == []
        failed = store.commit_recording(session_id=s1, outfit_id="o4", position=1, temp_video=None, rating=None,
                                        status="failed", shown_at=utcnow())
        assert failed["status"] == "failed" and store.stats()["views_by_status"]["failed"] == 1
        lab = store.add_labeler("  bo ")
        assert [row["name"] for row in store.list_labelers()] == ["bo"]
        label = store.add_image_label(labeler_id=lab, image_path="p.png", image_sha256="s", answer="not_preferred",
                                      response_ms=1500, region_xy=None, is_gold=True, slow=True, image_set="catalog")
        assert store.add_image_label(labeler_id=lab, image_path="p.png", image_sha256="s", answer="not_preferred",
                                     response_ms=1500, region_xy=None, is_gold=True, slow=True, label_id=label) == label
        store.set_label_region(label, (0.5, 0.25))
        row = store.list_image_labels()[0]
        assert row["region_xy"] == (0.5, 0.25) and row["is_gold"] and row["slow"] and row["image_set"] == "catalog"
        with pytest.raises(StoreError, match="answer"):
            store.add_image_label(labeler_id=lab, image_path="p", image_sha256="s", answer="maybe", response_ms=1)
        with pytest.raises(StoreError, match="unknown labeler"):
            store.add_image_label(labeler_id="l-none", image_path="p", image_sha256="s", answer="skip", response_ms=1)
        stats = store.stats()
        assert stats["classes"] == {"negative": 0, "neutral": 1, "positive": 0}
        assert stats["coverage_min"] == 0 and stats["coverage_max"] == 1


def test_cursors_of_finished_threads_are_closed(home) -> None:
    with Store.open(home) as store:
        for _ in range(3):
            threads = [threading.Thread(target=lambda: store.count("item")) for _ in range(10)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
        store.count("item")  # the main thread's cursor prunes the dead ones
        assert store.open_cursors <= 11


def test_delete_volunteer_also_removes_unregistered_features_and_quarantined_orphans(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        vol = store.add_volunteer(age_band="18-24", gender="female", consent=CONSENT)
        sid = store.start_session(vol["volunteer_id"])
        view = commit_view(store, sid, "o0", 0)
        loose = home.features / "flow72" / "k" / view["video_sha256"][:2] / f"{view['video_sha256']}.npz"
        loose.parent.mkdir(parents=True)
        loose.write_bytes(b"not registered")
        orphan = home.videos / vol["volunteer_id"] / "w-orphan.mp4"
        orphan.write_bytes(b"an interrupted take")
        moved = store.sweep(quarantine=True)["quarantined"]
        assert len(moved) == 1
        report = store.delete_volunteer(vol["volunteer_id"])
        assert report["verified"] and str(loose) in report["files_deleted"]
        assert not loose.exists() and not os.path.exists(moved[0])
        assert not (home.videos / vol["volunteer_id"]).exists()
        assert not any(p.is_file() for p in home.quarantine.rglob("*"))


def test_a_temporary_file_on_another_file_system_is_copied_then_committed(home, tmp_path) -> None:
    import tempfile
    from pathlib import Path

    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(home.root).st_dev:
        pytest.skip("no second file system here")
    with store_with_catalog(home, tmp_path) as store:
        vol = store.add_volunteer(age_band="18-24", gender="male", consent=CONSENT)
        sid = store.start_session(vol["volunteer_id"])
        with tempfile.NamedTemporaryFile(dir=shm, suffix=".mp4", delete=False) as handle:
            handle.write(b"recorded elsewhere")
        view = store.commit_recording(session_id=sid, outfit_id="o0", position=0, temp_video=Path(handle.name),
                                      rating=60, status="ok", shown_at=utcnow())
        assert (home.root / view["video_path"]).read_bytes() == b"recorded elsewhere"
        assert not os.path.exists(handle.name)
        assert store.sweep(temp_grace_s=0)["temp_files"] == []


def test_two_store_objects_on_one_file_in_one_process_share_the_write_lock(home) -> None:
    with Store.open(home) as a, Store.open(home) as b:
        lab_a, lab_b = a.add_labeler("a"), b.add_labeler("b")
        errors: list[BaseException] = []

        def worker(store: Store, lab: str, t: int) -> None:
            try:
                for i in range(40):
                    store.add_image_label(labeler_id=lab, image_path="p", image_sha256="s", answer="skip",
                                          response_ms=i, label_id=f"{t}-{i}")
            except BaseException as err:  # collected and re-raised in the main thread
                errors.append(err)

        threads = [threading.Thread(target=worker, args=(s, lab, t))
                   for t, (s, lab) in enumerate([(a, lab_a), (b, lab_b)] * 2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors, errors
        assert len(a.list_image_labels()) == len(b.list_image_labels()) == 160
