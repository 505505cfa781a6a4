"""Coordinator: upload a policy (new or a new version) and the staff roster; reset passwords; add coordinators."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from bot import auth, records
from bot.store import StoreUnavailable
from ui import session
from ui.policy_admin import ALLOWED, upload_policy
from ui.policy_docs import try_index
from ui.render import code_sheet_html, escape_md, uk_datetime
from ui.views.dashboard import csv_button

NEW = "__new__"


def _show_upload(result: dict) -> None:
    if not result["ok"]:
        st.error(escape_md(result["message"]), icon=":material/error:")
        return
    st.success(escape_md(result["message"]), icon=":material/task_alt:")
    changes = result.get("changes") or {}
    if result.get("status") == "updated":
        cols = st.columns(3)
        for col, kind in zip(cols, ("added", "removed", "changed")):
            ids = changes.get(kind, [])
            col.metric(f"Clauses {kind}", len(ids))
            if ids:
                col.caption(escape_md(", ".join(ids)))


def _policies(store, user: dict) -> None:
    st.subheader("Policies")
    index, problem = try_index()
    policies = index.policies if index else {}
    if problem:
        st.warning(escape_md(problem))
    if policies:
        table = pd.DataFrame([{"policy": p, "title": m.get("title"), "clauses": m.get("clauses"),
                               "review date": m.get("review_date"), "owner": m.get("owner"),
                               "version": (m.get("checksum") or "")[:12]} for p, m in policies.items()])
        st.dataframe(table, hide_index=True)
        csv_button(table, "policies")
    with st.form("policy-upload", clear_on_submit=False):
        upload = st.file_uploader("Policy file", type=[s.lstrip(".") for s in ALLOWED], key="policy-file")
        options = [NEW] + list(policies)
        target = st.selectbox("This file is", options, key="policy-target",
                              format_func=lambda p: "a new policy" if p == NEW else
                              f"a new version of {policies[p].get('title', p)}")
        if st.form_submit_button("Upload and re-index", type="primary", icon=":material/upload:"):
            if upload is None:
                st.session_state["upload_result"] = {"ok": False, "message": "Choose a file to upload first."}
            else:
                replaces = None if target == NEW else target
                with st.spinner("Reading the policy and re-indexing (this can take a minute)…"):
                    result = upload_policy(store, upload.name, upload.getvalue(), replaces=replaces,
                                           uploaded_by=user["email"])
                st.session_state["upload_result"] = result.__dict__
            st.rerun()
    result = st.session_state.get("upload_result")
    if result:
        _show_upload(result)
        if result.get("ok") and result.get("policy"):
            _draft_button(store, user, result["policy"])
    versions = records.policy_versions(store)
    if versions:
        st.markdown("**Upload history**")
        frame = pd.DataFrame(versions)
        st.dataframe(frame, hide_index=True)
        csv_button(frame, "policy-versions")


def _draft_button(store, user: dict, policy: str) -> None:
    """'Draft a quiz' for the policy just uploaded: drafts wait in the Quiz editor until approved."""
    from ui.quiz_admin import draft_into_editor  # noqa: PLC0415

    if st.button("Draft a quiz from this policy", key="upload-draft-quiz", icon=":material/auto_awesome:"):
        index, problem = try_index()
        ok, message = draft_into_editor(store, index, policy, by=user["email"]) if index else (False, problem)
        (st.success if ok else st.error)(escape_md(message))


def _roster(store) -> None:
    st.subheader("Staff roster")
    st.caption("A CSV file with a header line `name,email,role`; roles: " + ", ".join(auth.ROLES) + ".")
    with st.form("roster-upload"):
        upload = st.file_uploader("Roster CSV", type=["csv"], key="roster-file")
        replace = st.checkbox("People missing from this file leave the roster", key="roster-replace")
        if st.form_submit_button("Import roster", icon=":material/group_add:"):
            if upload is None:
                st.session_state["roster_result"] = {"ok": 0, "added": [], "updated": [], "removed": [],
                                                     "errors": [(0, "Choose a CSV file first.")]}
            else:
                report = auth.import_roster(store, upload.getvalue(), replace=replace)
                st.session_state["roster_result"] = {"ok": report.ok, "added": report.added,
                                                     "updated": report.updated, "removed": report.removed,
                                                     "errors": report.errors}
            st.rerun()
    result = st.session_state.get("roster_result")
    if result:
        if result["ok"] or result["removed"]:
            st.success(f"Roster imported: {len(result['added'])} added, {len(result['updated'])} updated"
                       + (f", {len(result['removed'])} left the roster" if result["removed"] else "") + ".")
        if result["errors"]:
            st.error(f"{len(result['errors'])} row{'s' if len(result['errors']) != 1 else ''} skipped; "
                     "fix them and upload again (good rows were kept):")
            st.dataframe(pd.DataFrame(result["errors"], columns=["line", "problem"]), hide_index=True)
    people = records.completion(store)
    if people:
        frame = pd.DataFrame(people)[["name", "email", "role", "claimed_at", "last_activity"]]
        frame["role"] = frame["role"].map(lambda r: auth.ROLE_LABELS.get(r, r))
        frame["claimed_at"] = frame["claimed_at"].map(uk_datetime)
        frame["last_activity"] = frame["last_activity"].map(uk_datetime)
        frame.columns = ["Name", "Email", "Role", "Account claimed", "Last activity"]
        st.dataframe(frame, hide_index=True)
        csv_button(frame, "roster")
        _codes(store)
        with st.form("reset-password"):
            email = st.selectbox("Reset a password (signs them out everywhere; they need a new one-time code)",
                                 frame["Email"].tolist(), key="reset-email")
            if st.form_submit_button("Reset password"):
                auth.reset_password(store, email)
                code = auth.issue_claim_code(store, email)
                st.session_state["issued_codes"] = [{"name": email, "email": email, "role": "", "code": code}]
                st.rerun()


def _codes(store) -> None:
    """One-time codes for first sign-in: issued on request, shown once, printable."""
    st.markdown("**First sign-in codes**")
    st.caption("Staff need a one-time code from you for their first sign-in, so nobody can claim a colleague's "
               "account. Codes are shown once; issuing again replaces any earlier code.")
    if st.button("Issue codes for everyone who hasn't signed in yet", key="issue-codes", icon=":material/key:"):
        st.session_state["issued_codes"] = auth.issue_codes_for_unclaimed(store)
        st.rerun()
    issued = st.session_state.pop("issued_codes", None)
    if issued:
        st.warning("Print or save these now: they won't be shown again.", icon=":material/print:")
        sheet = pd.DataFrame(issued)[["name", "email", "code"]]
        sheet.columns = ["Name", "Email", "One-time code"]
        st.dataframe(sheet, hide_index=True)
        st.download_button("Printable sheet (HTML)", code_sheet_html(issued).encode("utf-8"),
                           "first-sign-in-codes.html", "text/html", key="dl-codes", icon=":material/print:")


def _coordinators(store) -> None:
    st.subheader("Add a coordinator")
    with st.form("add-coordinator", clear_on_submit=True):
        email = st.text_input("Email", key="new-coord-email")
        password = st.text_input("Temporary password", type="password", key="new-coord-password")
        if st.form_submit_button("Add coordinator"):
            try:
                auth.ensure_coordinator(store, email, password)
                st.success(f"Coordinator {escape_md(email)} can now sign in.")
            except auth.CoordinatorExists as exc:
                st.warning(escape_md(str(exc)))
            except ValueError as exc:
                st.error(escape_md(str(exc)))


def render() -> None:
    """Draw the policies and roster page."""
    store = session.require_store()
    user = session.require_coordinator(store)
    st.title("Policies & roster")
    try:
        _policies(store, user)
        st.divider()
        _roster(store)
        st.divider()
        _coordinators(store)
    except StoreUnavailable as exc:
        st.error(str(exc))
