"""Browser-recorded takes: chunked upload checks, normalisation to the live path's MP4, the commit."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from core.collection.config import CollectionConfig
from core.collection.take_normalise import CaptureWorker, normalise_take
from core.collection.take_upload import TakeUploads, UploadError, UploadLimits, token_key
from core.collection.session_plan import start_planned_session
from core.errors import MediaError
from core.reaction.video import read_video
from core.store import utcnow
from data.reaction_video import ReactionSpec, render_reaction
from data.video_files import read_frame_index, write_webm
from tests.store_helpers import store_with_catalog


@pytest.fixture(scope="module")
def webm(tmp_path_factory):
    frames = render_reaction(ReactionSpec("smile", duration_s=2.0, seed=0, stamp=True))
    rng = np.random.default_rng(0)
    times = [7.0 + i / 30 + rng.uniform(-0.008, 0.008) for i in range(len(frames))]  # a camera's jitter
    return write_webm(frames, tmp_path_factory.mktemp("take") / "take.webm", times).read_bytes()


def _open(uploads: TakeUploads, session_id: str = "s1", position: int = 0) -> str:
    return uploads.open(session_id=session_id, position=position, outfit_id="o1", shown_at=utcnow().isoformat())


def _upload(uploads: TakeUploads, token: str, data: bytes, size: int = 50_000) -> int:
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    for i, chunk in enumerate(chunks):
        assert uploads.put_chunk(token, i, chunk)["next"] == i + 1
    return len(chunks)


def test_chunks_in_order_resent_and_checked(tmp_path, webm) -> None:
    uploads = TakeUploads(tmp_path / "uploads")
    token = _open(uploads)
    n = _upload(uploads, token, webm)
    assert uploads.put_chunk(token, 1, webm[50_000:100_000])["next"] == n  # a resend is acknowledged again
    with pytest.raises(UploadError, match="other bytes"):
        uploads.put_chunk(token, 1, b"x" * 10)
    with pytest.raises(UploadError, match="expected chunk"):
        uploads.put_chunk(token, n + 1, b"x" * 10)
    with pytest.raises(UploadError, match="SHA-256"):
        uploads.finish(token, sha256="0" * 64, chunks=n)
    slot = uploads.finish(token, sha256=hashlib.sha256(webm).hexdigest(), chunks=n, client={"width": 640})
    assert slot.state == "uploaded" and slot.container == "webm" and slot.size == len(webm)
    with pytest.raises(UploadError, match="finished"):
        uploads.put_chunk(token, n, b"more")


def test_hostile_uploads_refused(tmp_path, webm) -> None:
    uploads = TakeUploads(tmp_path / "uploads", UploadLimits(max_chunk_bytes=1000, max_take_bytes=2500))
    with pytest.raises(UploadError, match="no such take"):
        uploads.put_chunk("guessed", 0, webm[:100])
    token = _open(uploads)
    with pytest.raises(UploadError, match="not a WebM or MP4"):
        uploads.put_chunk(token, 0, b"<html>" + b"x" * 100)
    with pytest.raises(UploadError, match="at most 1000 bytes"):
        uploads.put_chunk(token, 0, webm[:1001])
    for i in range(2):
        uploads.put_chunk(token, i, webm[i * 1000:(i + 1) * 1000])
    with pytest.raises(UploadError, match="take is at most 2500"):
        uploads.put_chunk(token, 2, webm[2000:3000])
    newer = _open(uploads, position=1)  # the page moved on: the older take is closed
    with pytest.raises(UploadError, match="no such take"):
        uploads.put_chunk(token, 2, webm[2000:2400])
    assert uploads.get(newer).position == 1


def test_normalised_like_the_live_path(tmp_path, webm) -> None:
    (tmp_path / "take.webm").write_bytes(webm)
    recorder = normalise_take(tmp_path / "take.webm", tmp_path / "take.mp4", CollectionConfig())
    meta = recorder.meta()
    assert (meta["frames"], meta["width"], meta["height"], meta["fps"]) == (60, 640, 480, 30.0)
    assert meta["frames_duplicated"] == meta["frames_dropped"] == 0 and 29.5 < meta["source_fps"] < 30.5
    video = read_video(tmp_path / "take.mp4")
    assert [read_frame_index(f) for f in video.frames] == list(range(60))
    assert recorder.source_frame_times_ms[0] == 0.0 and len(recorder.source_frame_times_ms) == 60


def test_cut_at_max_seconds_of_the_file_time(tmp_path, webm) -> None:
    (tmp_path / "take.webm").write_bytes(webm)
    recorder = normalise_take(tmp_path / "take.webm", tmp_path / "take.mp4", CollectionConfig(max_record_seconds=1.0))
    meta = recorder.meta()
    assert meta["frames"] == meta["frames_received"] == len(recorder.source_frame_times_ms) == 30


def test_not_a_video_is_a_media_error(tmp_path) -> None:
    (tmp_path / "bad.webm").write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 500)
    with pytest.raises(MediaError, match="not a readable video"):
        normalise_take(tmp_path / "bad.webm", tmp_path / "bad.mp4")
    assert not (tmp_path / "bad.mp4").exists()


def test_worker_commits_rated_take_with_the_store_call(home, tmp_path, webm) -> None:
    store = store_with_catalog(home, tmp_path)
    volunteer = store.add_volunteer(age_band="25-34", gender="female", extra={}, consent={"version": "1", "recording": True})
    session_id, plan = start_planned_session(store, volunteer["volunteer_id"], n=2)
    uploads = TakeUploads(home.root / "uploads")
    worker = CaptureWorker(store, uploads, CollectionConfig(), start=False)  # driven step by step here
    token = uploads.open(session_id=session_id, position=0, outfit_id=plan[0], shown_at=utcnow().isoformat())
    n = _upload(uploads, token, webm)
    uploads.finish(token, sha256=hashlib.sha256(webm).hexdigest(), chunks=n, client={"frameRate": 30})
    assert worker.run_once() == 1 and store.views_for_session(session_id) == []  # normalised, not rated yet
    # a restart: the store's start-up sweep removes the normalised temporary file; it is made again
    Path(uploads.load(token_key(token)).video).unlink()
    assert uploads.recover() == 1 and worker.run_once() == 1
    uploads.rate(token, 77, utcnow().isoformat())
    assert [s.position for s in uploads.pending(session_id)] == [0]
    assert worker.run_once() == 1
    (view,) = store.views_for_session(session_id)
    assert (view["rating"], view["status"], view["frames"], view["width"]) == (77, "ok", 60, 640)
    assert view["video_meta"]["transport"] == "browser" and view["video_meta"]["browser"] == {"frameRate": 30}
    assert uploads.pending(session_id) == [] and list((home.root / "uploads").iterdir()) == []
    assert not any(p.name.startswith(".tmp-") for p in home.videos.iterdir())


def test_a_take_is_claimed_by_one_server_of_those_sharing_the_folder(home, tmp_path, webm) -> None:
    """Two servers on one data home: their workers scan the same uploads folder; a take claimed by
    one (a flock, held across processes) is left alone by the other, which then finds it done."""
    store = store_with_catalog(home, tmp_path)
    volunteer = store.add_volunteer(age_band="25-34", gender="female", extra={}, consent={"version": "1", "recording": True})
    session_id, plan = start_planned_session(store, volunteer["volunteer_id"], n=2)
    first, second = TakeUploads(home.root / "uploads"), TakeUploads(home.root / "uploads")
    worker = CaptureWorker(store, second, CollectionConfig(), start=False)
    token = first.open(session_id=session_id, position=0, outfit_id=plan[0], shown_at=utcnow().isoformat())
    first.finish(token, sha256=hashlib.sha256(webm).hexdigest(), chunks=_upload(first, token, webm))
    held = first.claim(token_key(token))  # the other server's worker is normalising it
    assert held is not None and second.claim(token_key(token)) is None
    assert worker.run_once() == 0 and first.load(token_key(token)).state == "uploaded"
    first.set_result(token_key(token), video=None, meta={}, error="done by the other server")
    os.close(held)
    assert worker.run_once() == 0  # released, but no longer uploaded: not normalised a second time
    assert first.load(token_key(token)).error == "done by the other server"
    assert first.claim("0" * 64) is None  # no such slot
    store.close()


def test_a_newer_take_closes_older_unrated_ones_even_when_uploaded(tmp_path, webm) -> None:
    """The volunteer moved to another server while the old page recorded its outfit to the end: that
    take, uploaded but never to be rated, goes when the new page opens its own; rated ones stay."""
    uploads = TakeUploads(tmp_path / "uploads")
    rated = _open(uploads, position=0)
    uploads.rate(rated, 40, utcnow().isoformat())
    stale = _open(uploads, position=1)
    uploads.finish(stale, sha256=hashlib.sha256(webm).hexdigest(), chunks=_upload(uploads, stale, webm))
    newer = _open(uploads, position=1)
    assert uploads.keys_in_state("recording") == sorted([token_key(rated), token_key(newer)])
    with pytest.raises(UploadError, match="no such take"):
        uploads.get(stale)


def test_abandoned_upload_is_swept(tmp_path, webm) -> None:
    uploads = TakeUploads(tmp_path / "uploads", UploadLimits(abandon_after_s=60))
    token = _open(uploads)
    uploads.put_chunk(token, 0, webm[:1000])
    assert uploads.sweep(now=uploads.get(token).opened_at + 30) == []
    unrated, rated = _open(uploads, "s2"), _open(uploads, "s3")  # both uploaded; one never rated (browser closed)
    for other in (unrated, rated):
        n = _upload(uploads, other, webm)
        uploads.finish(other, sha256=hashlib.sha256(webm).hexdigest(), chunks=n)
    uploads.rate(rated, 40, utcnow().isoformat())
    assert len(uploads.sweep(now=uploads.get(token).opened_at + 61)) == 2
    assert uploads.get(rated).rating == 40  # the worker's to commit
    assert [p.name for p in (tmp_path / "uploads").iterdir()] == [hashlib.sha256(rated.encode()).hexdigest()]


def test_withdrawal_deletes_takes_still_uploading_or_waiting(home, tmp_path, webm) -> None:
    """A volunteer withdrawn while a take of theirs is still uploading (or uploaded and rated but
    not yet committed) loses it too: the store's deletion walk reaches ``home.uploads``."""
    store = store_with_catalog(home, tmp_path)
    sessions = {}
    for volunteer in ("leaving", "staying"):
        vid = store.add_volunteer(age_band="25-34", gender="female", extra={},
                                  consent={"version": "1", "recording": True})["volunteer_id"]
        sessions[volunteer], _ = start_planned_session(store, vid, n=2, seed=volunteer)
    uploads = TakeUploads(store.home.uploads)
    waiting = _open(uploads, sessions["leaving"], 0)  # uploaded and rated, not committed yet
    n = _upload(uploads, waiting, webm)
    uploads.finish(waiting, sha256=hashlib.sha256(webm).hexdigest(), chunks=n)
    uploads.rate(waiting, 70, utcnow().isoformat())
    uploading = _open(uploads, sessions["leaving"], 1)  # the next outfit's take, mid-upload
    uploads.put_chunk(uploading, 0, webm[:50_000])
    other = _open(uploads, sessions["staying"], 0)
    uploads.put_chunk(other, 0, webm[:50_000])
    leaving_vid = store.get_session(sessions["leaving"])["volunteer_id"]
    report = store.delete_volunteer(leaving_vid)
    assert sum("uploads" in path for path in report["files_deleted"]) == 4  # take.bin + slot.json, twice
    assert [p.name for p in store.home.uploads.iterdir()] == [token_key(other)]  # theirs gone, folders too
    assert uploads.pending(sessions["leaving"]) == [] and uploads.get(other).session_id == sessions["staying"]
    with pytest.raises(UploadError, match="no such take"):
        uploads.put_chunk(uploading, 1, webm[50_000:100_000])  # a late chunk finds nothing to append to
