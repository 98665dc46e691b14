"""Import tops, bottoms and outfits into the store, all or nothing.

Input is a catalog folder::

    <catalog>/items.csv     item_id,kind,path,<free attribute columns...>  (path relative to the CSV)
    <catalog>/outfits.csv   outfit_id,top_id,bottom_id
    <catalog>/DEMO.txt      present only in a generated demo catalog

or the path of an ``items.csv`` (its ``outfits.csv`` beside it, or given explicitly).
Everything is validated before anything is written; every problem is listed in one
:class:`CatalogError`. Images are copied into ``<home>/catalog/<catalog name>/<kind>s/<item_id>.<ext>``
(so the store no longer needs the source folder) and the rows are inserted in one
transaction; if that fails, the images this import added are removed again. Importing the
same catalog again adds nothing; a catalog is named after its folder, and one with
``DEMO.txt`` is marked ``is_demo`` in the ``catalog`` table.
"""
from __future__ import annotations

import csv
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, UnidentifiedImageError

from core.errors import CatalogError
from core.files import atomic_copy, sha256_file

if TYPE_CHECKING:
    from core.store import Store

ITEM_COLUMNS = ("item_id", "kind", "path")
OUTFIT_COLUMNS = ("outfit_id", "top_id", "bottom_id")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
MAX_PROBLEMS_SHOWN = 20
MAX_ID_CHARS = 128  # ids name files and folders (at most 255 bytes per name on common file systems)


@dataclass(frozen=True)
class CatalogItem:
    item_id: str
    kind: str
    source: Path
    sha256: str
    width: int
    height: int
    attributes: dict[str, str]


@dataclass(frozen=True)
class CatalogSpec:
    name: str
    source: Path
    is_demo: bool
    items: tuple[CatalogItem, ...]
    outfits: tuple[tuple[str, str, str], ...]


@dataclass
class ImportReport:
    catalog_id: str
    items_added: int = 0
    items_unchanged: int = 0
    outfits_added: int = 0
    outfits_unchanged: int = 0
    files_copied: list[str] = field(default_factory=list)


