"""Shared fixtures: the real policy index, and a live stack (Rasa server + action server [+ Streamlit])."""
from __future__ import annotations

import functools
import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest
import requests

from bot.ops.stack import free_port  # the tests import it from here

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "data" / "policies" / "social-media-policy.md"


# Two tiers. `slow` (integration): the real model, Rasa, Postgres, Redis or a browser; everything else is
# the fast tier (`make test-fast`: pytest -m "not slow", SQLite and the hashing encoder only).
SLOW_FIXTURES = {"real_index", "live_env", "live_stack", "sender", "postgres_url", "chromium"}


def pytest_collection_modifyitems(config, items):
    """Mark slow every test that asks for a fixture of the integration tier."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def _refuse(what: str, nodeid: str):
    def refuse(*args, **kwargs):
        raise RuntimeError(f"{nodeid} {what} but is not marked slow: add @pytest.mark.slow (see tests/conftest.py)")
    return refuse


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Keep the fast tier honest: a test not marked slow that loads the real model or starts a stack fails."""
    if item.get_closest_marker("slow"):
        yield
        return
    from knowledge.encoder import Encoder
    from bot.ops.stack import Stack

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Encoder, "__init__", _refuse("loads the real sentence-transformers model", item.nodeid))
        patch.setattr(Stack, "_spawn", _refuse("starts a Rasa/action/Streamlit process", item.nodeid))
        if "sentence_transformers" in sys.modules:  # the adapter trainer builds the model without Encoder
            patch.setattr(sys.modules["sentence_transformers"].SentenceTransformer, "__init__",
                          _refuse("loads a sentence-transformers model", item.nodeid))
        from selenium.webdriver import Chrome

        patch.setattr(Chrome, "__init__", _refuse("starts a browser", item.nodeid))
        yield


SESSION_EVENTS = 30


@pytest.fixture(scope="session")
def real_index(tmp_path_factory) -> Path:
    """A FAISS index over the real Social Media policy, built with the real model (once per session)."""
    from knowledge.encoder import load_encoder
    from knowledge.index import ingest
    from knowledge.settings import get_settings

    directory = tmp_path_factory.mktemp("index") / "index"
    ingest([POLICY], directory, load_encoder(get_settings().model))
    return directory


@pytest.fixture(scope="session")
def live_env(tmp_path_factory, real_index) -> dict[str, str]:
    """Environment for a test stack: its own database, tracker store and index."""
    base = tmp_path_factory.mktemp("stack")
    # banks the quiz editor saves are published here, never into the repository's data/quizzes
    shutil.copytree(ROOT / "data" / "quizzes", base / "quizzes")
    return {
        "POLICY_COACH_QUIZZES": str(base / "quizzes"),
        "POLICY_COACH_VAR": str(base / "var"),
        "DATABASE_URL": f"sqlite:///{base / 'coach.db'}",
        "POLICY_COACH_INDEX": str(real_index),
        # Rasa starts a new session after this many events (bot/ops/rasa_server.py); kept small so the live tests
        # cross session boundaries often (tests/test_conversation.py checks nothing is lost across them).
        "POLICY_COACH_SESSION_EVENTS": str(SESSION_EVENTS),
        "COORDINATOR_EMAIL": "coordinator@example.org",
        "COORDINATOR_PASSWORD": "test-coordinator-pass",
    }


@pytest.fixture(scope="session")
def live_stack(live_env):
    """The real Rasa server and action server on free ports (trained model required: `make model`)."""
    from bot.ops.stack import MODEL, Stack

    if not MODEL.exists():
        pytest.fail("No trained Rasa model: run `make model` (make test does this) first")
    stack = Stack(rasa_port=free_port(), action_port=free_port(), ui_port=free_port(),
                  log_dir=Path(live_env["POLICY_COACH_VAR"]).parent / "logs", env=dict(live_env))
    old = {k: os.environ.get(k) for k in live_env}
    os.environ.update(live_env)
    try:
        stack.start_actions()
        stack.start_rasa()
        yield stack
    finally:
        stack.stop()
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def post(stack, body, *, token: str | None = "stack", timeout: float = 60, **kwargs) -> requests.Response:
    """POST a body to the stack's REST channel, as a trusted tool (the stack's token) unless told otherwise."""
    headers = {}
    if token == "stack":
        token = stack.channel_token
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if isinstance(body, (bytes, str)):
        return requests.post(f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook", data=body,
                             headers={**headers, "Content-Type": "application/json"}, timeout=timeout, **kwargs)
    return requests.post(f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook", json=body, headers=headers,
                         timeout=timeout, **kwargs)


