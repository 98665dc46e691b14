"""Fuzzing the importer: seeded random changes to a valid small export, like a hostile or broken one.

For every mutation: no exception but the kit's own (IPEError), no file written or changed
outside the data home (a sentinel folder beside it and the rest of the tree are compared),
a refused import leaves the store and the home as they were, and an accepted import holds
exactly the exported rows except in tables whose Parquet file the mutation rewrote with a
matching manifest entry (an attacker can always make a self-consistent export), with every
file path clean and inside the home.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from core.errors import IPEError
from core.store import Store, sha256_file
from core.store.export import TABLES, import_dataset, table_digest
from core.store.home_files import inside
from core.store.manifest import HOME_PATHS, path_problem
from tests.store.export_fixtures import empty_store, load_manifest, make_small_export, rewrite_table, table_rows

SEED = 20260115
MUTATIONS = 500
VALUES: list[Any] = [None, 0, -1, 2, 1.5, True, "", "x", [], {}, [1], {"a": 1}, "0" * 64, "g" * 64, 10**30,
                     float("nan"), "../x", "/etc/passwd", "a" * 5000]
BAD_PATHS = ["../victim.txt", "../../sentinel/victim.txt", "videos/../../victim.txt", "videos/../../../sentinel/v",
             "SENTINEL_ABS", "videos//x.mp4", "videos/./x.mp4", "./videos/x.mp4", "videos/x.mp4/", "videos\\..\\x",
             "videos/\x00x", "C:/x", "", ".", "..", "videos", "runs/x.mp4", "tables/view.parquet", "manifest.json",
             "ipe.duckdb", "videos/" + "a" * 2000, "videos/" + "b" * 300 + ".mp4", "videos/link/victim.txt", "catalog/../ipe.duckdb"]


@dataclass
class Mutation:
    name: str
    declared: set[str] = field(default_factory=set)  # tables rewritten with a matching manifest entry


def _tree(root: Path, skip: set[Path]) -> dict[str, Any]:
    """Every file, folder and link under ``root`` outside ``skip``: files by (size, mtime), links by target."""
    found: dict[str, Any] = {}
    skipped = {str(s) for s in skip}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skipped]
        for name in dirs + files:
            path = os.path.join(folder, name)
            if path in skipped:
                continue
            stat = os.lstat(path)
            if os.path.islink(path):
                found[path] = ("link", os.readlink(path))
            elif name in dirs:
                found[path] = "dir"
            else:
                found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


def _restore(folder: Path, pristine: Path) -> None:
    """Make the fuzz folder equal to the pristine export again, touching only what a mutation changed."""
    want = {p.relative_to(pristine) for p in pristine.rglob("*")}
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        rel = path.relative_to(folder)
        original = pristine / rel
        if rel in want and path.is_symlink() == original.is_symlink() and path.is_dir() == original.is_dir():
            if path.is_dir() or path.read_bytes() == original.read_bytes():
                continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    for rel in sorted(want, key=lambda r: len(r.parts)):
        original, path = pristine / rel, folder / rel
        if original.is_dir():
            path.mkdir(exist_ok=True)
        elif not path.exists():
            shutil.copy2(original, path)


def _empty_again(store: Store) -> None:
    """An accepted import's rows and files removed: the store is as new."""
    with store.transaction() as cur:
        for table in TABLES:
            cur.execute(f"DELETE FROM {table}")  # fixed table names
    for folder in (store.home.videos, store.home.catalog):
        shutil.rmtree(folder)
        folder.mkdir()


def _row_counts(store: Store) -> int:
    return sum(store.count(t) for t in TABLES)


