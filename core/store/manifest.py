"""The export manifest: its format, and reading and checking it (an export is untrusted input).

``manifest.json`` holds ``format``, ``schema_version``, ``created_at``, ``tables`` (EVERY
exported table with its row count and the sha256 of its Parquet file) and ``files`` (every
recording and catalog image, by path relative to the data home, with its sha256). Reading
it checks the types of every field, that every table is listed, that every path is clean
(relative, normalised, under ``videos/`` or ``catalog/``) and that no file of the export is a
symlink, then every hash. Any problem is one :class:`StoreError` naming it; nothing is written.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from core.errors import StoreError
from core.files import sha256_file
from core.store.home_files import relative_path_problem, unaliased

FORMAT = "ipe-export/1"
TABLES = (
    "catalog", "item", "outfit", "volunteer", "session", "view", "labeler", "image_label",
    "split", "split_member", "model_run",
)
# columns holding paths into the data home: (table, column, folder it must lie in, exported file?)
HOME_PATHS = (
    ("view", "video_path", "videos", True),
    ("item", "path", "catalog", True),
    ("model_run", "checkpoint_path", "runs", False),
)
FILE_ROOTS = ("videos", "catalog")
MAX_MANIFEST_BYTES = 64 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


def path_problem(rel: object, roots: tuple[str, ...]) -> str | None:
    """Why ``rel`` may not name a file of the data home under one of ``roots`` (``None``: it may)."""
    problem = relative_path_problem(rel)
    if problem is None and str(rel).split("/")[0] not in roots:
        problem = f"it is not under {' or '.join(f'{r}/' for r in roots)}"
    return problem


def _malformed(folder: Path, what: str) -> StoreError:
    return StoreError(f"{folder} is not a valid export: manifest.json {what}; "
                      "make the export again with `python -m app export`")


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _digest(value: object) -> bool:
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of export ``folder`` with every field's type and every path checked (no hashes)."""
    path = folder / "manifest.json"
    if not unaliased(folder, "manifest.json") or not path.is_file():
        raise StoreError(f"{folder} is not an export of this kit: manifest.json is missing (or is a symlink)")
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise _malformed(folder, f"is larger than {MAX_MANIFEST_BYTES >> 20} MiB")
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise StoreError(f"{folder} is not an export of this kit (manifest.json unreadable: {err})") from err
    if not isinstance(manifest, dict):
        raise _malformed(folder, f"is a JSON {type(manifest).__name__}, not an object")
    missing = [k for k in ("format", "schema_version", "tables", "files") if k not in manifest]
    if missing:
        raise _malformed(folder, f"lacks {', '.join(missing)}")
    if manifest["format"] != FORMAT:
        raise StoreError(f"{folder}: unknown export format {str(manifest['format'])[:80]!r} (this kit reads {FORMAT})")
    if not _whole(manifest["schema_version"]):
        raise _malformed(folder, "has a schema_version that is not a whole number")
    tables, files = manifest["tables"], manifest["files"]
    if not isinstance(tables, dict) or not isinstance(files, dict):
        raise _malformed(folder, "needs 'tables' and 'files' to be objects")
    unknown = sorted(set(tables) - set(TABLES))
    absent = [t for t in TABLES if t not in tables]
    if unknown or absent:
        raise _malformed(folder, "must list exactly the tables " + ", ".join(TABLES)
                         + (f"; unknown: {', '.join(t[:40] for t in unknown[:5])}" if unknown else "")
                         + (f"; missing: {', '.join(absent)}" if absent else ""))
    for table in TABLES:
        info = tables[table]
        if not isinstance(info, dict) or not _whole(info.get("rows")) or not _digest(info.get("sha256")):
            raise _malformed(folder, f"entry of table {table} needs 'rows' (a whole number) and 'sha256' (64 hex digits)")
    for rel, digest in files.items():
        problem = path_problem(rel, FILE_ROOTS)
        if problem is not None:
            raise _malformed(folder, f"lists the file {rel[:200]!r}, which is refused: {problem}")
        if not _digest(digest):
            raise _malformed(folder, f"has no valid sha256 (64 hex digits) for {rel[:200]!r}")
    return manifest


def verify_export(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the manifest and check every hash; raise StoreError naming what is wrong."""
    folder = Path(folder).resolve()
    manifest = read_manifest(folder)
    bad = []
    wanted = [(f"tables/{t}.parquet", manifest["tables"][t]["sha256"]) for t in TABLES]
    for rel, digest in [*wanted, *manifest["files"].items()]:
        if not unaliased(folder, rel):
            bad.append(f"{rel[:200]} (a symlink, or under one)")
        elif _sha256_or_none(folder / rel) != digest:
            bad.append(rel[:200])
    if bad:
        raise StoreError(f"export {folder} is damaged; missing or changed: {', '.join(bad[:10])}"
                         + (f" and {len(bad) - 10} more" if len(bad) > 10 else ""))
    return manifest


def _sha256_or_none(path: Path) -> str | None:
    """The file's sha256; ``None`` when it is missing, not a plain file, or unreadable (e.g. a name too long)."""
    try:
        return sha256_file(path) if path.is_file() else None
    except OSError:
        return None
