"""Seed a database with a demo roster, quiz attempts and unanswered questions (tests, screenshots, demos)."""
from __future__ import annotations

import random
from pathlib import Path

from bot import auth
from bot.bank import choice_token
from bot.quiz import QuizEngine
from bot.store import Store
from knowledge.parser import Clause
from knowledge.search import normalise_question

DEMO_PASSWORD = "demo-password-1"
ROSTER = """name,email,role
Alice Teacher,alice@school.example,teacher
Bob Support,bob@school.example,support_staff
Gwen Governor,gwen@school.example,governor
Carl Contractor,carl@school.example,contractor
Vera Volunteer,vera@school.example,volunteer
"""
UNANSWERED = [
    "Can I bring my dog to school?",
    "Can I bring my dog to school",
    "What time does the canteen open?",
    "Who sets the car park rules?",
]


def quiz_engine(store: Store, clauses: list[Clause], quizzes_dir: Path, *, length: int = 10,
                pass_mark: float = 0.8) -> QuizEngine:
    """A quiz engine over the banks in quizzes_dir, clause refs resolved against the given clauses."""
    texts: dict[str, dict[str, str]] = {}
    for clause in clauses:
        texts.setdefault(clause.policy, {})[clause.clause] = clause.text
    return QuizEngine.from_dir(store, quizzes_dir, texts, length=length, pass_mark=pass_mark)


def take_quiz(engine: QuizEngine, sender: str, accuracy: float, *, seed: int = 0, answer_all: bool = True) -> None:
    """Answer a whole quiz for sender, each answer right with probability `accuracy` (deterministic by seed)."""
    rng = random.Random(seed)
    question, _ = engine.start(sender, seed=seed)
    while question is not None:
        right = rng.random() < accuracy
        pick = next(o for o in question.options if o.correct == right) if any(
            o.correct == right for o in question.options) else question.options[0]
        outcome = engine.answer(sender, choice_token(question.attempt_id, question.position, pick.id))
        if outcome.finished or not answer_all:
            break
        question = engine.current(sender)


def seed_demo(store: Store, clauses: list[Clause], quizzes_dir: Path, *, passwords: bool = True) -> dict:
    """A roster of five, two or three quizzes each at different accuracies, and a few unanswered questions."""
    report = auth.import_roster(store, ROSTER)
    emails = [line.split(",")[1] for line in ROSTER.strip().splitlines()[1:]]
    if passwords:
        for line in ROSTER.strip().splitlines()[1:]:
            name, email, _ = line.split(",")
            auth.claim_account(store, name, email, auth.issue_claim_code(store, email), DEMO_PASSWORD)
    engine = quiz_engine(store, clauses, quizzes_dir)
    accuracies = {"alice": [0.6, 0.95], "bob": [0.5, 0.7], "gwen": [0.9], "carl": [0.3]}
    for n, email in enumerate(emails):
        for m, accuracy in enumerate(accuracies.get(email.split("@")[0], [])):
            take_quiz(engine, email, accuracy, seed=n * 10 + m)
    for n, question in enumerate(UNANSWERED):
        store.log_question(emails[n % len(emails)], question, normalise_question(question),
                           {"answered": False, "reason": "out_of_scope", "citations": []})
    return {"roster": report, "emails": emails}