class Fuzzer:
    def __init__(self, rng: random.Random, folder: Path, sentinel: Path) -> None:
        self.rng, self.folder, self.sentinel = rng, folder, sentinel

    def pick(self, items: Any) -> Any:
        return self.rng.choice(list(items))

    def bad_path(self) -> str:
        path = self.pick(BAD_PATHS)
        if path == "SENTINEL_ABS":
            return str(self.sentinel / "victim.txt")
        if path == "videos/link/victim.txt":
            link = self.folder / "videos" / "link"
            if not link.exists():
                link.symlink_to(self.sentinel)
        return path

    def _place(self, rel: str, data: bytes) -> None:
        """Put ``data`` where the export would read ``rel`` from, when that is inside the fuzz folder."""
        try:
            target = (self.folder / rel).resolve()
            if self.folder.parent in target.parents and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        except (OSError, ValueError):
            pass  # a name the file system refuses: the export simply lacks that file

    # -- the manifest as JSON ------------------------------------------------------------------
    def manifest_value(self) -> Mutation:
        manifest = load_manifest(self.folder)
        node, key = self._random_node(manifest)
        node[key] = self.pick(VALUES)
        self._save(manifest)
        return Mutation(f"manifest value {key!r}")

    def manifest_drop(self) -> Mutation:
        manifest = load_manifest(self.folder)
        node, key = self._random_node(manifest)
        del node[key]
        self._save(manifest)
        return Mutation(f"manifest drop {key!r}")

    def manifest_add(self) -> Mutation:
        manifest = load_manifest(self.folder)
        where = self.pick(["top", "tables", "files"])
        if where == "top":
            manifest[self.pick(["extra", "Tables", "format2"])] = self.pick(VALUES)
        elif where == "tables":
            manifest["tables"][self.pick(["evil", "feature_cache", "schema_version", "VIEW"])] = {"rows": 0, "sha256": "0" * 64}
        else:
            rel = self.bad_path()
            self._place(rel, b"payload")
            manifest["files"][rel] = hashlib.sha256(b"payload").hexdigest()
        self._save(manifest)
        return Mutation(f"manifest add {where}")

    def manifest_text(self) -> Mutation:
        path = self.folder / "manifest.json"
        data = path.read_bytes()
        kind = self.pick(["truncate", "flip", "garbage", "other-json", "empty", "bad-utf8", "deep", "gone", "dir",
                          "symlink"])
        if kind == "truncate":
            path.write_bytes(data[: self.rng.randrange(len(data))])
        elif kind == "flip":
            i = self.rng.randrange(len(data))
            path.write_bytes(data[:i] + bytes([data[i] ^ (1 << self.rng.randrange(8))]) + data[i + 1:])
        elif kind == "garbage":
            path.write_bytes(b"\x00garbage" + data)
        elif kind == "other-json":
            path.write_text(json.dumps(self.pick([[], "x", 3, None, True, [{"tables": {}}]])))
        elif kind == "empty":
            path.write_bytes(b"")
        elif kind == "bad-utf8":
            path.write_bytes(data.replace(b'"format"', b'"f\xffrmat"'))
        elif kind == "deep":
            path.write_text("[" * 100_000 + "]" * 100_000)
        elif kind == "gone":
            path.unlink()
        elif kind == "dir":
            path.unlink()
            path.mkdir()
        else:
            outside = self.sentinel / "manifest.json"
            shutil.copyfile(path, outside)
            path.unlink()
            path.symlink_to(outside)
        return Mutation(f"manifest text {kind}")

    def _random_node(self, manifest: dict) -> tuple[dict, str]:
        choices: list[tuple[dict, str]] = [(manifest, k) for k in manifest]
        choices += [(manifest["tables"], t) for t in manifest["tables"]]
        choices += [(info, k) for info in manifest["tables"].values() for k in info]
        choices += [(manifest["files"], r) for r in manifest["files"]]
        return self.pick(choices)

    def _save(self, manifest: Any) -> None:
        (self.folder / "manifest.json").write_text(json.dumps(manifest))

    # -- files of the export, changed without updating the manifest --------------------------------
    def table_bytes(self) -> Mutation:
        table = self.pick(TABLES)
        path = self.folder / "tables" / f"{table}.parquet"
        data = path.read_bytes()
        kind = self.pick(["flip", "truncate", "empty", "gone", "swap", "symlink"])
        if kind == "flip":
            i = self.rng.randrange(len(data))
            path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
        elif kind == "truncate":
            path.write_bytes(data[: self.rng.randrange(len(data))])
        elif kind == "empty":
            path.write_bytes(b"")
        elif kind == "gone":
            path.unlink()
        elif kind == "swap":
            other = self.folder / "tables" / f"{self.pick(t for t in TABLES if t != table)}.parquet"
            shutil.copyfile(other, path)
        else:  # a symlink to an identical copy outside: the hash matches, the link must not be followed
            outside = self.sentinel / f"{table}.parquet"
            shutil.copyfile(path, outside)
            path.unlink()
            path.symlink_to(outside)
        return Mutation(f"table bytes {table} {kind}")

    def file_bytes(self) -> Mutation:
        manifest = load_manifest(self.folder)
        rel = self.pick(sorted(manifest["files"]))
        path = self.folder / rel
        kind = self.pick(["flip", "gone", "symlink-rehashed", "extra-unlisted"])
        if kind == "flip":
            data = path.read_bytes()
            i = self.rng.randrange(len(data))
            path.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:])
        elif kind == "gone":
            path.unlink()
        elif kind == "symlink-rehashed":
            secret = self.sentinel / "secret.bin"
            path.unlink()
            path.symlink_to(secret)
            manifest["files"][rel] = sha256_file(secret)
            self._save(manifest)
        else:  # a file in the export that the manifest does not list is never read
            (self.folder / "videos" / "unlisted.mp4").write_bytes(b"unlisted")
        return Mutation(f"file bytes {kind}")

    def hash_value(self) -> Mutation:
        manifest = load_manifest(self.folder)
        if self.rng.random() < 0.5:
            info = manifest["tables"][self.pick(TABLES)]
            info["sha256"] = self._bend(info["sha256"])
        else:
            rel = self.pick(sorted(manifest["files"]))
            manifest["files"][rel] = self._bend(manifest["files"][rel])
        self._save(manifest)
        return Mutation("hash")

    def _bend(self, digest: str) -> str:
        kind = self.pick(["digit", "upper", "short", "long"])
        if kind == "digit":
            i = self.rng.randrange(64)
            return digest[:i] + ("0" if digest[i] != "0" else "1") + digest[i + 1:]
        return {"upper": digest.upper(), "short": digest[:-1], "long": digest + "0"}[kind]

    # -- self-consistent changes: the manifest updated to match ------------------------------------
    def row_path(self) -> Mutation:
        table, column, _, exported = self.pick(HOME_PATHS)
        rows = table_rows(self.folder, table)
        row = self.pick(rows)
        old, new = row[column], self.bad_path()
        row[column] = new
        rewrite_table(self.folder, table, rows)
        if exported and old and self.rng.random() < 0.7:  # the manifest follows the row
            manifest = load_manifest(self.folder)
            digest = manifest["files"].pop(old, "0" * 64)
            manifest["files"][new] = digest
            self._place(new, (self.folder / old).read_bytes())
            self._save(manifest)
        return Mutation(f"row path {table}.{column} -> {new[:40]!r}", {table})

    def row_value(self) -> Mutation:
        table = self.pick(TABLES)
        rows = table_rows(self.folder, table)
        if not rows:
            return Mutation("row value (empty table)")
        kind = self.pick(["cell", "drop-column", "add-column", "duplicate", "delete"])
        if kind == "cell":
            row = self.pick(rows)
            row[self.pick(sorted(row))] = self.pick(VALUES[:14])
        elif kind == "drop-column":
            column = self.pick(sorted(rows[0]))
            for row in rows:
                row.pop(column)
        elif kind == "add-column":
            for row in rows:
                row["evil"] = "x"
        elif kind == "duplicate":
            rows.append(dict(rows[0]))
        else:
            rows.pop()
        rewrite_table(self.folder, table, rows)
        return Mutation(f"row value {table} {kind}", {table})

    def all(self) -> list[Callable[[], Mutation]]:
        return [self.manifest_value, self.manifest_drop, self.manifest_add, self.manifest_text, self.table_bytes,
                self.file_bytes, self.hash_value, self.row_path, self.row_value]


