"""Run the Rasa CLI with two fixes for throughput. Runs in .venv-rasa: imports nothing from the app.

Rasa 3.6 validates every action-server response with `jsonschema.validate`, which re-checks the
(large) events schema itself on every call: under load that was ~40% of the Rasa server's CPU
(py-spy). Here the validator is built once and reused; the check on each response stays the same.
"""
from __future__ import annotations

import sys


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


def main() -> None:
    """`python -m bot.rasa_server run ...` behaves like `rasa run ...`."""
    _cache_action_response_validator()
    _sqlite_tracker_in_wal_mode()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
