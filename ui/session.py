"""Who is signed in, the database store, and the coordinator bootstrap, for every page."""
from __future__ import annotations

import logging
import time

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from bot.training.store import Store, StoreUnavailable, get_store
from knowledge.settings import get_settings

log = logging.getLogger(__name__)
DB_DOWN = ("The training records database isn't available right now, so you can't sign in or see records. "
           "Please try again in a few minutes; if it keeps happening, tell your coordinator or IT support.")
_bootstrapped: set[tuple[str, str, str]] = set()


def current_user() -> dict | None:
    """The signed-in identity (sender_id, name, email, role, is_coordinator), or None."""
    return st.session_state.get("user")


def sign_in(user: dict, *, remember: bool = True) -> None:
    """Remember who signed in (and, with remember, set the sign-in cookie); a different person starts afresh."""
    from ui import cookies  # noqa: PLC0415

    old = st.session_state.get("user")
    if old and old.get("sender_id") != user.get("sender_id"):
        st.session_state.pop("history", None)
    st.session_state["user"] = dict(user)
    st.session_state["last_seen"] = time.monotonic()
    st.session_state.pop("pending", None)
    st.session_state.pop("signed_out", None)
    if remember:
        st.session_state["cookie_ticket"] = cookies.issue_ticket(
            cookies.make_cookie(user["sender_id"], user.get("generation", 0)))


def sign_out(reason: str | None = None) -> None:
    """Forget the signed-in identity and everything shown to it, and clear the sign-in cookie."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    # st.context.cookies still holds the cookie this tab opened with: never restore from it again here.
    st.session_state["signed_out"] = True
    st.session_state["clear_cookie"] = True
    if reason:
        st.session_state["signin_error"] = reason


def cookie_scripts() -> None:
    """Run the pending cookie exchange or clearing in the browser (see ui/cookies.py)."""
    from ui import cookies  # noqa: PLC0415

    ticket = st.session_state.pop("cookie_ticket", None)
    if ticket:
        st.html(cookies.set_cookie_script(ticket), unsafe_allow_javascript=True)
    if st.session_state.pop("clear_cookie", False):
        st.html(cookies.clear_cookie_script(), unsafe_allow_javascript=True)


def restore_or_check(store: Store) -> None:
    """Sign in from a genuine, unexpired cookie after a reload; end a session that was reset, removed or idle."""
    from bot.training import accounts  # noqa: PLC0415
    from ui import cookies  # noqa: PLC0415

    user = current_user()
    if user is None:
        if st.session_state.get("signed_out"):
            return
        try:
            found = cookies.read_cookie(st.context.cookies.get(cookies.COOKIE))
        except Exception:  # noqa: BLE001 - no cookies outside a browser (AppTest)
            found = None
        if found:
            resumed = accounts.resume_session(store, *found)
            if resumed:
                sign_in(resumed, remember=False)
        return
    now = time.monotonic()
    if now - st.session_state.get("last_seen", now) > cookies.idle_seconds():
        sign_out("You were signed out after a period of inactivity. Please sign in again.")
        return
    if not user.get("sso") and not accounts.session_valid(store, user["sender_id"], user.get("generation", 0)):
        sign_out("Your sign-in has ended because your account was changed. Please sign in again.")
        return
    st.session_state["last_seen"] = now


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
    from bot.training.accounts import bootstrap_coordinator  # noqa: PLC0415

    secrets = {k: _secret(k) for k in ("COORDINATOR_EMAIL", "COORDINATOR_PASSWORD")}
    settings = get_settings()
    password_setting = settings.coordinator_password
    env = {"COORDINATOR_EMAIL": settings.coordinator_email or "",
           "COORDINATOR_PASSWORD": password_setting.get_secret_value() if password_setting else ""}
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


def _sign_in_here() -> None:
    """Show the sign-in form on this page: after signing in the same page (and its ?query) opens."""
    from ui.views import signin  # noqa: PLC0415

    signin.render()
    st.stop()


def require_user() -> dict:
    """The signed-in staff member or coordinator; anyone else gets the sign-in form on this page."""
    user = current_user()
    if not user:
        _sign_in_here()
    return user


def require_coordinator(store: Store) -> dict:
    """The signed-in coordinator (re-checked in the database); stops the page for anyone else."""
    from bot.training.accounts import is_coordinator  # noqa: PLC0415

    user = current_user()
    if not user:
        _sign_in_here()
    if not user.get("is_coordinator") or not is_coordinator(store, user["sender_id"]):
        st.title("Coordinator page")
        st.info("This page is for the training coordinator. You're still signed in: use the menu to carry on "
                "with your own training.", icon=":material/lock:")
        st.stop()
    return user
