"""Answer policy questions with verbatim cited clauses."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import messages, services
from bot.actions.common import member, off_loop, send, send_error


class ActionAnswerPolicy(Action):
    """Search the policies for the user's message; answer with citations or say the policy is silent."""

    def name(self) -> str:
        return "action_answer_policy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        text = tracker.latest_message.get("text") or ""
        sender = await member(dispatcher, tracker.sender_id, db_down_ok=True)
        if sender is None:
            return []
        try:
            answer = await off_loop(services.ask_and_log, sender, text)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a clear message
            send_error(dispatcher, exc)
            return []
        send(dispatcher, messages.policy_answer(answer))
        return []
