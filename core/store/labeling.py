"""Labelers and their image labels (the image-labeling tool's answers)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from core.errors import StoreError
from core.store.connection import StoreConnection, constraint_violation, execute, new_id, utcnow

ANSWERS = ("preferred", "not_preferred", "skip")


def _check_region(region_xy: tuple[float, float] | None) -> None:
    if region_xy is not None and not all(0.0 <= c <= 1.0 for c in region_xy):
        raise StoreError("a decisive-region click is given in image fractions (0..1)")


class LabelTables(StoreConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._known_labelers: set[str] = set()

    def add_labeler(self, name: str) -> str:
        name = (name or "").strip()
        if not name:
            raise StoreError("a labeler needs a name or id")
        with self.transaction() as cur:
            rows = cur.execute("SELECT labeler_id FROM labeler WHERE name = ?", [name]).fetchall()
            if rows:
                return rows[0][0]
            labeler_id = new_id("l")
            execute(cur, "INSERT INTO labeler (labeler_id, name) VALUES (?, ?)", [labeler_id, name])
        return labeler_id

    def list_labelers(self) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM labeler ORDER BY name")

    def add_image_label(
        self,
        *,
        labeler_id: str,
        image_path: str,
        image_sha256: str,
        answer: str,
        response_ms: int,
        region_xy: tuple[float, float] | None = None,
        is_gold: bool = False,
        slow: bool = False,
        label_id: str | None = None,
        image_set: str | None = None,
        answered_at: datetime | None = None,
    ) -> str:
        """Store one answer; idempotent on ``label_id`` (a UUID made by the client)."""
        if answer not in ANSWERS:
            raise StoreError(f"answer must be one of {ANSWERS}, not {answer!r}")
        if response_ms < 0:
            raise StoreError("a response time cannot be negative")
        _check_region(region_xy)
        label_id = label_id or str(uuid.uuid4())
        if labeler_id not in self._known_labelers:  # labelers are never deleted: check once per id
            if self.one("SELECT labeler_id FROM labeler WHERE labeler_id = ?", [labeler_id]) is None:
                raise StoreError(f"unknown labeler {labeler_id!r}")
            self._known_labelers.add(labeler_id)
        rx, ry = region_xy if region_xy is not None else (None, None)
        try:
            with self.transaction() as cur:  # one primary-key insert in the common case
                cur.execute(
                    "INSERT INTO image_label (label_id, labeler_id, image_set, image_path, image_sha256, answer, "
                    "response_ms, region_x, region_y, is_gold, slow, answered_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [label_id, labeler_id, image_set, image_path, image_sha256, answer, int(response_ms), rx, ry,
                     bool(is_gold), bool(slow), answered_at or utcnow()],
                )
        except StoreError as err:
            # a retry of an answer already stored (same label_id) is fine; anything else is not
            if constraint_violation(err.__cause__) and self.one(
                "SELECT label_id FROM image_label WHERE label_id = ?", [label_id]
            ):
                return label_id
            raise
        return label_id

    def set_label_region(self, label_id: str, region_xy: tuple[float, float]) -> None:
        _check_region(region_xy)
        with self.transaction() as cur:
            execute(cur, "UPDATE image_label SET region_x = ?, region_y = ? WHERE label_id = ?",
                    [region_xy[0], region_xy[1], label_id])

    def undo_image_label(self, label_id: str) -> None:
        """Mark an answer as undone; it is kept (with ``undone_at``) for the audit trail."""
        with self.transaction() as cur:
            execute(cur, "UPDATE image_label SET undone_at = ? WHERE label_id = ? AND undone_at IS NULL",
                    [utcnow(), label_id])

    def list_image_labels(self, labeler_id: str | None = None, *, include_undone: bool = False) -> list[dict[str, Any]]:
        rows = self.rows(
            "SELECT * FROM image_label WHERE (? IS NULL OR labeler_id = ?) AND (? OR undone_at IS NULL) "
            "ORDER BY answered_at, created_at",
            [labeler_id, labeler_id, include_undone],
        )
        for row in rows:
            row["region_xy"] = None if row["region_x"] is None else (row["region_x"], row["region_y"])
        return rows
