"""The chat page: ask the policy, take the quiz with buttons. The Rasa sender id is the signed-in identity."""
from __future__ import annotations

from datetime import date

import streamlit as st
from streamlit.errors import StreamlitAPIException

from bot.training import reports
from bot.training.store import StoreUnavailable
from knowledge.search import normalise_question
from knowledge.settings import get_settings
from ui import rasa_client, session
from ui.render import bot_message, escape_md

MAX_TURNS = 200  # turns kept on the page (user and bot turns; older ones are dropped)
RESTORED_TURNS = 50  # the user's last messages (with their replies) brought back from Rasa's tracker after a reload
SUGGESTIONS = [
    ("Quiz me", "/start_quiz"),
    ("My progress", "/show_progress"),
    ("A pupil sent me a friend request", "A pupil sent me a friend request on Facebook, what do I do?"),
]


def _queue(text: str, shown: str | None = None) -> None:
    """Add the user's turn and mark it to be sent on this run (also a button callback)."""
    st.session_state.setdefault("history", []).append({"role": "user", "text": shown or text})
    st.session_state["awaiting"] = text
    st.session_state["awaiting_shown"] = shown


def _shown_question() -> dict | None:
    """Metadata binding a typed reply to the quiz question on screen: {"quiz_question": [attempt, number]}."""
    for turn in reversed(st.session_state.get("history", [])):
        if turn["role"] == "bot":
            for msg in reversed(turn["messages"]):
                if msg.get("kind") == "quiz_question" and msg.get("attempt_id") is not None:
                    return {"quiz_question": [msg["attempt_id"], msg.get("number")]}
            return None
    return None


def _reply(user: dict, text: str, shown: str | None = None) -> list[dict]:
    # a button's label goes with its /payload, so the conversation rebuilt from the tracker shows what was clicked
    metadata = rasa_client.shown_metadata(_shown_question(), text, shown)
    try:
        return rasa_client.send_message(get_settings().rasa_url, user["chat_id"], text, metadata=metadata)
    except rasa_client.RasaUnavailable as exc:
        return [{"kind": "error", "text": str(exc)}]


def _conversation(user: dict) -> list[dict]:
    """The conversation so far from Rasa's tracker (the source of truth: it survives an app or Rasa restart), for
    the signed-in person's chat id only; empty, with a notice to show, when Rasa can't be reached."""
    st.session_state.pop("history_error", None)
    try:
        return rasa_client.fetch_conversation(get_settings().rasa_url, user["chat_id"], turns=RESTORED_TURNS)
    except rasa_client.RasaUnavailable as exc:
        st.session_state["history_error"] = str(exc)
        return []


def _retry_history() -> None:
    """Fetch the conversation from the tracker again on the next run (button callback)."""
    st.session_state.pop("history", None)


def _rate(user: dict, msg: dict, asked: str, key: str) -> None:
    """Store a thumbs up/down for one answer under the signed-in person (never an id from the page)."""
    value = st.session_state.get(key)
    if value is None:
        return
    question = msg.get("question") or asked
    store = session.store_or_none()
    if store is None:
        st.session_state["chat_notice"] = "The training database isn't available, so the rating wasn't saved."
        return
    try:
        reports.rate_answer(store, user["sender_id"], question=question,
                            normalised=normalise_question(question), citations=msg.get("citations") or [],
                            helpful=bool(value))
    except StoreUnavailable as exc:
        st.session_state["chat_notice"] = str(exc)
        return
    st.session_state["chat_notice"] = "Thanks — your rating was saved." if value else \
        "Thanks — your coordinator will see that this answer didn't help."


def human_date(day: date, today: date | None = None) -> str:
    """ "3 November 2026 (12 days ago)": the date as people write it, and how long ago it was."""
    today = today or date.today()
    ago = (today - day).days
    when = "today" if ago == 0 else "yesterday" if ago == 1 else f"{ago} days ago" if ago > 1 else \
        "tomorrow" if ago == -1 else f"in {-ago} days"
    return f"{day.day} {day:%B %Y} ({when})"


def _overdue(store, index, user: dict) -> list[dict]:
    """The person's assigned policies past their due date and not done (bot/training/assignments.py)."""
    from bot.training import assignments  # noqa: PLC0415

    try:
        return [i for i in assignments.todo_for(store, index, user["sender_id"]) if i["overdue"]]
    except StoreUnavailable:
        return []


