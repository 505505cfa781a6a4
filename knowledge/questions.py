"""Questions a clause answers, generated at ingest from the clause's own text (no per-policy data).

A rule ("Staff must not use personal phones in classrooms") answers "can I use personal phones in classrooms?";
a permission ("Pupils may bring phones to school") answers "are pupils allowed to bring phones to school?"; a
contact line ("Designated Safeguarding Lead: Mrs A. Smith") answers "who is the designated safeguarding lead?".
Staff ask in those shapes, and a question is nearer to a question than to the rule it is about. The patterns are
English grammar, not any one document (hand-written because no library turns rules into questions offline).
"""
from __future__ import annotations

import re

# Who a rule is about -> how a staff member asking about it says it.
_SUBJECTS = [
    (r"(?:all |school |teaching |support )?(?:staff|members? of staff|employees?|adults|teachers?|colleagues|"
     r"volunteers?|practitioners|workers?|you|we|users?|(?-i:I))", "i"),
    (r"(?:the )?(?:pupils?|students?|children|learners)", "pupils"),
    (r"(?:the )?(?:parents?|carers?|parents and carers|visitors?|contractors?)", "{subject}"),
]
_MODAL = (r"(?P<modal>must not|must never|should not|should never|shall not|may not|cannot|can not|can't|"
          r"are not (?:allowed|permitted) to|is not (?:allowed|permitted) to|are not to|must only|may only|can only|"
          r"should only|must|should|shall|may|can|are (?:allowed|permitted|expected|required) to|"
          r"is (?:allowed|permitted|expected|required) to|need to|needs to|have to|has to|"
          r"(?:have|has) (?:a|the) (?:duty|responsibility|obligation) to|are responsible for|is responsible for|"
          r"will not|will)")
# Words set off between the modal and its verb ("must, therefore, demonstrate", "must therefore for example avoid")
_FILLER = (r"(?:,?\s*(?:therefore|also|however|thus|for example|for instance|at all times|in particular|always|never|"
           r"ever|only|not|be able to)\b\s*,?)*")
_RULE = re.compile(
    r"\b(?P<subject>" + "|".join(p for p, _ in _SUBJECTS) + r")\b(?:\s+\w+){0,3}?\s+" + _MODAL
    + _FILLER + r"\s+(?P<vp>[a-z][^.;:!?]{4,140})",
    re.IGNORECASE,
)
_PASSIVE = re.compile(
    r"(?:^|[.;:]\s+)(?P<np>[A-Za-z][^.;:]{4,90}?)\s+(?:is|are)\s+(?P<neg>not\s+)?"
    r"(?P<verb>permitted|allowed|prohibited|forbidden|banned|acceptable|unacceptable)\b",
)
_CONTACT_KEY = re.compile(r"^(?P<key>[A-Z][\w '/&()-]{2,60}?)\s*[:\u2013\u2014-]\s+\S")
_CONTACT_WORDS = re.compile(r"\b(lead|officer|designated|dsl|head|manager|coordinator|co-ordinator|governor|contact|"
                            r"deputy|named|responsible|controller|dpo)\b", re.IGNORECASE)
_PHONE = re.compile(r"\b0\d{3,4}[ -]?\d{3}[ -]?\d{3,4}\b")
# a contact line names someone: an e-mail address, a phone number, a title, or a capitalised first and last name
_CONTACT_DETAIL = re.compile(r"@|\b0\d{3,4}[ -]?\d{3}[ -]?\d{3,4}\b|\b(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+[A-Z]|"
                             r"\b[A-Z][a-z]+[ -][A-Z][a-z'\u2019-]+\b")
_OWN = {"their": "my", "they": "i", "them": "me", "themselves": "myself", "your": "my", "yourself": "myself",
        "our": "my", "ourselves": "myself"}
_NEGATIVE = re.compile(r"not|never|can't|cannot")
# "must avoid using ..." / "should refrain from posting ...": a prohibition phrased as a duty; staff ask whether the
# thing itself is allowed ("is using offensive language allowed")
_AVOID = re.compile(r"(?:avoid|refrain from)\s+(?P<act>\w+ing\b.*)")
# a passive "X is (not) permitted" whose X is itself a clause ("this code helps staff to understand what ... is") is
# not a thing staff ask about
_CLAUSE_WORDS = re.compile(r"\b(is|are|was|were|has|have|helps?|what|which|that|who)\b")


def _tidy(vp: str, subject: str) -> str:
    words = re.sub(r"\s+", " ", vp).strip(" ,-").split(" ")
    if subject == "i":
        words = [_OWN.get(w.lower(), w) for w in words]
    # stop at a trailing clause that starts a new idea ("..., unless", "... and must")
    text = " ".join(words[:24])
    text = re.split(r",\s*(?:unless|except|and|but|as|which|so|because)\b|\s+(?:unless|except where)\b", text)[0]
    return text.strip(" ,").lower()


def _subject_word(subject: str) -> str:
    s = subject.lower()
    for pattern, word in _SUBJECTS:
        if re.fullmatch(pattern, s, re.IGNORECASE):
            return word.format(subject=re.sub(r"^the ", "", s))
    return "i"


