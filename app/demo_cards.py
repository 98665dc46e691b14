"""Make the DEMO runs (``python -m app demo-models``) with the kit's own commands, and write their
model cards. A card is written last: it marks the run finished (``app/demo_runs.is_demo``)."""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from core.errors import IPEError
from core.files import atomic_write_text
from core.paths import DataHome
from app.demo_runs import MODEL_CARD

REACTION_RUN = "demo-reaction"
PREFERENCE_RUN = "demo-preference"
REPO = Path(__file__).resolve().parents[1]

NOT_PEOPLE = ("The data is SYNTHETIC. It says nothing about real people, their faces or their taste: do not use "
              "this model to judge anyone. It exists to show the pipeline end to end on a fresh clone.")


def _step(label: str, command: list[str], home: DataHome, *, may_fail: bool = False) -> tuple[int, str]:
    """Run one of the kit's commands as its own process (its progress bar, on stderr, shows; its
    output is echoed and returned); a failure stops here unless ``may_fail``."""
    print(f"[demo-models] {label}", flush=True)
    t = time.perf_counter()
    process = subprocess.Popen([sys.executable, *command], cwd=REPO, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "IPE_HOME": str(home.root)})
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    code = process.wait()
    if code != 0 and not may_fail:
        raise IPEError(f"demo-models: {label} failed (exit {code}); see the messages above, fix and run "
                       "`python -m app demo-models` again (finished steps are kept)")
    print(f"[demo-models] {label}: {time.perf_counter() - t:.0f} s", flush=True)
    return code, "".join(lines)


def _without(manifest: Path, video_ids: set[str], out: Path) -> Path:
    """``manifest`` without the rows of ``video_ids`` (videos whose face the tracker lost)."""
    with manifest.open(newline="") as src:
        rows = list(csv.DictReader(src))
    with out.open("w", newline="") as dst:
        writer = csv.DictWriter(dst, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if r["video_id"] not in video_ids)
    return out


def _fresh(folder: Path) -> bool:
    """True when the run must be made: no card yet (an unfinished attempt is removed first)."""
    if (folder / MODEL_CARD).is_file():
        print(f"[demo-models] {folder.name}: exists, nothing to do")
        return False
    if folder.exists():
        shutil.rmtree(folder)
    return True


def _metrics_lines(metrics: dict[str, Any]) -> list[str]:
    """The metrics table, then a warning under it for each head that predicts one class for every
    test video (``degenerate``, from ``models/training/evaluate.py``): its accuracy is that class's share."""
    heads = {head: m for head, m in metrics.items() if isinstance(m, dict) and "accuracy" in m and "macro_f1" in m}
    lines = [f"| {head} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} |" for head, m in heads.items()]
    warnings = [f"**Warning:** the {head} head predicts {m['degenerate']!r} for all {m.get('n', '?')} test videos: "
                "it has learnt nothing about them, and its accuracy is that class's share." for head, m in heads.items()
                if m.get("degenerate")]
    return lines + ([""] + warnings if warnings else [])


