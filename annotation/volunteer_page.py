"""The volunteer flow: consent -> profile -> camera check -> outfits (record + rate) -> thanks.

State lives in ``st.session_state["flow"]``; the session id is also put in the URL
(``?s=...``), so a refresh or a reconnect resumes at the first outfit without a stored
view. Nothing touches the camera before consent. Each take is recorded by a
``core.recorder.TakeRecorder`` fed by a WebRTC sink (SENDONLY) and committed with its
rating in one atomic store call, idempotent per (session, position).
"""
from __future__ import annotations

import time

import streamlit as st
from streamlit_webrtc import VideoSinkTrack, WebRtcMode, webrtc_streamer

from annotation.resources import get_config, get_store
from annotation.webrtc_config import MEDIA_CONSTRAINTS, apply_bitrate_hints, rtc_configuration
from core.consent import CHOICES, CONSENT_VERSION, consent_text
from core.errors import StoreError
from core.recorder import TakeRecorder
from core.session_plan import plan_for_volunteer
from core.store import utcnow

apply_bitrate_hints()
store = get_store()
config = get_config()
flow: dict = st.session_state.setdefault("flow", {"stage": "consent"})
takes: dict = st.session_state.setdefault("takes", {})


def go(stage: str, **extra) -> None:
    flow.update(stage=stage, **extra)
    st.rerun()


# --------------------------------------------------------------------------- resume from the URL
url_session = st.query_params.get("s")
if url_session and flow.get("session_id") != url_session:
    session = store.get_session(url_session)
    if session is None:
        st.query_params.clear()
    else:
        volunteer = store.get_volunteer(session["volunteer_id"])
        flow.update(session_id=url_session, volunteer_id=session["volunteer_id"],
                    withdrawal_code=volunteer["withdrawal_code"] if volunteer else "",
                    stage="thanks" if session["finished_at"] else "session")


# --------------------------------------------------------------------------- stages
def consent_stage() -> None:
    st.title("Thank you for helping with this study")
    st.markdown(consent_text(config.max_record_seconds, config.retention))
    st.caption(f"Consent text version {CONSENT_VERSION}")
    choices = {key: st.checkbox(label, key=f"consent_{key}") for key, label in CHOICES.items()}
    returning = st.text_input("Taken part before? Your volunteer id or withdrawal code (optional)", key="returning")
    if st.button("I agree — continue", type="primary", disabled=not choices["recording"]):
        consent = {"version": CONSENT_VERSION, "accepted_at": utcnow(), **choices}
        if returning.strip():
            volunteer = store.find_volunteer(returning)
            if volunteer is None:
                st.error("No volunteer with that id or code. Check it, or leave the field empty to start as new.")
                return
            go("camera", volunteer_id=volunteer["volunteer_id"], withdrawal_code=volunteer["withdrawal_code"],
               consent=consent)
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


class FaceCheck:
    """Keeps the newest camera frame (every 10th) for the face-visible check in the UI thread."""

    def __init__(self) -> None:
        self.count = 0
        self.latest = None

    def on_frame(self, frame) -> None:
        self.count += 1
        if self.count % 10 == 1:
            self.latest = frame.to_ndarray(format="rgb24")


def camera_stage() -> None:
    st.title("Camera check")
    st.write("Allow the camera, sit so your whole face is visible, with light in front of you.")
    check: FaceCheck = st.session_state.setdefault("face_check", FaceCheck())
    webrtc_streamer(
        key="camera-check", mode=WebRtcMode.SENDONLY, rtc_configuration=rtc_configuration(),
        media_stream_constraints=MEDIA_CONSTRAINTS, sink_video_track=st.session_state.setdefault(
            "face_check_sink", VideoSinkTrack(check.on_frame)),
        desired_playing_state=True,
    )

    @st.fragment(run_every=1.0)
    def face_status() -> None:
        if check.latest is None:
            st.info("Waiting for the camera…")
            return
        from core.face_models import hog_detector

        faces = hog_detector()(check.latest, 0)
        if len(faces):
            st.success("Your face is visible. You can start.")
        else:
            st.warning("No face found yet: move into the picture or add light.")

    face_status()
    if st.button("Start the session", type="primary"):
        volunteer_id = flow["volunteer_id"]
        plan, mode = plan_for_volunteer(store, volunteer_id, n=config.outfits_per_session,
                                        seed=f"{volunteer_id}-{time.time_ns()}", research_mode=config.research_mode)
        if not plan:
            st.error("You have already rated every outfit in the catalog — thank you!")
            return
        session_id = store.start_session(volunteer_id, plan=plan, research_mode=mode,
                                         device_info={"user_agent": st.context.headers.get("User-Agent", "")})
        st.query_params["s"] = session_id
        st.session_state.pop("face_check", None)
        st.session_state.pop("face_check_sink", None)
        go("session", session_id=session_id)


def _take(session_id: str, position: int) -> dict:
    key = f"{session_id}-{position}"
    if key not in takes:
        recorder = TakeRecorder(store.new_video_tempfile(), max_seconds=config.max_record_seconds,
                                size=config.video_size, fps=config.video_fps)
        takes[key] = {"recorder": recorder, "sink": VideoSinkTrack(recorder.on_frame), "shown_at": utcnow()}
    return takes[key]


def _discard(key: str) -> None:
    take = takes.pop(key, None)
    if take:
        take["recorder"].stop()
        take["recorder"].wait(10)
        take["recorder"].path.unlink(missing_ok=True)


def session_stage() -> None:
    session_id = flow["session_id"]
    session = store.get_session(session_id)
    plan = session["plan"]
    position = len(store.views_for_session(session_id))
    if position >= len(plan):
        store.finish_session(session_id)
        go("thanks")
    outfit = next(o for o in store.list_outfits() if o["outfit_id"] == plan[position])
    key = f"{session_id}-{position}"
    take = _take(session_id, position)
    recorder: TakeRecorder = take["recorder"]

    st.progress(position / len(plan), text=f"{position + 1} / {len(plan)}")
    left, right = st.columns([3, 2])
    with left:
        a, b = st.columns(2)
        a.image(outfit["top_path"], caption="top", use_container_width=True)
        b.image(outfit["bottom_path"], caption="bottom", use_container_width=True)
    with right:
        webrtc_streamer(
            key=f"rec-{key}", mode=WebRtcMode.SENDONLY, rtc_configuration=rtc_configuration(),
            media_stream_constraints=MEDIA_CONSTRAINTS, sink_video_track=take["sink"],
            desired_playing_state=recorder.recording,
        )
        if recorder.recording:
            @st.fragment(run_every=0.5)
            def progress() -> None:
                if not recorder.recording:
                    st.rerun(scope="app")
                seconds = recorder.media_seconds
                st.write(f"Recording… {seconds:.1f} s of {config.max_record_seconds:g} s" if seconds
                         else "Starting the camera…")

            progress()
            if st.button("Done looking", type="primary", key=f"done-{key}"):
                recorder.stop()
                st.rerun()
        else:
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


def thanks_stage() -> None:
    st.title("Thank you!")
    st.write("Your answers are saved. Keep this **withdrawal code** to have everything deleted later:")
    st.code(flow.get("withdrawal_code", ""), language=None)
    st.caption(f"Volunteer id: {flow.get('volunteer_id', '')}")
    if st.button("Rate more outfits (new session)"):
        st.query_params.clear()
        go("camera", session_id=None)


{"consent": consent_stage, "profile": profile_stage, "camera": camera_stage, "session": session_stage,
 "thanks": thanks_stage}[flow["stage"]]()