def rule_questions(text: str, limit: int = 4) -> list[str]:
    """Questions staff ask that a rule's sentences answer ("can I ...", "do pupils have to ...")."""
    out: list[str] = []
    for m in _RULE.finditer(text):
        who = _subject_word(m.group("subject"))
        vp = _tidy(m.group("vp"), who)
        if len(vp.split()) < 2 or re.match(r"(be (aware|conscious|mindful)|ensure|note)\b", vp):
            continue
        modal = m.group("modal").lower()
        be = "am" if who == "i" else "are"
        avoid = _AVOID.match(vp)
        if avoid and not _NEGATIVE.search(modal):
            out.append(f"is {avoid.group('act')} allowed")
            out.append(f"should {who} avoid {avoid.group('act')}")
        elif "responsible" in modal:
            out.append(f"{be} {who} responsible for {vp}")
            out.append(f"who is responsible for {vp}")
        elif _NEGATIVE.search(modal) or modal.startswith(("may", "can")) or "allowed" in modal or "permitted" in modal:
            out.append(f"can {who} {vp}")
            out.append(f"{be} {who} allowed to {vp}")
        else:
            do = "do" if who in ("i", "pupils") or who.endswith("s") else "does"
            out.append(f"{do} {who} have to {vp}")
            out.append(f"what should {who} do about {vp}" if vp.split()[0] in ("report", "tell", "inform")
                       else f"should {who} {vp}")
    for m in _PASSIVE.finditer(text):
        np_ = re.sub(r"^(?:the|any|all)\s+", "", m.group("np").strip(), flags=re.I).lower()
        if len(np_.split()) < 2 or len(np_.split()) > 12 or _CLAUSE_WORDS.search(np_):
            continue
        out.append(f"is {np_} allowed")
    return list(dict.fromkeys(out))[:limit]


def contact_questions(text: str) -> list[str]:
    """Questions a contact line answers ("who is the designated safeguarding lead", "who do I contact about ...")."""
    m = _CONTACT_KEY.match(text.strip())
    if not m or not _CONTACT_WORDS.search(m.group("key")) or not _CONTACT_DETAIL.search(text):
        return []
    role = m.group("key").strip().lower()
    out = [f"who is the {role}", f"how do i contact the {role}"]
    if _PHONE.search(text):
        out.append(f"what is the phone number for the {role}")
    if "@" in text:
        out.append(f"what is the email address of the {role}")
    return out


_APPROVAL = re.compile(r"\b(?:with(?:out)? (?:the )?(?:prior |written |express )?(?:approval|permission|consent|"
                       r"authori[sz]ation|agreement)|(?:approved|authori[sz]ed|agreed|signed off|sanctioned) by|"
                       r"(?:seek|get|obtain|ask for|need) (?:the )?(?:prior |written )?(?:approval|permission|consent))\b",
                       re.IGNORECASE)


def approval_questions(text: str) -> list[str]:
    """Questions a rule that needs someone's approval answers; staff ask "who signs it off?" rather than name it."""
    if not _APPROVAL.search(text):
        return []
    return ["who has to approve it", "who needs to sign it off", "do i need permission first"]


# A rule with no subject of its own: a list item under a lead-in that names who it is for ("All practitioners:" /
# "avoid putting themselves into compromising situations") or an imperative ("Never take photos of children", "Please
# switch your phone to silent"). Staff policies address staff, so it is read as a rule for "staff".
_SUBJECTLESS = re.compile(r"^(?:please\s+)?(?P<neg>never\s+|always\s+|do not\s+|don't\s+)?"
                          r"(?P<rest>[a-z][a-z'-]+\s[^.;:!?]{3,160})")
_LEAD = re.compile(r"(?:please|never|always|do not|don't)\b", re.IGNORECASE)
_BE_START = re.compile(r"^(?:are|is)\b")  # "are responsible for ..." has its own modal; "are aware" none
# first words that start a description, a heading or a noun phrase, not an instruction
_NOT_A_VERB = re.compile(r"^(?:the|a|an|this|that|these|those|it|its|there|their|our|my|your|all|any|some|each|every|"
                         r"no|one|if|when|where|while|as|in|on|at|for|of|to|by|with|from|and|or|but|so|such|which|who|"
                         r"what|how|why|e\.g|i\.e|etc|see|page|appendix|section|part|date|name|tel|email)\b", re.I)


def subjectless_questions(body: str) -> list[str]:
    """Questions a rule with no subject answers (a list item under a lead-in, an imperative), read as a rule for staff;
    none when the body does not start with an instruction."""
    text = body.strip()
    m = _SUBJECTLESS.match(text[:1].lower() + text[1:]) if text else None
    if not m or _NOT_A_VERB.match(m.group("rest")) or re.match(r"\w*[A-Z]", text[m.start("rest"):]):
        return []  # "iPads are ...", "E Safety": a name, not a verb
    lead = _LEAD.match(text)  # whole words: "Nevertheless ..." is not "never", "Do notify ..." not "do not"
    if text[0].isupper() and not lead:
        return []  # a capitalised first word starts an instruction only after 'please', 'never', 'always', 'do not'
    rest, neg = m.group("rest"), (m.group("neg") or "").strip().lower()
    if _BE_START.match(rest):
        return rule_questions(f"Staff {rest}")
    modals = {"never": "must never", "always": "must always", "do not": "must not", "don't": "must not"}
    modal = modals.get(neg, "should")
    return rule_questions(f"Staff {modal} {rest}")


def generated_questions(body: str) -> list[str]:
    """Every generated question for one clause body."""
    rules = rule_questions(body) or subjectless_questions(body)
    return list(dict.fromkeys(rules + contact_questions(body) + approval_questions(body)))
