"""Coordinator dashboard: completion by person, pass rate, score distribution, and per-scenario/clause facility."""
from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from bot.training import reports
from bot.training.roles import ROLE_LABELS
from bot.training.bank import QuizBankError, load_bank
from bot.training.store import StoreUnavailable
from knowledge.settings import get_settings
from ui import session
from ui.policy_docs import try_index
from ui.render import clause_label, escape_md, safe_csv, short, uk_when


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
    for item in reports.review_warnings(index.policies if index else {}):
        st.warning(f"**{escape_md(item['title'])}** was due for review in {escape_md(item['review_date'])} "
                   f"({item['days_overdue']} days ago). Upload the reviewed version under **Policies & roster**.",
                   icon=":material/event_busy:")


STATUS_FILTERS = ["Everyone", "Not signed", "Not passed", "Not started"]


def percent_bars(frame: pd.DataFrame, label: str, value: str, *, title: str, tooltip: list[str],
                 height: int | None = None, horizontal: bool = False) -> alt.LayerChart:
    """Bars of a 0-100 value with the figure written on each bar; a 0% bar is drawn as a thin red stub so it is
    not mistaken for a gap."""
    data = frame.assign(_shown=frame[value].clip(lower=1.5), _text=frame[value].map(lambda v: f"{v:.0f}%"))
    scale = alt.Scale(domain=[0, 100])
    category = alt.Y(f"{label}:N", sort=None, title=None, axis=alt.Axis(labelLimit=230)) if horizontal else \
        alt.X(f"{label}:N", sort=None, title=None, axis=alt.Axis(labelAngle=0, labelLimit=160))
    amount = alt.X("_shown:Q", scale=scale, title=title) if horizontal else alt.Y("_shown:Q", scale=scale, title=title)
    base = alt.Chart(data, **({"height": height} if height else {})).encode(category, amount)
    bars = base.mark_bar().encode(
        color=alt.condition(alt.datum[value] < 60, alt.value("#d9534f"), alt.value("#4c78a8")), tooltip=tooltip)
    text = base.mark_text(align="left" if horizontal else "center", baseline="middle" if horizontal else "bottom",
                          dx=3 if horizontal else 0, dy=0 if horizontal else -3).encode(text="_text:N")
    return bars + text


def _completion(store, index) -> None:
    versions = {p: m.get("checksum", "") for p, m in index.policies.items()} if index else None
    rows = reports.completion(store, versions)
    st.subheader("Completion")
    if not rows:
        st.info("Nobody is on the roster yet. Upload the staff roster under **Policies & roster**.")
        return
    frame = pd.DataFrame(rows)
    roles = sorted(frame["role"].dropna().unique())
    left, right = st.columns([2, 1])
    chosen = left.multiselect("Roles", roles, default=roles, format_func=lambda r: ROLE_LABELS.get(r, r),
                              key="filter-roles")
    show = right.selectbox("Show", STATUS_FILTERS, key="filter-status")
    view = frame[frame["role"].isin(chosen)]
    if show == "Not signed":
        view = view[~view["signed"]]
    elif show == "Not passed":
        view = view[~view["passed"]]
    elif show == "Not started":
        view = view[view["attempts"] == 0]
    st.caption("The roles and the *Show* filter apply to every table and chart on this page.")
    totals = reports.summary(view.to_dict("records"))
    cols = st.columns(4)
    cols[0].metric("People", totals["people"])
    cols[1].metric("Signed", totals["signed"])
    cols[2].metric("Passed", totals["passed"])
    cols[3].metric("Pass rate", f"{round(totals['pass_rate'] * 100)}%" if totals["pass_rate"] is not None else "—")
    table = completion_table(view)
    st.dataframe(table, hide_index=True, column_config={
        "Name": st.column_config.TextColumn("Name", pinned=True),
        "Signed current version": st.column_config.CheckboxColumn("Signed current version"),
        "Passed": st.column_config.CheckboxColumn("Passed"),
    })
    csv_button(table, "completion")
    emails = set(view["email"])
    left, right = st.columns(2)
    with left:
        _pass_rate(view)
    with right:
        _scores(store, emails)
    _facility(store, index, emails)


def completion_table(view: pd.DataFrame) -> pd.DataFrame:
    """The completion rows with human column names, role labels and UK dates."""
    return pd.DataFrame({
        "Name": view["name"], "Role": view["role"].map(lambda r: ROLE_LABELS.get(r, r)),
        "Signed current version": view["signed"], "Signed on": view["signed_at"].map(lambda v: uk_when(v, time=False)),
        "Quiz attempts": view["attempts"],
        "Best score": view["best_score"].map(lambda s: "—" if pd.isna(s) else f"{round(s * 100)}%"),
        "Passed": view["passed"], "Last activity": view["last_activity"].map(uk_when),
        "Account claimed": view["claimed_at"].map(lambda v: uk_when(v, time=False)), "Email": view["email"],
    })


def _pass_rate(view: pd.DataFrame) -> None:
    st.subheader("Pass rate by role")
    if view.empty:
        st.caption("Nobody matches the filters.")
        return
    by_role = view.groupby("role").agg(people=("email", "count"), passed=("passed", "sum")).reset_index()
    by_role = pd.DataFrame({"Role": by_role["role"].map(lambda r: ROLE_LABELS.get(r, r)), "People": by_role["people"],
                            "Passed": by_role["passed"].astype(int),
                            "Pass rate %": (by_role["passed"] / by_role["people"] * 100).round()})
    st.altair_chart(percent_bars(by_role, "Role", "Pass rate %", title="pass rate %", horizontal=True,
                                 tooltip=["Role", "People", "Passed", "Pass rate %"]), width="stretch")
    csv_button(by_role, "pass-rate-by-role")


