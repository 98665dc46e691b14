"""Browser-recorded takes: chunked uploads, checked and kept on disk until they are committed.

The volunteer's browser records each take with ``MediaRecorder`` and uploads it in chunks while
it records. Everything a visitor sends is hostile, so a take is a *slot* the server opens for one
(session, position) and names by a random capability token (256 bits; the folder is named by
its SHA-256, so listing the folder reveals no token). A slot accepts:

- chunk ``i`` only when ``i`` is the next expected index (a resent chunk with the same bytes is
  acknowledged again, with other bytes refused), each at most ``max_chunk_bytes``, the take at
  most ``max_take_bytes``; the first chunk must start like a WebM/Matroska (EBML) or MP4 file;
- ``finish`` with the SHA-256 of the whole file, which must match what arrived;
- nothing once a newer take of the same session was opened (the page opens one at a time).

A finished upload is normalised by :class:`core.collection.take_normalise` in a worker thread
(the page does not wait), and a take is committed with :meth:`Store.commit_recording` - the same
atomic call as the live path - once it is both normalised and rated. Slots live in
``<home>/uploads/<sha256(token)>/`` (``take.bin`` + ``slot.json``, written atomically), so a
server restart loses nothing: :meth:`TakeUploads.recover` re-queues what was normalised but not committed,
and :meth:`TakeUploads.sweep` deletes slots abandoned before they were finished (no orphan).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import IPEError
from core.files import atomic_write_json, sha256_file

STATES = ("recording", "uploaded", "normalised", "failed")
MAGIC = {"webm": b"\x1a\x45\xdf\xa3"}  # EBML header; MP4 is recognised by its 'ftyp' box


class UploadError(IPEError):
    """A chunk or a finish the server refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.details = details


@dataclass(frozen=True)
class UploadLimits:
    max_chunk_bytes: int = 4 * 1024 * 1024  # one MediaRecorder timeslice (1 s at 640x480 is ~0.3 MB)
    max_take_bytes: int = 64 * 1024 * 1024  # a 10 s take is 2-5 MB; room for high-bitrate browsers
    abandon_after_s: float = 900.0  # an upload not finished this long after its slot opened is deleted


