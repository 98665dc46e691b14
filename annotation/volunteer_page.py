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
button in the sidebar at the camera check; the component keeps its place in the sidebar until
the last outfit, and its sink hands frames to whichever take is current. A take
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

import time

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from annotation.camera_watchdog import CameraWatchdog, component_on, save_restarts, watch
from annotation.resources import client_key, code_throttle, get_config, get_store
from annotation.session_camera import SessionCamera, request_keyframe
from annotation.webrtc_config import MEDIA_CONSTRAINTS, configure_aiortc, rtc_configuration
from annotation.webrtc_frontend import forget_render_count, serve_patched_frontend
from core.collection.consent import CHOICES, CONSENT_VERSION, consent_text
from core.errors import StoreError
from core.collection.recorder import TakeRecorder
from core.collection.session_plan import start_planned_session
from core.store import utcnow
from core.store.access import new_resume_key, returning_volunteer, session_for_key
from core.throttle import wait_message

configure_aiortc()
serve_patched_frontend()
store = get_store()
config = get_config()
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
        st.warning("This link does not continue a session here: a session continues only in the browser that "
                   "started it. You can start below.")
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
    st.title("Thank you for helping with this study")
    st.markdown(consent_text(config.max_record_seconds, config.retention))
    st.caption(f"Consent text version {CONSENT_VERSION}")
    choices = {key: st.checkbox(label, key=f"consent_{key}") for key, label in CHOICES.items()}
    returning = st.text_input("Taken part before? Your withdrawal code (optional)", key="returning",
                              placeholder="ABCD-EFGH-JKLM")
    if st.button("I agree — continue", type="primary", disabled=not choices["recording"]):
        consent = {"version": CONSENT_VERSION, "accepted_at": utcnow(), **choices}
        if returning.strip():
            client = client_key()
            wait = code_throttle().wait_s(client)
            if wait > 0:
                st.error(wait_message(wait))
                return
            volunteer = returning_volunteer(store, returning, consent)
            if volunteer is None:
                code_throttle().failed(client)
                st.error("No volunteer has that withdrawal code. Check it, or leave the field empty to start as new.")
                return
            code_throttle().succeeded(client)
            go("camera", volunteer_id=volunteer["volunteer_id"], withdrawal_code=volunteer["withdrawal_code"],
               code_rotated=True)
        go("profile", consent=consent)
    if not choices["recording"]:
        st.info("Recording and analysis are needed to take part; the other two choices are optional.")


def profile_stage() -> None:
    st.title("About you")
    age = st.selectbox("Age band", config.age_bands, index=None, placeholder="choose")
    gender = st.selectbox("Gender", config.genders, index=None, placeholder="choose")
    extra = {label: st.text_input(f"{label} (optional)") for label in config.extra_fields}
    if st.button("Continue", type="primary", disabled=not (age and gender)):
        volunteer = store.add_volunteer(age_band=age, gender=gender, extra={k: v for k, v in extra.items() if v},
                                        consent=flow["consent"])
        go("camera", volunteer_id=volunteer["volunteer_id"], withdrawal_code=volunteer["withdrawal_code"])


CAMERA_KEY = "camera"  # the component's key (streamlit-webrtc keeps its context under it in session_state)
CAMERA_BUTTONS = {"start": "Turn camera on", "stop": "Turn camera off"}


def session_camera() -> SessionCamera:
    return st.session_state.setdefault("session_camera", SessionCamera())


def camera_watchdog() -> CameraWatchdog:
    return st.session_state.setdefault("camera_watchdog", CameraWatchdog(config.camera_stall_s))


def camera_playing() -> bool:
    """Whether the camera component is sending (its context lives in session_state under its key)."""
    context = st.session_state.get(CAMERA_KEY)
    return bool(context is not None and context.state.playing)


def camera() -> None:
    """Render the visit's one camera component in the sidebar (so it keeps its place from the
    camera check to the last outfit), feeding :func:`session_camera`."""
    watchdog = camera_watchdog()  # it stops and starts a camera that delivers nothing (camera_watchdog.py)
    watchdog.observe(on=component_on(st.session_state.get(CAMERA_KEY)), frames=session_camera().count)
    forget_render_count(st.session_state.get(CAMERA_KEY))  # no false "orphaned" reset (webrtc_frontend.py)
    with st.sidebar:
        st.caption("Your camera. Recording happens only while an outfit is shown.")
        webrtc_streamer(
            key=CAMERA_KEY, mode=WebRtcMode.SENDONLY, rtc_configuration=rtc_configuration(),
            media_stream_constraints=MEDIA_CONSTRAINTS, sink_video_track=session_camera().sink,
            translations=CAMERA_BUTTONS, desired_playing_state=watchdog.desired_playing_state,
        )


def camera_stage() -> None:
    st.title("Camera check")
    st.write(f"Click **{CAMERA_BUTTONS['start']}** in the panel on the left and allow the camera. Sit so your "
             "whole face is visible, with light in front of you.")
    if flow.get("withdrawal_code"):
        st.info(("Welcome back. Your withdrawal code has changed; the old one no longer works. " if flow.get(
            "code_rotated") else "") + "Keep your withdrawal code: it is how you have your data deleted, or take "
                "part again. It is shown here and at the end, and never again.")
        st.code(flow["withdrawal_code"], language=None)
    check = session_camera()
    camera()

    # The start button lives in the fragment with the face check, and the fragment is the page's
    # last call: with 4 volunteers on 2 cores, a timer rerun of the fragment racing a full-app run
    # left the page without the elements rendered after the fragment (no start button, for good).
    @st.fragment(run_every=1.0)
    def face_status_and_start() -> None:
        watch(camera_watchdog(), st.session_state.get(CAMERA_KEY), check.count)
        if check.latest is None:
            st.info("Waiting for the camera…")
        else:
            from core.reaction.face_models import hog_detector

            if len(hog_detector()(check.latest, 0)):
                st.success("Your face is visible. You can start.")
            else:
                st.warning("No face found yet: move into the picture or add light.")
                # after packets were lost (a paused server, a bad network) the decoder shows damaged
                # pictures until the browser sends a key frame, and it sends one only when asked
                request_keyframe(st.session_state.get(CAMERA_KEY))
        if st.button("Start the session", type="primary"):
            start_session(check)

    face_status_and_start()


