"""The channel and the action server against the real stack: only token holders may post, only as a current
roster member's issued id; Rasa's HTTP API is off; oversized messages are refused before NLU."""
from __future__ import annotations

import sqlite3
import stat
import threading
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from bot.training import accounts
from bot.training.store import Answer, Attempt, QuestionLog, Staff, get_store
from tests.conftest import enrol, payloads, post, rest
from ui.rasa_client import conversation_from_events

pytestmark = pytest.mark.slow


def _kinds(replies: list[dict]) -> list[str]:
    return [p["kind"] for p in payloads(replies)]


def _records(database_url: str, sender_id: str) -> tuple[int, int]:
    """(quiz answers, logged questions) stored for one records key."""
    with get_store(database_url).session() as session:
        answers = session.scalar(select(func.count()).select_from(Answer).join(Attempt).join(Staff)
                                 .where(Staff.sender_id == sender_id))
        questions = session.scalar(select(func.count()).select_from(QuestionLog).join(Staff)
                                   .where(Staff.sender_id == sender_id))
        return answers, questions


# -- the token ---------------------------------------------------------------------------------------------
def test_channel_token_file_is_created_private_in_the_runtime_dir(live_stack, live_env):
    path = Path(live_env["POLICY_COACH_VAR"]) / "channel.token"
    assert path.read_text().strip() == live_stack.channel_token and len(live_stack.channel_token) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    endpoints = Path(live_env["POLICY_COACH_VAR"]) / "endpoints-rasa.yml"
    assert stat.S_IMODE(endpoints.stat().st_mode) == 0o600  # it holds the action token


@pytest.mark.parametrize("token", [None, "", "wrong-token", "Basic abc"])
def test_post_without_the_right_token_is_refused_and_reaches_nothing(live_stack, live_env, token):
    sender = enrol(live_env["DATABASE_URL"])
    if token == "Basic abc":
        response = requests.post(f"http://127.0.0.1:{live_stack.rasa_port}/webhooks/rest/webhook",
                                 json={"sender": sender, "message": "quiz me"},
                                 headers={"Authorization": token}, timeout=30)
    else:
        response = post(live_stack, {"sender": sender, "message": "quiz me"}, token=token)
    assert response.status_code in (401, 403)
    assert "quiz" not in response.text.lower()
    assert _records(live_env["DATABASE_URL"], f"{sender}@example.org") == (0, 0)


def test_cross_origin_text_plain_post_is_refused(live_stack, live_env):
    """What a web page open on the server could send (a 'simple' request: no token)."""
    sender = enrol(live_env["DATABASE_URL"])
    response = requests.post(f"http://127.0.0.1:{live_stack.rasa_port}/webhooks/rest/webhook",
                             data='{"sender": "%s", "message": "show my progress"}' % sender,
                             headers={"Content-Type": "text/plain", "Origin": "http://evil.example"}, timeout=30)
    assert response.status_code == 401


# -- impersonation -----------------------------------------------------------------------------------------
def test_impersonation_by_email_gets_nothing_and_stores_nothing(live_stack, live_env):
    store = get_store(live_env["DATABASE_URL"])
    email = f"alice-{uuid.uuid4().hex[:6]}@school.example"
    accounts.import_roster(store, f"name,email,role\nAlice Example,{email},teacher\n")
    alice = accounts.sign_in_sso(store, email).user
    question = next(p for p in payloads(rest(live_stack, alice["chat_id"], "quiz me")) if p["kind"] == "quiz_question")
    rest(live_stack, alice["chat_id"], question["options"][0]["payload"])
    assert _records(live_env["DATABASE_URL"], email)[0] == 1

    # A trusted tool's token, but Alice's email as the sender: not an id issued to anyone.
    for text in ("show my progress", "quiz me", question["options"][1]["payload"],
                 "A pupil sent me a friend request on Facebook, what do I do?"):
        replies = rest(live_stack, email, text)
        kinds = _kinds(replies)
        assert "progress" not in kinds and "quiz_question" not in kinds and "policy_answer" not in kinds, kinds
        assert "signed_out" in kinds or kinds in (["greeting"], ["help"]), kinds
    assert _records(live_env["DATABASE_URL"], email) == (1, 0)
    with store.session() as session:  # no row was created for the email-as-sender
        assert session.scalar(select(func.count()).select_from(Staff).where(Staff.chat_id == email)) == 0
    assert alice["chat_id"] != email and email.split("@")[0] not in alice["chat_id"]


