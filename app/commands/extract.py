"""``python -m app extract``: landmarks, 72-d flow descriptors and C3D clips for every recording."""
from __future__ import annotations

import argparse
import os


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "extract",
        help="extract reaction features of every recorded view (cached, resumable, parallel)",
        description="For every view with a recording (status ok), compute landmarks, the 36-region flow "
        "descriptor and the C3D clips, and cache them by the video's hash and the extractor's settings. "
        "Videos already in the cache are skipped, so an interrupted run resumes where it stopped.",
    )
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
