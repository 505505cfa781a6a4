"""Warm-up: load the encoder, index, database and quiz banks before the first user arrives."""
from __future__ import annotations

import threading
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import services
from bot.actions.common import off_loop


class ActionWarmUp(Action):
    """Called once by the launcher; not part of any conversation."""

    def name(self) -> str:
        return "action_warm_up"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        def warm() -> None:
            searcher = services.searcher()
            searcher.ask("friend request from a pupil")
            # an index stores its clauses' token-match pieces (knowledge.index, ingest), and then this does
            # nothing; one built before them embeds its clauses' pieces here until the next ingest stores them, in
            # the background: 696 clauses took 6.6 s on the quiet 2-core box and 46 s while tests ran beside it,
            # and the launcher waits at most 120 s for the warm-up
            threading.Thread(target=searcher.warm_tokens, name="token-warm-up", daemon=True).start()
            services.quiz()

        await off_loop(warm)
        return []
