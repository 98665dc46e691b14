"""Pictures and report files of the LBE's region attributions (``models/training/attribution.py``).

- :func:`write_attribution_report`: integrated gradients over a held-out set -> the mean region
  shares per class explained as ``region_shares.csv``, ``attribution.json`` (with the settings),
  ``region_shares.png`` (the 36 regions filled on a schematic face, one panel per class) and a
  Markdown section (``attribution.md``, also returned for a larger report).
- :func:`face_figure` / :func:`timeline_figure`: one video's shares on its face and per second,
  as RGB arrays (the demo).

The schematic face is the canonical 68-point shape of ``core/reaction/alignment.py`` (the one
every frame is aligned to before the descriptor is computed), so the regions sit where the
descriptor measured them.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.labels import CLASS_NAMES
from core.reaction.alignment import canonical_shape
from core.reaction.draw import draw_region_values
from core.reaction.face_regions import GROUPS, N_REGIONS
from models.reaction.lbe import LandmarkLSTM
from models.training.attribution import (AttributionConfig, LBEAttribution, attribute_set, class_region_shares,
                                         group_shares)
from models.training.data import FeatureSet

GROUP_LABELS = {"brows": "brows/forehead", "eyes": "eyes/temples", "cheeks": "cheeks/nose",
                "mouth_sides": "beside the mouth", "below_mouth": "below the mouth", "chin": "chin"}
_OUTLINE = [(range(0, 17), False), (range(17, 22), False), (range(22, 27), False), (range(27, 31), False),
            (range(31, 36), False), (range(36, 42), True), (range(42, 48), True), (range(48, 60), True),
            (range(60, 68), True)]


def region_label(k: int) -> str:
    """``"R26 beside the mouth"`` for region index 25."""
    group = next(name for name, regions in GROUPS.items() if k in regions)
    return f"R{k + 1} {GROUP_LABELS[group]}"


def schematic_face(size: int = 224) -> tuple[np.ndarray, np.ndarray]:
    """``(image, points)``: the canonical face's outline (jaw, brows, nose, eyes, lips) on grey."""
    points = canonical_shape(size)
    image = np.full((size, size, 3), 200, np.uint8)
    for idx, closed in _OUTLINE:
        cv2.polylines(image, [np.round(points[list(idx)]).astype(np.int32)], closed, (70, 70, 70), 1, cv2.LINE_AA)
    return image, points


def _rgb(fig: Any) -> np.ndarray:
    fig.canvas.draw()
    out = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return out


def _pyplot() -> Any:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _face_panel(ax: Any, image: np.ndarray, points: np.ndarray, shares: np.ndarray, vmax: float, title: str,
                alpha: float = 0.6) -> None:
    ax.imshow(draw_region_values(image, points, shares, vmax=vmax, alpha=alpha, label_top=3))
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def _colour_bar(fig: Any, axes: Any, vmax: float) -> None:
    plt = _pyplot()
    from matplotlib.colors import Normalize

    bar = fig.colorbar(plt.cm.ScalarMappable(norm=Normalize(0, 100 * vmax), cmap="inferno"), ax=axes, shrink=0.8)
    bar.set_label("share of |attribution| (%)", fontsize=8)


