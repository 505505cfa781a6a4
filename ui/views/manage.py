"""Coordinator: upload a policy (new or a new version) and the staff roster; reset passwords; add coordinators."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from bot.training import accounts
from bot.training import reports
from bot.training.store import StoreUnavailable
from ui import session
from ui import ingest_jobs
from ui.policy_admin import ALLOWED
from ui.policy_docs import try_index
from ui.render import code_sheet_html, escape_md, multiline, uk_when
from ui.views.dashboard import csv_button

NEW = "__new__"
NOTICES = ("upload_result", "roster_result", "titles_notice", "issued_codes")  # one action's message at a time


def notice(key: str, value) -> None:
    """Show this action's message and clear every other action's, so old messages don't linger."""
    for other in NOTICES:
        st.session_state.pop(other, None)
    st.session_state[key] = value


def show_wording(wording: list[dict], *, key: str) -> None:
    """Old and new wording side by side for each changed clause; added and removed clauses with their text."""
    heads = {"changed": "Changed", "added": "Added", "removed": "Removed"}
    for item in wording:
        with st.container(border=True):
            st.markdown(f"**{escape_md(heads[item['kind']])}: {escape_md(item['label'])}**")
            old, new = st.columns(2)
            old.caption("Old wording")
            old.markdown(multiline(item["old"]) if item["old"] else "*(not in the old version)*")
            new.caption("New wording")
            new.markdown(multiline(item["new"]) if item["new"] else "*(removed in the new version)*")


def _show_upload(result: dict) -> None:
    if not result["ok"]:
        st.error(escape_md(result["message"]), icon=":material/error:")
        return
    st.success(escape_md(result["message"]), icon=":material/task_alt:")
    changes = result.get("changes") or {}
    if result.get("status") == "updated":
        cols = st.columns(3)
        for col, kind in zip(cols, ("added", "removed", "changed")):
            col.metric(f"Clauses {kind}", len(changes.get(kind, [])))
        show_wording(result.get("wording") or [], key="upload")


def _policies(store, user: dict) -> None:
    st.subheader("Policies")
    index, problem = try_index()
    policies = index.policies if index else {}
    if problem:
        st.warning(escape_md(problem))
    versions = reports.policy_versions(store)
    if policies:
        latest = {}
        for v in versions:  # newest first
            latest.setdefault(v["policy"], v["uploaded_at"])
        table = pd.DataFrame([{"Policy": m.get("title") or p, "Clauses": m.get("clauses"),
                               "Review date": m.get("review_date") or "—", "Owner": m.get("owner") or "—",
                               "Version": f"uploaded {uk_when(latest[p], time=False)}" if p in latest else
                               "as installed"} for p, m in policies.items()])
        st.dataframe(table, hide_index=True, column_config={"Policy": st.column_config.TextColumn("Policy", pinned=True)})
        csv_button(table, "policies")
    if st.session_state.get("upload_job"):
        _upload_progress()
    else:
        _upload_form(store, user, policies)
    result = st.session_state.get("upload_result")
    if result:
        _show_upload(result)
        if result.get("ok") and result.get("policy"):
            _draft_button(store, user, result["policy"])
    if versions:
        st.markdown("**Upload history**")
        frame = pd.DataFrame([{"Policy": v["title"], "Uploaded": uk_when(v["uploaded_at"]), "By": v["uploaded_by"] or "—",
                               "Clauses added": len(v["added"].split(", ")) if v["added"] else 0,
                               "Clauses changed": len(v["changed"].split(", ")) if v["changed"] else 0,
                               "Clauses removed": len(v["removed"].split(", ")) if v["removed"] else 0}
                              for v in versions])
        st.dataframe(frame, hide_index=True, column_config={"Policy": st.column_config.TextColumn("Policy", pinned=True)})
        csv_button(frame, "policy-versions")
        with_wording = [v for v in versions if v["wording"]]
        if with_wording:
            pick = st.selectbox("See the wording changes of an upload", range(len(with_wording)), index=None,
                                placeholder="Choose an upload…", key="history-pick",
                                format_func=lambda n: f"{with_wording[n]['title']} — uploaded "
                                                      f"{uk_when(with_wording[n]['uploaded_at'])}")
            if pick is not None:
                show_wording(with_wording[pick]["wording"], key="history")


def _upload_form(store, user: dict, policies: dict) -> None:
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
                st.session_state.pop("upload_result", None)
                st.session_state["upload_job"] = ingest_jobs.start(store, upload.name, upload.getvalue(),
                                                                   replaces=replaces, uploaded_by=user["email"])
            st.rerun()


@st.fragment(run_every=1.0)
def _upload_progress() -> None:
    """Poll the background upload: a progress bar until it finishes, then the result on the whole page."""
    job_id = st.session_state.get("upload_job")
    job = ingest_jobs.status(job_id) if job_id else None
    if job is None:
        st.session_state.pop("upload_job", None)
        st.rerun(scope="app")
        return
    if job.result is None:
        st.progress(job.fraction, text=f"{job.stage}… (you can keep using the app; this page updates itself)")
        return
    st.session_state["upload_result"] = job.result
    st.session_state.pop("upload_job", None)
    ingest_jobs.forget(job_id)
    st.rerun(scope="app")


