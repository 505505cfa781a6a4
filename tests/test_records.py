"""Record queries over a real SQLite database filled by the real quiz engine and the real scenario bank."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.training import accounts
from bot.training import reports
from bot.training.store import QuestionLink, Store
from knowledge.parser import parse_file
from knowledge.search import normalise_question
from ui.demo import quiz_engine, seed_demo, take_quiz

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "data" / "policies" / "social-media-policy.md"
QUIZZES = ROOT / "data" / "quizzes"


@pytest.fixture(scope="module")
def clauses():
    return parse_file(POLICY).clauses


@pytest.fixture
def store(sqlite_url) -> Store:
    return Store(sqlite_url)


@pytest.fixture
def seeded(store, clauses):
    seed_demo(store, clauses, QUIZZES, passwords=False)
    return store


def test_my_records_are_only_mine(seeded):
    alice = reports.my_attempts(seeded, "alice@school.example")
    bob = reports.my_attempts(seeded, "bob@school.example")
    assert len(alice) == 2 and len(bob) == 2
    assert {a["attempt"] for a in alice}.isdisjoint({b["attempt"] for b in bob})
    assert all(a["status"] == "completed" and a["answered"] == a["questions"] == 10 for a in alice)
    summary = reports.my_summary(seeded, "alice@school.example")
    assert summary["completed"] == 2
    assert summary["best_score"] == max(a["score"] for a in alice)
    assert summary["passed"] == any(a["passed"] for a in alice)
    assert reports.my_attempts(seeded, "vera@school.example") == []
    assert reports.my_summary(seeded, "nobody@school.example")["attempts"] == 0


def test_reread_lists_clauses_whose_latest_answer_was_wrong(store, clauses):
    accounts.import_roster(store, "name,email,role\nZed,zed@school.example,teacher\n")
    engine = quiz_engine(store, clauses, QUIZZES, length=3)
    take_quiz(engine, "zed@school.example", accuracy=0.0, seed=1)
    wrong = {r["clause"] for r in reports.my_summary(store, "zed@school.example")["reread"]}
    assert wrong and all(r["policy"] == "social-media-policy" for r in
                         reports.my_summary(store, "zed@school.example")["reread"])
    known = {c.clause for c in clauses}
    assert wrong <= known


def test_signoff_recorded_with_name_role_date_and_version(seeded):
    row = reports.record_signoff(seeded, "gwen@school.example", policy="social-media-policy",
                                 document="Appendix 3 — Governing Body Document", policy_version="abc123",
                                 signed_name="  Gwen   Governor ", role="governor")
    assert row["signed_name"] == "Gwen Governor" and row["role"] == "governor" and row["signed_at"]
    mine = reports.my_signoffs(seeded, "gwen@school.example")
    assert [s["policy_version"] for s in mine] == ["abc123"]
    assert reports.my_signoffs(seeded, "alice@school.example") == []
    with pytest.raises(ValueError):
        reports.record_signoff(seeded, "gwen@school.example", policy="p", document="d", policy_version="v",
                               signed_name=" ", role=None)


def test_completion_table_and_summary(seeded):
    reports.record_signoff(seeded, "alice@school.example", policy="social-media-policy", document="Appendix 1",
                           policy_version="v1", signed_name="Alice Teacher", role="teacher")
    rows = {r["email"]: r for r in reports.completion(seeded)}
    assert set(rows) == {"alice@school.example", "bob@school.example", "gwen@school.example",
                         "carl@school.example", "vera@school.example"}
    assert rows["alice@school.example"]["signed"] and not rows["bob@school.example"]["signed"]
    assert rows["alice@school.example"]["attempts"] == 2 and rows["vera@school.example"]["attempts"] == 0
    assert rows["vera@school.example"]["best_score"] is None and not rows["vera@school.example"]["passed"]
    assert rows["alice@school.example"]["last_activity"]
    # with the current version known, an old signature no longer counts
    assert not {r["email"]: r for r in reports.completion(seeded, {"social-media-policy": "v2"})}[
        "alice@school.example"]["signed"]
    totals = reports.summary(list(rows.values()))
    assert totals["people"] == 5 and totals["attempted"] == 4
    assert totals["pass_rate"] == totals["passed"] / 5


def test_scores_and_bands(seeded):
    rows = reports.scores(seeded)
    assert len(rows) == 6
    bands = reports.score_bands(rows)
    assert len(bands) == 11 and sum(b["attempts"] for b in bands) == 6
    assert bands[-1]["band"] == "100%"


def test_facility_by_scenario_and_clause_names_most_missed(seeded):
    scenarios = reports.scenario_facility(seeded)
    assert sum(s["answered"] for s in scenarios) == 60
    assert all(0 <= s["facility"] <= 1 for s in scenarios)
    assert scenarios == sorted(scenarios, key=lambda s: (s["facility"], -s["answered"]))
    clauses = reports.clause_facility(seeded)
    assert all(c["correct"] + c["wrong"] == c["answered"] for c in clauses)
    worst = reports.most_missed(clauses)
    assert worst["wrong"] == max(c["wrong"] for c in clauses if c["answered"] >= reports.MIN_ANSWERS)
    assert reports.most_missed([{"wrong": 0, "facility": 1.0, "answered": 3}]) is None
    # one wrong answer out of one is not "most missed": a clause needs MIN_ANSWERS answers first
    few = [{"clause": "1.1", "wrong": 1, "facility": 0.0, "answered": 1},
           {"clause": "2.1", "wrong": 2, "facility": 0.6, "answered": 5}]
    assert reports.most_missed(few)["clause"] == "2.1"
    assert reports.most_missed(few[:1]) is None
    # the dashboard's filters: only the chosen people's answers count
    alice = reports.clause_facility(seeded, {"alice@school.example"})
    assert 0 < sum(c["answered"] for c in alice) < sum(c["answered"] for c in clauses)
    assert reports.scenario_facility(seeded, set()) == [] and reports.scores(seeded, set()) == []
    assert {r["email"] for r in reports.scores(seeded, {"alice@school.example"})} == {"alice@school.example"}


def test_unanswered_questions_grouped_linked_and_not_covered(seeded):
    rows = reports.unanswered_questions(seeded)
    dog = normalise_question("Can I bring my dog to school?")
    assert rows[0]["normalised"] == dog and rows[0]["count"] == 2 and rows[0]["people"] == 2
    assert {r["status"] for r in rows} == {"open"}
    reports.link_question(seeded, dog, "social-media-policy", "6.3", by="coord@school.example")
    assert dog not in {r["normalised"] for r in reports.unanswered_questions(seeded)}
    decided = {r["normalised"]: r for r in reports.unanswered_questions(seeded, include_decided=True)}
    assert decided[dog]["status"] == "linked" and decided[dog]["linked_clause"] == "6.3"
    # the action server's searcher reads links through Store.question_links
    assert seeded.question_links()[dog] == [("social-media-policy", "6.3")]
    canteen = normalise_question("What time does the canteen open?")
    reports.mark_not_covered(seeded, canteen, by="coord@school.example")
    reports.link_question(seeded, canteen, "social-media-policy", "6.4")  # changing a decision updates it
    with seeded.session() as session:
        assert session.query(QuestionLink).filter_by(normalised=canteen).one().clause == "6.4"
    reports.reopen_question(seeded, canteen)
    assert canteen in {r["normalised"] for r in reports.unanswered_questions(seeded)}
    with pytest.raises(ValueError):
        reports.link_question(seeded, dog, "", "")


def test_policy_versions(store):
    reports.record_policy_version(store, policy="p", checksum="c1", title="Policy", uploaded_by="coord",
                                  changes={"added": ["1.1"], "removed": [], "changed": ["2.1", "2.2"]})
    rows = reports.policy_versions(store)
    assert rows[0]["added"] == "1.1" and rows[0]["changed"] == "2.1, 2.2" and rows[0]["uploaded_by"] == "coord"


@pytest.mark.parametrize("text,expected", [
    ("March 2023", date(2023, 3, 31)),
    ("Mar 2023", date(2023, 3, 31)),
    ("Sept. 2024", date(2024, 9, 30)),
    ("1 September 2024", date(2024, 9, 1)),
    ("3rd June 2025", date(2025, 6, 3)),
    ("2024-02", date(2024, 2, 29)),
    ("2024-02-10", date(2024, 2, 10)),
    ("10/02/2024", date(2024, 2, 10)),
    ("02/2024", date(2024, 2, 29)),
    ("Summer term 2025", date(2025, 7, 31)),
    ("2026", date(2026, 12, 31)),
    ("annually", None),
    ("", None),
    (None, None),
])
def test_parse_review_date(text, expected):
    assert reports.parse_review_date(text) == expected


def test_review_warnings():
    policies = {"old": {"title": "Old", "review_date": "March 2023"}, "new": {"title": "New", "review_date": "2099"},
                "none": {"title": "None"}}
    warnings = reports.review_warnings(policies, today=date(2024, 1, 1))
    assert [w["policy"] for w in warnings] == ["old"] and warnings[0]["days_overdue"] == 276


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_result_screen_and_my_training_list_the_same_clauses_to_reread(store, clauses, seed):
    accounts.import_roster(store, "name,email,role\nYan,yan@school.example,teacher\n")
    engine = quiz_engine(store, clauses, QUIZZES, length=10)
    take_quiz(engine, "yan@school.example", accuracy=0.5, seed=seed)  # first attempt: some wrong
    take_quiz(engine, "yan@school.example", accuracy=0.6, seed=seed + 10)  # second attempt revisits clauses
    result = engine.last_result("yan@school.example")
    mine = reports.my_summary(store, "yan@school.example")["reread"]
    assert result["reread"] == [r["clause"] for r in mine if r["policy"] == result["policy"]]
    # A clause whose latest answer was right is not listed even if an earlier answer on it was wrong.
    with store.session() as session:
        from bot.training.quiz import answer_rows
        from bot.training.store import Staff

        staff = session.query(Staff).filter_by(sender_id="yan@school.example").one()
        rows = answer_rows(session, staff.id)
    latest = {}
    for _, ids, correct in rows:
        for clause in ids:
            latest[clause] = correct
    assert set(result["reread"]) == {c for c, ok in latest.items() if not ok}
    assert any(not ok for _, _, ok in rows) and any(ok for _, _, ok in rows)


def test_ratings_group_by_question_and_a_rerating_replaces(store):
    cites = [{"policy": "social-media-policy", "clause": "6.3", "text": "..."}]
    q = "Can I accept a friend request from a pupil?"
    for sender, helpful in (("alice@school.example", False), ("bob@school.example", False),
                            ("carol@school.example", True)):
        reports.rate_answer(store, sender, question=q, normalised=normalise_question(q), citations=cites,
                            helpful=helpful)
    reports.rate_answer(store, "bob@school.example", question=q, normalised=normalise_question(q), citations=cites,
                        helpful=True)  # bob changes his mind: still one rating from bob
    assert reports.poorly_rated(store) == []  # 1 down, 2 up
    reports.rate_answer(store, "dave@school.example", question=q, normalised=normalise_question(q),
                        citations=cites, helpful=False)
    reports.rate_answer(store, "erin@school.example", question=q, normalised=normalise_question(q),
                        citations=cites, helpful=False)
    [row] = reports.poorly_rated(store)
    assert (row["count"], row["helpful"], row["people"]) == (3, 2, 3)
    assert (row["nearest_policy"], row["nearest_clause"], row["cited"]) == ("social-media-policy", "6.3", "6.3")
    reports.link_question(store, row["normalised"], "social-media-policy", "6.5")
    assert reports.poorly_rated(store) == []
    assert reports.poorly_rated(store, include_decided=True)[0]["linked_clause"] == "6.5"
    assert store.question_links() == {normalise_question(q): [("social-media-policy", "6.5")]}


AGREEMENT = {"policy": "social-media-policy", "document": "Appendix 1 — Acceptable Use Agreement", "version": "v2",
             "title": "Acceptable Use Agreement"}


def test_todo_for_a_newcomer_then_mid_quiz_then_up_to_date(seeded, clauses):
    sender = "dora@school.example"
    todo = reports.my_todo(seeded, sender, agreement=AGREEMENT)
    assert [t["kind"] for t in todo] == ["quiz_take", "agreement"]
    assert todo[1]["text"] == "Sign the Acceptable Use Agreement."
    engine = quiz_engine(seeded, clauses, QUIZZES)
    from ui.demo import choice_token

    question, _ = engine.start(sender, seed=1)
    for _ in range(3):
        engine.answer(sender, choice_token(question.attempt_id, question.position, question.options[0].id))
        question = engine.current(sender)
    todo = reports.my_todo(seeded, sender, agreement=AGREEMENT)
    assert todo[0]["kind"] == "quiz_continue" and todo[0]["text"] == "Continue your quiz: question 4 of 10."
    engine.stop(sender)
    take_quiz(engine, sender, 1.0, seed=2)
    reports.record_signoff(seeded, sender, policy="social-media-policy", document=AGREEMENT["document"],
                           policy_version="v1", signed_name="Dora", role="teacher")
    todo = reports.my_todo(seeded, sender, agreement=AGREEMENT)
    assert [t["kind"] for t in todo] == ["agreement"] and todo[0]["resign"]  # signed an older version only
    reports.record_signoff(seeded, sender, policy="social-media-policy", document=AGREEMENT["document"],
                           policy_version="v2", signed_name="Dora", role="teacher")
    assert reports.my_todo(seeded, sender, agreement=AGREEMENT) == []


def test_todo_is_only_about_the_signed_in_person(seeded):
    carl, alice = "carl@school.example", "alice@school.example"
    assert not reports.my_summary(seeded, carl)["passed"] and reports.my_summary(seeded, alice)["passed"]
    best = round(reports.my_summary(seeded, carl)["best_score"] * 100)
    assert reports.my_todo(seeded, carl, agreement=None) == [
        {"kind": "quiz_take", "text": f"Retake the scenario quiz: your best so far is {best}%."}]
    assert reports.my_todo(seeded, alice, agreement=None) == []


def test_a_missing_sqlite_database_is_refused_not_recreated(tmp_path):
    import stat

    from bot.training.store import DatabaseMissing, Store, _stores

    path = tmp_path / "var" / "coach.db"
    url = f"sqlite:///{path}"
    store = Store(url)  # first-time setup creates it, private to its owner
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    store.log_question("someone@school.example", "q", "q", {"answered": False})
    store.engine.dispose()
    path.unlink()
    with pytest.raises(DatabaseMissing, match="missing, though it was set up before"):
        store.log_question("someone@school.example", "q", "q", {"answered": False})
    with pytest.raises(DatabaseMissing):
        Store(url)
    assert not path.exists()
    _stores.pop(url, None)


def test_near_duplicate_questions_grouped_not_covered_contact_and_low_confidence(seeded):
    for question in ("Can I bring my dogs into school?", "How much maternity pay do I get?"):
        seeded.log_question("bob@school.example", question, normalise_question(question),
                            {"answered": False, "reason": "out_of_scope", "citations": []})
    rows = reports.unanswered_questions(seeded)
    dog = next(r for r in rows if r["normalised"] == normalise_question("Can I bring my dog to school?"))
    assert dog["count"] == 3 and normalise_question("Can I bring my dogs into school?") in dog["variants"]
    assert not any(r["normalised"] == normalise_question("Can I bring my dogs into school?") for r in rows)
    pay = normalise_question("How much maternity pay do I get?")
    reports.mark_not_covered(seeded, pay, by="coord@school.example", contact="  HR  (Mrs Patel, hr@school.example) ")
    assert reports.topic_contacts(seeded) == [(pay, "HR (Mrs Patel, hr@school.example)")]
    decided = {r["normalised"]: r for r in reports.unanswered_questions(seeded, include_decided=True)}
    assert decided[pay]["status"] == "not_covered" and decided[pay]["contact"].startswith("HR")
    reports.mark_not_covered(seeded, normalise_question("What time does the canteen open?"))  # no contact given
    assert [q for q, _ in reports.topic_contacts(seeded)] == [pay]
    # answered questions whose best clause matched least well are listed lowest score first
    for question, score in (("Can I text a parent?", 0.21), ("Can I friend a pupil?", 0.93),
                            ("Can I post photos?", 0.4)):
        seeded.log_question("alice@school.example", question, normalise_question(question), {
            "answered": True, "citations": [{"policy": "social-media-policy", "clause": "6.3", "score": score}]})
    low = reports.low_confidence_answers(seeded, limit=2)
    assert [r["question"] for r in low] == ["Can I text a parent?", "Can I post photos?"]
    assert reports.low_confidence_answers(seeded, below=0.3)[0]["score"] == 0.21
