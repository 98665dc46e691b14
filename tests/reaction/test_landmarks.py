"""Faces and 68 landmarks on real faces; the face-alignment adapter; tracking and no-face flags."""
from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from core.reaction.descriptor import flow_descriptor
from core.reaction.landmarks import BackendUnavailableError, DlibBackend, FaceAlignmentBackend, get_backend
from core.reaction.tracking import appearance_similarity, face_patch, track_landmarks
from data.reaction_video import ReactionSpec, reaction_landmarks, render_reaction


def test_dlib_finds_the_astronaut_with_landmarks_inside_and_unswapped() -> None:
    image = data.astronaut()
    backend = DlibBackend()
    box = backend.detect(image, 1)[0]  # the most confident detection is the face (upper half of the photo)
    assert 150 < box.center[0] < 300 and box.center[1] < 200 and box.score > 0.5
    points = backend.landmarks(image, box)
    assert points.shape == (68, 2) and points.dtype == np.float32
    inner = points[17:]  # brows, eyes, nose, mouth lie inside the detector's box
    assert (inner[:, 0] > box.left - 5).all() and (inner[:, 0] < box.right + 5).all()
    assert (inner[:, 1] > box.top - 25).all() and (inner[:, 1] < box.bottom + 5).all()
    assert points[36, 0] < points[45, 0]  # the subject's right eye outer corner is on the image's left
    assert points[48, 0] < points[54, 0] and points[0, 0] < points[16, 0]
    assert points[8, 1] > points[30, 1] > points[27, 1]  # chin below nose tip below nose bridge


def test_unknown_backend_says_which_exist() -> None:
    with pytest.raises(BackendUnavailableError, match="dlib"):
        get_backend("nope")


def test_face_alignment_adapter_plumbing_with_a_random_network(monkeypatch, tmp_path) -> None:
    """No download, ever: the missing weights give a clear message, and a randomly initialised
    FAN of face-alignment's own class checks the adapter (crop, forward, heat-map decoding back
    to frame coordinates). Landmark accuracy cannot be tested without the real weights."""
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
    assert found.all() and stats.detections == 2 and stats.degraded_fits == 0
    error = np.linalg.norm(points - reaction_landmarks(spec), axis=2).mean(1)
    assert error.max() < 6.0  # pixels, in a 640x480 frame


def test_a_jump_of_the_face_triggers_an_immediate_redetection() -> None:
    frames = render_reaction(ReactionSpec("neutral", duration_s=1.0, seed=1, head_motion=False))
    frames[15:] = np.roll(frames[15:], 160, axis=2)  # the face jumps 160 px right between frames 14 and 15
    points, found, stats = track_landmarks(frames, DlibBackend(), redetect_every=100)
    assert found.all() and stats.detections == 2 and stats.degraded_fits == 1
    assert points[15:, 30, 0].mean() - points[:15, 30, 0].mean() == pytest.approx(160, abs=8)
    reference = face_patch(frames[0], points[0])  # every fit shows the same face
    assert min(appearance_similarity(reference, f, p) for f, p in zip(frames, points)) > 0.9


def test_frames_without_a_face_are_flagged_with_zero_rows() -> None:
    frames = render_reaction(ReactionSpec("neutral", duration_s=1.0, seed=1))
    frames[10:20] = 127  # the face leaves
    points, found, stats = track_landmarks(frames, DlibBackend(), redetect_every=5)
    # lost: the detector runs every 3rd frame (10, 13, 16, 19, 22), so the face is back by frame 22
    assert not found[10:20].any() and found[:10].all() and found[22:].all()
    assert (points[~found] == 0).all() and stats.lost_frames == 12
    _, found_every, stats_every = track_landmarks(frames, DlibBackend(), redetect_every=5, lost_redetect_every=1)
    assert found_every[20:].all() and stats_every.detections > stats.detections
    flow, valid = flow_descriptor(frames, points, found)
    assert not valid[9:22].any() and valid[:9].all() and valid[22:].all()
    assert (flow[~valid] == 0).all()


def test_fan_heatmap_decoding_maps_peaks_back_to_the_frame() -> None:
    """Golden values for the numpy port of face-alignment's heat-map decoding."""
    from core.reaction.landmarks import heatmaps_to_points

    heat = np.zeros((68, 64, 64), np.float32)
    heat[:, 32, 16] = 1.0  # a peak at column 16, row 32; a weaker right neighbour pulls x by +0.25
    heat[:, 32, 17] = 0.5
    center, scale = np.array([300.0, 200.0]), 1.28  # the crop covers 256 x 256 frame pixels
    points = heatmaps_to_points(heat, center, scale)
    x_hm, y_hm = 16 + 0.25 + 0.5, 32 + 0.5
    assert np.allclose(points[:, 0], 300 - 128 + x_hm * 4, atol=1e-3)
    assert np.allclose(points[:, 1], 200 - 128 + y_hm * 4, atol=1e-3)
