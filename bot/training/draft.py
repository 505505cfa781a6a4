"""Draft a scenario bank for any policy from its rule sentences, offline, with templates only.

Lives in bot/ because its output is the bank format that bot.training.bank owns and checks; knowledge/cli.py imports it
only inside the `quiz draft` handler, so knowledge/ has no import-time dependency on bot/.

Hand-written on purpose: there is no maintained library that turns policy rules into multiple-choice
scenarios without a language model, and the project must run with none. Every drafted scenario is marked
`status: draft`, so nothing drafted is served until a coordinator approves it.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

# Modal phrases that make a sentence a rule, longest first so "must not" wins over "must".
_PROHIBIT = [r"must never", r"must not", r"should never", r"should not", r"shall not", r"will never", r"will not",
             r"may not", r"cannot", r"can not", r"(?:is|are) not (?:permitted|allowed) to", r"(?:is|are) forbidden to",
             r"(?:is|are) prohibited from"]
_OBLIGE = [r"(?:is|are) expected to", r"(?:is|are) required to", r"(?:has|have) to", r"must", r"should", r"shall",
           r"will"]
_ONLY = [r"(?:will|may|can|must|should) only", r"may", r"can"]  # "may"/"can" count only with "only" in the sentence
_MODAL = re.compile(r"\b(" + "|".join(_PROHIBIT + _ONLY[:1] + _OBLIGE + _ONLY[1:]) + r")\b", re.I)
_APPROVAL = re.compile(r"\bonly (?:with|after) (?:the )?(?:prior |written |explicit )*(?:approval|agreement|"
                       r"permission|consent|authorisation|authorization)(?: of [^,;:.]+)?", re.I)
_CONDITION = re.compile(r"^((?:if|when|where|before|after|during|while|whilst|once|on|in|except|apart from|outside)\b"
                        r"[^,;]{3,150})[,;]\s+", re.I)
_NEVER = re.compile(r"^(?:never|do not|don't)\b", re.I)
# "where" without a comma usually names a place or position ("in a position where ..."), not a condition.
_EXCEPTION = re.compile(r",\s*where\b|,?\s*\b(?:so that|as soon as|unless|except|other than|apart from|without|if|when|"
                        r"while|whilst|before|after|during|once|whether)\b", re.I)
_NUMBER = re.compile(r"^\s*(?:[A-Z]{0,2}\d+(?:\.\d+)*\.?|\([a-z0-9]+\)|[a-z0-9]\)|[-•*])\s+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
_GOVERNORS = re.compile(r"governor|governing body|management committee|trust board|trustee", re.I)
# Letters, templates and contact lists address someone else (parents) or state facts: no staff rules there.
_NOT_RULES = re.compile(r"\bletters?\b|template|\bcontacts?\b|contact list|definitions?|glossary", re.I)
# A heading that turns the items under it into rules: "IT IS NOT ADVISABLE:-", "Forbidden", "You must not".
_HEADING_RULE = re.compile(r"not advisable|must not|must never|should not|do not|don't|forbidden|not permitted|"
                           r"prohibited|not allowed|never", re.I)
_PERSON = re.compile(r"\b(?:staff|you|i|we|employees?|members?|colleagues?|teachers?|pupils?|students?|governors?|"
                     r"visitors?|volunteers?|users?|anyone|no one|parents?|carers?|contractors?|adults?|practitioners?|"
                     r"person|people|leaders?|headteacher|head teacher)\b", re.I)
_CONNECTIVE = re.compile(r"^(?:however|also|furthermore|in addition|therefore|similarly|equally)\b,?\s*", re.I)
# "will" alone is often plain future tense ("Parents will be told"); it states a rule only for these subjects.
_WILL_SUBJECT = re.compile(r"^(?:i|we|you|staff|all staff|the (?:visit leader|headteacher|head teacher|dsl)|"
                           r"(?:every|each|any) member of staff|members? of staff)\b", re.I)

_SETTINGS = ["During a busy lunch break in the staffroom", "At the end of an INSET day",
             "While you are on playground duty", "On the coach back from a school trip",
             "After the Monday morning briefing", "While you are covering a colleague's lesson",
             "In your first week at the school", "Just before a parents' evening"]
_ACTORS = ["a newly appointed colleague", "a supply teacher", "a teaching assistant", "a volunteer who helps in class",
           "a trainee on placement", "a colleague from the office"]
_GOV_SETTINGS = ["At a meeting of the governing body", "During a governors' visit to the school",
                 "Before a committee meeting", "At governor induction training"]
_GOV_ACTORS = ["a fellow governor", "a newly appointed governor", "the clerk to the governors",
               "a parent governor"]


class NoRulesError(ValueError):
    """The policy has no rule sentences, so there is nothing to draft a quiz from."""


@dataclass(frozen=True)
class Rule:
    """One rule sentence of one clause, split around its modal phrase."""

    clause: str
    section: str
    title: str
    clause_text: str
    sentence: str  # verbatim sentence (whitespace collapsed)
    subject: str  # "Staff members", "You", "Personal mobile phones"
    modal: str  # the sentence's own modal phrase, e.g. "must not"
    action: str  # what follows the modal, without the final full stop
    kind: str  # prohibit | oblige | only
    governors: bool
    condition: str = ""  # a leading "If ..., " / "During ..., " kept out of the subject


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _body(text: str) -> str:
    """Clause text without its leading number or bullet."""
    return _NUMBER.sub("", _clean(text), count=1)


def _second_person(text: str) -> str:
    """'I will keep my phone' -> 'you will keep your phone' (agreement items are written in the first person)."""
    swaps = {"i": "you", "my": "your", "me": "you", "myself": "yourself", "mine": "yours", "i'm": "you're",
             "we": "you", "our": "your", "us": "you"}

    def swap(match: re.Match) -> str:
        return swaps[match.group(0).lower()]

    return re.sub(r"\b(?:I'm|I|my|me|myself|mine|we|our|us)\b", swap, text, flags=re.I)


def _rule_kind(modal: str, sentence: str) -> str | None:
    low = modal.lower()
    if any(re.fullmatch(p, low) for p in _PROHIBIT):
        return "prohibit"
    if " only" in low or _APPROVAL.search(sentence) or re.search(r"\bonly\b", sentence[sentence.lower().find(low):], re.I):
        return "only"
    if low in ("may", "can"):
        return None
    return "oblige"


def find_rules(clauses) -> list[Rule]:
    """Every rule sentence (must / must not / should / will only / not permitted / only with approval...)."""
    rules: list[Rule] = []
    for clause in clauses:
        if getattr(clause, "kind", "clause") == "detail" or _NOT_RULES.search(clause.section):
            continue
        heading = _heading_rule(clause)
        lines = clause.text.split("\n")
        if heading and len(lines) > 1 and lines[0].rstrip().endswith((":", ":-")):
            lines = lines[1:]  # the lead-in the unit repeats ("IT IS NOT ADVISABLE:-"): the heading already says it
        body = _body("\n".join(lines))
        for n, sentence in enumerate(_SENTENCE.split(body)):
            if heading and n == 0 and re.match(r"to\s+[a-z]", sentence, re.I):
                rules.append(_under_heading(clause, sentence, heading))
                continue
            sentence = sentence.strip()
            if len(sentence.split()) < 5 or sentence.endswith(":") or sentence.endswith("?"):
                continue
            rule = _parse(clause, sentence)
            if rule:
                rules.append(rule)
    return rules


def _heading_rule(clause) -> str | None:
    """The modal a clause's own heading imposes on its items ('It Is Not Advisable' -> 'should not'), if any."""
    own = str(getattr(clause, "title", "") or "")
    # Only the heading part of the title / section path, not the clause text.
    path = re.split(r"\s*[—›>]\s*", own) + re.split(r"\s*[—›>]\s*", clause.section)
    for part in path:
        part = re.sub(r",\s*(?:item|paragraph)\s+\d+$", "", part)
        match = _HEADING_RULE.search(part)
        if match:
            return "should not" if "advisable" in match.group(0).lower() or "should" in match.group(0).lower() \
                else "must not"
    return None


