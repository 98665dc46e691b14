"""Process-wide resources of the Streamlit server: the store (shared in turns with the CLI), the
media limits, and the back-off of password and withdrawal-code tries per client."""
from __future__ import annotations

import hmac
import os

import streamlit as st

from core.collection.config import CollectionConfig
from core.media_limits import MediaLimits, guard_pil
from core.settings import load_settings
from core.paths import DataHome
from core.store import Store
from core.throttle import BackOff, wait_message
from core.turn import LocalTurn, shared_secret


@st.cache_resource
def get_store() -> Store:
    """The server's read-write store; pages use it from their own threads (own cursors). It holds
    the file only while a page works on it, so the CLI can take its turn (core/store/lease.py)."""
    store = Store.open(DataHome.resolve(), timing=load_settings().store_timing())
    sweep = store.sweep(temp_grace_s=0)  # at start-up no take is being recorded yet
    if any(sweep[k] for k in ("orphan_files", "missing_files", "temp_files")):
        print(f"store sweep at start-up: {({k: len(v) for k, v in sweep.items()})}; "
              "run `python -m app init --quarantine` with the server stopped to move orphans aside")
    return store


@st.cache_resource
def get_config() -> CollectionConfig:
    return load_settings().collection()  # every IPE_* value checked: a bad one is one line


@st.cache_resource
def get_turn() -> tuple[LocalTurn, str] | None:
    """With ``IPE_TURN=local``: the TURN server and the secret it shares with it (``<home>/turn``)."""
    turn = load_settings().local_turn()
    return None if turn is None else (turn, shared_secret(DataHome.resolve().root / "turn"))


@st.cache_resource
def get_limits() -> MediaLimits:
    """Bounds on images the pages decode; PIL itself is told to refuse far larger ones."""
    limits = load_settings().media_limits()
    guard_pil(limits)
    return limits


@st.cache_resource
def sign_in_throttle() -> BackOff:
    """Wrong researcher passwords, per client (shared by every page with the sign-in)."""
    return BackOff()


@st.cache_resource
def code_throttle() -> BackOff:
    """Wrong withdrawal codes given by returning volunteers, per client."""
    return BackOff()


def client_key() -> str:
    """The client's address as the server sees it; local visitors (no address) share one key."""
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "localhost"


def researcher_password() -> str | None:
    """``$IPE_RESEARCHER_PASSWORD`` or Streamlit secrets ``researcher_password``; None when neither is set."""
    if os.environ.get("IPE_RESEARCHER_PASSWORD"):
        return os.environ["IPE_RESEARCHER_PASSWORD"]
    try:
        return st.secrets.get("researcher_password")
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        return None


def researcher_signed_in() -> bool:
    """The one researcher sign-in of the app (shared by every page that shows research data).

    Renders the refusal (no password configured) or the sign-in form and returns False until
    the right password was given in this browser session.
    """
    password = researcher_password()
    if not password:
        st.error("No researcher password is configured: set IPE_RESEARCHER_PASSWORD (scripts/run.sh makes one) "
                 "or `researcher_password` in .streamlit/secrets.toml, then restart the server.")
        return False
    if st.session_state.get("researcher_ok"):
        return True
    given = st.text_input("Password", type="password")
    if st.button("Sign in"):
        client, throttle = client_key(), sign_in_throttle()
        wait = throttle.wait_s(client)
        if wait > 0:  # refused unchecked: a right password now would tell a guesser it was right
            st.error(wait_message(wait))
            return False
        if hmac.compare_digest(given.encode(), password.encode()):
            throttle.succeeded(client)
            st.session_state["researcher_ok"] = True
            st.rerun()
        throttle.failed(client)
        st.error("Wrong password.")
    return False
