"""The chat page: ask the policy, take the quiz with buttons. The Rasa sender id is the signed-in identity."""
from __future__ import annotations

import streamlit as st

from knowledge.settings import get_settings
from ui import rasa_client, session
from ui.render import bot_message, escape_md

SUGGESTIONS = [
    ("Quiz me", "/start_quiz"),
    ("My progress", "/show_progress"),
    ("A pupil sent me a friend request", "A pupil sent me a friend request on Facebook, what do I do?"),
]


def _queue(text: str, shown: str | None = None) -> None:
    """Add the user's turn and mark it to be sent on this run (also a button callback)."""
    st.session_state.setdefault("history", []).append({"role": "user", "text": shown or text})
    st.session_state["awaiting"] = text


def _shown_question() -> dict | None:
    """Metadata binding a typed reply to the quiz question on screen: {"quiz_question": [attempt, number]}."""
    for turn in reversed(st.session_state.get("history", [])):
        if turn["role"] == "bot":
            for msg in reversed(turn["messages"]):
                if msg.get("kind") == "quiz_question" and msg.get("attempt_id") is not None:
                    return {"quiz_question": [msg["attempt_id"], msg.get("number")]}
            return None
    return None


def _reply(user: dict, text: str) -> list[dict]:
    try:
        return rasa_client.send_message(get_settings().rasa_url, user["chat_id"], text, metadata=_shown_question())
    except rasa_client.RasaUnavailable as exc:
        return [{"kind": "error", "text": str(exc)}]


def render() -> None:
    """Draw the chat."""
    user = session.require_user()
    settings = get_settings()
    st.title("Ask & practise")
    st.caption("Ask about the policy in your own words, or say **quiz me**. Answers quote the policy's own words.")
    prompt = st.chat_input("Ask a question about the policy…", max_chars=settings.max_question_chars)
    if prompt:
        _queue(prompt)
    history = st.session_state.setdefault("history", [])
    if not history:
        st.markdown("Try one of these:")
        cols = st.columns(len(SUGGESTIONS))
        for col, (label, text) in zip(cols, SUGGESTIONS):
            col.button(label, key=f"suggest-{label}", on_click=_queue, args=(text, label), width="stretch")
    awaiting = st.session_state.pop("awaiting", None)
    last_bot = max((i for i, h in enumerate(history) if h["role"] == "bot"), default=-1)
    for i, turn in enumerate(history):
        with st.chat_message("user" if turn["role"] == "user" else "assistant"):
            if turn["role"] == "user":
                st.markdown(escape_md(turn["text"]))
            else:
                for j, msg in enumerate(turn["messages"]):
                    active = i == last_bot and awaiting is None
                    bot_message(msg, key=f"m{i}-{j}", on_button=_queue if active else None)
    if awaiting is not None:
        with st.chat_message("assistant"):
            with st.spinner("Looking that up…"):
                replies = _reply(user, awaiting)
        history.append({"role": "bot", "messages": replies})
        st.rerun()