def _under_heading(clause, sentence: str, modal: str) -> Rule:
    """An item such as '- To refer to the school ...' under 'IT IS NOT ADVISABLE' read as 'You should not refer ...'."""
    action = re.sub(r"^to\s+", "", sentence, flags=re.I).rstrip(" .;:")
    scope = f"{clause.section} {getattr(clause, 'title', '')}"
    governors = bool(_GOVERNORS.search(scope)) and not re.search(r"\bstaff\b|\bvisitors?\b", clause.section, re.I)
    return Rule(clause.clause, clause.section, getattr(clause, "title", "") or clause.section, _clean(clause.text),
                sentence, "You", modal, action, "prohibit", governors)


def _parse(clause, verbatim: str) -> Rule | None:
    sentence = _CONNECTIVE.sub("", verbatim)
    sentence = sentence[:1].upper() + sentence[1:]
    if _NEVER.match(sentence):  # imperative: "Never take photos of children ..."
        subject, modal, action = "You", "must never" if sentence.lower().startswith("never") else "must not", \
            re.sub(r"^(?:never|do not|don't)\s+", "", sentence, flags=re.I)
    else:
        lead = _CONDITION.match(sentence)
        rest = sentence[lead.end():] if lead else sentence
        match = _MODAL.search(rest)
        if not match:
            return None
        subject, modal, action = rest[:match.start()].strip(" ,:"), match.group(1), rest[match.end():].strip()
        if not subject or len(subject.split()) > 20 or re.search(r"\b(?:may|might|could|can|if)\b", subject, re.I) \
                or re.match(r"(?:this|it|they|that|there|to)\b", subject, re.I):
            return None
        if modal.lower() == "will" and not _WILL_SUBJECT.match(subject):
            return None
        if modal.lower() in ("cannot", "can not") and not _PERSON.search(subject):
            return None  # "The school cannot control what is on the Internet" states a limit, not a rule
    action = action.rstrip(" .;:")
    if len(action.split()) < 3:
        return None
    kind = _rule_kind(modal, sentence)
    if kind is None:
        return None
    # Governor-only when the rule binds governors and not staff in general ("Staff, Management Committee and
    # Visitor ... Agreement" binds everyone).
    scope = f"{clause.section} {subject}"
    governors = bool(_GOVERNORS.search(scope)) and not re.search(r"\bstaff\b|\bvisitors?\b", scope, re.I)
    if subject.lower() in ("i", "we"):
        subject, action = "You", _second_person(action)
    condition = lead.group(1) if not _NEVER.match(sentence) and lead else ""
    return Rule(clause.clause, clause.section, getattr(clause, "title", "") or clause.section, _clean(clause.text),
                verbatim, subject[0].upper() + subject[1:], modal.lower(), action, kind, governors,
                condition[:1].lower() + condition[1:])


