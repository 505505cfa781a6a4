"""Follow-up questions in context, and a choice between policies when a question fits two equally.

"what if they're my nephew?" or "why not?" says nothing on its own; asked after "a pupil sent me a friend
request", it is that question again with a twist. The previous question is kept by the bot (a Rasa slot) and a
follow-up is searched as previous question + follow-up, so retrieval and the highlighted sentence both see the
whole topic. Hand-written because it is the product's own dialogue rule; the search itself is knowledge.search.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.search import Answer, Citation, Searcher, _stem, clean_question, tokens, topic_generic

MAX_CONTEXT_CHARS = 300  # the remembered question is cut to its last words beyond this
POLICY_TIE = 0.03  # two policies' best clauses within this combined score of each other are a tie

_OPENERS = re.compile(r"^\s*(?:and|but|so|or|also|then|what if|what about|how about|even if|even though|why|"
                      r"why not|how come|what else|same for|is that|does that|do they|does it|is it|are they)\b", re.I)
# "this" is left out: "this policy" is how staff name the document in a standalone question
_BACK = re.compile(r"\b(?:it|they|them|their|theirs|that|those|these|he|she|him|her|there)\b", re.I)


# a question word leading a message that names nothing ("how quickly?", "when?", "who?") asks about the last answer
# ... unless it names the document ("who owns this policy?": 1 of the 429 dev questions would have been taken as one)
_DOCUMENT = re.compile(r"\b(?:polic(?:y|ies)|guidance|document)\b", re.I)
_WH = re.compile(r"^\s*(?:who|whom|whose|what|when|where|which|why|how|by when|until when)\b", re.I)


def is_follow_up(text: str, intent: str | None = None) -> bool:
    """Is a message elliptical, i.e. only meaningful after the previous question?

    The NLU's follow_up intent decides; a message classified otherwise still counts when it is a question word
    with nothing of its own ("how quickly?", "when?"), or is short and either opens like a follow-up ("and…",
    "what if…", "why…") or points back ("it", "they", "that") with at most three content words of its own.
    """
    if intent == "follow_up":
        return True
    if _WH.search(text) and not has_topic(text) and not _DOCUMENT.search(text):
        return True
    words = tokens(text)
    if len(words) > 3:
        return False
    return bool(_OPENERS.search(text) or _BACK.search(text))


# words of a message that only points back at the last answer ("why was that wrong?", "explain please")
# and words of degree or time that say nothing without it ("how quickly?", "how soon?")
_EMPTY = {_stem(w) for w in "else long happen happens happened instead then true really exactly wrong right correct "
                            "incorrect answer explain please mean quickly quick soon often fast early late".split()}


def has_topic(text: str) -> bool:
    """Does a message name anything of its own ("and on instagram?") rather than only point back ("why not?")?"""
    return any(t not in topic_generic() and t not in _EMPTY for t in tokens(text))


def in_context(previous: str, text: str) -> str:
    """The question to search: the previous question (its last words if long) followed by the follow-up."""
    previous = clean_question(previous)
    if len(previous) > MAX_CONTEXT_CHARS:
        previous = previous[-MAX_CONTEXT_CHARS:].split(" ", 1)[-1]
    text = clean_question(text)
    joiner = " " if previous.endswith(("?", ".", "!")) else "? "
    return f"{previous}{joiner}{text}"


@dataclass
class Tie:
    """A question two (or more) policies answer about equally well."""

    question: str
    policies: list[tuple[str, str]]  # (policy id, title), best first


def policy_tie(searcher: Searcher, question: str, answer: Answer) -> Tie | None:
    """The policies to offer when the best clauses of two policies score within POLICY_TIE of each other."""
    if not answer.answered or len(searcher.index.policies) < 2:
        return None
    best: dict[str, Citation] = {}
    for cite in searcher.search(question, k=10):
        best.setdefault(cite.policy, cite)
    ranked = sorted(best.values(), key=lambda c: -c.score)
    if len(ranked) < 2:
        return None
    titles = {p: str(m.get("title") or p) for p, m in searcher.index.policies.items()}
    asked = set(tokens(question))
    if any(asked & _title_words(titles[c.policy], titles.values()) for c in ranked):
        return None  # the question names a policy ("the mobile phone policy")
    tied = [c for c in ranked if ranked[0].score - c.score <= POLICY_TIE]
    # "who is responsible for this policy?": a front-matter fact every policy has is a question about one of them
    facts = [c for c in ranked[:2] if _is_detail(searcher, c)]
    if len(tied) < 2 and len(facts) < 2:
        return None
    chosen = tied if len(tied) >= 2 else facts
    return Tie(question, [(c.policy, titles[c.policy]) for c in chosen])


def _title_words(title: str, titles) -> set[str]:
    """Words of one policy's title that no other loaded policy's title has (what names that policy)."""
    others = set()
    for other in titles:
        if other != title:
            others |= set(tokens(other))
    return {t for t in tokens(title) if t not in others and t not in topic_generic()}


def _is_detail(searcher: Searcher, cite: Citation) -> bool:
    clause = searcher.index.find(cite.policy, cite.clause)
    return clause is not None and clause.kind == "detail"


def ask_in_policy(searcher: Searcher, question: str, policy: str) -> Answer:
    """Answer a question from one policy only (after the user picked it); same citations and highlights rules."""
    from knowledge import highlight  # noqa: PLC0415 - highlight imports search; keep import order simple

    if policy not in searcher.index.policies:
        return searcher.ask(question)
    found = [c for c in searcher.search(question, k=15) if c.policy == policy]
    if not found:
        return searcher.ask(question)
    cites: list[Citation] = [found[0]]
    for cite in found[1:searcher.config.max_citations]:
        if found[0].score > 0 and cite.score < searcher.config.relative_cutoff * found[0].score:
            break
        cites.append(cite)
    marks = highlight.highlights(searcher, question, cites)
    return Answer(True, highlight.answer_message(question, cites, marks), cites, highlights=marks)
