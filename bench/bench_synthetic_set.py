"""Learnability and cost of the SYNTHETIC SentiGarment-shaped set, end to end on this machine.

Renders a subset of the planned set (each volunteer's first N videos, ``data/synthetic_reactions.py``),
extracts the real features (``core.reaction.descriptor.extract_features``: dlib landmarks, 72-d flow, C3D clips),
splits by volunteer with the §4.1 rule (``core.collection.splits.make_volunteer_split``: test volunteers took part
once, genders balanced), trains the chosen variants (``models.training.train.train_model``) and prints held-out
accuracy / macro-F1 next to chance, plus rendering and extraction time per video and their honest
extrapolation to the full set (on this machine, one process).

    python -m bench.bench_synthetic_set OUT [--per-volunteer 3] [--stages render,extract,train]
        [--variants lbe,pbe,plm-ipe] [--epochs 40] [--width 0.0625] [--fc-dim 128] [--hidden 128]

Everything lands under OUT (videos/, features/, train_manifest.csv, runs/<variant>/, timings.json,
results.json). Stages are resumable: rendered videos and extracted features are kept.
SYNTHETIC DATA: the figures say whether the code can learn the generator's class dynamics, nothing
about people.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

STAGES = ("render", "extract", "train")


def _timed_render(out: Path, args: argparse.Namespace) -> dict[str, Any]:
    from data.synthetic_reactions import make_synthetic_dataset, plan_dataset, subset_per_volunteer

    jobs = subset_per_volunteer(plan_dataset(n_volunteers=args.volunteers, n_videos=args.videos,
                                             duration_s=args.seconds), args.per_volunteer)
    todo = sum(not (out / j.relpath).is_file() for j in jobs)
    wall, cpu = time.perf_counter(), time.process_time()
    make_synthetic_dataset(out, n_volunteers=args.volunteers, n_videos=args.videos, duration_s=args.seconds,
                           workers=1, per_volunteer=args.per_volunteer, progress=True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"videos": todo, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "wall_s_per_video": round(wall / todo, 3) if todo else None,
            "cpu_s_per_video": round(cpu / todo, 3) if todo else None}


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _timed_extract(out: Path) -> dict[str, Any]:
    from tqdm import tqdm

    from core.reaction.descriptor import extract_features

    rows = _read_csv(out / "manifest.csv")
    folder = out / "features"
    folder.mkdir(exist_ok=True)
    done = 0
    wall, cpu = 0.0, 0.0
    stages: dict[str, float] = {}
    for row in tqdm(rows, desc="extract", unit="video"):
        target = folder / f"{row['video_id']}.npz"
        if target.is_file():
            continue
        t, c = time.perf_counter(), time.process_time()
        features = extract_features(out / row["path"])
        tmp = target.with_name(f".tmp-{target.name}")
        with open(tmp, "wb") as handle:
            features.save(handle)
        tmp.replace(target)
        wall += time.perf_counter() - t
        cpu += time.process_time() - c
        done += 1
        for k, v in features.meta.get("timings_s", {}).items():
            stages[k] = stages.get(k, 0.0) + float(v)
    return {"videos": done, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "wall_s_per_video": round(wall / done, 3) if done else None,
            "cpu_s_per_video": round(cpu / done, 3) if done else None,
            "cpu_s_per_video_by_stage": {k: round(v / done, 3) for k, v in stages.items()} if done else {}}


def write_split_manifest(out: Path, args: argparse.Namespace, seed: int = 0) -> Path:
    """OUT/train_manifest.csv: the rendered videos with the §4.1 volunteer split (sessions from the full plan)."""
    from core.collection.splits import make_volunteer_split
    from data.synthetic_reactions import plan_dataset

    rows = _read_csv(out / "manifest.csv")
    sessions: dict[str, int] = {}
    for job in plan_dataset(n_volunteers=args.volunteers, n_videos=args.videos, duration_s=args.seconds):
        sessions[job.volunteer_id] = max(sessions.get(job.volunteer_id, 0), job.session)
    genders = {r["volunteer_id"]: r["gender"] for r in rows}
    roster = [{"volunteer_id": v, "gender": g, "sessions": sessions[v]} for v, g in sorted(genders.items())]
    fold = make_volunteer_split(roster, test_fraction=0.2, seed=seed)
    path = out / "train_manifest.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["video_id", "volunteer_id", "fold", "label", "features_npz"])
        writer.writeheader()
        for r in rows:
            # the label is the class of the RATING (never the expression shown): that is what a study records
            writer.writerow({"video_id": r["video_id"], "volunteer_id": r["volunteer_id"],
                             "fold": fold[r["volunteer_id"]], "label": r["class"],
                             "features_npz": f"features/{r['video_id']}.npz"})
    return path


def _train(out: Path, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from core.labels import score_to_class
    from models.training.data import load_manifest
    from models.reaction.registry import model_config
    from models.training.train import TrainConfig, save_run, train_model

    torch.set_num_threads(args.threads)
    manifest = write_split_manifest(out, args, seed=args.split_seed)
    # end-to-end label check: rating -> class thresholds -> manifest label -> training label
    source = {r["video_id"]: r for r in _read_csv(out / "manifest.csv")}
    folds = load_manifest(manifest)
    train_set, test_set = folds["train"], folds["test"]
    for fs in (train_set, test_set):
        for vid, label in zip(fs.video_ids, fs.labels):
            if score_to_class(int(source[vid]["rating"])) != int(label):
                raise AssertionError(f"{vid}: training label {label} is not the class of rating {source[vid]['rating']}")
    overlap = set(train_set.volunteers) & set(test_set.volunteers)
    if overlap:
        raise AssertionError(f"volunteers in both folds: {sorted(overlap)[:5]}")
    counts = np.bincount(test_set.labels, minlength=3)
    info: dict[str, Any] = {
        "train_videos": len(train_set), "test_videos": len(test_set),
        "train_volunteers": len(set(train_set.volunteers)), "test_volunteers": len(set(test_set.volunteers)),
        "train_class_counts": train_set.class_counts(), "test_class_counts": counts.tolist(),
        "majority_class_accuracy": round(float(counts.max() / counts.sum()), 3), "variants": {},
    }
    clip_size = int(train_set.clip_shape[1])
    for variant in args.variants.split(","):
        mc = model_config(variant, width=args.width, fc_dim=args.fc_dim, clip_size=clip_size, hidden=args.hidden)
        tc = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr_pbe=args.lr_pbe, lr_lbe=args.lr_lbe,
                         seed=args.seed, eval_every=args.eval_every)
        result = train_model(mc, train_set, test_set, tc, progress=True)
        save_run(out / "runs" / variant, result, mc, tc, split_id=f"volunteer-split-seed{args.split_seed}",
                 data_fingerprint=f"{train_set.fingerprint()}+{test_set.fingerprint()}", synthetic=True,
                 extra={"data": "SYNTHETIC rendered reactions (data/synthetic_reactions.py)"})
        info["variants"][variant] = {
            "seconds": round(result.seconds, 1),
            "heads": {h: {"accuracy": round(m["accuracy"], 3), "macro_f1": round(m["macro_f1"], 3),
                          "confusion": m.get("confusion")} for h, m in result.metrics.items()},
        }
        print_results(info, variant)
    return info


def print_results(info: dict[str, Any], only: str | None = None) -> None:
    for variant, r in info["variants"].items():
        if only and variant != only:
            continue
        for head, m in r["heads"].items():
            print(f"  {variant:14s} {head:6s} held-out accuracy {m['accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f}  "
                  f"(chance: 0.333 uniform, {info['majority_class_accuracy']:.3f} majority class; "
                  f"{info['test_videos']} videos of {info['test_volunteers']} held-out volunteers; {r['seconds']:.0f} s)")


def extrapolate(timings: dict[str, Any], n_videos: int) -> dict[str, float]:
    """Hours for ``n_videos`` at the measured per-video wall time of each stage (one process on this machine)."""
    out = {}
    for stage in ("render", "extract"):
        per = (timings.get(stage) or {}).get("wall_s_per_video")
        if per:
            out[f"{stage}_hours"] = round(per * n_videos / 3600, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_synthetic_set", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-volunteer", type=int, default=3)
    parser.add_argument("--volunteers", type=int, default=120)
    parser.add_argument("--videos", type=int, default=3345, help="size of the planned set the subset comes from")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--variants", default="lbe,pbe,plm-ipe")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr-pbe", type=float, default=1e-3)
    parser.add_argument("--lr-lbe", type=float, default=2e-3)
    parser.add_argument("--width", type=float, default=1 / 16, help="C3D channel multiplier (paper: 1)")
    parser.add_argument("--fc-dim", type=int, default=128, help="C3D fc6/fc7 units (paper: 4096)")
    parser.add_argument("--hidden", type=int, default=128, help="LSTM hidden units (paper: 256)")
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    stages = [s for s in args.stages.split(",") if s]
    unknown = set(stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stages {sorted(unknown)}; choose from {', '.join(STAGES)}")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    timings_path = out / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    print("SYNTHETIC DATA: rendered reactions of real offline face photos, not people.")
    if "render" in stages:
        r = _timed_render(out, args)
        if r["videos"]:
            timings["render"] = r
        print(f"render: {r}")
    if "extract" in stages:
        e = _timed_extract(out)
        if e["videos"]:
            timings["extract"] = e
        print(f"extract: {e}")
    timings["extrapolated_full_set"] = {"videos": args.videos, **extrapolate(timings, args.videos),
                                        "note": "extrapolation from the measured per-video wall time, one process"}
    timings_path.write_text(json.dumps(timings, indent=2))
    print(f"extrapolated to {args.videos} videos (one process on this machine): {timings['extrapolated_full_set']}")
    if "train" in stages:
        results = _train(out, args)
        results["settings"] = {k: v for k, v in vars(args).items() if k != "out"} | {"out": str(out)}
        (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
        print("SYNTHETIC DATA results (held-out volunteers):")
        print_results(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
