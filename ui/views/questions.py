"""Coordinator: questions the bot couldn't answer (near-duplicates grouped with counts), answers rated unhelpful and
answers given with least confidence; link each to a clause, or mark it not covered and name who staff should ask."""
from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from bot.training import reports
from bot.training.store import StoreUnavailable
from ui import session
from ui.policy_docs import try_index
from ui.render import clause_label, escape_md, uk_when
from ui.views.dashboard import csv_button

SHOWN = 50
REASONS = {"out_of_scope": "no policy covers it", "low_confidence": "answered, but the match was weak",
           "rated unhelpful": "rated unhelpful", "too_long": "too long", "empty": "no question in it",
           "not_english": "not in English", "no_index": "no policy loaded"}
STATUS = {"open": "Open", "linked": "Linked to a clause", "not_covered": "Not covered"}


def _key(normalised: str) -> str:
    return hashlib.sha1(normalised.encode()).hexdigest()[:12]


def _clause_options(index) -> list[tuple[str, str]]:
    if index is None:
        return []
    return [(c.policy, c.clause) for c in index.clauses]


def _option_label(index, option: tuple[str, str]) -> str:
    clause = index.find(option[0], option[1])
    several = len(index.policies) > 1
    policy = f" ({index.policies.get(option[0], {}).get('title', '')})" if several else ""
    body = f": {clause.text[:70]}" if clause else ""
    return f"{clause_label(clause, option[1])}{policy}{body}"


def _times(n: int) -> str:
    return f"{n} time{'s' if n != 1 else ''}"


def _decide_row(store, user: dict, row: dict, options: list[tuple[str, str]], index, *, prefix: str = "") -> None:
    k = _key(row["normalised"])
    variants = row.get("variants") or [row["normalised"]]
    with st.container(border=True):
        st.markdown(f"**“{escape_md(row['question'])}”**")
        people = f"{row['people']} {'person' if row['people'] == 1 else 'people'}"
        if row.get("reason") == "rated unhelpful":
            st.caption(f"rated unhelpful {_times(row['count'])} by {people} (helpful {row['helpful']}) · last "
                       f"{escape_md(uk_when(row['last_asked']))} · the answer cited "
                       f"{escape_md(_cited(index, row))}")
        elif row.get("reason") == "low_confidence":
            st.caption(f"answered {_times(row['count'])} · last {escape_md(uk_when(row['last_asked']))} · "
                       f"weak match on {escape_md(_cited(index, row))}")
        else:
            st.caption(f"asked {_times(row['count'])} by {people} · last {escape_md(uk_when(row['last_asked']))} · "
                       f"{escape_md(REASONS.get(row['reason'], row['reason'].replace('_', ' ')))}")
        if len(row.get("wordings") or []) > 1:
            st.caption("Also asked as: " + " · ".join(f"“{escape_md(w)}”" for w in row["wordings"][1:4]))
        if not options:
            st.caption("No policy index, so there are no clauses to link to.")
            return
        # starts empty: a pre-selected clause made one careless click link a question to the wrong rule
        choice = st.selectbox("Clause that answers it", options, index=None, placeholder="Choose a clause…",
                              format_func=lambda o: _option_label(index, o), key=f"{prefix}pick-{k}")
        if st.button("Link to this clause", key=f"{prefix}link-{k}", icon=":material/link:", disabled=choice is None):
            for normalised in variants:
                reports.link_question(store, normalised, choice[0], choice[1], by=user["email"])
            st.session_state["questions_notice"] = (f"Linked to {clause_label(index.find(*choice), choice[1])}: "
                                                    "the bot will answer it from that clause.")
            st.rerun()
        contact = st.text_input("Not covered by any policy? Who should staff ask about this topic?",
                                placeholder="e.g. HR (Mrs Patel, hr@school.example) for pay and leave",
                                key=f"{prefix}contact-{k}", max_chars=300)
        if st.button("Mark as not covered", key=f"{prefix}nc-{k}", icon=":material/block:"):
            for normalised in variants:
                reports.mark_not_covered(store, normalised, by=user["email"], contact=contact)
            st.session_state["questions_notice"] = (
                f"Marked as not covered. Staff asking about this will be told to ask {contact.strip()}."
                if contact.strip() else "Marked as not covered by the policy.")
            st.rerun()


