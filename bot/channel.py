"""The app's Rasa input channel: Rasa's REST contract (`POST /webhooks/rest/webhook`) behind a bearer token,
with size limits and a time limit before anything reaches NLU. Runs in .venv-rasa (Rasa and stdlib only).

Hand-written because Rasa's own REST channel accepts any sender from anyone: here only holders of
`<runtime dir>/channel.token` (the app and trusted tools on the server) may post, so nobody can speak as
a colleague, and an oversized body is refused before the regex featurizer could stall the event loop.

`GET /webhooks/rest/conversations/<sender>/tracker` is the one read-only piece of Rasa's HTTP API the app needs (its
chat comes back after a reload from the tracker store): same bearer token, the `sender_id` and `events` of Rasa's
`/conversations/<sender>/tracker` JSON, with only the events from the last `turns` user messages on. Rasa's own HTTP API stays
off, because with it any token holder could also replace the model or write events.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import BotUttered, Restarted, UserUttered
from rasa.shared.core.trackers import EventVerbosity
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.tokens import CHANNEL_TOKEN, bearer, ensure_token, same

log = logging.getLogger(__name__)
DEFAULT_RUNTIME_DIR = Path(__file__).resolve().parent.parent / "var"  # when Rasa is run by hand with bot/credentials.yml
MAX_BODY_BYTES = 16 * 1024  # whole request; refused with 413 before it is parsed
MAX_MESSAGE_BYTES = 4 * 1024  # the user's text; answered with a plain "too long" reply, never sent to NLU
MAX_METADATA_BYTES = 1024
DEFAULT_TURNS = 50  # user messages (with their replies) returned by the tracker route unless ?turns= says otherwise
MAX_TURNS = 500
KEPT_CHARS = 300  # of a too-long message, kept in the tracker so a reload shows what was sent (with an ellipsis)
SENDER = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
TOO_LONG = ("That message is too long for me to read. Please ask one question at a time, "
            "in a sentence or two.")
EMPTY = "Type a question about the policy in your own words, or say 'quiz me'."
FAILED = "Sorry, something went wrong on my side. Nothing you entered was lost; please try again."
TOO_SLOW = "Sorry, that took too long to work out. Nothing you entered was lost; please try again."


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


class TokenRestInput(InputChannel):
    """Rasa's REST webhook, accepting only posts that carry `Authorization: Bearer <channel token>`."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> "TokenRestInput":
        # bot/ops/stack.py writes both from knowledge.settings into the credentials file it gives Rasa:
        # this process (.venv-rasa) reads nothing from the environment.
        credentials = credentials or {}
        timeout = float(credentials.get("turn_timeout") or 60)
        directory = Path(credentials.get("runtime_dir") or DEFAULT_RUNTIME_DIR)
        return cls(ensure_token(CHANNEL_TOKEN, directory), turn_timeout=timeout)

    def __init__(self, token: str, *, turn_timeout: float = 60) -> None:
        self.token = token
        self.turn_timeout = turn_timeout

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The routes: `GET /` (health), `POST /webhook` and `GET /conversations/<sender>/tracker`."""
        webhook = Blueprint("token_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not same(bearer(request.headers.get("Authorization")), self.token):
                return _error(401, "missing or wrong bearer token")
            body = request.body or b""
            if len(body) > MAX_BODY_BYTES:
                return _error(413, f"request larger than {MAX_BODY_BYTES} bytes")
            try:
                data = json.loads(body)
            except ValueError:
                return _error(400, "the body must be a JSON object with 'sender' and 'message'")
            if not isinstance(data, dict):
                return _error(400, "the body must be a JSON object with 'sender' and 'message'")
            sender, text, metadata = data.get("sender"), data.get("message"), data.get("metadata")
            if not isinstance(sender, str) or not SENDER.match(sender):
                return _error(400, "'sender' must be the id the app was given for the signed-in person")
            if text is None:
                text = ""
            if not isinstance(text, str):
                return _error(400, "'message' must be text")
            if metadata is not None and (not isinstance(metadata, dict)
                                         or len(json.dumps(metadata)) > MAX_METADATA_BYTES):
                return _error(400, "'metadata' must be a small JSON object")
            if len(text.encode("utf-8", "replace")) > MAX_MESSAGE_BYTES:
                reply = {"recipient_id": sender, "text": TOO_LONG, "custom": {"kind": "too_long", "text": TOO_LONG}}
                await keep_exchange(getattr(request.app.ctx, "agent", None), sender, excerpt(text), reply)
                return response.json([reply])
            if not text.strip():
                # Rasa's classifiers fail on an empty message; nothing to understand, so no NLU at all.
                return response.json([{"recipient_id": sender, "text": EMPTY,
                                       "custom": {"kind": "help", "text": EMPTY}}])
            collector = CollectingOutputChannel()
            message = UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata)
            try:
                await asyncio.wait_for(on_new_message(message), timeout=self.turn_timeout)
            except asyncio.TimeoutError:
                log.warning("turn for one sender exceeded %.0f s and was cancelled", self.turn_timeout)
                return response.json([*collector.messages, {"recipient_id": sender, "text": TOO_SLOW,
                                                            "custom": {"kind": "error", "text": TOO_SLOW}}])
            except Exception:  # the user gets a plain message; the details go to the log
                log.exception("message handling failed")
                return response.json([*collector.messages, {"recipient_id": sender, "text": FAILED,
                                                            "custom": {"kind": "error", "text": FAILED}}])
            return response.json(collector.messages)

        @webhook.route("/conversations/<sender>/tracker", methods=["GET"])
        async def tracker(request: Request, sender: str) -> HTTPResponse:
            if not same(bearer(request.headers.get("Authorization")), self.token):
                return _error(401, "missing or wrong bearer token")
            if not SENDER.match(sender):
                return _error(400, "the sender must be the id the app was given for the signed-in person")
            try:
                turns = min(MAX_TURNS, max(1, int(request.args.get("turns", DEFAULT_TURNS))))
            except ValueError:
                return _error(400, "'turns' must be a whole number")
            agent = getattr(request.app.ctx, "agent", None)
            if agent is None or agent.tracker_store is None:
                return _error(503, "the dialogue model is still loading")
            return response.json(await recent_state(agent.tracker_store, sender, turns))

        return webhook


def excerpt(text: str, limit: int = KEPT_CHARS) -> str:
    """The start of a message, cut at a word near `limit` characters, with an ellipsis when anything was cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut + " …"


