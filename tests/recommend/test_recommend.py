"""Recommender building blocks: simulated volunteers, calibration, matrices, ALS, features, service."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from core.recommend.outfit_features import OutfitTable, colour_histogram, load_outfit_table, outfit_features
from core.recommend.calibration import (
    ReactionCalibrator,
    calibration_report,
    fit_calibration,
    reaction_score,
)
from core.recommend.als import ALSConfig, PopularityRecommender, confidence_matrix, fit_als
from core.recommend.data import (
    Interaction,
    Interactions,
    MatrixConfig,
    build_matrix,
    holdout_split,
    interactions_from_store,
    relevant_sets,
)
from core.recommend.service import order_outfits_for_returning_volunteer, recommend_for_volunteer
from core.recommend.simulated_volunteers import SimulationConfig, simulate_volunteers


@pytest.fixture(scope="module")
def demo_table(tmp_path_factory: pytest.TempPathFactory) -> OutfitTable:
    from data.demo_catalog import generate_demo_catalog

    return load_outfit_table(generate_demo_catalog(tmp_path_factory.mktemp("demo-catalog"), seed=0))


@pytest.fixture(scope="module")
def sim(demo_table: OutfitTable):
    return simulate_volunteers(demo_table, SimulationConfig(n_volunteers=40, seed=0))


# ---------------------------------------------------------------- simulated volunteers
def test_simulated_volunteers_are_labelled_seeded_and_in_range(demo_table, sim):
    assert sim.interactions.meta["simulated"] is True
    assert all(v.startswith("sim-") for v in sim.interactions.volunteer_ids)
    ratings = [r.rating for r in sim.interactions.records]
    assert min(ratings) >= 0 and max(ratings) <= 100 and all(float(r).is_integer() for r in ratings)
    assert all(abs(p.sum() - 1) < 1e-9 and (p >= 0).all() for p in sim.probs.values())
    again = simulate_volunteers(demo_table, SimulationConfig(n_volunteers=40, seed=0))
    assert again.interactions == sim.interactions
    other = simulate_volunteers(demo_table, SimulationConfig(n_volunteers=40, seed=1))
    assert other.interactions != sim.interactions


def test_reactions_are_noisier_than_ratings(sim):
    uidx, iidx = sim.interactions.user_index, sim.interactions.item_index
    truth, ratings, scores = [], [], []
    for rec in sim.interactions.records:
        truth.append(sim.utility[uidx[rec.volunteer_id], iidx[rec.outfit_id]])
        ratings.append(rec.rating)
        scores.append(reaction_score(sim.probs[(rec.volunteer_id, rec.outfit_id)]))
    r_rating = np.corrcoef(truth, ratings)[0, 1]
    r_reaction = np.corrcoef(truth, scores)[0, 1]
    assert r_rating > r_reaction > 0.4


# ---------------------------------------------------------------- calibration
def test_reaction_score_is_expected_class_value():
    assert reaction_score([0.2, 0.3, 0.5]) == pytest.approx(0.3)
    np.testing.assert_allclose(reaction_score([[1, 0, 0], [0, 1, 0], [0, 0, 1]]), [-1, 0, 1])
    with pytest.raises(ValueError, match="negative, neutral, positive"):
        reaction_score([0.5, 0.5])


def test_calibration_is_monotone_on_simulated_data(sim):
    recs = sim.interactions.records
    scores = np.array([reaction_score(sim.probs[(r.volunteer_id, r.outfit_id)]) for r in recs])
    ratings = np.array([r.rating for r in recs])
    half = len(recs) // 2
    for method in ("isotonic", "linear"):
        cal = fit_calibration(scores[:half], ratings[:half], method=method)
        grid = np.linspace(-1, 1, 101)
        assert np.all(np.diff(cal.predict(grid)) >= 0), method
        report = calibration_report(scores[half:], ratings[half:], cal, reference_mean=ratings[:half].mean())
        assert report.spearman > 0.5
        assert report.mae < report.mae_mean_baseline
        means = [row["mean_rating"] for row in report.table]
        assert len(means) == 5 and np.all(np.diff(means) > 0), means  # reliability table rises bin by bin
        assert "| raw score bin |" in report.to_markdown()
        assert ReactionCalibrator.from_dict(cal.to_dict()) == cal


def test_calibration_needs_pairs():
    with pytest.raises(ValueError, match="at least 2"):
        fit_calibration([0.1], [50])
    with pytest.raises(ValueError, match="method"):
        fit_calibration([0.1, 0.2], [50, 60], method="spline")


# ---------------------------------------------------------------- matrices and split
def _tiny() -> Interactions:
    recs = [
        Interaction("a", "o1", rating=100, reaction=50),
        Interaction("a", "o2", rating=0, reaction=None),
        Interaction("b", "o2", rating=None, reaction=75),
        Interaction("b", "o3", rating=50, reaction=0),
    ]
    return Interactions.from_records(recs, outfit_ids=["o1", "o2", "o3"])


def test_build_matrix_sources_and_weights():
    data = _tiny()
    ratings = build_matrix(data, MatrixConfig(source="ratings")).toarray()
    np.testing.assert_allclose(ratings, [[1, -1, 0], [0, 0, 0]])
    reactions = build_matrix(data, MatrixConfig(source="reactions")).toarray()
    np.testing.assert_allclose(reactions, [[0, 0, 0], [0, 0.5, -1]])
    both = build_matrix(data, MatrixConfig(source="both", rating_weight=3, reaction_weight=1)).toarray()
    # a: o1 (3*1 + 1*0)/4, o2 rating only -> -1; b: o2 reaction only -> 0.5, o3 (3*0 + 1*-1)/4
    np.testing.assert_allclose(both, [[0.75, -1, 0], [0, 0.5, -0.25]])
    assert sp.issparse(build_matrix(data))
    with pytest.raises(ValueError, match="source"):
        MatrixConfig(source="clicks")


def test_holdout_split_per_volunteer_is_seeded_and_disjoint(sim):
    data = sim.interactions
    split = holdout_split(data, fraction=0.3, seed=5)
    assert split == holdout_split(data, fraction=0.3, seed=5)
    assert split.test != holdout_split(data, fraction=0.3, seed=6).test
    for vol in data.volunteer_ids:
        train = {r.outfit_id for r in split.train.for_volunteer(vol)}
        test = {r.outfit_id for r in split.test.for_volunteer(vol)}
        assert not train & test
        assert train | test == {r.outfit_id for r in data.for_volunteer(vol)}
        assert len(test) == round(0.3 * (len(train) + len(test)))
    relevant = relevant_sets(split.test)
    assert all(r.rating >= 60 for r in split.test.records if r.outfit_id in relevant[r.volunteer_id])


def test_holdout_keeps_reaction_only_views_in_training():
    split = holdout_split(_tiny(), fraction=0.5, seed=0)
    assert Interaction("b", "o2", rating=None, reaction=75) in split.train.records
    assert len(split.test.for_volunteer("a")) == 1 and len(split.train.for_volunteer("a")) == 1


# ---------------------------------------------------------------- ALS and popularity
def test_confidence_follows_implicit_convention():
    m = sp.csr_matrix(np.array([[0.5, -1.0, 0.0]]))
    np.testing.assert_allclose(confidence_matrix(m, alpha=10).toarray(), [[6.0, -11.0, 0.0]])


def test_als_is_deterministic_and_excludes_seen(sim):
    matrix = build_matrix(sim.interactions)
    one, two = fit_als(matrix, ALSConfig(seed=3)), fit_als(matrix, ALSConfig(seed=3))
    np.testing.assert_array_equal(one.item_factors, two.item_factors)
    seen = set(matrix[0].indices.tolist())
    top = one.recommend(0, 10, exclude=seen)
    assert len(top) == 10 and not set(top) & seen
    assert one.recommend(0, 1000, exclude=seen) == sorted(set(range(matrix.shape[1])) - seen,
                                                          key=lambda j: (-one.scores(0)[j], j))


def test_popularity_counts_likes():
    m = sp.csr_matrix(np.array([[1.0, -1.0, 0.2], [0.5, 0.0, -0.3], [0.0, 0.0, 0.9]]))
    pop = PopularityRecommender(m)
    assert pop.recommend(0, 3) == [0, 2, 1]  # o0 and o2 both liked twice; o0 has the higher mean


# ---------------------------------------------------------------- outfit features
def test_outfit_features_histograms_and_attributes(demo_table):
    x = outfit_features(demo_table)
    assert x.shape[0] == len(demo_table.outfit_ids) and x.dtype == np.float32
    hist = colour_histogram(demo_table.image_paths[0][0])
    assert hist.sum() == pytest.approx(1.0, abs=1e-5)
    # 2 garments x (12 hue + 3 grey bins) then one-hots; each garment has 3 attribute values set
    assert np.allclose(x[:, 30:].sum(axis=1), 6)


# ---------------------------------------------------------------- service
def test_recommend_for_volunteer_gives_unseen_outfits_with_reasons(sim):
    data = sim.interactions
    vol = data.volunteer_ids[0]
    recs = recommend_for_volunteer(data, vol, k=5)
    seen = {r.outfit_id for r in data.for_volunteer(vol)}
    assert len(recs) == 5 and not {o for o, _, _ in recs} & seen
    scores = [s for _, s, _ in recs]
    assert scores == sorted(scores, reverse=True)
    for _, _, reasons in recs:
        assert 1 <= len(reasons) <= 3 and all(r.outfit_id in seen for r in reasons)
        assert [r.similarity for r in reasons] == sorted((r.similarity for r in reasons), reverse=True)
        assert "rated" in reasons[0].describe()
    # a brand-new volunteer: popularity, no reasons
    new = Interactions(data.volunteer_ids + ("sim-new",), data.outfit_ids, data.records, data.meta)
    cold = recommend_for_volunteer(new, "sim-new", k=3)
    assert len(cold) == 3 and all(reasons == [] for _, _, reasons in cold)


def test_order_outfits_for_returning_volunteer_is_a_permutation(sim):
    data = sim.interactions
    vol = data.volunteer_ids[1]
    plan = [o for o in data.outfit_ids if o not in {r.outfit_id for r in data.for_volunteer(vol)}] + ["unknown"]
    ordered = order_outfits_for_returning_volunteer(data, vol, plan)
    assert sorted(ordered) == sorted(plan) and ordered[-1] == "unknown"
    best = [o for o, _, _ in recommend_for_volunteer(data, vol, k=3)]
    assert ordered[:3] == best


def test_service_reads_a_real_store(home, tmp_path: Path):
    from tests.store_helpers import CONSENT, commit_view, store_with_catalog

    store = store_with_catalog(home, tmp_path)
    try:
        outfits = [o["outfit_id"] for o in store.list_outfits()]
        vols = []
        for v in range(3):
            vol = store.add_volunteer(age_band="25-34", gender="f", extra=None, consent=CONSENT)["volunteer_id"]
            session = store.start_session(vol, plan=outfits[:5])
            for pos, oid in enumerate(outfits[v: v + 5]):
                commit_view(store, session, oid, pos, rating=90 if pos % 2 == 0 else 10)
            vols.append(vol)
        data = interactions_from_store(store)
        assert len(data.records) == 15 and set(data.volunteer_ids) == set(vols)
        recs = recommend_for_volunteer(store, vols[0], k=3)
        assert len(recs) == 3 and not {o for o, _, _ in recs} & set(outfits[:5])
    finally:
        store.close()


def test_calibrate_view_reactions_maps_every_view(sim):
    recs = sim.interactions.records[:200]
    probs = {f"view{i}": sim.probs[(r.volunteer_id, r.outfit_id)] for i, r in enumerate(recs)}
    ratings = {f"view{i}": (r.rating if i % 4 else None) for i, r in enumerate(recs)}  # a quarter unrated
    from core.recommend.calibration import calibrate_view_reactions

    mapped, cal, report = calibrate_view_reactions(probs, ratings)
    assert set(mapped) == set(probs) and all(0 <= v <= 100 for v in mapped.values())
    assert report.n == 150 and cal.n_fit == 150
    happiest = max(probs, key=lambda v: reaction_score(probs[v]))
    saddest = min(probs, key=lambda v: reaction_score(probs[v]))
    assert mapped[happiest] > mapped[saddest]