def _head(action: str) -> str:
    """The action before its first qualifier ("..., unless ..."), for the question and over-strict misreadings."""
    listed = re.match(r"(.{3,}?):\s*\(?[a-z1-9]\)\s*([^;]+)", action)
    if listed:  # "be used to: (a) take photos; (b) ..." -> "be used to take photos"
        action = f"{listed.group(1)} {listed.group(2)}"
    action = re.split(r"\s*[:;]\s*|,?\s+(?:and\s+)?(?:you\s+|I\s+)?(?:must|should|will)\s+", action)[0]
    match = _EXCEPTION.search(action)
    head = action[:match.start()] if match and match.start() > 15 else action
    return re.sub(r"\s+(?:and|or)(?:\s+(?:must|should|will))?$", "", head.strip(" ,;"))


def _without_only(text: str) -> str:
    """The action with its limits removed: 'use X only during breaks' -> 'use X' (the over-lax misreading)."""
    before = re.split(r"\s*,?\s*\bonly\b", text, maxsplit=1, flags=re.I)[0]
    if len(before.split()) >= 3:
        return before.strip(" ,")
    text = _APPROVAL.sub("", text)
    return re.sub(r"\s+", " ", re.sub(r"\bonly\b", "", text, flags=re.I)).strip(" ,")


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    return text if (len(first) > 1 and first.isupper()) or first == "I" else text[:1].lower() + text[1:]


def _subject_obj(rule: Rule) -> str:
    return "you" if rule.subject == "You" else _lower_first(rule.subject)


def _pick(items: list[str], key: str, salt: str) -> str:
    digest = int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest(), 16)
    return items[digest % len(items)]


def _quote(rule: Rule) -> str:
    """The clause verbatim (whitespace collapsed); a very long clause is quoted by its rule sentence."""
    return rule.clause_text if len(rule.clause_text) <= 500 else rule.sentence


def _stem(rule: Rule, policy_title: str) -> str:
    if rule.governors:
        setting, actor = _pick(_GOV_SETTINGS, rule.sentence, "s"), _pick(_GOV_ACTORS, rule.sentence, "a")
    else:
        setting, actor = _pick(_SETTINGS, rule.sentence, "s"), _pick(_ACTORS, rule.sentence, "a")
    who = _subject_obj(rule)
    head = _head(rule.action)
    when = f"{rule.condition}, " if rule.condition else ""
    if rule.kind == "prohibit":
        question = f"whether, {when}it is acceptable for {who} to {head}" if when else \
            f"whether it is acceptable for {who} to {head}"
    elif rule.kind == "only":
        question = f"when, if ever, it is acceptable for {who} to {_without_only(rule.action)}"
    else:
        question = f"whether, {when}it is optional for {who} to {head}" if when else \
            f"whether it is optional for {who} to {head}"
    return f"{setting}, {actor} asks you {question}. Which answer matches the {policy_title}?"