def _safe_name(text: str) -> str:
    """A file-name-safe form of an id (ids that are already safe are kept as they are)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip(".") or "_"
    return safe


def _target(images: Path, item: CatalogItem) -> Path:
    safe = _safe_name(item.item_id)
    stem = safe if safe == item.item_id else f"{safe}-{item.sha256[:8]}"
    return images / f"{item.kind}s" / f"{stem}{item.source.suffix.lower()}"


def _missing_folders(folders: list[Path]) -> list[Path]:
    """The folders (and parents) among ``folders`` that do not exist yet, outermost first."""
    missing: set[Path] = set()
    for folder in folders:
        while not folder.exists() and folder not in missing:
            missing.add(folder)
            folder = folder.parent
    return sorted(missing, key=lambda p: len(p.parts))


def _read_csv(path: Path, required: tuple[str, ...], problems: list[str]) -> list[dict[str, str]]:
    if not path.is_file():
        problems.append(f"{path}: file not found")
        return []
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # -sig: spreadsheet exports start with a BOM
            reader = csv.DictReader(handle)
            reader.fieldnames = [c.strip() for c in (reader.fieldnames or [])]
            columns = reader.fieldnames
            missing = [c for c in required if c not in columns]
            if missing:
                problems.append(f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(columns) or 'none'})")
                return []
            return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    except (UnicodeDecodeError, csv.Error) as err:
        problems.append(f"{path}: not a readable UTF-8 CSV ({err})")
        return []


def _inspect_image(path: Path) -> tuple[str, int, int] | str:
    """``(sha256, width, height)`` or a problem description."""
    if not path.is_file():
        return "file not found"
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return f"not an image file type ({path.suffix or 'no suffix'}; use png, jpg or webp)"
    data = path.read_bytes()
    try:
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            img.load()
            width, height = img.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        return f"not a readable image ({err.__class__.__name__}: {err})"
    return hashlib.sha256(data).hexdigest(), width, height


def read_catalog(
    source: str | os.PathLike[str], outfits_csv: str | os.PathLike[str] | None = None, *, progress: bool = False
) -> CatalogSpec:
    """Read and validate a catalog folder or items CSV; raise CatalogError listing every problem."""
    source = Path(source).resolve()
    if source.is_dir():
        items_csv, folder = source / "items.csv", source
    elif source.is_file():
        items_csv, folder = source, source.parent
    else:
        raise CatalogError(f"{source} does not exist; give a catalog folder or an items CSV")
    outfits_path = Path(outfits_csv).resolve() if outfits_csv else folder / "outfits.csv"
    problems: list[str] = []
    item_rows = _read_csv(items_csv, ITEM_COLUMNS, problems)
    outfit_rows = _read_csv(outfits_path, OUTFIT_COLUMNS, problems)

    items: list[CatalogItem] = []
    seen_ids: dict[str, int] = {}
    seen_hash: dict[str, str] = {}
    rows = enumerate(item_rows, start=2)
    if progress:
        from tqdm import tqdm

        rows = tqdm(rows, total=len(item_rows), desc="check images", unit="image")
    for line, row in rows:
        where = f"{items_csv.name} line {line}"
        item_id, kind, rel = row["item_id"], row["kind"].lower(), row["path"]
        if not item_id:
            problems.append(f"{where}: empty item_id")
            continue
        if item_id in seen_ids:
            problems.append(f"{where}: duplicate item_id {item_id!r} (also line {seen_ids[item_id]})")
            continue
        seen_ids[item_id] = line
        if len(item_id) > MAX_ID_CHARS:
            problems.append(f"{where}: item_id is {len(item_id)} characters long; use at most {MAX_ID_CHARS}")
            continue
        if kind not in ("top", "bottom"):
            problems.append(f"{where}: kind must be 'top' or 'bottom', not {row['kind']!r}")
            continue
        image = (folder / rel).resolve() if rel else folder
        info = _inspect_image(image) if rel else "empty path"
        if isinstance(info, str):
            problems.append(f"{where}: {rel or '(no path)'}: {info}")
            continue
        sha, width, height = info
        if sha in seen_hash:
            problems.append(f"{where}: {rel} is the same image as item {seen_hash[sha]!r} (duplicate)")
            continue
        seen_hash[sha] = item_id
        attributes = {k: v for k, v in row.items() if k not in ITEM_COLUMNS}
        items.append(CatalogItem(item_id, kind, image, sha, width, height, attributes))

    kinds = {item.item_id: item.kind for item in items}
    outfits: list[tuple[str, str, str]] = []
    seen_outfits: set[str] = set()
    seen_pairs: set[tuple[str, str]] = set()
    for line, row in enumerate(outfit_rows, start=2):
        where = f"{outfits_path.name} line {line}"
        oid, top, bottom = row["outfit_id"], row["top_id"], row["bottom_id"]
        if not oid:
            problems.append(f"{where}: empty outfit_id")
            continue
        if oid in seen_outfits:
            problems.append(f"{where}: duplicate outfit_id {oid!r}")
            continue
        seen_outfits.add(oid)
        if len(oid) > MAX_ID_CHARS:
            problems.append(f"{where}: outfit_id is {len(oid)} characters long; use at most {MAX_ID_CHARS}")
            continue
        bad = False
        for wanted, ref in (("top", top), ("bottom", bottom)):
            if ref not in seen_ids:
                problems.append(f"{where}: unknown {wanted} id {ref!r}")
                bad = True
            elif ref in kinds and kinds[ref] != wanted:
                problems.append(f"{where}: {ref!r} is a {kinds[ref]}, not a {wanted}")
                bad = True
        if (top, bottom) in seen_pairs:
            problems.append(f"{where}: the pair {top}+{bottom} is already outfit of another line (duplicate)")
            bad = True
        seen_pairs.add((top, bottom))
        if not bad:
            outfits.append((oid, top, bottom))

    if len(folder.name) > MAX_ID_CHARS:
        problems.append(f"{folder}: the catalog is named after its folder, whose name is longer than "
                        f"{MAX_ID_CHARS} characters; rename the folder")
    if not problems and not items:
        problems.append(f"{items_csv}: no items")
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        raise CatalogError(
            f"catalog {source} not imported ({len(problems)} problem(s); nothing was written):\n  - "
            + "\n  - ".join(shown)
            + (f"\n  ... and {more} more" if more else "")
        )
    return CatalogSpec(folder.name, folder, (folder / "DEMO.txt").is_file(), tuple(items), tuple(outfits))


def import_catalog(
    store: Store, source: str | os.PathLike[str], outfits_csv: str | os.PathLike[str] | None = None,
    *, progress: bool = False,
) -> ImportReport:
    """Validate, copy and insert a catalog; all or nothing. Re-importing is idempotent."""
    spec = read_catalog(source, outfits_csv, progress=progress)
    catalog_id = spec.name
    existing_items = {r["item_id"]: r for r in store.rows("SELECT item_id, kind, sha256 FROM item")}
    existing_hash = {r["sha256"]: r["item_id"] for r in existing_items.values()}
    existing_outfits = {
        r["outfit_id"]: (r["top_id"], r["bottom_id"])
        for r in store.rows("SELECT outfit_id, top_id, bottom_id FROM outfit")
    }
    existing_pairs = {pair: oid for oid, pair in existing_outfits.items()}
    conflicts = []
    for item in spec.items:
        old = existing_items.get(item.item_id)
        if old and (old["sha256"] != item.sha256 or old["kind"] != item.kind):
            conflicts.append(f"item {item.item_id!r} already exists with a different image or kind")
        elif not old and item.sha256 in existing_hash:
            conflicts.append(f"item {item.item_id!r} is the same image as existing item {existing_hash[item.sha256]!r}")
    for oid, top, bottom in spec.outfits:
        if oid in existing_outfits and existing_outfits[oid] != (top, bottom):
            conflicts.append(f"outfit {oid!r} already exists with other garments")
        elif oid not in existing_outfits and (top, bottom) in existing_pairs:
            conflicts.append(f"outfit {oid!r} repeats existing outfit {existing_pairs[(top, bottom)]!r}")
    if conflicts:
        raise CatalogError(
            f"catalog {spec.source} not imported (nothing was written): it conflicts with the store:\n  - "
            + "\n  - ".join(conflicts[:MAX_PROBLEMS_SHOWN])
        )

    report = ImportReport(catalog_id)
    images = store.home.catalog / _safe_name(catalog_id)
    new_items = [i for i in spec.items if i.item_id not in existing_items]
    copied: list[Path] = []
    made = _missing_folders([_target(images, item).parent for item in new_items])  # removed again on failure
    try:
        for item in new_items:
            target = _target(images, item)
            if target.is_file() and sha256_file(target) == item.sha256:
                continue  # left by an earlier import of the same bytes
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_copy(item.source, target)  # no row refers to this name yet: the item is new
            copied.append(target)
        with store.transaction() as cur:
            if not cur.execute("SELECT 1 FROM catalog WHERE catalog_id = ?", [catalog_id]).fetchall():
                cur.execute(
                    "INSERT INTO catalog (catalog_id, name, source, is_demo) VALUES (?, ?, ?, ?)",
                    [catalog_id, spec.name, str(spec.source), spec.is_demo],
                )
            for item in new_items:
                rel = _target(images, item).relative_to(store.home.root)
                cur.execute(
                    "INSERT INTO item (item_id, catalog_id, kind, path, sha256, width, height, attributes) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [item.item_id, catalog_id, item.kind, str(rel), item.sha256, item.width, item.height,
                     _json(item.attributes)],
                )
            for oid, top, bottom in spec.outfits:
                if oid in existing_outfits:
                    continue
                cur.execute(
                    "INSERT INTO outfit (outfit_id, catalog_id, top_id, bottom_id) VALUES (?, ?, ?, ?)",
                    [oid, catalog_id, top, bottom],
                )
    except BaseException as exc:
        for path in copied:
            path.unlink(missing_ok=True)
        for folder in reversed(made):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        if isinstance(exc, OSError):
            raise CatalogError(f"catalog {spec.source} not imported (nothing was written): "
                               f"copying its images into {images} failed: {exc}") from exc
        raise
    report.items_added = len(new_items)
    report.items_unchanged = len(spec.items) - len(new_items)
    report.outfits_added = sum(1 for o in spec.outfits if o[0] not in existing_outfits)
    report.outfits_unchanged = len(spec.outfits) - report.outfits_added
    report.files_copied = [str(p) for p in copied]
    return report


def _json(value: dict[str, str]) -> str:
    import json

    return json.dumps(value, sort_keys=True)
