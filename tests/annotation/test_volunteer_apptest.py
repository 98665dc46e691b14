"""The volunteer flow and researcher gating with Streamlit's AppTest, on a real DuckDB store.

AppTest has no WebRTC runtime (streamlit-webrtc needs the server's session manager), so
``webrtc_streamer`` is replaced by a stand-in that plays frames of a real generated face
video into the page's own sink, exactly as the component would; the real component, a
real browser and its fake camera are exercised in ``test_e2e_recording.py``.
"""
from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import pytest
import streamlit_webrtc
from streamlit.testing.v1 import AppTest

from core.store import Store
from core.throttle import BackOff
from data.reaction_video import ReactionSpec, render_reaction
from tests.conftest import REPO

PAGE = str(REPO / "annotation" / "volunteer_page.py")
FRAMES = render_reaction(ReactionSpec("smile", duration_s=1.5, seed=0))


class CameraStandIn:
    """Records which components were shown. While ``on`` (the volunteer clicked the camera
    button) it plays a preview frame into the page's sink, or, while a take is current,
    1.5 s of real frames."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.on = True
        self.take_frames = FRAMES  # what one rerun delivers to a current take

    def __call__(self, key: str, *, sink_video_track=None, desired_playing_state=None, **_: object):
        self.keys.append(key)
        assert desired_playing_state is None  # the volunteer starts the camera (see volunteer_page's docstring)
        camera = sink_video_track._callback.__self__ if sink_video_track is not None else None
        if self.on and camera is not None:
            frames = self.take_frames if camera.take is not None else FRAMES[:1]
            for i, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts, frame.time_base = i * 3000, Fraction(1, 90000)
                sink_video_track._callback(frame)
        import streamlit as st
        # streamlit-webrtc keeps its context under the key; its state follows the browser at once
        st.session_state[key] = context = SimpleNamespace(state=self)
        return context

    @property
    def playing(self) -> bool:
        return self.on

    signalling = False  # the stand-in is on or off at once


@pytest.fixture
def camera(monkeypatch, home):
    stand_in = CameraStandIn()
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", stand_in)
    monkeypatch.setenv("IPE_OUTFITS_PER_SESSION", "3")
    monkeypatch.setenv("IPE_MAX_RECORD_SECONDS", "1.0")
    monkeypatch.setenv("IPE_MIN_RECORD_SECONDS", "0.5")
    subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), "init"], cwd=REPO, check=True,
                   capture_output=True)
    import annotation.resources as resources
    for cached in (resources.get_store, resources.get_config, resources.code_throttle, resources.sign_in_throttle):
        cached.clear()
    yield stand_in
    resources.get_store.clear()  # the cached store holds the file open


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def test_consent_gates_the_camera_and_the_flow_resumes(camera, home) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert _button(at, "I agree").disabled  # recording consent is required
    assert camera.keys == []  # nothing touched the camera
    at.checkbox[0].check().run()
    _button(at, "I agree").click().run()
    assert at.session_state["flow"]["stage"] == "profile" and camera.keys == []
    assert _button(at, "Continue").disabled  # age band and gender are required
    at.selectbox[0].select("25-34")
    at.selectbox[1].select("prefer not to say").run()
    _button(at, "Continue").click().run()
    assert at.session_state["flow"]["stage"] == "camera" and camera.keys == ["camera"]
    _button(at, "Start the session").click().run()
    assert not at.exception, at.exception
    session_id, key = at.query_params["s"], at.query_params["k"]
    # outfit 1: the stand-in camera plays 1.5 s; the take stops itself at 1.0 s of media time
    assert any(s.label.startswith("How much") for s in at.select_slider), [m.value for m in at.markdown]
    assert at.select_slider[0].value == "unset" and _button(at, "Confirm").disabled  # no accepted default
    at.select_slider[0].set_value(80).run()
    assert not _button(at, "Confirm").disabled
    _button(at, "Confirm").click().run()
    # outfit 2: skipped
    _button(at, "Skip this outfit").click().run()
    assert not at.exception

    with _store(home) as store:
        views = store.views_for_session(session_id)
        assert [(v["position"], v["status"], v["rating"]) for v in views] == [(0, "ok", 80), (1, "skipped", None)]
        assert views[0]["shown_at"] <= views[0]["touched_at"] <= views[0]["rated_at"]
        assert views[1]["touched_at"] is None
        assert store.get_session(session_id)["self_view"] is False
        assert views[0]["frames"] == 30 and views[0]["width"] == 640 and views[0]["fps"] == 30.0
        assert (home.root / views[0]["video_path"]).is_file()
        volunteer = store.get_volunteer(views[0]["volunteer_id"])
        assert volunteer["consent_recording"] and not volunteer["consent_training"]

    # a refresh: a new browser session with the same URL resumes at outfit 3, nothing duplicated
    again = AppTest.from_file(PAGE, default_timeout=60)
    again.query_params.update(s=session_id, k=key)
    again.run()
    assert not again.exception
    progress = again.get("progress")
    assert len(progress) == 1 and "3 / 3" in progress[0].proto.text
    again.select_slider[0].set_value(10).run()
    _button(again, "Confirm").click().run()
    assert again.session_state["flow"]["stage"] == "thanks"
    code = volunteer["withdrawal_code"]
    assert code not in _page_text(again)  # shown where it was made, not in a browser that resumed by link
    with _store(home) as store:
        assert [v["position"] for v in store.views_for_session(session_id)] == [0, 1, 2]
        assert store.get_session(session_id)["finished_at"] is not None


def _page_text(at: AppTest) -> str:
    """Everything the page shows as text."""
    parts = [e.value for kind in ("title", "markdown", "code", "caption", "info", "success", "warning", "error")
             for e in getattr(at, kind)]
    parts += [b.label for b in at.button] + [t.label for t in at.text_input]
    return "\n".join(str(p) for p in parts)


def _to_camera_check(age_band: str, gender: str) -> AppTest:
    """A new volunteer through consent (recording only) and profile, to the camera check."""
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.checkbox[0].check().run()
    _button(at, "I agree").click().run()
    at.selectbox[0].select(age_band)
    at.selectbox[1].select(gender).run()
    _button(at, "Continue").click().run()
    return at


def test_session_waits_for_the_camera(camera, home) -> None:
    camera.on = False  # the volunteer has not clicked the camera button yet
    at = _to_camera_check("35-44", "female")
    _button(at, "Start the session").click().run()
    assert at.session_state["flow"]["stage"] == "camera"
    assert any("Turn the camera on first" in w.value for w in at.warning)
    camera.on = True
    at.run()
    _button(at, "Start the session").click().run()
    assert at.session_state["flow"]["stage"] == "session"


def test_a_take_cut_by_a_dropped_camera_starts_again(camera, home) -> None:
    at = _to_camera_check("45-54", "female")
    camera.take_frames = FRAMES[:10]  # a third of a second, then the connection drops
    _button(at, "Start the session").click().run()
    first = at.session_state["takes"]
    (first_take,) = first.values()
    assert first_take["recorder"].recording and first_take["recorder"].media_seconds > 0
    camera.on = False
    at.run()
    assert any("camera stopped during the recording" in w.value for w in at.warning)
    assert not first_take["recorder"].path.exists()  # the cut take's file is gone
    camera.on, camera.take_frames = True, FRAMES
    at.run()
    at.select_slider[0].set_value(35).run()
    _button(at, "Confirm").click().run()
    with _store(home) as store:
        (view,) = store.views_for_session(at.query_params["s"])
        assert (view["status"], view["rating"], view["frames"]) == ("ok", 35, 30)
        # the only temporary file left is the next outfit's take, being recorded now
        (current,) = at.session_state["takes"].values()
        temp = store.sweep(temp_grace_s=0)["temp_files"]
        assert [Path(t).name for t in temp] == [current["recorder"].path.name]


def test_stop_session_keeps_what_was_committed(camera, home) -> None:
    at = _to_camera_check("18-24", "male")
    _button(at, "Start the session").click().run()
    at.select_slider[0].set_value(55).run()
    _button(at, "Confirm").click().run()
    _button(at, "Stop the session").click().run()
    assert at.session_state["flow"]["stage"] == "thanks"
    with _store(home) as store:
        session = store.get_session(at.query_params["s"])
        assert session["stopped_early"] is True
        assert len(store.views_for_session(session["session_id"])) == 1
        assert store.sweep(temp_grace_s=0)["temp_files"] == []  # the abandoned take was removed


def _store(home):
    import annotation.resources as resources
    return _Borrowed(resources.get_store())


class _Borrowed:
    """The page's cached read-write store, used without closing it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> Store:
        return self.store

    def __exit__(self, *exc: object) -> None:
        return None


