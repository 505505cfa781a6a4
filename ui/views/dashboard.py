"""Coordinator dashboard: completion by person, pass rate, score distribution, and per-scenario/clause facility."""
from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from bot import records
from bot.auth import ROLE_LABELS
from bot.bank import QuizBankError, load_bank
from bot.store import StoreUnavailable
from knowledge.settings import get_settings
from ui import session
from ui.policy_docs import try_index
from ui.render import escape_md, safe_csv, uk_datetime


def csv_button(frame: pd.DataFrame, name: str, label: str = "Download CSV") -> None:
    """A CSV export of a table (cells that look like formulas are neutralised)."""
    st.download_button(label, safe_csv(frame), f"{name}.csv", "text/csv",
                       key=f"dl-{name}", icon=":material/download:")


def scenario_prompts() -> dict[str, str]:
    """Scenario id -> prompt, from every quiz bank (missing or broken banks are skipped)."""
    prompts: dict[str, str] = {}
    for path in sorted(Path(get_settings().quizzes_dir).glob("*.y*ml")):
        try:
            bank = load_bank(path)
        except QuizBankError:
            continue
        prompts.update({s.id: s.prompt for s in bank.scenarios})
    return prompts


def review_warnings(index) -> None:
    """Warn about policies past their review date."""
    for item in records.review_warnings(index.policies if index else {}):
        st.warning(f"**{escape_md(item['title'])}** was due for review in {escape_md(item['review_date'])} "
                   f"({item['days_overdue']} days ago). Upload the reviewed version under **Policies & roster**.",
                   icon=":material/event_busy:")


def _completion(store, index) -> None:
    versions = {p: m.get("checksum", "") for p, m in index.policies.items()} if index else None
    rows = records.completion(store, versions)
    st.subheader("Completion")
    if not rows:
        st.info("Nobody is on the roster yet. Upload the staff roster under **Policies & roster**.")
        return
    frame = pd.DataFrame(rows)
    roles = sorted(frame["role"].dropna().unique())
    left, right = st.columns([2, 1])
    chosen = left.multiselect("Roles", roles, default=roles, format_func=lambda r: ROLE_LABELS.get(r, r),
                              key="filter-roles")
    show = right.selectbox("Show", ["Everyone", "Not signed", "Not passed", "Not started"], key="filter-status")
    view = frame[frame["role"].isin(chosen)]
    if show == "Not signed":
        view = view[~view["signed"]]
    elif show == "Not passed":
        view = view[~view["passed"]]
    elif show == "Not started":
        view = view[view["attempts"] == 0]
    totals = records.summary(view.to_dict("records"))
    cols = st.columns(4)
    cols[0].metric("People", totals["people"])
    cols[1].metric("Signed", totals["signed"])
    cols[2].metric("Passed", totals["passed"])
    cols[3].metric("Pass rate", f"{round(totals['pass_rate'] * 100)}%" if totals["pass_rate"] is not None else "—")
    table = view.assign(best_score=view["best_score"].map(lambda s: None if pd.isna(s) else round(s * 100)),
                        claimed_at=view["claimed_at"].map(uk_datetime))
    st.dataframe(table, hide_index=True, column_config={
        "best_score": st.column_config.NumberColumn("best score %"),
        "signed": st.column_config.CheckboxColumn("signed?"),
        "passed": st.column_config.CheckboxColumn("passed?"),
        "password_set": st.column_config.CheckboxColumn("has signed in"),
        "claimed_at": st.column_config.TextColumn("account claimed"),
    })
    csv_button(table, "completion")
    left, right = st.columns(2)
    with left:
        _pass_rate(frame)
    with right:
        _scores(store)


