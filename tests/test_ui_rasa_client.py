"""The REST client: pairing Rasa's split text messages with their custom payloads, and clear errors."""
from __future__ import annotations

import pytest

from ui import rasa_client

ANSWER = {"kind": "policy_answer", "answered": True, "message": "The policy covers this in clause 6.3:",
          "citations": [{"clause": "6.3"}],
          "text": "The policy covers this in clause 6.3:\n\n> **6.3** — 6 Personal Use\n> 6.3 Staff members must not"}


def test_split_text_parts_before_a_payload_are_dropped():
    raw = [{"recipient_id": "a", "text": "The policy covers this in clause 6.3:"},
           {"recipient_id": "a", "text": "> **6.3** — 6 Personal Use\n> 6.3 Staff members must not"},
           {"recipient_id": "a", "custom": ANSWER}]
    assert rasa_client.group_messages(raw) == [ANSWER]


def test_quiz_question_with_buttons_keeps_only_the_payload():
    question = {"kind": "quiz_question", "text": "Question 1 of 10: What now?\nA) This\nB) That",
                "options": [{"letter": "A", "payload": '/quiz_answer{"quiz_choice":"1:0:a"}'}]}
    raw = [{"text": "Quiz: 10 scenarios."}, {"custom": {"kind": "quiz_start", "text": "Quiz: 10 scenarios."}},
           {"text": "Question 1 of 10: What now?\nA) This\nB) That", "buttons": [{"title": "A) This"}]},
           {"custom": question}]
    assert [m["kind"] for m in rasa_client.group_messages(raw)] == ["quiz_start", "quiz_question"]


def test_plain_text_and_payload_without_text():
    raw = [{"text": "Hello!"}, {"text": "How can I help?"}, {"custom": {"kind": "greeting"}}]
    out = rasa_client.group_messages(raw)
    assert out == [{"kind": "text", "text": "Hello!", "buttons": []}, {"kind": "greeting", "text": "How can I help?"}]


def test_unreachable_server_is_a_clear_error():
    with pytest.raises(rasa_client.RasaUnavailable, match="isn't reachable"):
        rasa_client.send_message("http://127.0.0.1:9", "someone", "hello", timeout=2)
