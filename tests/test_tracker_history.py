"""The chat rebuilt from Rasa's tracker after a reload: tracker events -> the page's turns (a fixture recorded from
the real stack) and the client's failures. The page itself: tests/test_ui_app.py (reload, Rasa down, sign-out)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from ui import rasa_client

# Recorded by GET /webhooks/rest/conversations/<chat id>/tracker on a real stack (Rasa 3.6 + the action server):
# a policy question, a follow-up, "Quiz me" (a button's /start_quiz with its label in the metadata), option A
# (its payload with the quiz_question metadata only), then "show my progress".
CONVERSATION = Path(__file__).resolve().parent / "fixtures" / "trackers" / "conversation.json"


@pytest.fixture(scope="module")
def dump() -> dict:
    return json.loads(CONVERSATION.read_text())


def _kinds(turn: dict) -> list[str]:
    return [m["kind"] for m in turn["messages"]]


def test_tracker_events_become_the_same_turns_the_page_shows_live(dump):
    turns = rasa_client.conversation_from_events(dump["events"])
    assert [t["role"] for t in turns] == ["user", "bot"] * 5
    users = [t["text"] for t in turns if t["role"] == "user"]
    question = "A pupil sent me a friend request on Facebook, what do I do?"
    assert users[0] == question and users[1] == "what if they're my nephew?"
    assert users[2] == "Quiz me"  # the label the app sent in the metadata, not "/start_quiz"
    quiz = turns[5]["messages"]
    assert _kinds(turns[5]) == ["quiz_start", "quiz_question"]
    first = quiz[1]
    # option A was sent with no label: the bot's own button for that payload names it
    assert users[3] == f"A) {first['options'][0]['text']}" and first["options"][0]["payload"].startswith("/")
    answer = turns[1]["messages"]
    assert _kinds(turns[1]) == ["policy_answer"]  # the REST text copy before the payload is not shown twice
    assert answer[0]["answered"] and answer[0]["citations"][0]["clause"] == "6.3"
    assert answer[0]["highlights"] and answer[0]["highlights"][0]["text"] in answer[0]["citations"][0]["text"]
    assert turns[3]["messages"][0]["context"] == question  # the follow-up keeps what it followed on from
    assert _kinds(turns[7])[0] == "quiz_feedback" and _kinds(turns[7])[-1] == "quiz_question"
    assert _kinds(turns[9]) == ["progress", "quiz_question"]  # the running quiz asks its question again


def test_each_bot_event_is_grouped_exactly_like_the_rest_channel_reply(dump):
    """The replies the REST channel sent live, recorded in the same run, group into the same messages."""
    live = json.loads(CONVERSATION.with_name("conversation-replies.json").read_text())
    turns = [t for t in rasa_client.conversation_from_events(dump["events"]) if t["role"] == "bot"]
    assert [t["messages"] for t in turns] == [rasa_client.group_messages(raw) for raw in live]


def test_only_the_last_turns_come_back(dump):
    turns = rasa_client.conversation_from_events(dump["events"], turns=2)
    assert [t["role"] for t in turns] == ["user", "bot", "user", "bot"]
    assert turns[0]["text"].startswith("A) ") and _kinds(turns[3])[0] == "progress"
    assert rasa_client.conversation_from_events([]) == []
    # bot messages with no user message before them (a cut in the middle of a reply) are left out
    cut = [e for e in dump["events"] if e["event"] != "user"][:5] + dump["events"]
    assert rasa_client.conversation_from_events(cut)[0]["role"] == "user"


def test_unknown_events_and_a_payload_without_a_label_are_shown_as_they_are():
    events = [{"event": "user", "text": "/stop_quiz", "metadata": {}},
              {"event": "slot", "name": "x", "value": 1},
              {"event": "bot", "text": "Stopped.", "data": {"custom": None, "buttons": None}},
              {"event": "user", "text": "hello"},
              {"event": "bot", "text": "Hi!", "data": {"buttons": [{"title": "Quiz me", "payload": "/start_quiz"}]}}]
    turns = rasa_client.conversation_from_events(events)
    assert turns[0] == {"role": "user", "text": "/stop_quiz"}
    assert turns[1]["messages"] == [{"kind": "text", "text": "Stopped.", "buttons": []}]
    assert turns[3]["messages"][0]["buttons"] == [{"title": "Quiz me", "payload": "/start_quiz"}]


def test_shown_label_goes_in_the_metadata_only_for_a_payload_and_only_while_it_fits():
    binding = {"quiz_question": [3, 1]}
    assert rasa_client.shown_metadata(binding, "/start_quiz", "Quiz me") == {**binding, "shown": "Quiz me"}
    assert rasa_client.shown_metadata(None, "hello", "hello") is None
    assert rasa_client.shown_metadata(binding, "typed text", "other") == binding  # typed text is its own label
    long = "é" * 400  # JSON-escaped to 2,400 bytes: more than the channel's 1 KB metadata limit
    assert rasa_client.shown_metadata(binding, "/x", long) == binding


class _Response:
    def __init__(self, status: int, body) -> None:
        self.status_code, self.body = status, body

    def json(self):
        if isinstance(self.body, Exception):
            raise self.body
        return self.body


@pytest.mark.parametrize("outcome, says", [
    (requests.ConnectionError("refused"), "isn't reachable"),
    (_Response(401, {}), "refused this app's credentials"),
    (_Response(503, {}), r"error \(503\)"),
    (_Response(200, ValueError("not JSON")), "couldn't read"),
])
def test_fetch_failures_are_plain_messages(monkeypatch, outcome, says):
    def get(*_, **__):
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(rasa_client.requests, "get", get)
    with pytest.raises(rasa_client.RasaUnavailable, match=says):
        rasa_client.fetch_conversation("http://rasa", "chat-1", token="t")


def test_fetch_asks_for_this_chat_id_with_the_token_and_the_cap(monkeypatch, dump):
    seen = {}

    def get(url, *, params, headers, timeout):
        seen.update(url=url, params=params, headers=headers)
        return _Response(200, dump)

    monkeypatch.setattr(rasa_client.requests, "get", get)
    turns = rasa_client.fetch_conversation("http://rasa:5005/", "chat/1", turns=3, token="secret")
    assert seen["url"] == "http://rasa:5005/webhooks/rest/conversations/chat%2F1/tracker"
    assert seen["params"] == {"turns": 3} and seen["headers"]["Authorization"] == "Bearer secret"
    assert len([t for t in turns if t["role"] == "user"]) == 3