def _scores(store, emails: set[str]) -> None:
    st.subheader("Score distribution")
    rows = reports.scores(store, emails)
    if not rows:
        st.caption("No completed quizzes by the people shown.")
        return
    bands = pd.DataFrame(reports.score_bands(rows)).rename(columns={"band": "Score", "attempts": "Completed quizzes"})
    st.altair_chart(alt.Chart(bands, height=260).mark_bar().encode(
        x=alt.X("Score:N", sort=None, title="score", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("Completed quizzes:Q", axis=alt.Axis(tickMinStep=1)),
        tooltip=["Score", "Completed quizzes"]), width="stretch")
    scores_csv = pd.DataFrame([{"Role": ROLE_LABELS.get(r["role"], r["role"]), "Score %": round(r["score"] * 100),
                                "Passed": "Yes" if r["passed"] else "No", "Finished": uk_when(r["finished"])}
                               for r in rows])
    csv_button(scores_csv, "scores", "Download scores CSV")


def _policy_title(index, policy: str) -> str:
    return (index.policies.get(policy, {}).get("title") if index else None) or policy.replace("-", " ").capitalize()


def _facility(store, index, emails: set[str]) -> None:
    st.subheader("Which rules are misunderstood")
    st.caption("Facility = share of answers that were right. Low facility means staff misread that rule. "
               f"A clause is only called *most missed* once it has {reports.MIN_ANSWERS} answers.")
    clauses = reports.clause_facility(store, emails)
    if not clauses:
        st.caption("No quiz answers by the people shown yet.")
        return
    label = {(c["policy"], c["clause"]): clause_label(index.find(c["policy"], c["clause"]) if index else None,
                                                      c["clause"]) for c in clauses}
    worst = reports.most_missed(clauses)
    if worst:
        st.error(f"Most missed clause: **{escape_md(label[(worst['policy'], worst['clause'])])}** "
                 f"({escape_md(_policy_title(index, worst['policy']))}): {worst['wrong']} wrong of "
                 f"{worst['answered']} answers (facility {round(worst['facility'] * 100)}%).",
                 icon=":material/priority_high:")
    else:
        st.caption(f"No clause has {reports.MIN_ANSWERS} or more answers with mistakes yet, so none is named most "
                   "missed.")
    clause_frame = pd.DataFrame({
        "Clause": [label[(c["policy"], c["clause"])] for c in clauses],
        "Policy": [_policy_title(index, c["policy"]) for c in clauses],
        "Answers": [c["answered"] for c in clauses], "Right": [c["correct"] for c in clauses],
        "Wrong": [c["wrong"] for c in clauses], "Facility %": [round(c["facility"] * 100) for c in clauses]})
    pinned = {"Clause": st.column_config.TextColumn("Clause", pinned=True, width="large"),
              "Scenario": st.column_config.TextColumn("Scenario", pinned=True, width="large")}
    tab_clause, tab_scenario = st.tabs(["By clause", "By scenario"])
    with tab_clause:
        st.altair_chart(percent_bars(clause_frame, "Clause", "Facility %", title="facility %", horizontal=True,
                                     tooltip=["Clause", "Policy", "Answers", "Right", "Facility %"]),
                        width="stretch")
        st.dataframe(clause_frame, hide_index=True, column_config=pinned)
        csv_button(clause_frame, "clause-facility")
    with tab_scenario:
        prompts = scenario_prompts()
        scenarios = reports.scenario_facility(store, emails)
        scenario_frame = pd.DataFrame({
            "Scenario": [short(prompts.get(s["scenario"]) or "(a scenario no longer in the quiz)", 80)
                         for s in scenarios],
            "Policy": [_policy_title(index, s["policy"]) for s in scenarios],
            "Answers": [s["answered"] for s in scenarios], "Right": [s["correct"] for s in scenarios],
            "Facility %": [round(s["facility"] * 100) for s in scenarios]})
        st.altair_chart(percent_bars(scenario_frame, "Scenario", "Facility %", title="facility %", horizontal=True,
                                     tooltip=["Scenario", "Answers", "Right", "Facility %"]), width="stretch")
        st.dataframe(scenario_frame, hide_index=True, column_config=pinned)
        csv_button(scenario_frame, "scenario-facility")


def _report(store, index) -> None:
    """One click: the printable compliance report (PDF) of a policy for governors and inspectors."""
    if index is None or not index.policies:
        return
    with st.container(border=True):
        left, right = st.columns([3, 2], vertical_alignment="bottom")
        policy = left.selectbox("Compliance report for governors and inspectors", list(index.policies),
                                format_func=lambda p: index.policies[p].get("title") or p, key="report-policy")
        from bot.training.compliance_pdf import compliance, compliance_pdf  # noqa: PLC0415

        # built only when clicked (deferred data): a 30-person report takes ~2.5 s on a busy 2-core machine
        right.download_button("Download the report (PDF)", lambda: compliance_pdf(compliance(store, index, policy)),
                              f"compliance-{policy}.pdf", "application/pdf", key="dl-report",
                              icon=":material/picture_as_pdf:", type="primary")
        st.caption("Who has signed and passed, by role and with dates; pass rates; overdue staff; the policy's review "
                   "status. Open it and print.")


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
        _report(store, index)
        _completion(store, index)
        from ui.views.assignments import completion as assigned_completion  # noqa: PLC0415

        assigned_completion(store, index)
    except StoreUnavailable as exc:
        st.error(str(exc))
