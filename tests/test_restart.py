"""Restart safety: kill the action server, then the Rasa server, mid-quiz; no stored answer is lost."""
from __future__ import annotations

import signal
import uuid

import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.store import Answer, Attempt, Staff, normalise_url
from tests.conftest import enrol, free_port, payloads, rest

pytestmark = pytest.mark.slow


@pytest.fixture
def own_stack(tmp_path, real_index):
    from bot.stack import Stack

    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'coach.db'}", "RASA_TRACKER_DB": str(tmp_path / "tracker.db"),
           "POLICY_COACH_INDEX": str(real_index), "POLICY_COACH_VAR": str(tmp_path / "var")}
    stack = Stack(rasa_port=free_port(), action_port=free_port(), ui_port=free_port(),
                  log_dir=tmp_path / "logs", env=env)
    stack.start_actions()
    stack.start_rasa()
    yield stack, env
    stack.stop()


def _stored(env, sender) -> list[Answer]:
    engine = create_engine(normalise_url(env["DATABASE_URL"]))
    try:
        with Session(engine) as session:
            return list(session.scalars(select(Answer).join(Attempt).join(Staff).where(Staff.chat_id == sender)))
    finally:
        engine.dispose()


def _question(replies):
    return next(p for p in payloads(replies) if p["kind"] == "quiz_question")


def test_killing_action_server_then_rasa_mid_quiz_loses_no_answer(own_stack):
    stack, env = own_stack
    sender = enrol(env["DATABASE_URL"], chat_id=f"restart-{uuid.uuid4().hex[:8]}")
    question = _question(rest(stack, sender, "quiz me"))
    for _ in range(3):
        question = _question(rest(stack, sender, question["options"][0]["payload"]))
    assert len(_stored(env, sender)) == 3

    stack.stop("actions", sig=signal.SIGKILL)
    replies = rest(stack, sender, question["options"][0]["payload"])
    # With the action server gone the reply is empty or an error; what matters is nothing half-written.
    assert all("Traceback" not in r.get("text", "") for r in replies)
    assert len(_stored(env, sender)) == 3
    stack.start_actions()

    stack.stop("rasa", sig=signal.SIGKILL)
    with pytest.raises(requests.ConnectionError):
        rest(stack, sender, "hello")
    stack.start_rasa()

    # The conversation continues where it was: the tracker is in SQL, the quiz state in the database.
    replies = rest(stack, sender, "quiz me")
    kinds = [p["kind"] for p in payloads(replies)]
    assert kinds == ["quiz_start", "quiz_question"]
    assert payloads(replies)[0]["resumed"] is True
    resumed = _question(replies)
    assert resumed["progress"] == "4 of 10"
    replies = rest(stack, sender, resumed["options"][0]["payload"])
    assert any(p["kind"] == "quiz_feedback" for p in payloads(replies))
    assert len(_stored(env, sender)) == 4
