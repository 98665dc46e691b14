"""Reads of the catalog tables (``catalog``, ``item``, ``outfit``); imports are ``core.collection.catalog``."""
from __future__ import annotations

from typing import Any

from core.errors import StoreError
from core.store.connection import StoreConnection


class CatalogTables(StoreConnection):
    def list_catalogs(self) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM catalog ORDER BY created_at, catalog_id")

    def list_items(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Items with ``path`` made absolute (inside the data home)."""
        if kind is not None and kind not in ("top", "bottom"):
            raise StoreError(f"kind must be 'top' or 'bottom', not {kind!r}")
        rows = self.rows(
            "SELECT item_id, catalog_id, kind, path, sha256, width, height, attributes FROM item "
            "WHERE ? IS NULL OR kind = ? ORDER BY item_id",
            [kind, kind],
        )
        for row in rows:
            row["path"] = str(self.home.root / row["path"])
        return rows

    def list_outfits(self) -> list[dict[str, Any]]:
        """Outfits with the absolute paths of their top and bottom images."""
        rows = self.rows(
            "SELECT o.outfit_id, o.catalog_id, o.top_id, o.bottom_id, t.path AS top_path, b.path AS bottom_path "
            "FROM outfit o JOIN item t ON t.item_id = o.top_id JOIN item b ON b.item_id = o.bottom_id "
            "ORDER BY o.outfit_id"
        )
        for row in rows:
            row["top_path"] = str(self.home.root / row["top_path"])
            row["bottom_path"] = str(self.home.root / row["bottom_path"])
        return rows
