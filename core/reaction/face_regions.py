"""The 36 facial regions of MDMO (Liu et al., the PLM-IPE paper's [25]), from the 68 landmarks.

Definitions follow the only public implementation found (machanic/AU_R-CNN ``config.py``,
``ROI_LANDMARK`` 1-36, iBUG-68, 0-based). Each region is a polygon whose corners are
landmarks, with two kinds of derived points:

- ``"17u"``: landmark 17 moved up onto the forehead by ``FOREHEAD_STEP`` x the
  inter-ocular distance (``"27uu"``: twice). The distance is unstated in the source; we
  use 0.25, which keeps the forehead regions inside a 112 px canonical crop.
- ``"3~29"``: the midpoint of landmarks 3 and 29.

Groups: 1-6 brows/forehead, 7-14 eyes and temples, 15-24 cheeks and nose sides,
25-28 beside the mouth, 29-32 below the mouth, 33-36 chin. A picture of them on the
astronaut face is in ``docs/face_regions.png`` (``python -m core.reaction.draw --draw PATH``).
"""
from __future__ import annotations


import cv2
import numpy as np

FOREHEAD_STEP = 0.25

REGIONS: tuple[tuple[str, ...], ...] = (
    ("17u", "19u", "19", "17"), ("19u", "21u", "21", "19"), ("21u", "27uu", "27", "21"),
    ("27uu", "22u", "27", "22"), ("22u", "24u", "24", "22"), ("24u", "26u", "26", "24"),
    ("1", "17", "36"), ("17", "19", "37", "36"), ("19", "38", "39", "21"), ("21", "27", "28", "39"),
    ("22", "27", "28", "42"), ("22", "42", "43", "24"), ("24", "44", "45", "26"), ("26", "16", "15", "45"),
    ("2", "41~2", "3~29", "3"), ("41", "2~41", "3~29", "39"), ("39", "3~29", "29", "28"),
    ("28", "29", "13~29", "42"), ("42", "46", "14~46", "13~29"), ("14~46", "14", "13", "13~29"),
    ("3", "3~29", "4~33", "4"), ("4~33", "3~29", "29", "33"), ("33", "29", "13~29", "12~33"),
    ("13~29", "13", "12", "12~33"),
    ("4", "4~33", "5~59", "5"), ("5~59", "4~33", "33", "59"), ("33", "55", "11~55", "12~33"),
    ("11~55", "12~33", "12", "11"),
    ("59", "58", "6~58", "5~59"), ("6~58", "58", "57", "8~57"), ("57", "8~57", "10~56", "56"),
    ("56", "10~56", "11~55", "55"),
    ("5", "5~59", "6~58", "6"), ("6", "6~58", "8~57", "8"), ("8~57", "10~56", "10", "8"),
    ("10~56", "10", "11", "11~55"),
)
N_REGIONS = len(REGIONS)
GROUPS = {
    "brows": range(0, 6), "eyes": range(6, 14), "cheeks": range(14, 24),
    "mouth_sides": range(24, 28), "below_mouth": range(28, 32), "chin": range(32, 36),
}


def _compile(regions: tuple[tuple[str, ...], ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every corner token as a row of weights over the 68 landmarks plus a count of "up" steps."""
    rows, ups = [], []
    for region in regions:
        for token in region:
            weights = np.zeros(68, np.float32)
            if "~" in token:
                a, b = token.split("~")
                weights[int(a)] += 0.5
                weights[int(b)] += 0.5
                ups.append(0)
            else:
                weights[int(token.rstrip("u"))] = 1.0
                ups.append(len(token) - len(token.rstrip("u")))
            rows.append(weights)
    splits = np.cumsum([len(r) for r in regions])[:-1]
    return np.stack(rows), np.asarray(ups, np.float32), splits


_WEIGHTS, _UPS, _SPLITS = _compile(REGIONS)


def region_polygons(points: np.ndarray) -> list[np.ndarray]:
    """36 polygons (each (k, 2) float32) for one face's 68 landmarks."""
    points = np.asarray(points, np.float32)
    eyes = points[42:48].mean(0) - points[36:42].mean(0)
    iod = float(np.linalg.norm(eyes))
    # "up" is perpendicular to the eye line, towards the forehead
    up = np.array([eyes[1], -eyes[0]], np.float32) / max(iod, 1e-6) * FOREHEAD_STEP * iod
    corners = _WEIGHTS @ points + _UPS[:, None] * up
    return np.split(corners, _SPLITS)


def region_label_map(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """uint8 image: 0 outside every region, k+1 inside region k (later regions win overlaps)."""
    labels = np.zeros(shape, np.uint8)
    corners = np.round(np.concatenate(region_polygons(points)) * 16).astype(np.int32)  # 4 bits of sub-pixel
    for k, poly in enumerate(np.split(corners, _SPLITS)):
        cv2.fillConvexPoly(labels, cv2.convexHull(poly), k + 1, lineType=cv2.LINE_8, shift=4)
    return labels

