"""Sign-in: staff by name, school email and password (set on first use); coordinators; optional school SSO."""
from __future__ import annotations

import streamlit as st

from bot.training import accounts
from ui import session
from ui.render import escape_md


def _finish(result: accounts.SignIn) -> None:
    if result.status == "ok":
        session.sign_in(result.user)
        st.rerun()
    st.session_state["signin_error"] = result.message


def _first_sign_in(store) -> None:
    st.caption("First time here? Your coordinator gives you a one-time code. Enter it with your name and school "
               f"email, and choose a password (at least {accounts.MIN_PASSWORD_LENGTH} characters and hard to guess: a "
               "few unrelated words work well). It is stored only as a secure hash.")
    with st.form("first-sign-in"):
        name = st.text_input("Your name (as on the staff list)", key="claim-name")
        email = st.text_input("School email", key="claim-email")
        code = st.text_input("One-time code", key="claim-code", placeholder="ABCD-EFGH-JKMN")
        password = st.text_input("Choose a password", type="password", key="new-password")
        confirm = st.text_input("Type it again", type="password", key="confirm-password")
        if st.form_submit_button("Set password and sign in", type="primary"):
            _finish(accounts.claim_account(store, name, email, code, password, confirm))
            st.rerun()


def _sso() -> None:
    if not session.sso_configured():
        return
    if st.button("Sign in with your school account", key="sso-login", icon=":material/key:", type="primary"):
        st.login()
    message = st.session_state.get("sso_message")
    if message:
        st.error(escape_md(message))
    st.caption("or sign in with your name and email below")


def render() -> None:
    """Draw the sign-in page."""
    store = session.require_store()
    st.title("Policy Coach")
    st.caption("Ask the school's policies in your own words, practise with scenario quizzes, and sign the "
               "acceptable use agreement.")
    error = st.session_state.pop("signin_error", None)
    if error:
        st.error(escape_md(error), icon=":material/error:")
    _sso()
    staff_tab, first_tab, coordinator_tab = st.tabs(["Staff", "First sign-in", "Coordinator"])
    with staff_tab:
        with st.form("staff-signin"):
            name = st.text_input("Your name (as on the staff list)", key="signin-name")
            email = st.text_input("School email", key="signin-email")
            password = st.text_input("Password", type="password", key="signin-password",
                                     help="First time here? Use the 'First sign-in' tab with your one-time code.")
            if st.form_submit_button("Sign in", type="primary"):
                _finish(accounts.sign_in_staff(store, name, email, password))
                st.rerun()
    with first_tab:
        _first_sign_in(store)
    with coordinator_tab:
        with st.form("coordinator-signin"):
            email = st.text_input("Coordinator email", key="coord-email")
            password = st.text_input("Password", type="password", key="coord-password")
            if st.form_submit_button("Sign in as coordinator"):
                _finish(accounts.sign_in_coordinator(store, email, password))
                st.rerun()
