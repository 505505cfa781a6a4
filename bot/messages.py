"""Bot messages: plain text for any channel plus the machine-readable `custom` payload the UI renders."""
from __future__ import annotations

from bot.training.quiz import Outcome, Question

SECTION_NAMES = {"doc": "Document details"}


def _quote(cite: dict) -> str:
    text = cite["text"].replace("\n", "\n> ")
    return f"> **{cite['clause']}** — {cite['section']}\n> {text}"


def policy_answer(answer: dict, *, context: str | None = None) -> tuple[str, dict]:
    """An answer from the policy search (or a refusal that says the policy is silent, and who to ask).

    `context` is the earlier question a follow-up was answered with (shown so the user sees what was searched).
    """
    if context:
        answer = {**answer, "context": context}
    if answer.get("answered"):
        lead = " ".join(f"**{h['text']}**" for h in answer.get("highlights") or [])
        text = answer["message"] + ("\n\n" + lead if lead else "") + "\n\n" + \
            "\n\n".join(_quote(c) for c in answer["citations"])
        return text, {"kind": "policy_answer", **answer}
    kind = "out_of_scope" if answer.get("reason") in ("out_of_scope", None) else "invalid_question"
    text = answer["message"]
    for contact in answer.get("contacts") or []:
        text += f"\n\n{contact['text']}"
    return text, {"kind": kind, **answer}


def no_context(text: str) -> tuple[str, dict]:
    """A follow-up ("why not?") with no earlier question to follow: say so and suggest a full question."""
    return notice("no_context", "I'm not sure what that refers to — there's no earlier question in this chat. "
                  "Ask me a full question, for example: 'Can I accept a friend request from a pupil?'",
                  examples=["Can I accept a friend request from a pupil?",
                            "Can I post photos of pupils on my own social media?"])


def policy_choice(tie) -> tuple[str, dict, list]:
    """Two policies answer a question about equally well: ask which one, with a button per policy."""
    buttons = [{"title": title, "payload": '/ask_policy{"policy_choice":"%s"}' % policy}
               for policy, title in tie.policies]
    text = "That could be about more than one policy. Which one do you mean?"
    payload = {"kind": "policy_choice", "question": tie.question, "buttons": buttons,
               "choices": [{"policy": p, "title": t} for p, t in tie.policies]}
    return text, payload, buttons


def quiz_question(question: Question, *, resumed: bool = False, note: str | None = None) -> tuple[str, dict, list]:
    """A scenario with its options as buttons."""
    payload = question.payload()
    if note:
        payload["note"] = note
    payload["resumed"] = resumed
    buttons = [{"title": f"{o['letter']}) {o['text']}", "payload": o["payload"]} for o in payload["options"]]
    text = question.text()
    if note:
        text = f"{note}\n\n{text}"
    return text, payload, buttons


SAVED_WITHOUT_CLAUSES = ("Your answer was saved. The policy clauses for this question can't be shown right now; "
                         "your coordinator has been told.")


def quiz_feedback(outcome: Outcome, citations: list[dict] | None) -> tuple[str, dict]:
    """Right or wrong, the feedback for the chosen option, and the verbatim clauses the scenario tests.

    `citations` None means the index is unavailable: the answer is stored, so the reply says so instead of quoting.
    """
    question = outcome.question
    correct_option = question.scenario.correct_option
    letters = {o.id: "ABCDEFGH"[i] for i, o in enumerate(question.options)}
    if outcome.option is None:
        head = f"Skipped. The answer was {letters[correct_option.id]}) {correct_option.text}"
        feedback = correct_option.feedback
    else:
        head = "Correct!" if outcome.correct else (
            f"Not quite — the best answer is {letters[correct_option.id]}) {correct_option.text}")
        feedback = outcome.option.feedback
    unavailable = citations is None
    citations = citations or []
    text = f"{head}\n{feedback}\n\n" + ("\n\n".join(_quote(c) for c in citations) if not unavailable
                                       else SAVED_WITHOUT_CLAUSES)
    payload = {
        "kind": "quiz_feedback",
        "scenario_id": question.scenario.id,
        "number": question.position + 1,
        "total": question.total,
        "correct": bool(outcome.correct),
        "skipped": outcome.option is None,
        "chosen": None if outcome.option is None else {"letter": letters[outcome.option.id],
                                                       "text": outcome.option.text},
        "answer": {"letter": letters[correct_option.id], "text": correct_option.text},
        "feedback": feedback,
        "headline": head,
        "citations": citations,
        "saved": True,
        "clauses_unavailable": unavailable,
        "finished": outcome.finished,
    }
    return text, payload


