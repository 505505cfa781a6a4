"""Run the Rasa CLI with fixes for throughput. Runs in .venv-rasa: imports nothing from the app.

Rasa 3.6 validates every action-server response with `jsonschema.validate`, which re-checks the
(large) events schema itself on every call: under load that was ~40% of the Rasa server's CPU
(py-spy). Here the validator is built once and reused; the check on each response stays the same.

Rasa also loads, replays and posts to the action server the whole current session on every turn, so a
turn's cost grew with the conversation (3.4x a fresh one by turn 200, issue 16). Sessions are bounded
here: see _bounded_sessions.
"""
from __future__ import annotations

import itertools
import sys

# Events in one session before the next user message starts a new one (0 = unbounded, Rasa's behaviour).
# The launcher passes POLICY_COACH_SESSION_EVENTS, validated by knowledge.settings, as --session-events: this
# process runs in the Rasa venv (pydantic 1), where the app's settings module cannot be imported.
SESSION_EVENTS = 60


def _cache_action_response_validator() -> None:
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for
    from rasa.core.actions import action as rasa_action

    schema = rasa_action.RemoteAction.action_response_format_spec()
    validator = validator_for(schema)(schema)
    original = rasa_action.RemoteAction._validate_action_result

    def validate(self, result):
        try:
            validator.validate(result)
            return True
        except ValidationError:
            return original(self, result)  # the original adds Rasa's explanation and raises

    rasa_action.RemoteAction._validate_action_result = validate


def _sqlite_tracker_in_wal_mode() -> None:
    """Rasa's SQL tracker store runs synchronously on its event loop; with SQLite's default rollback journal
    every turn waits for several fsyncs while the whole server stalls. WAL with synchronous=NORMAL keeps
    each commit durable against process crashes (a killed Rasa loses nothing) at a fraction of the cost."""
    from rasa.core import tracker_store
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import QueuePool

    original_kwargs = tracker_store.create_engine_kwargs

    def engine_kwargs(url):
        if tracker_store.is_postgresql_url(url):
            return original_kwargs(url)
        # Keep SQLite connections open: SQLAlchemy 1.4's default for a file (NullPool) closes the last
        # connection after every turn, which checkpoints and deletes the WAL each time.
        return {"poolclass": QueuePool, "pool_size": 4, "max_overflow": 4,
                "connect_args": {"check_same_thread": False}}

    tracker_store.create_engine_kwargs = engine_kwargs

    @event.listens_for(Engine, "connect")
    def _pragmas(dbapi_connection, _record):
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()


def _event_classes_by_name() -> None:
    """Look event classes up by type name in a dict: Rasa walks every Event subclass for each stored event it
    deserialises (all_subclasses per event), which showed in py-spy on every tracker load."""
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    found: dict = {}

    def resolve_by_type(type_name, default=None):
        cls = found.get(type_name)
        if cls is None:
            cls = original(type_name, default)  # unknown names behave as before (default, None or ValueError)
            if cls is not None and cls is not default:
                found[type_name] = cls
        return cls

    Event.resolve_by_type = staticmethod(resolve_by_type)


def _keep_action_connections() -> None:
    """Reuse one HTTP client session (keep-alive connections) per endpoint instead of a new one per call.

    Rasa's EndpointConfig.request opens a fresh aiohttp ClientSession, so a new TCP connection, for every
    action call (py-spy: ~10% of the Rasa server's samples in connect). Every caller uses `async with
    endpoint.session() as s`, so the kept session is handed out through a context manager that leaves it open.
    """
    import asyncio

    from rasa.utils.endpoints import EndpointConfig

    new_session = EndpointConfig.session

    class _Kept:
        def __init__(self, session):
            self.session = session

        async def __aenter__(self):
            return self.session

        async def __aexit__(self, *exc) -> bool:
            return False

    def session(self):
        loop = asyncio.get_running_loop()
        kept = getattr(self, "_kept_session", None)
        if kept is None or kept.closed or kept._loop is not loop:
            kept = self._kept_session = new_session(self)
        return _Kept(kept)

    EndpointConfig.session = session