def test_researcher_page_needs_a_configured_password(monkeypatch, home) -> None:
    monkeypatch.delenv("IPE_RESEARCHER_PASSWORD", raising=False)
    page = str(REPO / "annotation" / "researcher_page.py")
    at = AppTest.from_file(page, default_timeout=30).run()
    assert any("No researcher password is configured" in e.value for e in at.error)
    monkeypatch.setenv("IPE_RESEARCHER_PASSWORD", "s3cret-pass")
    subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), "init"], cwd=REPO, check=True,
                   capture_output=True)
    import annotation.resources as resources
    resources.get_store.clear()
    at = AppTest.from_file(page, default_timeout=30).run()
    assert not at.metric  # nothing shown before signing in
    at.text_input[0].input("wrong")
    _button(at, "Sign in").click().run()
    assert any("Wrong password" in e.value for e in at.error) and not at.metric
    at.text_input[0].input("s3cret-pass")
    _button(at, "Sign in").click().run()
    assert not at.exception, at.exception
    assert {m.label for m in at.metric} >= {"volunteers", "sessions", "rated views"}
    resources.get_store.clear()


def _open(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params.update(query)
    return at.run()


def test_a_session_link_needs_its_key_and_a_finished_one_shows_nothing_of_the_volunteer(camera, home) -> None:
    at = _to_camera_check("25-34", "female")
    code, volunteer_id = at.session_state["flow"]["withdrawal_code"], at.session_state["flow"]["volunteer_id"]
    assert any(code in c.value for c in at.code)  # shown once, where it was made
    _button(at, "Start the session").click().run()
    session_id, key = at.query_params["s"], at.query_params["k"]
    assert len(key) >= 40  # 256 random bits
    with _store(home) as store:
        stored = store.get_session(session_id)["resume_key_sha256"]
        assert stored and key not in stored  # only its hash is kept

    for query in ({"s": session_id}, {"s": session_id, "k": key[:-2] + "xx"}, {"s": session_id, "k": ""}):
        stranger = _open(query)
        assert not stranger.exception, stranger.exception
        assert stranger.session_state["flow"]["stage"] == "consent"
        assert not stranger.get("progress") and not any(s.label.startswith("How much") for s in stranger.select_slider)
        assert any("does not continue a session" in w.value for w in stranger.warning)
        assert "s" not in stranger.query_params
    with _store(home) as store:
        assert store.views_for_session(session_id) == []  # the strangers recorded and rated nothing

    owner = _open({"s": session_id, "k": key})  # the same browser after a refresh
    assert owner.session_state["flow"]["stage"] == "session" and owner.get("progress")
    _button(owner, "Stop the session").click().run()
    assert owner.session_state["flow"]["stage"] == "thanks"

    finished = _open({"s": session_id, "k": key})
    assert not finished.exception, finished.exception
    assert finished.session_state["flow"]["stage"] == "finished"
    text = _page_text(finished)
    assert "finished" in text and code not in text and volunteer_id not in text and not finished.code
    _button(finished, "Start again").click().run()
    assert finished.session_state["flow"] == {"stage": "consent"}


def _frozen_throttle(monkeypatch, name: str) -> BackOff:
    """The page's back-off of ``name``, on a clock that stands still (a wait never runs out)."""
    import annotation.resources as resources

    backoff = BackOff(clock=lambda: 1000.0)
    monkeypatch.setattr(resources, name, lambda: backoff)
    return backoff


def test_a_returning_volunteer_needs_the_code_which_is_replaced_and_the_new_consent_stored(
        camera, home, monkeypatch) -> None:
    from tests.store_helpers import CONSENT

    _frozen_throttle(monkeypatch, "code_throttle")
    with _store(home) as store:
        old = store.add_volunteer(age_band="35-44", gender="male", consent={**CONSENT, "training": False})
    assert not old["consent_training"]

    def consent_with(returning: str) -> AppTest:
        at = AppTest.from_file(PAGE, default_timeout=60).run()
        at.checkbox[0].check()
        at.checkbox[1].check()  # this time also for training
        at.text_input[0].input(returning).run()
        return _button(at, "I agree").click().run()

    by_id = consent_with(old["volunteer_id"])  # the id is no secret: it is not enough
    assert by_id.session_state["flow"]["stage"] == "consent"
    assert any("No volunteer has that withdrawal code" in e.value for e in by_id.error)

    typed = old["withdrawal_code"].lower().replace("-", " ")  # as a person might type it
    back = consent_with(typed)
    assert not back.exception, back.exception
    flow = back.session_state["flow"]
    assert flow["stage"] == "camera" and flow["volunteer_id"] == old["volunteer_id"]
    new_code = flow["withdrawal_code"]
    assert new_code != old["withdrawal_code"] and any(new_code in c.value for c in back.code)
    assert any("old one no longer works" in i.value for i in back.info)
    with _store(home) as store:
        now = store.get_volunteer(old["volunteer_id"])
        assert now["withdrawal_code"] == new_code and now["consent_training"] and now["consent_recording"]
        assert now["consent_at"] > old["consent_at"]
        assert store.find_volunteer(old["withdrawal_code"]) is None

    again = consent_with(old["withdrawal_code"])  # whoever saw the old code cannot continue as them
    assert again.session_state["flow"]["stage"] == "consent"
    for _ in range(2):  # with the one above, the free tries of this client
        consent_with("ABCD-EFGH-JKLM")
    late = consent_with(new_code)  # even the right code waits now
    assert late.session_state["flow"]["stage"] == "consent"
    assert any("Too many wrong tries" in e.value for e in late.error)


def test_researcher_sign_in_backs_off_after_wrong_passwords(monkeypatch, home) -> None:
    monkeypatch.setenv("IPE_RESEARCHER_PASSWORD", "s3cret-pass")
    subprocess.run([sys.executable, "-m", "app", "--home", str(home.root), "init"], cwd=REPO, check=True,
                   capture_output=True)
    import annotation.resources as resources
    resources.get_store.clear()
    _frozen_throttle(monkeypatch, "sign_in_throttle")
    page = str(REPO / "annotation" / "researcher_page.py")
    at = AppTest.from_file(page, default_timeout=30).run()
    for attempt in range(3):
        at.text_input[0].input(f"guess-{attempt}")
        _button(at, "Sign in").click().run()
        assert any("Wrong password" in e.value for e in at.error)
    at.text_input[0].input("s3cret-pass")
    _button(at, "Sign in").click().run()  # right, but during the wait: refused unchecked
    assert any("Too many wrong tries" in e.value for e in at.error) and not at.metric
    other = AppTest.from_file(page, default_timeout=30).run()  # a new browser session, same client
    other.text_input[0].input("s3cret-pass")
    _button(other, "Sign in").click().run()
    assert any("Too many wrong tries" in e.value for e in other.error) and not other.metric
    resources.get_store.clear()


@pytest.mark.parametrize("self_view", [False, True])
def test_self_view_during_takes_only_when_the_study_sets_it(camera, home, monkeypatch, self_view, request) -> None:
    monkeypatch.setenv("IPE_SELF_VIEW", "1" if self_view else "0")
    import annotation.resources as resources
    resources.get_config.clear()
    request.addfinalizer(resources.get_config.clear)  # the next AppTest of this process reads its own settings
    camera.take_frames = FRAMES[:9]  # 0.3 s: the take is still recording after this run
    at = _to_camera_check("45-54", "female")
    assert _captions(at) == ["Your camera picture (only you see it)"]
    _button(at, "Start the session").click().run()
    assert not at.exception, at.exception
    assert _button(at, "Done looking")  # the take is running
    assert ("You" in _captions(at)) is self_view
    with _store(home) as store:
        assert store.get_session(at.query_params["s"])["self_view"] is self_view


def _captions(at: AppTest) -> list[str]:
    return [img.caption for element in at.get("image") for img in element.proto.imgs if img.caption]
