"""Talk to the Rasa server over its REST channel and pair each reply's text with its custom payload."""
from __future__ import annotations

import requests

from bot.tokens import CHANNEL_TOKEN, read_token
from knowledge.settings import get_settings


class RasaUnavailable(RuntimeError):
    """The Rasa server (or its action server) could not be reached; the message is safe to show."""


def group_messages(raw: list[dict]) -> list[dict]:
    """Turn REST replies into render-ready messages: a payload when the bot sent one, else plain text.

    Rasa's REST channel sends a message's text (split at blank lines) before its custom payload; those text
    parts are dropped when the payload that follows carries the same text.
    """
    out: list[dict] = []
    for item in raw:
        if "custom" in item and isinstance(item["custom"], dict):
            payload = dict(item["custom"])
            if "text" not in payload:
                if out and out[-1].get("kind") == "text":
                    payload["text"] = out.pop()["text"]
            else:
                full = payload["text"] or ""
                while out and out[-1].get("kind") == "text" and out[-1]["text"].strip() and \
                        out[-1]["text"].strip() in full:
                    out.pop()
            out.append(payload)
        elif item.get("text"):
            out.append({"kind": "text", "text": item["text"], "buttons": item.get("buttons") or []})
    return out


def channel_token() -> str:
    """The channel token from `<runtime dir>/channel.token` (written by the launcher at first start), or ""."""
    try:
        return read_token(CHANNEL_TOKEN, get_settings().var_dir)
    except (OSError, ValueError):
        return ""  # Rasa then answers 401, shown as a clear message


def send_message(base_url: str, sender: str, text: str, *, timeout: float = 60, metadata: dict | None = None,
                 token: str | None = None) -> list[dict]:
    """Send one user message as the signed-in person's opaque chat id; return the bot's render-ready replies."""
    body = {"sender": sender, "message": text}
    if metadata:
        body["metadata"] = metadata
    try:
        response = requests.post(f"{base_url.rstrip('/')}/webhooks/rest/webhook", json=body, timeout=timeout,
                                 headers={"Authorization": f"Bearer {token or channel_token()}",
                                          # routes one person's turns to one Rasa replica behind nginx
                                          "X-Chat-Session": sender})
    except requests.RequestException as exc:
        raise RasaUnavailable("The chat service isn't reachable right now. Please try again in a minute; "
                              "if it keeps happening, tell your coordinator.") from exc
    if response.status_code in (401, 403):
        raise RasaUnavailable("The chat service refused this app's credentials. Please tell your coordinator "
                              "or IT support (the channel token may have changed: restart the app).")
    if response.status_code == 413:
        raise RasaUnavailable("That message is too long for me to read. Please ask one question at a time.")
    if response.status_code != 200:
        raise RasaUnavailable(f"The chat service answered with an error ({response.status_code}). Please try again.")
    try:
        raw = response.json()
    except ValueError as exc:
        raise RasaUnavailable("The chat service sent a reply I couldn't read. Please try again.") from exc
    replies = group_messages(raw or [])
    if not replies:
        raise RasaUnavailable("The chat service didn't reply — its action server may be down. Please try again shortly.")
    return replies
