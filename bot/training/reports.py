"""Training records for the UI: one person's own record, the coordinator's tables, sign-offs and question links.

Plain functions that take a Store and return lists of dicts (ready for a DataFrame or a CSV).
"""
from __future__ import annotations

import hashlib
import json
import re
from calendar import monthrange
from collections import Counter, defaultdict
from datetime import date, datetime, timezone

from sqlalchemy import select

from bot.training.quiz import answer_rows, clauses_to_reread
from bot.training.store import (Answer, AnswerRating, Attempt, PolicyVersion, QuestionLink, QuestionLog, SignOff, Staff, Store,
                       utcnow)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _staff(session, sender_id: str) -> Staff | None:
    return session.scalar(select(Staff).where(Staff.sender_id == sender_id))


# -- one person's own record --------------------------------------------------
def my_attempts(store: Store, sender_id: str) -> list[dict]:
    """The signed-in person's quiz attempts, newest first (nobody else's)."""
    with store.session() as session:
        staff = _staff(session, sender_id)
        if staff is None:
            return []
        attempts = session.scalars(select(Attempt).where(Attempt.staff_id == staff.id)
                                   .order_by(Attempt.started_at.desc(), Attempt.id.desc())).all()
        return [{
            "attempt": a.id,
            "policy": a.policy,
            "started": _iso(a.started_at),
            "finished": _iso(a.finished_at),
            "status": a.status.replace("_", " "),
            "answered": len(a.answers),
            "correct": a.correct if a.status != "in_progress" else sum(x.correct for x in a.answers),
            "questions": a.n_questions,
            "score": round(a.score, 4) if a.score is not None else None,
            "passed": bool(a.passed) if a.status == "completed" else None,
        } for a in attempts]


def my_summary(store: Store, sender_id: str) -> dict:
    """Best score, pass status and the clauses still to re-read (last answer on them was wrong)."""
    with store.session() as session:
        staff = _staff(session, sender_id)
        if staff is None:
            return {"attempts": 0, "completed": 0, "best_score": None, "passed": False, "reread": []}
        attempts = session.scalars(select(Attempt).where(Attempt.staff_id == staff.id)).all()
        completed = [a for a in attempts if a.status == "completed"]
        reread = clauses_to_reread(answer_rows(session, staff.id))
        return {
            "attempts": len(attempts),
            "completed": len(completed),
            "best_score": max((a.score or 0.0 for a in completed), default=None),
            "passed": any(a.passed and not a.refresher for a in completed),
            "reread": reread,
        }


def my_todo(store: Store, sender_id: str, *, agreement: dict | None = None) -> list[dict]:
    """What the signed-in person still has to do: continue or take the quiz, sign (again) the agreement.

    `agreement` is {"policy", "document", "version"} of the agreement this person signs (found in the index by
    the UI), or None when no policy has one. Items are {"kind", "text", ...}; an empty list means up to date.
    """
    todo: list[dict] = []
    with store.session() as session:
        staff = _staff(session, sender_id)
        attempts = [] if staff is None else session.scalars(
            select(Attempt).where(Attempt.staff_id == staff.id).order_by(Attempt.started_at.desc(),
                                                                         Attempt.id.desc())).all()
        signed = [] if staff is None else session.scalars(select(SignOff).where(SignOff.staff_id == staff.id)).all()
        running = next((a for a in attempts if a.status == "in_progress"), None)
        passed = any(a.passed and not a.refresher for a in attempts if a.status == "completed")
        if running is not None:
            todo.append({"kind": "quiz_continue", "number": min(running.position + 1, running.n_questions),
                         "total": running.n_questions,
                         "text": f"Continue your quiz: question {min(running.position + 1, running.n_questions)} "
                                 f"of {running.n_questions}."})
        elif not passed:
            done = [a for a in attempts if a.status == "completed"]
            text = ("Take the scenario quiz." if not done else
                    f"Retake the scenario quiz: your best so far is {round(max(a.score or 0 for a in done) * 100)}%.")
            todo.append({"kind": "quiz_take", "text": text})
        if agreement is not None:
            mine = [r for r in signed if r.policy == agreement["policy"]
                    and r.document == str(agreement["document"])[:200]]
            if not any(r.policy_version == str(agreement["version"])[:80] for r in mine):
                name = agreement.get("title") or agreement["document"]
                todo.append({"kind": "agreement", "document": agreement["document"], "resign": bool(mine),
                             "text": (f"Sign the new version of the {name}: the policy has changed."
                                      if mine else f"Sign the {name}.")})
    return todo