@dataclass
class Slot:
    session_id: str
    position: int
    outfit_id: str
    shown_at: str
    opened_at: float
    state: str = "recording"
    chunks: list[str] = field(default_factory=list)  # SHA-256 of each chunk received, in order
    size: int = 0
    container: str | None = None
    sha256: str | None = None
    client: dict[str, Any] = field(default_factory=dict)  # what the browser reported at finish
    rating: int | None = None
    rated_at: str | None = None
    touched_at: str | None = None  # the rating's first touch (annotation/rating.py)
    video: str | None = None  # the normalised temporary MP4
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def container_of(head: bytes) -> str | None:
    """``webm`` or ``mp4`` from a file's first bytes; None for anything else."""
    if head.startswith(MAGIC["webm"]):
        return "webm"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "mp4"
    return None


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class TakeUploads:
    """The open upload slots under ``root`` (one instance per server process; thread-safe)."""

    def __init__(self, root: str | Path, limits: UploadLimits = UploadLimits()) -> None:
        self.root = Path(root)
        self.limits = limits
        self._lock = threading.RLock()
        self.root.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ slots
    def open(self, *, session_id: str, position: int, outfit_id: str, shown_at: str) -> str:
        """A new slot for this take; every older unrated slot of the session is closed: its page moved
        on (a take is rated by the page that opened it, and the page opens one at a time), or the
        volunteer continued on another server while the old page still recorded, uploaded and
        normalised a take that will never be rated."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            for key, slot in self._slots():
                if slot.session_id == session_id and slot.rating is None:
                    self._delete(key)  # a rated take may still be finishing its upload: it stays
            slot = Slot(session_id=session_id, position=int(position), outfit_id=outfit_id, shown_at=shown_at,
                        opened_at=time.time())
            (self.root / token_key(token)).mkdir()
            self._save(token_key(token), slot)
        return token

    def get(self, token: str) -> Slot:
        key = token_key(token)
        with self._lock:
            slot = self._load(key)
        if slot is None:
            raise UploadError("no such take: it was finished, replaced by a newer one, or never opened", 404)
        return slot

    def discard(self, token: str) -> None:
        """Forget a take that will not be committed (cut short, skipped); its bytes are deleted."""
        with self._lock:
            self._delete(token_key(token))

    def pending(self, session_id: str) -> list[Slot]:
        """Rated takes of a session not committed yet (the page counts them as answered)."""
        with self._lock:
            return [s for _, s in self._slots() if s.session_id == session_id and s.rating is not None]

    # ------------------------------------------------------------------ upload
    def put_chunk(self, token: str, index: int, data: bytes) -> dict[str, Any]:
        """Store chunk ``index``; returns the acknowledgement ``{"index", "next", "size"}``."""
        key = token_key(token)
        if len(data) == 0:
            raise UploadError("an empty chunk")
        if len(data) > self.limits.max_chunk_bytes:
            raise UploadError(f"a chunk is at most {self.limits.max_chunk_bytes} bytes", 413)
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            slot = self._load(key)
            if slot is None:
                raise UploadError("no such take: it was finished, replaced by a newer one, or never opened", 404)
            if index < len(slot.chunks):
                if slot.chunks[index] != digest:
                    raise UploadError(f"chunk {index} was already received with other bytes", 409,
                                      next=len(slot.chunks))
                return {"index": index, "next": len(slot.chunks), "size": slot.size}
            if slot.state != "recording":
                raise UploadError("this take's upload is finished", 409, next=len(slot.chunks))
            if index != len(slot.chunks):
                raise UploadError(f"expected chunk {len(slot.chunks)}, not {index}", 409, next=len(slot.chunks))
            if slot.size + len(data) > self.limits.max_take_bytes:
                raise UploadError(f"a take is at most {self.limits.max_take_bytes} bytes", 413)
            if index == 0:
                slot.container = container_of(data[:16])
                if slot.container is None:
                    raise UploadError("not a WebM or MP4 recording", 415)
            with open(self.root / key / "take.bin", "ab") as out:
                out.write(data)
            slot.chunks.append(digest)
            slot.size += len(data)
            self._save(key, slot)
            return {"index": index, "next": len(slot.chunks), "size": slot.size}

    def finish(self, token: str, *, sha256: str, chunks: int, client: dict[str, Any] | None = None) -> Slot:
        """Close the upload: ``chunks`` and the whole file's ``sha256`` must match what arrived."""
        key = token_key(token)
        with self._lock:
            slot = self._load(key)
            if slot is None:
                raise UploadError("no such take: it was finished, replaced by a newer one, or never opened", 404)
            if slot.state != "recording":
                if slot.sha256 == sha256:
                    return slot  # a resent finish
                raise UploadError("this take's upload is already finished", 409)
            if chunks != len(slot.chunks):
                raise UploadError(f"the server has {len(slot.chunks)} chunks, not {chunks}", 409,
                                  next=len(slot.chunks))
            data = self.root / key / "take.bin"
            actual = sha256_file(data) if data.is_file() else hashlib.sha256(b"").hexdigest()
            if actual != str(sha256).lower():
                raise UploadError("the file's SHA-256 does not match what arrived; record the take again", 422)
            slot.sha256, slot.state = actual, "uploaded"
            slot.client = _small_json(client or {})
            self._save(key, slot)
            return slot

    def rate(self, token: str, rating: int, rated_at: str, touched_at: str | None = None) -> Slot:
        key = token_key(token)
        with self._lock:
            slot = self._load(key)
            if slot is None:
                raise UploadError("no such take", 404)
            slot.rating, slot.rated_at, slot.touched_at = int(rating), rated_at, touched_at
            self._save(key, slot)
            return slot

    def set_result(self, key: str, *, video: str | None, meta: dict[str, Any], error: str | None) -> Slot | None:
        """The worker's result: ``normalised`` with a video, or ``failed`` with the error."""
        with self._lock:
            slot = self._load(key)
            if slot is None:
                return None
            slot.video, slot.meta, slot.error = video, meta, error
            slot.state = "failed" if error or video is None else "normalised"
            self._save(key, slot)
            return slot

    # ------------------------------------------------------------------ housekeeping
    def keys_in_state(self, *states: str) -> list[str]:
        with self._lock:
            return [key for key, slot in self._slots() if slot.state in states]

    def load(self, key: str) -> Slot | None:
        with self._lock:
            return self._load(key)

    def claim(self, key: str) -> int | None:
        """Claim a slot for one worker across every server process sharing this folder (several
        collection servers on one data home): an exclusive ``flock`` on its ``claim`` file, whose
        descriptor the caller closes to release it. None when another process holds it or the slot
        is gone."""
        try:
            fd = os.open(self.root / key / "claim", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def data_path(self, key: str) -> Path:
        return self.root / key / "take.bin"

    def delete(self, key: str) -> None:
        with self._lock:
            self._delete(key)

    def recover(self) -> int:
        """At server start: a normalised file the store's start-up sweep removed (it was a temporary
        file) is made again from the upload, which is kept until the commit. Returns how many."""
        count = 0
        with self._lock:
            for key, slot in self._slots():
                if slot.state == "normalised" and not (slot.video and Path(slot.video).is_file()):
                    slot.state, slot.video, slot.meta = "uploaded", None, {}
                    self._save(key, slot)
                    count += 1
        return count

    def sweep(self, now: float | None = None) -> list[str]:
        """Delete slots that can no longer be committed ``abandon_after_s`` after they opened: the upload
        never finished, or the take was never rated (the browser was closed). A rated, uploaded take
        is the worker's to commit and stays."""
        now = time.time() if now is None else now
        gone = []
        with self._lock:
            for key, slot in self._slots():
                committable = slot.rating is not None and slot.state != "recording"
                if not committable and now - slot.opened_at > self.limits.abandon_after_s:
                    self._delete(key)
                    gone.append(key)
        return gone

    def _slots(self) -> list[tuple[str, Slot]]:
        out = []
        for folder in sorted(self.root.iterdir()):
            slot = self._load(folder.name) if folder.is_dir() else None
            if slot is not None:
                out.append((folder.name, slot))
        return out

    def _load(self, key: str) -> Slot | None:
        path = self.root / key / "slot.json"
        if len(key) != 64 or not path.is_file():
            return None
        return Slot(**json.loads(path.read_text()))

    def _save(self, key: str, slot: Slot) -> None:
        atomic_write_json(self.root / key / "slot.json", asdict(slot))

    def _delete(self, key: str) -> None:
        slot = self._load(key)
        if slot is not None and slot.video:
            Path(slot.video).unlink(missing_ok=True)
        shutil.rmtree(self.root / key, ignore_errors=True)


def _small_json(value: dict[str, Any], limit: int = 64 * 1024) -> dict[str, Any]:
    """The browser's report, kept only if it is a small JSON object (it is stored with the view)."""
    text = json.dumps(value, default=str) if isinstance(value, dict) else ""
    if not text or len(text) > limit:
        raise UploadError(f"the take's report is at most {limit} bytes of JSON", 413)
    return json.loads(text)
