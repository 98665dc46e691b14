"""The collection app served with the browser-capture upload routes beside it (Streamlit's ASGI
``st.App``); ``scripts/run.sh`` starts this file: ``streamlit run annotation/serve.py``.

With ``IPE_CAPTURE=browser`` the capture service starts with the server, so takes uploaded and
rated before a restart are normalised and committed without waiting for a visitor."""
from contextlib import asynccontextmanager

import streamlit as st

from annotation.browser_recorder.routes import capture_routes


@asynccontextmanager
async def _lifespan(_app):
    from annotation.resources import get_config, get_limits, get_store
    from annotation.browser_recorder.service import capture_service

    if get_config().capture == "browser":
        capture_service(get_store(), get_config(), get_limits())
    yield


app = st.App("home.py", routes=capture_routes(), lifespan=_lifespan)