def face_figure(image: np.ndarray, points: np.ndarray, shares: np.ndarray, title: str) -> np.ndarray:
    """One face with its 36 region shares filled (largest three numbered) and a colour bar, as RGB."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.6), dpi=100)
    vmax = max(float(np.max(shares)), 1e-9)
    _face_panel(ax, image, points, shares, vmax, title)
    _colour_bar(fig, ax, vmax)
    return _rgb(fig)


def timeline_figure(attribution: LBEAttribution, title: str = "") -> np.ndarray:
    """Per second, the share of the |attribution| in each face-region group (stacked bars), and per
    frame the total (a line on the right axis), as RGB."""
    plt = _pyplot()
    starts, by_group = attribution.seconds_by_group()
    fig, ax = plt.subplots(figsize=(6.4, 3.0), dpi=100)
    bottom = np.zeros(len(starts))
    for name, values in by_group.items():
        ax.bar(starts + 0.5, 100 * values, width=0.9, bottom=bottom, label=GROUP_LABELS[name], alpha=0.85)
        bottom += 100 * values
    frames = ax.twinx()
    frames.plot(attribution.step_times_s, attribution.step_region.sum(1), color="black", linewidth=1, label="per frame")
    frames.set_ylabel("per frame (logit units)", fontsize=8)
    frames.set_ylim(bottom=0)
    ax.set_xlabel("time in the video (s)")
    ax.set_ylabel("share of |attribution| per second (%)", fontsize=8)
    ax.set_xlim(0, len(starts))
    ax.set_title(title or f"When the LBE decided: {CLASS_NAMES[attribution.target]}", fontsize=9)
    ax.legend(fontsize=6, ncol=3, loc="upper left")
    ax.set_ylim(0, max(float(bottom.max()) if len(bottom) else 0.0, 1.0) * 1.35)
    fig.tight_layout()
    return _rgb(fig)


def class_shares_figure(shares: np.ndarray, counts: np.ndarray, path: str | Path) -> Path:
    """The mean region shares of each class explained on the schematic face, one panel per class."""
    plt = _pyplot()
    image, points = schematic_face(320)
    vmax = max(float(shares.max()), 1e-9)
    fig, axes = plt.subplots(1, len(CLASS_NAMES), figsize=(3.0 * len(CLASS_NAMES) + 1, 3.4), dpi=110)
    for c, ax in enumerate(axes):
        _face_panel(ax, image, points, shares[c], vmax, f"{CLASS_NAMES[c]} ({counts[c]} videos)", alpha=0.9)
    _colour_bar(fig, axes, vmax)
    fig.suptitle("LBE: mean share of |integrated gradients| per face region, by class explained", fontsize=9)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def write_attribution_report(lbe: LandmarkLSTM, fs: FeatureSet, out_dir: str | Path,
                             config: AttributionConfig = AttributionConfig(), *, link_prefix: str = "",
                             title: str = "Which face regions drove the LBE") -> list[str]:
    """Attribute every video of ``fs``, write the files into ``out_dir``, return the Markdown lines.

    ``link_prefix``: the folder of ``out_dir`` relative to the Markdown the lines go into.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = attribute_set(lbe, fs, config)
    shares, counts = class_region_shares(result)
    groups = [group_shares(row) for row in shares]
    deltas = np.abs(result["deltas"])
    with open(out / "region_shares.csv", "w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["class_explained", "videos"] + [f"region_{k + 1}" for k in range(N_REGIONS)] + list(GROUPS))
        for c, name in enumerate(CLASS_NAMES):
            w.writerow([name, int(counts[c])] + [f"{x:.5f}" for x in shares[c]] + [f"{groups[c][g]:.5f}" for g in GROUPS])
    class_shares_figure(shares, counts, out / "region_shares.png")
    summary = {
        "config": config.to_dict(), "videos": len(fs), "synthetic_data": bool(fs.synthetic),
        "counts": counts.tolist(), "region_shares": shares.round(6).tolist(), "group_shares": groups,
        "abs_delta_median": float(np.median(deltas)) if len(deltas) else None,
        "abs_delta_max": float(deltas.max()) if len(deltas) else None,
    }
    (out / "attribution.json").write_text(json.dumps(summary, indent=2))
    lines = [f"## {title}", ""]
    if fs.synthetic:
        lines += ["**SYNTHETIC DATA: these shares describe the code on generated tensors, not people.**", ""]
    lines += [
        f"Integrated gradients (Captum) of the LBE's logit for the class explained ({config.target}), "
        f"baseline `{config.baseline}`, {config.steps} steps, over {len(fs)} held-out videos; per video the "
        "|attribution| of each region's orientation and magnitude channels, summed over time, as shares; "
        f"here the mean per class. Uniform: {100 / N_REGIONS:.1f}% per region. Method: `docs/attribution.md`.", "",
        "| class explained | videos | " + " | ".join(f"{GROUP_LABELS[g]} (uniform {100 * len(r) / N_REGIONS:.0f}%)"
                                                    for g, r in GROUPS.items()) + " | top regions |",
        "|---|---|" + "---|" * len(GROUPS) + "---|",
    ]
    for c, name in enumerate(CLASS_NAMES):
        if not counts[c]:
            lines.append(f"| {name} | 0 |" + " - |" * len(GROUPS) + " - |")
            continue
        top = ", ".join(f"{region_label(int(k))} {100 * shares[c][k]:.1f}%" for k in np.argsort(-shares[c], kind="stable")[:3])
        lines.append(f"| {name} | {counts[c]} | " + " | ".join(f"{100 * groups[c][g]:.1f}%" for g in GROUPS) + f" | {top} |")
    if len(deltas):
        lines += ["", f"Completeness error |sum of attributions - (F(input) - F(baseline))|: median {np.median(deltas):.3f}, "
                  f"max {deltas.max():.3f} logits (large values: the LSTM changes sharply along the path; "
                  "raise the steps to check the shares are stable)."]
    lines += ["", f"![region shares]({link_prefix}region_shares.png)", ""]
    (out / "attribution.md").write_text("\n".join([f"# {title}", ""] + lines[2:]) + "\n")
    return lines


def attribution_section(lbe: LandmarkLSTM, test_set: FeatureSet, report_dir: str | Path, name: str,
                        config: AttributionConfig = AttributionConfig()) -> list[str]:
    """The attribution of one variant's LBE as a section of a report in ``report_dir`` (files in attribution/<name>/)."""
    return write_attribution_report(lbe, test_set, Path(report_dir) / "attribution" / name, config,
                                    link_prefix=f"attribution/{name}/", title=f"Which face regions drove the LBE ({name})")