def test_removed_or_reset_accounts_stop_at_once(live_stack, live_env):
    store = get_store(live_env["DATABASE_URL"])
    tag = uuid.uuid4().hex[:6]
    bob, cara = f"bob-{tag}@school.example", f"cara-{tag}@school.example"
    accounts.import_roster(store, f"name,email,role\nBob B,{bob},teacher\nCara C,{cara},teacher\n")
    bob_id = accounts.sign_in_sso(store, bob).user["chat_id"]
    cara_id = accounts.sign_in_sso(store, cara).user["chat_id"]
    assert _kinds(rest(live_stack, bob_id, "show my progress")) == ["progress"]
    assert _kinds(rest(live_stack, cara_id, "show my progress")) == ["progress"]

    accounts.reset_password(store, bob)  # the coordinator resets Bob: his open session's id stops now
    assert _kinds(rest(live_stack, bob_id, "show my progress")) == ["signed_out"]
    assert _kinds(rest(live_stack, bob_id, "quiz me"))[0] == "signed_out"
    assert _records(live_env["DATABASE_URL"], bob)[0] == 0

    with store.session() as session:  # Cara leaves the roster
        session.scalar(select(Staff).where(Staff.sender_id == cara)).on_roster = False
    assert _kinds(rest(live_stack, cara_id, "show my progress")) == ["signed_out"]
    before = _records(live_env["DATABASE_URL"], cara)
    rest(live_stack, cara_id, "A pupil sent me a friend request on Facebook, what do I do?")
    assert _records(live_env["DATABASE_URL"], cara) == before


# -- Rasa's HTTP API ---------------------------------------------------------------------------------------
def test_rasa_http_api_is_off(live_stack, live_env):
    sender = enrol(live_env["DATABASE_URL"])
    rest(live_stack, sender, "show my progress")
    base = f"http://127.0.0.1:{live_stack.rasa_port}"
    token = {"Authorization": f"Bearer {live_stack.channel_token}"}
    for headers in ({}, token):  # not even the channel token opens the API
        tracker = requests.get(f"{base}/conversations/{sender}/tracker", headers=headers, timeout=30)
        assert tracker.status_code in (401, 403, 404, 405) and "events" not in tracker.text
        assert requests.delete(f"{base}/model", headers=headers, timeout=30).status_code in (401, 403, 404, 405)
        put = requests.put(f"{base}/model", json={"model_file": "/etc/passwd"}, headers=headers, timeout=30)
        assert put.status_code in (401, 403, 404, 405)
    assert _kinds(rest(live_stack, sender, "hello")) == ["greeting"]  # the bot still answers


def test_tracker_route_needs_the_token_reads_only_and_cuts_to_the_last_turns(live_stack, live_env):
    """The one piece of the HTTP API the app needs (its chat after a reload), on the token channel."""
    sender = enrol(live_env["DATABASE_URL"])
    rest(live_stack, sender, "show my progress")
    rest(live_stack, sender, "hello")
    base = f"http://127.0.0.1:{live_stack.rasa_port}/webhooks/rest/conversations"
    for headers in ({}, {"Authorization": "Bearer wrong-token"}):
        refused = requests.get(f"{base}/{sender}/tracker", headers=headers, timeout=30)
        assert refused.status_code == 401 and "events" not in refused.text and "progress" not in refused.text
    dump = requests.get(f"{base}/{sender}/tracker", headers=live_stack.headers(), timeout=30).json()
    assert dump["sender_id"] == sender
    assert [e["text"] for e in dump["events"] if e["event"] == "user"] == ["show my progress", "hello"]
    assert [e["data"]["custom"]["kind"] for e in dump["events"] if e["event"] == "bot"] == ["progress", "greeting"]
    last = requests.get(f"{base}/{sender}/tracker", params={"turns": 1}, headers=live_stack.headers(),
                        timeout=30).json()["events"]
    assert last[0]["event"] == "user" and [e["text"] for e in last if e["event"] == "user"] == ["hello"]
    bad = requests.get(f"{base}/{sender}/tracker", params={"turns": "all"}, headers=live_stack.headers(), timeout=30)
    assert bad.status_code == 400
    nobody = f"never-{uuid.uuid4().hex[:8]}"
    empty = requests.get(f"{base}/{nobody}/tracker", headers=live_stack.headers(), timeout=30)
    assert empty.status_code == 200 and empty.json()["events"] == []
    with sqlite3.connect(Path(live_env["POLICY_COACH_VAR"]) / "rasa_tracker.db") as db:  # nothing was written
        assert db.execute("SELECT COUNT(*) FROM events WHERE sender_id = ?", (nobody,)).fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM events WHERE sender_id = ?", (sender,)).fetchone()[0] > 0


def test_tracker_route_reads_the_same_events_as_rasas_full_tracker_replay():
    """The route's SQL read against Rasa's retrieve_full_tracker + dump, on small conversations with restarts."""
    import subprocess

    from bot.ops.stack import RASA_PY, ROOT, rasa_env

    done = subprocess.run([str(RASA_PY), "-m", "bot.perf.tracker_bench", "--check"], cwd=ROOT, env=rasa_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if "same events" in line]
    assert len(lines) == 7 and all("same events: True" in line for line in lines), done.stdout


# -- the action server -------------------------------------------------------------------------------------
def _hand_made_call(sender: str) -> dict:
    return {"next_action": "action_show_progress", "sender_id": sender,
            "tracker": {"sender_id": sender, "slots": {}, "latest_message": {"text": "show my progress"},
                        "events": [], "active_loop": {}}, "domain": {}}