def my_signoffs(store: Store, sender_id: str) -> list[dict]:
    """The signed-in person's agreement sign-offs, newest first."""
    with store.session() as session:
        staff = _staff(session, sender_id)
        if staff is None:
            return []
        rows = session.scalars(select(SignOff).where(SignOff.staff_id == staff.id)
                               .order_by(SignOff.signed_at.desc(), SignOff.id.desc())).all()
        return [_signoff_dict(r) for r in rows]


def _signoff_dict(row: SignOff) -> dict:
    return {"policy": row.policy, "document": row.document, "policy_version": row.policy_version,
            "signed_name": row.signed_name, "role": row.role, "signed_at": _iso(row.signed_at)}


def record_signoff(store: Store, sender_id: str, *, policy: str, document: str, policy_version: str,
                   signed_name: str, role: str | None) -> dict:
    """Record an electronic signature of an agreement (name, role, date and policy version)."""
    if not signed_name.strip():
        raise ValueError("Type your full name to sign.")
    with store.session() as session:
        staff = _staff(session, sender_id)
        if staff is None:
            raise ValueError("Unknown staff member")
        row = SignOff(staff_id=staff.id, policy=policy, document=document[:200], policy_version=policy_version[:80],
                      signed_name=" ".join(signed_name.split())[:200], role=role, signed_at=utcnow())
        session.add(row)
        staff.last_active_at = utcnow()
        session.flush()
        return _signoff_dict(row)


# -- coordinator: completion --------------------------------------------------
def completion(store: Store, versions: dict[str, str] | None = None) -> list[dict]:
    """Everyone on the roster: signed?, quiz attempts, best score, passed?, last activity.

    `versions` (policy -> current checksum) makes 'signed' mean signed the current version.
    """
    with store.session() as session:
        people = session.scalars(select(Staff).where(Staff.on_roster.is_(True)).order_by(Staff.name)).all()
        ids = [p.id for p in people]
        attempts: dict[int, list[Attempt]] = defaultdict(list)
        for a in session.scalars(select(Attempt).where(Attempt.staff_id.in_(ids))).all():
            attempts[a.staff_id].append(a)
        signoffs: dict[int, list[SignOff]] = defaultdict(list)
        for s in session.scalars(select(SignOff).where(SignOff.staff_id.in_(ids))).all():
            signoffs[s.staff_id].append(s)
        rows = []
        for person in people:
            mine = attempts[person.id]
            done = [a for a in mine if a.status == "completed"]
            signs = signoffs[person.id]
            current = [s for s in signs if not versions or versions.get(s.policy) == s.policy_version]
            moments = [person.last_active_at] + [a.finished_at or a.started_at for a in mine] + \
                      [s.signed_at for s in signs]
            moments = [_aware(m) for m in moments if m]
            rows.append({
                "name": person.name,
                "email": person.email,
                "role": person.role,
                "signed": bool(current),
                "signed_at": _iso(max((s.signed_at for s in current), default=None)),
                "attempts": len(mine),
                "completed": len(done),
                "best_score": round(max(a.score or 0.0 for a in done), 4) if done else None,
                "passed": any(a.passed and not a.refresher for a in done),
                "last_activity": _iso(max(moments)) if moments else None,
                "password_set": bool(person.password_hash),
                "claimed_at": _iso(person.claimed_at),
            })
        return rows


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def summary(rows: list[dict]) -> dict:
    """Headline numbers over completion rows: people, signed, attempted, passed and the pass rate."""
    n = len(rows)
    passed = sum(r["passed"] for r in rows)
    return {
        "people": n,
        "signed": sum(r["signed"] for r in rows),
        "attempted": sum(r["attempts"] > 0 for r in rows),
        "passed": passed,
        "pass_rate": passed / n if n else None,
    }


