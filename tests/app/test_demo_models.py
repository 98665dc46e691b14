"""``python -m app demo-models``: DEMO runs made once, with model cards, listed first by the demo."""
from __future__ import annotations

import subprocess
import sys

import pytest

from app.demo_cards import PREFERENCE_RUN, REACTION_RUN
from app.serving import DemoService
from tests.conftest import REPO

TINY = ["--videos", "9", "--volunteers", "3", "--seconds", "1.2", "--reaction-epochs", "2", "--preference-epochs", "2",
        "--preference-source-limit", "600", "--workers", "2"]


def _demo_models(home, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), "demo-models", *TINY, *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=1200)


@pytest.mark.slow
def test_demo_models_are_made_once_with_cards_and_listed_first(home) -> None:
    # a fresh home without `init`: demo-models makes the store and the demo catalog itself
    (home.runs / REACTION_RUN).mkdir(parents=True)  # an interrupted attempt: no card -> made again
    (home.runs / REACTION_RUN / "train_args.json").write_text("{}")
    first = _demo_models(home)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for run in (REACTION_RUN, PREFERENCE_RUN):
        card = (home.runs / run / "MODEL_CARD.md").read_text()
        assert "SYNTHETIC" in card and "says nothing about real people" in card and "## Limits" in card
    reaction_card = (home.runs / REACTION_RUN / "MODEL_CARD.md").read_text()
    assert "| fused |" in reaction_card and " training and " in reaction_card  # its held-out figures and split
    assert "simulated labeler" in (home.runs / PREFERENCE_RUN / "MODEL_CARD.md").read_text()
    service = DemoService(home)
    assert service.runs("reaction")[0].label.startswith(f"DEMO: {REACTION_RUN}")
    assert service.runs("preference")[0].label.startswith(f"DEMO: {PREFERENCE_RUN}")
    stamp = (home.runs / REACTION_RUN / "model" / "model.safetensors").stat().st_mtime_ns
    again = _demo_models(home)
    assert again.returncode == 0 and again.stdout.count("exists, nothing to do") == 2
    assert (home.runs / REACTION_RUN / "model" / "model.safetensors").stat().st_mtime_ns == stamp


def test_the_model_card_warns_of_a_head_that_predicts_one_class() -> None:
    from app.demo_cards import _metrics_lines

    metrics = {"pbe": {"accuracy": 0.273, "macro_f1": 0.143, "n": 11, "degenerate": "neutral"},
               "lbe": {"accuracy": 0.636, "macro_f1": 0.556, "n": 11, "degenerate": None}}
    lines = _metrics_lines(metrics)
    assert lines[:2] == ["| pbe | 0.273 | 0.143 |", "| lbe | 0.636 | 0.556 |"]
    assert [line for line in lines if "Warning" in line] == [
        "**Warning:** the pbe head predicts 'neutral' for all 11 test videos: it has learnt nothing about them, "
        "and its accuracy is that class's share."]
    assert not [line for line in _metrics_lines({"lbe": metrics["lbe"]}) if "Warning" in line]
