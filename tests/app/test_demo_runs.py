"""Which checkpoint the demo loads from a run, and the extraction settings it uses (app/demo_runs.py)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.errors import CheckpointError
from core.store.runs import CheckpointInfo
from app.demo_runs import pick_checkpoint
from models.checkpoint import reaction_kind
from app.serving import DemoService
from tests.demo_fixtures import reaction_videos, tiny_reaction_run


def _info(path: str, variant: str, seed: int = 0, best: bool = False) -> CheckpointInfo:
    config = {"train": {"seed": seed}, **({"checkpoint": "best"} if best else {})}
    return CheckpointInfo(Path(path), reaction_kind(variant), config)


def test_plm_ipe_model_is_preferred_over_other_variants_best_and_later_seeds() -> None:
    compare = [_info(f"/r/runs/{v}-s{s}/model", v, s) for v in ("early-fusion", "lbe", "pbe", "plm-ipe") for s in (1, 0)]
    assert pick_checkpoint(compare).path == Path("/r/runs/plm-ipe-s0/model")  # not the first by path (early-fusion)
    train = [_info("/r/best", "plm-ipe", best=True), _info("/r/model", "plm-ipe")]
    assert pick_checkpoint(train).path == Path("/r/model")  # the last epoch, not the test-picked one
    assert pick_checkpoint([_info("/r/a/model", "lbe"), _info("/r/b/model", "late-fusion")]).kind == reaction_kind("late-fusion")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from core.paths import DataHome

    root = tmp_path_factory.mktemp("demo-runs")
    home = DataHome.resolve(root).ensure()
    videos = reaction_videos(root / "videos", per_class=2)
    compare = home.runs / "compare-tiny" / "runs"
    tiny_reaction_run(compare / "early-fusion-s0", videos, epochs=1, variant="early-fusion")
    tiny_reaction_run(compare / "plm-ipe-s0", videos, epochs=1)
    return home, videos


def test_a_compare_run_shows_its_plm_ipe_model(runs) -> None:
    home, videos = runs
    service = DemoService(home)
    assert [r.value for r in service.runs("reaction")] == ["compare-tiny"]
    result = service.analyse_reaction(videos[-1][0], "compare-tiny", gradcam=False)
    assert result.variant == "plm-ipe"
    assert service._load("reaction", "compare-tiny").folder.parent.name == "plm-ipe-s0"


def _variant_run(home, name: str, change) -> str:
    """A copy of the compare's PLM-IPE checkpoint as its own run, with its stored extraction settings changed."""
    folder = home.runs / name
    shutil.copytree(home.runs / "compare-tiny" / "runs" / "plm-ipe-s0", folder)
    config_path = folder / "model" / "config.json"
    config = json.loads(config_path.read_text())
    change(config)
    config_path.write_text(json.dumps(config))
    return name


def test_videos_are_extracted_with_the_runs_settings_or_the_defaults(runs) -> None:
    home, videos = runs
    stored = json.loads((home.runs / "compare-tiny/runs/plm-ipe-s0/model/config.json").read_text())["features"]
    assert stored["config"]["winsize"] == 13  # the fixture's features use the defaults

    def narrow(config):
        config["features"]["config"]["winsize"] = 9
        config["features"]["config"]["max_seconds"] = 2.0

    service = DemoService(home, max_video_seconds=20.0)
    narrow_run = _variant_run(home, "narrow", narrow)
    service.analyse_reaction(videos[0][0], narrow_run, gradcam=False)
    (features,) = service._features.values()
    assert features.meta["config"]["winsize"] == 9 and features.meta["config"]["max_seconds"] == 20.0

    old_run = _variant_run(home, "old", lambda config: config.pop("features"))
    service.analyse_reaction(videos[0][0], old_run, gradcam=False)  # same video, other settings: extracted again
    assert [f.meta["config"]["winsize"] for f in service._features.values()] == [9, 13]


def test_settings_the_machine_cannot_honour_are_refused(runs, monkeypatch, tmp_path) -> None:
    home, videos = runs
    monkeypatch.setenv("IPE_FAN_WEIGHTS", str(tmp_path / "absent.pth"))
    from core.reaction.landmarks import get_backend
    get_backend.cache_clear()
    fan = _variant_run(home, "fan", lambda c: c["features"]["config"].update(backend="face-alignment"))
    with pytest.raises(CheckpointError, match="'face-alignment' landmark backend, which this machine cannot run"):
        DemoService(home).analyse_reaction(videos[0][0], fan)
    future = _variant_run(home, "future", lambda c: c["features"]["config"].update(warp_speed=9))
    with pytest.raises(CheckpointError, match="feature-extraction settings cannot be used.*warp_speed"):
        DemoService(home).analyse_reaction(videos[0][0], future)
    with pytest.raises(CheckpointError, match="rigid_compensation"):
        DemoService(home).analyse_reaction(
            videos[0][0], _variant_run(home, "bad", lambda c: c["features"]["config"].update(rigid_compensation="x")))


def test_the_transfer_model_of_a_preference_run_is_preferred() -> None:
    found = [CheckpointInfo(Path(f"/r/lab/{name}"), "preference-cnn", {"domain": domain})
             for name, domain in (("source", "fashion-mnist"), ("vgg-scratch", "catalog"),
                                  ("vgg-transfer-fmnist", "catalog"))]
    assert pick_checkpoint(found).path.name == "vgg-transfer-fmnist"
    assert pick_checkpoint(found[:2]).path.name == "vgg-scratch"  # the catalog's model before Fashion-MNIST's


def test_demo_runs_come_first_and_say_so(runs) -> None:
    home, _ = runs
    unfinished = _variant_run(home, "demo-unfinished", lambda c: None)  # no card: an interrupted demo-models
    finished = _variant_run(home, "demo-reaction", lambda c: None)
    (home.runs / finished / "MODEL_CARD.md").write_text("# DEMO\nSYNTHETIC\n")
    import os
    os.utime(home.runs / "compare-tiny", None)  # the newest run, yet listed after the DEMO one
    labels = [r.label for r in DemoService(home).runs("reaction")]
    assert labels[0].startswith("DEMO: demo-reaction")
    assert not any(label.startswith("DEMO") for label in labels[1:]) and any(unfinished in label for label in labels)