def make_demo_reaction(home: DataHome, config: Any) -> Path | None:
    folder = home.runs / REACTION_RUN
    if not _fresh(folder):
        return None
    data = home.root / "demo-data" / "synthetic-reactions"
    manifest = home.root / "manifests" / "demo-reaction-features.csv"
    _step("1/3 render the synthetic reaction videos", [
        "-m", "data.synthetic_reactions", str(data), "--videos", str(config.videos), "--volunteers",
        str(config.volunteers), "--seconds", str(config.seconds), "--workers", str(config.workers)], home)
    extract = ["-m", "app", "extract", "--out", str(manifest), "--workers", str(config.workers), "--videos"]
    code, output = _step("2/3 extract their features", [*extract, str(data / "manifest.csv")], home, may_fail=True)
    failed = set(re.findall(r"^failed (\S+) \(", output, flags=re.MULTILINE))
    if code != 0 and failed:  # a generated face the tracker cannot follow: train on the others
        print(f"[demo-models] leaving out {len(failed)} video(s) without a tracked face: {', '.join(sorted(failed))}")
        _step("2/3 extract their features (the rest: cached)",
              [*extract, str(_without(data / "manifest.csv", failed, data / "manifest-usable.csv"))], home)
    elif code != 0:
        raise IPEError("demo-models: extracting the synthetic videos failed; see the messages above")
    _step("3/3 train PLM-IPE (--preset cpu)", ["-m", "app", "train", "--manifest", str(manifest), "--preset", "cpu",
                                               "--epochs", str(config.reaction_epochs), "--run-id", REACTION_RUN], home)
    summary = json.loads((folder / "metrics.json").read_text())
    with manifest.open(newline="") as src:
        folds = Counter(row.get("fold", "?") for row in csv.DictReader(src))
    card = [
        "# DEMO reaction model (PLM-IPE, CPU size)", "", f"**{NOT_PEOPLE}**", "",
        "## Data", f"{config.videos} SYNTHETIC reaction videos of {config.volunteers} synthetic volunteers, "
        f"{config.seconds:g} s each (`data/synthetic_reactions.py`: built-in face photos animated with a smile for a "
        "liked outfit, a frown or nothing for a disliked one, a mix for neutral; some label noise).",
        "", "## Split", f"{folds.get('train', 0)} training and {folds.get('test', 0)} test videos (videos whose face the "
        "tracker lost are left out). Leave-faces-out: the test volunteers wear face identities never seen in "
        "training (`data/synthetic_protocol.py`).",
        "", "## Training", f"`python -m app train --preset cpu --epochs {config.reaction_epochs}` (C3D width 1/16, "
        "LBE LSTM; the paper's fusion). Settings and the feature extractor's settings: `model/config.json`.",
        "", "## Metrics (held-out synthetic volunteers, last epoch)", "| head | accuracy | macro-F1 |", "|---|---|---|",
        *_metrics_lines(summary.get("metrics", {})),
        "", "## Intended use", "Trying the demo: see what the model, its landmarks, flow and Grad-CAM look like.",
        "", "## Limits", "Trained on a few dozen generated videos of a handful of faces: it recognises exaggerated "
        "synthetic smiles and frowns, not how a real person feels about an outfit. Its figures say nothing about "
        "the method's accuracy on real reactions (the paper's numbers need the real data and the full-size model).",
    ]
    atomic_write_text(folder / MODEL_CARD, "\n".join(card) + "\n")
    return folder


def make_demo_preference(home: DataHome, config: Any) -> Path | None:
    folder = home.runs / PREFERENCE_RUN
    if not _fresh(folder):
        return None
    _step("1/1 train the simulated labeler's preference model", [
        "-m", "app", "train-preference", "--simulated", config.simulated_labeler, "--target", "catalog",
        "--source-limit", str(config.preference_source_limit), "--source-epochs", "1", "--epochs",
        str(config.preference_epochs), "--no-efficientnet", "--widths", "16,32,64", "--run-id", PREFERENCE_RUN], home)
    report = folder / "report.md"
    card = [
        "# DEMO preference model (a simulated labeler)", "", f"**{NOT_PEOPLE}**", "",
        "## Data", f"Labels come from a rule, the simulated labeler `{config.simulated_labeler}` "
        "(`core/labeling/simulated_labeler.py`), not from a person: source domain "
        f"{config.preference_source_limit} Fashion-MNIST images, target domain the generated demo catalog.",
        "", "## Split", "Train / validation / test (the paper's Model 2 protocol, selection on validation).",
        "", "## Training", f"`python -m app train-preference --simulated {config.simulated_labeler} --source-epochs 1 "
        f"--epochs {config.preference_epochs} --widths 16,32,64 --no-efficientnet`: a small CNN on Fashion-MNIST, then "
        "on the catalog from scratch and by transfer.",
        "", "## Metrics", f"See `{report.name}` in this folder (test accuracy per method)." if report.is_file() else "",
        "", "## Intended use", "Trying the demo's Preference tab and its heat maps.",
        "", "## Limits", "It learns a fixed rule about colours and categories on a few dozen generated catalog images; "
        "it says nothing about anyone's taste.",
    ]
    atomic_write_text(folder / MODEL_CARD, "\n".join(card) + "\n")
    return folder