def _todo_card(user: dict) -> None:
    """What to do next, shown when the chat opens: anything overdue first, the quiz to take or continue, an
    agreement to sign."""
    from ui.pages import agreement_page, todo_page  # noqa: PLC0415
    from ui.policy_docs import agreement_for, try_index  # noqa: PLC0415

    store = session.store_or_none()
    if store is None:
        return
    index, _ = try_index()
    found = agreement_for(index, user.get("role")) if index is not None else None
    agreement = None if found is None else {
        "policy": found.policy, "document": found.document, "version": found.version,
        "title": found.document.split(" — ")[-1]}
    try:
        todo = reports.my_todo(store, user["sender_id"], agreement=agreement)
    except StoreUnavailable as exc:
        st.caption(escape_md(str(exc)))
        return
    overdue = _overdue(store, index, user) if index is not None else []
    with st.container(border=True, key="todo-card"):
        for item in overdue:
            left, right = st.columns([3, 1], vertical_alignment="center")
            left.error(escape_md(f"Overdue: {item['title']} — {item['missing']} was due {human_date(item['due'])}."),
                       icon=":material/warning:")
            try:
                right.page_link(todo_page(), label="Open", icon=":material/assignment_late:")
            except StreamlitAPIException:
                pass
        if not todo and not overdue:
            st.markdown(":material/task_alt: **You're up to date** — quiz passed and agreement signed.")
            return
        if not todo:
            return
        st.markdown("**To do**")
        for n, item in enumerate(todo):
            left, right = st.columns([3, 1], vertical_alignment="center")
            left.markdown(escape_md(item["text"]))
            if item["kind"] == "quiz_continue":
                right.button("Continue", key=f"todo-{n}", on_click=_queue, args=("/start_quiz", "Continue the quiz"),
                             icon=":material/play_arrow:", width="stretch")
            elif item["kind"] == "quiz_take":
                right.button("Start", key=f"todo-{n}", on_click=_queue, args=("/start_quiz", "Quiz me"),
                             icon=":material/quiz:", width="stretch")
            elif item["kind"] == "agreement":
                try:
                    right.page_link(agreement_page(), label="Sign", icon=":material/draw:")
                except StreamlitAPIException:
                    pass


def render() -> None:
    """Draw the chat."""
    user = session.require_user()
    settings = get_settings()
    st.title("Ask & practise")
    st.caption("Ask about the policy in your own words, or say **quiz me**. Answers quote the policy's own words.")
    # a new browser session (a reload, a new tab, an app restart) starts from the conversation in Rasa's tracker
    if "history" not in st.session_state:
        st.session_state["history"] = _conversation(user)
    history = st.session_state["history"]
    if st.session_state.get("history_error"):
        with st.container(border=True, key="history-error"):
            st.warning(escape_md("Your conversation so far can't be shown. " + st.session_state["history_error"]),
                       icon=":material/cloud_off:")
            st.button("Try again", key="history-retry", on_click=_retry_history, icon=":material/refresh:")
    prompt = st.chat_input("Ask a question about the policy…", max_chars=settings.max_question_chars)
    if prompt:
        _queue(prompt)
    if not history:
        _todo_card(user)
        st.markdown("Try one of these:")
        cols = st.columns(len(SUGGESTIONS))
        for col, (label, text) in zip(cols, SUGGESTIONS):
            col.button(label, key=f"suggest-{label}", on_click=_queue, args=(text, label), width="stretch")
    awaiting = st.session_state.pop("awaiting", None)
    awaiting_shown = st.session_state.pop("awaiting_shown", None)
    last_bot = max((i for i, h in enumerate(history) if h["role"] == "bot"), default=-1)
    asked = ""
    for i, turn in enumerate(history):
        with st.chat_message("user" if turn["role"] == "user" else "assistant"):
            if turn["role"] == "user":
                asked = turn["text"]
                st.markdown(escape_md(turn["text"]))
            else:
                for j, msg in enumerate(turn["messages"]):
                    active = i == last_bot and awaiting is None
                    bot_message(msg, key=f"m{i}-{j}", on_button=_queue if active else None)
                    if msg.get("kind") == "policy_answer" and msg.get("answered"):
                        key = f"rate-m{i}-{j}"
                        st.feedback("thumbs", key=key, on_change=_rate, args=(user, msg, asked, key))
    notice = st.session_state.pop("chat_notice", None)
    if notice:
        st.toast(escape_md(notice))
    if awaiting is not None:
        with st.chat_message("assistant"):
            with st.spinner("Looking that up…"):
                replies = _reply(user, awaiting, awaiting_shown)
        history.append({"role": "bot", "messages": replies})
        del history[:-MAX_TURNS]
        if st.session_state.get("history_error") and not any(m.get("kind") == "error" for m in replies):
            _retry_history()  # Rasa answers again: the next run shows the whole conversation from its tracker
        st.rerun()