def _pass_rate(frame: pd.DataFrame) -> None:
    st.subheader("Pass rate by role")
    by_role = frame.groupby("role").agg(people=("email", "count"), passed=("passed", "sum")).reset_index()
    by_role["pass rate %"] = (by_role["passed"] / by_role["people"] * 100).round()
    st.altair_chart(alt.Chart(by_role, height=260).mark_bar().encode(
        x=alt.X("role:N", title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("pass rate %:Q", scale=alt.Scale(domain=[0, 100])),
        tooltip=["role", "people", "passed", "pass rate %"]), width="stretch")
    csv_button(by_role, "pass-rate-by-role")


def _scores(store) -> None:
    st.subheader("Score distribution")
    rows = records.scores(store)
    if not rows:
        st.caption("No completed quizzes yet.")
        return
    bands = pd.DataFrame(records.score_bands(rows))
    st.altair_chart(alt.Chart(bands, height=260).mark_bar().encode(
        x=alt.X("band:N", sort=None, title="score"),
        y=alt.Y("attempts:Q", title="completed attempts", axis=alt.Axis(tickMinStep=1)),
        tooltip=["band", "attempts"]), width="stretch")
    csv_button(pd.DataFrame(rows), "scores", "Download scores CSV")


def _facility(store, index) -> None:
    st.subheader("Which rules are misunderstood")
    st.caption("Facility = share of answers that were right. Low facility means staff misread that rule.")
    clauses = records.clause_facility(store)
    if not clauses:
        st.caption("No quiz answers yet.")
        return
    worst = records.most_missed(clauses)
    if worst:
        found = index.find(worst["policy"], worst["clause"]) if index else None
        where = f" — {escape_md(found.section)}" if found else ""
        st.error(f"Most missed clause: **{escape_md(worst['clause'])}**{where}: {worst['wrong']} wrong of "
                 f"{worst['answered']} answers (facility {round(worst['facility'] * 100)}%).",
                 icon=":material/priority_high:")
    clause_frame = pd.DataFrame(clauses)
    if index:
        clause_frame["section"] = [getattr(index.find(p, c), "section", "") for p, c in
                                   zip(clause_frame["policy"], clause_frame["clause"])]
    clause_frame["facility %"] = (clause_frame["facility"] * 100).round()
    tab_clause, tab_scenario = st.tabs(["By clause", "By scenario"])
    with tab_clause:
        st.altair_chart(alt.Chart(clause_frame, height=280).mark_bar().encode(
            x=alt.X("clause:N", sort=None), y=alt.Y("facility %:Q", scale=alt.Scale(domain=[0, 100])),
            color=alt.condition(alt.datum["facility %"] < 60, alt.value("#d9534f"), alt.value("#4c78a8")),
            tooltip=["clause", "answered", "correct", "facility %"]), width="stretch")
        st.dataframe(clause_frame.drop(columns=["facility"]), hide_index=True)
        csv_button(clause_frame, "clause-facility")
    with tab_scenario:
        scenario_frame = pd.DataFrame(records.scenario_facility(store))
        prompts = scenario_prompts()
        scenario_frame["prompt"] = scenario_frame["scenario"].map(lambda s: prompts.get(s, ""))
        scenario_frame["facility %"] = (scenario_frame["facility"] * 100).round()
        st.altair_chart(alt.Chart(scenario_frame).mark_bar().encode(
            y=alt.Y("scenario:N", sort=None), x=alt.X("facility %:Q", scale=alt.Scale(domain=[0, 100])),
            tooltip=["scenario", "answered", "correct", "facility %"]), width="stretch")
        st.dataframe(scenario_frame.drop(columns=["facility"]), hide_index=True)
        csv_button(scenario_frame, "scenario-facility")


def render() -> None:
    """Draw the coordinator dashboard."""
    store = session.require_store()
    session.require_coordinator(store)
    st.title("Training dashboard")
    index, problem = try_index()
    if problem:
        st.warning(escape_md(problem))
    review_warnings(index)
    try:
        _completion(store, index)
        from ui.views.assignments import completion as assigned_completion  # noqa: PLC0415

        assigned_completion(store, index)
        _facility(store, index)
    except StoreUnavailable as exc:
        st.error(str(exc))
