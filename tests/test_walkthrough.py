"""The README's walk "From reactions to a trained model", run as a researcher runs it: reactions
committed through the store API (real-face videos), then `export`, `extract`, `split`, `train`,
`evaluate` as commands, and the demo's service predicting with the new run."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from app.serving import DemoService
from core.store import Store, utcnow
from data.reaction_video import ReactionSpec, make_reaction_video
from tests.conftest import REPO
from tests.store_helpers import CONSENT, write_catalog

pytestmark = pytest.mark.slow

# (expression, rating): what each volunteer's three outfits made them do
REACTIONS = [("smile", 85), ("neutral", 50), ("frown", 15)]
FACES = [("astronaut", "female"), ("feat-single", "male"), ("astronaut", "female"), ("feat-single", "male"),
         ("astronaut", "female"), ("feat-single", "male")]


def app(home, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), *args], cwd=REPO,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def collect(home, tmp_path) -> None:
    """Six volunteers, one session each, three takes each, committed as the collection app does."""
    from core.collection.catalog import import_catalog

    with Store.open(home) as store:
        import_catalog(store, write_catalog(tmp_path / "catalog"))
        outfits = [o["outfit_id"] for o in store.list_outfits()]
        for v, (face, gender) in enumerate(FACES):
            volunteer = store.add_volunteer(age_band="25-34", gender=gender, consent=CONSENT)["volunteer_id"]
            session = store.start_session(volunteer)
            for position, (expression, rating) in enumerate(REACTIONS):
                temp = store.new_video_tempfile()
                make_reaction_video(temp, ReactionSpec(expression, duration_s=1.5, seed=10 * v + position, face=face,
                                                       onset_s=0.2, ramp_s=0.4))
                shown = utcnow()
                store.commit_recording(session_id=session, outfit_id=outfits[(v + position) % len(outfits)],
                                       position=position, temp_video=temp, rating=rating, status="ok", shown_at=shown,
                                       rated_at=shown + timedelta(seconds=2),
                                       video_meta={"frames": 45, "fps": 30.0, "duration_s": 1.5, "width": 640,
                                                   "height": 480})
            store.finish_session(session)


def test_from_reactions_to_a_trained_model(home, tmp_path) -> None:
    collect(home, tmp_path)
    app(home, "export", str(tmp_path / "export"))
    assert json.loads((tmp_path / "export" / "manifest.json").read_text())
    extracted = app(home, "extract", "--workers", "1")
    assert "18 recorded views" in extracted.stdout and "failed 0" in extracted.stdout
    app(home, "split", "--name", "walk", "--seed", "0", "--test-fraction", "0.34")
    trained = app(home, "train", "--split", "walk", "--variant", "plm-ipe", "--preset", "cpu", "--epochs", "3",
                  "--eval-every", "1", "--run-id", "walk", "--device", "cpu")
    run = home.runs / "walk"
    assert (run / "model" / "config.json").is_file() and "saved" in trained.stdout
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["split_id"] == "walk" and config["features"]["config_key"]
    evaluated = app(home, "evaluate", str(run), "--split", "walk", "--json", str(tmp_path / "eval.json"))
    assert "fused: accuracy" in evaluated.stdout
    metrics = json.loads((tmp_path / "eval.json").read_text())["metrics"]
    assert sum(metrics["fused"]["confusion"][0]) + sum(metrics["fused"]["confusion"][1]) + \
        sum(metrics["fused"]["confusion"][2]) == 6  # two held-out volunteers x three takes

    service = DemoService(home)
    video = make_reaction_video(tmp_path / "new.mp4", ReactionSpec("smile", duration_s=1.5, seed=99, face="astronaut"))
    analysis = service.analyse_reaction(video, str(run), gradcam=False)
    probabilities = analysis.probabilities("fused")
    assert set(probabilities) == {"negative", "neutral", "positive"}
    assert abs(sum(probabilities.values()) - 1) < 1e-4
