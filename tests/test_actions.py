"""rasa-sdk action tests on tracker-JSON fixtures, with the real index and a real SQLite database."""
from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import uuid
from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import services
from bot.actions.policy import ActionAnswerPolicy
from bot.actions.progress import ActionShowProgress
from bot.actions.quiz import ActionQuizResult, ActionStartQuiz, ActionStopQuiz, ValidateQuizForm
from bot.training.store import StoreUnavailable
from knowledge.followup import in_context
from tests.conftest import enrol

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "trackers"
DOMAIN = {"forms": {"quiz_form": {"required_slots": ["quiz_answer"]}}, "slots": {"quiz_answer": {}}}


@pytest.fixture
def env(monkeypatch, tmp_path, real_index):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'actions.db'}")
    monkeypatch.setenv("POLICY_COACH_INDEX", str(real_index))
    services.reset()
    yield
    services.reset()


def tracker(name: str, sender: str | None = None, **changes) -> Tracker:
    """A fixture tracker for a roster member (enrolled unless the test's database is deliberately down)."""
    state = json.loads((FIXTURES / f"{name}.json").read_text())
    state = copy.deepcopy(state)
    state["sender_id"] = sender or f"fx-{uuid.uuid4().hex[:8]}"
    with contextlib.suppress(StoreUnavailable):
        if services.store().member_for_chat(state["sender_id"]) is None:
            enrol(os.environ["DATABASE_URL"], chat_id=state["sender_id"])
    state.update(changes)
    return Tracker.from_dict(state)


def key(sender: str) -> str:
    """The records key of an enrolled test sender (the actions map the chat id to it)."""
    return f"{sender}@example.org"


def run(action, tr: Tracker) -> tuple[list, list[dict]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tr, DOMAIN))
    return events, dispatcher.messages


def kinds(messages) -> list[str]:
    return [m["custom"]["kind"] for m in messages if m.get("custom")]


def test_policy_answer_sends_text_and_a_payload_citing_6_3(env):
    _, messages = run(ActionAnswerPolicy(), tracker("policy_question"))
    assert kinds(messages) == ["policy_answer"]
    payload = messages[0]["custom"]
    assert payload["citations"][0]["clause"] == "6.3"
    assert "6.3" in messages[0]["text"]


def test_policy_answer_when_database_is_down_still_answers(env, monkeypatch, tmp_path):
    bad = tmp_path / "dir-not-db"
    bad.mkdir()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{bad}")
    _, messages = run(ActionAnswerPolicy(), tracker("policy_question"))
    assert kinds(messages) == ["policy_answer"]  # the answer does not depend on logging


def test_a_refused_question_is_the_context_of_the_next_follow_up(env):
    # what staff expect: "and at the weekend?" right after a question is about that question, answered or not
    first = "Can I wear jeans on a non-uniform day?"
    events, messages = run(ActionAnswerPolicy(), tracker("policy_question", latest_message={
        "text": first, "intent": {"name": "ask_policy"}, "entities": []}))
    assert kinds(messages) == ["out_of_scope"]
    assert events == [SlotSet("last_question", first), SlotSet("last_citations", [])]
    _, messages = run(ActionAnswerPolicy(), tracker(
        "policy_question", slots={"quiz_answer": None, "requested_slot": None, "last_question": first,
                                  "last_citations": []},
        latest_message={"text": "and at the weekend?", "intent": {"name": "follow_up"}, "entities": []}))
    assert messages[0]["custom"]["context"] == first
    assert messages[0]["custom"]["question"] == in_context(first, "and at the weekend?")


def test_start_quiz_when_database_is_down_says_so(env, monkeypatch, tmp_path):
    bad = tmp_path / "dir-not-db"
    bad.mkdir()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{bad}")
    services.reset()
    _, messages = run(ActionStartQuiz(), tracker("policy_question"))
    assert kinds(messages) == ["error"]
    assert "not available" in messages[0]["text"]


def test_quiz_answer_is_validated_stored_and_given_feedback(env):
    sender = f"fx-{uuid.uuid4().hex[:8]}"
    events, messages = run(ActionStartQuiz(), tracker("policy_question", sender))
    assert kinds(messages) == ["quiz_start"] and SlotSet("quiz_answer", None) in events
    question = services.quiz().current(key(sender))
    right = "ABCD"[[o.correct for o in question.options].index(True)]
    tr = tracker("quiz_answer", sender, latest_message={"text": right, "intent": {"name": "quiz_answer"},
                                                         "entities": []})
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ValidateQuizForm().validate_quiz_answer(right, dispatcher, tr, DOMAIN))
    assert result == {"quiz_answer": None}  # more questions to come: the form asks again
    feedback = dispatcher.messages[0]["custom"]
    assert feedback["kind"] == "quiz_feedback" and feedback["correct"] is True
    assert feedback["citations"][0]["text"]
    assert services.quiz().current(key(sender)).position == 1


def test_unmatched_reply_reprompts_and_stores_nothing(env):
    sender = f"fx-{uuid.uuid4().hex[:8]}"
    run(ActionStartQuiz(), tracker("policy_question", sender))
    tr = tracker("quiz_answer", sender, latest_message={"text": "purple", "intent": {"name": "deny"}, "entities": []})
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ValidateQuizForm().validate_quiz_answer("purple", dispatcher, tr, DOMAIN))
    assert result == {"quiz_answer": None}
    assert kinds(dispatcher.messages) == ["quiz_reprompt"]
    assert services.quiz().current(key(sender)).position == 0


