"""The paper's Tables 1 and 2 protocol: several variants x seeds -> Markdown + CSV + PNG.

Rows (head of which variant):
PBE = ``pbe``; LBE = ``lbe``; EarlyFusion = ``early-fusion``; LateFusion = ``late-fusion``
(fused); PBE-w/-Mut and LBE-w/-Mut = the PBE and LBE heads of ``plm-ipe`` (Table 2: trained
with mutual learning, each head used alone); PLM-IPE = the fused head of ``plm-ipe``; PLM-IPE
(T^2 KL) = ``plm-ipe-t2``. Each row is reported as mean ± std over seeds.
"""
from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from core.labels import CLASS_NAMES
from models.training.data import FeatureSet
from models.reaction.registry import VARIANTS, model_config
from models.training.figures import confusion_figure, curves_figure
from models.training.evaluate import degenerate_class
from models.training.train import TrainConfig, train_model
from models.training.run_folder import save_run
from models.training.attribution import AttributionConfig
from models.training.attribution_report import attribution_section
from models.training.volunteer_norm import apply_volunteer_norm

ROWS: tuple[tuple[str, str, str], ...] = (
    ("PBE", "pbe", "pbe"),
    ("LBE", "lbe", "lbe"),
    ("EarlyFusion", "early-fusion", "fused"),
    ("LateFusion", "late-fusion", "fused"),
    ("PBE-w/-Mut", "plm-ipe", "pbe"),
    ("LBE-w/-Mut", "plm-ipe", "lbe"),
    ("PLM-IPE", "plm-ipe", "fused"),
    ("PLM-IPE (T^2 KL)", "plm-ipe-t2", "fused"),
    ("FER2013 frames (AffWildNet-like)", "fer2013-frames", "fer"),
)
BASELINES = ("fer2013-frames",)
DEFAULT_VARIANTS = ("pbe", "lbe", "early-fusion", "late-fusion", "plm-ipe")


