"""Similarity alignment to the canonical 68-point face: geometry round trips within tolerance."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from core.reaction.alignment import MIRROR, align_face, apply_transform, canonical_shape, inter_ocular, similarity_transform
from core.reaction.landmarks import get_backend


def _similarity(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), shift[0]],
                     [scale * np.sin(a), scale * np.cos(a), shift[1]]], np.float32)


@pytest.mark.parametrize("angle, scale, shift", [(17, 2.3, (140, -35)), (-40, 0.5, (3, 9)), (0, 1, (0, 0))])
def test_umeyama_recovers_a_known_similarity(angle, scale, shift) -> None:
    canon = canonical_shape(112)
    m = _similarity(angle, scale, shift)
    moved = apply_transform(m, canon)
    back = similarity_transform(moved, canon)
    assert np.abs(apply_transform(back, moved) - canon).max() < 1e-3
    forward = similarity_transform(canon, moved)
    assert np.allclose(forward, m, atol=1e-3)


def test_canonical_shape_is_symmetric_and_sized() -> None:
    canon = canonical_shape(128)
    assert inter_ocular(canon) == pytest.approx(0.33 * 128, rel=1e-3)
    mirrored = canon[MIRROR].copy()
    mirrored[:, 0] = 128 - mirrored[:, 0]
    assert np.abs(mirrored - canon).max() < 0.5
    assert (canon >= 0).all() and (canon < 128).all()


def test_a_moved_real_face_aligns_back_to_the_same_crop() -> None:
    image = data.astronaut()
    backend = get_backend("dlib")
    points = backend.landmarks(image, backend.detect(image, 1)[0])
    turned = cv2.warpAffine(image, cv2.getRotationMatrix2D((256, 256), 25, 0.8), (512, 512))
    turned_pts = backend.landmarks(turned, backend.detect(turned, 1)[0])
    crop_a, a, _ = align_face(image, points)
    crop_b, b, _ = align_face(turned, turned_pts)
    assert crop_a.shape == (112, 112, 3)
    assert np.abs(a - b)[17:].mean() < 2.0  # the same face, aligned, whatever the head pose
    diff = np.abs(crop_a.astype(int) - crop_b.astype(int))[20:100, 20:100].mean()
    assert diff < 25  # the crops show the same face at the same place


def test_alignment_maps_the_frame_into_the_crop_consistently() -> None:
    image = data.astronaut()
    backend = get_backend("dlib")
    points = backend.landmarks(image, backend.detect(image, 1)[0])
    crop, aligned, m = align_face(image, points, size=128)
    assert crop.shape == (128, 128, 3)
    assert np.allclose(apply_transform(m, points), aligned, atol=1e-4)
    inverse = cv2.invertAffineTransform(m)
    assert np.abs(apply_transform(inverse, aligned) - points).max() < 1e-2
    assert np.abs(aligned - canonical_shape(128)).mean() < 5  # the face sits on the canonical shape
