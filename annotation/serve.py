"""The collection app served with the browser-capture upload routes beside it (Streamlit's ASGI
``st.App``); ``scripts/run.sh`` starts this file: ``streamlit run annotation/serve.py``."""
import streamlit as st

from annotation.browser_recorder.routes import capture_routes

app = st.App("home.py", routes=capture_routes())
