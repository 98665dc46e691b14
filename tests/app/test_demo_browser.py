"""The Gradio demo in a real browser (headless Chromium, loopback-only network namespace):
a generated reaction video gives three probability sets, an image gives a heat map, a broken
file gives an error message; the server makes no outbound connection."""
from __future__ import annotations

import json
import os

import pytest

from app.demo_examples import keep_example_answers, reaction_examples
from app.serving import DemoService
from tests.browser_support import run_in_namespace
from tests.demo_fixtures import reaction_videos, tiny_preference_run, tiny_reaction_run

pytestmark = pytest.mark.browser


def test_demo_in_a_real_browser(home, tmp_path) -> None:
    videos = reaction_videos(tmp_path / "videos", per_class=2)
    tiny_reaction_run(home.runs / "reaction-tiny", videos, epochs=2)
    tiny_preference_run(home.runs / "pref-tiny", tmp_path / "catalog", epochs=3)
    # what scripts/run.sh's demo-models step does after training: keep the examples' answers
    kept = keep_example_answers(DemoService(home), [path for path, _ in reaction_examples(home)])
    assert kept
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500)
    image = next((tmp_path / "catalog" / "tops").glob("*.png"))
    out = tmp_path / "report.json"
    result = run_in_namespace(["tests/demo_browser_scenario.py", str(home.root), str(videos[-1][0]), str(image),
                               str(broken), str(out)], env={**os.environ}, timeout=500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    for head in ("pbe", "lbe", "fused"):
        text = report["labels"][head].lower()
        assert all(name in text for name in ("negative", "neutral", "positive")), text
    assert "plm-ipe" in report["summary"]
    # the first example answers with the kept answer, landmarks drawn, within the 3 s the demo promises
    assert "Kept answer" in report["first_example_summary"] and report["first_example_frames"] >= 1
    assert report["first_example_s"] <= 3.0, report["first_example_s"]
    assert "preferred" in report["pref_labels"].lower()
    assert report["heat_map_src"]
    assert "broken.mp4" in report["broken_error"] and "/tmp/" not in report["broken_error"]  # no server path
    assert report["server_non_loopback"] == []
    outside = [u for u in report["requests"] if not u.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))]
    assert outside == []
