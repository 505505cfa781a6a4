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
     r"volunteers?|practitioners|workers?|you|we|users?)", "i"),
    (r"(?:the )?(?:pupils?|students?|children|learners)", "pupils"),
    (r"(?:the )?(?:parents?|carers?|parents and carers|visitors?|contractors?)", "{subject}"),
]
_MODAL = (r"(?P<modal>must not|must never|should not|should never|shall not|may not|cannot|can not|can't|"
          r"are not (?:allowed|permitted) to|is not (?:allowed|permitted) to|are not to|must only|may only|can only|"
          r"should only|must|should|shall|may|can|are (?:allowed|permitted|expected|required) to|"
          r"is (?:allowed|permitted|expected|required) to|need to|needs to|have to|has to|will not|will)")
_RULE = re.compile(
    r"\b(?P<subject>" + "|".join(p for p, _ in _SUBJECTS) + r")\b(?:\s+\w+){0,3}?\s+" + _MODAL
    + r"\s+(?:(?:always|never|ever|also|only|not|be able to)\s+)*(?P<vp>[a-z][^.;:!?]{4,140})",
    re.IGNORECASE,
)
_PASSIVE = re.compile(
    r"(?:^|[.;:]\s+)(?P<np>[A-Za-z][^.;:]{4,90}?)\s+(?:is|are)\s+(?P<neg>not\s+)?"
    r"(?P<verb>permitted|allowed|prohibited|forbidden|banned|acceptable|unacceptable)\b",
)
_CONTACT_KEY = re.compile(r"^(?P<key>[A-Z][\w '/&()-]{2,60}?)\s*[:\u2013\u2014-]\s+\S")
_CONTACT_WORDS = re.compile(r"\b(lead|officer|designated|dsl|head|manager|coordinator|co-ordinator|governor|contact|"
                            r"deputy|named|responsible|controller|dpo)\b", re.IGNORECASE)
_CONTACT_DETAIL = re.compile(r"@|\b0\d{3,4}[ -]?\d{3}[ -]?\d{3,4}\b|\b(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+[A-Z]")
_OWN = {"their": "my", "they": "i", "them": "me", "themselves": "myself", "your": "my", "yourself": "myself",
        "our": "my", "ourselves": "myself"}
_NEGATIVE = re.compile(r"not|never|can't|cannot")


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
        if _NEGATIVE.search(modal) or modal.startswith(("may", "can")) or "allowed" in modal or "permitted" in modal:
            out.append(f"can {who} {vp}")
            out.append(f"{be} {who} allowed to {vp}")
        else:
            do = "do" if who in ("i", "pupils") or who.endswith("s") else "does"
            out.append(f"{do} {who} have to {vp}")
            out.append(f"what should {who} do about {vp}" if vp.split()[0] in ("report", "tell", "inform")
                       else f"should {who} {vp}")
    for m in _PASSIVE.finditer(text):
        np_ = re.sub(r"^(?:the|any|all)\s+", "", m.group("np").strip(), flags=re.I).lower()
        if len(np_.split()) < 2 or len(np_.split()) > 12:
            continue
        out.append(f"is {np_} allowed")
    return list(dict.fromkeys(out))[:limit]


def contact_questions(text: str) -> list[str]:
    """Questions a contact line answers ("who is the designated safeguarding lead", "who do I contact about ...")."""
    m = _CONTACT_KEY.match(text.strip())
    if not m or not _CONTACT_WORDS.search(m.group("key")) or not _CONTACT_DETAIL.search(text):
        return []
    role = m.group("key").strip().lower()
    return [f"who is the {role}", f"how do i contact the {role}"]


_APPROVAL = re.compile(r"\b(?:with(?:out)? (?:the )?(?:prior |written |express )?(?:approval|permission|consent|"
                       r"authori[sz]ation|agreement)|(?:approved|authori[sz]ed|agreed|signed off|sanctioned) by|"
                       r"(?:seek|get|obtain|ask for|need) (?:the )?(?:prior |written )?(?:approval|permission|consent))\b",
                       re.IGNORECASE)


def approval_questions(text: str) -> list[str]:
    """Questions a rule that needs someone's approval answers; staff ask "who signs it off?" rather than name it."""
    if not _APPROVAL.search(text):
        return []
    return ["who has to approve it", "who needs to sign it off", "do i need permission first"]


def generated_questions(body: str) -> list[str]:
    """Every generated question for one clause body."""
    return list(dict.fromkeys(rule_questions(body) + contact_questions(body) + approval_questions(body)))
