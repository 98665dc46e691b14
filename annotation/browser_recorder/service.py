"""The server's one browser-capture service: upload slots, the normalise/commit worker, and the
camera-check previews. Shared by the pages (Streamlit script threads) and the HTTP routes
(``annotation/browser_recorder/routes.py``) of the same process."""
from __future__ import annotations

import hashlib
import io
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.collection.config import CollectionConfig
from core.collection.take_normalise import CaptureWorker
from core.collection.take_upload import TakeUploads, UploadError
from core.media_limits import MediaLimits

PREVIEW_MAX_BYTES = 256 * 1024  # one JPEG of the camera at 320x240 is 10-30 KB
PREVIEW_MAX_SIDE = 640
_lock = threading.Lock()
_service: "CaptureService | None" = None


@dataclass
class CaptureService:
    uploads: TakeUploads
    worker: CaptureWorker
    previews: dict[str, tuple[float, np.ndarray | None]] = field(default_factory=dict)  # sha256(visit) -> frame

    def new_visit(self) -> str:
        """A token for one page visit's camera previews (the face check)."""
        token = secrets.token_urlsafe(24)
        with _lock:
            self.previews[_key(token)] = (time.monotonic(), None)
            cutoff = time.monotonic() - 6 * 3600  # visits left open for hours are forgotten
            for key in [k for k, (t, _) in self.previews.items() if t < cutoff]:
                del self.previews[key]
        return token

    def put_preview(self, token: str, jpeg: bytes) -> None:
        key = _key(token)
        if key not in self.previews:
            raise UploadError("unknown visit", 404)
        if not jpeg or len(jpeg) > PREVIEW_MAX_BYTES:
            raise UploadError(f"a preview is one JPEG of at most {PREVIEW_MAX_BYTES} bytes", 413)
        from PIL import Image

        try:
            image = Image.open(io.BytesIO(jpeg))
            if image.format != "JPEG" or max(image.size) > PREVIEW_MAX_SIDE:
                raise UploadError(f"a preview is a JPEG of at most {PREVIEW_MAX_SIDE} pixels a side", 415)
            rgb = np.asarray(image.convert("RGB"))
        except (OSError, ValueError) as err:
            raise UploadError(f"not a readable JPEG ({err})", 415) from None
        with _lock:
            self.previews[key] = (time.monotonic(), rgb)

    def preview(self, token: str) -> np.ndarray | None:
        return self.previews.get(_key(token), (0.0, None))[1]


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def capture_service(store: Any = None, config: CollectionConfig | None = None,
                    limits: MediaLimits | None = None) -> CaptureService:
    """The process's service, made on first use by a page (which passes the store and config);
    the HTTP routes only find it (a route called before any page was shown answers 503)."""
    global _service
    with _lock:
        if _service is None:
            if store is None or config is None:
                raise UploadError("the capture service is not running yet: open the volunteer page first", 503)
            uploads = TakeUploads(store.home.uploads)
            uploads.recover()  # after the store's start-up sweep (get_store) removed temporary files
            worker = CaptureWorker(store, uploads, config, limits or MediaLimits())
            _service = CaptureService(uploads=uploads, worker=worker)
        return _service
