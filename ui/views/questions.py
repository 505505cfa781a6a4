"""Coordinator: questions the bot couldn't answer, grouped with counts; link each to a clause or mark it not covered."""
from __future__ import annotations

import hashlib
from datetime import datetime

import pandas as pd
import streamlit as st

from bot import records
from bot.store import StoreUnavailable
from ui import session
from ui.policy_docs import try_index
from ui.render import escape_md
from ui.views.dashboard import csv_button

SHOWN = 50


def _key(normalised: str) -> str:
    return hashlib.sha1(normalised.encode()).hexdigest()[:12]


def _clause_options(index) -> list[tuple[str, str]]:
    if index is None:
        return []
    return [(c.policy, c.clause) for c in index.clauses]


def _when(iso: str | None) -> str:
    """An ISO timestamp as a UK date and time for the screen."""
    return datetime.fromisoformat(iso).strftime("%d/%m/%Y %H:%M") if iso else ""


def _decide_row(store, user: dict, row: dict, options: list[tuple[str, str]], index, *, prefix: str = "") -> None:
    k = _key(row["normalised"])
    with st.container(border=True):
        st.markdown(f"**“{escape_md(row['question'])}”**")
        people = f"{row['people']} {'person' if row['people'] == 1 else 'people'}"
        if "cited" in row:  # a poorly rated answer
            st.caption(f"rated unhelpful {row['count']} time{'s' if row['count'] != 1 else ''} by {people} "
                       f"(helpful {row['helpful']}) · last {escape_md(_when(row['last_asked']))} · "
                       f"the answer cited {escape_md(row['cited'] or 'nothing')}")
        else:
            st.caption(f"asked {row['count']} time{'s' if row['count'] != 1 else ''} by {people} "
                       f"· last {escape_md((row['last_asked'] or '')[:16])}"
                       f" · {escape_md(row['reason'].replace('_', ' '))}")
        if not options:
            st.caption("No policy index, so there are no clauses to link to.")
            return
        nearest = (row["nearest_policy"], row["nearest_clause"])
        start = options.index(nearest) if nearest in options else 0

        def label(option: tuple[str, str]) -> str:
            clause = index.find(option[0], option[1])
            return f"{option[1]} — {clause.section}: {clause.text[:80]}" if clause else option[1]

        choice = st.selectbox("Clause that answers it", options, index=start, format_func=label, key=f"{prefix}pick-{k}")
        left, right, _ = st.columns([1, 1, 3])
        if left.button("Link to this clause", key=f"{prefix}link-{k}", type="primary", icon=":material/link:"):
            records.link_question(store, row["normalised"], choice[0], choice[1], by=user["email"])
            st.session_state["questions_notice"] = f"Linked to {choice[1]}: the bot will answer it from that clause."
            st.rerun()
        if right.button("Not covered", key=f"{prefix}nc-{k}", icon=":material/block:"):
            records.mark_not_covered(store, row["normalised"], by=user["email"])
            st.session_state["questions_notice"] = "Marked as not covered by the policy."
            st.rerun()


def _poorly_rated(store, user: dict, rated: list[dict], options: list[tuple[str, str]], index) -> None:
    """Answers staff rated 👎 (more often than 👍): link the clause that does answer the question."""
    if not rated:
        return
    st.subheader(f"Answers rated unhelpful ({len(rated)})")
    st.caption("Staff gave these answers a thumbs down. Link the clause that really answers the question and the "
               "bot will answer from it next time.")
    for row in rated[:SHOWN]:
        _decide_row(store, user, row, options, index, prefix="rated-")


def render() -> None:
    """Draw the unanswered-question log."""
    store = session.require_store()
    user = session.require_coordinator(store)
    st.title("Unanswered questions")
    st.caption("Questions the policy search could not answer. Link one to the clause that answers it and the "
               "bot will use that clause next time (within a minute); or mark it as not covered by the policy.")
    notice = st.session_state.pop("questions_notice", None)
    if notice:
        st.success(escape_md(notice))
    index, _ = try_index()
    try:
        rows = records.unanswered_questions(store, include_decided=True)
        rated = records.poorly_rated(store)
    except StoreUnavailable as exc:
        st.error(str(exc))
        return
    _poorly_rated(store, user, rated, _clause_options(index), index)
    open_rows = [r for r in rows if r["status"] == "open"]
    decided = [r for r in rows if r["status"] != "open"]
    if not rows:
        st.info("No unanswered questions so far.")
        return
    st.subheader(f"Open ({len(open_rows)})")
    options = _clause_options(index)
    for row in open_rows[:SHOWN]:
        _decide_row(store, user, row, options, index)
    if len(open_rows) > SHOWN:
        st.caption(f"{len(open_rows) - SHOWN} more in the CSV export.")
    frame = pd.DataFrame(rows)
    csv_button(frame, "unanswered-questions")
    if decided:
        st.subheader(f"Decided ({len(decided)})")
        st.dataframe(pd.DataFrame(decided)[["question", "count", "status", "linked_clause", "last_asked"]],
                     hide_index=True)
        with st.form("reopen"):
            target = st.selectbox("Undo a decision", [r["normalised"] for r in decided], key="reopen-pick",
                                  format_func=lambda n: next(r["question"] for r in decided if r["normalised"] == n))
            if st.form_submit_button("Reopen"):
                records.reopen_question(store, target)
                st.rerun()
