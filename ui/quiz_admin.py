"""The quiz editor's operations over the index and the versioned banks (no Streamlit here, so tests call them)."""
from __future__ import annotations

from bot.training import banks
from bot.training.bank import QuizBankError, parse_bank
from bot.training.draft import NoRulesError, draft_bank, policy_title
from bot.training.store import Store
from knowledge.settings import get_settings

ROLE_LABELS = {"all": "Everyone", "teacher": "Teachers", "support_staff": "Support staff",
               "governor": "Governors / management committee", "contractor": "Contractors", "volunteer": "Volunteers"}
STATUS_LABELS = {"draft": "Draft", "approved": "Approved", "retired": "Retired", "flagged": "Needs attention"}


def clause_texts(index, policy: str) -> dict[str, str]:
    """Clause id -> verbatim text for one policy in the index (empty without an index)."""
    return {c.clause: c.text for c in index.policy_clauses(policy)} if index is not None else {}


def draft_into_editor(store: Store, index, policy: str, *, by: str | None) -> tuple[bool, str]:
    """Draft a quiz for an indexed policy and save it as the bank's next version (every scenario a draft)."""
    clauses = index.policy_clauses(policy) if index is not None else []
    if not clauses:
        return False, "That policy isn't in the index yet, so there is nothing to draft from."
    try:
        data = draft_bank(policy, policy_title(index, policy), clauses)
    except NoRulesError as exc:
        return False, f"Nothing drafted: {exc}."
    existing = banks.current(store, policy)
    if existing is not None:
        # Keep what the coordinator already has; add only drafts for clauses no scenario tests yet.
        version, live = existing
        resolved = parse_bank(banks.dump(live), clause_texts(index, policy), flag_missing=True)
        tested = {c for s in resolved.scenarios for c in s.clauses}
        new = [s for s in data["scenarios"] if s["clauses"][0] not in tested
               and s["id"] not in {x.get("id") for x in live["scenarios"]}]
        if not new:
            return False, "Every clause with a rule already has a scenario; nothing new to draft."
        data = {**live, "scenarios": live["scenarios"] + new}
        count = len(new)
    else:
        count = len(data["scenarios"])
    try:
        banks.import_yaml(store, banks.dump(data), clause_texts(index, policy), by=by,
                          quizzes_dir=get_settings().quizzes_dir, note=f"{count} scenarios drafted", policy=policy)
    except QuizBankError as exc:
        return False, f"The drafted quiz could not be saved: {exc}"
    return True, (f"Drafted {count} scenarios from the policy's rules. They are drafts: staff see none of them "
                  f"until you approve them in the Quiz editor.")


def flagged(store: Store, index, policy: str) -> list[tuple[str, str]]:
    """(scenario id, problem) for scenarios whose clauses are no longer in the policy."""
    found = banks.current(store, policy)
    if found is None or index is None:
        return []
    bank = parse_bank(banks.dump(found[1]), clause_texts(index, policy), flag_missing=True)
    return [(s.id, s.problem) for s in bank.scenarios if s.problem]
