"""The volunteer flow: consent -> profile -> camera check -> outfits (record + rate) -> thanks.

State lives in ``st.session_state["flow"]``. The URL carries the session id and its resume
key (``?s=<id>&k=<key>``, 256 random bits made when the session starts; the store keeps only
the key's hash, ``core/store/access.py``), so a refresh or a reconnect of the same browser
resumes at the first outfit without a stored view, and an id alone resumes nothing. A
finished session's URL shows only that it is finished: the withdrawal code is shown in the
browser session that made it (or rotated it), never again. A returning volunteer gives the
withdrawal code (not the id, which is no secret); it is replaced by a new one, shown, and the
new consent is stored. Wrong codes back off exponentially per client (``core/throttle.py``).
Nothing touches the camera before consent.

One WebRTC connection (SENDONLY) per visit, opened by the volunteer's own click on the camera
button at the camera check. The component sits in the main column (phones collapse the
sidebar) and is the first element of every run from the camera check to the last outfit, so it
has the same place in both stages and Streamlit keeps the same component (and its connection);
CSS shows it below the stage's content. Its sink hands frames to whichever take is current.
The outfit is shown large; the volunteer sees their own picture at the camera check, and during
takes only when the study sets ``IPE_SELF_VIEW`` (stored with the session). A take
(``core.collection.recorder.TakeRecorder``) starts when its outfit is shown and takes frames until 10 s
of media time or "done"; it is committed with its rating in one atomic store call,
idempotent per (session, position).

Why a click and not ``desired_playing_state=True``: with the programmatic start,
streamlit-webrtc 0.79's frontend starts two or three peer connections at once in the same
iframe (its start effect runs again before its state leaves STOPPED), each sends an offer,
the server answers one of them and the browser applies that answer to another, so ICE fails
after ~15 s and the component retries (measured: 20-130 s before the first frame). A click
starts exactly one connection.
"""
from __future__ import annotations

import math
import time

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from annotation.browser_recorder.page import browser_camera, browser_session_stage
from annotation.camera_watchdog import CameraWatchdog, component_on, save_restarts, watch
from annotation.i18n import Catalog
from annotation.outfit_view import show_outfit
from annotation.rating import forget, rating_input
from annotation.resources import client_key, code_throttle, get_config, get_store, get_turn
from annotation.session_camera import SessionCamera, request_keyframe
from annotation.webrtc_config import MEDIA_CONSTRAINTS, configure_aiortc, ice_configuration
from annotation.webrtc_frontend import forget_render_count, serve_patched_frontend
from core.collection.consent import CHOICES
from core.errors import StoreError
from core.collection.recorder import TakeRecorder
from core.collection.session_plan import start_planned_session
from core.store import utcnow
from core.store.access import new_resume_key, returning_volunteer, session_for_key

# The camera panel comes first in the page (see the module doc) but is shown last. The outfit
# large: top above bottom, together about 76 % of the window's height beside the controls on
# wide screens; full width, one under the other, on phones (where columns stack). Captions dark
# enough to read (Streamlit's, at 60 % opacity, have 3.1:1 contrast on white; WCAG asks 4.5:1).
PAGE_CSS = """<style>
div:has(> .st-key-camera-panel), .st-key-camera-panel { order: 99; }
.st-key-outfit img { height: 38vh; object-fit: contain; }
@media (max-width: 640px) { .st-key-outfit img { height: auto; } }
[data-testid="stCaptionContainer"] { opacity: 1 !important; color: rgb(72, 74, 84) !important; }
</style>"""

configure_aiortc()
st.html(PAGE_CSS)  # style only: Streamlit puts it in its event container, not among the page's elements
serve_patched_frontend()
store = get_store()
config = get_config()
t = Catalog(config.language)  # every text a volunteer reads comes from here (annotation/locales)
flow: dict = st.session_state.setdefault("flow", {"stage": "consent"})
takes: dict = st.session_state.setdefault("takes", {})


def go(stage: str, **extra) -> None:
    flow.update(stage=stage, **extra)
    st.rerun()


# --------------------------------------------------------------------------- resume from the URL
url_session, url_key = st.query_params.get("s"), st.query_params.get("k")
if url_session and flow.get("session_id") != url_session:
    session = session_for_key(store, url_session, url_key)
    if session is None:
        st.query_params.clear()
        if flow.get("session_id") and flow.get("resume_key"):  # keep this browser's own session in its URL
            st.query_params.update(s=flow["session_id"], k=flow["resume_key"])
        st.warning(t("consent.foreign_link"))
    elif session["finished_at"]:
        st.query_params.clear()
        flow.clear()
        flow["stage"] = "finished"  # nothing about the volunteer: the link may be in someone else's history
    else:
        flow.clear()
        flow.update(stage="session", session_id=session["session_id"], volunteer_id=session["volunteer_id"],
                    resume_key=url_key)


