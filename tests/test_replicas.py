"""Beyond one machine: two Rasa replicas sharing a Postgres tracker store and a Redis lock store."""
from __future__ import annotations

import os
import uuid

import pytest
import requests

from tests.conftest import enrol, free_port

pytestmark = pytest.mark.slow
_TOKEN: dict[str, str] = {}  # the stack's channel token, set by the fixture


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, real_index):
    tracker_url = os.environ.get("TEST_POSTGRES_TRACKER_URL")
    redis_url = os.environ.get("TEST_REDIS_URL")
    app_url = os.environ.get("TEST_POSTGRES_URL")
    if not (tracker_url and redis_url and app_url):
        if os.environ.get("CI"):
            pytest.fail("CI must provide TEST_POSTGRES_URL, TEST_POSTGRES_TRACKER_URL and TEST_REDIS_URL")
        pytest.skip("needs Postgres and Redis (set TEST_POSTGRES_URL, TEST_POSTGRES_TRACKER_URL, TEST_REDIS_URL)")
    from bot.ops.stack import Stack

    base = tmp_path_factory.mktemp("replicas")
    env = {"DATABASE_URL": app_url, "RASA_TRACKER_URL": tracker_url, "REDIS_URL": redis_url,
           "POLICY_COACH_INDEX": str(real_index), "POLICY_COACH_VAR": str(base / "var")}
    stack = Stack(rasa_port=free_port(), action_port=free_port(), ui_port=free_port(), log_dir=base / "logs",
                  env=env)
    stack.start_actions()
    ports = stack.start_replicas(2)
    _TOKEN["value"] = stack.channel_token
    yield stack, ports
    stack.stop()


def _send(port: int, sender: str, text: str) -> list[dict]:
    response = requests.post(f"http://127.0.0.1:{port}/webhooks/rest/webhook", headers={
        "Authorization": f"Bearer {_TOKEN['value']}"}, json={"sender": sender, "message": text}, timeout=60)
    response.raise_for_status()
    return [r["custom"] for r in response.json() if "custom" in r]


def _question(customs):
    return next(c for c in customs if c["kind"] == "quiz_question")


def test_one_conversation_alternating_between_replicas_sees_one_consistent_quiz(replicas):
    stack, (first, second) = replicas
    sender = enrol(os.environ["TEST_POSTGRES_URL"], chat_id=f"replica-{uuid.uuid4().hex[:8]}")
    question = _question(_send(first, sender, "quiz me"))
    assert question["progress"] == "1 of 10"
    for n in range(1, 10):
        port = second if n % 2 else first
        customs = _send(port, sender, question["options"][0]["payload"])
        assert any(c["kind"] == "quiz_feedback" for c in customs), (port, customs)
        question = _question(customs)
        assert question["progress"] == f"{n + 1} of 10"  # each replica continues where the other left off
    # A question mid-quiz on one replica, then the quiz resumes on the other.
    customs = _send(first, sender, "is my work email monitored?")
    assert _question(customs)["scenario_id"] == question["scenario_id"]
    customs = _send(second, sender, question["options"][0]["payload"])
    assert any(c["kind"] == "quiz_result" for c in customs)
    progress = _send(first, sender, "show my progress")[0]
    assert progress["kind"] == "progress" and len(progress["attempts"]) == 1
    # either replica reads the whole chat back from the shared Postgres tracker store (the app's reload)
    dumps = [requests.get(f"http://127.0.0.1:{port}/webhooks/rest/conversations/{sender}/tracker",
                          headers={"Authorization": f"Bearer {_TOKEN['value']}"}, timeout=30).json()
             for port in (first, second)]
    assert dumps[0]["events"] == dumps[1]["events"]
    users = [e["text"] for e in dumps[0]["events"] if e["event"] == "user"]
    assert len(users) == 13 and users[0] == "quiz me" and users[-1] == "show my progress"


def test_nginx_spreads_one_url_over_both_replicas_and_keeps_a_chat_on_one(replicas):
    stack, ports = replicas
    assert stack.procs["nginx"].poll() is None  # Debian's nginx, not a home-made proxy
    backends = {f"127.0.0.1:{p}" for p in ports}
    seen = set()
    for _ in range(12):  # no chat header (a tool, a health check): spread by request id
        response = requests.get(f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/", timeout=10)
        assert response.status_code == 200
        seen.add(response.headers["X-Replica"])
    assert seen == backends
    sender = enrol(os.environ["TEST_POSTGRES_URL"], chat_id=f"balanced-{uuid.uuid4().hex[:8]}")
    replicas_used = set()
    headers = {"Authorization": f"Bearer {_TOKEN['value']}", "X-Chat-Session": sender}  # what the UI sends
    url = f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook"
    response = requests.post(url, headers=headers, json={"sender": sender, "message": "quiz me"}, timeout=60)
    replicas_used.add(response.headers["X-Replica"])
    question = _question([r["custom"] for r in response.json() if "custom" in r])
    for _ in range(3):
        response = requests.post(url, headers=headers, timeout=60,
                                 json={"sender": sender, "message": question["options"][0]["payload"]})
        replicas_used.add(response.headers["X-Replica"])
        question = _question([r["custom"] for r in response.json() if "custom" in r])
    assert question["progress"] == "4 of 10"
    assert len(replicas_used) == 1 and replicas_used <= backends  # one chat, one replica


def test_without_the_token_nginx_passes_on_the_channels_refusal(replicas):
    stack, _ = replicas
    response = requests.post(f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook", timeout=30,
                             json={"sender": "someone", "message": "show my progress"})
    assert response.status_code in (401, 403)


def test_when_one_replica_dies_nginx_sends_its_chats_to_the_other(replicas):
    stack, ports = replicas
    stack.stop("rasa-2")
    try:
        sender = enrol(os.environ["TEST_POSTGRES_URL"], chat_id=f"failover-{uuid.uuid4().hex[:8]}")
        for _ in range(4):
            response = requests.post(f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook", timeout=60,
                                     headers={"Authorization": f"Bearer {_TOKEN['value']}", "X-Chat-Session": sender},
                                     json={"sender": sender, "message": "show my progress"})
            assert response.status_code == 200
            assert response.headers["X-Replica"].endswith(f":{ports[0]}")
    finally:
        stack.start_rasa(port=ports[1], name="rasa-2")
