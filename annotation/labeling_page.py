"""Labeling images as preferred / not preferred (the paper's protocol).

A labeler signs in by name or id, picks an image set (the catalog's items, Fashion-MNIST, or
a folder a researcher registered) and answers one image at a time with the keyboard or the buttons; subgroups end with
an enforced break; a few images come again (gold) to measure self-consistency. Response times
are measured in the browser (annotation/keyboard_labeler): from the painted image to the key
press. The session logic is core/labeling/session.py; this file only wires it to Streamlit.
Researchers (password as on the researcher page) see per-labeler results and register image
folders by name: a folder must lie inside the data home (resolved, symlinks followed; files
linking outside it are left out), so a visitor can only ever pick a name, never a path.
"""
from __future__ import annotations

import base64
import dataclasses
import io
import time

import pandas as pd
import streamlit as st
from PIL import Image

from annotation.keyboard_labeler import keyboard_labeler
from annotation.resources import get_limits, get_store, researcher_signed_in
from core.settings import load_settings
from core.errors import IPEError
from core.media_limits import open_image
from core.store.access import image_folder_path, image_folders, register_image_folder, remove_image_folder
from core.labeling.results import labeling_summary
from core.labeling.session import (
    ANSWERS, LabelingConfig, LabelingError, LabelingSession, fashion_mnist_index, images_from_fashion_mnist, images_from_folder, images_from_items, persist_answer, persist_undo, rows_for_set,
)

MAX_SIDE = 1600  # larger images are downscaled for the browser (the stored path keeps the original)
SETS = {"Catalog: all items": "catalog:all", "Catalog: tops": "catalog:top", "Catalog: bottoms": "catalog:bottom",
        "Fashion-MNIST (the paper's source domain)": "fashion-mnist"}
FOLDER_PREFIX = "Folder: "  # then the name a researcher registered
FASHION_DEFAULT_COUNT = 1000  # images per labeler when no limit is given


@st.cache_resource(show_spinner="Loading Fashion-MNIST…")
def fashion_mnist(split: str):
    from core.labeling.fashion_mnist import load_fashion_mnist

    return load_fashion_mnist(split)


@st.cache_data(max_entries=512, show_spinner=False)
def image_data_url(path: str, sha256: str) -> str:
    """The image as a data: URL (cached by content hash), downscaled to MAX_SIDE; a file's pixel
    count is checked from its header before it is decoded."""
    fashion = fashion_mnist_index(path)
    with (Image.fromarray(fashion_mnist(fashion[0]).images[fashion[1]]) if fashion
          else open_image(path, get_limits())) as im:
        im.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG decodes straight to a smaller scale
        im.load()
        fmt = "PNG" if im.mode in ("RGBA", "LA", "P", "L") or im.format == "PNG" else "JPEG"
        if max(im.size) > MAX_SIDE:
            im.thumbnail((MAX_SIDE, MAX_SIDE))
        if fmt == "JPEG" and im.mode != "RGB":
            im = im.convert("RGB")
        buf = io.BytesIO()
        im.save(buf, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buf.getvalue()).decode()}"


def set_choices() -> dict[str, str]:
    """Label -> set key: the fixed sets, then every registered folder (``folder:<name>``)."""
    return {**SETS, **{f"{FOLDER_PREFIX}{name}": f"folder:{name}" for name in image_folders(get_store())}}


def load_images(set_key: str, config: LabelingConfig):
    store = get_store()
    if set_key == "fashion-mnist":
        count = config.max_images or FASHION_DEFAULT_COUNT
        return (images_from_fashion_mnist("train", count=count, seed=config.seed),
                f"fashion-mnist:train:{count}:seed{config.seed}")
    if set_key.startswith("catalog:"):
        kind = set_key.split(":", 1)[1]
        items = store.list_items(None if kind == "all" else kind)
        if not items:
            raise LabelingError("the catalog is empty: import one first (`python -m app import-catalog ...`)")
        return images_from_items(items), set_key
    if not set_key.startswith("folder:"):
        raise LabelingError(f"unknown image set {set_key!r}")
    root = image_folder_path(store, set_key.split(":", 1)[1])  # checked inside the data home again
    return images_from_folder(root), f"folder:{root}"


def start_session(name: str, set_key: str, max_images: int, ask_region: bool) -> None:
    store = get_store()
    config = load_settings().labeling()
    if max_images:
        config = dataclasses.replace(config, max_images=max_images)
    images, image_set = load_images(set_key, config)
    labeler_id = store.add_labeler(name)
    session = LabelingSession.start(images, config, labeler_id=labeler_id, image_set=image_set)
    session.restore(rows_for_set(store.list_image_labels(labeler_id), image_set))
    st.session_state.update(lab_session=session, lab_name=name, lab_seq=0, lab_region=ask_region, lab_message="")


def on_event() -> None:
    """The component sent an answer, undo or resume (runs before the script reruns)."""
    event = st.session_state.get("lab_widget")
    session: LabelingSession | None = st.session_state.get("lab_session")
    if not event or session is None or event.get("seq") != st.session_state.get("lab_seq"):
        return  # stale or repeated event
    st.session_state["lab_seq"] += 1  # every event gets a fresh screen, accepted or not
    st.session_state["lab_message"] = ""
    now = time.monotonic()
    action = event.get("action")
    try:
        if action in ANSWERS:
            region = event.get("region_xy")
            record = session.answer(action, now, response_ms=event.get("response_ms"),
                                    region_xy=tuple(region) if region else None)
            try:
                persist_answer(get_store(), session, record)
            except IPEError:
                session.retract(record)
                raise
        elif action == "undo":
            record = session.undo(now)
            try:
                persist_undo(get_store(), record)
            except IPEError:
                session.answers.append(record)  # not undone in the store: keep it here too
                raise
            st.session_state["lab_message"] = f"Undone: {record.answer.replace('_', ' ')} on image {record.position + 1}."
        elif action == "resume":
            session.resume(now)
    except IPEError as err:
        st.session_state["lab_message"] = str(err)


