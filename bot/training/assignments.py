"""Assignments: which policies each role must read-and-sign and/or pass, by when; staff to-do lists; completion.

A signature records the version of the text signed (a checksum of the whole policy's clauses, or of the section the
coordinator chose), so a new policy version asks for a new signature only when the signed text itself changed.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from bot.training import banks, reports
from bot.training.bank import parse_bank
from bot.training.accounts import normalise_name
from bot.training.draft import NoRulesError, draft_bank, policy_title
from bot.training.store import Assignment, Attempt, PolicyVersion, SignOff, Staff, Store, utcnow

EVERYONE = "all"


@dataclass(frozen=True)
class SignedText:
    """What a person signs for one policy: a label, the clauses and the version of their text."""

    policy: str
    document: str  # "Whole policy: <title>" or the section's name
    clauses: tuple
    version: str


def signed_text(index, policy: str, section: str | None = None) -> SignedText | None:
    """The text to read and sign (the whole policy, or one section) and its version; None if it isn't indexed."""
    clauses = [c for c in index.policy_clauses(policy) if c.kind != "detail"]
    title = str((index.policies.get(policy) or {}).get("title") or policy)
    if section:
        # A section chosen by name also covers its sub-headings ("Internet access › Forbidden").
        clauses = [c for c in clauses if c.section == section or c.section.startswith(section + " ›")]
    if not clauses:
        return None
    digest = hashlib.sha256("\n".join(f"{c.clause}\t{c.text}" for c in clauses).encode()).hexdigest()
    return SignedText(policy, section or f"Whole policy: {title}", tuple(clauses), f"text-{digest[:20]}")


def set_assignment(store: Store, policy: str, role: str, *, due: date | None, sign: bool, quiz: bool,
                   section: str | None = None, by: str | None = None) -> None:
    """Create or replace the assignment of one policy to one role (or 'all')."""
    if not (sign or quiz):
        raise ValueError("Choose at least one of: read and sign, pass the quiz.")
    with store.session() as session:
        row = session.scalar(select(Assignment).where(Assignment.policy == policy, Assignment.role == role))
        if row is None:
            row = Assignment(policy=policy, role=role)
            session.add(row)
        row.due, row.sign, row.quiz, row.section = due, sign, quiz, section or None
        row.created_by, row.created_at = by, utcnow()


def remove_assignment(store: Store, policy: str, role: str) -> None:
    """Delete one assignment (records already made are kept)."""
    with store.session() as session:
        row = session.scalar(select(Assignment).where(Assignment.policy == policy, Assignment.role == role))
        if row is not None:
            session.delete(row)


def list_assignments(store: Store) -> list[dict]:
    """Every assignment, by policy then role."""
    with store.session() as session:
        rows = session.scalars(select(Assignment).order_by(Assignment.policy, Assignment.role)).all()
        return [{"policy": r.policy, "role": r.role, "due": r.due, "sign": r.sign, "quiz": r.quiz,
                 "section": r.section} for r in rows]


def _person_todo(session, index, staff: Staff, assignments: list[Assignment], today: date) -> list[dict]:
    out = []
    mine = [a for a in assignments if a.role in (staff.role, EVERYONE)]
    # A role-specific assignment overrides an 'all' one for the same policy.
    chosen: dict[str, Assignment] = {}
    for a in sorted(mine, key=lambda a: a.role != EVERYONE):
        chosen[a.policy] = a
    signoffs = session.scalars(select(SignOff).where(SignOff.staff_id == staff.id)).all()
    attempts = session.scalars(select(Attempt).where(Attempt.staff_id == staff.id,
                                                     Attempt.status == "completed")).all()
    for policy, a in sorted(chosen.items()):
        text = signed_text(index, policy, a.section) if index is not None else None
        title = str((index.policies.get(policy) or {}).get("title") or policy) if index is not None else policy
        mine_signed = [s for s in signoffs if s.policy == policy and text and s.document == text.document[:200]]
        signed = bool(text) and any(s.policy_version == text.version[:80] for s in mine_signed)
        passed = any(t.passed for t in attempts if t.policy == policy and not t.refresher)
        done = (signed or not a.sign) and (passed or not a.quiz)
        out.append({
            "policy": policy, "title": title, "document": text.document if text else title,
            "due": a.due, "sign": a.sign, "quiz": a.quiz, "signed": signed,
            "resign": a.sign and not signed and bool(mine_signed), "passed": passed, "done": done,
            "overdue": bool(a.due and a.due < today and not done),
            "missing": ", ".join(m for m, need in (("signature", a.sign and not signed),
                                                   ("quiz pass", a.quiz and not passed)) if need),
        })
    return out