def scores(store: Store, emails: set[str] | None = None) -> list[dict]:
    """Score of every completed attempt by roster staff (for the distribution chart); only `emails` if given."""
    with store.session() as session:
        rows = session.execute(
            select(Attempt.score, Attempt.passed, Staff.role, Attempt.finished_at, Staff.email)
            .join(Staff, Attempt.staff_id == Staff.id)
            .where(Attempt.status == "completed", Staff.on_roster.is_(True))
        ).all()
        return [{"score": round(s or 0.0, 4), "passed": bool(p), "role": r, "finished": _iso(f), "email": e}
                for s, p, r, f, e in rows if emails is None or e in emails]


def score_bands(rows: list[dict], width: int = 10) -> list[dict]:
    """Completed attempts counted in score bands: 0-9%, 10-19%, … 100%."""
    counts = Counter(min(int(round(r["score"] * 100)) // width * width, 100) for r in rows)
    return [{"band": f"{lo}%" if lo == 100 else f"{lo}-{lo + width - 1}%", "attempts": counts.get(lo, 0)}
            for lo in range(0, 101, width)]


# -- coordinator: facility ----------------------------------------------------
def _answers(session, emails: set[str] | None = None) -> list[tuple[Answer, str]]:
    query = (select(Answer, Attempt.policy).join(Attempt, Answer.attempt_id == Attempt.id)
             .join(Staff, Attempt.staff_id == Staff.id).where(Staff.on_roster.is_(True)))
    if emails is not None:
        query = query.where(Staff.email.in_(sorted(emails)))
    return session.execute(query).all()


def _facility(tally: dict, keys: tuple[str, ...]) -> list[dict]:
    rows = []
    for key, (correct, answered) in tally.items():
        row = dict(zip(keys, key))
        row.update({"answered": answered, "correct": correct, "wrong": answered - correct,
                    "facility": round(correct / answered, 4) if answered else None})
        rows.append(row)
    rows.sort(key=lambda r: (r["facility"], -r["answered"]))
    return rows


def scenario_facility(store: Store, emails: set[str] | None = None) -> list[dict]:
    """Per scenario: answers, correct, and facility (share answered correctly), hardest first; only `emails`' answers
    if given (the dashboard's filters)."""
    with store.session() as session:
        tally: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        for answer, policy in _answers(session, emails):
            t = tally[(policy, answer.scenario_id)]
            t[0] += int(answer.correct)
            t[1] += 1
        return _facility(tally, ("policy", "scenario"))


def clause_facility(store: Store, emails: set[str] | None = None) -> list[dict]:
    """Per clause tested: answers, correct and facility (an answer counts for each clause it tests); only `emails`'
    answers if given."""
    with store.session() as session:
        tally: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        for answer, policy in _answers(session, emails):
            for clause in json.loads(answer.clauses or "[]"):
                t = tally[(policy, clause)]
                t[0] += int(answer.correct)
                t[1] += 1
        return _facility(tally, ("policy", "clause"))


MIN_ANSWERS = 5  # fewer answers than this and one slip would name a clause "most missed"


def most_missed(rows: list[dict], min_answers: int = MIN_ANSWERS) -> dict | None:
    """The clause (or scenario) answered wrongly most often among those with at least `min_answers` answers;
    ties go to the lower facility."""
    wrong = [r for r in rows if r["wrong"] > 0 and r["answered"] >= min_answers]
    if not wrong:
        return None
    return max(wrong, key=lambda r: (r["wrong"], -r["facility"], r["answered"]))


# -- coordinator: questions the bot could not answer ---------------------------
def unanswered_questions(store: Store, *, include_decided: bool = False) -> list[dict]:
    """Questions the policy did not answer, grouped by their normalised form, most asked first."""
    with store.session() as session:
        logs = session.scalars(select(QuestionLog).where(QuestionLog.answered.is_(False))
                               .order_by(QuestionLog.asked_at)).all()
        links = {row.normalised: row for row in session.scalars(select(QuestionLink)).all()}
        groups: dict[str, dict] = {}
        for log in logs:
            group = groups.get(log.normalised)
            if group is None:
                group = groups[log.normalised] = {
                    "normalised": log.normalised, "question": log.question, "count": 0, "askers": set(),
                    "reasons": Counter(), "first_asked": log.asked_at, "last_asked": log.asked_at,
                    "top_clause": log.top_clause, "top_policy": log.top_policy,
                }
            group["count"] += 1
            group["askers"].add(log.staff_id)
            group["reasons"][log.reason] += 1
            group["last_asked"] = log.asked_at
            group["question"] = log.question
        rows = []
        for group in groups.values():
            link = links.get(group["normalised"])
            if link is not None and not include_decided:
                continue
            rows.append({
                "question": group["question"],
                "normalised": group["normalised"],
                "count": group["count"],
                "people": len(group["askers"]),
                "reason": group["reasons"].most_common(1)[0][0],
                "nearest_clause": group["top_clause"],
                "nearest_policy": group["top_policy"],
                "first_asked": _iso(group["first_asked"]),
                "last_asked": _iso(group["last_asked"]),
                "status": link.status if link else "open",
                "linked_clause": link.clause if link else None,
                "linked_policy": link.policy if link else None,
                "contact": link.contact if link else None,
            })
        rows.sort(key=lambda r: r["last_asked"] or "", reverse=True)
        rows.sort(key=lambda r: -r["count"])
        return group_similar(rows)


SIMILAR = 0.85  # difflib ratio at which two questions' normalised forms count as the same question reworded


def group_similar(rows: list[dict], threshold: float = SIMILAR) -> list[dict]:
    """Merge near-duplicate questions ("can i bring my dog into school" / "can i bring my dogs to school") with the
    same decision status: counts add up, the most-asked wording leads, `variants` keeps every normalised form (a
    decision applies to all of them)."""
    from difflib import SequenceMatcher  # noqa: PLC0415

    merged: list[dict] = []
    for row in rows:  # most asked first, so the lead wording is the most common one
        for lead in merged:
            if lead["status"] == row["status"] and SequenceMatcher(None, lead["normalised"],
                                                                   row["normalised"]).ratio() >= threshold:
                lead["count"] += row["count"]
                lead["people"] += row["people"]  # an upper bound: the same person may ask both wordings
                lead["variants"].append(row["normalised"])
                lead["wordings"].append(row["question"])
                lead["last_asked"] = max(filter(None, [lead["last_asked"], row["last_asked"]]), default=None)
                break
        else:
            merged.append({**row, "variants": [row["normalised"]], "wordings": [row["question"]]})
    return merged


def low_confidence_answers(store: Store, limit: int = 10, below: float | None = None) -> list[dict]:
    """Answered questions whose best clause matched least well (lowest search score), grouped by question: the
    answers most worth checking. `below` keeps only scores under that value."""
    with store.session() as session:
        links = {row.normalised for row in session.scalars(select(QuestionLink)).all()}
        logs = session.scalars(select(QuestionLog).where(QuestionLog.answered.is_(True),
                                                         QuestionLog.top_score.is_not(None))).all()
        groups: dict[str, dict] = {}
        for log in logs:
            if log.normalised in links or (below is not None and log.top_score >= below):
                continue
            group = groups.setdefault(log.normalised, {
                "question": log.question, "normalised": log.normalised, "count": 0, "askers": set(),
                "score": log.top_score, "nearest_policy": log.top_policy, "nearest_clause": log.top_clause,
                "last_asked": log.asked_at})
            group["count"] += 1
            group["askers"].add(log.staff_id)
            group["score"] = min(group["score"], log.top_score)
            group["last_asked"] = max(group["last_asked"], log.asked_at)
        rows = sorted(groups.values(), key=lambda g: g["score"])[:limit]
        return [{**{k: v for k, v in g.items() if k != "askers"}, "people": len(g["askers"]),
                 "reason": "low_confidence", "cited": g["nearest_clause"], "last_asked": _iso(g["last_asked"]),
                 "status": "open", "variants": [g["normalised"]]} for g in rows]


# -- answer ratings -------------------------------------------------------------
def _answer_key(question: str, citations: list[dict]) -> str:
    cited = ",".join(f"{c.get('policy')}#{c.get('clause')}" for c in citations)
    return hashlib.sha256(f"{question}\n{cited}".encode()).hexdigest()


def rate_answer(store: Store, sender_id: str, *, question: str, normalised: str, citations: list[dict],
                helpful: bool) -> None:
    """Store the signed-in person's thumbs up/down on one answer; rating the same answer again replaces it."""
    cited = [{"policy": c.get("policy"), "clause": c.get("clause")} for c in citations]
    key = _answer_key(question, cited)
    with store.session() as session:
        staff = store.staff_for_sender(session, sender_id)
        row = session.scalar(select(AnswerRating).where(AnswerRating.staff_id == staff.id,
                                                        AnswerRating.answer_key == key))
        if row is None:
            row = AnswerRating(staff_id=staff.id, answer_key=key)
            session.add(row)
        row.question, row.normalised = question[:4000], normalised[:500]
        row.citations, row.helpful, row.rated_at = json.dumps(cited), bool(helpful), utcnow()


def poorly_rated(store: Store, *, include_decided: bool = False) -> list[dict]:
    """Answers rated unhelpful, grouped by question, most thumbs-down first; the shape of unanswered_questions."""
    with store.session() as session:
        ratings = session.scalars(select(AnswerRating).order_by(AnswerRating.rated_at)).all()
        links = {row.normalised: row for row in session.scalars(select(QuestionLink)).all()}
        groups: dict[str, dict] = {}
        for rating in ratings:
            group = groups.setdefault(rating.normalised, {"down": 0, "up": 0, "raters": set(), "last": None,
                                                          "question": rating.question, "citations": []})
            group["up" if rating.helpful else "down"] += 1
            if not rating.helpful:
                group["raters"].add(rating.staff_id)
                group["last"] = rating.rated_at
                group["question"] = rating.question
                group["citations"] = json.loads(rating.citations or "[]")
        rows = []
        for normalised, group in groups.items():
            link = links.get(normalised)
            if group["down"] <= group["up"] or (link is not None and not include_decided):
                continue
            first = (group["citations"] or [{}])[0]
            rows.append({
                "question": group["question"], "normalised": normalised, "count": group["down"],
                "helpful": group["up"], "people": len(group["raters"]), "reason": "rated unhelpful",
                "cited": ", ".join(str(c.get("clause")) for c in group["citations"]),
                "nearest_policy": first.get("policy"), "nearest_clause": first.get("clause"),
                "last_asked": _iso(group["last"]), "status": link.status if link else "open",
                "linked_clause": link.clause if link else None,
            })
        rows.sort(key=lambda r: r["last_asked"] or "", reverse=True)
        rows.sort(key=lambda r: -r["count"])
        return rows


def _decide(store: Store, normalised: str, status: str, policy: str | None, clause: str | None,
            by: str | None) -> None:
    with store.session() as session:
        row = session.scalar(select(QuestionLink).where(QuestionLink.normalised == normalised))
        if row is None:
            row = QuestionLink(normalised=normalised)
            session.add(row)
        row.status, row.policy, row.clause, row.decided_by, row.decided_at = status, policy, clause, by, utcnow()


def link_question(store: Store, normalised: str, policy: str, clause: str, *, by: str | None = None) -> None:
    """Link a question to the clause that answers it; the bot's searcher picks the link up."""
    if not policy or not clause:
        raise ValueError("Choose the clause that answers the question.")
    _decide(store, normalised, "linked", policy, clause, by)


def mark_not_covered(store: Store, normalised: str, *, by: str | None = None, contact: str | None = None) -> None:
    """Record that the policy does not cover a question, and who staff should ask about that topic (named in later
    refusals of similar questions)."""
    contact = " ".join((contact or "").split())[:300] or None
    _decide(store, normalised, "not_covered", None, None, by)
    with store.session() as session:
        row = session.scalar(select(QuestionLink).where(QuestionLink.normalised == normalised))
        row.contact = contact


def topic_contacts(store: Store) -> list[tuple[str, str]]:
    """(question, who to ask) for every question marked not covered with a contact, for the bot's refusals."""
    with store.session() as session:
        rows = session.scalars(select(QuestionLink).where(QuestionLink.status == "not_covered",
                                                          QuestionLink.contact.is_not(None))
                               .order_by(QuestionLink.decided_at)).all()
        return [(r.normalised, r.contact) for r in rows]


def reopen_question(store: Store, normalised: str) -> None:
    """Undo a coordinator decision on a question."""
    with store.session() as session:
        row = session.scalar(select(QuestionLink).where(QuestionLink.normalised == normalised))
        if row is not None:
            session.delete(row)


def question_links(store: Store) -> list[dict]:
    """Every coordinator decision on a question."""
    with store.session() as session:
        rows = session.scalars(select(QuestionLink).order_by(QuestionLink.decided_at.desc())).all()
        return [{"normalised": r.normalised, "status": r.status, "policy": r.policy, "clause": r.clause,
                 "contact": r.contact, "decided_by": r.decided_by, "decided_at": _iso(r.decided_at)} for r in rows]


# -- policies -----------------------------------------------------------------
def record_policy_version(store: Store, *, policy: str, checksum: str, title: str, changes: dict,
                          uploaded_by: str | None) -> None:
    """Record an uploaded policy version and what changed in it."""
    with store.session() as session:
        session.add(PolicyVersion(policy=policy, checksum=checksum, title=title[:300],
                                  changes=json.dumps(changes), uploaded_by=uploaded_by))


def policy_versions(store: Store) -> list[dict]:
    """Every recorded policy upload, newest first."""
    with store.session() as session:
        rows = session.scalars(select(PolicyVersion).order_by(PolicyVersion.uploaded_at.desc(),
                                                              PolicyVersion.id.desc())).all()
        out = []
        for r in rows:
            changes = json.loads(r.changes or "{}")
            out.append({"policy": r.policy, "title": r.title, "checksum": r.checksum,
                        "added": ", ".join(changes.get("added", [])),
                        "removed": ", ".join(changes.get("removed", [])),
                        "changed": ", ".join(changes.get("changed", [])),
                        "wording": changes.get("wording", []),
                        "uploaded_by": r.uploaded_by, "uploaded_at": _iso(r.uploaded_at)})
        return out


_MONTH_NAMES = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
                "october", "november", "december"]
_SEASONS = {"spring": 4, "summer": 7, "autumn": 10, "fall": 10, "winter": 12}


def _month(word: str) -> int | None:
    if len(word) < 3:
        return None
    for i, name in enumerate(_MONTH_NAMES, 1):
        if name.startswith(word) or (word == "sept" and i == 9):
            return i
    return None


def parse_review_date(text: str | None) -> date | None:
    """The last day a review date allows: 'March 2023' -> 2023-03-31; '1/9/2024', '2024-09-01' -> that day."""
    if not text:
        return None
    raw = text.strip().lower()
    m = re.search(r"\b(\d{4})-(\d{1,2})(?:-(\d{1,2}))?\b", raw)
    if m:
        return _day(int(m.group(1)), int(m.group(2)), int(m.group(3)) if m.group(3) else None)
    m = re.search(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{2,4})\b", raw)  # UK order: day/month/year
    if m:
        year = int(m.group(3)) + (2000 if len(m.group(3)) == 2 else 0)
        return _day(year, int(m.group(2)), int(m.group(1)))
    m = re.search(r"\b(\d{1,2})[/.](\d{4})\b", raw)
    if m:
        return _day(int(m.group(2)), int(m.group(1)), None)
    year = re.search(r"\b(?:19|20)\d{2}\b", raw)
    if not year:
        return None
    y = int(year.group(0))
    rest = raw.replace(year.group(0), " ")
    for word in re.findall(r"[a-z]+", rest):
        month = _month(word)
        if month:
            day = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", rest)
            return _day(y, month, int(day.group(1)) if day else None)
        if word in _SEASONS:
            return _day(y, _SEASONS[word], None)
    return date(y, 12, 31)


def _day(year: int, month: int, day: int | None) -> date | None:
    if not 1 <= month <= 12:
        return None
    last = monthrange(year, month)[1]
    try:
        return date(year, month, day if day else last)
    except ValueError:
        return None


def review_warnings(policies: dict[str, dict], today: date | None = None) -> list[dict]:
    """Policies whose review date has passed (from the index's policy metadata)."""
    today = today or date.today()
    out = []
    for policy, meta in policies.items():
        due = parse_review_date(meta.get("review_date"))
        if due and due < today:
            out.append({"policy": policy, "title": meta.get("title", policy), "review_date": meta.get("review_date"),
                        "due": due.isoformat(), "days_overdue": (today - due).days})
    return out
