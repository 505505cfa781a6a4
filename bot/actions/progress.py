"""'Show my progress': the user's own attempts, best score, pass status and weakest sections."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import messages, services
from bot.actions.common import member, off_loop, send, send_error


class ActionShowProgress(Action):
    """Report the sender's own training record (never anyone else's)."""

    def name(self) -> str:
        return "action_show_progress"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        sender = await member(dispatcher, tracker.sender_id)
        if sender is None:
            return []
        try:
            report = await off_loop(lambda: services.quiz().progress(sender))
        except Exception as exc:  # noqa: BLE001
            send_error(dispatcher, exc)
            return []
        send(dispatcher, messages.progress(report))
        return []
