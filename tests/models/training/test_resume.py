"""Training that survives: a stopped run resumed from its saved state ends with exactly the weights of
a run that was never stopped; the best epoch is kept beside the last; a single run writes its figures."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from core.errors import CheckpointError
from models.reaction.registry import model_config
from models.training.resume import load_state
from models.training.run_folder import save_run
from models.training.synthetic import make_synthetic_split
from models.training.train import TrainConfig, train_model
from tests.conftest import REPO

torch.set_num_threads(1)
TINY = dict(width=1 / 16, fc_dim=16, hidden=8, clip_size=16)  # dropout on: the RNG state must be restored too


@pytest.fixture(scope="module")
def toy():
    return make_synthetic_split(test_volunteers=2, n_volunteers=6, videos_per_volunteer=3, clip_size=16,
                                clips_per_video=2, flow_steps=8)


def _config(epochs: int) -> TrainConfig:
    # both optimisers, a warm-up scheduler and dropout: every piece of state a resume must bring back
    return TrainConfig(epochs=epochs, batch_size=4, lr_pbe=1e-3, lr_lbe=2e-3, eval_every=1, checkpoint_every=1,
                       warmup_steps_pbe=5, num_workers=0)


def test_a_stopped_run_resumes_to_the_uninterrupted_weights(toy, tmp_path) -> None:
    train, test = toy
    mc = model_config("plm-ipe", **TINY)
    whole = train_model(mc, train, test, _config(4), run_dir=tmp_path / "whole")
    train_model(mc, train, test, _config(2), run_dir=tmp_path / "stopped")  # "killed" after epoch 2
    assert load_state(tmp_path / "stopped").epoch == 2
    resumed = train_model(mc, train, test, _config(4), run_dir=tmp_path / "stopped")
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3, 4]
    assert resumed.metrics == whole.metrics and resumed.best["epoch"] == whole.best["epoch"]


def test_other_settings_refuse_to_resume(toy, tmp_path) -> None:
    train, test = toy
    train_model(model_config("lbe", **TINY), train, test, _config(1), run_dir=tmp_path / "run")
    with pytest.raises(CheckpointError, match="other settings"):
        train_model(model_config("lbe", hidden=16), train, test, _config(2), run_dir=tmp_path / "run")


def test_the_best_epoch_is_kept_beside_the_last_and_figures_are_written(toy, tmp_path) -> None:
    train, test = toy
    mc = model_config("lbe", **TINY)
    result = train_model(mc, train, test, _config(5))
    scores = [row["eval_macro_f1_lbe"] for row in result.history]
    assert result.best["epoch"] == 1 + scores.index(max(scores))  # the first epoch with the highest macro-F1
    folder = save_run(tmp_path / "run", result, mc, _config(5), split_id="toy", data_fingerprint=None, figures=True,
                      features={"config_key": "k"})
    best = json.loads((folder / "best" / "config.json").read_text())
    assert best["checkpoint"] == "best" and best["metrics"]["lbe"]["macro_f1"] == max(scores)
    assert json.loads((folder / "model" / "config.json").read_text())["features"] == {"config_key": "k"}
    for png in ("curves.png", "confusion.png"):
        assert (folder / png).read_bytes()[:4] == b"\x89PNG"


def _train(home, *extra: str, killed_after_epoch: int | None = None) -> subprocess.Popen:
    """``python -m app train`` on a tiny synthetic set; with ``killed_after_epoch`` the process kills
    itself (SIGKILL) right after that epoch's state is saved (tests/models/training/killed_training.py)."""
    args = ["--home", str(home), "train", "--synthetic", "--variant", "lbe",
            "--hidden", "8", "--epochs", "8", "--batch-size", "8", "--eval-every", "1", "--checkpoint-every", "1",
            "--workers", "0", "--device", "cpu", *extra]
    entry = ["-m", "app"] if killed_after_epoch is None else [
        "-m", "tests.models.training.killed_training", str(killed_after_epoch)]
    return subprocess.Popen([sys.executable, *entry, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_train_resume_continues_a_killed_cli_run(tmp_path) -> None:
    whole = _train(tmp_path / "a", "--run-id", "r")
    assert whole.wait(timeout=600) == 0, whole.stderr.read()[-3000:]
    victim = _train(tmp_path / "b", "--run-id", "r", killed_after_epoch=2)
    assert victim.wait(timeout=600) == -signal.SIGKILL, victim.stderr.read()[-3000:]
    state = tmp_path / "b" / "runs" / "r" / "train_state" / "state.json"
    assert json.loads(state.read_text())["epoch"] == 2 and not (tmp_path / "b" / "runs" / "r" / "model").exists()
    again = _train(tmp_path / "b", "--resume", "r")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    assert "resuming r" in out
    a = load_file(tmp_path / "a" / "runs" / "r" / "model" / "model.safetensors")
    b = load_file(tmp_path / "b" / "runs" / "r" / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_new_run_refuses_an_existing_run_folder(tmp_path) -> None:
    first = _train(tmp_path, "--run-id", "same", "--epochs", "1")
    assert first.wait(timeout=300) == 0
    second = _train(tmp_path, "--run-id", "same", "--epochs", "1")
    _, err = second.communicate(timeout=300)
    assert second.returncode != 0 and "--resume same" in err and "Traceback" not in err
