# ruff: noqa: F811  (pytest fixtures imported from test_ui_app are re-bound as test arguments)
"""AppTest checks that every coordinator page reads like a product: no internal names, ISO timestamps, doc. ids,
hashes or "None" on screen, with every page in the state a coordinator sees after real work."""
from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from bot.training import assignments
from bot.training import reports
from knowledge.encoder import HashingEncoder
from knowledge.index import ingest, load
from knowledge.search import normalise_question
from tests.test_ui_app import (  # noqa: F401  (fixtures)
    upload_and_wait,
    POLICY,
    app,
    as_coordinator,
    env,
    hashing_index,
    no_exceptions,
    open_page,
    seeded,
    seeded_template,
    texts,
)

ROOT = Path(__file__).resolve().parent.parent
LONE = ROOT / "tests" / "fixtures" / "policies" / "lone-working-policy.txt"
PAGES = ["dashboard", "questions", "manage", "quizzes", "assignments"]
INTERNAL = {
    "a `_`-joined name": re.compile(r"\b[a-z]+_[a-z_]+\b"),
    "an ISO timestamp": re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2})?"),
    "a doc. id": re.compile(r"\bdoc\.[a-z]"),
    "a hash": re.compile(r"\b[0-9a-f]{12,}\b"),
    "None": re.compile(r"\bNone\b|\bnan\b|\bNaN\b"),
}


def on_screen(at) -> list[str]:
    """Every piece of text a coordinator can see: markdown, labels, table headers and cells, options, buttons."""
    parts = texts(at).splitlines()
    for frame in at.dataframe:
        value = frame.value
        if isinstance(value, pd.DataFrame):
            parts += [str(c) for c in value.columns]
            # st.dataframe draws a missing value as "None", so every cell counts (str(NaN) is "nan": caught too)
            parts += [str(v) for v in value.to_numpy().ravel()]
    for kind in ("selectbox", "multiselect", "radio"):
        for widget in getattr(at, kind):
            parts.append(str(widget.label))
            parts += [str(o) for o in widget.options]
    for kind in ("button", "text_input", "checkbox", "date_input", "text_area", "tabs"):
        parts += [str(getattr(w, "label", "")) for w in getattr(at, kind)]
    parts += [str(b.label) for b in at.get("download_button")]
    return parts


def offenders(at) -> dict[str, list[str]]:
    """The visible strings that leak an internal name, by kind."""
    found: dict[str, list[str]] = {}
    for text in on_screen(at):
        for what, pattern in INTERNAL.items():
            if pattern.search(text):
                found.setdefault(what, []).append(text[:120])
    return found


@pytest.fixture
def busy(env, seeded):
    """The seeded school after a coordinator's real work: two policies, a new version with changed wording, a
    decided question with a contact, an assignment with someone overdue, a rated answer and a low-confidence one."""
    ingest([POLICY, LONE], Path(env["POLICY_COACH_INDEX"]), HashingEncoder())
    assignments.set_assignment(seeded, "social-media-policy", "support_staff", due=date.today() + timedelta(days=3),
                               sign=True, quiz=True, section=None, by="coord@school.example")
    with seeded.session() as session:
        from bot.training.store import Assignment
        session.query(Assignment).update({"due": date.today() - timedelta(days=2)})
    reports.mark_not_covered(seeded, normalise_question("What time does the canteen open?"),
                             by="coord@school.example", contact="The office (office@school.example)")
    reports.link_question(seeded, normalise_question("Who sets the car park rules?"), "social-media-policy",
                          "doc.person-responsible-for-policy", by="coord@school.example")
    seeded.log_question("alice@school.example", "Can I text a parent?", "can i text a parent", {
        "answered": True, "citations": [{"policy": "social-media-policy", "clause": "doc.person-responsible-for-policy",
                                         "score": 0.2}]})
    reports.rate_answer(seeded, "bob@school.example", question="Can I post photos?", normalised="can i post photos",
                        citations=[{"policy": "social-media-policy", "clause": "doc.approved"}], helpful=False)
    return seeded


@pytest.mark.parametrize("page", PAGES)
def test_no_internal_names_on_any_coordinator_page(env, busy, page):
    at = open_page(as_coordinator(app(), busy).run(), page)
    if page == "quizzes":  # the first policy (lone working) has no quiz yet: open the one that has
        at = at.selectbox(key="quiz-policy").set_value("social-media-policy").run()
    no_exceptions(at)
    assert len(on_screen(at)) > 20  # the page really drew its tables and forms
    assert offenders(at) == {}


def test_the_scan_catches_internal_names(env, seeded):
    """The scan is not blind: the raw completion rows it replaced would fail it."""
    rows = reports.completion(seeded)
    raw = [str(c) for c in rows[0]] + [str(v) for v in rows[0].values()]
    hits = {what for text in raw for what, pattern in INTERNAL.items() if pattern.search(text)}
    assert {"a `_`-joined name", "an ISO timestamp", "None"} <= hits


def test_upload_shows_old_and_new_wording_side_by_side_and_keeps_it_in_history(env, seeded):
    at = open_page(as_coordinator(app(), seeded).run(), "manage")
    changed = POLICY.read_text(encoding="utf-8").replace("6.3 Staff members must not", "6.3 Staff members must never")
    at.file_uploader(key="policy-file").upload("anything.md", changed.encode(), "text/markdown")
    at.selectbox(key="policy-target").set_value("social-media-policy")
    at, _ = upload_and_wait(at)
    no_exceptions(at)
    page = texts(at)
    old = next(c.text for c in load(Path(env["POLICY_COACH_INDEX"])).clauses if c.clause == "6.3")
    assert "Changed: 6.3" in page and "Old wording" in page and "New wording" in page
    assert "must never" in page and old.replace("must never", "must not")[:60] in page
    [version] = reports.policy_versions(seeded)
    assert version["wording"][0]["clause"] == "6.3" and "must not" in version["wording"][0]["old"]
    assert offenders(at) == {}


