"""The camera watchdog's decisions, step by step on a clock the test moves, and the patched
frontend it relies on (the installed streamlit-webrtc bundle, patched for real)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from annotation.camera_watchdog import CameraWatchdog, component_on
from annotation.webrtc_frontend import ASSETS, PATCHES, patched_frontend
from core.errors import IPEError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _dog(stall_s: float = 8.0) -> tuple[CameraWatchdog, Clock]:
    clock = Clock()
    return CameraWatchdog(stall_s, clock=clock), clock


def test_a_camera_that_delivers_is_left_alone() -> None:
    dog, clock = _dog()
    for frames in range(0, 300, 30):  # 30 frames a second
        assert not dog.observe(on=True, frames=frames)
        clock.now += 1.0
    assert dog.desired_playing_state is None and dog.restarts == 0 and not dog.reconnecting


def test_a_camera_that_is_off_is_never_started() -> None:
    dog, clock = _dog()
    for _ in range(30):
        assert not dog.observe(on=False, frames=0)
        clock.now += 1.0
    assert dog.desired_playing_state is None and dog.restarts == 0


def test_no_frames_for_stall_s_after_the_click_stops_and_starts_the_camera_once() -> None:
    dog, clock = _dog(8.0)
    assert not dog.observe(on=True, frames=0)  # the click: the component signals
    clock.now += 7.9
    assert not dog.observe(on=True, frames=0) and dog.desired_playing_state is None
    clock.now += 0.1
    assert dog.observe(on=True, frames=0)  # 8 s without a frame
    assert dog.desired_playing_state is False and dog.reconnecting and dog.restarts == 1
    clock.now += 1.0
    # the browser stopped, but the server still holds the old worker or answer: wait
    assert not dog.observe(on=True, frames=0) and dog.desired_playing_state is False
    assert dog.observe(on=False, frames=0) and dog.desired_playing_state is True
    clock.now += 1.0
    assert dog.observe(on=True, frames=0) and dog.desired_playing_state is None  # the new connection signals
    assert dog.reconnecting  # until its first frame
    clock.now += 1.0
    assert not dog.observe(on=True, frames=25)
    assert not dog.reconnecting and dog.restarts == 1 and dog.take_unsaved() == 1 and dog.unsaved == 0


def test_frames_that_stop_mid_session_count_from_the_last_frame() -> None:
    dog, clock = _dog(8.0)
    dog.observe(on=True, frames=100)
    clock.now += 1.0
    dog.observe(on=True, frames=130)  # the last frame arrives here
    clock.now += 7.5
    assert not dog.observe(on=True, frames=130)
    clock.now += 0.5
    assert dog.observe(on=True, frames=130) and dog.restarts == 1


def test_a_start_that_does_not_take_is_tried_again_and_counted_again() -> None:
    dog, clock = _dog(8.0)
    dog.observe(on=True, frames=0)
    clock.now += 8.0
    assert dog.observe(on=True, frames=0)  # stall 1: stop
    assert dog.observe(on=False, frames=0) and dog.desired_playing_state is True  # start
    clock.now += 15.9  # after a restart the new connection is given twice as long
    assert not dog.observe(on=False, frames=0)
    clock.now += 0.1
    assert dog.observe(on=False, frames=0)  # nothing signalled within 16 s: stop and start again
    assert dog.desired_playing_state is False and dog.restarts == 2
    clock.now += 32.0  # a stop the browser never confirms does not hold the watchdog forever
    assert dog.observe(on=True, frames=0) and dog.desired_playing_state is True


def _restart(dog: CameraWatchdog, clock: Clock, frames: int) -> None:
    """Through a stall's stop and start to the new connection signalling."""
    assert dog.observe(on=True, frames=frames) and dog.desired_playing_state is False
    clock.now += 1.0
    assert dog.observe(on=False, frames=frames) and dog.desired_playing_state is True
    clock.now += 1.0
    assert dog.observe(on=True, frames=frames) and dog.desired_playing_state is None