def _possessive(who: str) -> str:
    return who + ("'" if who.endswith("s") else "'s")


def _options(rule: Rule, other: Rule | None) -> list[tuple[str, str, bool, str]]:
    """(variant, text, correct, feedback) for the correct reading and up to four misreadings."""
    subj, act, head = rule.subject, rule.action, _head(rule.action)
    senior = "the chair of governors" if rule.governors else "a senior colleague"
    leader = "the chair of governors" if rule.governors else "a senior leader"
    if rule.condition:  # keep the rule's own "If ..., staff must ..." order in every option
        subj = f"{rule.condition}, {_lower_first(subj)}"
    cite = f"Clause {rule.clause} says: “{_quote(rule)}”"
    out = []
    if rule.kind == "prohibit":
        out.append(("correct", f"No: {_lower_first(subj)} {rule.modal} {act}.", True, f"Right. {cite}"))
        out.append(("negated", f"Yes: {_lower_first(subj)} may {head} if it seems reasonable at the time.", False,
                    f"No: the policy rules this out. {cite}"))
        out.append(("lax", f"Only with {_possessive(senior)} say-so at the time; otherwise {_lower_first(subj)} "
                           f"{rule.modal} {head}.", False,
                    f"That is more lenient than the policy, which makes no such allowance. {cite}"))
        if head != act or re.match(r"(?:except|apart from|outside)\b", rule.condition, re.I):
            # over-strict: the rule without its qualification, including a leading "Except during breaks, ..."
            bare = rule.subject if re.match(r"(?:except|apart from|outside)\b", rule.condition, re.I) else subj
            out.append(("strict", f"No, never: {_lower_first(bare)} {rule.modal} {head}, whatever the circumstances.",
                        False, f"That is stricter than the policy: the rule has a qualification. {cite}"))
    elif rule.kind == "only":
        free = _without_only(act)
        out.append(("correct", f"Only as the policy sets out: {_lower_first(subj)} {rule.modal} {act}.", True,
                    f"Right. {cite}"))
        out.append(("negated", f"At any time: {_lower_first(subj)} may {free}.", False,
                    f"No: the policy allows this only in the circumstances it names. {cite}"))
        out.append(("strict", f"Never: {_lower_first(subj)} must not {free}, in any circumstances.",
                    False, f"That is stricter than the policy, which allows it in the circumstances it names. {cite}"))
        out.append(("lax", f"Whenever it helps: the limits here are only advice, so {_lower_first(subj)} may "
                           f"{free} as they see fit.", False,
                    f"That is more lenient than the policy: its limits are rules, not advice. {cite}"))
    else:
        out.append(("correct", f"It is required: {_lower_first(subj)} {rule.modal} {act}.", True, f"Right. {cite}"))
        out.append(("negated", f"It is optional: {_lower_first(subj)} need not {head}.", False,
                    f"No: this is a requirement, not a preference. {cite}"))
        out.append(("lax", f"Only when asked: {_lower_first(subj)} need only {head} if {leader} asks.", False,
                    f"That is more lenient than the policy, which does not wait to be asked. {cite}"))
        out.append(("strict", f"It is required, and more: {_lower_first(subj)} {rule.modal} {head}, with {_possessive(leader)} "
                              f"written approval each time.", False,
                    f"That is stricter than the policy, which asks for no extra approval. {cite}"))
    if other is not None and len(out) < 4:
        other_text = f"{other.subject} {other.modal} {_head(other.action)}"
        out.append(("other", f"This is not covered; the nearest rule is that {_lower_first(other_text)}.",
                    False, f"That is a different rule (clause {other.clause}). This situation is covered by "
                           f"clause {rule.clause}: “{_quote(rule)}”"))
    return out


