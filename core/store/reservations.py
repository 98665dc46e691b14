"""Outfit reservations: the outfits an open session has planned and not yet shown, held in the database.

Planning a session picks the least-covered outfits, and coverage counts live reservations, so two
collection servers starting sessions at the same moment never hand out the same least-covered
outfit: planning runs under the store's write lock (on PostgreSQL also an advisory lock, so across
servers) and the new session's reservations are written in the transaction that creates it.

A reservation (``outfit_reservation``: session, volunteer, outfit, ``expires_at``, ``hold_s``) ends
when its view is stored (rated, skipped or failed: the slot is used), when the session finishes,
or when it expires: ``hold_s`` (``IPE_RESERVATION_S``, about a session's length) after the session
started or last stored a view, so an abandoned browser tab stops holding outfits while a slow but
active volunteer keeps theirs. Expired rows are ignored at once and deleted at the next planning.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core.store.connection import execute

# a session of 15 outfits takes about ten minutes; renewed by each stored view
RESERVATION_S = 600.0


def check_hold(hold_s: float) -> float:
    if not hold_s > 0:
        raise ValueError(f"a reservation is held for a positive number of seconds, not {hold_s!r}")
    return float(hold_s)


def reserve(cur: Any, session_id: str, volunteer_id: str, outfits: list[str], hold_s: float, now: datetime) -> None:
    """Reserve a new session's planned outfits (inside the transaction that inserts the session)."""
    expires = now + timedelta(seconds=check_hold(hold_s))
    for outfit_id in dict.fromkeys(outfits):
        execute(cur, "INSERT INTO outfit_reservation (session_id, volunteer_id, outfit_id, expires_at, hold_s) "
                "VALUES (?, ?, ?, ?, ?)", [session_id, volunteer_id, outfit_id, expires, hold_s])


def release(cur: Any, session_id: str, outfit_id: str, now: datetime) -> None:
    """A view of the session was stored: its outfit's reservation ends, the others are renewed."""
    execute(cur, "DELETE FROM outfit_reservation WHERE session_id = ? AND outfit_id = ?", [session_id, outfit_id])
    held = cur.execute("SELECT max(hold_s) FROM outfit_reservation WHERE session_id = ?", [session_id]).fetchall()
    if held and held[0][0] is not None:
        execute(cur, "UPDATE outfit_reservation SET expires_at = ? WHERE session_id = ?",
                [now + timedelta(seconds=float(held[0][0])), session_id])


def release_session(cur: Any, session_id: str) -> None:
    """The session finished (or stopped early): nothing of it stays reserved."""
    execute(cur, "DELETE FROM outfit_reservation WHERE session_id = ?", [session_id])


def drop_expired(cur: Any, now: datetime) -> None:
    execute(cur, "DELETE FROM outfit_reservation WHERE expires_at <= ?", [now])


LIVE_COUNTS = ("SELECT outfit_id, count(*) AS n FROM outfit_reservation WHERE expires_at > ? GROUP BY outfit_id")
