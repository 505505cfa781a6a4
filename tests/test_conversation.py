"""End to end through the real Rasa server and action server over the REST channel."""
from __future__ import annotations

from pathlib import Path

import re

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bot.training.store import Answer, Attempt, Staff, normalise_url
from tests.conftest import SESSION_EVENTS, payloads, post, rest

pytestmark = pytest.mark.slow


def _kinds(replies):
    return [p["kind"] for p in payloads(replies)]


def _question(replies) -> dict:
    return next(p for p in payloads(replies) if p["kind"] == "quiz_question")


def _correct_letter(live_env, sender, question) -> str:
    """Look the right answer up in the bank the way a diligent trainee would know it."""
    from bot.services import quiz

    scenario = quiz().banks[quiz().default_policy()].by_id[question["scenario_id"]]
    return next(o["letter"] for o in question["options"] if scenario.option(o["id"]).correct)


def _answers(live_env, sender) -> list[Answer]:
    engine = create_engine(normalise_url(live_env["DATABASE_URL"]))
    try:
        with Session(engine) as session:
            return list(session.scalars(select(Answer).join(Attempt).join(Staff)
                                        .where(Staff.chat_id == sender).order_by(Answer.id)))
    finally:
        engine.dispose()


def test_friend_request_question_cites_clause_6_3(live_stack, sender):
    replies = rest(live_stack, sender, "A pupil sent me a friend request on Facebook, what do I do?")
    answer = payloads(replies)[0]
    assert answer["kind"] == "policy_answer" and answer["answered"] is True
    top = answer["citations"][0]
    assert top["clause"] == "6.3"
    assert top["section"] == "6 Personal Use of Social Media"
    assert "decline 'friend requests' from pupils" in top["text"]
    assert any("6.3" in r.get("text", "") for r in replies)  # plain-text channels see the citation too


def test_off_topic_question_is_refused_and_names_who_to_ask(live_stack, sender):
    replies = rest(live_stack, sender, "What is the capital of France?")
    answer = payloads(replies)[0]
    assert answer["kind"] == "out_of_scope" and answer["answered"] is False
    assert "K. Formby" in answer["message"]


@pytest.mark.parametrize("text, kind", [("hello", "greeting"), ("what can you do?", "help")])
def test_greeting_and_help_carry_payloads(live_stack, sender, text, kind):
    assert _kinds(rest(live_stack, sender, text)) == [kind]


def test_quiz_with_buttons_right_wrong_invalid_interrupt_resume_finish_progress(live_stack, live_env, sender):
    replies = rest(live_stack, sender, "I'm new, give me the induction quiz")
    assert _kinds(replies) == ["quiz_start", "quiz_question"]
    question = _question(replies)
    assert question["progress"] == "1 of 10" and 3 <= len(question["options"]) <= 4
    seen = {question["scenario_id"]}
    for n in range(10):
        if n == 2:  # an answer that matches no option: re-prompt, nothing stored
            replies = rest(live_stack, sender, "banana")
            assert _kinds(replies) == ["quiz_reprompt", "quiz_question"]
            assert _question(replies)["scenario_id"] == question["scenario_id"]
        if n == 4:  # a policy question mid-quiz, then straight back to the same question
            replies = rest(live_stack, sender, "can I post photos of pupils on my instagram?")
            assert _kinds(replies)[:1] == ["policy_answer"]
            assert _question(replies)["scenario_id"] == question["scenario_id"]
        right = _correct_letter(live_env, sender, question)
        if n == 1:  # a wrong answer typed as a letter
            letter = next(o["letter"] for o in question["options"] if o["letter"] != right)
            replies = rest(live_stack, sender, letter.lower())
        else:  # the button payload
            option = next(o for o in question["options"] if o["letter"] == right)
            replies = rest(live_stack, sender, option["payload"])
        feedback = next(p for p in payloads(replies) if p["kind"] == "quiz_feedback")
        assert feedback["correct"] is (n != 1)
        assert feedback["citations"] and all(c["text"] for c in feedback["citations"])
        assert len(_answers(live_env, sender)) == n + 1
        if n < 9:
            question = _question(replies)
            assert question["progress"] == f"{n + 2} of 10"
            assert question["scenario_id"] not in seen
            seen.add(question["scenario_id"])
    result = next(p for p in payloads(replies) if p["kind"] == "quiz_result")
    assert result["correct"] == 9 and result["total"] == 10 and result["passed"] is True
    assert result["reread_citations"]
    progress = payloads(rest(live_stack, sender, "have I passed the training yet?"))[0]
    assert progress["kind"] == "progress" and progress["passed"] is True
    assert progress["best_score"] == pytest.approx(0.9)


def _sessions(live_env, sender) -> tuple[int, int]:
    """(sessions started, events in the latest session) for one sender, read from Rasa's real tracker store."""
    engine = create_engine(f"sqlite:///{Path(live_env['POLICY_COACH_VAR']) / 'rasa_tracker.db'}")
    try:
        with engine.connect() as db:
            rows = db.exec_driver_sql("SELECT type_name FROM events WHERE sender_id = ? ORDER BY id", (sender,)).all()
    finally:
        engine.dispose()
    names = [name for (name,) in rows]
    starts = [i for i, name in enumerate(names) if name == "session_started"]
    return len(starts), len(names) - (starts[-1] if starts else 0)