async def keep_exchange(agent: Any, sender: str, shown: str, reply: dict[str, Any]) -> None:
    """Store a message answered by the channel itself (never sent to NLU) and its reply in the person's tracker, so
    the chat shows both after a reload. Best effort: when the tracker store fails, the reply is still sent.

    Two user events in a row do not change what the policies predict next (a dialogue state is taken at each action,
    and the later message replaces the earlier one), so the stored message has no intent and runs no action."""
    if agent is None or getattr(agent, "tracker_store", None) is None or getattr(agent, "processor", None) is None:
        return
    try:
        async with agent.lock_store.lock(sender):
            tracker = await agent.processor.fetch_tracker_and_update_session(sender, CollectingOutputChannel())
            tracker.update(UserUttered(shown, input_channel=TokenRestInput.name()))
            tracker.update(BotUttered(reply["text"], data={"custom": reply["custom"]}))
            await agent.tracker_store.save(tracker)
    except Exception:  # the person still gets the reply; the details go to the log
        log.warning("could not store a refused message in the tracker", exc_info=True)


async def recent_state(tracker_store: Any, sender: str, turns: int) -> dict[str, Any]:
    """`{"sender_id", "events"}` as Rasa's HTTP API dumps them (events after the latest restart, across all
    sessions), from the `turns`-th last user message on. Read-only: an unknown sender gets no events, and nothing is
    created or saved (Rasa's API would start and store a session for it)."""
    sql = _sql_store(tracker_store)
    if sql is not None:
        return {"sender_id": sender, "events": _recent_sql_events(sql, sender, turns)}
    found = await tracker_store.retrieve_full_tracker(sender)
    if found is None:
        return {"sender_id": sender, "events": []}
    events = found.current_state(EventVerbosity.AFTER_RESTART).get("events") or []
    users = [i for i, event in enumerate(events) if event.get("event") == "user"]
    return {"sender_id": sender, "events": events[users[-turns]:] if len(users) >= turns else events}


def _sql_store(tracker_store: Any) -> SQLTrackerStore | None:
    """The SQL tracker store inside Rasa's wrappers (fail-safe, awaitable), if that is what is configured."""
    for _ in range(4):
        if isinstance(tracker_store, SQLTrackerStore):
            return tracker_store
        tracker_store = getattr(tracker_store, "_tracker_store", None)
    return None


def _recent_sql_events(store: SQLTrackerStore, sender: str, turns: int) -> list[dict[str, Any]]:
    """The stored events from the `turns`-th last user message (or the latest restart, if later) on, read straight
    from the events table. Rasa's retrieve_full_tracker replays every event the person ever had into a tracker,
    on the server's event loop: for the last 50 turns, 0.19 s at 200 turns and 1.6 s at 1,000, against 24 and
    27 ms here (`python -m bot.perf.tracker_bench` in .venv-rasa, SQLite, 2 cores at load 7), with the same events."""
    event = store.SQLEvent
    with store.session_scope() as session:
        mine = session.query(event.id).filter(event.sender_id == sender)
        first = mine.filter(event.type_name == UserUttered.type_name).order_by(event.id.desc()) \
            .offset(turns - 1).limit(1).scalar()
        restart = mine.filter(event.type_name == Restarted.type_name).order_by(event.id.desc()).limit(1).scalar()
        query = session.query(event.data).filter(event.sender_id == sender)
        if restart is not None and (first is None or restart >= first):
            query = query.filter(event.id > restart)
        elif first is not None:
            query = query.filter(event.id >= first)
        return [json.loads(row.data) for row in query.order_by(event.id)]