def _stored_event_count_without_a_query() -> None:
    """Remember how many events a tracker had when it was loaded, instead of counting them again on save.

    SQLTrackerStore.save ran the whole session query again as COUNT(*) to find which events are new (~14% of
    the Rasa server's samples under load). The count is known from the load; Rasa's lock store serialises
    turns of one conversation, so it is still right at save time. Trackers not loaded here use Rasa's query.
    """
    from rasa.core.tracker_store import SQLTrackerStore

    retrieve, additional = SQLTrackerStore._retrieve, SQLTrackerStore._additional_events

    async def _retrieve(self, sender_id, fetch_events_from_all_sessions):
        tracker = await retrieve(self, sender_id, fetch_events_from_all_sessions)
        if tracker is not None and not fetch_events_from_all_sessions:
            tracker._stored_events = len(tracker.events)
        return tracker

    def _additional_events(self, session, tracker):
        stored = getattr(tracker, "_stored_events", None)
        if stored is None:
            return additional(self, session, tracker)
        new = list(itertools.islice(tracker.events, stored, len(tracker.events)))
        tracker._stored_events = len(tracker.events)
        return iter(new)

    SQLTrackerStore._retrieve = _retrieve
    SQLTrackerStore._additional_events = _additional_events


def _bounded_sessions(limit: int) -> None:
    """Start a new Rasa session once the current one holds `limit` events and no form (quiz) is running.

    Every turn Rasa's SQL tracker store loads the events of the current session, replays them into a tracker,
    featurizes it for the policies and posts it to the action server: all linear in the session's length.
    A session start is Rasa's own snapshot mechanism (SessionStarted, then the slots carried over), so cutting
    sessions at a bounded length keeps each turn's cost flat. Nothing is lost: all events stay in the tracker
    store (the full history API still returns them), slots carry over (carry_over_slots_to_new_session), and
    quiz state lives in the app database. A running quiz form is never cut: it ends within its questions.
    """
    from rasa.core.actions.action import ActionSessionStart
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.events import SlotSet, UserUttered

    expired_by_time = MessageProcessor._has_session_expired

    def has_session_expired(self, tracker) -> bool:
        if expired_by_time(self, tracker):
            return True
        return (self.domain.session_config.are_sessions_enabled() and len(tracker.events) >= limit
                and not tracker.active_loop_name and tracker.get_last_event_for(UserUttered) is not None)

    def carried_slots(tracker) -> list:
        # Rasa copies every SlotSet of the old session; only each slot's last value matters, and copying all
        # of them would make each new session start longer than the last.
        latest = {}
        for event in tracker.applied_events():
            if isinstance(event, SlotSet):
                latest.pop(event.key, None)
                latest[event.key] = SlotSet(key=event.key, value=event.value, metadata=event.metadata)
        return list(latest.values())

    MessageProcessor._has_session_expired = has_session_expired
    ActionSessionStart._slot_set_events_from_tracker = staticmethod(carried_slots)


def _take_session_events(argv: list[str]) -> tuple[int, list[str]]:
    """Remove `--session-events N` from the arguments (Rasa's CLI would refuse it) and return N."""
    if "--session-events" in argv:
        at = argv.index("--session-events")
        return int(argv[at + 1]), argv[:at] + argv[at + 2:]
    return SESSION_EVENTS, argv


def main() -> None:
    """`python -m bot.ops.rasa_server run ...` behaves like `rasa run ...`."""
    session_events, args = _take_session_events(sys.argv[1:])
    _cache_action_response_validator()
    _sqlite_tracker_in_wal_mode()
    _event_classes_by_name()
    _keep_action_connections()
    _stored_event_count_without_a_query()
    if session_events > 0:
        _bounded_sessions(session_events)
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *args]
    rasa_main()


if __name__ == "__main__":
    main()
