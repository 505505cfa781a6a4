"""Restart safety: kill the action server, then the Rasa server, mid-quiz; no stored answer is lost."""
from __future__ import annotations

import signal
import uuid

import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.training.store import Answer, Attempt, Staff, normalise_url
from tests.conftest import enrol, free_port, payloads, rest

pytestmark = pytest.mark.slow


@pytest.fixture
def own_stack(tmp_path, real_index):
    from bot.ops.stack import Stack

    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'coach.db'}",
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


def test_launcher_restarts_a_crashed_service_with_back_off_and_keeps_the_others(tmp_path):
    import os
    import sys
    import time

    from bot.ops.stack import Stack

    stack = Stack(rasa_port=free_port(), action_port=free_port(), ui_port=free_port(), log_dir=tmp_path / "logs",
                  env={"POLICY_COACH_VAR": str(tmp_path / "var")})
    starts = tmp_path / "starts.txt"
    crash = f"import time; open({str(starts)!r}, 'a').write(f'{{time.monotonic()}}\\n'); raise SystemExit(3)"
    stack._spawn("crashy", [sys.executable, "-c", crash], dict(os.environ))
    stack._spawn("steady", [sys.executable, "-c", "import time; time.sleep(60)"], dict(os.environ))
    steady_pid = stack.procs["steady"].pid
    try:
        stack.supervise(poll=0.1, until=time.monotonic() + 8)
        times = [float(t) for t in starts.read_text().split()]
        assert len(times) >= 3  # restarted, not given up on
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert gaps[1] > gaps[0]  # back-off grows (1 s, 2 s, 4 s ...)
        assert stack.procs["steady"].pid == steady_pid and stack.procs["steady"].poll() is None
    finally:
        stack.stop()


def test_endpoints_honour_a_sqlite_tracker_url_and_keep_everything_in_the_runtime_dir(tmp_path):
    import stat

    from bot.ops.stack import write_endpoints

    path = write_endpoints(tmp_path / "var" / "endpoints-rasa.yml", 5055, action_token="secret-token",
                           tracker_url=f"sqlite:///{tmp_path / 'elsewhere' / 'tracker.db'}")
    text = path.read_text()
    assert f"db: {tmp_path / 'elsewhere' / 'tracker.db'}" in text and "token: secret-token" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    default = write_endpoints(tmp_path / "var2" / "endpoints-rasa.yml", 5055).read_text()
    assert f"db: {tmp_path / 'var2' / 'rasa_tracker.db'}" in default
