"""``python -m app extract``: landmarks, 72-d flow descriptors and C3D clips for every recording,
or for any folder / CSV of videos (``--videos``), which also writes a feature manifest for
``train``/``evaluate``/``compare --manifest``."""
from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.reaction.descriptor import FeatureConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "extract",
        help="extract reaction features of every recorded view (cached, resumable, parallel)",
        description="For every view with a recording (status ok), or every video of --videos, compute landmarks, "
        "the 36-region flow descriptor and the C3D clips, and cache them by the video's hash and the extractor's "
        "settings. Videos already in the cache are skipped, so an interrupted run resumes where it stopped.",
    )
    parser.add_argument("--videos", metavar="DIR_OR_CSV",
                        help="extract these videos instead of the store's recordings: a CSV with path,label"
                        "[,video_id,volunteer_id,fold,gender,session] or a folder (DIR/<class>/*.mp4, or flat: "
                        "unlabelled); writes a feature manifest (see --out)")
    parser.add_argument("--out", help="with --videos: the feature manifest to write "
                        "(default: <data home>/manifests/<name>-features.csv)")
    parser.add_argument("--test-fraction", type=float, default=0.2,
                        help="with --videos and no fold column: share of volunteers held out (the §4.1 split)")
    parser.add_argument("--seed", type=int, default=0, help="with --videos and no fold column: the split's seed")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    parser.add_argument("--backend", default="dlib", choices=["dlib", "face-alignment"], help="landmark backend")
    parser.add_argument("--clip-mode", default="face", choices=["face", "full"], help="C3D clip crop")
    parser.set_defaults(func=run)


def _work(job: tuple[str, str, str, dict]) -> tuple[str, str, dict | None, str | None]:
    from core.reaction.descriptor import FeatureConfig
    from core.errors import IPEError
    from core.reaction.feature_cache import compute_to_cache
    from core.paths import DataHome

    import cv2

    cv2.setNumThreads(1)  # one worker process per core: OpenCV's own threads would only contend
    home, video, sha, cfg = job
    try:
        path, meta = compute_to_cache(DataHome.resolve(home), video, FeatureConfig(**cfg), sha)
    except IPEError as err:
        return sha, "", None, str(err)
    return sha, str(path), meta, None


def _extract_all(todo: list[tuple[str, str, str, dict]], workers: int) -> list[tuple[str, str, dict | None, str | None]]:
    """Run :func:`_work` over ``todo`` in ``workers`` processes with a progress bar."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(tqdm(pool.map(_work, todo, chunksize=1), total=len(todo), unit="video"))


def run_videos(args: argparse.Namespace, config: "FeatureConfig") -> int:
    """``--videos``: extract a folder or CSV into the cache and write a feature manifest."""
    import csv
    import io
    from dataclasses import asdict
    from pathlib import Path

    from core.files import atomic_write_text, sha256_file
    from core.labels import CLASS_NAMES
    from core.paths import DataHome
    from core.reaction.feature_cache import cache_path
    from core.reaction.video_list import FEATURE_MANIFEST_COLUMNS, assign_folds, read_video_list

    home = DataHome.resolve(args.home)
    entries = read_video_list(args.videos)  # every bad row is reported here, before any work
    if any(e.label is None for e in entries):
        folds = {e.video_id: "predict" for e in entries}
    else:
        folds = assign_folds(entries, test_fraction=args.test_fraction, seed=args.seed)
    source = Path(args.videos)
    out = Path(args.out) if args.out else home.root / "manifests" / f"{source.stem}-features.csv"
    shas = {e.video_id: sha256_file(e.path) for e in entries}
    todo = [(str(home.root), str(e.path), shas[e.video_id], asdict(config)) for e in entries
            if not cache_path(home, shas[e.video_id], config).is_file()]
    todo = list({job[2]: job for job in todo}.values())
    print(f"{len(entries)} videos from {source}: {len(entries) - len(todo)} already extracted, {len(todo)} to do "
          f"with {args.workers} worker(s)")
    failed = {sha: error for sha, _, _, error in _extract_all(todo, args.workers) if error}
    for e in entries:
        if shas[e.video_id] in failed:
            print(f"failed {e.video_id} ({e.path}): {failed[shas[e.video_id]]}")
    if failed:
        print(f"no manifest written: {len(failed)} video(s) failed; fix or remove them from the list and run again "
              "(the others stay cached)")
        return 1
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(FEATURE_MANIFEST_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for e in entries:
        writer.writerow({"video_id": e.video_id, "volunteer_id": e.volunteer_id, "fold": folds[e.video_id],
                         "label": "" if e.label is None else CLASS_NAMES[e.label],
                         "features_npz": str(cache_path(home, shas[e.video_id], config))})
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, text.getvalue())
    counts = {fold: sum(1 for f in folds.values() if f == fold) for fold in sorted(set(folds.values()))}
    print(f"feature manifest: {out} ({', '.join(f'{k}: {v}' for k, v in counts.items())} videos)")
    print(f"next: python -m app train --manifest {out}")
    return 0


def run(args: argparse.Namespace) -> int:
    from concurrent.futures import ProcessPoolExecutor
    from dataclasses import asdict
    from pathlib import Path

    from tqdm import tqdm

    from core.reaction.descriptor import EXTRACTOR, FeatureConfig
    from core.reaction.feature_cache import register
    from core.store import Store

    config = FeatureConfig(backend=args.backend, clip_mode=args.clip_mode)
    if args.backend != "dlib":
        from core.reaction.landmarks import get_backend
        get_backend(args.backend)  # fail early, with the message on how to get the weights
    if args.videos:
        return run_videos(args, config)
    with Store.open(args.home) as store:
        views = [v for v in store.list_views(status="ok") if v["video_path"]]
        todo, done = [], 0
        for view in views:
            row = store.get_feature_cache(view["video_sha256"], EXTRACTOR, config.key())
            if row and (store.home.root / row["path"]).is_file():  # a row whose file was removed is redone
                done += 1
            else:
                todo.append((str(store.home.root), str(store.home.root / view["video_path"]), view["video_sha256"], asdict(config)))
        todo = list({job[2]: job for job in todo}.values())  # one job per distinct video
        print(f"{len(views)} recorded views: {done} already extracted, {len(todo)} to do with {args.workers} worker(s)")
        failed = []
        with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
            for sha, path, meta, error in tqdm(pool.map(_work, todo, chunksize=1), total=len(todo), unit="video"):
                if error:
                    failed.append((sha, error))
                else:
                    register(store, sha, config, Path(path), meta)
    for sha, error in failed:
        print(f"failed {sha[:12]}: {error}")
    print(f"extracted {len(todo) - len(failed)}, failed {len(failed)}; features in {Path(store.home.features)}")
    return 1 if failed else 0
