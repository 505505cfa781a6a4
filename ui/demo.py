"""Seed a database with a demo roster, quiz attempts and unanswered questions (tests, screenshots, demos)."""
from __future__ import annotations

import random
from pathlib import Path

from bot.training import accounts
from bot.training.bank import choice_token
from bot.training.quiz import QuizEngine
from bot.training.store import Store
from knowledge.parser import Clause
from knowledge.search import normalise_question

DEMO_PASSWORD = "demo-password-1"
ROSTER = """name,email,role
Alice Teacher,alice@school.example,Class Teacher
Bob Support,bob@school.example,Teaching Assistant
Gwen Governor,gwen@school.example,Management Committee
Carl Contractor,carl@school.example,Contractor
Vera Volunteer,vera@school.example,Volunteer
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
    report = accounts.import_roster(store, ROSTER)
    emails = [line.split(",")[1] for line in ROSTER.strip().splitlines()[1:]]
    if passwords:
        for line in ROSTER.strip().splitlines()[1:]:
            name, email, _ = line.split(",")
            accounts.claim_account(store, name, email, accounts.issue_claim_code(store, email), DEMO_PASSWORD)
    engine = quiz_engine(store, clauses, quizzes_dir)
    accuracies = {"alice": [0.6, 0.95], "bob": [0.5, 0.7], "gwen": [0.9], "carl": [0.3]}
    for n, email in enumerate(emails):
        for m, accuracy in enumerate(accuracies.get(email.split("@")[0], [])):
            take_quiz(engine, email, accuracy, seed=n * 10 + m)
    for n, question in enumerate(UNANSWERED):
        store.log_question(emails[n % len(emails)], question, normalise_question(question),
                           {"answered": False, "reason": "out_of_scope", "citations": []})
    return {"roster": report, "emails": emails}


SCHOOL_TITLES = ["Class Teacher", "Teaching Assistant", "TA", "HLTA", "SENCO", "Cover Supervisor",
                 "Management Committee", "MC member", "Trainee Teacher", "Supply", "Volunteer", "Headteacher",
                 "Office Manager", "Midday Supervisor", "Site Manager"]
SCHOOL_NAMES = ["Amira Khan", "Ben Clarke", "Chloe Evans", "Dev Patel", "Ella Hughes", "Finn O'Brien", "Grace Li",
                "Harry Wood", "Isla Morgan", "Jack Turner", "Kiran Shah", "Lily Price", "Mason Hall", "Nia Roberts",
                "Oscar Green", "Poppy Ward", "Quinn Baker", "Ruby Scott", "Sam Ahmed", "Tara Doyle", "Umar Farooq",
                "Vicky Lewis", "Will Foster", "Yasmin Ali", "Zoë Ní Bhriain", "Adam Reid", "Beth Cole", "Carl Mills",
                "Dina Rossi", "Ed Walsh"]


def school_roster(n: int = 30) -> str:
    """A roster CSV of n staff with real job titles (as schools write them), not role keys."""
    lines = ["name,email,role"]
    for i, name in enumerate(SCHOOL_NAMES[:n]):
        email = name.lower().replace("ë", "e").replace("í", "i").replace("'", "").replace(" ", ".") + "@school.example"
        lines.append(f"{name},{email},{SCHOOL_TITLES[i % len(SCHOOL_TITLES)]}")
    return "\n".join(lines) + "\n"


def seed_school(store: Store, clauses: list[Clause], quizzes_dir: Path, *, n: int = 30, quizzes: int = 12) -> list[str]:
    """A roster of n staff with real job titles, quiz attempts by the first `quizzes` of them at mixed accuracy, and
    unanswered questions (screenshots and browser tests). Returns the emails."""
    report = accounts.import_roster(store, school_roster(n))
    assert not report.errors, report.errors
    emails = [line.split(",")[1] for line in school_roster(n).strip().splitlines()[1:]]
    engine = quiz_engine(store, clauses, quizzes_dir)
    for i, email in enumerate(emails[:quizzes]):
        take_quiz(engine, email, [0.95, 0.6, 0.85, 0.4, 0.9, 0.75][i % 6], seed=100 + i)
    for i, question in enumerate(UNANSWERED + ["How much maternity pay will I get?", "Can I wear jeans on a Friday?",
                                                "can i wear jeans on fridays"]):
        store.log_question(emails[i % len(emails)], question, normalise_question(question),
                           {"answered": False, "reason": "out_of_scope", "citations": []})
    return emails
