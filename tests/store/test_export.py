"""Export to Parquet + files + manifest; importing into an empty store gives the same rows."""
from __future__ import annotations

import json

import pytest

from core.errors import StoreError
from core.store.export import TABLES, export_dataset, import_dataset, table_digest, verify_export
from core.paths import DataHome
from core.collection.splits import make_volunteer_split, roster_from_store, save_split
from core.store import Store
from tests.store_helpers import CONSENT, commit_view, store_with_catalog


def _populate(store: Store) -> None:
    for g in ("female", "male", "prefer not to say"):
        vol = store.add_volunteer(age_band="25-34", gender=g, extra={"k": g}, consent=CONSENT)
        sid = store.start_session(vol["volunteer_id"], plan=["o0", "o1"])
        commit_view(store, sid, "o0", 0, rating=10)
        commit_view(store, sid, "o1", 1, rating=90)
        store.finish_session(sid)
    lab = store.add_labeler("anna")
    store.add_image_label(labeler_id=lab, image_path="a.png", image_sha256="x", answer="preferred", response_ms=700)
    save_split(store, "s", make_volunteer_split(roster_from_store(store), seed=0, test_fraction=0.34), seed=0)


def test_export_import_round_trip(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        _populate(store)
        out = export_dataset(store, tmp_path / "export", progress=False)
        digests = {t: table_digest(store, t) for t in TABLES}
    manifest = verify_export(out)
    assert manifest["tables"]["view"]["rows"] == 6 and len(manifest["files"]) == 6 + 6
    other = DataHome.resolve(tmp_path / "other").ensure()
    with Store.open(other) as store:
        counts = import_dataset(store, out, progress=False)
        assert counts["view"] == 6
        assert {t: table_digest(store, t) for t in TABLES} == digests
        for view in store.list_views():
            assert (other.root / view["video_path"]).is_file()
        assert store.sweep()["orphan_files"] == []
        with pytest.raises(StoreError, match="empty store"):
            import_dataset(store, out, progress=False)


def test_damaged_export_is_refused_before_anything_is_written(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        _populate(store)
        out = export_dataset(store, tmp_path / "export", progress=False)
        with pytest.raises(StoreError, match="already exists"):
            export_dataset(store, out, progress=False)
    video = next((out / "videos").rglob("*.mp4"))
    video.write_bytes(b"tampered")
    other = DataHome.resolve(tmp_path / "other").ensure()
    with Store.open(other) as store:
        with pytest.raises(StoreError, match="damaged"):
            import_dataset(store, out, progress=False)
        assert store.count("item") == 0
    assert not any((other.root / "videos").rglob("*.mp4"))
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["../../etc/passwd"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="etc/passwd'.* refused: the path is not normalised"):
        verify_export(out)


def test_export_while_another_thread_writes_is_a_consistent_snapshot(home, tmp_path) -> None:
    import threading

    import pyarrow.parquet as pq

    with store_with_catalog(home, tmp_path) as store:
        _populate(store)
        stop = threading.Event()
        vol = store.add_volunteer(age_band="25-34", gender="female", consent=CONSENT)

        def writer() -> None:
            while not stop.is_set():
                sid = store.start_session(vol["volunteer_id"])  # session row first, then its view
                commit_view(store, sid, "o2", 0)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            outs = [export_dataset(store, tmp_path / f"export{i}", progress=False) for i in range(3)]
        finally:
            stop.set()
            thread.join()
    for out in outs:
        manifest = verify_export(out)
        sessions = set(pq.read_table(out / "tables" / "session.parquet").column("session_id").to_pylist())
        views = pq.read_table(out / "tables" / "view.parquet").to_pylist()
        assert {v["session_id"] for v in views} <= sessions
        assert {v["video_path"] for v in views if v["video_path"]} <= set(manifest["files"])


def test_two_exports_into_the_same_folder_never_both_report_success(home, tmp_path) -> None:
    import threading

    with store_with_catalog(home, tmp_path) as store:
        _populate(store)
        for trial in range(10):
            out = tmp_path / f"same{trial}"
            barrier = threading.Barrier(2)
            results: list[object] = []

            def export() -> None:
                barrier.wait()
                try:
                    results.append(export_dataset(store, out, progress=False))
                except StoreError as err:
                    results.append(err)
                except BaseException as err:  # anything but the kit's error fails the test below
                    results.append(("unexpected", err))

            threads = [threading.Thread(target=export) for _ in range(2)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            succeeded = [r for r in results if r == out]
            assert len(succeeded) == 1, (trial, results)
            assert all(isinstance(r, StoreError) for r in results if r != out), (trial, results)
            verify_export(out)
        leftovers = [p.name for p in tmp_path.iterdir() if "partial" in p.name or "lock" in p.name]
        assert leftovers == []
