"""Assignments, read-and-sign for any policy, re-signing only when the signed text changes, completion, overdue."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.training import assignments
from bot.training import accounts
from bot.training import banks
from bot.training.draft import draft_bank
from bot.training.quiz import QuizEngine
from bot.training.store import Store
from knowledge.encoder import HashingEncoder
from knowledge.index import ingest, load
from knowledge.parser import parse_file
from ui.demo import take_quiz

ROOT = Path(__file__).resolve().parent.parent
LONE = ROOT / "tests" / "fixtures" / "policies" / "lone-working-policy.txt"
SOCIAL = ROOT / "data" / "policies" / "social-media-policy.md"
ROSTER = "name,email,role\nSam Support,sam@school.example,support_staff\nTia Teacher,tia@school.example,teacher\n"
TODAY = date(2026, 12, 1)


@pytest.fixture
def index_dir(tmp_path) -> Path:
    directory = tmp_path / "index"
    ingest([SOCIAL, LONE], directory, HashingEncoder())
    return directory


@pytest.fixture
def store(sqlite_url) -> Store:
    store = Store(sqlite_url)
    accounts.import_roster(store, ROSTER)
    return store


def user(store: Store, email: str) -> dict:
    from sqlalchemy import select

    from bot.training.store import Staff, _staff_dict

    with store.session() as session:
        return _staff_dict(session.scalar(select(Staff).where(Staff.sender_id == email)))


def test_support_staff_see_their_assignment_sign_it_and_pass_its_quiz(store, index_dir, tmp_path):
    index = load(index_dir)
    assignments.set_assignment(store, "lone-working-policy", "support_staff", due=date(2026, 12, 15), sign=True,
                               quiz=True, by="coord@school.example")
    [todo] = assignments.todo_for(store, index, "sam@school.example", TODAY)
    assert todo["title"] == "Lone Working Policy" and todo["missing"] == "signature, quiz pass" and not todo["done"]
    assert assignments.todo_for(store, index, "tia@school.example", TODAY) == []  # teachers weren't assigned

    with pytest.raises(ValueError, match="full name"):
        assignments.sign(store, index, user(store, "sam@school.example"), "lone-working-policy", "Someone Else",
                         agreed=True)
    signed = assignments.sign(store, index, user(store, "sam@school.example"), "lone-working-policy",
                              "sam support", agreed=True)
    assert signed["role"] == "support_staff" and signed["policy_version"].startswith("text-")

    # The quiz: a drafted bank, all scenarios approved, taken and passed through the real engine.
    policy = parse_file(LONE)
    data = draft_bank(policy.policy, policy.title, policy.clauses)
    for scenario in data["scenarios"]:
        scenario["status"] = "approved"
    texts = {c.clause: c.text for c in policy.clauses}
    banks.import_yaml(store, banks.dump(data), texts, quizzes_dir=tmp_path / "q")
    engine = QuizEngine.from_dir(store, tmp_path / "q", {policy.policy: texts}, length=8)
    take_quiz(engine, "sam@school.example", accuracy=1.0, seed=1)
    [todo] = assignments.todo_for(store, index, "sam@school.example", TODAY)
    assert todo["signed"] and todo["passed"] and todo["done"] and todo["missing"] == ""


def test_a_new_version_asks_for_a_new_signature_only_if_the_signed_text_changed(store, index_dir, tmp_path):
    assignments.set_assignment(store, "lone-working-policy", "support_staff", due=None, sign=True, quiz=False,
                               section="1 Responsibilities")
    assignments.set_assignment(store, "lone-working-policy", "teacher", due=None, sign=True, quiz=False)
    index = load(index_dir)
    for email, name in (("sam@school.example", "Sam Support"), ("tia@school.example", "Tia Teacher")):
        assignments.sign(store, index, user(store, email), "lone-working-policy", name, agreed=True)
        assert assignments.todo_for(store, index, email, TODAY)[0]["done"]
    # Version 2 changes only section 2 (home visits).
    changed = tmp_path / "lone-working-policy.txt"
    changed.write_text(LONE.read_text().replace("must phone\nthe school office", "must text\nthe school office"))
    ingest([changed], index_dir, HashingEncoder())
    index = load(index_dir)
    [section_signer] = assignments.todo_for(store, index, "sam@school.example", TODAY)
    assert section_signer["signed"] and not section_signer["resign"]  # section 1 is unchanged
    [whole_signer] = assignments.todo_for(store, index, "tia@school.example", TODAY)
    assert not whole_signer["signed"] and whole_signer["resign"]


def test_completion_per_policy_and_the_overdue_list(store, index_dir):
    index = load(index_dir)
    assignments.set_assignment(store, "lone-working-policy", "all", due=date(2026, 11, 20), sign=True, quiz=False)
    assignments.set_assignment(store, "social-media-policy", "teacher", due=date(2027, 1, 31), sign=True, quiz=True)
    assignments.sign(store, index, user(store, "sam@school.example"), "lone-working-policy", "Sam Support",
                     agreed=True)
    per_policy, overdue = assignments.completion_by_policy(store, index, TODAY)
    by_title = {row["Policy"]: row for row in per_policy}
    assert by_title["Lone Working Policy"] == {"Policy": "Lone Working Policy", "Assigned": 2, "Signed": 1,
                                               "Passed": 0, "Complete": 1, "Overdue": 1}
    assert by_title["Guidance on Social Media Use for Education Establishments"]["Overdue"] == 0  # not due yet
    assert overdue == [{"Name": "Tia Teacher", "Email": "tia@school.example", "Role": "teacher",
                        "Policy": "Lone Working Policy", "Due": "20/11/2026", "Still to do": "signature"}]


def test_an_assignment_needs_something_to_do(store):
    with pytest.raises(ValueError, match="at least one"):
        assignments.set_assignment(store, "lone-working-policy", "teacher", due=None, sign=False, quiz=False)


def test_a_refresher_covers_only_the_clauses_changed_since_the_person_signed(store, index_dir, tmp_path):
    from bot.training import reports

    index = load(index_dir)
    assignments.set_assignment(store, "lone-working-policy", "support_staff", due=None, sign=True, quiz=True)
    assert assignments.changed_since_signed(store, "sam@school.example", "lone-working-policy") is None
    assignments.sign(store, index, user(store, "sam@school.example"), "lone-working-policy", "Sam Support",
                     agreed=True)
    reports.record_policy_version(store, policy="lone-working-policy", checksum="v2", title="Lone Working Policy",
                                  changes={"added": [], "removed": [], "changed": ["2.2"]}, uploaded_by="c@x")
    changed = assignments.changed_since_signed(store, "sam@school.example", "lone-working-policy")
    assert changed == {"2.2"}

    policy = parse_file(LONE)
    data = draft_bank(policy.policy, policy.title, policy.clauses)
    for scenario in data["scenarios"]:
        scenario["status"] = "approved"
    texts = {c.clause: c.text for c in policy.clauses}
    banks.import_yaml(store, banks.dump(data), texts, quizzes_dir=tmp_path / "q")
    engine = QuizEngine.from_dir(store, tmp_path / "q", {policy.policy: texts})
    question, _ = engine.start("sam@school.example", "lone-working-policy", seed=1, clauses=changed)
    assert question.total == 1 and "2.2" in question.scenario.clauses


@pytest.mark.slow
def test_assignments_store_dates_and_flags_on_postgres(request):
    import uuid

    store = Store(request.getfixturevalue("postgres_url"))  # skipped without TEST_POSTGRES_URL
    policy = f"pg-test-{uuid.uuid4().hex[:8]}"
    assignments.set_assignment(store, policy, "governor", due=date(2027, 3, 31), sign=True, quiz=False,
                               section="Appendix 3 — Governing Body Document")
    assignments.set_assignment(store, policy, "governor", due=date(2027, 4, 30), sign=True, quiz=True)  # replaces
    [row] = [r for r in assignments.list_assignments(store) if r["policy"] == policy]
    assert row == {"policy": policy, "role": "governor", "due": date(2027, 4, 30), "sign": True, "quiz": True,
                   "section": None}
    assignments.remove_assignment(store, policy, "governor")
    assert not [r for r in assignments.list_assignments(store) if r["policy"] == policy]


LONE_V2 = (LONE.read_text()
           .replace("must phone\nthe school office when they leave the visit.",
                    "must phone\nthe school office when they arrive at and when they leave the visit.")
           .replace("3.2 Staff may refuse", "3.3 Staff must carry a personal alarm when they work alone after dark.\n"
                    "3.2 Staff may refuse"))


def _answer_all_correctly(engine: QuizEngine, sender: str, question) -> bool:
    from bot.training.bank import choice_token

    while question is not None:
        pick = question.scenario.correct_option
        outcome = engine.answer(sender, choice_token(question.attempt_id, question.position, pick.id))
        if outcome.finished:
            return True
        question = engine.current(sender)
    return False


def test_a_new_version_asks_to_sign_again_and_offers_a_refresher_on_just_the_changed_clauses(tmp_path, monkeypatch,
                                                                                            sqlite_url):
    """Real SQLite, the real Lone Working policy re-uploaded with one clause reworded and one added."""
    from bot.training.quiz import NothingToDraw
    from ui.policy_admin import upload_policy

    index_dir, quizzes = tmp_path / "index", tmp_path / "quizzes"
    for name, value in {"POLICY_COACH_VAR": tmp_path / "var", "POLICY_COACH_INDEX": index_dir,
                        "POLICY_COACH_QUIZZES": quizzes, "DATABASE_URL": sqlite_url}.items():
        monkeypatch.setenv(name, str(value))
    store = Store(sqlite_url)
    accounts.import_roster(store, ROSTER)
    encoder = HashingEncoder()
    first = upload_policy(store, "lone-working-policy.txt", LONE.read_bytes(), encoder=encoder)
    assert first.ok and first.status == "added", first.message
    index = load(index_dir)
    texts = {c.clause: c.text for c in index.policy_clauses("lone-working-policy")}
    data = draft_bank("lone-working-policy", "Lone Working Policy", index.policy_clauses("lone-working-policy"))
    for scenario in data["scenarios"]:
        scenario["status"] = "approved"
    banks.import_yaml(store, banks.dump(data), texts, quizzes_dir=quizzes)
    assignments.set_assignment(store, "lone-working-policy", "support_staff", due=None, sign=True, quiz=True)
    sam = user(store, "sam@school.example")
    assignments.sign(store, index, sam, "lone-working-policy", "Sam Support", agreed=True)
    [todo] = assignments.todo_for(store, index, "sam@school.example")
    assert todo["signed"] and not todo["resign"] and todo["refresher"] is None

    second = upload_policy(store, "lone-working-policy-v2.txt", LONE_V2.encode(), replaces="lone-working-policy",
                           encoder=encoder)
    assert second.ok and second.status == "updated", second.message
    assert second.changes["changed"] == ["2.2"] and second.changes["added"] == ["3.3"]
    # 2.2 already has an approved scenario; the new 3.3 gets a drafted one, not served until approved
    assert "1 refresher scenario drafted" in second.message
    index = load(index_dir)
    [todo] = assignments.todo_for(store, index, "sam@school.example")
    assert not todo["signed"] and todo["resign"] and todo["missing"] == "signature, quiz pass"
    assert todo["refresher"] == {"clauses": ["2.2", "3.3"], "ready": 1, "waiting": 1}
    assert assignments.todo_for(store, index, "tia@school.example") == []

    texts = {"lone-working-policy": {c.clause: c.text for c in index.policy_clauses("lone-working-policy")}}
    engine = QuizEngine.from_dir(store, quizzes, texts)
    changed = assignments.changed_since_signed(store, "sam@school.example", "lone-working-policy")
    with pytest.raises(NothingToDraw, match="waiting for the coordinator"):
        engine.start("sam@school.example", "lone-working-policy", clauses={"3.3"})
    question, _ = engine.start("sam@school.example", "lone-working-policy", seed=2, clauses=changed)
    assert question.total == 1 and question.scenario.clauses == ("2.2",)
    engine.stop("sam@school.example")

    version, bank = banks.current(store, "lone-working-policy")
    [drafted] = [s for s in bank["scenarios"] if s["id"].startswith("refresher-")]
    assert drafted["status"] == "draft" and drafted["clauses"] == ["3.3"] and "personal alarm" in drafted["rule"]
    banks.save_scenario(store, "lone-working-policy", {**drafted, "status": "approved"}, base_version=version,
                        original=drafted, clause_texts=texts["lone-working-policy"], quizzes_dir=quizzes)
    engine = QuizEngine.from_dir(store, quizzes, texts)
    [todo] = assignments.todo_for(store, index, "sam@school.example")
    assert todo["refresher"] == {"clauses": ["2.2", "3.3"], "ready": 2, "waiting": 0}
    # signing the new text keeps the refresher on offer: it goes once a refresher (or full) quiz is passed
    assignments.sign(store, index, sam, "lone-working-policy", "Sam Support", agreed=True)
    [todo] = assignments.todo_for(store, index, "sam@school.example")
    assert todo["signed"] and todo["refresher"]["ready"] == 2
    question, _ = engine.start("sam@school.example", "lone-working-policy", seed=3, clauses=changed)
    assert question.total == 2
    assert _answer_all_correctly(engine, "sam@school.example", question)
    [todo] = assignments.todo_for(store, index, "sam@school.example")
    assert todo["refresher"] is None  # passed: no more refresher on offer ...
    assert todo["missing"] == "quiz pass" and not todo["done"]  # ... but two questions are not the policy's quiz
    from bot.training import reports

    assert [i["kind"] for i in reports.my_todo(store, "sam@school.example")] == ["quiz_take"]
