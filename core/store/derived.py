"""Derived data the store indexes: feature-cache entries and trained model runs."""
from __future__ import annotations

from typing import Any

from core.store.connection import StoreConnection, execute, new_id, to_json


class DerivedTables(StoreConnection):
    def put_feature_cache(
        self, *, video_sha256: str, extractor: str, version: str, path: str, meta: dict | None = None
    ) -> None:
        with self.transaction() as cur:
            execute(
                cur,
                "INSERT INTO feature_cache (video_sha256, extractor, version, path, meta) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (video_sha256, extractor, version) DO UPDATE SET path = excluded.path, meta = excluded.meta",
                [video_sha256, extractor, version, path, to_json(meta or {})],
            )

    def get_feature_cache(self, video_sha256: str, extractor: str, version: str) -> dict[str, Any] | None:
        return self.one(
            "SELECT * FROM feature_cache WHERE video_sha256 = ? AND extractor = ? AND version = ?",
            [video_sha256, extractor, version],
        )

    def add_model_run(
        self, *, kind: str, config: dict, metrics: dict, checkpoint_path: str, split_name: str | None = None,
        run_id: str | None = None,
    ) -> str:
        run_id = run_id or new_id("run")
        with self.transaction() as cur:
            execute(
                cur,
                "INSERT INTO model_run (run_id, kind, config, metrics, checkpoint_path, split_name) VALUES (?, ?, ?, ?, ?, ?)",
                [run_id, kind, to_json(config), to_json(metrics), checkpoint_path, split_name],
            )
        return run_id

    def list_model_runs(self, kind: str | None = None) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM model_run WHERE ? IS NULL OR kind = ? ORDER BY created_at", [kind, kind])
