"""The quiz engine on a real database: every answer stored at once, resume, stop, stale buttons, progress.

Runs on SQLite always and on Postgres when TEST_POSTGRES_URL is set (.ci/run starts one).
"""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from bot.training.bank import choice_token, load_bank
from bot.training.quiz import QuizEngine
from bot.training.store import Answer, Attempt, Store, StoreUnavailable, normalise_url
from knowledge.parser import parse_file

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "data" / "policies" / "social-media-policy.md"


@pytest.fixture(scope="module")
def banks():
    texts = {c.clause: c.text for c in parse_file(POLICY).clauses}
    bank = load_bank(ROOT / "data" / "quizzes" / "social-media-policy.yml", texts)
    return {bank.policy: bank}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def store(request):
    if request.param == "sqlite":
        return Store(request.getfixturevalue("sqlite_url"))
    return Store(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(store, banks):
    return QuizEngine(store, banks, length=10, pass_mark=0.8)


def _stored_answers(store: Store, attempt_id: int) -> list[Answer]:
    """Read answers through a brand-new connection, as another process would."""
    fresh = create_engine(normalise_url(store.url))
    try:
        with Session(fresh) as session:
            return list(session.scalars(select(Answer).where(Answer.attempt_id == attempt_id)
                                        .order_by(Answer.position)))
    finally:
        fresh.dispose()


def _letter_of(question, correct: bool) -> str:
    for i, option in enumerate(question.options):
        if option.correct == correct:
            return "ABCD"[i]
    raise AssertionError


def sender() -> str:
    return f"eng-{uuid.uuid4().hex[:8]}"


def test_full_quiz_pass_stores_every_answer_immediately(engine, store):
    who = sender()
    question, resumed = engine.start(who, seed=3)
    assert not resumed and question.total == 10
    for n in range(10):
        current = engine.current(who)
        assert current.position == n
        outcome = engine.answer(who, _letter_of(current, correct=n != 0))
        assert outcome.status == "answered"
        assert len(_stored_answers(store, question.attempt_id)) == n + 1  # written the moment it is given
    assert outcome.finished
    result = engine.last_result(who)
    assert result["correct"] == 9 and result["passed"] is True and result["status"] == "completed"
    assert result["reread"]  # the clauses of the one wrong answer
    assert engine.current(who) is None


def test_failing_score_is_not_a_pass(engine):
    who = sender()
    engine.start(who, seed=4)
    for n in range(10):
        engine.answer(who, _letter_of(engine.current(who), correct=n < 7))
    result = engine.last_result(who)
    assert result["score"] == pytest.approx(0.7) and result["passed"] is False


def test_invalid_reply_is_not_stored_and_question_stays(engine, store):
    who = sender()
    question, _ = engine.start(who, seed=5)
    outcome = engine.answer(who, "banana")
    assert outcome.status == "invalid"
    assert _stored_answers(store, question.attempt_id) == []
    assert engine.current(who).position == 0


def test_starting_twice_resumes_the_same_attempt(engine):
    who = sender()
    first, _ = engine.start(who, seed=6)
    engine.answer(who, "A")
    again, resumed = engine.start(who)
    assert resumed and again.attempt_id == first.attempt_id and again.position == 1


def test_stop_keeps_answers_and_a_retake_draws_a_fresh_order(engine, store):
    who = sender()
    first, _ = engine.start(who, seed=7)
    engine.answer(who, "A")
    engine.answer(who, "B")
    summary = engine.stop(who)
    assert summary["status"] == "stopped" and summary["answered"] == 2 and summary["passed"] is False
    assert len(_stored_answers(store, first.attempt_id)) == 2
    second, resumed = engine.start(who, seed=8)
    assert not resumed and second.attempt_id != first.attempt_id
    with store.session() as session:
        plans = [a.plan_items() for a in session.scalars(select(Attempt).where(
            Attempt.id.in_([first.attempt_id, second.attempt_id])))]
    assert [p["scenario"] for p in plans[0]] != [p["scenario"] for p in plans[1]]


def test_button_tokens_from_old_questions_or_old_attempts_are_refused(engine, store):
    who = sender()
    question, _ = engine.start(who, seed=9)
    token = choice_token(question.attempt_id, 0, question.options[0].id)
    assert engine.answer(who, f'/quiz_answer{{"quiz_choice":"{token}"}}').status == "answered"
    assert engine.answer(who, f'/quiz_answer{{"quiz_choice":"{token}"}}').status == "stale"  # pressed twice
    engine.stop(who)
    assert engine.answer(who, f'/quiz_answer{{"quiz_choice":"{token}"}}').status == "stale"  # after the end
    assert len(_stored_answers(store, question.attempt_id)) == 1


def test_skip_counts_as_not_correct_and_moves_on(engine, store):
    who = sender()
    question, _ = engine.start(who, seed=10)
    outcome = engine.skip(who)
    assert outcome.status == "answered" and not outcome.correct
    stored = _stored_answers(store, question.attempt_id)
    assert stored[0].skipped and stored[0].option_id is None
    assert engine.current(who).position == 1


def test_progress_shows_only_the_users_own_attempts(engine):
    me, other = sender(), sender()
    engine.start(me, seed=11)
    for _ in range(10):
        engine.answer(me, _letter_of(engine.current(me), correct=True))
    engine.start(other, seed=12)
    engine.answer(other, _letter_of(engine.current(other), correct=False))
    mine = engine.progress(me)
    assert len(mine["attempts"]) == 1 and mine["passed"] and mine["best_score"] == 1.0
    theirs = engine.progress(other)
    assert len(theirs["attempts"]) == 1 and not theirs["passed"] and theirs["in_progress"]
    assert theirs["weakest_sections"]


def test_database_down_raises_a_clear_error(banks, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    engine = QuizEngine(store, banks)
    store.engine.dispose()
    (tmp_path / "x.db").unlink()
    (tmp_path / "x.db").mkdir()  # the path is now a directory: SQLite cannot open it
    with pytest.raises(StoreUnavailable, match="not available"):
        engine.start(sender())


def test_postgres_unreachable_is_reported_cleanly(banks):
    with pytest.raises(StoreUnavailable):
        Store("postgresql://nobody:nothing@127.0.0.1:1/none")


def test_schema_is_managed_by_alembic(store):
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() is not None
