"""The 72-d descriptor measures the face's deformation: a head that only moves gives far less than a smile.

The full figures over every offline face and several head turns come from
``python -m bench.bench_rigid_motion``; this pins the behaviour on two faces with short clips.
"""
from __future__ import annotations

import pytest

from core.reaction.descriptor import FeatureConfig, extract_features
from data.reaction_video import ReactionSpec, make_reaction_video


def _magnitude(path, config: FeatureConfig) -> float:
    features = extract_features(path, config)
    assert features.flow_valid.all()
    return float(features.flow72[:, 36:].mean())


@pytest.mark.parametrize("face, yaw", [("astronaut", 0.0), ("feat-single", 30.0)])
def test_rigid_head_motion_gives_far_less_than_a_smile(tmp_path, face, yaw) -> None:
    rigid = ReactionSpec("neutral", duration_s=1.5, seed=0, blinks=False, face=face, yaw_deg=yaw, head_shift_px=40,
                         head_roll_deg=12, head_zoom=0.1, brightness_ramp=0.4)
    smile = ReactionSpec("smile", duration_s=1.5, seed=0, onset_s=0.3, ramp_s=0.5, blinks=False, head_motion=False,
                         face=face, yaw_deg=yaw)
    paths = make_reaction_video(tmp_path / "rigid.mp4", rigid), make_reaction_video(tmp_path / "smile.mp4", smile)
    new = [_magnitude(p, FeatureConfig()) for p in paths]
    old = [_magnitude(p, FeatureConfig.legacy()) for p in paths]
    assert new[1] > 0  # the smile shows
    assert new[0] / new[1] < 0.25
    assert old[0] / old[1] > 1.0  # the earlier descriptor saw the head's motion more than the smile
