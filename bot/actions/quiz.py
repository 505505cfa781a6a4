"""The quiz loop: start/resume, ask, validate and store each answer, skip, stop, result."""
from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import messages, services
from bot.training.quiz import NothingToDraw
from bot.actions.common import citations_or_none, member, off_loop, remembered, send, send_error
from knowledge.followup import has_topic, in_context, is_follow_up

DONE = "done"
NO_QUIZ = "no_quiz"


def _looks_like_question(text: str, intent: str | None) -> bool:
    """A reply that is not an option but a policy question asked mid-quiz."""
    words = re.findall(r"[A-Za-z']+", text)
    if intent in ("ask_policy", "follow_up") and len(words) >= 3:
        return True
    return text.strip().endswith("?") and len(words) >= 3


class ActionStartQuiz(Action):
    """Start a quiz, or pick up the one in progress (a second 'quiz me' never starts a duplicate)."""

    def name(self) -> str:
        return "action_start_quiz"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        sender = await member(dispatcher, tracker.sender_id)
        if sender is None:
            return [SlotSet("quiz_answer", NO_QUIZ)]
        try:
            engine = services.quiz()
            said = tracker.latest_message.get("text") or ""
            named = engine.policy_named(said)
            clauses = None
            if named and "refresher" in said.lower():  # just the clauses changed since this person signed
                from bot.training.assignments import changed_since_signed  # noqa: PLC0415

                clauses = await off_loop(changed_since_signed, services.store(), sender, named) or None
            question, resumed = await off_loop(lambda: engine.start(sender, named, clauses=clauses))
        except NothingToDraw as exc:  # nothing to draw (yet) for this person: the engine's reason says why
            send(dispatcher, messages.notice("error", str(exc)))
            return [SlotSet("quiz_answer", NO_QUIZ)]
        except Exception as exc:  # noqa: BLE001
            send_error(dispatcher, exc)
            return [SlotSet("quiz_answer", NO_QUIZ)]
        if resumed:
            text = (f"You already have a quiz in progress — picking up at question {question.position + 1} "
                    f"of {question.total}.")
        else:
            bank = engine.banks[question.policy]
            text = (f"{bank.title}: {question.total} scenarios. Tap an option or type its letter. "
                    f"You can ask a policy question at any point, say 'skip' or 'stop quiz'. "
                    f"Pass mark {round(engine.pass_mark * 100)}%.")
        send(dispatcher, messages.notice("quiz_start", text, resumed=resumed, attempt_id=question.attempt_id,
                                         total=question.total))
        return [SlotSet("quiz_answer", None)]


class ActionAskQuizAnswer(Action):
    """Ask the current scenario (the form calls this whenever it needs an answer)."""

    def name(self) -> str:
        return "action_ask_quiz_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        sender = await member(dispatcher, tracker.sender_id)
        if sender is None:
            return []
        try:
            question = await off_loop(lambda: services.quiz().current(sender))
        except Exception as exc:  # noqa: BLE001
            send_error(dispatcher, exc)
            return []
        if question is None:
            send(dispatcher, messages.notice("quiz_stale", "There's no quiz in progress. Say 'quiz me' to start one."))
            return []
        text, payload, buttons = messages.quiz_question(question)
        dispatcher.utter_message(text=text, buttons=buttons, json_message={**payload, "text": text})
        return []


class ValidateQuizForm(FormValidationAction):
    """Mark each reply: store a valid answer at once and give feedback; answer a question; re-prompt otherwise."""

    def name(self) -> str:
        return "validate_quiz_form"

    async def validate_quiz_answer(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: dict[str, Any]) -> dict[str, Any]:
        if slot_value is None:
            # Another action just cleared the slot (start, skip); there is no reply to mark.
            return {}
        text = tracker.latest_message.get("text") or str(slot_value)
        sender = await member(dispatcher, tracker.sender_id)
        if sender is None:
            return {"quiz_answer": NO_QUIZ}
        shown = (tracker.latest_message.get("metadata") or {}).get("quiz_question")
        if shown is not None and not text.startswith("/"):
            # A typed reply is bound to the question the app showed when it was typed (its number in the
            # message metadata): a letter sent twice can't answer the next question, which nobody saw yet.
            try:
                current = await off_loop(lambda: services.quiz().current(sender))
            except Exception as exc:  # noqa: BLE001
                send_error(dispatcher, exc)
                return {"quiz_answer": None}
            if current is not None and [current.attempt_id, current.position + 1] != shown:
                send(dispatcher, messages.notice("quiz_stale", "That reply was for an earlier question, so I "
                                                               "haven't counted it. Here is your current question:"))
                return {"quiz_answer": None}
        try:
            outcome = await off_loop(lambda: services.quiz().answer(sender, text))
        except Exception as exc:  # noqa: BLE001
            send_error(dispatcher, exc)
            return {"quiz_answer": None}
        if outcome.status == "answered":
            question = outcome.question
            cites = await off_loop(citations_or_none, question.policy, list(question.scenario.clauses))
            send(dispatcher, messages.quiz_feedback(outcome, cites))
            return {"quiz_answer": DONE if outcome.finished else None}
        if outcome.status == "no_quiz":
            send(dispatcher, messages.notice("quiz_stale", "There's no quiz in progress any more. "
                                                           "Say 'quiz me' to start one."))
            return {"quiz_answer": NO_QUIZ}
        if outcome.status == "stale":
            send(dispatcher, messages.notice("quiz_stale", "That button belongs to an earlier question, so I "
                                                           "haven't counted it. Here is your current question:"))
            return {"quiz_answer": None}
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if is_follow_up(text, intent) and not has_topic(text):
            # "why not?" mid-quiz is about the question just answered, not a reply to the current one
            try:
                answered = await off_loop(lambda: services.quiz().last_answered(sender))
                cites = (await off_loop(citations_or_none, answered.policy, list(answered.scenario.clauses))
                         if answered else [])
            except Exception as exc:  # noqa: BLE001
                send_error(dispatcher, exc)
                return {"quiz_answer": None}
            send(dispatcher, messages.quiz_explain(answered, outcome.question.position, cites))
            send(dispatcher, messages.notice("quiz_resume", "Back to the quiz:"))
            return {"quiz_answer": None}
        if _looks_like_question(text, intent):
            previous = tracker.get_slot("last_question")
            context = previous if previous and is_follow_up(text, intent) else None
            question = in_context(previous, text) if context else text
            cited = tracker.get_slot("last_citations") if context else None
            try:  # the same follow-up search as outside a quiz; a choice of policies is not offered mid-quiz
                answer, _tie = await off_loop(lambda: services.answer(sender, question, focus=text if context else None,
                                                                      context=context, cited=cited))
            except Exception as exc:  # noqa: BLE001
                send_error(dispatcher, exc)
                return {"quiz_answer": None}
            send(dispatcher, messages.policy_answer({**answer, "question": question}, context=context))
            send(dispatcher, messages.notice("quiz_resume", "Back to the quiz:"))
            return {"quiz_answer": None, **remembered(question, answer)}
        n = len(outcome.question.options)
        send(dispatcher, messages.notice(
            "quiz_reprompt",
            f"I didn't catch which option you meant. Please answer with a letter A–{'ABCDEFGH'[n - 1]} "
            f"(or tap a button), or say 'skip' or 'stop quiz'."))
        return {"quiz_answer": None}


