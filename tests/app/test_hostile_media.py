"""Small uploads that decode to huge media, and a run whose config.json asks for a huge model,
against the demo's service and the feature extractor, in a child process whose peak memory is
measured (``resource.getrusage(RUSAGE_CHILDREN)``; tests/hostile_media_worker.py).

The bound asserted here is the one README states ("Limits on user media"): the whole demo
process, libraries included, stays under 2 GiB while it refuses the hostile inputs and serves
a large allowed image (6000x6000) as a bounded preview. Before the limits the same inputs took
12.4 GB (the PNG), 2.75 GB (the video) and 3.6 GB (the run) each.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.paths import DataHome
from tests.conftest import REPO
from tests.hostile_media import big_video, edit_config, huge_png, tiny_preference_checkpoint, tiny_reaction_checkpoint

PEAK_RSS_BOUND = 2 << 30  # bytes; README, "Limits on user media"
ADDRESS_SPACE = 8 << 30  # the child's limit: unbounded code fails with MemoryError instead of taking the machine

pytestmark = pytest.mark.slow


def test_hostile_media_are_refused_from_headers_within_the_memory_bound(tmp_path) -> None:
    home = DataHome.resolve(tmp_path / "home").ensure()
    huge_png(tmp_path / "huge.png", 12000, 12000)  # ~420 KB on disk, 432 MB as RGB
    huge_png(tmp_path / "large.png", 6000, 6000)  # 36 MP: allowed, served as a preview
    big_video(tmp_path / "huge.mp4", 4096, 4096)
    big_video(tmp_path / "small.mp4", 64, 64)
    assert (tmp_path / "huge.png").stat().st_size < 1 << 20
    tiny_preference_checkpoint(home.runs / "pref" / "model")
    edit_config(tiny_reaction_checkpoint(home.runs / "wide" / "model"), "architecture", "c3d", "width", value=64)

    done = subprocess.run([sys.executable, "tests/hostile_media_worker.py", "measure", str(tmp_path),
                           str(ADDRESS_SPACE)], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["returncode"] == 0, report["stderr_tail"]
    cases = report["cases"]
    print(json.dumps({"peak_rss_kib": report["peak_rss_kib"],
                      **{k: {"seconds": v["seconds"], "refused": v["refused"]} for k, v in cases.items()}}))
    expected = {"png_12000_preference": ("MediaError", "12000x12000"),
                "video_4096_reaction": ("MediaError", "4096x4096"),
                "video_4096_extract": ("MediaError", "4096x4096"),
                "c3d_width_64_run": ("CheckpointError", "does not match the weights")}
    for name, (error, text) in expected.items():
        outcome = cases[name]
        assert outcome["refused"] and outcome["error"] == error and text in outcome["message"], (name, outcome)
    assert str(tmp_path) not in cases["c3d_width_64_run"]["message"]  # runs are named, not located
    assert cases["png_6000_preference"] == {**cases["png_6000_preference"], "refused": False, "value": [1024, 1024, 3]}
    assert report["peak_rss_kib"] * 1024 < PEAK_RSS_BOUND, report
