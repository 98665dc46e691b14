"""What labeling produced: each labeler's self-consistency on repeated (gold) images and a summary
per labeler and image set (answer counts, slow share, median response time)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.labeling.session import ANSWERS


def self_consistency(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Agreement between each gold repeat and the first answer to the same image by the same
    labeler (per image set). Pairs where either answer is a skip are counted apart."""
    firsts: dict[tuple, Mapping[str, Any]] = {}
    golds: list[Mapping[str, Any]] = []
    for row in sorted(rows, key=lambda r: r["answered_at"]):
        if row.get("undone_at") is not None:
            continue
        key = (row["labeler_id"], row.get("image_set"), row["image_sha256"])
        if row["is_gold"]:
            golds.append(row)
        else:
            firsts.setdefault(key, row)
    pairs = agree = skipped = 0
    for gold in golds:
        first = firsts.get((gold["labeler_id"], gold.get("image_set"), gold["image_sha256"]))
        if first is None:
            continue
        if "skip" in (first["answer"], gold["answer"]):
            skipped += 1
            continue
        pairs += 1
        agree += first["answer"] == gold["answer"]
    return {"pairs": pairs, "agree": agree, "skipped_pairs": skipped,
            "consistency": agree / pairs if pairs else None}


def labeling_summary(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per labeler and image set: answer counts, slow share, median response time, self-consistency."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("undone_at") is None:
            groups.setdefault((row["labeler_id"], row.get("image_set")), []).append(row)
    out = []
    for (labeler_id, image_set), group in sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        times = sorted(int(r["response_ms"]) for r in group)
        mid = len(times) // 2
        median = times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2
        counts = {a: sum(r["answer"] == a for r in group) for a in ANSWERS}
        out.append({
            "labeler_id": labeler_id, "image_set": image_set, "answers": len(group), **counts,
            "gold": sum(bool(r["is_gold"]) for r in group), "slow": sum(bool(r["slow"]) for r in group),
            "slow_share": sum(bool(r["slow"]) for r in group) / len(group), "median_response_ms": median,
            "regions": sum(r.get("region_x") is not None or bool(r.get("region_xy")) for r in group),
            **{f"gold_{k}": v for k, v in self_consistency(group).items()},
        })
    return out

