"""Read and sign the acceptable use agreement (governors: the governing body agreement) electronically."""
from __future__ import annotations

import streamlit as st

from bot.training import reports
from bot.training.accounts import normalise_name
from bot.training.roles import ROLE_LABELS
from bot.training.store import StoreUnavailable
from ui import policy_tree, session
from ui.policy_docs import agreement_for, try_index
from ui.render import escape_md, multiline


def render() -> None:
    """Draw the agreement and the signature form."""
    user = session.require_user()
    store = session.require_store()
    st.title("Sign the agreement")
    index, problem = try_index()
    if index is None:
        st.error(escape_md(problem or "No policy index."))
        return
    agreement = agreement_for(index, user.get("role"))
    if agreement is None:
        st.info("None of the uploaded policies has an agreement to sign. Your coordinator can upload one.")
        return
    st.caption(f"From {escape_md(agreement.policy_title)} · version {escape_md(agreement.version[:12])}")
    st.subheader(escape_md(agreement.document))
    with st.container(border=True):
        if agreement.blocks:
            policy_tree.render(agreement.blocks, anchored=False)  # headings, lead-ins and signature lines in place
        else:
            for clause in agreement.clauses:
                st.markdown(multiline(clause.text))
    try:
        mine = [s for s in reports.my_signoffs(store, user["sender_id"])
                if s["policy"] == agreement.policy and s["document"] == agreement.document[:200]]
    except StoreUnavailable as exc:
        st.error(str(exc))
        return
    current = [s for s in mine if s["policy_version"] == agreement.version[:80]]
    if current:
        st.success(f"You signed this agreement as {escape_md(current[0]['signed_name'])} on "
                   f"{escape_md(current[0]['signed_at'][:10])}.", icon=":material/verified:")
        return
    if mine:
        st.warning("The policy has changed since you last signed. Please read it again and sign the new version.")
    role = ROLE_LABELS.get(user.get("role"), user.get("role") or "")
    with st.form("sign-agreement"):
        st.markdown(f"Signing as **{escape_md(user['name'])}** ({escape_md(role)}), today.")
        agreed = st.checkbox("I have read this agreement and agree to follow it.", key="agree-check")
        typed = st.text_input("Type your full name to sign", key="agree-name")
        if st.form_submit_button("Sign", type="primary"):
            if not agreed:
                st.error("Tick the box to confirm you have read and agree to the agreement.")
            elif normalise_name(typed) != normalise_name(user["name"]):
                st.error("Type your full name exactly as it appears above.")
            else:
                try:
                    reports.record_signoff(store, user["sender_id"], policy=agreement.policy,
                                           document=agreement.document, policy_version=agreement.version,
                                           signed_name=typed, role=user.get("role"))
                except StoreUnavailable as exc:
                    st.error(str(exc))
                    return
                st.rerun()