def _choose(options: list[tuple[str, str, bool, str]]) -> list[tuple[str, str, bool, str]]:
    """The correct option and three misreadings, chosen so the correct one is neither the longest nor the shortest.

    Where no choice manages that, prefer one where it is not the longest (the giveaway test-takers exploit).
    """
    correct, wrong = options[0], options[1:]
    if len(wrong) <= 3:
        return [correct, *wrong]
    best = None
    size = len(correct[1])
    for skip in range(len(wrong)):
        chosen = [w for n, w in enumerate(wrong) if n != skip]
        lengths = [len(w[1]) for w in chosen]
        score = (size > max(lengths), size < min(lengths), max(lengths) - min(lengths))
        if best is None or score < best[0]:
            best = (score, chosen)
    return [correct, *best[1]]


def _overlap(one: Rule, two: Rule) -> float:
    """Word overlap of two rules' actions, so a 'different rule' distractor is not the same rule reworded."""
    a, b = (set(re.findall(r"[a-z]{3,}", r.action.lower())) for r in (one, two))
    return len(a & b) / len(a | b) if a | b else 0.0


def _scenario_id(policy: str, rule: Rule, n: int) -> str:
    return f"draft-{policy}-{rule.clause}".lower().replace(" ", "-") + (f"-{n}" if n > 1 else "")


def draft_bank(policy: str, title: str, clauses, *, per_clause: int = 1, only: set[str] | None = None) -> dict:
    """A bank (the data/quizzes/ format, every scenario `status: draft`) from a policy's rule sentences.

    With `only` (clause ids), scenarios are drafted for those clauses alone (a refresher on what a new version
    changed); the other clauses still supply the "another clause's rule" distractors.
    """
    rules = find_rules(clauses)
    if only is not None:
        if not any(r.clause in only for r in rules):
            raise NoRulesError(f"the clauses {', '.join(sorted(only))} of {policy} have no rule sentences, so no "
                               f"refresher can be drafted from them")
    if not rules:
        raise NoRulesError(f"{policy} has no rule sentences (must / must not / should / will only / not permitted "
                           f"/ only with approval), so no quiz can be drafted from it")
    by_clause: dict[str, list[Rule]] = {}
    seen: set[str] = set()
    for rule in rules:
        said = re.sub(r"\W+", " ", rule.sentence.lower()).strip()
        if said in seen:  # the same sentence repeated in another clause would draft the same scenario twice
            continue
        seen.add(said)
        by_clause.setdefault(rule.clause, []).append(rule)
    scenarios = []
    for clause_id, clause_rules in by_clause.items():
        if only is not None and clause_id not in only:
            continue
        for n, rule in enumerate(clause_rules[:per_clause], 1):
            others = [r for r in rules if r.clause != rule.clause and _overlap(r, rule) < 0.3]
            others = [r for r in others if r.kind == rule.kind] or others
            other = _pick(others, rule.sentence, "o") if others else None
            chosen = _choose(_options(rule, other))
            # Shuffle deterministically so the correct answer is not always "a" in the file.
            chosen.sort(key=lambda o: hashlib.sha256(f"{rule.sentence}:{o[1]}".encode()).hexdigest())
            scenarios.append({
                "id": _scenario_id(policy, rule, n),
                "status": "draft",
                "roles": ["governor"] if rule.governors else ["all"],
                "section": rule.section,
                "prompt": _stem(rule, title),
                "clauses": [clause_id],
                "rule": rule.sentence,
                "options": [{"id": "abcd"[i], "text": text, "correct": ok, "feedback": feedback, "misreading": variant}
                            for i, (variant, text, ok, feedback) in enumerate(chosen)],
            })
    return {"policy": policy, "version": 1, "title": f"{title} — drafted scenario quiz", "draft": True,
            "scenarios": scenarios}


def policy_title(index, policy: str) -> str:
    """The policy's human title from the index metadata, falling back to its id."""
    meta = (getattr(index, "policies", {}) or {}).get(policy) or {}
    return str(meta.get("title") or policy.replace("-", " ").title())


def write_draft(index, policy: str, out: Path) -> dict:
    """Draft a bank for one indexed policy, check it with the bank loader, and write it as YAML to `out`."""
    from bot.training.bank import load_bank  # noqa: PLC0415

    clauses = index.policy_clauses(policy)
    if not clauses:
        known = ", ".join(sorted(index.policies)) or "none"
        raise KeyError(f"no policy '{policy}' in the index (indexed: {known})")
    bank = draft_bank(policy, policy_title(index, policy), clauses)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(yaml.safe_dump(bank, sort_keys=False, allow_unicode=True, width=110))
    try:
        load_bank(tmp, {c.clause: c.text for c in clauses})
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(out)
    return bank
