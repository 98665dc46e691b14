"""Learnability of the SYNTHETIC SentiGarment-shaped set on faces seen and unseen in training.

For each protocol of ``data/synthetic_protocol.py`` (``leave-faces-out``: held-out volunteers wear
face identities no training volunteer wears; ``seen-faces``: training volunteers wear them too;
the held-out videos are the same under both) this renders a subset of the planned set (each
volunteer's first N videos), extracts the real features (``core.reaction.descriptor.extract_features``),
trains the chosen variants on the protocol's folds with each per-volunteer normalisation
(``models/training/volunteer_norm.py``) and prints held-out accuracy side by side: LBE, PLM-IPE
fused, PBE and a reference that needs no deep learning (a logistic regression on per-video flow
statistics), plus the seen-minus-unseen gap, rendering and extraction time per video. Stage
``cv`` adds a steadier unseen-face figure: leave-one-identity-out over every video of the
leave-faces-out render (logistic regression and LBE, each normalisation).

    python -m bench.bench_synthetic_set OUT [--protocols leave-faces-out,seen-faces] [--volunteers 12]
        [--videos 200] [--per-volunteer 10] [--seconds 2] [--test-fraction 0.25] [--stages render,extract,train,cv]
        [--variants lbe,pbe,plm-ipe] [--volunteer-norms none,baseline] [--seeds 0] [--epochs 30]
        [--preset cpu] [--c3d-norm none|batch] [--dropout 0.5] [--clip-norm unit|standardise|temporal|...]
        [--extra-volunteers 39 --extra-per-volunteer 1]

``--extra-volunteers N`` adds N TRAINING volunteers (M videos each) from a second plan, wearing only the
training faces, the held-out videos unchanged (``bench/synthetic_extra.py``); their runs land in
OUT/<protocol>/runs-extra-<N>x<M>/.

``--preset cpu`` trains the C3D with ``models.reaction.registry.CPU_PRESET`` (BatchNorm, dropout 0.1,
per-clip standardised input, PBE warm-up; docs/c3d_learning.md) where its flags are left unset;
without it the C3D is the plain paper recipe at the given width.

Everything lands under OUT/<protocol>/ (videos/, features/, train_manifest.csv, runs/<norm>/<variant>-s<seed>/)
and OUT/{timings,results,identity_cv}.json. Stages are resumable (a run saved with the same settings and
data is read back, not trained again, so more seeds can be added call by call); a video or feature file
identical under both protocols is made once and linked. SYNTHETIC DATA: the figures say whether the code can learn the
generator's class dynamics on new faces, nothing about people.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

STAGES = ("render", "extract", "train", "cv")
HEADS = (("lbe", "lbe"), ("plm-ipe", "fused"), ("pbe", "pbe"))  # (variant, head) columns of the table


def _plan(args: argparse.Namespace, protocol: str) -> list:
    from data.synthetic_reactions import plan_dataset, subset_per_volunteer

    return subset_per_volunteer(plan_dataset(n_volunteers=args.volunteers, n_videos=args.videos,
                                             duration_s=args.seconds, protocol=protocol,
                                             test_fraction=args.test_fraction), args.per_volunteer)


def _twins(jobs: list, done: dict[str, tuple[Path, list]], file_of: Callable[[Path, Any], Path]) -> dict[str, Path]:
    """``{video_id: file}`` of identical jobs already made under another protocol."""
    mine = {j.video_id: j for j in jobs}
    return {j.video_id: file_of(root, j) for root, other in done.values() for j in other if mine.get(j.video_id) == j}


def _timed_render(out: Path, args: argparse.Namespace, protocol: str, twins: dict[str, Path]) -> dict[str, Any]:
    from data.synthetic_reactions import make_synthetic_dataset

    jobs = _plan(args, protocol)
    todo = sum(not (out / j.relpath).is_file() and not (j.video_id in twins and twins[j.video_id].is_file())
               for j in jobs)
    wall, cpu = time.perf_counter(), time.process_time()
    make_synthetic_dataset(out, n_volunteers=args.volunteers, n_videos=args.videos, duration_s=args.seconds,
                           workers=1, per_volunteer=args.per_volunteer, progress=True, protocol=protocol,
                           test_fraction=args.test_fraction, twins=twins)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"videos": todo, "linked": len(jobs) - todo, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "wall_s_per_video": round(wall / todo, 3) if todo else None}


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _timed_extract(out: Path, twins: dict[str, Path]) -> dict[str, Any]:
    from tqdm import tqdm

    from core.reaction.descriptor import extract_features
    from data.synthetic_reactions import _link_or_copy

    folder = out / "features"
    folder.mkdir(exist_ok=True)
    done, wall, cpu = 0, 0.0, 0.0
    for row in tqdm(_read_csv(out / "manifest.csv"), desc=f"extract {out.name}", unit="video"):
        target = folder / f"{row['video_id']}.npz"
        twin = twins.get(row["video_id"])
        if not target.is_file() and twin is not None and twin.is_file():
            _link_or_copy(twin, target)
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
    return {"videos": done, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "wall_s_per_video": round(wall / done, 3) if done else None}


def _source_rows(out: Path, args: argparse.Namespace | None) -> list[dict[str, str]]:
    """OUT/<protocol>/manifest.csv's rows, and the extra training volunteers' (bench/synthetic_extra.py)."""
    from bench.synthetic_extra import extra_rows

    base = [r | {"features_npz": f"features/{r['video_id']}.npz"} for r in _read_csv(out / "manifest.csv")]
    return base + (extra_rows(out, args) if args is not None else [])


def write_split_manifest(out: Path, args: argparse.Namespace | None = None) -> Path:
    """OUT/<protocol>/train_manifest.csv: the rendered videos with the protocol's folds (from the plan)."""
    path = out / "train_manifest.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["video_id", "volunteer_id", "fold", "label", "features_npz"])
        writer.writeheader()
        for r in _source_rows(out, args):
            # the label is the class of the RATING (never the expression shown): that is what a study records
            writer.writerow({"video_id": r["video_id"], "volunteer_id": r["volunteer_id"], "fold": r["fold"],
                             "label": r["class"], "features_npz": r["features_npz"]})
    return path