def sign_in() -> None:
    st.title("Label images")
    st.write("Answer quickly and by feeling: is this an image you like? Keys: **→ or A** preferred, "
             "**← or X** not preferred, **S** skip, **U** or **Backspace** undo. Short breaks come between groups.")
    sets = set_choices()
    with st.form("lab_start"):
        name = st.text_input("Your name or labeler id")
        choice = st.radio("Image set", list(sets))
        max_images = st.number_input("Label at most this many images (0 = all; Fashion-MNIST: "
                                     f"{FASHION_DEFAULT_COUNT})", min_value=0, value=0, step=10)
        ask_region = st.checkbox("After each answer, click the part of the image that decided it")
        if st.form_submit_button("Start labeling"):
            if not name.strip():
                st.error("Enter your name or labeler id.")
                return
            try:
                start_session(name.strip(), sets[choice], int(max_images), ask_region)
            except IPEError as err:
                st.error(str(err))
                return
            st.rerun()


def labeling(session: LabelingSession) -> None:
    now = time.monotonic()
    state = session.state(now)
    cols = st.columns([4, 1])
    cols[0].progress(session.progress(), text=f"{st.session_state['lab_name']}: {session.position} of "
                     f"{session.total} · group {min(session.subgroup_of(session.position), session.subgroup_count - 1) + 1}"
                     f" of {session.subgroup_count}")
    if cols[1].button("Sign out"):
        for key in ("lab_session", "lab_name", "lab_seq", "lab_widget"):
            st.session_state.pop(key, None)
        st.rerun()
    ask_region = st.sidebar.checkbox("Click the decisive region after each answer", key="lab_region",
                                     help="After preferred / not preferred, click the part of the image that "
                                          "decided it (Enter: none). The response time is still taken at the answer.")
    args = dict(mode=state, seq=st.session_state["lab_seq"], can_undo=session.can_undo(),
                message=st.session_state.get("lab_message", ""), ask_region=ask_region)
    if state == "labeling":
        entry = session.show(now)  # server-side fallback clock; the browser's measurement is stored
        args.update(image=image_data_url(entry.image.path, entry.image.sha256), caption=entry.image.image_id)
    elif state == "break":
        args.update(remaining_s=session.break_remaining_s(now))
    keyboard_labeler(key="lab_widget", on_change=on_event, **args)


def results() -> None:
    st.title("Labeling results")
    if not researcher_signed_in():  # the same sign-in as the researcher page
        return
    store = get_store()
    image_folder_admin(store)
    st.subheader("Answers")
    rows = store.list_image_labels()
    if not rows:
        st.write("No answers yet.")
        return
    names = {r["labeler_id"]: r["name"] for r in store.list_labelers()}
    summary = pd.DataFrame(labeling_summary(rows))
    summary.insert(1, "name", summary["labeler_id"].map(names))
    c = st.columns(4)
    c[0].metric("labelers", summary["labeler_id"].nunique())
    c[1].metric("answers", int(summary["answers"].sum()))
    c[2].metric("slow share (> threshold)", f"{(summary['slow'].sum() / summary['answers'].sum()):.0%}")
    pairs, agree = int(summary["gold_pairs"].sum()), int(summary["gold_agree"].sum())
    c[3].metric("self-consistency on gold", f"{agree / pairs:.0%}" if pairs else "—", help=f"{agree} of {pairs} repeats")
    st.dataframe(summary, hide_index=True)
    table = pd.DataFrame(rows).drop(columns=["region_xy"], errors="ignore")
    st.download_button("Download all answers (CSV)", table.to_csv(index=False), "image_labels.csv", "text/csv")


def image_folder_admin(store) -> None:
    """Register the folders labelers may pick (researchers only; paths never reach labelers)."""
    st.subheader("Image folders for labeling")
    st.caption(f"Folders inside the data home ({store.home.root}); labelers see only their names.")
    folders = image_folders(store)
    if folders:
        st.dataframe(pd.DataFrame({"name": list(folders), "folder": list(folders.values())}), hide_index=True)
    with st.form("lab_folder"):
        name = st.text_input("Name labelers will see")
        folder = st.text_input("Folder (inside the data home, absolute or relative to it)", placeholder="images/shoes")
        if st.form_submit_button("Register folder"):
            try:
                path = register_image_folder(store, name, folder)
                st.success(f"Registered {name.strip()!r}: {path}")
            except IPEError as err:
                st.error(str(err))
    if folders:
        gone = st.selectbox("Remove a folder from the list", list(folders), index=None, placeholder="choose")
        if st.button("Remove", disabled=gone is None):
            remove_image_folder(store, gone)
            st.rerun()


view = st.sidebar.radio("Labeling", ["Label images", "Results (researchers)"], key="lab_view")
if view == "Label images":
    if st.session_state.get("lab_session") is None:
        sign_in()
    else:
        labeling(st.session_state["lab_session"])
else:
    results()
