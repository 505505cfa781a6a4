"""The chat page: ask the policy, take the quiz with buttons."""
from __future__ import annotations

import uuid

import streamlit as st

from knowledge.settings import get_settings
from ui.rasa_client import RasaUnavailable, send_message
from ui.render import bot_message, escape_md


def _sender() -> str:
    if "sender_id" not in st.session_state:
        st.session_state.sender_id = st.session_state.get("user_sender") or f"guest-{uuid.uuid4().hex[:12]}"
    return st.session_state.sender_id


def _send(text: str, shown: str | None = None) -> None:
    history = st.session_state.setdefault("history", [])
    history.append({"role": "user", "text": shown or text})
    try:
        replies = send_message(get_settings().rasa_url, _sender(), text)
    except RasaUnavailable as exc:
        replies = [{"kind": "error", "text": str(exc)}]
    history.append({"role": "bot", "messages": replies})


def render() -> None:
    """Draw the chat."""
    st.title("Ask & practise")
    st.caption("Ask about the policy in your own words, or say **quiz me**.")
    history = st.session_state.setdefault("history", [])
    last_bot = max((i for i, h in enumerate(history) if h["role"] == "bot"), default=-1)
    for i, turn in enumerate(history):
        with st.chat_message("user" if turn["role"] == "user" else "assistant"):
            if turn["role"] == "user":
                st.markdown(escape_md(turn["text"]))
            else:
                for j, msg in enumerate(turn["messages"]):
                    bot_message(msg, key=f"m{i}-{j}", on_button=_send if i == last_bot else None)
    prompt = st.chat_input("Ask a question about the policy…")
    if prompt:
        _send(prompt)
        st.rerun()
