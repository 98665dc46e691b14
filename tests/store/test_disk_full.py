"""Disk full during export and import: a clear error and nothing half-written.

FAULT INJECTION: no small file system can be mounted here, so the low-level write raises a
real ``OSError(ENOSPC)``: ``os.sendfile`` (what ``shutil.copyfile`` copies files with on
Linux) after a few calls, or Arrow's Parquet writer after writing part of a file.
"""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from core.errors import StoreError
from core.store.export import TABLES, export_dataset, import_dataset
from tests.store.export_fixtures import empty_store, make_small_export
from tests.store_helpers import store_with_catalog


def _disk_full() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def inject_enospc_in_sendfile(monkeypatch: pytest.MonkeyPatch, after_calls: int) -> None:
    """FAULT INJECTION: the ``after_calls``-th call of os.sendfile onwards fails with ENOSPC."""
    real = os.sendfile
    calls = {"n": 0}

    def sendfile(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        calls["n"] += 1
        if calls["n"] >= after_calls:
            raise _disk_full()
        return real(out_fd, in_fd, offset, count)

    monkeypatch.setattr(os, "sendfile", sendfile)


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_export_with_the_disk_full_while_copying_files_leaves_nothing(home, tmp_path, monkeypatch) -> None:
    with store_with_catalog(home, tmp_path) as store:
        exports = tmp_path / "exports"
        exports.mkdir()
        inject_enospc_in_sendfile(monkeypatch, after_calls=4)
        with pytest.raises(StoreError, match="nothing was written: no space left on the disk"):
            export_dataset(store, exports / "out", progress=False)
        monkeypatch.undo()
        assert _tree(exports) == set()  # no export, no temporary folder, no lock file
        export_dataset(store, exports / "out", progress=False)  # space again: it works


def test_export_with_the_disk_full_while_writing_a_table_leaves_nothing(home, tmp_path, monkeypatch) -> None:
    import pyarrow.parquet as pq

    real = pq.write_table

    def write_table(table, where, **kwargs):  # FAULT INJECTION: half a Parquet file, then ENOSPC
        real(table, where, **kwargs)
        Path(where).write_bytes(Path(where).read_bytes()[:100])
        raise _disk_full()

    with store_with_catalog(home, tmp_path) as store:
        monkeypatch.setattr(pq, "write_table", write_table)
        with pytest.raises(StoreError, match="no space left"):
            export_dataset(store, tmp_path / "exports" / "out", progress=False)
    assert _tree(tmp_path / "exports") == set()


def test_import_with_the_disk_full_leaves_the_home_and_the_store_as_they_were(tmp_path, monkeypatch) -> None:
    folder, _ = make_small_export(tmp_path)
    with empty_store(tmp_path / "h") as store:
        before = _tree(store.home.root)
        inject_enospc_in_sendfile(monkeypatch, after_calls=5)
        with pytest.raises(StoreError, match="nothing was imported: no space left on the disk"):
            import_dataset(store, folder, progress=False)
        monkeypatch.undo()
        assert all(store.count(t) == 0 for t in TABLES)
        after = _tree(store.home.root)
        assert after - before <= {"ipe.duckdb.wal"}, after - before  # no copied file, no folder, no temp file
        import_dataset(store, folder, progress=False)  # space again: it works
        assert store.count("view") == 2
    shutil.rmtree(tmp_path / "h")
