"""Volunteers and their sessions, and how often each outfit has been rated."""
from __future__ import annotations

import secrets
from typing import Any

from core.errors import StoreError, VolunteerWithdrawnError
from core.store import reservations
from core.store.connection import StoreConnection, constraint_violation, execute, new_id, to_json, utcnow

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud safely


def _withdrawal_code() -> str:
    chars = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


class VolunteerTables(StoreConnection):
    def add_volunteer(
        self, *, age_band: str, gender: str, extra: dict | None = None, consent: dict[str, Any]
    ) -> dict[str, Any]:
        """Create a pseudonymous volunteer; ``consent['recording']`` must be true."""
        if not consent.get("version"):
            raise StoreError("consent needs a version")
        if not consent.get("recording"):
            raise StoreError("a volunteer can only be added after consenting to recording and analysis")
        if not age_band or not gender:
            raise StoreError("age band and gender are required (gender may be 'prefer not to say')")
        accepted = consent.get("accepted_at") or utcnow()
        for _ in range(5):
            volunteer_id = "v-" + secrets.token_hex(4)
            code = _withdrawal_code()
            try:
                with self.transaction() as cur:
                    execute(
                        cur,
                        "INSERT INTO volunteer (volunteer_id, withdrawal_code, age_band, gender, extra, consent_version, "
                        "consent_recording, consent_training, consent_publication, consent_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [volunteer_id, code, age_band, gender, to_json(extra or {}), str(consent["version"]),
                         bool(consent.get("recording")), bool(consent.get("training")),
                         bool(consent.get("publication")), accepted],
                    )
            except StoreError as err:
                if constraint_violation(err.__cause__):
                    continue  # an id or code collision: draw again
                raise
            return self.get_volunteer(volunteer_id)  # type: ignore[return-value]
        raise StoreError("could not draw a unique volunteer id; try again")

    def get_volunteer(self, volunteer_id: str) -> dict[str, Any] | None:
        return self.one("SELECT * FROM volunteer WHERE volunteer_id = ?", [volunteer_id])

    def find_volunteer(self, id_or_withdrawal_code: str) -> dict[str, Any] | None:
        key = (id_or_withdrawal_code or "").strip()
        return self.one(
            "SELECT * FROM volunteer WHERE volunteer_id = ? OR withdrawal_code = upper(?)", [key, key]
        )

    def list_volunteers(self) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT v.*, (SELECT count(*) FROM session s WHERE s.volunteer_id = v.volunteer_id) AS sessions "
            "FROM volunteer v ORDER BY v.created_at, v.volunteer_id"
        )

    def start_session(
        self,
        volunteer_id: str,
        *,
        device_info: dict | None = None,
        plan: list[str] | None = None,
        research_mode: str | None = None,
        self_view: bool | None = None,
        reservation_s: float = reservations.RESERVATION_S,
    ) -> str:
        """Start a session; ``self_view``: whether the volunteer saw their own camera picture during takes.

        The plan's outfits are reserved for ``reservation_s`` seconds, renewed by each stored view
        (``reservations.py``)."""
        reservations.check_hold(reservation_s)
        session_id = new_id("s")
        with self.write_lock():  # the check and the insert: a withdrawal cannot come between them
            self.require_volunteer(volunteer_id, what="no session was started")
            with self.transaction() as cur:
                now = utcnow()
                execute(
                    cur,
                    "INSERT INTO session (session_id, volunteer_id, started_at, device_info, plan, research_mode, self_view) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [session_id, volunteer_id, now, to_json(device_info or {}), to_json(plan or []), research_mode,
                     self_view],
                )
                reservations.reserve(cur, session_id, volunteer_id, plan or [], reservation_s, now)
        return session_id

    def require_volunteer(self, volunteer_id: str, *, what: str) -> None:
        """Raise unless the volunteer exists: :class:`VolunteerWithdrawnError` when this process
        deleted them (``what`` says what was not done), :class:`StoreError` for an unknown id."""
        if self.get_volunteer(volunteer_id) is not None:
            return
        if volunteer_id in self._withdrawn:
            raise VolunteerWithdrawnError(f"volunteer {volunteer_id} has withdrawn and their data was deleted; {what}")
        raise StoreError(f"unknown volunteer {volunteer_id!r}")

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        return self.one("SELECT * FROM session WHERE session_id = ?", [session_id])

    def add_camera_restarts(self, session_id: str, count: int = 1) -> int:
        """Count ``count`` more camera restarts (the page reconnected a camera that delivered no
        frames) for a session; returns the session's new total. StoreError for an unknown session."""
        if count < 0:
            raise StoreError(f"a count of camera restarts cannot be negative ({count})")
        with self.write_lock():
            if self.get_session(session_id) is None:
                raise StoreError(f"unknown session {session_id!r}: its camera restarts were not counted")
            with self.transaction() as cur:
                execute(cur, "UPDATE session SET camera_restarts = coalesce(camera_restarts, 0) + ? "
                        "WHERE session_id = ?", [count, session_id])
            return int(self.get_session(session_id)["camera_restarts"])

    def finish_session(self, session_id: str, *, stopped_early: bool = False) -> None:
        with self.transaction() as cur:
            execute(
                cur,
                "UPDATE session SET finished_at = ?, stopped_early = ? WHERE session_id = ? AND finished_at IS NULL",
                [utcnow(), stopped_early, session_id],
            )
            reservations.release_session(cur, session_id)

    def sessions_for_volunteer(self, volunteer_id: str) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM session WHERE volunteer_id = ? ORDER BY started_at", [volunteer_id])

    def outfits_seen_by(self, volunteer_id: str) -> set[str]:
        rows = self.rows("SELECT DISTINCT outfit_id FROM view WHERE volunteer_id = ?", [volunteer_id])
        return {r["outfit_id"] for r in rows}

    def outfit_coverage(self, *, include_planned: bool = False) -> dict[str, int]:
        """Rated (status ok) views per outfit, every outfit present (0 when unrated).

        With ``include_planned`` (what session planning uses), an outfit also counts once for
        every live reservation of it: open sessions that planned it and have not shown it yet
        (``reservations.py``). Volunteers who start one after the other, on any server, therefore
        get different least-covered outfits.
        """
        rows = self.rows(
            "SELECT o.outfit_id, count(v.view_id) AS n FROM outfit o "
            "LEFT JOIN view v ON v.outfit_id = o.outfit_id AND v.status = 'ok' GROUP BY o.outfit_id"
        )
        coverage = {r["outfit_id"]: int(r["n"]) for r in rows}
        if include_planned:
            for r in self.rows(reservations.LIVE_COUNTS, [utcnow()]):
                if r["outfit_id"] in coverage:
                    coverage[r["outfit_id"]] += int(r["n"])
        return coverage

    def drop_expired_reservations(self) -> None:
        """Delete reservations past their expiry (they already count for nothing)."""
        with self.transaction() as cur:
            reservations.drop_expired(cur, utcnow())

    def reservations_of(self, session_id: str) -> list[dict[str, Any]]:
        """The session's outfit reservations (expired ones too, until the next planning deletes them)."""
        return self.rows("SELECT * FROM outfit_reservation WHERE session_id = ? ORDER BY outfit_id", [session_id])