def _draft_button(store, user: dict, policy: str) -> None:
    """'Draft a quiz' for the policy just uploaded: drafts wait in the Quiz editor until approved."""
    from ui.quiz_admin import draft_into_editor  # noqa: PLC0415

    if st.button("Draft a quiz from this policy", key="upload-draft-quiz", icon=":material/auto_awesome:"):
        index, problem = try_index()
        ok, message = draft_into_editor(store, index, policy, by=user["email"]) if index else (False, problem)
        (st.success if ok else st.error)(escape_md(message))


def _roster(store, user: dict) -> None:
    st.subheader("Staff roster")
    st.caption("A CSV file with a header line `name,email,role`. The role column can hold the job title as your "
               "school writes it (Teaching Assistant, HLTA, SENCO, Management Committee…): see *Job titles and "
               "roles* below for how each title counts.")
    with st.form("roster-upload"):
        upload = st.file_uploader("Roster CSV", type=["csv"], key="roster-file")
        replace = st.checkbox("People missing from this file leave the roster", key="roster-replace")
        if st.form_submit_button("Import roster", icon=":material/group_add:"):
            if upload is None:
                notice("roster_result", {"ok": 0, "added": [], "updated": [], "removed": [],
                                         "errors": [(0, "Choose a CSV file first.")]})
            else:
                report = accounts.import_roster(store, upload.getvalue(), replace=replace)
                notice("roster_result", {"ok": report.ok, "added": report.added, "updated": report.updated,
                                         "removed": report.removed, "errors": report.errors})
            st.rerun()
    _job_titles(store, user)
    result = st.session_state.get("roster_result")
    if result:
        if result["ok"] or result["removed"]:
            st.success(f"Roster imported: {len(result['added'])} added, {len(result['updated'])} updated"
                       + (f", {len(result['removed'])} left the roster" if result["removed"] else "") + ".")
        if result["errors"]:
            st.error(f"{len(result['errors'])} row{'s' if len(result['errors']) != 1 else ''} skipped; "
                     "fix them and upload again (good rows were kept):")
            errors = pd.DataFrame(result["errors"], columns=["Line", "Problem"])
            errors["Line"] = errors["Line"].map(lambda n: str(n) if n else "—")
            st.dataframe(errors, hide_index=True, column_config={
                "Problem": st.column_config.TextColumn("Person and problem", width="large")})
    people = reports.completion(store)
    if people:
        frame = pd.DataFrame(people)[["name", "email", "role", "claimed_at", "last_activity"]]
        frame["role"] = frame["role"].map(lambda r: accounts.ROLE_LABELS.get(r, r))
        frame["claimed_at"] = frame["claimed_at"].map(lambda v: uk_when(v, time=False))
        frame["last_activity"] = frame["last_activity"].map(uk_when)
        frame.columns = ["Name", "Email", "Role", "Account claimed", "Last activity"]
        st.dataframe(frame, hide_index=True, column_config={"Name": st.column_config.TextColumn("Name", pinned=True)})
        csv_button(frame, "roster")
        _codes(store)
        with st.form("reset-password"):
            email = st.selectbox("Reset a password (signs them out everywhere; they need a new one-time code)",
                                 frame["Email"].tolist(), key="reset-email")
            if st.form_submit_button("Reset password"):
                accounts.reset_password(store, email)
                code = accounts.issue_claim_code(store, email)
                notice("issued_codes", [{"name": email, "email": email, "role": "", "code": code}])
                st.rerun()


def _job_titles(store, user: dict) -> None:
    """The job titles the roster understands and the role each counts as; the coordinator adds or changes them."""
    with st.expander("Job titles and roles", icon=":material/badge:"):
        titles = accounts.job_titles(store)
        table = pd.DataFrame([{"Job title": t, "Counts as": accounts.ROLE_LABELS.get(r, r)}
                              for t, r in sorted(titles.items())])
        st.dataframe(table, hide_index=True, height=240)
        with st.form("job-title"):
            left, right = st.columns([3, 2])
            title = left.text_input("Job title as written on your roster", key="job-title-text",
                                    placeholder="e.g. Dinner supervisor")
            role = right.selectbox("Counts as", list(accounts.ROLE_LABELS), format_func=accounts.ROLE_LABELS.get,
                                   key="job-title-role")
            if st.form_submit_button("Save job title", icon=":material/save:"):
                try:
                    key = accounts.set_job_title(store, title, role, by=user["email"])
                    notice("titles_notice", ("ok", f"'{key}' now counts as {accounts.ROLE_LABELS[role]}. Import the "
                                                   "roster again to add the people who were skipped."))
                except ValueError as exc:
                    notice("titles_notice", ("error", str(exc)))
                st.rerun()
        message = st.session_state.get("titles_notice")
        if message:
            (st.success if message[0] == "ok" else st.error)(escape_md(message[1]))


def _codes(store) -> None:
    """One-time codes for first sign-in: issued on request, shown once, printable."""
    st.markdown("**First sign-in codes**")
    st.caption("Staff need a one-time code from you for their first sign-in, so nobody can claim a colleague's "
               "account. Codes are shown once; issuing again replaces any earlier code.")
    if st.button("Issue codes for everyone who hasn't signed in yet", key="issue-codes", icon=":material/key:"):
        notice("issued_codes", accounts.issue_codes_for_unclaimed(store))
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
                accounts.ensure_coordinator(store, email, password)
                st.success(f"Coordinator {escape_md(email)} can now sign in.")
            except accounts.CoordinatorExists as exc:
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
        _roster(store, user)
        st.divider()
        _coordinators(store)
    except StoreUnavailable as exc:
        st.error(str(exc))