# --------------------------------------------------------------------------- stages
def consent_stage() -> None:
    version = f"{t('consent.version')}/{t.language}"  # what was agreed to: the text's version and language
    st.title(t("consent.title"))
    st.markdown(t("consent.text", max_seconds=config.max_record_seconds, retention=config.retention))
    st.caption(t("consent.version_caption", version=version))
    choices = {key: st.checkbox(t(f"consent.{key}"), key=f"consent_{key}") for key in CHOICES}
    returning = st.text_input(t("consent.returning"), key="returning", placeholder="ABCD-EFGH-JKLM")
    if st.button(t("consent.agree"), type="primary", disabled=not choices["recording"]):
        consent = {"version": version, "accepted_at": utcnow(), **choices}
        if returning.strip():
            client = client_key()
            wait = code_throttle().wait_s(client)
            if wait > 0:
                st.error(t("consent.too_many_tries", seconds=math.ceil(wait)))
                return
            volunteer = returning_volunteer(store, returning, consent)
            if volunteer is None:
                code_throttle().failed(client)
                st.error(t("consent.unknown_code"))
                return
            code_throttle().succeeded(client)
            go("camera", volunteer_id=volunteer["volunteer_id"], withdrawal_code=volunteer["withdrawal_code"],
               code_rotated=True)
        go("profile", consent=consent)
    if not choices["recording"]:
        st.info(t("consent.required"))


def profile_stage() -> None:
    st.title(t("profile.title"))
    age = st.selectbox(t("profile.age"), config.age_bands, index=None, placeholder=t("profile.choose"),
                       format_func=t.option)
    gender = st.selectbox(t("profile.gender"), config.genders, index=None, placeholder=t("profile.choose"),
                          format_func=t.option)
    extra = {label: st.text_input(t("profile.optional", label=label)) for label in config.extra_fields}
    if st.button(t("profile.continue"), type="primary", disabled=not (age and gender)):
        volunteer = store.add_volunteer(age_band=age, gender=gender, extra={k: v for k, v in extra.items() if v},
                                        consent=flow["consent"])
        go("camera", volunteer_id=volunteer["volunteer_id"], withdrawal_code=volunteer["withdrawal_code"])


CAMERA_KEY = "camera"  # the component's key (streamlit-webrtc keeps its context under it in session_state)
CAMERA_BUTTONS = {name: t(f"camera.{name}") for name in ("start", "stop", "select_device")}


def session_camera() -> SessionCamera:
    return st.session_state.setdefault("session_camera", SessionCamera())


def camera_watchdog() -> CameraWatchdog:
    return st.session_state.setdefault("camera_watchdog", CameraWatchdog(config.camera_stall_s))


def camera_playing() -> bool:
    """Whether the camera component is sending (its context lives in session_state under its key)."""
    context = st.session_state.get(CAMERA_KEY)
    return bool(context is not None and context.state.playing)


def camera() -> None:
    """Render the visit's one camera component, feeding :func:`session_camera`; called as the
    run's first element in every stage that has it (see the module doc)."""
    watchdog = camera_watchdog()  # it stops and starts a camera that delivers nothing (camera_watchdog.py)
    watchdog.observe(on=component_on(st.session_state.get(CAMERA_KEY)), frames=session_camera().count)
    forget_render_count(st.session_state.get(CAMERA_KEY))  # no false "orphaned" reset (webrtc_frontend.py)
    with st.container(key="camera-panel"):
        st.caption(t("camera.panel"))
        webrtc_streamer(
            key=CAMERA_KEY, mode=WebRtcMode.SENDONLY, **ice_configuration(get_turn(), st.session_state),
            media_stream_constraints=MEDIA_CONSTRAINTS, sink_video_track=session_camera().sink,
            translations=CAMERA_BUTTONS, desired_playing_state=watchdog.desired_playing_state,
        )


