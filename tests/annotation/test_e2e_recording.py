"""End to end in a real browser: the collection app records volunteers' faces through WebRTC.

Headless Chromium (Debian's, driven by Playwright) runs with a fake camera that plays a
generated face video whose frames carry their index as black/white blocks; server,
browser and WebRTC run in a loopback-only network namespace (`unshare --net`), so any
outbound attempt fails at once. Each case asserts on the DuckDB rows and on the stored
videos: the normalised format, the file matching its row, no take past the cut, the source's
pictures in playing order. The browser's frame rate and lost frames are measured by
``bench/bench_capture.py``: on a loaded machine the browsers on the same cores send fewer frames.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from core.store import Store
from core.reaction.video import read_video
from data.video_files import read_frame_index
from tests.annotation.conftest import run_scenario_script
from tests.conftest import REPO

pytestmark = [pytest.mark.browser]
TAKE_S = 3.0  # tests/e2e_scenarios.py: IPE_MAX_RECORD_SECONDS of its recording scenarios


def run_scenario(name: str, home, fake) -> dict:
    report = run_scenario_script("tests/e2e_scenarios.py", name, home, fake)
    for volunteer in report["volunteers"]:
        outside = [u for u in volunteer["requests"] if not u.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:"))]
        assert outside == [], f"the pages requested {outside}"
        candidates = [s for take in volunteer["webrtc"] for s in take if "candidate" in s]
        # only host (and peer-reflexive, learned from the peer's checks) candidates on loopback: no STUN/TURN
        assert candidates and all(c["candidate"] in ("host", "prflx") for c in candidates)
        assert all(c["address"] in ("", "127.0.0.1") for c in candidates)
    return report


def check_video(view: dict, home, source: np.ndarray, cut_s: float = TAKE_S) -> None:
    """What a stored take must be, however few or late frames a loaded browser sent: the normalised
    format, a file that holds what its row says, no longer than the cut, the source's pictures in
    the order they were played. How many frames the browser sent (fps, source frames lost,
    pictures damaged by lost packets) is measured by ``bench/bench_capture.py``, not asserted."""
    meta = view["video_meta"]
    assert (view["width"], view["height"], view["fps"]) == (640, 480, 30.0)
    assert (meta["source_width"], meta["source_height"]) == (640, 480)
    assert view["status"] == "ok" and meta["error"] is None
    video = read_video(home.root / view["video_path"])
    assert video.frames.shape[1:3] == (480, 640) and len(video.frames) == view["frames"] == meta["frames"]
    assert 1.0 <= meta["duration_s"] == round(len(video.frames) / 30.0, 3) <= cut_s  # a take ends at the cut
    # the constant-rate file accounts for every frame received: written = received + repeated - dropped
    assert meta["frames"] == meta["frames_received"] + meta["frames_duplicated"] - meta["frames_dropped"], meta
    stamps = np.array([read_frame_index(f) for f in video.frames])
    readable = stamps[stamps >= 0]
    assert len(readable) >= 0.5 * len(stamps), f"most frame stamps unreadable: {stamps.tolist()}"
    steps = np.diff(readable) % len(source)
    # in playing order: forward (or repeated) by less than half the looped clip, never backwards
    assert (steps < len(source) // 2).all(), f"frames out of order: {readable.tolist()}"
    diffs = [np.abs(f.astype(np.int16) - source[i].astype(np.int16)).mean() for f, i in zip(video.frames, stamps) if i >= 0]
    assert float(np.mean(diffs)) < 10.0  # mean absolute difference in 0-255 levels


def test_one_volunteer_records_and_rates_two_outfits(home, fake_camera, source_frames) -> None:
    report = run_scenario("single", home, fake_camera)
    volunteer = report["volunteers"][0]
    # one camera connection for the visit, and each take asked the browser for a fresh key frame
    second_take = [s for s in volunteer["webrtc"][1] if "frames" in s]
    assert len(second_take) == 1 and second_take[0]["pli"] >= 2 and second_take[0]["keyframes"] >= 3
    with Store.open(home, read_only=True) as store:
        views = store.views_for_session(volunteer["session_id"])
        assert [(v["status"], v["rating"]) for v in views] == [("ok", 80), ("ok", 20)]
        for view in views:
            check_video(view, home, source_frames)
        assert store.find_volunteer(volunteer["withdrawal_code"]) is not None
        assert store.get_session(volunteer["session_id"])["finished_at"] is not None


def test_two_volunteers_at_once(home, fake_camera, source_frames) -> None:
    report = run_scenario("pair", home, fake_camera)
    with Store.open(home, read_only=True) as store:
        expected = {0: [70, 30], 1: [60, 40]}
        for k, volunteer in enumerate(report["volunteers"]):
            views = store.views_for_session(volunteer["session_id"])
            assert [(v["status"], v["rating"]) for v in views] == [("ok", r) for r in expected[k]]
            for view in views:
                check_video(view, home, source_frames)


def test_browser_closed_mid_recording_leaves_no_half_row_and_no_orphan(home, fake_camera) -> None:
    report = run_scenario("close", home, fake_camera)
    volunteer = report["volunteers"][0]
    assert volunteer["closed_at_position"] == 1
    with Store.open(home, read_only=True) as store:
        views = store.views_for_session(volunteer["session_id"])
        assert [v["position"] for v in views] == [0]  # the interrupted take has no row
    # the server has stopped; the start-up sweep moves the abandoned take's file aside
    sweep = subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), "init", "--quarantine"],
                           cwd=REPO, capture_output=True, text=True, check=True)
    assert "stale temporary files" in sweep.stdout
    with Store.open(home, read_only=True) as store:
        after = store.sweep(temp_grace_s=0)
        assert after["orphan_files"] == [] and after["temp_files"] == [] and after["missing_files"] == []
        assert len(store.list_views()) == 1


def test_a_refresh_mid_take_resumes_at_the_same_outfit(home, fake_camera, source_frames) -> None:
    """The page is reloaded while the second outfit records: the new page resumes the same session at
    the same outfit, without a camera until the volunteer turns it on again; that outfit is recorded
    from the start and rated once, and the interrupted take leaves no row and, after the sweep, no file."""
    report = run_scenario("refresh", home, fake_camera)
    volunteer = report["volunteers"][0]
    assert volunteer["refreshed_at_position"] == 1 and volunteer["resumed_session_id"] == volunteer["session_id"]
    with Store.open(home, read_only=True) as store:
        views = store.views_for_session(volunteer["session_id"])
        plan = store.get_session(volunteer["session_id"])["plan"]
        assert [(v["position"], v["outfit_id"], v["status"], v["rating"]) for v in views] == [
            (0, plan[0], "ok", 35), (1, plan[1], "ok", 65)]
        for view in views:
            check_video(view, home, source_frames, cut_s=10.0)
        assert store.get_session(volunteer["session_id"])["finished_at"] is not None
    subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), "init", "--quarantine"],
                   cwd=REPO, capture_output=True, text=True, check=True)
    with Store.open(home, read_only=True) as store:
        after = store.sweep(temp_grace_s=0)
        assert after["orphan_files"] == [] and after["temp_files"] == [] and after["missing_files"] == []
        assert len(store.list_views()) == 2


def _peer_connections(report: dict) -> set[str]:
    return {line.split("[pc", 1)[1].split("]", 1)[0] for line in report["peer_events"]}


def test_a_server_pause_right_after_connecting_does_not_lose_the_camera(home, fake_camera) -> None:
    """The stall's cause: the server stopped for 8 s after the connection was made (as a cold start's
    first imports do); the browser reports ICE "disconnected", and the served frontend no longer
    tears the connection down for it: the same connection resumes and the face check passes."""
    report = run_scenario("pause", home, fake_camera)
    events = report["peer_events"]
    assert _peer_connections(report) == {"1"}, events  # one connection, kept: no restart
    states = [e.split("iceconnectionstatechange ", 1)[1].split()[1] for e in events if "iceconnectionstatechange" in e]
    assert "ice=disconnected" in states, f"the pause did not reach the browser: {states}"
    assert states[-1] == "ice=connected" and "ice=closed" not in states and "ice=failed" not in states, states
    volunteer = report["volunteers"][0]
    assert volunteer["timeline"]["camera_check_s"] > 8 and not volunteer["saw_reconnecting_notice"]
    with Store.open(home, read_only=True) as store:
        assert store.get_session(volunteer["session_id"])["camera_restarts"] == 0


def test_a_camera_that_sends_nothing_is_reconnected_and_counted(home, fake_camera) -> None:
    """The watchdog: the first connection comes up but delivers no frame; after IPE_CAMERA_STALL_S
    (8 s) the page says so, reconnects by itself (a second peer connection, no click), the face
    check passes, and the restart is stored with the session."""
    report = run_scenario("silent", home, fake_camera)
    volunteer = report["volunteers"][0]
    assert _peer_connections(report) == {"1", "2"}, report["peer_events"]
    assert volunteer["saw_reconnecting_notice"] and volunteer["timeline"]["camera_check_s"] > 8
    with Store.open(home, read_only=True) as store:
        assert store.get_session(volunteer["session_id"])["camera_restarts"] == 1
