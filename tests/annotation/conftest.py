"""What the recording end-to-end tests share (the live WebRTC path, ``test_e2e_recording.py``, and
the browser-recorded path, ``test_e2e_browser_capture.py``): the fake camera's video, its source
frames, and running a scenario script in a loopback-only network namespace."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from data.reaction_video import ReactionSpec, make_reaction_video, render_reaction
from tests.browser_support import run_in_namespace
from tests.conftest import REPO

FAKE = ReactionSpec("smile", duration_s=4.0, seed=0, stamp=True)  # Chromium loops it


def _can_run() -> str | None:
    if not shutil.which("unshare") or os.geteuid() != 0:
        return "needs root and util-linux's unshare for a loopback-only network namespace"
    if not os.path.exists("/usr/bin/chromium"):
        return "needs Debian's chromium (scripts/setup.sh installs it)"
    return None


@pytest.fixture(scope="module")
def fake_camera(tmp_path_factory):
    problem = _can_run()
    if problem:  # setup.sh installs both; a machine without them cannot run this product's browser tests
        pytest.fail(problem)
    return make_reaction_video(tmp_path_factory.mktemp("cam") / "fake.y4m", FAKE)


@pytest.fixture(scope="module")
def source_frames():
    return render_reaction(FAKE)


def run_scenario_script(script: str, name: str, home, fake) -> dict:
    """Initialise ``home``, run ``script``'s scenario ``name`` in the namespace and return its report,
    checked to hold no connection the server tried to make off loopback."""
    # faulthandler: a native crash (seen once: SIGABRT after the store was fully written) prints every
    # thread's Python stack, which the assertion below shows
    init = subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), "init"], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    assert init.returncode == 0, f"init exited {init.returncode}: {init.stdout[-2000:]}{init.stderr[-6000:]}"
    out = home.root / "scenario.json"
    result = run_in_namespace([script, name, str(home.root), str(fake), str(out)],
                              env={**os.environ, "IPE_HOME": str(home.root)}, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["server_non_loopback"] == [], "the server tried to reach the network"
    return report