class ActionQuizResult(Action):
    """At the end: score, pass or fail, the clauses to re-read, and an offer to retake."""

    def name(self) -> str:
        return "action_quiz_result"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        if tracker.get_slot("quiz_answer") == NO_QUIZ:
            return [SlotSet("quiz_answer", None)]
        sender = await member(dispatcher, tracker.sender_id)
        if sender is None:
            return [SlotSet("quiz_answer", None)]
        try:
            summary = await off_loop(lambda: services.quiz().last_result(sender))
            if summary is None:
                return [SlotSet("quiz_answer", None)]
            reread = await off_loop(citations_or_none, summary["policy"], summary["reread"])
        except Exception as exc:  # noqa: BLE001
            send_error(dispatcher, exc)
            return [SlotSet("quiz_answer", None)]
        send(dispatcher, messages.quiz_result(summary, reread))
        return [SlotSet("quiz_answer", None)]


class ActionStopQuiz(Action):
    """Stop the quiz; every answer given so far stays stored."""

    def name(self) -> str:
        return "action_stop_quiz"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        sender = await member(dispatcher, tracker.sender_id)
        if sender is None:
            return [SlotSet("quiz_answer", None), SlotSet("requested_slot", None)]
        try:
            summary = await off_loop(lambda: services.quiz().stop(sender))
        except Exception as exc:  # noqa: BLE001
            send_error(dispatcher, exc)
            return [SlotSet("quiz_answer", None), SlotSet("requested_slot", None)]
        if summary is None:
            send(dispatcher, messages.notice("quiz_stale", "There's no quiz in progress to stop."))
        else:
            reread = await off_loop(citations_or_none, summary["policy"], summary["reread"])
            send(dispatcher, messages.quiz_result(summary, reread))
        return [SlotSet("quiz_answer", None), SlotSet("requested_slot", None)]


class ActionSkipQuestion(Action):
    """Skip the current scenario (counted as not correct); the form then asks the next one."""

    def name(self) -> str:
        return "action_skip_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        sender = await member(dispatcher, tracker.sender_id)
        if sender is None:
            return [SlotSet("quiz_answer", NO_QUIZ)] if tracker.active_loop.get("name") else []
        try:
            outcome = await off_loop(lambda: services.quiz().skip(sender))
        except Exception as exc:  # noqa: BLE001
            send_error(dispatcher, exc)
            return []
        if outcome.status == "no_quiz":
            send(dispatcher, messages.notice("quiz_stale", "There's no quiz in progress. Say 'quiz me' to start one."))
            return [SlotSet("quiz_answer", NO_QUIZ)] if tracker.active_loop.get("name") else []
        cites = await off_loop(citations_or_none, outcome.question.policy,
                               list(outcome.question.scenario.clauses))
        send(dispatcher, messages.quiz_feedback(outcome, cites))
        return [SlotSet("quiz_answer", DONE if outcome.finished else None)]


class ActionNoQuiz(Action):
    """A quiz reply (typed letter, old button) when this conversation has no quiz running."""

    def name(self) -> str:
        return "action_no_quiz"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        sender = await member(dispatcher, tracker.sender_id)
        if sender is None:
            return []
        try:
            current = await off_loop(lambda: services.quiz().current(sender))
        except Exception as exc:  # noqa: BLE001
            send_error(dispatcher, exc)
            return []
        if current is not None:
            text = (f"Your quiz is paused at question {current.position + 1} of {current.total}; that reply wasn't "
                    "counted. Say 'quiz me' to carry on.")
        else:
            text = "There's no quiz in progress, so that answer wasn't counted. Say 'quiz me' to start one."
        send(dispatcher, messages.notice("quiz_stale", text))
        return []