def rest(stack, sender: str, text: str, metadata: dict | None = None) -> list[dict]:
    """Send one message through the Rasa REST channel with the channel token; return the raw reply list."""
    body = {"sender": sender, "message": text}
    if metadata:
        body["metadata"] = metadata
    response = post(stack, body)
    response.raise_for_status()
    return response.json()


def enrol(database_url: str, *, chat_id: str | None = None, email: str | None = None,
          name: str = "Test Person", role: str = "teacher") -> str:
    """Put a person on the roster with an issued chat id (as sign-in does); return the chat id."""
    from bot.training.store import Staff, get_store

    chat_id = chat_id or f"test-{uuid.uuid4().hex[:10]}"
    email = email or f"{chat_id}@example.org"
    with get_store(database_url).session() as session:
        session.add(Staff(sender_id=email, email=email, name=name, role=role, on_roster=True, chat_id=chat_id))
    return chat_id


def payloads(replies: list[dict]) -> list[dict]:
    """Only the custom payloads of a reply list."""
    return [r["custom"] for r in replies if "custom" in r]


@pytest.fixture
def sender(live_env) -> str:
    """A fresh roster member per test; returns the opaque chat id the app would send to Rasa."""
    return enrol(live_env["DATABASE_URL"])


@pytest.fixture(scope="session", autouse=True)
def fast_bcrypt() -> int:
    """Real bcrypt at its lowest work factor (4): a hash or check costs ~1 ms instead of ~0.25 s, which was a third
    of the fast tier. Returns the product's factor, for the tests that check it (tests/test_auth.py)."""
    from bot.training import accounts

    product = accounts.BCRYPT_ROUNDS
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "BCRYPT_ROUNDS", 4)
        yield product


@pytest.fixture(scope="session", autouse=True)
def streamlit_components_scanned_once():
    """Each new AppTest scans every installed distribution's metadata for Streamlit components (~0.3 s, a third of
    the UI tests' time); what is installed does not change during a run, so the same scan serves them all."""
    if "streamlit.testing.v1" not in sys.modules:
        yield
        return
    from streamlit.components.v2 import manifest_scanner

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(manifest_scanner, "scan_component_manifests",
                      functools.cache(manifest_scanner.scan_component_manifests))
        yield


@pytest.fixture(scope="session")
def schema_template(tmp_path_factory) -> Path:
    """An empty database migrated to the latest schema once per session. Alembic's migrations cost ~0.5 s per new
    database; a copy of this one is already at head, so its Store only confirms that (~15 ms)."""
    from bot.training.store import Store

    path = tmp_path_factory.mktemp("schema") / "empty.db"
    store = Store(f"sqlite:///{path}")
    with store.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.engine.dispose()
    return path


def fresh_database(template: Path, path: Path) -> str:
    """A new SQLite database at `path`, copied from the migrated template; returns its URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_url(tmp_path, schema_template) -> str:
    """A fresh SQLite database URL (empty, latest schema)."""
    return fresh_database(schema_template, tmp_path / "test.db")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A real Postgres database (TEST_POSTGRES_URL, started by .ci/run); skipped locally when absent."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("TEST_POSTGRES_URL is not set in CI")
        pytest.skip("no Postgres server configured (set TEST_POSTGRES_URL)")
    return url


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of Debian's chromium (installed by make test)."""
    path = shutil.which("chromium")
    if not path:
        pytest.fail("chromium is not installed (make test installs Debian's chromium and chromium-driver)")
    return path