def _check_accepted(store: Store, digests: dict[str, str], mutation: Mutation) -> None:
    for table in TABLES:
        if table not in mutation.declared:
            assert table_digest(store, table) == digests[table], f"{mutation.name}: {table} changed silently"
    for table, column, root, exported in HOME_PATHS:
        for row in store.rows(f"SELECT {column} AS p FROM {table} WHERE {column} IS NOT NULL"):
            assert path_problem(row["p"], (root,)) is None, mutation.name
            path = inside(store.home.root, row["p"])
            assert not exported or (path.is_file() and not path.is_symlink()), mutation.name
    assert not [p for p in store.home.root.rglob("*") if p.is_symlink()], mutation.name


@pytest.mark.slow
def test_fuzzed_exports_never_escape_the_home_nor_import_a_silently_changed_table(tmp_path: Path) -> None:
    started = time.perf_counter()
    pristine, digests = make_small_export(tmp_path)
    outer = tmp_path / "outer"
    sentinel = outer / "sentinel"
    sentinel.mkdir(parents=True)
    (sentinel / "secret.bin").write_bytes(b"the sentinel's own file")
    rng = random.Random(SEED)
    home_root = outer / "homes" / "h"
    trial_folder = outer / "export"
    store = empty_store(home_root)
    tally = {"refused": 0, "accepted": 0}
    kinds: dict[str, int] = {}
    shutil.copytree(pristine, trial_folder, symlinks=True)
    home_skip = {store.home.db_path, home_root / "ipe.duckdb.wal"}
    try:
        for n in range(MUTATIONS):
            fuzzer = Fuzzer(rng, trial_folder, sentinel)
            mutation = fuzzer.pick(fuzzer.all())()
            kinds[mutation.name.split(" ")[0]] = kinds.get(mutation.name.split(" ")[0], 0) + 1
            outside_before = _tree(tmp_path, {home_root, trial_folder})
            home_before = _tree(home_root, home_skip)
            try:
                import_dataset(store, trial_folder, progress=False)
            except IPEError:
                tally["refused"] += 1
                assert _row_counts(store) == 0, f"#{n} {mutation.name}: refused but rows written"
                assert _tree(home_root, home_skip) == home_before, f"#{n} {mutation.name}: refused but files left"
            except Exception as err:  # noqa: BLE001 - the test's point: name the mutation with the traceback
                raise AssertionError(f"#{n} {mutation.name}: {type(err).__name__} escaped the importer") from err
            else:
                tally["accepted"] += 1
                _check_accepted(store, digests, mutation)
                _empty_again(store)
            assert _tree(tmp_path, {home_root, trial_folder}) == outside_before, \
                f"#{n} {mutation.name}: something outside the data home changed"
            _restore(trial_folder, pristine)
    finally:
        store.close()
    print(f"import fuzz: {MUTATIONS} mutations (seed {SEED}) {tally}, by kind {kinds}, "
          f"{time.perf_counter() - started:.1f} s")
    assert tally["refused"] > MUTATIONS // 2  # most mutations must be caught, not imported
