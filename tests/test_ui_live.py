"""The chat page against the real stack: real Rasa server, real action server, real index and database."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bot.training import accounts
from bot.training import reports
from bot.training.store import Store

APP = str(Path(__file__).resolve().parent.parent / "ui" / "app.py")
pytestmark = pytest.mark.slow


@pytest.fixture
def live_user(live_stack, live_env, monkeypatch) -> dict:
    monkeypatch.setenv("RASA_URL", f"http://127.0.0.1:{live_stack.rasa_port}")
    store = Store(live_env["DATABASE_URL"])
    accounts.import_roster(store, "name,email,role\nLiam Live,liam.live@school.example,teacher\n")
    result = accounts.sign_in_sso(store, "liam.live@school.example")
    assert result.status == "ok"
    return result.user


def test_live_chat_answers_with_the_cited_clause(live_user):
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user"] = live_user
    at.run()
    at.chat_input[0].set_value("A pupil sent me a friend request on Facebook, what do I do?").run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [e.label.replace("\\", "") for e in at.expander]
    assert any(label.startswith("6.3 — ") for label in labels), labels
    assert not at.error
    shown = "\n".join(m.value for m in at.markdown)
    assert "\\*\\*6\\.3\\*\\*" not in shown  # the plain-text copy of the answer is not shown as well


def test_live_quiz_button_is_marked_and_stored(live_user, live_env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user"] = live_user
    at.run()
    at.chat_input[0].set_value("quiz me").run()
    assert "Question 1 of" in "\n".join(m.value for m in at.markdown)
    option = next(b for b in at.button if b.key and b.key.endswith("-A"))
    option.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success or at.error  # the feedback headline: correct or not
    assert "Question 2 of" in "\n".join(m.value for m in at.markdown)
    attempts = reports.my_attempts(Store(live_env["DATABASE_URL"]), live_user["sender_id"])
    assert attempts and attempts[0]["answered"] == 1


def _new_user(live_env, name: str) -> dict:
    """A roster member of their own (a fresh chat id, so no other test's turns are in their tracker)."""
    email = f"{name.lower()}.{uuid.uuid4().hex[:6]}@school.example"
    store = Store(live_env["DATABASE_URL"])
    accounts.import_roster(store, f"name,email,role\n{name} Live,{email},teacher\n")
    result = accounts.sign_in_sso(store, email)
    assert result.status == "ok"
    return result.user


def _page(user: dict) -> AppTest:
    """A new browser session (a reload, a new tab, a restarted app) signed in as user."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user"] = user
    return at.run()


def _chat(at: AppTest) -> list[list[str]]:
    """What each chat message shows: its text lines, captions and clause labels."""
    return [[e.value for e in m.markdown] + [e.value for e in m.caption] + [e.label for e in m.expander]
            + [e.label for e in m.button] for m in at.chat_message]


QUESTION = "A pupil sent me a friend request on Facebook, what do I do?"


def test_live_reload_rebuilds_the_same_chat_from_rasas_tracker(live_stack, live_env, monkeypatch):
    monkeypatch.setenv("RASA_URL", f"http://127.0.0.1:{live_stack.rasa_port}")
    user = _new_user(live_env, "Rita")
    at = _page(user)
    at.chat_input[0].set_value(QUESTION).run()
    at.chat_input[0].set_value("what if they're my nephew?").run()
    at.chat_input[0].set_value("quiz me").run()
    next(b for b in at.button if b.key and b.key.endswith("-A")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    live = _chat(at)
    assert len(live) == 8 and "Question 2 of" in "\n".join(m.value for m in at.markdown)
    again = _page(user)  # nothing of the first session is left: the turns come from Rasa's tracker
    assert not again.exception, [e.value for e in again.exception]
    assert _chat(again) == live  # the same page: same texts, highlights, clause labels and live quiz buttons
    # the restored quiz question still answers, as the question on screen
    next(b for b in again.button if b.key and b.key.endswith("-A")).click().run()
    assert not again.exception, [e.value for e in again.exception]
    assert "Question 3 of" in "\n".join(m.value for m in again.markdown)
    attempts = reports.my_attempts(Store(live_env["DATABASE_URL"]), user["sender_id"])
    assert attempts[0]["answered"] == 2
    other = _page(_new_user(live_env, "Otto"))
    assert not other.chat_message  # another person's chat id has a tracker of their own


def test_live_chat_survives_a_rasa_restart_from_the_sql_tracker_store(live_stack, live_env, monkeypatch):
    monkeypatch.setenv("RASA_URL", f"http://127.0.0.1:{live_stack.rasa_port}")
    user = _new_user(live_env, "Rhys")
    at = _page(user)
    at.chat_input[0].set_value(QUESTION).run()
    live = _chat(at)
    assert any(label.replace("\\", "").startswith("6.3 — ") for label in live[1])
    live_stack.stop("rasa")
    try:
        down = _page(user)  # a reload while Rasa is down: said plainly, nothing crashes
        assert not down.exception, [e.value for e in down.exception]
        assert "can't be shown" in "\n".join(w.value for w in down.warning) and not down.chat_message
    finally:
        live_stack.start_rasa()  # the same endpoints: the same SQL tracker store
    down.button(key="history-retry").click().run()
    assert not down.exception, [e.value for e in down.exception]
    assert _chat(down) == live
    # the restarted Rasa still has the conversation's context: a follow-up is answered in it
    down.chat_input[0].set_value("what if they're my nephew?").run()
    assert f"Following on from: {QUESTION}" in "\n".join(c.value for c in down.chat_message[-1].caption).replace(
        "\\", "")
