"""Who may continue what: session resume keys, returning volunteers, registered image folders.

Functions over a :class:`core.store.Store` (its public ``transaction()`` and ``held()``):

- A session is resumed only with the random key made when it started (given once, to the
  browser that started it, in its URL); the store keeps the key's SHA-256, never the key.
- A returning volunteer is found by withdrawal code only (never by id, which is not a
  secret); the code is replaced by a new one and the new consent is stored, in one transaction.
- Labeling reads image folders that a researcher registered by name, under the data home.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from core.errors import StoreError
from core.paths import resolve_inside
from core.store.connection import constraint_violation, driver_error
from core.store.database import Store, utcnow

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # as the store's own codes: no 0/O, 1/I


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _rows(store: Store, sql: str, params: list) -> list[tuple]:
    try:
        with store.held() as cur:
            return cur.execute(sql, params).fetchall()
    except Exception as err:
        if not driver_error(err):
            raise
        raise StoreError(f"query failed: {err}") from err


# ---------------------------------------------------------------------- sessions
def new_resume_key(store: Store, session_id: str) -> str:
    """Make the session's resume key (256 random bits), store its hash and return the key."""
    key = secrets.token_urlsafe(32)
    with store.transaction() as cur:
        cur.execute("UPDATE session SET resume_key_sha256 = ? WHERE session_id = ?", [_digest(key), session_id])
        if not cur.execute("SELECT count(*) FROM session WHERE session_id = ? AND resume_key_sha256 = ?",
                           [session_id, _digest(key)]).fetchall()[0][0]:
            raise StoreError(f"unknown session {session_id!r}")
    return key


def session_for_key(store: Store, session_id: str | None, key: str | None) -> dict[str, Any] | None:
    """The session when ``key`` is its resume key; None for any other id/key (no hint which part was wrong)."""
    if not session_id or not key:
        return None
    rows = _rows(store, "SELECT resume_key_sha256 FROM session WHERE session_id = ?", [session_id])
    stored = rows[0][0] if rows else None
    # compared even when there is no session, so the time taken does not tell whether the id exists
    if not hmac.compare_digest(_digest(key), stored or _digest("")) or stored is None:
        return None
    return store.get_session(session_id)


# ---------------------------------------------------------------------- returning volunteers
def normalise_code(code: str) -> str:
    """A withdrawal code as stored (``ABCD-EFGH-JKLM``), from what a person typed."""
    chars = "".join(c for c in (code or "").upper() if c.isalnum())
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}" if len(chars) == 12 else chars


def _new_code() -> str:
    chars = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def returning_volunteer(store: Store, withdrawal_code: str, consent: dict[str, Any]) -> dict[str, Any] | None:
    """The volunteer holding ``withdrawal_code`` with a new code and ``consent`` stored, or None.

    The old code stops working at once (whoever saw it can no longer continue as them); the
    returned row carries the new code to show to the volunteer.
    """
    if not consent.get("version"):
        raise StoreError("consent needs a version")
    if not consent.get("recording"):
        raise StoreError("a volunteer can only take part after consenting to recording and analysis")
    code = normalise_code(withdrawal_code)
    if not code:
        return None
    for _ in range(5):
        new = _new_code()
        try:
            with store.transaction() as cur:
                found = cur.execute(
                    "UPDATE volunteer SET withdrawal_code = ?, consent_version = ?, consent_recording = ?, "
                    "consent_training = ?, consent_publication = ?, consent_at = ? WHERE withdrawal_code = ? "
                    "RETURNING volunteer_id",
                    [new, str(consent["version"]), bool(consent.get("recording")), bool(consent.get("training")),
                     bool(consent.get("publication")), consent.get("accepted_at") or utcnow(), code],
                ).fetchall()
        except StoreError as err:
            if constraint_violation(err.__cause__):
                continue  # the new code collided with another volunteer's: draw again
            raise
        return store.get_volunteer(found[0][0]) if found else None
    raise StoreError("could not draw a unique withdrawal code; try again")


# ---------------------------------------------------------------------- image folders
def inside_home(store: Store, folder: str | os.PathLike[str]) -> Path:
    """``folder`` (absolute, or relative to the data home) resolved, symlinks followed, and
    refused unless it is a folder inside the data home."""
    root = store.home.root.resolve()
    resolved = resolve_inside(folder, root)
    if resolved is None:
        raise StoreError(f"{folder}: image folders must lie inside the data home ({root}); "
                         "copy the images into a folder there (e.g. images/<name>) and register that")
    if not resolved.is_dir():
        raise StoreError(f"{folder}: no such folder in the data home")
    return resolved


def register_image_folder(store: Store, name: str, folder: str | os.PathLike[str]) -> Path:
    """Register (or move) the image folder ``name``; returns its resolved path."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise StoreError("an image folder needs a name of 1 to 80 characters")
    resolved = inside_home(store, folder)
    rel = str(resolved.relative_to(store.home.root.resolve()))
    with store.transaction() as cur:
        cur.execute("INSERT INTO image_folder (name, path) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET path = excluded.path", [name, rel])
    return resolved


def image_folders(store: Store) -> dict[str, str]:
    """Registered folders: name -> path relative to the data home."""
    return dict(_rows(store, "SELECT name, path FROM image_folder ORDER BY name", []))


def image_folder_path(store: Store, name: str) -> Path:
    """The registered folder's path, checked again (a link inside may have been changed since)."""
    rows = _rows(store, "SELECT path FROM image_folder WHERE name = ?", [name])
    if not rows:
        raise StoreError(f"no image folder named {name!r} is registered; a researcher registers folders "
                         "on the labeling page's researcher view")
    return inside_home(store, rows[0][0])


def remove_image_folder(store: Store, name: str) -> None:
    with store.transaction() as cur:
        cur.execute("DELETE FROM image_folder WHERE name = ?", [name])