def test_questions_start_with_no_clause_chosen_and_not_covered_stores_the_contact(env, seeded):
    at = open_page(as_coordinator(app(), seeded).run(), "questions")
    no_exceptions(at)
    picks = [s for s in at.selectbox if s.key and s.key.startswith("pick-")]
    assert picks and all(s.value is None for s in picks)
    assert all(b.disabled for b in at.button if b.key and b.key.startswith("link-"))
    dog = next(b for b in at.button if b.key and b.key.startswith("nc-"))
    k = dog.key[3:]
    at.text_input(key=f"contact-{k}").input("HR (Mrs Patel, hr@school.example)")
    at.button(key=f"nc-{k}").click().run()
    no_exceptions(at)
    assert "told to ask HR (Mrs Patel, hr@school.example)" in texts(at)
    [(question, contact)] = reports.topic_contacts(seeded)
    assert contact == "HR (Mrs Patel, hr@school.example)" and "dog" in question
    decided = [d.value for d in at.dataframe if "Staff are told to ask" in d.value.columns][0]
    assert "HR (Mrs Patel, hr@school.example)" in set(decided["Staff are told to ask"])


def test_roster_job_titles_editable_and_messages_cleared_by_the_next_action(env, seeded):
    at = open_page(as_coordinator(app(), seeded).run(), "manage")
    csv = b"name,email,role\nDee Dinner,dee@school.example,Dinner Lady\nTia Ass,tia@school.example,TA\n"
    at.file_uploader(key="roster-file").upload("roster.csv", csv, "text/csv")
    at.button(key="FormSubmitter:roster-upload-Import roster").click().run()
    no_exceptions(at)
    errors = [d.value for d in at.dataframe if "Problem" in d.value.columns][0]
    assert errors.iloc[0]["Problem"].startswith("Dee Dinner:") and "Dinner Lady" in errors.iloc[0]["Problem"]
    at.text_input(key="job-title-text").input("Dinner lady")
    at.selectbox(key="job-title-role").set_value("support_staff")
    at.button(key="FormSubmitter:job-title-Save job title").click().run()
    no_exceptions(at)
    assert "now counts as Support staff" in texts(at)
    assert not [d for d in at.dataframe if "Problem" in d.value.columns]  # the import's message is gone
    assert not any("1 added" in s.value for s in at.success)
    at.button(key="FormSubmitter:roster-upload-Import roster").click().run()
    roles = {r["email"]: r["role"] for r in reports.completion(seeded)}
    assert roles["dee@school.example"] == "support_staff" and roles["tia@school.example"] == "support_staff"
    assert "now counts as" not in texts(at)


def test_dashboard_filters_apply_to_every_chart_and_table(env, seeded):
    at = as_coordinator(app(), seeded).run()
    no_exceptions(at)
    every = [len(d.value) for d in at.dataframe]
    at.multiselect(key="filter-roles").set_value(["governor"]).run()
    no_exceptions(at)
    completion = at.dataframe[0].value
    assert list(completion["Name"]) == ["Gwen Governor"]
    clause_table = [d.value for d in at.dataframe if "Facility %" in d.value.columns and "Clause" in d.value.columns][0]
    gwen = reports.clause_facility(seeded, {"gwen@school.example"})
    assert clause_table["Answers"].sum() == sum(c["answered"] for c in gwen)
    assert [len(d.value) for d in at.dataframe] != every


def test_compliance_report_pdf_opens_and_names_the_right_people(env, seeded):
    import io

    import pdfplumber

    from bot.training.compliance_pdf import compliance, compliance_pdf

    index = load(Path(env["POLICY_COACH_INDEX"]))
    assignments.set_assignment(seeded, "social-media-policy", "support_staff", due=date.today() + timedelta(days=1),
                               sign=True, quiz=True, section=None, by="coord@school.example")
    with seeded.session() as session:
        from bot.training.store import Assignment
        session.query(Assignment).update({"due": date.today() - timedelta(days=5)})
    data = compliance(seeded, index, "social-media-policy")
    by_name = {r["name"]: r for r in data["rows"]}
    passed = {r["email"] for r in reports.completion(seeded) if r["passed"]}
    assert {n for n, r in by_name.items() if r["passed"]} == {r["name"] for r in reports.completion(seeded)
                                                              if r["email"] in passed}
    # Bob (support staff) passed the quiz but never signed, and the due date has passed
    assert by_name["Bob Support"]["passed"] and not by_name["Bob Support"]["signed"]
    assert [(r["name"], r["missing"]) for r in data["overdue"]] == [("Bob Support", "signature")]
    with pdfplumber.open(io.BytesIO(compliance_pdf(data))) as doc:
        text = "\n".join(page.extract_text() for page in doc.pages)
    assert "Compliance report: Guidance on Social Media Use" in text
    for name in ("Alice Teacher", "Bob Support", "Gwen Governor", "Carl Contractor", "Vera Volunteer"):
        assert name in text
    assert "Review was due March 2023" in text and "K. Formby" in text
    assert "Overdue (1)" in text and "signature" in text
    # the dashboard offers it with one click
    at = as_coordinator(app(), seeded).run()
    no_exceptions(at)
    assert "dl-report" in {b.key for b in at.download_button}