def _cited(index, row: dict) -> str:
    clause_id = row.get("nearest_clause")
    if not clause_id:
        return "nothing"
    return clause_label(index.find(row.get("nearest_policy"), clause_id) if index else None, clause_id)


def _section(store, user, title: str, caption: str, rows: list[dict], options, index, prefix: str) -> None:
    if not rows:
        return
    st.subheader(f"{title} ({len(rows)})")
    st.caption(caption)
    for row in rows[:SHOWN]:
        _decide_row(store, user, row, options, index, prefix=prefix)


def _decided_table(index, decided: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{
        "Question": r["question"], "Times asked": r["count"], "Decision": STATUS.get(r["status"], r["status"]),
        "Answered by": (clause_label(index.find(r.get("linked_policy"), r["linked_clause"]) if index else None,
                                     r["linked_clause"]) if r.get("linked_clause") else "—"),
        "Staff are told to ask": r.get("contact") or "—", "Last asked": uk_when(r["last_asked"]),
    } for r in decided])


def render() -> None:
    """Draw the unanswered-question log."""
    store = session.require_store()
    user = session.require_coordinator(store)
    st.title("Unanswered questions")
    st.caption("Questions the policy search could not answer or answered poorly. Link one to the clause that answers "
               "it and the bot will use that clause next time (within a minute); or mark it as not covered and say "
               "who staff should ask — the bot will then name that contact for similar questions.")
    notice = st.session_state.pop("questions_notice", None)
    if notice:
        st.success(escape_md(notice))
    index, _ = try_index()
    try:
        rows = reports.unanswered_questions(store, include_decided=True)
        rated = reports.poorly_rated(store)
        weak = reports.low_confidence_answers(store)
    except StoreUnavailable as exc:
        st.error(str(exc))
        return
    options = _clause_options(index)
    open_rows = [r for r in rows if r["status"] == "open"]
    decided = [r for r in rows if r["status"] != "open"]
    if not rows and not rated and not weak:
        st.info("No unanswered questions so far.")
        return
    _section(store, user, "Not answered", "Similar wordings of the same question are grouped, with how often "
             "they were asked.", open_rows, options, index, "")
    if len(open_rows) > SHOWN:
        st.caption(f"{len(open_rows) - SHOWN} more in the CSV export.")
    _section(store, user, "Answers rated unhelpful", "Staff gave these answers a thumbs down. Link the clause that "
             "really answers the question and the bot will answer from it next time.", rated, options, index, "rated-")
    _section(store, user, "Answered with least confidence", "The bot answered these, but its best clause matched "
             "weakly. Check the answer; link a better clause if there is one.", weak, options, index, "weak-")
    if rows:
        export = pd.DataFrame([{"Question": r["question"], "Times asked": r["count"], "People": r["people"],
                                "Why": REASONS.get(r["reason"], r["reason"]), "Decision": STATUS.get(r["status"]),
                                "Staff are told to ask": r.get("contact") or "", "First asked": uk_when(r["first_asked"]),
                                "Last asked": uk_when(r["last_asked"])} for r in rows])
        csv_button(export, "unanswered-questions")
    if decided:
        st.subheader(f"Decided ({len(decided)})")
        st.dataframe(_decided_table(index, decided), hide_index=True,
                     column_config={"Question": st.column_config.TextColumn("Question", pinned=True, width="large")})
        with st.form("reopen"):
            target = st.selectbox("Undo a decision", range(len(decided)), key="reopen-pick",
                                  format_func=lambda n: decided[n]["question"])
            if st.form_submit_button("Reopen"):
                for normalised in decided[target].get("variants") or [decided[target]["normalised"]]:
                    reports.reopen_question(store, normalised)
                st.rerun()