def test_action_server_refuses_calls_without_the_action_token(live_stack, live_env):
    sender = enrol(live_env["DATABASE_URL"])
    url = f"http://127.0.0.1:{live_stack.action_port}/webhook"
    for params in ({}, {"token": "guess"}, {"token": live_stack.channel_token}):
        response = requests.post(url, params=params, json=_hand_made_call(sender), timeout=30)
        assert response.status_code == 401 and "progress" not in response.text
    good = requests.post(url, params={"token": live_stack.action_token}, json=_hand_made_call(sender), timeout=60)
    assert good.status_code == 200 and '"progress"' in good.text
    # Even with the token, a hand-made tracker for an id nobody was issued gets no record.
    stranger = requests.post(url, params={"token": live_stack.action_token},
                             json=_hand_made_call("alice@school.example"), timeout=60)
    assert stranger.status_code == 200 and '"signed_out"' in stranger.text and '"progress"' not in stranger.text


def _listening_addresses(port: int) -> set[str]:
    """Local addresses listening on a TCP port, from /proc/net/tcp (IPv4) and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.add(address)
    return found


def test_action_server_and_rasa_listen_on_loopback_only(live_stack):
    loopback = {"0100007F", "00000000000000000000000001000000"}
    for port in (live_stack.action_port, live_stack.rasa_port):
        addresses = _listening_addresses(port)
        assert addresses and addresses <= loopback, (port, addresses)


# -- size limits and the time guard --------------------------------------------------------------------------
def _words(n_bytes: int) -> str:
    words = "friend request facebook pupil instagram photo phone parent school staff "
    return (words * (n_bytes // len(words) + 1))[:n_bytes]


def test_message_just_over_4kb_gets_a_plain_too_long_reply_without_nlu(live_stack, live_env):
    sender = enrol(live_env["DATABASE_URL"])
    replies = rest(live_stack, sender, _words(5000))
    assert _kinds(replies) == ["too_long"] and "too long" in replies[0]["text"]
    assert _records(live_env["DATABASE_URL"], f"{sender}@example.org")[1] == 0  # never reached an action


def test_a_too_long_message_and_its_reply_come_back_after_a_reload_and_keep_the_context(live_stack, live_env):
    sender = enrol(live_env["DATABASE_URL"])
    first = "A pupil sent me a friend request on Facebook, what do I do?"
    rest(live_stack, sender, first)
    assert _kinds(rest(live_stack, sender, _words(5000))) == ["too_long"]
    follow = [p for p in payloads(rest(live_stack, sender, "what if they're my nephew?")) if p["kind"] != "text"]
    assert follow[0]["kind"] == "policy_answer" and follow[0].get("context") == first  # the context is kept
    base = f"http://127.0.0.1:{live_stack.rasa_port}/webhooks/rest/conversations"
    events = requests.get(f"{base}/{sender}/tracker", headers=live_stack.headers(), timeout=30).json()["events"]
    turns = conversation_from_events(events)
    users = [t["text"] for t in turns if t["role"] == "user"]
    assert users[0] == first and users[2] == "what if they're my nephew?"
    assert users[1].startswith("friend request facebook pupil") and users[1].endswith(" …") and len(users[1]) < 320
    assert [m["kind"] for m in turns[3]["messages"]] == ["too_long"]


def test_100kb_and_1mb_messages_are_refused_while_another_user_keeps_chatting(live_stack, live_env):
    attacker, colleague = enrol(live_env["DATABASE_URL"]), enrol(live_env["DATABASE_URL"])
    statuses: list[int] = []

    def flood() -> None:
        for size in (100_000, 1_000_000, 100_000, 1_000_000):
            statuses.append(post(live_stack, {"sender": attacker, "message": _words(size)}, timeout=120).status_code)

    thread = threading.Thread(target=flood)
    thread.start()
    answered = []
    try:
        for _ in range(4):
            # A hung server fails this by the request's own timeout; no latency is asserted.
            replies = rest(live_stack, colleague, "A pupil sent me a friend request on Facebook, what do I do?")
            answered.append(_kinds(replies))
    finally:
        thread.join(timeout=300)
    assert not thread.is_alive()
    assert statuses == [413, 413, 413, 413]
    assert all(kinds and kinds[0] in ("policy_answer", "out_of_scope") for kinds in answered), answered


def test_typed_letter_sent_twice_does_not_answer_the_question_nobody_saw(live_stack, live_env):
    sender = enrol(live_env["DATABASE_URL"])
    question = next(p for p in payloads(rest(live_stack, sender, "quiz me")) if p["kind"] == "quiz_question")
    shown = {"quiz_question": [question["attempt_id"], question["number"]]}
    first = _kinds(rest(live_stack, sender, "a", metadata=shown))
    assert "quiz_feedback" in first
    again = _kinds(rest(live_stack, sender, "a", metadata=shown))  # the same letter, for the same question
    assert "quiz_feedback" not in again and "quiz_stale" in again
    assert _records(live_env["DATABASE_URL"], f"{sender}@example.org")[0] == 1
