"""More TRAINING volunteers for ``bench.bench_synthetic_set``, the held-out videos unchanged.

The base plan's folds come from one seeded plan, so asking it for more volunteers would change
who is held out. Instead a second plan (seed 1) of ``--extra-volunteers`` volunteers is rendered
into OUT/<protocol>/extra-<N>x<M>/ with only the faces the base plan's training volunteers wear
(so under leave-faces-out the held-out faces stay unseen) and no held-out volunteer; its rows join
the training fold with ids prefixed ``x-`` so they never clash with the base plan's volunteers.
Runs trained with them land in OUT/<protocol>/runs-extra-<N>x<M>/ beside the base runs.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

EXTRA_SEED = 1  # the base plan is seed 0: other volunteers, styles and dynamics
PREFIX = "x-"


def extra_name(args: argparse.Namespace) -> str:
    """``extra-<N>x<M>`` for N extra volunteers of M videos each, or "" without extra volunteers."""
    return f"extra-{args.extra_volunteers}x{args.extra_per_volunteer}" if args.extra_volunteers > 0 else ""


def runs_folder(args: argparse.Namespace) -> str:
    return f"runs-{extra_name(args)}" if args.extra_volunteers > 0 else "runs"


def _extra_kwargs(args: argparse.Namespace, base_jobs: list) -> dict[str, Any]:
    faces = sorted({j.appearance.face for j in base_jobs if j.fold == "train"})
    n = args.extra_volunteers
    # the same videos per volunteer as the base plan; a test fraction this small holds nobody out
    return {"n_volunteers": n, "n_videos": max(n, args.videos * n // args.volunteers), "duration_s": args.seconds,
            "seed": EXTRA_SEED, "faces": faces, "per_volunteer": args.extra_per_volunteer,
            "test_fraction": 0.4 / n}


def render_extra(out: Path, args: argparse.Namespace, protocol: str, base_jobs: list) -> dict[str, Any]:
    """Render the extra training volunteers into OUT/<protocol>/extra-<N>x<M>/ (resumable); timings."""
    import time

    from data.synthetic_reactions import make_synthetic_dataset

    folder = out / extra_name(args)
    wall, cpu = time.perf_counter(), time.process_time()
    manifest = make_synthetic_dataset(folder, workers=1, progress=True, protocol=protocol,
                                      **_extra_kwargs(args, base_jobs))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows = _read(manifest)
    if any(r["fold"] != "train" for r in rows):
        raise AssertionError(f"{folder}: extra volunteers must all be in training")
    return {"videos": len(rows), "volunteers": len({r["volunteer_id"] for r in rows}),
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}


def _read(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def extra_rows(out: Path, args: argparse.Namespace) -> list[dict[str, str]]:
    """The extra volunteers' manifest rows, ids prefixed and ``path`` / ``features_npz`` relative to
    OUT/<protocol>/; [] without extra volunteers."""
    if args.extra_volunteers <= 0:
        return []
    name = extra_name(args)
    rows = _read(out / name / "manifest.csv")
    return [r | {"video_id": PREFIX + r["video_id"], "volunteer_id": PREFIX + r["volunteer_id"],
                 "path": f"{name}/{r['path']}", "features_npz": f"{name}/features/{r['video_id']}.npz"}
            for r in rows]
