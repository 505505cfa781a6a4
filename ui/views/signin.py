"""Sign-in: staff by name, school email and password (set on first use); coordinators; optional school SSO."""
from __future__ import annotations

import streamlit as st

from bot import auth
from ui import session
from ui.render import escape_md


def _finish(result: auth.SignIn) -> None:
    if result.status == "ok":
        session.sign_in(result.user)
        st.rerun()
    elif result.status == "set_password":
        st.session_state["pending"] = {"name": result.user["name"] if result.user else "",
                                       "email": result.user["email"] if result.user else ""}
        st.session_state["pending_message"] = result.message
        st.rerun()
    else:
        st.session_state["signin_error"] = result.message


def _first_password(store) -> None:
    pending = st.session_state["pending"]
    st.subheader(f"Welcome, {escape_md(pending['name'])}")
    st.info(escape_md(st.session_state.get("pending_message") or "Choose a password."))
    st.caption(f"Your password must have at least {auth.MIN_PASSWORD_LENGTH} characters. It is stored only as a "
               "secure hash; nobody, not even the coordinator, can read it.")
    with st.form("first-password"):
        password = st.text_input("New password", type="password", key="new-password")
        confirm = st.text_input("Type it again", type="password", key="confirm-password")
        if st.form_submit_button("Set password and sign in", type="primary"):
            result = auth.set_first_password(store, pending["name"], pending["email"], password, confirm)
            if result.status == "ok":
                session.sign_in(result.user)
                st.rerun()
            st.session_state["pending_message"] = result.message
            if result.status == "refused":
                st.session_state.pop("pending", None)
                st.session_state["signin_error"] = result.message
            st.rerun()
    if st.button("Back", key="first-password-back"):
        st.session_state.pop("pending", None)
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
    if st.session_state.get("pending"):
        _first_password(store)
        return
    error = st.session_state.pop("signin_error", None)
    if error:
        st.error(escape_md(error), icon=":material/error:")
    _sso()
    staff_tab, coordinator_tab = st.tabs(["Staff", "Coordinator"])
    with staff_tab:
        with st.form("staff-signin"):
            name = st.text_input("Your name (as on the staff list)", key="signin-name")
            email = st.text_input("School email", key="signin-email")
            password = st.text_input("Password", type="password", key="signin-password",
                                     help="First time here? Leave it blank: you'll choose one next.")
            if st.form_submit_button("Sign in", type="primary"):
                _finish(auth.sign_in_staff(store, name, email, password))
                st.rerun()
    with coordinator_tab:
        with st.form("coordinator-signin"):
            email = st.text_input("Coordinator email", key="coord-email")
            password = st.text_input("Password", type="password", key="coord-password")
            if st.form_submit_button("Sign in as coordinator"):
                _finish(auth.sign_in_coordinator(store, email, password))
                st.rerun()
