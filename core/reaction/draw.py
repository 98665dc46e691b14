"""Drawing helpers: landmarks, the 36 regions (outlined or filled by a value) and flow arrows on a frame (RGB uint8)."""
from __future__ import annotations

import argparse
import colorsys

import cv2
import numpy as np

from core.reaction.face_regions import N_REGIONS, region_polygons


def _colour(k: int) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((k * 0.61803) % 1.0, 0.75, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_landmarks(frame: np.ndarray, points: np.ndarray, colour=(0, 255, 0), radius: int = 2) -> np.ndarray:
    out = frame.copy()
    for x, y in np.asarray(points):
        cv2.circle(out, (int(round(x)), int(round(y))), radius, colour, -1, lineType=cv2.LINE_AA)
    return out


def draw_regions(frame: np.ndarray, points: np.ndarray, *, alpha: float = 0.35, numbers: bool = False) -> np.ndarray:
    """The 36 MDMO regions filled semi-transparently, outlined, optionally numbered 1-36."""
    fill = frame.copy()
    polys = region_polygons(points)
    for k, poly in enumerate(polys):
        cv2.fillConvexPoly(fill, cv2.convexHull(np.round(poly).astype(np.int32)), _colour(k), lineType=cv2.LINE_AA)
    out = cv2.addWeighted(fill, alpha, frame, 1 - alpha, 0)
    for k, poly in enumerate(polys):
        cv2.polylines(out, [cv2.convexHull(np.round(poly).astype(np.int32))], True, _colour(k), 1, cv2.LINE_AA)
        if numbers:
            cx, cy = poly.mean(0)
            cv2.putText(out, str(k + 1), (int(cx) - 6, int(cy) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                        cv2.LINE_AA)
    return draw_landmarks(out, points, radius=1)


def draw_flow(frame: np.ndarray, points: np.ndarray, descriptor72: np.ndarray, *, scale: float = 40.0) -> np.ndarray:
    """One arrow per region from its centre: direction and (normalised) magnitude of its main flow."""
    out = frame.copy()
    orientation, magnitude = descriptor72[:N_REGIONS], descriptor72[N_REGIONS:]
    for k, poly in enumerate(region_polygons(points)):
        cx, cy = poly.mean(0)
        angle = orientation[k] * 2 * np.pi
        length = float(magnitude[k]) * scale
        tip = (int(cx + np.cos(angle) * length), int(cy + np.sin(angle) * length))
        cv2.arrowedLine(out, (int(cx), int(cy)), tip, (255, 60, 60), 1, cv2.LINE_AA, tipLength=0.3)
    return out


def draw_region_values(frame: np.ndarray, points: np.ndarray, values: np.ndarray, *, vmax: float | None = None,
                       alpha: float = 0.6, colormap: int = cv2.COLORMAP_INFERNO, label_top: int = 0) -> np.ndarray:
    """The 36 regions filled by ``values`` (36,) on a colour scale from 0 to ``vmax`` (default: the largest).

    The colours are OpenCV's ``colormap`` (inferno: the same scale as matplotlib's "inferno", so
    a figure can add a matching colour bar); ``label_top`` > 0 writes the region number
    (1-36) on that many largest regions.
    """
    values = np.asarray(values, np.float64)
    if values.shape != (N_REGIONS,):
        raise ValueError(f"values must hold one number per region ({N_REGIONS}), got shape {values.shape}")
    top = float(vmax) if vmax is not None else float(values.max())
    level = np.clip(values / top, 0.0, 1.0) if top > 0 else np.zeros(N_REGIONS)
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], colormap)[:, 0, ::-1]  # BGR -> RGB
    corners = region_polygons(points)
    polys = [cv2.convexHull(np.round(p).astype(np.int32)) for p in corners]
    fill = frame.copy()
    for k in np.argsort(level, kind="stable"):  # the strongest regions drawn last, on top of overlaps
        colour = tuple(int(c) for c in lut[int(round(level[k] * 255))])
        cv2.fillConvexPoly(fill, polys[k], colour, lineType=cv2.LINE_AA)
    out = cv2.addWeighted(fill, alpha, frame, 1 - alpha, 0)
    for poly in polys:
        cv2.polylines(out, [poly], True, (255, 255, 255), 1, cv2.LINE_AA)
    for k in np.argsort(-values, kind="stable")[:label_top]:
        cx, cy = corners[k].mean(0)
        for colour, thickness in (((255, 255, 255), 3), ((0, 0, 0), 1)):  # a white halo keeps it readable on any fill
            cv2.putText(out, str(k + 1), (int(cx) - 6, int(cy) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, thickness,
                        cv2.LINE_AA)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.reaction.draw", description="Draw the 36 regions on a real face (docs/face_regions.png).")
    parser.add_argument("--draw", required=True, help="output PNG")
    args = parser.parse_args(argv)
    from core.reaction.landmarks import get_backend
    from skimage import data

    image = data.astronaut()
    backend = get_backend("dlib")
    box = backend.detect(image, 1)[0]
    points = backend.landmarks(image, box)
    x0, y0 = points.min(0) - 60
    x1, y1 = points.max(0) + 30
    crop = np.ascontiguousarray(image[int(y0):int(y1), int(x0):int(x1)])
    local = points - np.array([int(x0), int(y0)], np.float32)
    scale = 3
    big = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    out = draw_regions(big, local * scale, numbers=True)
    cv2.imwrite(args.draw, cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
    print(args.draw)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
