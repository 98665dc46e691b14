"""An export is untrusted input; the store's own rows are checked where a file is read or deleted."""
from __future__ import annotations

import shutil

import pytest

from core.errors import StoreError
from core.store import sha256_file
from core.store.export import TABLES, export_dataset, import_dataset, table_digest
from tests.store.export_fixtures import (
    empty_store, load_manifest, make_small_export, rewrite_table, save_manifest, table_rows,
)
from tests.store_helpers import CONSENT, commit_view, store_with_catalog


@pytest.fixture
def export(tmp_path):
    pristine, digests = make_small_export(tmp_path)
    copy = tmp_path / "outer" / "export"
    shutil.copytree(pristine, copy)
    return copy, digests


def _files_outside(tmp_path, home) -> set[str]:
    return {str(p) for p in (tmp_path / "outer").rglob("*")
            if p.is_file() and home.root not in p.parents and "export" not in p.parts}


def test_a_row_path_leading_out_of_the_home_is_refused_and_nothing_is_written(tmp_path, export) -> None:
    folder, _ = export
    store = empty_store(tmp_path / "outer" / "homes" / "h")
    # the path resolves inside the export (so its hash can match) but outside the data home
    escape = "videos/../../export/victim.txt"
    (folder / "victim.txt").write_bytes(b"written by the export")
    views = table_rows(folder, "view")
    manifest = load_manifest(folder)
    old = views[0]["video_path"]
    manifest["files"][escape] = manifest["files"].pop(old)
    shutil.copyfile(folder / old, folder / "victim.txt")
    save_manifest(folder, manifest)
    views[0]["video_path"] = escape
    rewrite_table(folder, "view", views)
    before = _files_outside(tmp_path, store.home)
    with store, pytest.raises(StoreError, match="refused: the path is not normalised"):
        import_dataset(store, folder, progress=False)
    assert _files_outside(tmp_path, store.home) == before
    assert not (tmp_path / "outer" / "homes" / "export").exists()


@pytest.mark.parametrize("bad", ["../victim.txt", "/tmp/victim.txt", "videos/a/../b.mp4", "runs/x.mp4", "videos\\x.mp4"])
def test_unclean_paths_in_rows_are_refused(tmp_path, export, bad) -> None:
    folder, _ = export
    views = table_rows(folder, "view")
    views[0]["video_path"] = bad
    rewrite_table(folder, "view", views)
    with empty_store(tmp_path / "h") as store:
        with pytest.raises(StoreError, match="video_path .* refused|is refused"):
            import_dataset(store, folder, progress=False)
        assert all(store.count(t) == 0 for t in TABLES)


def test_a_symlink_in_the_export_is_refused(tmp_path, export) -> None:
    folder, _ = export
    secret = tmp_path / "outer" / "secret.bin"
    secret.write_bytes(b"a file outside the export")
    manifest = load_manifest(folder)
    rel = next(r for r in manifest["files"] if r.startswith("videos/"))
    (folder / rel).unlink()
    (folder / rel).symlink_to(secret)
    manifest["files"][rel] = sha256_file(secret)
    save_manifest(folder, manifest)
    with empty_store(tmp_path / "h") as store:
        with pytest.raises(StoreError, match="symlink"):
            import_dataset(store, folder, progress=False)
        assert not any((store.home.videos).rglob("*.mp4"))


def test_a_table_edited_and_dropped_from_the_manifest_is_refused(tmp_path, export) -> None:
    folder, digests = export
    volunteers = table_rows(folder, "volunteer")
    volunteers[0]["gender"] = "edited"
    rewrite_table(folder, "volunteer", volunteers, rehash=False)
    manifest = load_manifest(folder)
    del manifest["tables"]["volunteer"]
    save_manifest(folder, manifest)
    with empty_store(tmp_path / "h") as store:
        with pytest.raises(StoreError, match="must list exactly the tables.*missing: volunteer"):
            import_dataset(store, folder, progress=False)
        assert store.count("volunteer") == 0


def test_row_counts_in_the_manifest_are_checked(tmp_path, export) -> None:
    folder, _ = export
    manifest = load_manifest(folder)
    manifest["tables"]["view"]["rows"] += 1
    save_manifest(folder, manifest)
    with empty_store(tmp_path / "h") as store:
        with pytest.raises(StoreError, match="has 2 rows, the manifest says 3"):
            import_dataset(store, folder, progress=False)


