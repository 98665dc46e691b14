"""Counts for the researcher page and ``python -m app stats``."""
from __future__ import annotations

from typing import Any

from core.store.people import VolunteerTables
from core.store.recordings import VIEW_STATUSES


class Stats(VolunteerTables):
    def stats(self, thresholds: Any = None) -> dict[str, Any]:
        """Counts for the researcher page and ``python -m app stats``, all from one snapshot."""
        with self.snapshot():
            return self._stats(thresholds)

    def _stats(self, thresholds: Any) -> dict[str, Any]:
        from core.labels import CLASS_NAMES, LabelThresholds, score_to_class

        thresholds = thresholds or LabelThresholds()
        by_status = {r["status"]: int(r["n"]) for r in self.rows("SELECT status, count(*) AS n FROM view GROUP BY status")}
        classes = {name: 0 for name in CLASS_NAMES}
        for row in self.rows("SELECT rating FROM view WHERE status = 'ok' AND rating IS NOT NULL"):
            classes[CLASS_NAMES[score_to_class(row["rating"], thresholds)]] += 1
        values = sorted(self.outfit_coverage().values())
        restarts = self.rows("SELECT coalesce(sum(camera_restarts), 0) AS n, count(*) FILTER (WHERE camera_restarts > 0) AS s "
                             "FROM session")[0]
        return {
            "volunteers": self.count("volunteer"),
            "sessions": self.count("session"),
            "sessions_finished": int(self.rows("SELECT count(*) AS n FROM session WHERE finished_at IS NOT NULL")[0]["n"]),
            "camera_restarts": int(restarts["n"]),
            "sessions_with_camera_restarts": int(restarts["s"]),
            "views": sum(by_status.values()),
            "views_by_status": {s: by_status.get(s, 0) for s in VIEW_STATUSES},
            "classes": classes,
            "thresholds": {"negative_max": thresholds.negative_max, "positive_min": thresholds.positive_min},
            "items": self.count("item"),
            "outfits": self.count("outfit"),
            "coverage_min": values[0] if values else 0,
            "coverage_max": values[-1] if values else 0,
            "labelers": self.count("labeler"),
            "image_labels": int(self.rows("SELECT count(*) AS n FROM image_label WHERE undone_at IS NULL")[0]["n"]),
            "splits": [r["split_name"] for r in self.rows("SELECT split_name FROM split ORDER BY split_name")],
            "model_runs": self.count("model_run"),
        }

    def camera_restarts_by_session(self) -> list[dict[str, Any]]:
        """Sessions whose camera the page had to reconnect, most restarts first (researcher page)."""
        return self.rows("SELECT session_id, volunteer_id, started_at, camera_restarts FROM session "
                         "WHERE camera_restarts > 0 ORDER BY camera_restarts DESC, started_at")
