"""The 36 MDMO regions and the 72-d flow descriptor: known motion gives the known descriptor; C3D clips."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data

from core.reaction.alignment import align_face, canonical_shape, inter_ocular
from core.reaction.clips import clips_to_tensor_input, make_clips
from core.reaction.descriptor import FeatureConfig, extract_features, flow_descriptor, region_flow
from core.reaction.draw import draw_flow, draw_landmarks, draw_regions
from core.reaction.face_regions import GROUPS, N_REGIONS, region_label_map, region_polygons
from tests.conftest import REPO
from tests.features_media import astronaut_landmarks, smile_video


@pytest.fixture(scope="module")
def smile_features(tmp_path_factory):
    return extract_features(smile_video(tmp_path_factory.mktemp("v")))


def test_regions_cover_the_face() -> None:
    canon = canonical_shape(112)
    polys = region_polygons(canon)
    assert len(polys) == N_REGIONS == 36 and sum(len(g) for g in GROUPS.values()) == 36
    labels = region_label_map(canon, (112, 112))
    assert set(np.unique(labels)) == set(range(37))  # every region has pixels
    assert (labels > 0).mean() > 0.35
    # mirror symmetry: region 25 (beside the mouth, image left) mirrors region 28
    area = np.bincount(labels.ravel(), minlength=37)
    assert area[25] == pytest.approx(area[28], rel=0.3)


@pytest.mark.parametrize("u, v, expected", [(2.0, 0.0, 0.0), (0.0, 1.5, 0.25), (-1.0, -1.0, 0.625), (-3.0, 0.2, None)])
def test_uniform_flow_gives_its_orientation_and_magnitude_everywhere(u, v, expected) -> None:
    labels = region_label_map(canonical_shape(112), (112, 112))
    flow = np.zeros((112, 112, 2), np.float32)
    flow[..., 0], flow[..., 1] = u, v
    orientation, magnitude = region_flow(flow, labels)
    expected = np.mod(np.arctan2(v, u), 2 * np.pi) / (2 * np.pi) if expected is None else expected
    assert np.allclose(orientation, expected, atol=1e-4)
    assert np.allclose(magnitude, np.hypot(u, v), atol=1e-4)


def test_the_dominant_direction_wins_over_a_minority() -> None:
    labels = region_label_map(canonical_shape(112), (112, 112))
    flow = np.zeros((112, 112, 2), np.float32)
    flow[..., 0] = 1.0
    flow[::4, :, 0], flow[::4, :, 1] = 0.0, -5.0  # a quarter of the pixels move fast upwards
    orientation, magnitude = region_flow(flow, labels)
    assert np.allclose(orientation, 0.0, atol=1e-4) and np.allclose(magnitude, 1.0, atol=1e-4)


def test_translation_of_a_real_face_gives_the_expected_descriptor() -> None:
    """Alignment held fixed (same landmarks), content shifted 2 px right: flow ~(2, 0) in every region."""
    canon = canonical_shape(112)
    image = data.astronaut()
    crop, _, _ = align_face(image, astronaut_landmarks())
    shifted = cv2.warpAffine(crop, np.float32([[1, 0, 2], [0, 1, 0]]), (112, 112), borderMode=cv2.BORDER_REPLICATE)
    config = FeatureConfig(rigid_compensation="none", noise_floor=0.0)
    flow, valid = flow_descriptor(np.stack([crop, shifted]), np.stack([canon, canon]), np.array([True, True]), config)
    orientation, magnitude = flow[0, :36], flow[0, 36:]
    pixels = magnitude * inter_ocular(canon) / config.magnitude_scale  # undo the documented normalisation
    assert valid[0] and flow.shape == (1, 72) and flow.dtype == np.float32
    angle_error = np.minimum(orientation, 1 - orientation)  # distance to 0 on the circle
    assert np.median(angle_error) < 0.02 and (angle_error < 0.08).mean() > 0.9
    assert np.median(pixels) == pytest.approx(2.0, abs=0.3)


def _bump(crop: np.ndarray, centre: np.ndarray, pixels: float) -> np.ndarray:
    """The crop with the skin around ``centre`` pushed right by up to ``pixels`` (a Gaussian bump)."""
    ys, xs = np.mgrid[0:crop.shape[0], 0:crop.shape[1]].astype(np.float32)
    push = pixels * np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * 9.0**2))
    return cv2.remap(crop, (xs - push).astype(np.float32), ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def test_rigid_motion_is_removed_and_deformation_kept() -> None:
    """A whole-face shift is head motion (compensated to ~0); a local push beside the mouth is not."""
    canon = canonical_shape(112)
    crop, _, _ = align_face(data.astronaut(), astronaut_landmarks())
    crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    shifted = cv2.warpAffine(crop, np.float32([[1, 0, 2], [0, 1, 1]]), (112, 112), borderMode=cv2.BORDER_REPLICATE)
    pushed = _bump(shifted, canon[48] + (2, 1), 2.0)  # the mouth corner on the image's left
    points, found = np.stack([canon, canon]), np.array([True, True])
    legacy = FeatureConfig.legacy(align_smoothing=0.0)
    moved, _ = flow_descriptor(np.stack([crop, shifted]), points, found)
    assert moved[0, 36:].max() < 0.05 < flow_descriptor(np.stack([crop, shifted]), points, found, legacy)[0][0, 36:].min()
    deformed, _ = flow_descriptor(np.stack([crop, pushed]), points, found)
    mouth_left = deformed[0, 36 + 24]  # region 25, beside the left mouth corner
    assert mouth_left > 0.1 and deformed[0, 36:36 + 14].max() == 0.0  # brows, eyes and temples stay still
    assert min(deformed[0, 24], 1 - deformed[0, 24]) < 0.1  # it moved right (orientation ~0)


def test_legacy_settings_and_validation() -> None:
    legacy, default = FeatureConfig.legacy(), FeatureConfig()
    assert (legacy.flow_step, legacy.rigid_compensation, legacy.noise_floor, legacy.align_points) == (1, "none", 0.0, "jaw")
    assert legacy.key() != default.key() and default.key().startswith("v3-")
    with pytest.raises(ValueError, match="rigid_compensation"):
        FeatureConfig(rigid_compensation="median")
    with pytest.raises(ValueError, match="flow_step"):
        FeatureConfig(flow_step=0)


def test_smile_moves_mouth_sides_more_than_brows(smile_features) -> None:
    features = smile_features
    assert features.face_found.all() and features.flow72.shape == (59, 72) and features.flow_valid.all()
    magnitude = features.flow72[8:30, 36:]  # during the expression's onset
    mouth_sides, brows = magnitude[:, list(GROUPS["mouth_sides"])].mean(), magnitude[:, list(GROUPS["brows"])].mean()
    assert mouth_sides > 1.3 * brows
    assert ((features.flow72[:, :36] >= 0) & (features.flow72[:, :36] < 1)).all()


def test_face_clips_follow_the_face(smile_features) -> None:
    clips = smile_features.clips
    assert clips.shape == (3, 16, 112, 112, 3) and clips.dtype == np.uint8
    frames = np.stack([data.astronaut()[:, :, :]] * 16)
    points = np.stack([astronaut_landmarks()] * 16)
    face = make_clips(frames, points, np.ones(16, bool), FeatureConfig())
    full = make_clips(frames, points, np.ones(16, bool), FeatureConfig(clip_mode="full"))
    assert face.shape == full.shape == (1, 16, 112, 112, 3)
    assert not np.array_equal(face, full)


def test_clip_normalisations() -> None:
    clips = np.zeros((2, 16, 112, 112, 3), np.uint8)
    clips[..., 0] = 255  # pure red
    unit = clips_to_tensor_input(clips)
    assert unit.shape == (2, 3, 16, 112, 112) and unit.dtype == np.float32
    assert unit[:, 0].min() == 1.0 and unit[:, 2].max() == -1.0
    bgr = clips_to_tensor_input(clips, "sports1m")
    assert bgr[0, 2, 0, 0, 0] == pytest.approx(255 - 101.41, abs=1e-3)  # red is last in BGR
    assert bgr[0, 0, 0, 0, 0] == pytest.approx(-90.25, abs=1e-3)
    with pytest.raises(ValueError, match="unit"):
        clips_to_tensor_input(clips, "imagenet")


def test_drawing_helpers_draw_what_they_name() -> None:
    frame = np.zeros((224, 224, 3), np.uint8)
    canon = canonical_shape(224)
    marked = draw_landmarks(frame, canon)
    for x, y in canon:
        assert tuple(marked[int(round(y)), int(round(x))]) == (0, 255, 0)  # a green dot on every landmark
    assert not frame.any()  # the input is left untouched

    filled = draw_regions(frame, canon, alpha=0.5)
    polys = region_polygons(canon)
    inside = [tuple(np.round(poly.mean(0)).astype(int)) for poly in polys]
    colours = {tuple(int(c) for c in filled[y, x]) for x, y in inside}
    assert len(colours) >= 30  # region centres carry their region's own colour
    assert not filled[:5, :5].any()  # nothing outside the face

    magnitude = np.zeros(36, np.float32)
    magnitude[20] = 1.0  # one region moves, orientation 0 = to the right
    arrows = draw_flow(frame, canon, np.r_[np.zeros(36, np.float32), magnitude], scale=30)
    cx, cy = polys[20].mean(0)
    red = arrows[..., 0] > 128
    ys, xs = np.nonzero(red)
    assert red.any() and xs.min() >= int(cx) - 2 and xs.max() >= int(cx) + 25  # one arrow, pointing right
    assert np.abs(ys - cy).max() <= 10


def test_regions_picture_script(tmp_path) -> None:
    out = tmp_path / "regions.png"
    result = subprocess.run([sys.executable, "-m", "core.reaction.draw", "--draw", str(out)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    image = cv2.imread(str(out))
    assert image is not None and image.shape[0] > 200
