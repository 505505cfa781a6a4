"""Policy Coach — Streamlit entry point: sign-in, then the pages the signed-in person may open."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st

from bot.training.roles import ROLE_LABELS
from bot.training.store import StoreUnavailable
from knowledge.settings import SettingsError
from ui import session
from ui.pages import pages_for
from ui.render import escape_md


def _sso_sign_in(store) -> None:
    """Match a single-sign-on user to the roster once per session."""
    from bot.training.accounts import sign_in_sso  # noqa: PLC0415

    email = session.sso_email()
    if not email or session.current_user() or st.session_state.get("sso_refused") == email:
        return
    result = sign_in_sso(store, email)
    if result.status == "ok":
        session.sign_in({**result.user, "sso": True})
    else:
        st.session_state["sso_refused"] = email
        st.session_state["sso_message"] = result.message


def _sidebar(user: dict) -> None:
    with st.sidebar:
        role = "Coordinator" if user.get("is_coordinator") else ROLE_LABELS.get(user.get("role"), user.get("role"))
        st.markdown(f"**{escape_md(user['name'])}**  \n{escape_md(role or '')}")
        if st.button("Sign out", key="sign-out", icon=":material/logout:"):
            sso = user.get("sso")
            session.sign_out()
            st.session_state["signin_error"] = None
            if sso:
                st.logout()
            st.rerun()


def _run() -> None:
    store = session.require_store()
    session.bootstrap(store)
    _sso_sign_in(store)
    session.restore_or_check(store)
    session.cookie_scripts()
    user = session.current_user()
    page = st.navigation(pages_for(user))
    if user:
        _sidebar(user)
    page.run()


def main() -> None:
    """Draw the app for whoever is signed in; a database failure at any point is a plain message."""
    st.set_page_config(page_title="Policy Coach", page_icon="📘", layout="wide")
    try:
        _run()
    except StoreUnavailable:
        st.error(session.DB_DOWN, icon=":material/cloud_off:")
    except SettingsError as exc:
        st.error(f"{exc}. Please tell whoever runs the server.", icon=":material/settings:")


main()
