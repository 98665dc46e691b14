"""Catalog import: validation lists every problem and nothing is written on failure."""
from __future__ import annotations

import csv
import os
import shutil

import pytest

from core.collection.catalog import import_catalog, read_catalog
from core.errors import CatalogError, StoreError
from core.store.export import table_digest
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
        # images are copied into the data home (home.catalog/<catalog name>/): the source folder can go
        shutil.rmtree(folder)
        items = store.list_items()
        assert all(os.path.isfile(i["path"]) for i in items)
        assert {os.path.relpath(i["path"], home.catalog).split(os.sep)[0] for i in items} == {"cat"}
        assert os.path.basename(store.list_items("top")[0]["path"]) == "t0.png"
        assert [(c["catalog_id"], c["is_demo"]) for c in store.list_catalogs()] == [("cat", False)]
        assert import_catalog(store, write_catalog(tmp_path / "cat")).items_added == 0  # source back: still idempotent


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


def test_unsafe_item_ids_stay_inside_the_catalog_folder(home, tmp_path) -> None:
    folder = write_catalog(tmp_path / "cat", n_tops=1, n_bottoms=1)
    text = (folder / "items.csv").read_text().replace("t0,", "../../evil top,")
    (folder / "items.csv").write_text(text)
    (folder / "outfits.csv").write_text("outfit_id,top_id,bottom_id\no0,../../evil top,b0\n")
    with Store.open(home) as store:
        import_catalog(store, folder)
        top = store.list_items("top")[0]
        assert top["item_id"] == "../../evil top"
        assert os.path.dirname(top["path"]) == str(home.catalog / "cat" / "tops")
        assert store.list_outfits()[0]["top_id"] == "../../evil top"


def test_demo_catalog_imports_and_is_marked(home, tmp_path) -> None:
    source = generate_demo_catalog(tmp_path / "demo", seed=0, n_tops=4, n_bottoms=4, n_outfits=8)
    with Store.open(home) as store:
        report = import_catalog(store, source)
        assert (report.items_added, report.outfits_added) == (8, 8)
        assert store.list_catalogs()[0]["is_demo"] is True
        assert set(store.list_items()[0]["attributes"]) >= {"color", "pattern", "shape"}


def test_spreadsheet_csv_with_bom_and_padded_header_is_read(home, tmp_path) -> None:
    folder = write_catalog(tmp_path / "cat")
    text = (folder / "items.csv").read_text()
    (folder / "items.csv").write_text("\ufeff" + text.replace("item_id,kind", "item_id , kind", 1), encoding="utf-8")
    spec = read_catalog(folder)
    assert len(spec.items) == 6 and spec.items[0].item_id in {"t0", "b0"}


def _folders(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("which", ["item", "outfit"])
def test_a_5000_character_id_is_refused_before_any_folder_is_made(home, tmp_path, which) -> None:
    folder = write_catalog(tmp_path / "cat", n_tops=1, n_bottoms=1)
    long_id = "x" * 5000
    if which == "item":
        (folder / "items.csv").write_text((folder / "items.csv").read_text().replace("t0,", f"{long_id},"))
        (folder / "outfits.csv").write_text(f"outfit_id,top_id,bottom_id\no0,{long_id},b0\n")
    else:
        (folder / "outfits.csv").write_text(f"outfit_id,top_id,bottom_id\n{long_id},t0,b0\n")
    with Store.open(home) as store:
        before = _folders(home.catalog)
        with pytest.raises(CatalogError, match=f"{which}_id is 5000 characters long; use at most 128"):
            import_catalog(store, folder)
        assert _folders(home.catalog) == before and store.count("item") == 0


def test_a_failed_import_removes_the_folders_it_made(home, tmp_path) -> None:
    folder = write_catalog(tmp_path / "cat")
    Store.open(home).close()
    with Store.open(home, read_only=True) as store:  # the images are copied, then the write is refused
        before = _folders(home.catalog)
        with pytest.raises(StoreError, match="read-only"):
            import_catalog(store, folder)
        assert _folders(home.catalog) == before
    with Store.open(home) as store:
        assert import_catalog(store, folder).items_added == 6