def flow_statistics(fs: Any) -> np.ndarray:
    """(V, 144): mean and standard deviation of each descriptor channel over a video's valid steps."""
    from models.training.npz_arrays import read_item

    rows = []
    for i in range(len(fs)):
        flow = np.asarray(read_item(fs.flow, i), np.float64)[np.asarray(fs.flow_valid[i], bool)]
        rows.append(np.concatenate([flow.mean(0), flow.std(0)]) if len(flow) else np.zeros(2 * flow.shape[1]))
    return np.array(rows)


def logistic_reference(train_set: Any, test_set: Any) -> float:
    """Held-out accuracy of a logistic regression on per-video flow statistics (no deep learning)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(set(train_set.labels.tolist())) < 2:
        return float("nan")  # one class in training (toy sizes): nothing to fit
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(flow_statistics(train_set), train_set.labels)
    return float((model.predict(flow_statistics(test_set)) == test_set.labels).mean())


def _check_folds(out: Path, train_set: Any, test_set: Any, protocol: str, args: argparse.Namespace) -> None:
    """End-to-end checks: labels are the ratings' classes; no volunteer (and, leaving faces out, no face) in both."""
    from core.labels import score_to_class

    source = {r["video_id"]: r for r in _source_rows(out, args)}
    for fs in (train_set, test_set):
        for vid, label in zip(fs.video_ids, fs.labels):
            if score_to_class(int(source[vid]["rating"])) != int(label):
                raise AssertionError(f"{vid}: training label {label} is not the class of rating {source[vid]['rating']}")
    if set(train_set.volunteers) & set(test_set.volunteers):
        raise AssertionError("volunteers in both folds")
    faces = [{source[v]["face_id"] for v in fs.video_ids} for fs in (train_set, test_set)]
    if protocol == "leave-faces-out" and faces[0] & faces[1]:
        raise AssertionError(f"faces in both folds under leave-faces-out: {sorted(faces[0] & faces[1])}")
    if protocol == "seen-faces" and not faces[1] <= faces[0]:
        raise AssertionError(f"held-out faces never seen in training under seen-faces: {sorted(faces[1] - faces[0])}")


