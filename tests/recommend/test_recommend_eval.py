"""Evaluation of the recommenders: hand-checked metrics, Table-3 comparison on simulated volunteers, CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from core.recommend.outfit_features import load_outfit_table, outfit_features
from core.recommend.calibration import reaction_score
from core.recommend.data import Interaction, Interactions
from core.recommend.evaluate import EvalConfig, _score_methods, evaluate_recommenders, precision_at_k, recall_at_k
from core.recommend.simulated_volunteers import SimulationConfig, simulate_volunteers
from models.recommend.attention_profile import attention_for_eval
from tests.conftest import REPO

METHODS = ("ALS on ratings", "ALS on reactions", "ALS on both", "Attention pooling (reduced 1-attention)", "Averaging")


# ---------------------------------------------------------------- hand computation
def test_precision_and_recall_match_a_hand_computation():
    recommended = ["o3", "o1", "o7", "o2", "o9", "o4"]
    relevant = {"o1", "o2", "o5"}
    # top 5 = o3 o1 o7 o2 o9 -> hits o1, o2 -> P@5 = 2/5, R@5 = 2/3
    assert precision_at_k(recommended, relevant, 5) == pytest.approx(0.4)
    assert recall_at_k(recommended, relevant, 5) == pytest.approx(2 / 3)
    assert precision_at_k(recommended, relevant, 1) == 0.0
    assert precision_at_k(recommended, relevant, 2) == pytest.approx(0.5)
    # a list shorter than k still divides by k
    assert precision_at_k(recommended, relevant, 10) == pytest.approx(0.2)
    assert recall_at_k(recommended, relevant, 10) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="relevant"):
        recall_at_k(recommended, set(), 5)
    with pytest.raises(ValueError, match="positive"):
        precision_at_k(recommended, relevant, 0)


def test_per_volunteer_averaging_excludes_seen_and_volunteers_without_relevant():
    # 2 volunteers x 4 outfits. a saw o0 in training; b saw nothing relevant held out.
    train = Interactions.from_records(
        [Interaction("a", "o0", rating=90), Interaction("b", "o1", rating=90)],
        outfit_ids=["o0", "o1", "o2", "o3"], volunteer_ids=["a", "b"])
    scores = np.array([[9.0, 3.0, 2.0, 1.0],   # a: o0 excluded (seen) -> ranking o1, o2, o3
                       [0.0, 0.0, 0.0, 0.0]])
    relevant = {"a": {"o2"}, "b": set()}
    precision, recall, n = _score_methods(scores, train, relevant, (1, 2))
    assert n == 1  # b has no relevant held-out outfit: left out of the average
    assert precision == {1: 0.0, 2: 0.5} and recall == {1: 0.0, 2: 1.0}


# ---------------------------------------------------------------- Table 3 on simulated volunteers
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    from data.demo_catalog import generate_demo_catalog

    table = load_outfit_table(generate_demo_catalog(tmp_path_factory.mktemp("demo-catalog"), seed=0))
    return table, outfit_features(table)


def _evaluate(table, features, signal: float):
    sim = simulate_volunteers(table, SimulationConfig(n_volunteers=60, seed=0, signal=signal))
    raw = {key: reaction_score(p) for key, p in sim.probs.items()}
    return evaluate_recommenders(sim.interactions, raw_reaction_scores=raw, features=features,
                                 config=EvalConfig(attention_epochs=200), attention=attention_for_eval)


@pytest.fixture(scope="module")
def with_taste(demo):
    return _evaluate(*demo, signal=1.0)


@pytest.fixture(scope="module")
def without_taste(demo):
    return _evaluate(*demo, signal=0.0)


def test_every_method_beats_popularity_where_the_signal_exists(with_taste):
    pop = with_taste.method("Popularity")
    assert with_taste.simulated and with_taste.n_evaluated >= 40
    for name in METHODS:
        m = with_taste.method(name)
        for k in (5, 10):
            assert m.precision[k] > pop.precision[k], (name, k, m.precision[k], pop.precision[k])
            assert m.recall[k] > pop.recall[k], (name, k, m.recall[k], pop.recall[k])
        assert m.precision[15] >= pop.precision[15]


def test_the_advantage_comes_from_the_tastes(with_taste, without_taste):
    def mean_gain(result) -> float:
        pop = result.method("Popularity").precision[10]
        return float(np.mean([result.method(name).precision[10] - pop for name in METHODS]))

    assert mean_gain(with_taste) > 0.04
    assert mean_gain(without_taste) < mean_gain(with_taste) - 0.04


def test_result_table_and_calibration(with_taste):
    table = with_taste.table_markdown()
    assert table.splitlines()[0].startswith("| Method | Recall@5, % | Precision@5, %")
    assert len(table.splitlines()) == 2 + 6
    cal = with_taste.calibration
    assert cal is not None and cal.spearman > 0.5 and cal.mae < cal.mae_mean_baseline
    assert np.all(np.diff([row["mean_rating"] for row in cal.table]) > 0)
    json.dumps(with_taste.to_dict())


def test_ratings_only_skips_reaction_methods(demo):
    table, _ = demo
    sim = simulate_volunteers(table, SimulationConfig(n_volunteers=20, seed=1))
    result = evaluate_recommenders(sim.interactions, features=None, config=EvalConfig(attention=False))
    assert [m.name for m in result.methods] == ["Popularity", "ALS on ratings"]
    assert set(result.skipped) == {"ALS on reactions", "ALS on both", "Attention pooling", "Averaging"}


# ---------------------------------------------------------------- attention model
def test_attention_model_trains_and_pools_order_free(demo):
    import torch

    from models.recommend.attention_profile import AttentionProfile, AttentionProfileConfig

    _, features = demo
    rng = np.random.default_rng(0)
    prefs = rng.choice([-1.0, 0.0, 0.5, 1.0], size=(6, features.shape[0]))
    model = AttentionProfile(features, AttentionProfileConfig(epochs=5))
    losses = model.fit(prefs, (prefs > 0).astype(np.float32), prefs != 0)
    assert len(losses) == 5 and all(np.isfinite(losses))
    assert model.n_parameters == features.shape[1] * 16 + 16 + 16 + 2 + 16
    scores = model.score_matrix(prefs)
    assert scores.shape == prefs.shape
    # the descriptor depends on the set of reactions, not on the catalog's order
    perm = rng.permutation(features.shape[0])
    permuted = AttentionProfile(features[perm], AttentionProfileConfig(epochs=0))
    permuted.module.load_state_dict(model.module.state_dict())
    permuted.x = model.x[perm]
    np.testing.assert_allclose(permuted.score_matrix(prefs[:, perm]), scores[:, perm], rtol=1e-4, atol=1e-4)
    # gradients reach every parameter
    x = torch.from_numpy(model.x)
    r = torch.from_numpy(prefs.astype(np.float32))
    model.module.train()
    model.module(x, r, r != 0).sum().backward()
    assert all(p.grad is not None for p in model.module.parameters())


# ---------------------------------------------------------------- CLI
def test_cli_writes_a_report(home):
    env = dict(os.environ, IPE_HOME=str(home.root), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "app", "--home", str(home.root), "recommend-eval", "--simulated", "24",
         "--source", "ratings", "--no-attention"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    reports = list(home.runs.glob("recommend-*/report.md"))
    assert len(reports) == 1
    text = reports[0].read_text()
    assert "SIMULATED" in text and "| Popularity |" in text and "Reaction calibration" in text
    metrics = json.loads((reports[0].parent / "metrics.json").read_text())
    assert metrics["simulated"] is True and metrics["config"]["content_source"] == "ratings"


def test_cli_falls_back_to_simulation_when_the_store_is_empty(home, capsys):
    from app.cli import main
    from core.store import Store

    Store.open(home).close()
    assert main(["--home", str(home.root), "recommend-eval", "--no-attention", "--min-volunteers", "3"]) == 0
    out = capsys.readouterr().out
    assert "0 volunteers with ratings (< --min-volunteers 3)" in out and "SIMULATED volunteers instead" in out


def test_cli_evaluates_the_store_when_it_has_enough_volunteers(home, tmp_path, capsys):
    """Real DuckDB store, demo catalog imported, simulated ratings committed as views (+ reactions JSON)."""
    from app.cli import main
    from core.collection.catalog import import_catalog
    from core.store import Store
    from data.demo_catalog import generate_demo_catalog
    from tests.store_helpers import CONSENT, commit_view

    catalog = generate_demo_catalog(tmp_path / "cat", seed=0, n_tops=8, n_bottoms=8, n_outfits=16)
    table = load_outfit_table(catalog)
    sim = simulate_volunteers(table, SimulationConfig(n_volunteers=5, seed=0, seen_fraction=0.75))
    probs = {}
    with Store.open(home) as store:
        import_catalog(store, catalog)
        for vid in sim.interactions.volunteer_ids:
            vol = store.add_volunteer(age_band="25-34", gender="f", extra=None, consent=CONSENT)["volunteer_id"]
            recs = sim.interactions.for_volunteer(vid)
            session = store.start_session(vol, plan=[r.outfit_id for r in recs])
            for pos, rec in enumerate(recs):
                view = commit_view(store, session, rec.outfit_id, pos, rating=int(rec.rating))
                probs[view["view_id"]] = sim.probs[(vid, rec.outfit_id)].tolist()
    reactions = tmp_path / "reactions.json"
    reactions.write_text(json.dumps(probs))
    assert main(["--home", str(home.root), "recommend-eval", "--no-attention", "--min-volunteers", "5",
                 "--reactions", str(reactions)]) == 0
    out = capsys.readouterr().out
    assert "store data: 5 volunteers, 60 views" in out and "SIMULATED" not in out
    assert "| ALS on both |" in out and "| Averaging |" in out and "Reaction calibration" in out


def test_eval_config_is_validated():
    with pytest.raises(ValueError, match="attention_train_volunteers"):
        EvalConfig(attention_train_volunteers=0.0)
    with pytest.raises(ValueError, match="ks"):
        EvalConfig(ks=(0, 5))


def test_reaction_run_scores_recorded_views_from_the_feature_cache(home, tmp_path, capsys):
    """A real (untrained: building torch.optim costs ~10 s of torch._dynamo import) LBE run, saved with
    save_run, scores the views whose features are cached."""
    from core.reaction.descriptor import FeatureConfig, ReactionFeatures
    from core.reaction.feature_cache import cache_path
    from models.training.reaction_scores import view_reaction_probabilities
    from models.reaction.registry import build_from_config, model_config
    from models.training.train import TrainConfig, TrainResult
    from models.training.run_folder import save_run
    from tests.store_helpers import CONSENT, commit_view, store_with_catalog

    rng = np.random.default_rng(0)

    def features(label: int) -> ReactionFeatures:
        t = 24
        flow = rng.normal(label, 1.0, (t - 1, 72)).astype(np.float32)
        return ReactionFeatures(
            landmarks=np.zeros((t, 68, 2), np.float32), face_found=np.ones(t, bool), flow72=flow,
            flow_valid=np.ones(t - 1, bool), clips=np.zeros((1, 16, 112, 112, 3), np.uint8),
            timestamps_s=np.arange(t) / 30.0, fps=30.0)

    cfg = model_config("lbe")
    result = TrainResult(model=build_from_config(cfg), history=[], metrics={}, seconds=0.0)
    run = save_run(tmp_path / "run", result, cfg, TrainConfig(epochs=0), split_id=None, data_fingerprint=None,
                   synthetic=True)
    store = store_with_catalog(home, tmp_path)
    try:
        outfits = [o["outfit_id"] for o in store.list_outfits()]
        vol = store.add_volunteer(age_band="25-34", gender="f", extra=None, consent=CONSENT)["volunteer_id"]
        session = store.start_session(vol, plan=outfits[:3])
        views = [commit_view(store, session, oid, pos, rating=rating)
                 for pos, (oid, rating) in enumerate(zip(outfits[:3], (80, 20, 70)))]
        for view in views[:2]:  # the third view's features were never extracted
            path = cache_path(store.home, view["video_sha256"], FeatureConfig())
            path.parent.mkdir(parents=True, exist_ok=True)
            features(2).save(path)
        probs, missing = view_reaction_probabilities(store, run)
    finally:
        store.close()
    assert set(probs) == {views[0]["view_id"], views[1]["view_id"]} and missing == [views[2]["view_id"]]
    assert all(len(p) == 3 and abs(sum(p) - 1) < 1e-5 for p in probs.values())
    # the same through the command line (store mode)
    from app.cli import main

    assert main(["--home", str(home.root), "recommend-eval", "--reaction-run", str(run), "--min-volunteers", "1",
                 "--no-attention"]) == 0
    out = capsys.readouterr().out
    assert "1 recorded views have no cached features" in out and "store data: 1 volunteers, 3 views" in out
    saved = json.loads(next(home.runs.glob("recommend-*/view_probabilities.json")).read_text())
    assert saved == probs
