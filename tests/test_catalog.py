"""Catalog import: validation lists every problem and nothing is written on failure."""
from __future__ import annotations

import csv
import shutil

import pytest

from core.catalog import import_catalog, read_catalog
from core.errors import CatalogError
from core.export import table_digest
from core.store import Store
from data.demo_catalog import generate_demo_catalog
from tests.store_helpers import write_catalog


def _snapshot(store: Store) -> tuple:
    files = sorted(p.name for p in store.home.catalog.rglob("*") if p.is_file())
    return tuple(table_digest(store, t) for t in ("catalog", "item", "outfit")) + (tuple(files),)


def test_import_folder_then_reimport_is_idempotent(home, tmp_path) -> None:
    folder = write_catalog(tmp_path / "cat")
    with Store.open(home) as store:
        report = import_catalog(store, folder)
        assert (report.items_added, report.outfits_added) == (6, 9)
        again = import_catalog(store, folder)
        assert (again.items_added, again.outfits_added, again.items_unchanged) == (0, 0, 6)
        assert store.count("item") == 6
        # images are copied into the data home: the source folder can go
        shutil.rmtree(folder)
        assert all(__import__("os").path.isfile(i["path"]) for i in store.list_items())


def test_import_from_items_csv_path(home, tmp_path) -> None:
    folder = write_catalog(tmp_path / "cat")
    with Store.open(home) as store:
        report = import_catalog(store, folder / "items.csv")
        assert report.outfits_added == 9


def _break(folder, how: str) -> None:
    rows = list(csv.DictReader(open(folder / "items.csv")))
    if how == "missing file":
        (folder / rows[0]["path"]).unlink()
    elif how == "not an image":
        (folder / rows[1]["path"]).write_bytes(b"this is text, not a png")
    elif how == "duplicate id":
        rows[2]["item_id"] = rows[1]["item_id"]
    elif how == "duplicate image":
        shutil.copyfile(folder / rows[0]["path"], folder / rows[1]["path"])
    elif how == "unknown top":
        with open(folder / "outfits.csv", "a") as handle:
            handle.write("o99,t42,b0\n")
    elif how == "bottom as top":
        with open(folder / "outfits.csv", "a") as handle:
            handle.write("o98,b1,b0\n")
    elif how == "bad kind":
        rows[0]["kind"] = "hat"
    if how in {"duplicate id", "bad kind"}:
        with open(folder / "items.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


@pytest.mark.parametrize(
    "how, message",
    [
        ("missing file", "file not found"),
        ("not an image", "not a readable image"),
        ("duplicate id", "duplicate item_id"),
        ("duplicate image", "duplicate"),
        ("unknown top", "unknown top id 't42'"),
        ("bottom as top", "is a bottom, not a top"),
        ("bad kind", "kind must be 'top' or 'bottom'"),
    ],
)
def test_bad_catalog_gives_its_error_and_leaves_the_store_unchanged(home, tmp_path, how, message) -> None:
    with Store.open(home) as store:
        import_catalog(store, write_catalog(tmp_path / "good", n_tops=2, n_bottoms=1))
        before = _snapshot(store)
        bad = write_catalog(tmp_path / "bad")
        _break(bad, how)
        with pytest.raises(CatalogError, match=message) as info:
            import_catalog(store, bad)
        assert "nothing was written" in str(info.value)
        assert _snapshot(store) == before


def test_conflict_with_existing_item_is_refused(home, tmp_path) -> None:
    with Store.open(home) as store:
        import_catalog(store, write_catalog(tmp_path / "a"))
        other = write_catalog(tmp_path / "b")
        from PIL import Image
        Image.new("RGB", (32, 32), (1, 2, 3)).save(other / "tops" / "t0.png")
        before = _snapshot(store)
        with pytest.raises(CatalogError, match="different image"):
            import_catalog(store, other)
        assert _snapshot(store) == before


def test_missing_csv_columns(tmp_path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "items.csv").write_text("id,kind\n1,top\n")
    (folder / "outfits.csv").write_text("outfit_id,top_id,bottom_id\n")
    with pytest.raises(CatalogError, match="missing column"):
        read_catalog(folder)


def test_demo_catalog_is_varied_marked_and_deterministic(tmp_path) -> None:
    a = generate_demo_catalog(tmp_path / "a", seed=0)
    b = generate_demo_catalog(tmp_path / "b", seed=0)
    spec = read_catalog(a)  # valid by the importer's own rules
    tops = [i for i in spec.items if i.kind == "top"]
    bottoms = [i for i in spec.items if i.kind == "bottom"]
    assert len(tops) >= 30 and len(bottoms) >= 30 and len(spec.outfits) >= 60
    assert spec.is_demo and "DEMO" in (a / "DEMO.txt").read_text()
    for key, minimum in (("color", 8), ("pattern", 4), ("shape", 4), ("color_family", 3)):
        assert len({i.attributes[key] for i in spec.items}) >= minimum
    for path in sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file()):
        assert (a / path).read_bytes() == (b / path).read_bytes()
    used_tops = {o[1] for o in spec.outfits}
    assert len(used_tops) == len(tops)  # every top appears in some outfit
