"""Who is signed in, the database store, and the coordinator bootstrap, for every page."""
from __future__ import annotations

import logging
import os

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from bot.store import Store, StoreUnavailable, get_store
from knowledge.settings import get_settings

log = logging.getLogger(__name__)
DB_DOWN = ("The training records database isn't available right now, so you can't sign in or see records. "
           "Please try again in a few minutes; if it keeps happening, tell your coordinator or IT support.")
_bootstrapped: set[tuple[str, str, str]] = set()


def current_user() -> dict | None:
    """The signed-in identity (sender_id, name, email, role, is_coordinator), or None."""
    return st.session_state.get("user")


def sign_in(user: dict) -> None:
    """Remember who signed in; a different person starts a fresh chat."""
    old = st.session_state.get("user")
    if old and old.get("sender_id") != user.get("sender_id"):
        st.session_state.pop("history", None)
    st.session_state["user"] = dict(user)
    st.session_state.pop("pending", None)


def sign_out() -> None:
    """Forget the signed-in identity and everything shown to it."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def store_or_none() -> Store | None:
    """The database store, or None (after showing a clear message) when the database is down."""
    try:
        return get_store(get_settings().database_url)
    except (StoreUnavailable, SQLAlchemyError, OSError) as exc:
        log.warning("database unavailable: %s", exc)
        st.error(DB_DOWN, icon=":material/cloud_off:")
        return None


def require_store() -> Store:
    """The database store; stops the page with a clear message when the database is down."""
    store = store_or_none()
    if store is None:
        st.button("Try again", key="db-retry")
        st.stop()
    return store


def _secret(name: str) -> str:
    try:
        value = st.secrets.get(name)
    except Exception:  # noqa: BLE001 - no secrets file is fine
        return ""
    return str(value or "")


def bootstrap(store: Store) -> None:
    """Create the first coordinator from COORDINATOR_EMAIL / COORDINATOR_PASSWORD (env, then st.secrets), once."""
    from bot.auth import bootstrap_coordinator  # noqa: PLC0415

    secrets = {k: _secret(k) for k in ("COORDINATOR_EMAIL", "COORDINATOR_PASSWORD")}
    env = {k: os.environ.get(k, "") for k in secrets}
    email = env["COORDINATOR_EMAIL"] or secrets["COORDINATOR_EMAIL"]
    password = env["COORDINATOR_PASSWORD"] or secrets["COORDINATOR_PASSWORD"]
    key = (store.url, email, str(hash(password)))
    if key in _bootstrapped or not email:
        return
    try:
        bootstrap_coordinator(store, env, secrets)
    except ValueError as exc:
        st.warning(f"The coordinator account from COORDINATOR_EMAIL / COORDINATOR_PASSWORD wasn't created: {exc}")
        return
    _bootstrapped.add(key)


def sso_configured() -> bool:
    """Whether the school configured single sign-on ([auth] in secrets)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file
        return False


def sso_email() -> str | None:
    """The email of a user signed in through single sign-on, if any."""
    if not sso_configured():
        return None
    try:
        if not st.user.get("is_logged_in"):
            return None
        return st.user.get("email")
    except Exception:  # noqa: BLE001
        return None


def require_user() -> dict:
    """The signed-in staff member or coordinator; stops the page for anyone else."""
    user = current_user()
    if not user:
        st.warning("Please sign in first.")
        st.stop()
    return user


def require_coordinator(store: Store) -> dict:
    """The signed-in coordinator (re-checked in the database); stops the page for anyone else."""
    from bot.auth import is_coordinator  # noqa: PLC0415

    user = current_user()
    if not user or not user.get("is_coordinator") or not is_coordinator(store, user["sender_id"]):
        st.error("This page is for the training coordinator only.", icon=":material/lock:")
        st.stop()
    return user
