"""The volunteer page's camera and outfit stages when takes are recorded in the browser
(``IPE_CAPTURE=browser``; ``annotation/volunteer_page.py`` calls these instead of its WebRTC ones).

Each outfit opens one upload slot (``core/collection/take_upload.py``) whose token the camera
component records into. "Done looking" (or the 10 s cut in the browser) ends the take and the
rating is asked at once: the page never waits for the upload's end or the normalisation. The
rating is kept with the slot and the server's worker commits take + rating with the live path's
atomic store call once the file is normalised; until then the slot counts as answered, so the
page moves on and a refresh resumes at the first outfit that is neither committed nor pending.
"""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from annotation.browser_recorder.component import browser_recorder
from annotation.browser_recorder.service import CaptureService, capture_service
from annotation.outfit_view import show_outfit
from annotation.rating import forget, rating_input
from annotation.resources import get_limits
from core.collection.take_upload import UploadError
from core.store import utcnow

CAMERA_KEY = "browser_camera"
CAMERA_PROBLEMS = ("insecure", "denied", "unavailable")  # their messages: camera.problem_* in the catalogue


class BrowserCamera:
    """The visit's camera as the face check sees it: the last preview the browser sent."""

    def __init__(self, service: CaptureService) -> None:
        self.service = service
        self.visit = service.new_visit()
        self.value: dict[str, Any] = {}

    @property
    def latest(self):
        return self.service.preview(self.visit)

    @property
    def state(self) -> str | None:
        return (self.value.get("camera") or {}).get("state")


def service(store: Any, config: Any) -> CaptureService:
    return capture_service(store, config, get_limits())


def browser_camera(store: Any, config: Any, t: Callable[..., str], *, take: str | None = None,
                   stop_take: str | None = None, preview: bool = False) -> BrowserCamera:
    """Render the visit's camera component as the run's first element (the same component for the
    whole visit; ``annotation/volunteer_page.py`` says why it comes first). The volunteer sees their
    own picture outside takes, and during an outfit's take only when the study sets ``IPE_SELF_VIEW``."""
    cam: BrowserCamera = st.session_state.setdefault("browser_camera_state", BrowserCamera(service(store, config)))
    with st.container(key="camera-panel"):
        st.caption(t("camera.panel"))
        value = browser_recorder(key=CAMERA_KEY, visit=cam.visit, take=take, stop_take=stop_take, preview=preview,
                                 max_seconds=config.max_record_seconds, show_video=take is None or config.self_view)
    cam.value = value or {}
    if cam.state in CAMERA_PROBLEMS:
        st.error(t(f"camera.problem_{cam.state}"))
    return cam


def _next_position(store: Any, uploads: Any, session_id: str, n: int) -> int:
    # pending slots first: the worker deletes a slot only after its view is committed
    answered = {s.position for s in uploads.pending(session_id)}
    answered |= {v["position"] for v in store.views_for_session(session_id)}
    return next((i for i in range(n) if i not in answered), n)


def saving_stage(store: Any, config: Any, t: Callable[..., str], session_id: str) -> None:
    """Every outfit is rated but a take's upload is still running: the camera component (which does
    the uploading) stays on the page until the server has every file."""
    browser_camera(store, config, t)
    st.title(t("saving.title"))
    st.write(t("saving.keep_open"))
    uploads = service(store, config).uploads

    @st.fragment(run_every=1.0)
    def wait() -> None:
        if not any(slot.state == "recording" for slot in uploads.pending(session_id)):
            st.rerun(scope="app")

    wait()


def browser_session_stage(store: Any, config: Any, t: Callable[..., str], flow: dict,
                          go: Callable[..., None]) -> None:
    session_id = flow["session_id"]
    plan = store.get_session(session_id)["plan"]
    uploads = service(store, config).uploads
    position = _next_position(store, uploads, session_id, len(plan))
    if position >= len(plan):
        if any(slot.state == "recording" for slot in uploads.pending(session_id)):
            return saving_stage(store, config, t, session_id)
        store.finish_session(session_id)
        go("thanks")
    outfit = next(o for o in store.list_outfits() if o["outfit_id"] == plan[position])
    takes: dict = st.session_state.setdefault("browser_takes", {})
    key = f"{session_id}-{position}"
    take = takes.get(key)
    if take is None:
        shown_at = utcnow()
        token = uploads.open(session_id=session_id, position=position, outfit_id=outfit["outfit_id"],
                             shown_at=shown_at.isoformat())
        take = takes[key] = {"token": token, "shown_at": shown_at, "stopped": False}
    cam = browser_camera(store, config, t, take=take["token"], stop_take=take["token"] if take["stopped"] else None)
    if cam.value.get("take") == take["token"]:
        state = cam.value.get("take_state")
        if state in ("lost", "failed"):  # the recording died (refresh, refused upload): record this outfit again
            uploads.discard(take["token"])
            takes.pop(key, None)
            st.rerun()
        take["stopped"] = take["stopped"] or state == "stopped"

    if st.session_state.pop("browser_take_lost", False):
        st.warning(t("outfit.upload_lost"))
    right = show_outfit(t, outfit, position, len(plan))
    with right:
        if not take["stopped"]:
            st.caption(t("outfit.recording_browser", limit=config.max_record_seconds))
            if st.button(t("outfit.done"), key=f"done-{key}"):
                take["stopped"] = True
                st.rerun()
        else:
            rating, touched_at = rating_input(f"rating-{key}", t("outfit.question"), t("outfit.not_set"))
            if rating is None:
                st.caption(t("outfit.set_it"))
            if st.button(t("outfit.confirm"), type="primary", key=f"confirm-{key}", disabled=rating is None):
                takes.pop(key, None)
                forget(f"rating-{key}")
                try:
                    uploads.rate(take["token"], int(rating), utcnow().isoformat(),
                                 touched_at=touched_at.isoformat() if touched_at else None)
                except UploadError:  # its upload never finished and was given up: this outfit is shown again
                    st.session_state["browser_take_lost"] = True
                service(store, config).worker.poke()
                st.rerun()
        c1, c2 = st.columns(2)
    if c1.button(t("outfit.skip"), key=f"skip-{key}"):
        uploads.discard(take["token"])
        takes.pop(key, None)
        forget(f"rating-{key}")
        store.commit_recording(session_id=session_id, outfit_id=outfit["outfit_id"], position=position,
                               temp_video=None, rating=None, status="skipped", shown_at=take["shown_at"])
        st.rerun()
    if c2.button(t("outfit.stop"), key=f"stop-{key}"):
        uploads.discard(take["token"])
        store.finish_session(session_id, stopped_early=True)
        go("thanks")
