"""The quiz engine: start or resume an attempt, ask, mark and store each answer at once, finish, report progress."""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import object_session

from bot.training.bank import Bank, Option, Scenario, choice_token, draw, load_bank, match_option, parse_token
from bot.training.store import Answer, Attempt, Staff, Store, utcnow


class NothingToDraw(ValueError):
    """No approved scenario fits this request (yet); the message is safe to show the person."""


def clauses_to_reread(answers) -> list[dict]:
    """Clauses whose most recent answer was wrong, from (policy, clause ids, correct) in answer order.

    The one definition behind both the quiz result screen and My training, so they always agree.
    """
    latest: dict[tuple[str, str], bool] = {}
    for policy, clauses, correct in answers:
        for clause in clauses:
            latest.pop((policy, clause), None)  # re-insert so the order follows the latest answer
            latest[(policy, clause)] = bool(correct)
    return [{"policy": p, "clause": c} for (p, c), ok in latest.items() if not ok]


def answer_rows(session, staff_id: int, *, policy: str | None = None, up_to_attempt: int | None = None) -> list:
    """(policy, clause ids, correct) for one person's answers in the order given, for clauses_to_reread."""
    query = (select(Answer, Attempt.policy).join(Attempt, Answer.attempt_id == Attempt.id)
             .where(Attempt.staff_id == staff_id).order_by(Answer.answered_at, Answer.id))
    if policy is not None:
        query = query.where(Attempt.policy == policy)
    if up_to_attempt is not None:
        query = query.where(Attempt.id <= up_to_attempt)
    return [(p, json.loads(a.clauses or "[]"), a.correct) for a, p in session.execute(query).all()]


_GENERIC_WORDS = {"policy", "quiz", "scenario", "drafted", "guidance", "staff", "school", "with", "from", "that",
                  "this", "about", "establishments", "education"}


@dataclass
class Question:
    """One question as shown: the scenario, its options in shown order with letters, and progress."""

    attempt_id: int
    position: int  # 0-based
    total: int
    scenario: Scenario
    options: list[Option]
    policy: str  # the policy the scenario's clauses belong to

    def payload(self) -> dict:
        """The `quiz_question` payload the UI renders as buttons."""
        return {
            "kind": "quiz_question",
            "attempt_id": self.attempt_id,
            "scenario_id": self.scenario.id,
            "question": self.scenario.prompt,
            "number": self.position + 1,
            "total": self.total,
            "progress": f"{self.position + 1} of {self.total}",
            "options": [
                {"letter": "ABCDEFGH"[i], "id": o.id, "text": o.text,
                 "payload": '/quiz_answer{"quiz_choice":"%s"}' % choice_token(self.attempt_id, self.position, o.id)}
                for i, o in enumerate(self.options)
            ],
        }

    def text(self) -> str:
        """The question as plain text (for channels that show only text)."""
        lines = [f"Question {self.position + 1} of {self.total}: {self.scenario.prompt}"]
        lines += [f"{'ABCDEFGH'[i]}) {o.text}" for i, o in enumerate(self.options)]
        return "\n".join(lines)


@dataclass
class Outcome:
    """What happened to one reply during a quiz."""

    status: str  # answered | invalid | stale | no_quiz | finished
    question: Question | None = None  # the question the reply was about
    option: Option | None = None
    correct: bool = False
    finished: bool = False


@dataclass
class Answered:
    """A stored answer of the running quiz: its scenario, the option chosen (None when skipped), right or not."""

    scenario: Scenario
    policy: str
    option: Option | None
    correct: bool


