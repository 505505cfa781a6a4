"""Answer policy questions with verbatim cited clauses, follow-ups in the context of the previous question."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import messages, services
from bot.actions.common import member, off_loop, remembered, send, send_error
from knowledge.followup import has_topic, in_context, is_follow_up


class ActionAnswerPolicy(Action):
    """Search the policies for the user's message; answer with citations or say the policy is silent.

    A follow-up ("why not?", "and on instagram?") is searched together with the previous question (slot
    `last_question`); a button choosing between two policies (entity `policy_choice`) answers the previous
    question from that policy.
    """

    def name(self) -> str:
        return "action_answer_policy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        text = tracker.latest_message.get("text") or ""
        sender = await member(dispatcher, tracker.sender_id, db_down_ok=True)
        if sender is None:
            return []
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        previous = tracker.get_slot("last_question")
        chosen = next((e.get("value") for e in tracker.latest_message.get("entities") or []
                       if e.get("entity") == "policy_choice"), None)
        context = focus = None
        if chosen:
            if not previous:  # an old policy button in a new conversation: nothing to answer from it
                send(dispatcher, messages.no_context(text))
                return []
            question = previous
        elif is_follow_up(text, intent) and previous:
            question, context, focus = in_context(previous, text), previous, text
        elif previous and await off_loop(lambda: services.in_conversation(previous, text,
                                                                          tracker.get_slot("last_citations"))):
            # taken for a new question, but only the conversation's policy answers it ("what if my son's school
            # needs to ring me?" after a phone question)
            question, context, focus = in_context(previous, text), previous, text
        elif (intent == "follow_up" or is_follow_up(text, intent)) and not has_topic(text):
            # "why not?" with nothing before it: searching it alone would cite a random clause
            send(dispatcher, messages.no_context(text))
            return []
        else:
            question = text
        try:
            cited = tracker.get_slot("last_citations") if context else None
            answer, tie = await off_loop(lambda: services.answer(sender, question, chosen, focus=focus,
                                                                 context=context, cited=cited))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a clear message
            send_error(dispatcher, exc)
            return []
        if tie is not None:
            text_, payload, buttons = messages.policy_choice(tie)
            dispatcher.utter_message(text=text_, buttons=buttons, json_message={**payload, "text": text_})
            return [SlotSet("last_question", question)]
        send(dispatcher, messages.policy_answer({**answer, "question": question}, context=context))
        return [SlotSet(k, v) for k, v in remembered(question, answer).items()]

