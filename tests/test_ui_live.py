"""The chat page against the real stack: real Rasa server, real action server, real index and database."""
from __future__ import annotations

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
