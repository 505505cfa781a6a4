"""Helpers shared by the actions: run blocking work off the event loop, send text + payload, look up clauses."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from rasa_sdk.executor import CollectingDispatcher

from bot import messages, services
from bot.training.store import StoreUnavailable
from knowledge.index import IndexError_

log = logging.getLogger(__name__)


async def off_loop(func: Callable, *args: Any) -> Any:
    """Run a blocking call (database, encoder) in a worker thread so the action server keeps serving."""
    return await asyncio.to_thread(func, *args)


def send(dispatcher: CollectingDispatcher, message: tuple, buttons: list | None = None) -> None:
    """Send one message as text (with optional buttons) and its custom payload."""
    text, payload = message[0], message[1]
    payload = {**payload, "text": text}
    dispatcher.utter_message(text=text, buttons=buttons or [], json_message=payload)


def send_error(dispatcher: CollectingDispatcher, exc: Exception) -> None:
    """Tell the user plainly that something is unavailable; never a traceback."""
    if isinstance(exc, StoreUnavailable):
        text = str(exc)
    elif isinstance(exc, IndexError_):
        text = "The policy index isn't available right now, so I can't look that up. Please tell your coordinator."
    else:
        log.exception("action failed")
        text = "Sorry, something went wrong on my side. Nothing you entered was lost; please try again."
    send(dispatcher, messages.notice("error", text))


SIGNED_OUT = ("Your sign-in has ended (your account was changed or removed), so I can't use or change your "
              "training record. Please sign in again; ask your coordinator if you can't.")


async def member(dispatcher: CollectingDispatcher, sender_id: str, *, db_down_ok: bool = False) -> str | None:
    """The records key of the roster member this Rasa sender id was issued to, re-checked on every action.

    None (after telling the user) for an unknown, removed or reset sender: nothing is read or stored for it.
    With db_down_ok, "" when the database is down: the caller may still quote the policy but stores nothing.
    """
    try:
        key = await off_loop(services.store().member_for_chat, sender_id)
    except StoreUnavailable as exc:
        if db_down_ok:
            return ""
        send_error(dispatcher, exc)
        return None
    except Exception as exc:  # noqa: BLE001
        send_error(dispatcher, exc)
        return None
    if key is None:
        send(dispatcher, messages.notice("signed_out", SIGNED_OUT))
    return key


def citations_for(policy: str, clause_ids: list[str]) -> list[dict]:
    """Verbatim clause citations for clause ids of one policy."""
    index = services.searcher().index
    title = index.policies.get(policy, {}).get("title", policy)
    out = []
    for clause_id in clause_ids:
        clause = index.find(policy, clause_id)
        if clause is not None:
            out.append({"policy": policy, "policy_title": title, "clause": clause.clause,
                        "section": clause.section, "title": clause.title, "text": clause.text})
    return out


def citations_or_none(policy: str, clause_ids: list[str]) -> list[dict] | None:
    """citations_for, or None when the index is unavailable: the answer is already stored, so the caller says
    "your answer was saved" instead of failing; the details go to the log, never to staff."""
    try:
        return citations_for(policy, clause_ids)
    except Exception:
        log.warning("quiz clauses unavailable for %s %s", policy, clause_ids, exc_info=True)
        return None


def remembered(question: str, answer: dict) -> dict:
    """The slots a policy answer leaves for the next follow-up: the question searched and what it cited.

    A question the policies do not cover is remembered too (with no citations): "and at the weekend?" right after
    it is about it, not about whatever was answered before. A message refused as too long, empty or not English
    leaves the slots as they were.
    """
    if answer.get("answered") or answer.get("reason") == "out_of_scope":
        return {"last_question": question,
                "last_citations": [f"{c['policy']}#{c['clause']}" for c in answer.get("citations") or []]}
    return {}