def test_long_conversation_is_cut_into_sessions_without_losing_a_quiz_answer_or_context(live_stack, live_env, sender):
    """Issue 16: a session ends after SESSION_EVENTS events, but never inside a quiz, and nothing is lost."""
    question = _question(rest(live_stack, sender, "quiz me"))
    question = _question(rest(live_stack, sender, question["options"][0]["payload"]))
    while _sessions(live_env, sender)[1] <= SESSION_EVENTS:  # policy questions mid-quiz, past the limit
        replies = rest(live_stack, sender, "can I post photos of pupils on my instagram?")
        assert _kinds(replies)[:1] == ["policy_answer"] and _question(replies)["progress"] == "2 of 10"
    assert _sessions(live_env, sender)[0] == 1  # the running quiz was not cut
    replies = rest(live_stack, sender, question["options"][0]["payload"])
    assert _question(replies)["progress"] == "3 of 10"
    result = next(p for p in payloads(rest(live_stack, sender, "stop the quiz")) if p["kind"] == "quiz_result")
    assert result["answered"] == 2
    rest(live_stack, sender, "Can I accept a friend request from a pupil?")
    assert _sessions(live_env, sender)[0] == 2  # the quiz ended, so the next message started a new session
    reply = payloads(rest(live_stack, sender, "what if they're my nephew?"))[0]  # the follow-up slot carried over
    assert reply["kind"] == "policy_answer" and reply["citations"][0]["clause"] in ("6.3", "6.4")
    assert len(_answers(live_env, sender)) == 2
    for _ in range(SESSION_EVENTS // 3):
        rest(live_stack, sender, "can I post photos of pupils on my instagram?")
    starts, length = _sessions(live_env, sender)
    assert starts >= 3 and length <= SESSION_EVENTS + 15  # sessions stay bounded however long the chat runs
    progress = payloads(rest(live_stack, sender, "have I passed the training yet?"))[0]
    assert progress["kind"] == "progress"


def test_stop_midway_keeps_answers_and_stale_buttons_are_refused(live_stack, live_env, sender):
    question = _question(rest(live_stack, sender, "quiz me"))
    old_payload = question["options"][0]["payload"]
    rest(live_stack, sender, old_payload)
    replies = rest(live_stack, sender, "stop the quiz")
    result = next(p for p in payloads(replies) if p["kind"] == "quiz_result")
    assert result["status"] == "stopped" and result["answered"] == 1
    replies = rest(live_stack, sender, old_payload)  # a stale button after the quiz ended
    assert _kinds(replies) == ["quiz_stale"]
    assert len(_answers(live_env, sender)) == 1


def test_quiz_me_twice_resumes_instead_of_starting_again(live_stack, sender):
    first = _question(rest(live_stack, sender, "start the assessment"))
    replies = rest(live_stack, sender, "quiz me")
    assert _kinds(replies) == ["quiz_start", "quiz_question"]
    assert payloads(replies)[0]["resumed"] is True
    assert _question(replies)["scenario_id"] == first["scenario_id"]


@pytest.mark.parametrize("text", ["", "   ", "x" * 20000, "<script>alert(1)</script>", "¿Dónde está la biblioteca?"])
def test_bad_input_gets_a_clear_reply_and_server_keeps_serving(live_stack, sender, text):
    response = post(live_stack, {"sender": sender, "message": text})
    if len(text) > 16 * 1024:  # refused by the channel before NLU, with a reason (tests/test_channel.py)
        assert response.status_code == 413 and response.json()["error"]
        replies = []
    else:
        replies = response.json()
    for reply in replies:
        assert "<script>" not in reply.get("text", "")
        assert "Traceback" not in reply.get("text", "")
    assert _kinds(rest(live_stack, sender, "hello")) == ["greeting"]


def test_questions_are_logged_per_user(live_stack, live_env, sender):
    from bot.training.store import QuestionLog

    rest(live_stack, sender, "How much maternity pay do I get?")
    engine = create_engine(normalise_url(live_env["DATABASE_URL"]))
    with Session(engine) as session:
        rows = session.execute(select(QuestionLog.answered, func.count()).join(Staff)
                               .where(Staff.chat_id == sender).group_by(QuestionLog.answered)).all()
    engine.dispose()
    assert dict(rows).get(False) == 1
    assert re.match(r"test-", sender)


@pytest.mark.parametrize("why", ["why not?", "why was that wrong?"])
def test_why_during_a_quiz_is_explained_never_recorded_as_an_answer(live_stack, live_env, sender, why):
    from bot.services import quiz

    question = _question(rest(live_stack, sender, "quiz me"))
    replies = rest(live_stack, sender, why)  # before any answer: how to answer, and the same question again
    assert _kinds(replies) == ["quiz_explain", "quiz_resume", "quiz_question"]
    assert _question(replies)["scenario_id"] == question["scenario_id"] and _answers(live_env, sender) == []
    right = _correct_letter(live_env, sender, question)
    wrong = next(o for o in question["options"] if o["letter"] != right)
    replies = rest(live_stack, sender, wrong["payload"])
    nxt = _question(replies)
    replies = rest(live_stack, sender, why)
    assert _kinds(replies) == ["quiz_explain", "quiz_resume", "quiz_question"]
    explain = payloads(replies)[0]
    scenario = quiz().banks[quiz().default_policy()].by_id[question["scenario_id"]]
    assert explain["scenario_id"] == question["scenario_id"] and explain["number"] == 1
    assert scenario.correct_option.text in explain["text"] and explain["feedback"] == scenario.correct_option.feedback
    assert {c["clause"] for c in explain["citations"]} == set(scenario.clauses)
    assert all(c["text"] for c in explain["citations"])
    assert _question(replies)["scenario_id"] == nxt["scenario_id"] and _question(replies)["number"] == 2
    assert len(_answers(live_env, sender)) == 1  # only the real answer was stored