def _saved_run(run_dir: Path, mc: Any, tc: Any, fingerprint: str) -> tuple[dict[str, Any] | None, float]:
    """(held-out metrics, training seconds) of a run already saved in ``run_dir`` with exactly these
    settings and data, else (None, 0): the train stage resumes where an earlier call stopped."""
    from dataclasses import asdict

    path = run_dir / "model" / "config.json"
    if not path.is_file():
        return None, 0.0
    saved = json.loads(path.read_text())
    same = json.loads(json.dumps({"a": mc.to_dict(), "t": asdict(tc)}, default=str)) == {"a": saved["architecture"],
                                                                                         "t": saved["train"]}
    if not same or saved.get("data_fingerprint") != fingerprint:
        return None, 0.0
    return saved["metrics"], float(saved.get("train_seconds", 0.0))


def _train(out: Path, args: argparse.Namespace, protocol: str) -> dict[str, Any]:
    from dataclasses import replace

    from bench.synthetic_extra import runs_folder

    from models.reaction.registry import model_config
    from models.training.data import load_manifest
    from models.training.evaluate import degenerate_class
    from models.training.train import TrainConfig, train_model
    from models.training.run_folder import save_run
    from models.training.volunteer_norm import apply_volunteer_norm

    folds = load_manifest(write_split_manifest(out, args))
    train_set, test_set = folds["train"], folds["test"]
    _check_folds(out, train_set, test_set, protocol, args)
    counts = np.bincount(test_set.labels, minlength=3)
    info: dict[str, Any] = {
        "train_videos": len(train_set), "test_videos": len(test_set),
        "train_volunteers": len(set(train_set.volunteers)), "test_volunteers": len(set(test_set.volunteers)),
        "test_class_counts": counts.tolist(), "majority_class_accuracy": round(float(counts.max() / counts.sum()), 3),
        "norms": {},
    }
    clip_size = int(train_set.clip_shape[1])
    base = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr_pbe=args.lr_pbe, lr_lbe=args.lr_lbe,
                       eval_every=args.eval_every, warmup_steps_pbe=args.warmup_steps_pbe)
    fingerprint = f"{train_set.fingerprint()}+{test_set.fingerprint()}"
    for norm in args.volunteer_norms.split(","):
        row: dict[str, Any] = {"logistic_flow_stats": round(logistic_reference(
            apply_volunteer_norm(train_set, norm), apply_volunteer_norm(test_set, norm)), 3), "variants": {}}
        for variant in args.variants.split(","):
            mc = model_config(variant, width=args.width, fc_dim=args.fc_dim, clip_size=clip_size, hidden=args.hidden,
                              dropout=args.dropout, norm=args.c3d_norm, clip_norm=args.clip_norm)
            trained = next((r["variants"][variant] for r in info["norms"].values() if variant in r["variants"]), None)
            if variant == "pbe" and trained is not None:  # reads no flow: the same run under every normalisation
                row["variants"][variant] = trained
                continue
            for seed in args.seeds:
                tc = replace(base, seed=seed, volunteer_norm=norm)
                run_dir = out / runs_folder(args) / norm / f"{variant}-s{seed}"
                metrics, seconds = _saved_run(run_dir, mc, tc, fingerprint)
                if metrics is None:
                    result = train_model(mc, train_set, test_set, tc, progress=True)
                    save_run(run_dir, result, mc, tc, split_id=f"synthetic-{protocol}", data_fingerprint=fingerprint,
                             synthetic=True, extra={"data": f"SYNTHETIC rendered reactions, protocol {protocol}"})
                    metrics, seconds = result.metrics, result.seconds
                row["variants"].setdefault(variant, []).append(
                    {"seed": seed, "seconds": round(seconds, 1),
                     "heads": {h: {"accuracy": round(m["accuracy"], 3), "macro_f1": round(m["macro_f1"], 3),
                                   "predicted": np.asarray(m["confusion"]).sum(0).tolist(),
                                   "degenerate": degenerate_class(m["confusion"])}
                               for h, m in metrics.items()}})
        info["norms"][norm] = row
    return info