def test_a_connection_slower_than_stall_s_gets_through_after_one_restart() -> None:
    """Each connection of a busy machine needs 12 s to its first frame: the first is given 8 s and
    restarted, the second 16 s and delivers; without the doubling it would restart for ever."""
    dog, clock = _dog(8.0)
    dog.observe(on=True, frames=0)  # the click
    clock.now += 8.0
    _restart(dog, clock, 0)
    for _ in range(11):
        clock.now += 1.0
        assert not dog.observe(on=True, frames=0) and dog.reconnecting
    clock.now += 1.0
    assert not dog.observe(on=True, frames=5)  # 12 s after its start: frames
    assert dog.restarts == 1 and not dog.reconnecting and dog.wait_s == 8.0  # back to stall_s


def test_the_wait_doubles_up_to_eight_times_stall_s_and_resets_when_frames_flow() -> None:
    dog, clock = _dog(8.0)
    dog.observe(on=True, frames=0)
    waits = []
    for _ in range(5):
        clock.now += dog.wait_s
        _restart(dog, clock, 0)
        waits.append(dog.wait_s)
    assert waits == [16.0, 32.0, 64.0, 64.0, 64.0] and dog.restarts == 5
    clock.now += 1.0
    dog.observe(on=True, frames=30)
    assert dog.wait_s == 8.0
    clock.now += 8.0  # frames stop mid-session: the first restart comes after stall_s again
    assert dog.observe(on=True, frames=30) and dog.restarts == 6


def test_the_volunteer_turning_the_camera_off_is_not_a_stall() -> None:
    dog, clock = _dog(8.0)
    dog.observe(on=True, frames=50)
    clock.now += 2.0
    for _ in range(20):
        assert not dog.observe(on=False, frames=50)
        clock.now += 1.0
    assert dog.restarts == 0 and dog.desired_playing_state is None


def test_a_bad_stall_time_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        CameraWatchdog(0)


def test_component_on_reads_browser_and_server_state() -> None:
    def context(playing=False, signalling=False, answer=None):
        return SimpleNamespace(state=SimpleNamespace(playing=playing, signalling=signalling), _sdp_answer_json=answer)

    assert not component_on(None) and not component_on(context())
    assert component_on(context(playing=True)) and component_on(context(signalling=True))
    assert component_on(context(answer='{"type": "answer"}'))  # the server has not dropped the old answer yet


def _installed_dist() -> Path:
    import streamlit_webrtc

    return Path(streamlit_webrtc.__file__).parent / "frontend" / "dist"  # the package's own, never the served copy


def test_the_installed_frontend_is_patched_and_still_parses(tmp_path) -> None:
    out = patched_frontend(_installed_dist(), tmp_path / "dist")
    html = (out / "index.html").read_text()
    assert f"./{ASSETS}/" in html and "./assets/" not in html  # new URLs: no cached unpatched bundle is reused
    bundle = next((out / ASSETS).glob("index-*.js")).read_text()
    assert "`disconnected`" not in bundle and all(new in bundle for _, new in PATCHES)
    if shutil.which("node"):  # the patched bundle is still valid JavaScript
        module = tmp_path / "bundle.mjs"
        module.write_text(bundle)
        subprocess.run(["node", "--check", str(module)], check=True, capture_output=True)


def test_a_frontend_the_patches_do_not_fit_stops_with_one_line(tmp_path) -> None:
    dist = tmp_path / "other"
    shutil.copytree(_installed_dist(), dist)
    bundle = next((dist / "assets").glob("index-*.js"))
    bundle.write_text(bundle.read_text().replace(PATCHES[0][0], "somethingElse()"))
    with pytest.raises(IPEError, match="pinned version"):
        patched_frontend(dist, tmp_path / "out")


def test_the_render_count_behind_the_false_orphan_reset_is_forgotten() -> None:
    from streamlit_webrtc.component import WebRtcStreamerContext, WebRtcStreamerState

    from annotation.webrtc_frontend import forget_render_count

    context = WebRtcStreamerContext(worker=None, state=WebRtcStreamerState(playing=True, signalling=False))
    context._last_rendered_run_count = 7  # what 0.79 compares the (lagging) script-run count with
    forget_render_count(context)
    assert context._last_rendered_run_count is None
    forget_render_count(None)  # before the first render there is no context
