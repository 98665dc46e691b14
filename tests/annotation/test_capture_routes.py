"""The browser-capture HTTP routes: what a visitor may send, and what is refused (real store, real files)."""
from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.testclient import TestClient

import annotation.browser_recorder.service as service_module
from annotation.browser_recorder.routes import capture_routes
from annotation.browser_recorder.service import capture_service
from core.collection.config import CollectionConfig
from core.store import utcnow
from data.reaction_video import ReactionSpec, render_reaction
from data.video_files import write_webm
from tests.store_helpers import store_with_catalog


@pytest.fixture
def client(home, tmp_path, monkeypatch):
    monkeypatch.setattr(service_module, "_service", None)
    store = store_with_catalog(home, tmp_path)
    service = capture_service(store, CollectionConfig())
    yield TestClient(Starlette(routes=capture_routes())), service
    service.worker.stop()


def test_upload_over_http(client, tmp_path) -> None:
    http, service = client
    frames = render_reaction(ReactionSpec("neutral", duration_s=1.0, seed=0))
    data = write_webm(frames, tmp_path / "t.webm").read_bytes()
    token = service.uploads.open(session_id="s", position=0, outfit_id="o", shown_at=utcnow().isoformat())
    assert http.get("/capture/take/not-a-token").status_code == 404
    assert http.put(f"/capture/take/{token}/0", content=b"GIF89a" + b"\0" * 64).status_code == 415
    half = len(data) // 2
    assert http.put(f"/capture/take/{token}/0", content=data[:half]).json() == {"index": 0, "next": 1, "size": half}
    assert http.put(f"/capture/take/{token}/2", content=data[half:]).json()["next"] == 1  # 409 says what comes next
    assert http.put(f"/capture/take/{token}/1", content=data[half:]).status_code == 200
    assert http.get(f"/capture/take/{token}").json() == {"next": 2, "size": len(data), "state": "recording"}
    assert http.post(f"/capture/take/{token}/finish", content=b"{not json").status_code == 400
    done = http.post(f"/capture/take/{token}/finish",
                     json={"sha256": hashlib.sha256(data).hexdigest(), "chunks": 2, "client": {"mime": "video/webm"}})
    assert done.json() == {"state": "uploaded"}


def test_oversized_bodies_refused_before_reading(client) -> None:
    http, service = client
    token = service.uploads.open(session_id="s", position=0, outfit_id="o", shown_at=utcnow().isoformat())
    too_big = service.uploads.limits.max_chunk_bytes + 1
    answer = http.put(f"/capture/take/{token}/0", content=b"\x1a\x45\xdf\xa3" + b"\0" * (too_big - 4))
    assert answer.status_code == 413 and service.uploads.get(token).size == 0


def test_preview_only_a_small_jpeg_for_a_known_visit(client) -> None:
    http, service = client
    visit = service.new_visit()
    buffer = io.BytesIO()
    Image.fromarray(np.full((240, 320, 3), 128, np.uint8)).save(buffer, format="JPEG")
    assert http.put("/capture/preview/unknown", content=buffer.getvalue()).status_code == 404
    png = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(png, format="PNG")
    assert http.put(f"/capture/preview/{visit}", content=png.getvalue()).status_code == 415
    assert service.preview(visit) is None
    assert http.put(f"/capture/preview/{visit}", content=buffer.getvalue()).status_code == 200
    assert service.preview(visit).shape == (240, 320, 3)