@pytest.mark.parametrize("change", [
    lambda m: m.pop("files"),
    lambda m: m.__setitem__("tables", []),
    lambda m: m["tables"].__setitem__("view", "x"),
    lambda m: m["tables"]["view"].pop("sha256"),
    lambda m: m["tables"]["view"].__setitem__("rows", "2"),
    lambda m: m["files"].__setitem__(next(iter(m["files"])), None),
    lambda m: m.__setitem__("schema_version", True),
    lambda m: m.__setitem__("format", {"a": 1}),
    lambda m: m["tables"].__setitem__("evil", {"rows": 0, "sha256": "0" * 64}),
])
def test_malformed_manifests_give_one_clear_error(tmp_path, export, change) -> None:
    folder, _ = export
    manifest = load_manifest(folder)
    change(manifest)
    save_manifest(folder, manifest)
    with empty_store(tmp_path / "h") as store:
        with pytest.raises(StoreError, match="manifest.json|unknown export format"):
            import_dataset(store, folder, progress=False)
    for text in ("[]", "", "{", '"x"', "\xff"):
        (folder / "manifest.json").write_text(text, errors="surrogateescape")
        with empty_store(tmp_path / "h") as store, pytest.raises(StoreError, match="manifest.json"):
            import_dataset(store, folder, progress=False)


def test_a_file_listed_but_used_by_no_row_is_refused(tmp_path, export) -> None:
    folder, _ = export
    manifest = load_manifest(folder)
    (folder / "videos" / "extra.mp4").write_bytes(b"extra")
    manifest["files"]["videos/extra.mp4"] = sha256_file(folder / "videos" / "extra.mp4")
    save_manifest(folder, manifest)
    with empty_store(tmp_path / "h") as store, pytest.raises(StoreError, match="no row refers to"):
        import_dataset(store, folder, progress=False)


def test_a_symlinked_folder_in_the_home_stops_the_import(tmp_path, export) -> None:
    folder, digests = export
    elsewhere = tmp_path / "outer" / "elsewhere"
    elsewhere.mkdir()
    with empty_store(tmp_path / "h") as store:
        shutil.rmtree(store.home.videos)
        store.home.videos.symlink_to(elsewhere)
        with pytest.raises(StoreError, match="leads outside"):
            import_dataset(store, folder, progress=False)
        assert list(elsewhere.iterdir()) == []
        store.home.videos.unlink()
        import_dataset(store, folder, progress=False)  # the same export, the home repaired: imported
        assert {t: table_digest(store, t) for t in TABLES} == digests


def test_delete_refuses_a_row_pointing_outside_the_home(home, tmp_path) -> None:
    victim = home.root.parent / "victim.txt"
    victim.write_text("not the kit's")
    with store_with_catalog(home, tmp_path) as store:
        vol = store.add_volunteer(age_band="18-24", gender="female", consent=CONSENT)
        view = commit_view(store, store.start_session(vol["volunteer_id"]), "o0", 0)
        with store.transaction() as cur:
            cur.execute("UPDATE view SET video_path = '../victim.txt' WHERE view_id = ?", [view["view_id"]])
        with pytest.raises(StoreError, match="refused"):
            store.delete_volunteer(vol["volunteer_id"])
        assert victim.read_text() == "not the kit's"
        assert store.find_volunteer(vol["volunteer_id"]) is not None  # nothing deleted: fix the row, run again
        with store.transaction() as cur:  # an absolute path outside, and a symlinked video folder
            cur.execute("UPDATE view SET video_path = ? WHERE view_id = ?", [str(victim), view["view_id"]])
        with pytest.raises(StoreError, match="outside the data home"):
            store.delete_volunteer(vol["volunteer_id"])
        with store.transaction() as cur:
            cur.execute("UPDATE view SET video_path = NULL WHERE view_id = ?", [view["view_id"]])
        shutil.rmtree(home.videos / vol["volunteer_id"])
        elsewhere = home.root.parent / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / "keep.txt").write_text("keep")
        (home.videos / vol["volunteer_id"]).symlink_to(elsewhere)
        with pytest.raises(StoreError, match="outside the data home"):
            store.delete_volunteer(vol["volunteer_id"])
        assert (elsewhere / "keep.txt").read_text() == "keep" and victim.exists()


def test_export_refuses_a_row_pointing_outside_the_home(home, tmp_path) -> None:
    secret = home.root.parent / "private" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("not for export")
    with store_with_catalog(home, tmp_path) as store:
        with store.transaction() as cur:
            cur.execute("UPDATE item SET path = '../private/secret.txt' WHERE item_id = 't0'")
        with pytest.raises(StoreError, match="refused"):
            export_dataset(store, tmp_path / "exports" / "out", progress=False)
    assert not (tmp_path / "exports" / "out").exists()
    assert [p for p in tmp_path.rglob("secret.txt")] == [secret]  # no copy anywhere
