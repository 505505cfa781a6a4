"""The REST client: pairing Rasa's split text messages with their custom payloads, and clear errors."""
from __future__ import annotations

import json

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


def test_client_sends_the_bearer_token_and_maps_refusals_to_clear_messages(tmp_path, monkeypatch):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from bot.tokens import CHANNEL_TOKEN, ensure_token

    monkeypatch.setenv("POLICY_COACH_VAR", str(tmp_path / "var"))
    token = ensure_token(CHANNEL_TOKEN, tmp_path / "var")
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.headers.get("Authorization"), body))
            status = 200 if body["message"] == "ok" else int(body["message"])
            data = json.dumps([{"text": "hi", "custom": {"kind": "greeting"}}] if status == 200 else {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert rasa_client.send_message(url, "c_abc", "ok", metadata={"question": 3})[0]["kind"] == "greeting"
        assert seen[0] == (f"Bearer {token}", {"sender": "c_abc", "message": "ok", "metadata": {"question": 3}})
        with pytest.raises(rasa_client.RasaUnavailable, match="refused this app's credentials"):
            rasa_client.send_message(url, "c_abc", "401")
        with pytest.raises(rasa_client.RasaUnavailable, match="too long"):
            rasa_client.send_message(url, "c_abc", "413")
    finally:
        server.shutdown()


@pytest.mark.parametrize("unit", ["a", "é", "漢", "😀", "a b\n"])
def test_a_huge_message_is_cut_to_fit_the_channel_body_but_stays_too_long(unit):
    text = unit * 50_000
    sent = rasa_client.cut_for_sending(text)
    assert text.startswith(sent)
    assert len(json.dumps({"sender": "c_abc", "message": sent, "metadata": {"x": "y" * 900}})) < 16 * 1024
    assert len(sent.encode("utf-8")) > 4 * 1024  # the channel still answers "too long" (and keeps it)
    assert rasa_client.cut_for_sending("short question") == "short question"