def identity_cv(out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Leave-one-identity-out over every rendered video of a folder: each video is predicted by a
    logistic regression and an LBE that never saw its face (a steadier figure than one small split)."""
    from dataclasses import replace

    from models.reaction.registry import model_config
    from models.training.data import load_manifest, write_manifest
    from models.training.train import TrainConfig, train_model
    from models.training.volunteer_norm import apply_volunteer_norm

    rows = _read_csv(out / "manifest.csv")
    face = {r["video_id"]: r["face_id"] for r in rows}
    everything = load_manifest(write_manifest(out / "cv_manifest.csv", [
        {"video_id": r["video_id"], "volunteer_id": r["volunteer_id"], "fold": "all", "label": r["class"],
         "features_npz": f"features/{r['video_id']}.npz"} for r in rows]))["all"]
    identities = sorted(set(face.values()))
    base = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr_lbe=args.lr_lbe, eval_every=0)
    result: dict[str, Any] = {"videos": len(everything), "identities": len(identities), "norms": {}}
    for norm in args.volunteer_norms.split(","):
        # statistics are per volunteer, from their own videos only: the same inside every fold
        normed = apply_volunteer_norm(everything, norm)
        hits = {"logistic_flow_stats": 0.0, **{f"lbe-s{seed}": 0.0 for seed in args.seeds}}
        for identity in identities:
            held = [i for i, v in enumerate(normed.video_ids) if face[v] == identity]
            rest = [i for i, v in enumerate(normed.video_ids) if face[v] != identity]
            train_set, test_set = normed.subset(rest), normed.subset(held)
            hits["logistic_flow_stats"] += logistic_reference(train_set, test_set) * len(held)
            for seed in args.seeds:
                # the flow is standardised already: train on it as it is
                run = train_model(model_config("lbe", hidden=args.hidden), train_set, test_set, replace(base, seed=seed))
                hits[f"lbe-s{seed}"] += run.metrics["lbe"]["accuracy"] * len(held)
        result["norms"][norm] = {k: round(v / len(normed), 3) for k, v in hits.items()}
    return result


def _cell(row: dict[str, Any], variant: str, head: str) -> tuple[str, list[float]]:
    runs = row["variants"].get(variant, [])
    accs = [r["heads"][head]["accuracy"] for r in runs if head in r["heads"]]
    if not accs:
        return "-", []
    text = f"{np.mean(accs):.3f}" + (f"±{np.std(accs):.3f}" if len(accs) > 1 else "")
    one_class = sum(bool(r["heads"][head].get("degenerate")) for r in runs if head in r["heads"])
    return text + (f" [{one_class}/{len(accs)} one class]" if one_class else ""), accs


def print_table(results: dict[str, Any]) -> None:
    """Held-out accuracy per protocol x normalisation, and the seen - unseen gap."""
    print(f"{'protocol':16s} {'volunteer norm':14s} " + " ".join(f"{v + ' ' + h:>16s}" for v, h in HEADS)
          + f" {'flow-stats LR':>14s} {'majority':>9s}  held-out")
    means: dict[tuple[str, str], list[float]] = {}
    for protocol, info in results["protocols"].items():
        for norm, row in info["norms"].items():
            cells = [_cell(row, v, h) for v, h in HEADS]
            means[(protocol, norm)] = [float(np.mean(a)) if a else float("nan") for _, a in cells] + \
                [row["logistic_flow_stats"]]
            print(f"{protocol:16s} {norm:14s} " + " ".join(f"{t:>16s}" for t, _ in cells)
                  + f" {row['logistic_flow_stats']:>14.3f} {info['majority_class_accuracy']:>9.3f}"
                  + f"  {info['test_videos']} videos / {info['test_volunteers']} volunteers")
    for norm in dict.fromkeys(n for _, n in means):
        seen, unseen = means.get(("seen-faces", norm)), means.get(("leave-faces-out", norm))
        if seen and unseen:
            gaps = [s - u for s, u in zip(seen, unseen)]
            print(f"{'gap seen-unseen':16s} {norm:14s} " + " ".join(f"{g:>16.3f}" for g in gaps[:-1])
                  + f" {gaps[-1]:>14.3f}")
    print("(the PBE reads no flow: one PBE run serves every normalisation; [k/n one class]: k of the n seeds' heads "
          "predicted one class for every held-out video, a head that learnt nothing)")


def main(argv: list[str] | None = None) -> int:
    from bench.synthetic_extra import extra_name, render_extra
    from core.reaction.clips import CLIP_NORMS
    from data.synthetic_protocol import PROTOCOLS

    parser = argparse.ArgumentParser(prog="python -m bench.bench_synthetic_set", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--protocols", default=",".join(PROTOCOLS))
    parser.add_argument("--per-volunteer", type=int, default=10)
    parser.add_argument("--volunteers", type=int, default=12)
    parser.add_argument("--videos", type=int, default=200, help="size of the planned set the subset comes from")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--extra-volunteers", type=int, default=0,
                        help="more TRAINING volunteers from a second plan, the held-out videos unchanged")
    parser.add_argument("--extra-per-volunteer", type=int, default=1)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--variants", default="lbe,pbe,plm-ipe")
    parser.add_argument("--volunteer-norms", default="none,baseline")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr-pbe", type=float, default=1e-3)
    parser.add_argument("--lr-lbe", type=float, default=2e-3)
    parser.add_argument("--width", type=float, default=1 / 16, help="C3D channel multiplier (paper: 1)")
    parser.add_argument("--fc-dim", type=int, default=128, help="C3D fc6/fc7 units (paper: 4096)")
    parser.add_argument("--hidden", type=int, default=128, help="LSTM hidden units (paper: 256)")
    parser.add_argument("--dropout", type=float, default=0.5, help="C3D fc6/fc7 dropout (paper: 0.5)")
    parser.add_argument("--c3d-norm", default="none", choices=["none", "batch"], help="BatchNorm after each C3D conv")
    parser.add_argument("--clip-norm", default="unit", choices=list(CLIP_NORMS), help="C3D input normalisation")
    parser.add_argument("--warmup-steps-pbe", type=int, default=0)
    parser.add_argument("--preset", choices=["cpu"],
                        help="cpu: models.reaction.registry.CPU_PRESET for every C3D / training flag left at its default")
    parser.add_argument("--eval-every", type=int, default=0)
    parser.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.preset == "cpu":
        from models.reaction.variants import CPU_PRESET

        dests = {"norm": "c3d_norm"}
        for key, value in {**CPU_PRESET["model"], **CPU_PRESET["train"]}.items():
            dest = dests.get(key, key)
            if getattr(args, dest) == parser.get_default(dest):
                setattr(args, dest, value)
    stages = [s for s in args.stages.split(",") if s]
    protocols = [p for p in args.protocols.split(",") if p]
    if set(stages) - set(STAGES) or set(protocols) - set(PROTOCOLS):
        parser.error(f"stages are {', '.join(STAGES)}; protocols are {', '.join(PROTOCOLS)}")
    import torch

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    timings_path = args.out / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    print("SYNTHETIC DATA: rendered reactions of real offline face photos, not people.")
    done: dict[str, tuple[Path, list]] = {}
    for protocol in protocols:
        out = args.out / protocol
        jobs = _plan(args, protocol)
        if "render" in stages:
            twins = _twins(jobs, done, lambda root, j: root / j.relpath)
            timings.setdefault(protocol, {})["render"] = r = _timed_render(out, args, protocol, twins)
            print(f"{protocol} render: {r}")
            if args.extra_volunteers > 0:
                timings[protocol]["render-extra"] = r = render_extra(out, args, protocol, jobs)
                print(f"{protocol} render of the extra training volunteers: {r}")
        if "extract" in stages:
            twins = _twins(jobs, done, lambda root, j: root / "features" / f"{j.video_id}.npz")
            timings.setdefault(protocol, {})["extract"] = e = _timed_extract(out, twins)
            print(f"{protocol} extract: {e}")
            if args.extra_volunteers > 0:
                timings[protocol]["extract-extra"] = e = _timed_extract(out / extra_name(args), {})
                print(f"{protocol} extract of the extra training volunteers: {e}")
        done[protocol] = (out, jobs)
    timings_path.write_text(json.dumps(timings, indent=2))
    if "train" in stages:
        results = {"protocols": {p: _train(args.out / p, args, p) for p in protocols},
                   "settings": {k: v for k, v in vars(args).items() if k != "out"} | {"out": str(args.out)}}
        (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))
        print("SYNTHETIC DATA, held-out accuracy (chance 0.333):")
        print_table(results)
    if "cv" in stages and "leave-faces-out" in protocols:
        cv = identity_cv(args.out / "leave-faces-out", args)
        (args.out / "identity_cv.json").write_text(json.dumps(cv, indent=2))
        print(f"leave-one-identity-out over the leave-faces-out render ({cv['videos']} videos, {cv['identities']} "
              "identities; every video predicted by models that never saw its face):")
        for norm, accs in cv["norms"].items():
            print(f"  volunteer norm {norm:9s} " + "  ".join(f"{k} {v:.3f}" for k, v in accs.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