def quiz_explain(answered, number: int, citations: list[dict] | None) -> tuple[str, dict]:
    """ "why?" asked mid-quiz: why the best answer to the question just answered is right, with its clauses.

    `answered` is the quiz engine's Answered, or None before the first answer (then: how to answer).
    """
    if answered is None:
        text = ("Pick the option you think is right (tap it or type its letter). After each answer I'll explain "
                "why, quoting the policy's own clause.")
        return text, {"kind": "quiz_explain", "text": text, "citations": []}
    best = answered.scenario.correct_option
    head = (f"About question {number}: the best answer was \"{best.text}\"" +
            (" — the one you chose." if answered.correct else "."))
    text = f"{head}\n{best.feedback}"
    if citations:
        text += "\n\n" + "\n\n".join(_quote(c) for c in citations)
    return text, {"kind": "quiz_explain", "text": text, "headline": head, "feedback": best.feedback,
                  "scenario_id": answered.scenario.id, "number": number, "citations": citations or [],
                  "clauses_unavailable": citations is None}


def quiz_result(summary: dict, reread: list[dict] | None) -> tuple[str, dict]:
    """Score, pass or fail against the pass mark, clauses to re-read, and an offer to retake."""
    reread = reread or []
    pct = round(summary["score"] * 100)
    mark = round(summary["pass_mark"] * 100)
    if summary["status"] == "stopped":
        head = (f"Quiz stopped. Your {summary['answered']} answer(s) are saved: {summary['correct']} correct out of "
                f"{summary['total']} questions. A stopped quiz does not count as a pass.")
    elif summary["passed"]:
        head = f"Well done — you passed with {summary['correct']}/{summary['total']} ({pct}%; pass mark {mark}%)."
    else:
        head = f"You scored {summary['correct']}/{summary['total']} ({pct}%). The pass mark is {mark}%, so not a pass yet."
    lines = [head]
    if reread:
        lines.append("Clauses worth re-reading: " + ", ".join(c["clause"] for c in reread) + ".")
    lines.append("Would you like to take the quiz again? (a retake draws a fresh set in a new order)")
    payload = {"kind": "quiz_result", **summary, "reread_citations": reread, "offer_retake": True}
    return "\n".join(lines), payload


def progress(report: dict) -> tuple[str, dict]:
    """The user's own training record."""
    attempts = report["attempts"]
    if not attempts:
        text = "You haven't taken the quiz yet. Say 'quiz me' to start."
    else:
        done = [a for a in attempts if a["status"] == "completed"]
        best = report["best_score"]
        lines = [f"You have {len(attempts)} attempt(s), {len(done)} completed."]
        if best is not None:
            lines.append(f"Best score: {round(best * 100)}%.")
        lines.append("You have passed the training." if report["passed"] else "You have not passed yet.")
        if report["in_progress"]:
            lines.append("You have a quiz in progress — say 'quiz me' to carry on.")
        if report["weakest_sections"]:
            names = ", ".join(f"{SECTION_NAMES.get(w['section'], 'section ' + w['section'])} "
                              f"({w['correct']}/{w['answered']})" for w in report["weakest_sections"])
            lines.append(f"Weakest: {names}.")
        text = "\n".join(lines)
    return text, {"kind": "progress", **report}


def notice(kind: str, text: str, **extra) -> tuple[str, dict]:
    """A short message with a payload kind (errors, re-prompts, quiz state notices)."""
    return text, {"kind": kind, "text": text, **extra}