def camera_stage() -> None:
    if config.capture == "browser":
        check = browser_camera(store, config, t, preview=True)
    else:
        check = session_camera()
        camera()
    st.title(t("camera.title"))
    st.write(t("camera.instructions" if config.capture == "webrtc" else "camera.instructions_browser",
               start=CAMERA_BUTTONS["start"]))
    if flow.get("withdrawal_code"):
        st.info((t("camera.code_rotated") + " " if flow.get("code_rotated") else "") + t("camera.keep_code"))
        st.code(flow["withdrawal_code"], language=None)

    # The start button lives in the fragment with the face check, and the fragment is the page's
    # last call: with 4 volunteers on 2 cores, a timer rerun of the fragment racing a full-app run
    # left the page without the elements rendered after the fragment (no start button, for good).
    @st.fragment(run_every=1.0)
    def face_status_and_start() -> None:
        if config.capture == "webrtc":  # the browser-recorded path has no live connection to watch
            watch(camera_watchdog(), st.session_state.get(CAMERA_KEY), check.count,
                  reconnecting_text=t("camera.reconnecting"))
        if check.latest is None:
            st.info(t("camera.waiting"))
        else:
            from core.reaction.face_models import hog_detector

            st.image(check.latest, width=240, caption=t("camera.preview"), alt=t("camera.preview_alt"))
            if len(hog_detector()(check.latest, 0)):
                st.success(t("camera.face_ok"))
            else:
                st.warning(t("camera.no_face"))
                # after packets were lost (a paused server, a bad network) the decoder shows damaged
                # pictures until the browser sends a key frame, and it sends one only when asked
                request_keyframe(st.session_state.get(CAMERA_KEY))
        if st.button(t("camera.start_session"), type="primary"):
            start_session(check)

    face_status_and_start()


def start_session(check: SessionCamera) -> None:
    if check.latest is None:
        st.warning(t("camera.turn_on_first", start=CAMERA_BUTTONS["start"]))
        return
    volunteer_id = flow["volunteer_id"]
    session_id, _ = start_planned_session(store, volunteer_id, n=config.outfits_per_session,
                                          seed=f"{volunteer_id}-{time.time_ns()}", research_mode=config.research_mode,
                                          device_info={"user_agent": st.context.headers.get("User-Agent", "")},
                                          self_view=config.self_view, reservation_s=config.reservation_s)
    if session_id is None:
        st.error(t("camera.all_rated"))
        return
    key = new_resume_key(store, session_id)
    st.query_params.update(s=session_id, k=key)
    go("session", session_id=session_id, resume_key=key)


def _take(session_id: str, position: int) -> dict:
    key = f"{session_id}-{position}"
    if key not in takes:
        recorder = TakeRecorder(store.new_video_tempfile(), max_seconds=config.max_record_seconds,
                                size=config.video_size, fps=config.video_fps, preset=config.video_preset)
        takes[key] = {"recorder": recorder, "shown_at": utcnow()}
    return takes[key]


def _discard(key: str) -> None:
    take = takes.pop(key, None)
    cam = st.session_state.get("session_camera")
    if take and cam is not None and cam.take is take["recorder"]:
        cam.end_take()
    if take:
        take["recorder"].stop()
        take["recorder"].wait(10)
        take["recorder"].path.unlink(missing_ok=True)


def session_stage() -> None:
    if config.capture == "browser":
        return browser_session_stage(store, config, t, flow, go)
    session_id = flow["session_id"]
    session = store.get_session(session_id)
    save_restarts(camera_watchdog(), store, session_id)  # those of the camera check, once there is a session
    plan = session["plan"]
    position = len(store.views_for_session(session_id))
    if position >= len(plan):
        store.finish_session(session_id)
        go("thanks")
    outfit = next(o for o in store.list_outfits() if o["outfit_id"] == plan[position])
    key = f"{session_id}-{position}"
    take = _take(session_id, position)
    recorder: TakeRecorder = take["recorder"]
    cam = session_camera()
    cam.preview_during_takes = config.self_view
    camera_on = camera_playing()
    if recorder.recording and recorder.media_seconds and not camera_on:
        # the connection dropped in the middle of the take (the browser stops the camera when it
        # does): what was recorded is cut short, so the take starts again once the camera is back
        _discard(key)
        take = _take(session_id, position)
        take["after_drop"] = True
        recorder = take["recorder"]
    if recorder.recording:  # the take starts with the outfit on screen, at a fresh key frame
        cam.start_take(recorder, lambda: request_keyframe(st.session_state.get(CAMERA_KEY)))
    else:
        cam.end_take()
    camera()
    camera_on = camera_playing()  # again: rendering resets a component the page had not shown for a while

    right = show_outfit(t, outfit, position, len(plan))
    with right:
        if recorder.recording and not camera_on and not recorder.media_seconds:
            message = "outfit.camera_dropped" if take.get("after_drop", False) else "outfit.camera_off"
            st.warning(t(message, start=CAMERA_BUTTONS["start"]))
        slot = st.container()  # the recording status goes here, rendered last (see camera_stage)
        if not recorder.recording:
            with st.spinner(t("outfit.saving")):
                recorder.wait(15)
            rating_and_confirm(session_id, outfit["outfit_id"], position, take)
        c1, c2 = st.columns(2)
    if c1.button(t("outfit.skip"), key=f"skip-{key}"):
        _discard(key)
        forget(f"rating-{key}")
        store.commit_recording(session_id=session_id, outfit_id=outfit["outfit_id"], position=position,
                               temp_video=None, rating=None, status="skipped", shown_at=take["shown_at"])
        st.rerun()
    if c2.button(t("outfit.stop"), key=f"stop-{key}"):
        _discard(key)
        store.finish_session(session_id, stopped_early=True)
        go("thanks")
    if recorder.recording:
        with slot:
            recording_status(recorder, cam, key)


