"""`python -m app extract --videos`: any folder or CSV of videos -> cached features + a feature
manifest that `train --manifest` reads; every bad row reported at once, nothing half-written."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from core.collection.splits import RosterEntry, make_volunteer_split
from core.reaction.video_list import VideoListError, assign_folds, read_video_list
from data.reaction_video import ReactionSpec, make_reaction_video
from tests.conftest import REPO


def app(home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four 1 s real-face reactions (two smiles, two neutral) on two faces."""
    folder = tmp_path_factory.mktemp("byo-videos")
    specs = [("smile", "astronaut", 1), ("neutral", "astronaut", 2), ("smile", "feat-single", 3),
             ("neutral", "feat-single", 4)]
    return [make_reaction_video(folder / f"{expr}-{face}.mp4",
                                ReactionSpec(expr, duration_s=1.0, seed=seed, face=face, onset_s=0.1, ramp_s=0.3))
            for expr, face, seed in specs]


def write_list(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_csv_of_videos_becomes_a_feature_manifest_that_training_reads(home, tmp_path, videos) -> None:
    rows = [{"path": str(v), "label": "positive" if "smile" in v.name else "neutral",
             "volunteer_id": "anna" if "astronaut" in v.name else "ben", "gender": "female" if "astronaut" in v.name else "male"}
            for v in videos]
    listing = write_list(tmp_path / "mine.csv", rows)
    result = app(home, "extract", "--videos", str(listing), "--workers", "1", "--out", str(tmp_path / "features.csv"),
                 "--test-fraction", "0.5", "--seed", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    with open(tmp_path / "features.csv", newline="") as handle:
        manifest = list(csv.DictReader(handle))
    assert [m["label"] for m in manifest] == [r["label"] for r in rows]
    # the §4.1 split by volunteer, as core.collection.splits makes it for this roster and seed
    expected = make_volunteer_split([RosterEntry("anna", "female", 1), RosterEntry("ben", "male", 1)],
                                    test_fraction=0.5, seed=3)
    assert sorted(expected.values()) == ["test", "train"]
    assert {(m["volunteer_id"], m["fold"]) for m in manifest} == set(expected.items())
    assert all(Path(m["features_npz"]).is_file() for m in manifest)

    again = app(home, "extract", "--videos", str(listing), "--workers", "1", "--out", str(tmp_path / "features.csv"),
                "--test-fraction", "0.5", "--seed", "3")
    assert again.returncode == 0 and "4 already extracted, 0 to do" in again.stdout  # cached by content hash

    from models.training.data import load_manifest

    folds = load_manifest(tmp_path / "features.csv")
    assert sorted(len(fs) for fs in folds.values()) == [2, 2]


def test_every_bad_row_is_reported_and_nothing_is_written(home, tmp_path, videos) -> None:
    listing = write_list(tmp_path / "bad.csv", [
        {"path": str(videos[0]), "label": "positive", "volunteer_id": "a"},
        {"path": "missing.mp4", "label": "neutral", "volunteer_id": "b"},
        {"path": str(videos[1]), "label": "loved it", "volunteer_id": "c"},
        {"path": str(videos[2]), "label": "2", "volunteer_id": "../../etc"},
    ])
    result = app(home, "extract", "--videos", str(listing), "--workers", "1", "--out", str(tmp_path / "out.csv"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for needle in ("row 3: missing.mp4 does not exist", "row 4: label 'loved it'", "row 5: volunteer_id '../../etc'"):
        assert needle in result.stderr, result.stderr
    assert not (tmp_path / "out.csv").exists() and not list(home.features.rglob("*.npz"))


def test_a_video_list_given_to_train_says_how_to_make_features(home, tmp_path, videos) -> None:
    listing = write_list(tmp_path / "list.csv", [{"path": str(videos[0]), "label": "positive"}])
    result = app(home, "train", "--manifest", str(listing), "--epochs", "1")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"extract --videos {listing}" in result.stderr


def test_class_folders_and_flat_folders(tmp_path, videos) -> None:
    for label in ("positive", "neutral"):
        (tmp_path / "by-class" / label).mkdir(parents=True)
    for v in videos:
        (tmp_path / "by-class" / ("positive" if "smile" in v.name else "neutral") / v.name).symlink_to(v)
    entries = read_video_list(tmp_path / "by-class")
    assert sorted((e.video_id, e.label) for e in entries)[:2] == [("neutral-astronaut", 1), ("neutral-feat-single", 1)]
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "one.mp4").symlink_to(videos[0])
    assert [e.label for e in read_video_list(tmp_path / "flat")] == [None]
    (tmp_path / "by-class" / "maybe").mkdir()
    with pytest.raises(VideoListError, match="sub-folders must be class names"):
        read_video_list(tmp_path / "by-class")


def test_folds_given_on_some_rows_only_are_refused(tmp_path, videos) -> None:
    listing = write_list(tmp_path / "f.csv", [{"path": str(videos[0]), "label": "0", "fold": "train"},
                                              {"path": str(videos[1]), "label": "1", "fold": ""}])
    with pytest.raises(VideoListError, match="1 of 2 rows have a fold"):
        assign_folds(read_video_list(listing))
