"""Talk to the Rasa server over its REST channel and pair each reply's text with its custom payload; rebuild a
person's chat from Rasa's tracker after a reload."""
from __future__ import annotations

import json
from urllib.parse import quote

import requests

from bot.tokens import CHANNEL_TOKEN, read_token
from knowledge.settings import get_settings


SHOWN_KEY = "shown"  # message metadata: what the chat showed as the user's turn when a button sent a /payload
MAX_SHOWN_METADATA = 900  # bytes of metadata JSON with the shown text; the channel refuses more than 1024
# A message is cut to this many bytes of JSON before it is sent: under the channel's 16 KB body limit (which refuses
# with nothing stored) with the metadata, and still over its 4 KB message limit even for 4-byte characters (12 bytes
# escaped), so it is answered "too long" and kept in the tracker, where a reload shows it.
MAX_SENT_JSON = 14 * 1024
UNREACHABLE = ("The chat service isn't reachable right now. Please try again in a minute; if it keeps happening, "
               "tell your coordinator.")


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


def _bot_items(event: dict) -> list[dict]:
    """One tracker `bot` event as the REST channel would have sent it: its text (with buttons), then its payload."""
    data = event.get("data") or {}
    items: list[dict] = []
    if event.get("text"):
        items.append({"text": event["text"], "buttons": data.get("buttons") or []})
    if isinstance(data.get("custom"), dict):
        items.append({"custom": data["custom"]})
    return items


def _shown_text(event: dict, buttons: list[dict]) -> str:
    """What the chat showed for a user event: the text typed, or for a button's /payload the button's label (from
    the message metadata the app sent, else the bot's last button that carries that payload), else the payload."""
    text = event.get("text") or ""
    if not text.startswith("/"):
        return text
    shown = (event.get("metadata") or {}).get(SHOWN_KEY)
    if isinstance(shown, str) and shown.strip():
        return shown
    return next((b["title"] for b in reversed(buttons) if b.get("payload") == text and b.get("title")), text)


def conversation_from_events(events: list[dict], *, turns: int = 50) -> list[dict]:
    """Rasa tracker events -> the chat's turns: {"role": "user", "text"} and {"role": "bot", "messages"}, each bot
    turn's messages grouped exactly as a live reply (group_messages). Only the last `turns` user messages (and the
    replies after them) are kept; bot messages before the first kept user message are dropped."""
    history: list[dict] = []
    raw: list[dict] = []
    buttons: list[dict] = []  # the buttons of the last bot turn, whose payloads a button click sends back

    def close_bot_turn() -> None:
        nonlocal raw, buttons
        grouped = group_messages(raw)
        if grouped:
            history.append({"role": "bot", "messages": grouped})
            buttons = [b for item in raw for b in item.get("buttons") or []]
        raw = []

    for event in events:
        kind = event.get("event")
        if kind == "user":
            close_bot_turn()
            history.append({"role": "user", "text": _shown_text(event, buttons)})
        elif kind == "bot":
            raw.extend(_bot_items(event))
    close_bot_turn()
    users = [i for i, turn in enumerate(history) if turn["role"] == "user"]
    return history[users[-turns]:] if len(users) > turns else history[users[0]:] if users else []


def shown_metadata(metadata: dict | None, text: str, shown: str | None) -> dict | None:
    """The message metadata plus the text the chat showed for a button's /payload (so a reload shows it the same),
    left out when it would make the metadata too large for the channel."""
    if not shown or shown == text or not text.startswith("/"):
        return metadata
    extended = {**(metadata or {}), SHOWN_KEY: shown}
    return extended if len(json.dumps(extended).encode()) <= MAX_SHOWN_METADATA else metadata


def fetch_conversation(base_url: str, sender: str, *, turns: int = 50, timeout: float = 15,
                       token: str | None = None) -> list[dict]:
    """This chat id's last `turns` exchanges from Rasa's tracker store, as render-ready chat turns."""
    try:
        response = requests.get(f"{base_url.rstrip('/')}/webhooks/rest/conversations/{quote(sender, safe='')}/tracker",
                                params={"turns": turns}, timeout=timeout,
                                headers={"Authorization": f"Bearer {token or channel_token()}",
                                         "X-Chat-Session": sender})
    except requests.RequestException as exc:
        raise RasaUnavailable(UNREACHABLE) from exc
    _check_status(response)
    try:
        events = response.json().get("events") or []
    except (ValueError, AttributeError) as exc:
        raise RasaUnavailable("The chat service sent a conversation I couldn't read. Please try again.") from exc
    return conversation_from_events(events, turns=turns)


def _check_status(response: requests.Response) -> None:
    """Raise RasaUnavailable with a message staff can act on for a refused or failed request."""
    if response.status_code in (401, 403):
        raise RasaUnavailable("The chat service refused this app's credentials. Please tell your coordinator "
                              "or IT support (the channel token may have changed: restart the app).")
    if response.status_code != 200:
        raise RasaUnavailable(f"The chat service answered with an error ({response.status_code}). Please try again.")


def channel_token() -> str:
    """The channel token from `<runtime dir>/channel.token` (written by the launcher at first start), or ""."""
    try:
        return read_token(CHANNEL_TOKEN, get_settings().var_dir)
    except (OSError, ValueError):
        return ""  # Rasa then answers 401, shown as a clear message


def cut_for_sending(text: str) -> str:
    """The longest start of a message whose JSON fits MAX_SENT_JSON bytes (all of it, usually)."""
    if len(json.dumps(text)) <= MAX_SENT_JSON:
        return text
    low, high = 0, len(text)  # the escaped length only grows with the prefix: bisect on it
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if len(json.dumps(text[:mid])) <= MAX_SENT_JSON else (low, mid - 1)
    return text[:low]


def send_message(base_url: str, sender: str, text: str, *, timeout: float = 60, metadata: dict | None = None,
                 token: str | None = None) -> list[dict]:
    """Send one user message as the signed-in person's opaque chat id; return the bot's render-ready replies."""
    body = {"sender": sender, "message": cut_for_sending(text)}
    if metadata:
        body["metadata"] = metadata
    try:
        response = requests.post(f"{base_url.rstrip('/')}/webhooks/rest/webhook", json=body, timeout=timeout,
                                 headers={"Authorization": f"Bearer {token or channel_token()}",
                                          # routes one person's turns to one Rasa replica behind nginx
                                          "X-Chat-Session": sender})
    except requests.RequestException as exc:
        raise RasaUnavailable(UNREACHABLE) from exc
    if response.status_code == 413:
        raise RasaUnavailable("That message is too long for me to read. Please ask one question at a time.")
    _check_status(response)
    try:
        raw = response.json()
    except ValueError as exc:
        raise RasaUnavailable("The chat service sent a reply I couldn't read. Please try again.") from exc
    replies = group_messages(raw or [])
    if not replies:
        raise RasaUnavailable("The chat service didn't reply — its action server may be down. Please try again shortly.")
    return replies