def _mean_std(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def compare(train_set: FeatureSet, test_set: FeatureSet, out_dir: str | Path, *,
            variants: Sequence[str] = DEFAULT_VARIANTS, seeds: Sequence[int] = (0, 1, 2),
            train_config: TrainConfig = TrainConfig(), model_kw: dict[str, Any] | None = None,
            split_id: str | None = None, progress: bool = False, baselines: Sequence[str] = (),
            attribution: AttributionConfig | None = None) -> dict[str, Any]:
    """Train every variant for every seed, save each run, write report.md, results.csv, summary.csv, PNGs.

    ``attribution``: also explain the LBE of each variant that has one (its first seed's run) on the
    test set with integrated gradients (``models/training/attribution_report.py``): a section of
    report.md and ``attribution/<variant>/``.

    ``baselines``: extra non-PLM-IPE rows; ``"fer2013-frames"`` is the frame-level FER2013
    expression baseline (``models/training/fer_baseline.py``), evaluated for each seed on the same split.
    """
    for b in baselines:
        if b not in BASELINES:
            raise ValueError(f"unknown baseline {b!r}; choose from {', '.join(BASELINES)}")
    for v in variants:
        if v not in VARIANTS:
            raise ValueError(f"unknown variant {v!r}; choose from {', '.join(VARIANTS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    synthetic = bool(train_set.synthetic or test_set.synthetic)
    fingerprint = f"{train_set.fingerprint()}+{test_set.fingerprint()}"
    results: list[dict[str, Any]] = []
    histories: dict[str, list[list[dict]]] = {}
    attribution_lines: list[str] = []
    jobs = [(v, s) for v in variants for s in seeds]
    iterator = jobs
    if progress:
        from tqdm import tqdm
        iterator = tqdm(jobs, desc="compare", unit="run")
    for variant, seed in iterator:
        mc = model_config(variant, **dict(model_kw or {}))
        tc = replace(train_config, seed=seed)
        result = train_model(mc, train_set, test_set, tc)
        save_run(out / "runs" / f"{variant}-s{seed}", result, mc, tc, split_id=split_id, data_fingerprint=fingerprint,
                 synthetic=synthetic)
        histories.setdefault(variant, []).append(result.history)
        if attribution is not None and seed == seeds[0] and result.model.lbe is not None:
            attribution_lines += attribution_section(result.model.lbe, apply_volunteer_norm(test_set, tc.volunteer_norm),
                                                     out, variant, attribution)
        for head, m in result.metrics.items():
            results.append({"variant": variant, "seed": seed, "head": head, "seconds": round(result.seconds, 2), **m})
    if "fer2013-frames" in baselines:
        import time

        from models.training.fer_baseline import evaluate_fer_baseline, set_statistics

        start = time.perf_counter()
        stats = (set_statistics(train_set), set_statistics(test_set))  # the frames' FER outputs, once
        for seed in seeds:
            m = evaluate_fer_baseline(train_set, test_set, seed=seed, stats=stats)
            results.append({"variant": "fer2013-frames", "seed": seed, "head": "fer",
                            "seconds": round(time.perf_counter() - start, 2), **m})
    summary = summarise(results)
    _write_csvs(out, results, summary)
    figures = _plots(out, results, histories)
    meta = {"variants": list(variants), "baselines": list(baselines), "seeds": list(seeds), "split_id": split_id, "data_fingerprint": fingerprint,
            "n_train": len(train_set), "n_test": len(test_set), "train_classes": train_set.class_counts(),
            "test_classes": test_set.class_counts(), "synthetic_data": synthetic,
            "train_config": {k: getattr(train_config, k) for k in ("epochs", "batch_size", "lr_pbe", "lr_lbe",
                                                                   "warmup_steps_pbe")},
            "model_kw": model_kw or {}, "attribution": attribution.to_dict() if attribution else None}
    _write_markdown(out, summary, meta, figures)
    if attribution_lines:
        with open(out / "report.md", "a") as handle:
            handle.write("\n".join(attribution_lines) + "\n")
    (out / "metrics.json").write_text(json.dumps({"summary": summary, **meta}, indent=2, default=str))
    return {"summary": summary, "results": results, "out_dir": str(out)}


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for name, variant, head in ROWS:
        picked = [r for r in results if r["variant"] == variant and r["head"] == head]
        if not picked:
            continue
        acc, acc_sd = _mean_std([r["accuracy"] for r in picked])
        f1, f1_sd = _mean_std([r["macro_f1"] for r in picked])
        per_class = np.mean([r["f1"] for r in picked], axis=0).round(4).tolist()
        conf = np.sum([r["confusion"] for r in picked], axis=0).tolist()
        only = [c for c in (degenerate_class(r["confusion"]) for r in picked) if c]
        rows.append({"method": name, "variant": variant, "head": head, "seeds": len(picked), "accuracy_mean": acc,
                     "accuracy_std": acc_sd, "macro_f1_mean": f1, "macro_f1_std": f1_sd, "f1_per_class": per_class,
                     "confusion_sum": conf, "degenerate_seeds": len(only), "degenerate_classes": sorted(set(only))})
    return rows


def degenerate_note(row: dict[str, Any]) -> str:
    """"degenerate: predicts only negative (2/3 seeds)" for a summary row, "" when no seed was."""
    if not row.get("degenerate_seeds"):
        return ""
    return (f"degenerate: predicts only {' or '.join(row['degenerate_classes'])} "
            f"({row['degenerate_seeds']}/{row['seeds']} seeds)")


def _write_csvs(out: Path, results: list[dict], summary: list[dict]) -> None:
    with open(out / "results.csv", "w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["variant", "seed", "head", "accuracy", "macro_f1", "seconds"]
                   + [f"{m}_{c}" for m in ("precision", "recall", "f1") for c in CLASS_NAMES])
        for r in results:
            w.writerow([r["variant"], r["seed"], r["head"], f"{r['accuracy']:.4f}", f"{r['macro_f1']:.4f}", r["seconds"]]
                       + [f"{x:.4f}" for m in ("precision", "recall", "f1") for x in r[m]])
    with open(out / "summary.csv", "w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["method", "variant", "head", "seeds", "accuracy_mean", "accuracy_std", "macro_f1_mean", "macro_f1_std"]
                   + [f"f1_{c}" for c in CLASS_NAMES] + ["degenerate"])
        for s in summary:
            w.writerow([s["method"], s["variant"], s["head"], s["seeds"], f"{s['accuracy_mean']:.4f}",
                        f"{s['accuracy_std']:.4f}", f"{s['macro_f1_mean']:.4f}", f"{s['macro_f1_std']:.4f}"]
                       + [f"{x:.4f}" for x in s["f1_per_class"]] + [degenerate_note(s)])


def _plots(out: Path, results: list[dict], histories: dict[str, list[list[dict]]]) -> list[str]:
    summary = summarise(results)
    figures = []
    if summary:
        confusion_figure(out / "confusion.png", [(s["method"], s["confusion_sum"]) for s in summary],
                         "Confusion matrices (summed over seeds)")
        figures.append("confusion.png")
    if histories:
        curves_figure(out / "curves.png", histories, over=" (mean over seeds)")
        figures.append("curves.png")
    return figures


def _write_markdown(out: Path, summary: list[dict], meta: dict, figures: list[str]) -> None:
    lines = ["# PLM-IPE comparison (Tables 1 and 2 protocol)", ""]
    if meta["synthetic_data"]:
        lines += ["**SYNTHETIC DATA: these figures measure the code on generated tensors, not reactions of people.**", ""]
    lines += [f"Split: `{meta['split_id']}` · train {meta['n_train']} videos {meta['train_classes']} · "
              f"test {meta['n_test']} videos {meta['test_classes']} (negative, neutral, positive) · "
              f"seeds {meta['seeds']} · data fingerprint `{meta['data_fingerprint']}`", "",
              f"Training: {meta['train_config']}; model settings {meta['model_kw'] or 'paper defaults'}. "
              "One random clip per video per step; all clips averaged at test.", "",
              "| Method | Accuracy (%) | Macro-F1 (%) | F1 neg / neu / pos | seeds |", "|---|---|---|---|---|"]
    for s in summary:
        f1 = " / ".join(f"{100 * x:.1f}" for x in s["f1_per_class"])
        note = degenerate_note(s)
        method = f"{s['method']} **[{note}]**" if note else s["method"]
        lines.append(f"| {method} | {100 * s['accuracy_mean']:.2f} ± {100 * s['accuracy_std']:.2f} | "
                     f"{100 * s['macro_f1_mean']:.2f} ± {100 * s['macro_f1_std']:.2f} | {f1} | {s['seeds']} |")
    flagged = [s for s in summary if s.get("degenerate_seeds")]
    if flagged:
        lines += ["", "**Warning:** " + "; ".join(f"{s['method']} {degenerate_note(s)}" for s in flagged)
                  + ". A head that gives every video the same class has learnt nothing about the videos, whatever "
                  "its accuracy (then that class's share of the test set)."]
    lines += ["", "Per-run rows: `results.csv`; this table: `summary.csv`; checkpoints: `runs/<variant>-s<seed>/`.", ""]
    lines += [f"![{f}]({f})" for f in figures]
    (out / "report.md").write_text("\n".join(lines) + "\n")