def todo_for(store: Store, index, sender_id: str, today: date | None = None) -> list[dict]:
    """The signed-in person's assigned policies: what to sign and pass, by when, and what is done."""
    today = today or date.today()
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == sender_id))
        if staff is None:
            return []
        assignments = session.scalars(select(Assignment)).all()
        items = _person_todo(session, index, staff, assignments, today)
    for item in items:
        refresher = refresher_for(store, index, sender_id, item["policy"]) if item["sign"] else None
        # with no refresher question to take, naming the changed clauses only helps until the person re-signs
        no_quiz = refresher and not (refresher["ready"] or refresher["waiting"])
        item["refresher"] = None if no_quiz and item["signed"] else refresher
    return items


def sign(store: Store, index, user: dict, policy: str, typed_name: str, *, agreed: bool) -> dict:
    """Record a read-and-sign of the assigned text (or the whole policy) with name, role, date and text version."""
    if not agreed:
        raise ValueError("Tick the box to confirm you have read the policy and agree to follow it.")
    if normalise_name(typed_name) != normalise_name(user.get("name") or ""):
        raise ValueError("Type your full name exactly as it appears above.")
    section = next((a["section"] for a in list_assignments(store) if a["policy"] == policy
                    and a["role"] in (user.get("role"), EVERYONE)), None)
    text = signed_text(index, policy, section)
    if text is None:
        raise ValueError("That policy is not available to sign.")
    return reports.record_signoff(store, user["sender_id"], policy=policy, document=text.document,
                                  policy_version=text.version, signed_name=typed_name, role=user.get("role"))


def completion_by_policy(store: Store, index, today: date | None = None) -> tuple[list[dict], list[dict]]:
    """(per-policy completion, overdue people) over everyone on the roster with an assignment."""
    today = today or date.today()
    with store.session() as session:
        people = session.scalars(select(Staff).where(Staff.on_roster.is_(True)).order_by(Staff.name)).all()
        assignments = session.scalars(select(Assignment)).all()
        per_policy: dict[str, dict] = {}
        overdue: list[dict] = []
        for person in people:
            for item in _person_todo(session, index, person, assignments, today):
                row = per_policy.setdefault(item["policy"], {"Policy": item["title"], "Assigned": 0, "Signed": 0,
                                                             "Passed": 0, "Complete": 0, "Overdue": 0})
                row["Assigned"] += 1
                row["Signed"] += int(item["signed"])
                row["Passed"] += int(item["passed"])
                row["Complete"] += int(item["done"])
                row["Overdue"] += int(item["overdue"])
                if item["overdue"]:
                    overdue.append({"Name": person.name, "Email": person.email, "Role": person.role,
                                    "Policy": item["title"], "Due": item["due"].strftime("%d/%m/%Y"),
                                    "Still to do": item["missing"]})
        return list(per_policy.values()), overdue


def _newest_version_at(session, policy: str):
    return session.scalar(select(PolicyVersion.uploaded_at).where(PolicyVersion.policy == policy)
                          .order_by(PolicyVersion.uploaded_at.desc()).limit(1))


