"""The frame-level FER2013 baseline (the paper's AffWildNet row, in spirit) on real face clips."""
from __future__ import annotations

import numpy as np
import pytest

from core.reaction.descriptor import extract_features
from data.reaction_video import ReactionSpec, make_reaction_video
from models.training.data import FeatureSet
from models.training.fer_baseline import FER_EMOTIONS, clip_faces, emotion_probabilities, evaluate_fer_baseline
from models.training.report import compare
from models.training.train import TrainConfig

LABELS = {"frown": 0, "neutral": 1, "smile": 2}


@pytest.fixture(scope="module")
def feature_set(tmp_path_factory) -> FeatureSet:
    folder = tmp_path_factory.mktemp("fer")
    records = []
    for expression, label in LABELS.items():
        for k in range(3):
            spec = ReactionSpec(expression, duration_s=1.1, seed=k, onset_s=0.05, ramp_s=0.3, intensity=1.3,
                                face=("astronaut", "feat-single", "feat-group-1")[k])
            video = make_reaction_video(folder / f"{expression}{k}.mp4", spec)
            records.append((f"{expression}{k}", f"vol{k}", label, extract_features(video)))
    return FeatureSet.from_features(records)


def test_faces_are_cut_from_the_clips(feature_set) -> None:
    faces = clip_faces(feature_set.clips[0])
    assert faces.shape == (16, 64, 64, 1) and -1.0 <= faces.min() and faces.max() <= 1.0


def test_fer_sees_more_happiness_in_smiles_than_in_frowns(feature_set) -> None:
    happy = FER_EMOTIONS.index("happy")
    def mean_happy(label: int) -> float:
        return float(np.mean([emotion_probabilities(c)[:, happy].mean()
                              for c, y in zip(feature_set.clips, feature_set.labels) if y == label]))
    assert mean_happy(2) > mean_happy(0)


def test_baseline_row_in_the_comparison(feature_set, tmp_path) -> None:
    train = feature_set.subset([i for i, v in enumerate(feature_set.volunteers) if v != "vol2"])
    test = feature_set.subset([i for i, v in enumerate(feature_set.volunteers) if v == "vol2"])
    metrics = evaluate_fer_baseline(train, test)
    assert 0.0 <= metrics["accuracy"] <= 1.0 and len(metrics["f1"]) == 3
    result = compare(train, test, tmp_path / "cmp", variants=("lbe",), seeds=(0,),
                     train_config=TrainConfig(epochs=1, batch_size=4), model_kw={"hidden": 16},
                     baselines=("fer2013-frames",))
    methods = [row["method"] for row in result["summary"]]
    assert "FER2013 frames (AffWildNet-like)" in methods
    assert "FER2013 frames" in (tmp_path / "cmp" / "report.md").read_text()
    with pytest.raises(ValueError, match="unknown baseline"):
        compare(train, test, tmp_path / "x", variants=("lbe",), seeds=(0,), baselines=("affwildnet",))