def start_session(check: SessionCamera) -> None:
    if check.latest is None:
        st.warning(f"Turn the camera on first ({CAMERA_BUTTONS['start']}, in the panel on the left).")
        return
    volunteer_id = flow["volunteer_id"]
    session_id, _ = start_planned_session(store, volunteer_id, n=config.outfits_per_session,
                                          seed=f"{volunteer_id}-{time.time_ns()}", research_mode=config.research_mode,
                                          device_info={"user_agent": st.context.headers.get("User-Agent", "")})
    if session_id is None:
        st.error("You have already rated every outfit in the catalog — thank you!")
        return
    key = new_resume_key(store, session_id)
    st.query_params.update(s=session_id, k=key)
    go("session", session_id=session_id, resume_key=key)


def _take(session_id: str, position: int) -> dict:
    key = f"{session_id}-{position}"
    if key not in takes:
        recorder = TakeRecorder(store.new_video_tempfile(), max_seconds=config.max_record_seconds,
                                size=config.video_size, fps=config.video_fps)
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

    st.progress(position / len(plan), text=f"{position + 1} / {len(plan)}")
    left, right = st.columns([3, 2])
    with left:
        a, b = st.columns(2)
        a.image(outfit["top_path"], caption="top", use_container_width=True)
        b.image(outfit["bottom_path"], caption="bottom", use_container_width=True)
    with right:
        if recorder.recording and not camera_on and not recorder.media_seconds:
            dropped = take.get("after_drop", False)
            st.warning(("The camera stopped during the recording. " if dropped else "Your camera is off: ") +
                       f"click **{CAMERA_BUTTONS['start']}** in the panel on the left. The recording of this "
                       "outfit starts " + ("again " if dropped else "") + "as soon as it runs.")
        slot = st.container()  # the recording status goes here, rendered last (see camera_stage)
        if not recorder.recording:
            with st.spinner("Saving the recording…"):
                recorder.wait(15)
            rating = st.slider("How much do you like this outfit?", 0, 100, 50, key=f"rating-{key}")
            if st.button("Confirm", type="primary", key=f"confirm-{key}"):
                status = recorder.status(config.min_record_seconds)
                video = recorder.path if status != "failed" and recorder.path.is_file() else None
                if video is None:
                    recorder.path.unlink(missing_ok=True)
                try:
                    store.commit_recording(session_id=session_id, outfit_id=outfit["outfit_id"], position=position,
                                           temp_video=video, rating=int(rating), status=status,
                                           shown_at=take["shown_at"], rated_at=utcnow(), video_meta=recorder.meta())
                except StoreError as err:
                    st.error(f"Could not save this answer: {err}")
                    return
                takes.pop(key, None)
                st.rerun()
    c1, c2 = st.columns(2)
    if c1.button("Skip this outfit", key=f"skip-{key}"):
        _discard(key)
        store.commit_recording(session_id=session_id, outfit_id=outfit["outfit_id"], position=position,
                               temp_video=None, rating=None, status="skipped", shown_at=take["shown_at"])
        st.rerun()
    if c2.button("Stop the session", key=f"stop-{key}"):
        _discard(key)
        store.finish_session(session_id, stopped_early=True)
        go("thanks")
    if recorder.recording:
        with slot:
            recording_status(recorder, cam, key)


@st.fragment(run_every=1.0)
def recording_status(recorder: TakeRecorder, cam: SessionCamera, key: str) -> None:
    """Seconds recorded and the "done" button; the whole page reruns when the take ends."""
    if not recorder.recording:
        st.rerun(scope="app")
    watch(camera_watchdog(), st.session_state.get(CAMERA_KEY), cam.count, store=store, session_id=flow["session_id"])
    seconds = recorder.media_seconds
    st.write(f"Recording… {seconds:.1f} s of {config.max_record_seconds:g} s" if seconds else "Starting the camera…")
    if st.button("Done looking", type="primary", key=f"done-{key}"):
        recorder.stop()
        cam.end_take()
        st.rerun(scope="app")


def thanks_stage() -> None:
    st.title("Thank you!")
    if flow.get("withdrawal_code"):  # only in the browser session that made (or rotated) it
        st.write("Your answers are saved. Keep this **withdrawal code** to have everything deleted later:")
        st.code(flow["withdrawal_code"], language=None)
        st.caption(f"Volunteer id: {flow.get('volunteer_id', '')}")
    else:
        st.write("Your answers are saved. Your withdrawal code was shown when you started; it is not shown again.")
    if st.button("Rate more outfits (new session)"):
        st.query_params.clear()
        go("camera", session_id=None, resume_key=None)


def finished_stage() -> None:
    """A finished session opened from its link: it says so and nothing else (no code, no id)."""
    st.title("This session is finished")
    st.write("Thank you! Its answers are saved. To take part again, start anew (with your withdrawal code, "
             "if you have one).")
    if st.button("Start again"):
        flow.clear()
        go("consent")


{"consent": consent_stage, "profile": profile_stage, "camera": camera_stage, "session": session_stage,
 "thanks": thanks_stage, "finished": finished_stage}[flow["stage"]]()