def changed_since_signed(store: Store, sender_id: str, policy: str) -> set[str] | None:
    """Clause ids added or changed by the policy versions uploaded after the person last signed an earlier version.

    None: never signed. The signature that counts is the last one made before the newest version, so the set stays
    the same after the person signs the new version: that is when they take the refresher on just these clauses,
    so nobody re-takes the whole quiz for one edited rule.
    """
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == sender_id))
        if staff is None:
            return None
        mine = select(SignOff.signed_at).where(SignOff.staff_id == staff.id, SignOff.policy == policy)
        if session.scalar(mine.limit(1)) is None:
            return None
        newest = _newest_version_at(session, policy)
        if newest is None:
            return set()
        last = session.scalar(mine.where(SignOff.signed_at < newest).order_by(SignOff.signed_at.desc()).limit(1))
        if last is None:  # first signed the newest version: nothing changed for this person
            return set()
        versions = session.scalars(select(PolicyVersion).where(PolicyVersion.policy == policy,
                                                               PolicyVersion.uploaded_at > last)).all()
        changed: set[str] = set()
        for version in versions:
            changes = json.loads(version.changes or "{}")
            changed.update(changes.get("added", []) + changes.get("changed", []))
        return changed


def refresher_for(store: Store, index, sender_id: str, policy: str) -> dict | None:
    """The refresher this person is offered on a policy's changed clauses, or None.

    {"clauses": changed ids, "ready": approved scenarios for the person's role citing them, "waiting": drafted
    ones the coordinator has not approved yet}. Offered until the person completes a passed quiz of that policy
    started after the newest version.
    """
    changed = changed_since_signed(store, sender_id, policy)
    if not changed:
        return None
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == sender_id))
        newest = _newest_version_at(session, policy)
        done = session.scalar(select(Attempt.id).where(Attempt.staff_id == staff.id, Attempt.policy == policy,
                                                       Attempt.passed.is_(True), Attempt.started_at > newest))
        role = staff.role
    if done is not None:
        return None

    ready = waiting = 0
    found = banks.current(store, policy)
    if found is not None:
        texts = {c.clause: c.text for c in index.policy_clauses(policy)} if index is not None else None
        bank = parse_bank(banks.dump(found[1]), texts, name=policy, flag_missing=True)
        for scenario in bank.scenarios:
            if set(scenario.clauses) & changed and scenario.applies_to(role):
                ready += scenario.status == "approved"
                waiting += scenario.status == "draft"
    return {"clauses": sorted(changed, key=_clause_order), "ready": ready, "waiting": waiting}


def _clause_order(clause_id: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in clause_id.split("."))


def draft_refresher(store: Store, index, policy: str, changed: set[str], *, by: str | None = None,
                    quizzes_dir=None) -> list[str]:
    """Draft scenarios for the changed clauses no live scenario cites yet; saved as drafts (never served unapproved).

    Called when a new version of a policy is uploaded. Returns the ids of the drafted scenarios (none when every
    changed clause is already covered, or the changed clauses hold no rule sentences).
    """
    clauses = index.policy_clauses(policy)
    texts = {c.clause: c.text for c in clauses}
    if quizzes_dir is not None:
        banks.seed_from_files(store, quizzes_dir)
    found = banks.current(store, policy)
    data = found[1] if found else {"policy": policy, "title": f"{policy_title(index, policy)} — scenario quiz",
                                   "scenarios": []}
    covered: set[str] = set()
    if found:
        bank = parse_bank(banks.dump(data), texts, name=policy, flag_missing=True)
        covered = {c for s in bank.scenarios if s.status in ("approved", "draft") for c in s.clauses}
    todo = {c for c in changed if c in texts} - covered
    if not todo:
        return []
    try:
        drafted = draft_bank(policy, policy_title(index, policy), clauses, only=todo)["scenarios"]
    except NoRulesError:
        return []
    ids = {s.get("id") for s in data.get("scenarios", [])}
    for scenario in drafted:
        base, n = scenario["id"].replace("draft-", "refresher-", 1), 1
        scenario["id"] = base
        while scenario["id"] in ids:
            n += 1
            scenario["id"] = f"{base}-{n}"
        ids.add(scenario["id"])
    data = {**data, "scenarios": list(data.get("scenarios", [])) + drafted}
    banks.validate(data, texts)
    banks.save_bank(store, policy, data, by=by, note=f"refresher drafted for changed clauses {', '.join(sorted(todo))}",
                base=found[0] if found else None, quizzes_dir=quizzes_dir)
    return [s["id"] for s in drafted]
