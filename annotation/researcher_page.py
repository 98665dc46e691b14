"""Researcher pages: progress, coverage, failed/short takes, export, deleting a volunteer.

Protected by a password from ``$IPE_RESEARCHER_PASSWORD`` or Streamlit secrets
(``researcher_password``); with neither configured the page refuses to open.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from annotation.resources import get_store, researcher_signed_in
from core.errors import IPEError

st.title("Researchers")
if not researcher_signed_in():
    st.stop()

store = get_store()
stats = store.stats()
c = st.columns(5)
c[0].metric("volunteers", stats["volunteers"])
c[1].metric("sessions", stats["sessions"], help=f"{stats['sessions_finished']} finished")
c[2].metric("rated views", stats["views_by_status"]["ok"])
c[3].metric("skipped", stats["views_by_status"]["skipped"])
c[4].metric("short / failed", stats["views_by_status"]["short"] + stats["views_by_status"]["failed"])
st.write("Classes from ratings (thresholds "
         f"≤{stats['thresholds']['negative_max']} negative, ≥{stats['thresholds']['positive_min']} positive):",
         stats["classes"])

st.subheader("Coverage per outfit (rated views)")
coverage = store.outfit_coverage()
if coverage:
    st.bar_chart(pd.DataFrame({"outfit": list(coverage), "views": list(coverage.values())}).set_index("outfit"))

st.subheader("Short and failed recordings")
bad = [v for v in store.list_views() if v["status"] in ("short", "failed")]
if not bad:
    st.write("None.")
for view in bad:
    with st.expander(f"{view['status']}: {view['view_id']} — volunteer {view['volunteer_id']}, outfit {view['outfit_id']}"):
        meta = view.get("video_meta") or {}
        st.json({k: meta.get(k) for k in ("frames", "duration_s", "source_fps", "source_width", "source_height", "error")})
        path = store.video_abspath(view)
        if path and path.is_file():
            st.video(str(path))

st.subheader("Camera restarts")
restarts, sessions = stats["camera_restarts"], stats["sessions_with_camera_restarts"]
st.write(f"The page reconnected a camera that sent no pictures {restarts} time{'s' * (restarts != 1)}, in {sessions} "
         f"session{'s' * (sessions != 1)} (each takes a few seconds; many in one session point at that volunteer's "
         "network or machine).")
restarted = store.camera_restarts_by_session()
if restarted:
    st.dataframe(pd.DataFrame(restarted), hide_index=True)

st.subheader("Export")
if st.button("Export the dataset"):
    from core.store.export import export_dataset
    from core.store import utcnow

    out = store.home.root / "exports" / utcnow().strftime("export-%Y%m%dT%H%M%S")
    out.parent.mkdir(exist_ok=True)
    try:
        st.success(f"Exported to {export_dataset(store, out, progress=False)}")
    except IPEError as err:
        st.error(str(err))

st.subheader("Delete a volunteer")
st.write("Removes the volunteer, their sessions, views, videos and features, and checks that nothing is left.")
target = st.text_input("Volunteer id or withdrawal code")
confirm = st.checkbox("I understand this cannot be undone")
if st.button("Delete", disabled=not (target and confirm)):
    try:
        report = store.delete_volunteer(target)
    except IPEError as err:
        st.error(str(err))
    else:
        st.success(f"Deleted {report['volunteer_id']}: {report['rows_deleted']} rows, "
                   f"{len(report['files_deleted'])} files; verified: {report['verified']}")
        st.write(report["files_deleted"])
