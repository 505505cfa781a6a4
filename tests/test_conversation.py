"""End to end through the real Rasa server and action server over the REST channel."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bot.store import Answer, Attempt, Staff, normalise_url
from tests.conftest import payloads, rest

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
    replies = rest(live_stack, sender, text)
    for reply in replies:
        assert "<script>" not in reply.get("text", "")
        assert "Traceback" not in reply.get("text", "")
    assert _kinds(rest(live_stack, sender, "hello")) == ["greeting"]


def test_questions_are_logged_per_user(live_stack, live_env, sender):
    from bot.store import QuestionLog

    rest(live_stack, sender, "How much maternity pay do I get?")
    engine = create_engine(normalise_url(live_env["DATABASE_URL"]))
    with Session(engine) as session:
        rows = session.execute(select(QuestionLog.answered, func.count()).join(Staff)
                               .where(Staff.chat_id == sender).group_by(QuestionLog.answered)).all()
    engine.dispose()
    assert dict(rows).get(False) == 1
    assert re.match(r"test-", sender)
