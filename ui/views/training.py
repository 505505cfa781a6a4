"""My training: the signed-in person's own attempts, best score, pass status, sign-offs and clauses to re-read."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from bot.training import reports
from bot.training.store import StoreUnavailable
from ui import session
from ui.policy_docs import try_index
from ui.render import escape_md, reader_link, safe_csv


def render() -> None:
    """Draw the signed-in person's training record (their own records only)."""
    user = session.require_user()
    store = session.require_store()
    st.title("My training")
    try:
        summary = reports.my_summary(store, user["sender_id"])
        attempts = reports.my_attempts(store, user["sender_id"])
        signoffs = reports.my_signoffs(store, user["sender_id"])
    except StoreUnavailable as exc:
        st.error(str(exc))
        return
    cols = st.columns(4)
    cols[0].metric("Passed", "Yes" if summary["passed"] else "Not yet")
    best = summary["best_score"]
    cols[1].metric("Best score", f"{round(best * 100)}%" if best is not None else "—")
    cols[2].metric("Quizzes completed", summary["completed"])
    cols[3].metric("Agreement signed", "Yes" if signoffs else "Not yet")
    if not attempts:
        st.info("You haven't taken the quiz yet. Go to **Ask & practise** and say *quiz me*.")
    else:
        st.subheader("Attempts")
        frame = pd.DataFrame(attempts)
        frame["score"] = frame["score"].map(lambda s: None if s is None or pd.isna(s) else round(s * 100))
        st.dataframe(frame[["started", "status", "answered", "correct", "questions", "score", "passed"]],
                     hide_index=True, column_config={"score": st.column_config.NumberColumn("score %")})
        st.download_button("Download my attempts (CSV)", safe_csv(frame), "my-attempts.csv",
                           "text/csv", key="dl-my-attempts")
    reread = summary["reread"]
    if reread:
        st.subheader("Clauses to re-read")
        st.caption("Your most recent answer on these clauses was not right.")
        index, _ = try_index()
        for item in reread:
            clause = index.find(item["policy"], item["clause"]) if index else None
            label = f"{item['clause']} — {clause.section}" if clause else item["clause"]
            with st.expander(escape_md(label)):
                if clause:
                    st.markdown(escape_md(clause.text).replace("\n", "  \n"))
                reader_link(item)
    elif attempts:
        st.success("Nothing to re-read: your latest answer on every clause you've been asked about was right.")
    st.subheader("Signed agreements")
    if signoffs:
        st.dataframe(pd.DataFrame(signoffs)[["document", "signed_name", "role", "signed_at", "policy_version"]],
                     hide_index=True)
    else:
        st.caption("You haven't signed the acceptable use agreement yet (see **Sign the agreement**).")