def test_why_mid_quiz_explains_the_last_question_and_stores_nothing(env):
    sender = f"fx-{uuid.uuid4().hex[:8]}"
    run(ActionStartQuiz(), tracker("policy_question", sender))

    def why(text: str) -> list[dict]:
        tr = tracker("quiz_answer", sender, latest_message={"text": text, "intent": {"name": "follow_up"},
                                                            "entities": []})
        dispatcher = CollectingDispatcher()
        assert asyncio.run(ValidateQuizForm().validate_quiz_answer(text, dispatcher, tr, DOMAIN)) == \
            {"quiz_answer": None}
        return dispatcher.messages

    before = why("why not?")  # nothing answered yet: how to answer
    assert kinds(before) == ["quiz_explain", "quiz_resume"] and before[0]["custom"]["citations"] == []
    question = services.quiz().current(key(sender))
    wrong = "ABCD"[[o.correct for o in question.options].index(False)]
    tr = tracker("quiz_answer", sender, latest_message={"text": wrong, "intent": {"name": "quiz_answer"},
                                                         "entities": []})
    asyncio.run(ValidateQuizForm().validate_quiz_answer(wrong, CollectingDispatcher(), tr, DOMAIN))
    explain = why("why was that wrong?")[0]["custom"]
    assert explain["kind"] == "quiz_explain" and explain["scenario_id"] == question.scenario.id
    assert explain["number"] == 1 and question.scenario.correct_option.text in explain["text"]
    assert [c["clause"] for c in explain["citations"]] == list(question.scenario.clauses)
    assert services.quiz().current(key(sender)).position == 1  # only the real answer moved the quiz on


def test_stop_then_result_and_progress(env):
    sender = f"fx-{uuid.uuid4().hex[:8]}"
    run(ActionStartQuiz(), tracker("policy_question", sender))
    services.quiz().answer(key(sender), "A")
    events, messages = run(ActionStopQuiz(), tracker("quiz_answer", sender))
    assert kinds(messages) == ["quiz_result"] and messages[0]["custom"]["status"] == "stopped"
    assert SlotSet("requested_slot", None) in events
    _, messages = run(ActionShowProgress(), tracker("policy_question", sender))
    progress = messages[0]["custom"]
    assert progress["kind"] == "progress" and len(progress["attempts"]) == 1
    _, messages = run(ActionQuizResult(), tracker("policy_question", sender))
    assert kinds(messages) == ["quiz_result"]


def test_removed_or_unknown_sender_is_told_to_sign_in_and_nothing_is_stored(env):
    from bot.training.store import Attempt, Staff, get_store
    from sqlalchemy import func, select

    sender = f"fx-{uuid.uuid4().hex[:8]}"
    tr = tracker("policy_question", sender)
    with get_store(os.environ["DATABASE_URL"]).session() as session:
        session.scalar(select(Staff).where(Staff.chat_id == sender)).on_roster = False
    for action in (ActionStartQuiz(), ActionShowProgress(), ActionAnswerPolicy()):
        _, messages = run(action, tr)
        assert kinds(messages) == ["signed_out"], action.name()
    _, messages = run(ActionStartQuiz(), Tracker.from_dict({**json.loads((FIXTURES / "policy_question.json")
                                                                      .read_text()), "sender_id": key(sender)}))
    assert kinds(messages) == ["signed_out"]  # the email itself is not an id the app issues
    with get_store(os.environ["DATABASE_URL"]).session() as session:
        assert session.scalar(select(func.count()).select_from(Attempt)) == 0


def test_quiz_feedback_says_the_answer_was_saved_when_the_index_is_damaged(env, monkeypatch, tmp_path, real_index,
                                                                          caplog):
    import shutil

    index = tmp_path / "index"
    shutil.copytree(real_index, index)
    monkeypatch.setenv("POLICY_COACH_INDEX", str(index))
    sender = f"fx-{uuid.uuid4().hex[:8]}"
    run(ActionStartQuiz(), tracker("policy_question", sender))
    question = services.quiz().current(key(sender))
    right = "ABCD"[[o.correct for o in question.options].index(True)]
    # the index on disk is damaged after the quiz started (a file no longer matches its checksum)
    data = bytearray((index / "vectors.npy").read_bytes())
    data[-3] ^= 0xFF
    (index / "vectors.npy").write_bytes(bytes(data))
    stamp = (index / "manifest.json").stat().st_mtime + 5
    os.utime(index / "manifest.json", (stamp, stamp))
    tr = tracker("quiz_answer", sender, latest_message={"text": right, "intent": {"name": "quiz_answer"},
                                                         "entities": []})
    dispatcher = CollectingDispatcher()
    with caplog.at_level("WARNING"):
        result = asyncio.run(ValidateQuizForm().validate_quiz_answer(right, dispatcher, tr, DOMAIN))
    assert result == {"quiz_answer": None}
    [message] = dispatcher.messages
    feedback = message["custom"]
    assert feedback["kind"] == "quiz_feedback" and feedback["correct"] is True
    assert feedback["clauses_unavailable"] is True and feedback["citations"] == []
    assert "Your answer was saved" in message["text"]
    assert "checksum" not in message["text"] and "vectors" not in message["text"]  # details go to the log only
    assert "does not match its checksum" in caplog.text
    # the answer really is stored: the quiz moved on, and the attempt holds it
    assert services.quiz().current(key(sender)).position == 1
