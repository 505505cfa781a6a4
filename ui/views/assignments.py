"""Coordinator: which policies each role must read-and-sign and pass, by when; completion per policy; overdue list."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from bot.training import assignments
from bot.training.reminders import send_overdue_reminders
from bot.training.roles import ROLE_LABELS
from bot.training.store import StoreUnavailable
from ui import session
from ui.policy_docs import sections, try_index
from ui.render import escape_md
from ui.views.dashboard import csv_button
from knowledge.settings import get_settings

WHOLE = "__whole__"


def _role_label(role: str) -> str:
    return "Everyone" if role == assignments.EVERYONE else ROLE_LABELS.get(role, role)


def completion(store, index) -> None:
    """Completion per assigned policy and the overdue list, each with a CSV download (also on the dashboard)."""
    per_policy, overdue = assignments.completion_by_policy(store, index)
    st.subheader("Assigned policies: completion")
    if not per_policy:
        st.caption("No policies are assigned yet (Coordinator › Assignments).")
        return
    frame = pd.DataFrame(per_policy)
    st.dataframe(frame, hide_index=True, column_config={"Policy": st.column_config.TextColumn("Policy", pinned=True)})
    csv_button(frame, "completion-by-policy")
    st.subheader(f"Overdue ({len(overdue)})")
    if overdue:
        table = pd.DataFrame(overdue)
        table["Role"] = table["Role"].map(lambda r: ROLE_LABELS.get(r, r))
        st.dataframe(table, hide_index=True, column_config={"Name": st.column_config.TextColumn("Name", pinned=True)})
        csv_button(table, "overdue", "Download the overdue list (CSV)")
        _email_button(store, index)
    else:
        st.caption("Nobody is overdue.")


def _email_button(store, index) -> None:
    """'Email overdue reminders' when the school configured SMTP; otherwise say how to turn it on."""
    settings = get_settings()
    if not settings.smtp_enabled:
        st.caption("Email reminders are off: the school's mail server is not configured (SMTP_HOST, see the README).")
        return
    if st.button("Email overdue reminders", icon=":material/mail:"):
        try:
            report = send_overdue_reminders(store, index, settings)
        except OSError as exc:  # smtplib's errors are OSErrors too
            st.error(escape_md(f"The mail server could not be used, so nothing was sent: {exc}"))
            return
        n = len(report.sent)
        st.success(f"Sent {n} reminder email{'' if n == 1 else 's'}.")
        for email, reason in report.failed:
            st.warning(escape_md(f"Not sent to {email}: {reason}"))
        for name in report.skipped:
            st.warning(escape_md(f"{name} has no email address on the roster."))


def _form(store, user, index) -> None:
    policies = list(index.policies) if index is not None else []
    if not policies:
        st.info("Upload a policy first (Policies & roster).")
        return
    policy = st.selectbox("Policy", policies, key="assign-policy",
                          format_func=lambda p: index.policies[p].get("title", p))
    names = [name for name, _ in sections(index, policy)]
    with st.form("assign-form"):
        roles = st.multiselect("Who must do it", [assignments.EVERYONE, *ROLE_LABELS], format_func=_role_label,
                               key="assign-roles")
        due = st.date_input("Due by", value=None, min_value=date.today(), format="DD/MM/YYYY", key="assign-due")
        sign = st.checkbox("Read and sign", value=True, key="assign-sign")
        quiz = st.checkbox("Pass the quiz", value=False, key="assign-quiz")
        section = st.selectbox("What to sign", [WHOLE, *names], key="assign-section",
                               format_func=lambda s: "The whole policy" if s == WHOLE else s)
        if st.form_submit_button("Save assignment", type="primary", icon=":material/assignment_add:"):
            if not roles:
                st.error("Choose who must do it.")
                return
            try:
                for role in roles:
                    assignments.set_assignment(store, policy, role, due=due, sign=sign, quiz=quiz,
                                               section=None if section == WHOLE else section, by=user["email"])
            except ValueError as exc:
                st.error(escape_md(str(exc)))
                return
            st.session_state["assign_notice"] = f"Assigned to {', '.join(_role_label(r) for r in roles)}."
            st.rerun()


def render() -> None:
    """Draw the assignments page."""
    store = session.require_store()
    user = session.require_coordinator(store)
    st.title("Assignments")
    st.caption("Choose which policies each role must read and sign, and whose quiz they must pass, by when. Staff "
               "see their list under My policies.")
    notice = st.session_state.pop("assign_notice", None)
    if notice:
        st.success(escape_md(notice))
    index, problem = try_index()
    if problem:
        st.warning(escape_md(problem))
    try:
        _form(store, user, index)
        rows = assignments.list_assignments(store)
        if rows:
            st.subheader("Current assignments")
            titles = index.policies if index is not None else {}
            table = pd.DataFrame([{
                "Policy": titles.get(r["policy"], {}).get("title", r["policy"]), "Who": _role_label(r["role"]),
                "Due": r["due"].strftime("%d/%m/%Y") if r["due"] else "No date",
                "Read and sign": "Yes" if r["sign"] else "No", "Pass the quiz": "Yes" if r["quiz"] else "No",
                "What to sign": r["section"] or "The whole policy"} for r in rows])
            st.dataframe(table, hide_index=True)
            with st.form("unassign"):
                target = st.selectbox("Remove an assignment", range(len(rows)), key="unassign-pick",
                                      format_func=lambda n: f"{table.iloc[n]['Policy']} — {table.iloc[n]['Who']}")
                if st.form_submit_button("Remove"):
                    assignments.remove_assignment(store, rows[target]["policy"], rows[target]["role"])
                    st.session_state["assign_notice"] = "Assignment removed."
                    st.rerun()
        completion(store, index)
    except StoreUnavailable as exc:
        st.error(str(exc))