@st.fragment
def rating_and_confirm(session_id: str, outfit_id: str, position: int, take: dict) -> None:
    """The rating and Confirm. A fragment: each move of the slider (one per arrow key) reruns only
    this, not the page. Seen in the browser test: 81 arrow presses, each rerunning the whole page
    (images, store queries) on the loaded box, and the camera was off afterwards (the browser
    reported playing=False: streamlit-webrtc's frontend ends on a 'disconnected' connection)."""
    key = f"{session_id}-{position}"
    recorder: TakeRecorder = take["recorder"]
    rating, touched_at = rating_input(f"rating-{key}", t("outfit.question"), t("outfit.not_set"))
    if rating is None:
        st.caption(t("outfit.set_it"))
    if st.button(t("outfit.confirm"), type="primary", key=f"confirm-{key}", disabled=rating is None):
        status = recorder.status(config.min_record_seconds)
        video = recorder.path if status != "failed" and recorder.path.is_file() else None
        if video is None:
            recorder.path.unlink(missing_ok=True)
        try:
            store.commit_recording(session_id=session_id, outfit_id=outfit_id, position=position,
                                   temp_video=video, rating=rating, status=status, shown_at=take["shown_at"],
                                   rated_at=utcnow(), touched_at=touched_at, video_meta=recorder.meta())
        except StoreError as err:
            st.error(t("outfit.not_saved", error=err))
            return
        takes.pop(key, None)
        forget(f"rating-{key}")
        st.rerun(scope="app")


@st.fragment(run_every=1.0)
def recording_status(recorder: TakeRecorder, cam: SessionCamera, key: str) -> None:
    """Seconds recorded and the "done" button; the whole page reruns when the take ends."""
    if not recorder.recording:
        st.rerun(scope="app")
    watch(camera_watchdog(), st.session_state.get(CAMERA_KEY), cam.count, reconnecting_text=t("camera.reconnecting"),
          store=store, session_id=flow["session_id"])
    seconds = recorder.media_seconds
    st.caption(t("outfit.recording", seconds=seconds, limit=config.max_record_seconds) if seconds
               else t("outfit.starting"))
    if config.self_view and cam.latest is not None:
        st.image(cam.latest, width=160, caption=t("outfit.you"), alt=t("camera.preview_alt"))
    if st.button(t("outfit.done"), key=f"done-{key}"):
        recorder.stop()
        cam.end_take()
        st.rerun(scope="app")


def thanks_stage() -> None:
    st.title(t("thanks.title"))
    if flow.get("withdrawal_code"):  # only in the browser session that made (or rotated) it
        st.write(t("thanks.saved_with_code"))
        st.code(flow["withdrawal_code"], language=None)
        st.caption(t("thanks.volunteer_id", volunteer_id=flow.get("volunteer_id", "")))
    else:
        st.write(t("thanks.saved"))
    if st.button(t("thanks.again")):
        st.query_params.clear()
        go("camera", session_id=None, resume_key=None)


def finished_stage() -> None:
    """A finished session opened from its link: it says so and nothing else (no code, no id)."""
    st.title(t("thanks.finished_title"))
    st.write(t("thanks.finished"))
    if st.button(t("thanks.start_again")):
        flow.clear()
        go("consent")


{"consent": consent_stage, "profile": profile_stage, "camera": camera_stage, "session": session_stage,
 "thanks": thanks_stage, "finished": finished_stage}[flow["stage"]]()