class QuizEngine:
    """Quiz operations over a Store and scenario banks; no Rasa types here."""

    def __init__(self, store: Store, banks: dict[str, Bank], *, length: int = 10, pass_mark: float = 0.8):
        self.store = store
        self.banks = banks
        self.length = length
        self.pass_mark = pass_mark

    @classmethod
    def from_dir(cls, store: Store, quizzes_dir: Path, clause_texts: dict[str, dict[str, str]] | None = None,
                 **kwargs) -> "QuizEngine":
        """Load every bank in a folder; `clause_texts` (policy -> id -> text) resolves and checks clause refs."""
        banks = {}
        for path in sorted(Path(quizzes_dir).glob("*.y*ml")):
            policy_texts = None
            if clause_texts is not None:
                stem_bank = load_bank(path)  # first pass only to learn which policy it is for
                policy_texts = clause_texts.get(stem_bank.policy)
            bank = load_bank(path, policy_texts, flag_missing=True)
            if bank.servable:  # a bank of drafts waits for a coordinator's approval
                banks[bank.policy] = bank
        return cls(store, banks, **kwargs)

    def default_policy(self) -> str:
        """The policy whose quiz 'quiz me' starts when none is named: the bank with the most approved scenarios."""
        return max(self.banks, key=lambda p: (sum(s.status == "approved" for s in self.banks[p].scenarios), p))

    def policy_named(self, text: str | None) -> str | None:
        """The bank a message names by its title or id words ('quiz me on lone working'), if exactly one fits."""
        said = set(re.findall(r"[a-z]{4,}", (text or "").lower()))
        scores = {}
        for policy, bank in self.banks.items():
            words = set(re.findall(r"[a-z]{4,}", f"{bank.title} {policy}".lower())) - _GENERIC_WORDS
            scores[policy] = len(said & words)
        best = max(scores.values(), default=0)
        winners = [p for p, n in scores.items() if n == best]
        return winners[0] if best and len(winners) == 1 else None

    # -- internals ----------------------------------------------------------
    def _active(self, session, staff: Staff) -> Attempt | None:
        return session.scalar(
            select(Attempt).where(Attempt.staff_id == staff.id, Attempt.status == "in_progress")
            .order_by(Attempt.id.desc()).limit(1)
        )

    def _question(self, attempt: Attempt) -> Question | None:
        plan = attempt.plan_items()
        if attempt.position >= len(plan):
            return None
        bank = self.banks[attempt.policy]
        item = plan[attempt.position]
        scenario = bank.by_id[item["scenario"]]
        options = [scenario.option(oid) for oid in item["options"]]
        return Question(attempt.id, attempt.position, len(plan), scenario, [o for o in options if o],
                        attempt.policy)

    def _finish(self, attempt: Attempt, status: str) -> None:
        attempt.status = status
        attempt.finished_at = utcnow()
        answered = [a for a in attempt.answers]
        attempt.correct = sum(a.correct for a in answered)
        attempt.score = attempt.correct / attempt.n_questions if attempt.n_questions else 0.0
        attempt.passed = status == "completed" and attempt.score >= attempt.pass_mark

    def _record(self, session, active: Attempt, question: Question, option: Option | None) -> Outcome:
        """Store one answer (None = skipped), move to the next question, finish the attempt after the last."""
        correct = bool(option and option.correct)
        session.add(Answer(attempt_id=active.id, position=active.position, scenario_id=question.scenario.id,
                           option_id=option.id if option else None, correct=correct, skipped=option is None,
                           clauses=json.dumps(list(question.scenario.clauses)),
                           bank_version=self.banks[active.policy].version if active.policy in self.banks else None))
        active.position += 1
        session.flush()
        session.refresh(active)
        finished = active.position >= active.n_questions
        if finished:
            self._finish(active, "completed")
        return Outcome("answered", question, option, correct, finished)

    # -- operations ---------------------------------------------------------
    def start(self, sender_id: str, policy: str | None = None, *, seed: int | None = None,
              clauses: set[str] | None = None) -> tuple[Question, bool]:
        """Start a new attempt, or return the one in progress; returns (current question, resumed?).

        With `clauses`, a refresher: only scenarios testing those clauses (e.g. the ones a new version changed).
        """
        policy = policy or self.default_policy()
        bank = self.banks[policy]
        with self.store.session() as session:
            staff = self.store.staff_for_sender(session, sender_id)
            active = self._active(session, staff)
            if active is not None:
                question = self._question(active)
                if question is not None and active.policy in self.banks:
                    return question, True
                self._finish(active, "stopped")
            rng = random.Random(seed)
            plan = draw(bank, staff.role, self.length, rng, clauses=clauses)
            if not plan and clauses is not None:
                if any(s.status == "draft" and set(s.clauses) & clauses for s in bank.scenarios):
                    raise NothingToDraw("The refresher questions on the clauses that changed are waiting for the "
                                     "coordinator to approve them; please try again later.")
                raise NothingToDraw("None of the quiz scenarios covers the clauses that changed.")
            if not plan and policy != self.default_policy():  # nothing in that quiz for this role yet
                policy = self.default_policy()
                bank = self.banks[policy]
                plan = draw(bank, staff.role, self.length, rng)
            if not plan:
                raise NothingToDraw("There are no approved quiz scenarios for your role yet.")
            attempt = Attempt(staff_id=staff.id, policy=policy, bank_version=bank.version, plan=json.dumps(plan),
                              refresher=clauses is not None,
                              position=0, n_questions=len(plan), pass_mark=self.pass_mark)
            session.add(attempt)
            session.flush()
            return self._question(attempt), False

    def current(self, sender_id: str) -> Question | None:
        """The question the user is on, or None when no quiz is in progress."""
        with self.store.session() as session:
            staff = self.store.staff_for_sender(session, sender_id)
            active = self._active(session, staff)
            return self._question(active) if active else None

    def answer(self, sender_id: str, text: str) -> Outcome:
        """Mark a reply to the current question and store it in the same transaction."""
        with self.store.session() as session:
            staff = self.store.staff_for_sender(session, sender_id)
            active = self._active(session, staff)
            token = parse_token(text)
            if active is None:
                return Outcome("no_quiz" if token is None else "stale")
            question = self._question(active)
            if question is None:
                return Outcome("no_quiz")
            if token is not None:
                attempt_id, position, option_id = token
                if attempt_id != active.id or position != active.position:
                    return Outcome("stale", question)
                option = question.scenario.option(option_id)
            else:
                option = match_option(text, question.options)
            if option is None:
                return Outcome("invalid", question)
            return self._record(session, active, question, option)

    def last_answered(self, sender_id: str) -> Answered | None:
        """The running quiz's most recent answer (what "why?" mid-quiz asks about), or None before the first
        answer or with no quiz running."""
        with self.store.session() as session:
            staff = self.store.staff_for_sender(session, sender_id)
            active = self._active(session, staff)
            if active is None or not active.answers or active.policy not in self.banks:
                return None
            last = active.answers[-1]
            scenario = self.banks[active.policy].by_id.get(last.scenario_id)
            if scenario is None:
                return None
            option = scenario.option(last.option_id) if last.option_id else None
            return Answered(scenario, active.policy, option, bool(last.correct))

    def skip(self, sender_id: str) -> Outcome:
        """Skip the current question (stored as a wrong, skipped answer)."""
        with self.store.session() as session:
            staff = self.store.staff_for_sender(session, sender_id)
            active = self._active(session, staff)
            question = self._question(active) if active else None
            if question is None:
                return Outcome("no_quiz")
            return self._record(session, active, question, None)

    def stop(self, sender_id: str) -> dict | None:
        """Stop the quiz in progress, keeping its answers; returns its summary or None."""
        with self.store.session() as session:
            staff = self.store.staff_for_sender(session, sender_id)
            active = self._active(session, staff)
            if active is None:
                return None
            self._finish(active, "stopped")
            return self._summary(active)

    def last_result(self, sender_id: str) -> dict | None:
        """The summary of the user's most recently finished attempt."""
        with self.store.session() as session:
            staff = self.store.staff_for_sender(session, sender_id)
            attempt = session.scalar(select(Attempt).where(Attempt.staff_id == staff.id,
                                                           Attempt.status != "in_progress")
                                     .order_by(Attempt.finished_at.desc(), Attempt.id.desc()).limit(1))
            return self._summary(attempt) if attempt else None

    def _summary(self, attempt: Attempt) -> dict:
        bank = self.banks.get(attempt.policy)
        session = object_session(attempt)
        rows = answer_rows(session, attempt.staff_id, policy=attempt.policy, up_to_attempt=attempt.id)
        reread = [item["clause"] for item in clauses_to_reread(rows)]
        return {
            "attempt_id": attempt.id,
            "policy": attempt.policy,
            "quiz_title": bank.title if bank else attempt.policy,
            "status": attempt.status,
            "answered": len(attempt.answers),
            "total": attempt.n_questions,
            "correct": attempt.correct,
            "score": round(attempt.score or 0.0, 4),
            "pass_mark": attempt.pass_mark,
            "passed": bool(attempt.passed),
            "reread": reread,
            "started_at": attempt.started_at.isoformat() if attempt.started_at else None,
            "finished_at": attempt.finished_at.isoformat() if attempt.finished_at else None,
        }

    def progress(self, sender_id: str) -> dict:
        """The user's own attempts, best score, pass status and weakest sections."""
        with self.store.session() as session:
            staff = self.store.staff_for_sender(session, sender_id)
            attempts = session.scalars(select(Attempt).where(Attempt.staff_id == staff.id)
                                       .order_by(Attempt.started_at)).all()
            summaries = [self._summary(a) for a in attempts]
            finished = [s for s in summaries if s["status"] == "completed"]
            sections: dict[str, list[int]] = {}
            for attempt in attempts:
                for answer in attempt.answers:
                    clauses = json.loads(answer.clauses or "[]")
                    section = clauses[0].split(".")[0] if clauses else "?"
                    tally = sections.setdefault(section, [0, 0])
                    tally[0] += int(answer.correct)
                    tally[1] += 1
            weakest = sorted(
                ({"section": k, "correct": v[0], "answered": v[1], "facility": v[0] / v[1]}
                 for k, v in sections.items() if v[1]),
                key=lambda d: (d["facility"], -d["answered"]),
            )
            return {
                "attempts": summaries,
                "best_score": max((s["score"] for s in finished), default=None),
                "passed": any(s["passed"] for s in finished),
                "in_progress": any(s["status"] == "in_progress" for s in summaries),
                "weakest_sections": [w for w in weakest if w["facility"] < 1.0][:3],
            }

