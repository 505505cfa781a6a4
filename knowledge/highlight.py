"""The sentence(s) of a cited clause that answer the question: verbatim spans of the clause text, never generated.

A clause is cut into units: sentences (pysbd, a maintained rule-based splitter that knows "e.g." and "etc.") and
list items ("- ..." lines), each item kept with the lead-in sentence it completes ("Confidential information
includes, but is not limited to:"). Each unit is scored against the question with the searcher's own signals:
the encoder's cosine similarity plus an idf-weighted share of the question's words (with the lexicon's policy
wording) that the unit contains. The answer leads with the best unit of the first citation, and with the best
unit of a later citation only when it scores about as well.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from knowledge.search import Citation, Searcher, strip_policy_name, tokens

LEXICAL_WEIGHT = 0.35  # weight of the word-overlap share added to the cosine similarity
REASON_BONUS = 0.15  # a "why" question prefers the sentence that gives the reason ("This is because…")
SECOND_MARGIN = 0.04  # a later citation is highlighted too when its best unit is within this of the first's
MAX_HIGHLIGHTS = 2  # clauses highlighted per answer
# Bump when units() cuts a clause differently: an index stores each clause's units (PolicyIndex.unit_spans) and
# ignores stored ones of another version until the next ingest re-cuts them.
UNITS_VERSION = "1"

_NUMBER = re.compile(r"^\s*[A-Z]?\d+(?:\.\d+)*\.?\s+")  # the clause's own number, first line only
_BULLET = re.compile(r"^\s*[-•*]\s+")
_WHY = re.compile(r"\b(?:why|how come|what for|reason)\b", re.I)
_REASON = re.compile(r"\b(?:this is (?:to|because|so)|because|so that|in order to|is designed to|to protect|to prevent)\b",
                     re.I)


@dataclass(frozen=True)
class Highlight:
    """A verbatim part of one cited clause."""

    policy: str
    clause: str
    text: str

    def to_dict(self) -> dict:
        """The highlight as the JSON the CLI and the bot send."""
        return {"policy": self.policy, "clause": self.clause, "text": self.text}


@dataclass(frozen=True)
class Unit:
    """One sentence or list item of a clause, as character spans of the clause text."""

    start: int
    end: int
    lead: tuple[int, int] | None = None  # the lead-in sentence a list item completes

    def text(self, clause_text: str) -> str:
        """The unit's own words."""
        return clause_text[self.start:self.end]

    def full(self, clause_text: str) -> str:
        """Lead-in and item together (what is scored and shown)."""
        if self.lead is None:
            return self.text(clause_text)
        return f"{clause_text[self.lead[0]:self.lead[1]]} {self.text(clause_text)}"


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd  # noqa: PLC0415 - built on first use, not at import

    return pysbd.Segmenter(language="en", clean=False)


def _sentences(text: str, offset: int) -> list[tuple[int, int]]:
    """Sentence spans of one line of prose, located in the original text (pysbd keeps the words verbatim)."""
    spans, cursor = [], 0
    for sentence in _segmenter().segment(text):
        piece = sentence.strip()
        if not piece:
            continue
        at = text.find(piece, cursor)
        if at < 0:  # pysbd never rewrites words with clean=False; this guards against a future change
            continue
        spans.append((offset + at, offset + at + len(piece)))
        cursor = at + len(piece)
    return spans


def units(text: str) -> list[Unit]:
    """The sentences and list items of a clause's text, without its leading clause number or bullet."""
    return list(_units(text))


def clause_units(index, text: str) -> list[Unit]:
    """A cited clause's units: stored in the index at ingest when it has them, else cut now (units())."""
    spans = index.unit_spans.get(text) if getattr(index, "units_version", None) == UNITS_VERSION else None
    if spans is None:
        return units(text)
    return [Unit(start, end, (lead_start, lead_end) if lead_start >= 0 else None)
            for start, end, lead_start, lead_end in spans]


@lru_cache(maxsize=4096)
def _units(text: str) -> tuple[Unit, ...]:
    # pysbd takes a few ms a clause (it compiles regexes per abbreviation): cut each clause text once per process
    out: list[Unit] = []
    lead: tuple[int, int] | None = None
    pos = 0
    for n, line in enumerate(text.split("\n")):
        start, end = pos, pos + len(line)
        pos = end + 1
        number = _NUMBER.match(line) if n == 0 else None
        rest = line[number.end():] if number else line
        bullet = _BULLET.match(rest)
        body_start = start + (number.end() if number else 0) + (bullet.end() if bullet else 0)
        while end > body_start and text[end - 1].isspace():
            end -= 1
        if end <= body_start:
            continue
        if bullet and lead is not None:
            out.append(Unit(body_start, end, lead))
            continue
        spans = _sentences(text[body_start:end], body_start)
        out.extend(Unit(s, e) for s, e in spans)
        lead = spans[-1] if spans and text[spans[-1][1] - 1] == ":" else None
    return tuple(out)


class _VectorCache:
    """Embeddings of clause units not stored in the index (one built before they were), computed once per encoder.

    An index built by `ingest` stores every unit's vector (PolicyIndex.unit_vector), so an answer makes no encoder
    call here: computing them per answer was half the encoder calls and most of the p95 of a new question
    (docs/retrieval-eval.md, "Latency and scale").
    """

    def __init__(self, size: int = 4096):
        self.size = size
        self.vectors: dict[tuple[str, str], np.ndarray] = {}
        self.lock = threading.Lock()

    def encode(self, encoder, question: str, texts: list[str], qvec: np.ndarray | None = None,
               index=None) -> tuple[np.ndarray, np.ndarray]:
        """The question's vector (qvec when the searcher already has it) and the texts' stored or cached vectors."""
        name = getattr(encoder, "name", str(id(encoder)))
        stored = {}
        if index is not None and getattr(index, "model", None) == name:
            stored = {t: v for t in dict.fromkeys(texts) if (v := index.unit_vector(t)) is not None}
        with self.lock:
            missing = [t for t in dict.fromkeys(texts) if t not in stored and (name, t) not in self.vectors]
        ask = ([] if qvec is not None else [question]) + missing
        vecs = encoder.encode(ask) if ask else np.zeros((0, 0), dtype=np.float32)
        if qvec is None:
            qvec, vecs = vecs[0], vecs[1:]
        with self.lock:
            if len(self.vectors) + len(missing) > self.size:
                self.vectors.clear()
            for text, vec in zip(missing, vecs):
                self.vectors[(name, text)] = vec
            rows = (np.stack([stored[t] if t in stored else self.vectors[(name, t)] for t in texts]) if texts
                    else np.zeros((0, len(qvec))))
        return qvec, rows


_CACHE = _VectorCache()


def _lexical(searcher: Searcher, terms: dict[str, float], text: str) -> float:
    """Idf-weighted share of the question's terms found in a unit."""
    total = sum(terms.values())
    if not total:
        return 0.0
    present = set(tokens(text))
    return sum(w for t, w in terms.items() if t in present) / total


def score_units(searcher: Searcher, question: str, clause_text: str) -> list[tuple[float, Unit]]:
    """Every unit of one clause with its score for the question, best first."""
    return _score(searcher, question, [clause_text])[0]


def _score(searcher: Searcher, question: str, texts: list[str],
           qvec: np.ndarray | None = None) -> list[list[tuple[float, Unit]]]:
    question = strip_policy_name(question, getattr(searcher, "_titles", []))
    terms = {t: searcher.bm25.idf.get(t, 0.0) for t in tokens(question)}
    for t in tokens(searcher.lexicon.expand(question)):
        terms.setdefault(t, 0.5 * searcher.bm25.idf.get(t, 0.0))
    per_clause = [clause_units(getattr(searcher, "index", None), text) for text in texts]
    flat = [u.full(text) for text, us in zip(texts, per_clause) for u in us]
    qvec, vecs = _CACHE.encode(searcher.encoder, question, flat, qvec, getattr(searcher, "index", None))
    why = bool(_WHY.search(question))
    dense = vecs @ qvec if len(flat) else np.zeros(0)
    out, i = [], 0
    for text, us in zip(texts, per_clause):
        scored = []
        for unit in us:
            full = unit.full(text)
            score = float(dense[i]) + LEXICAL_WEIGHT * _lexical(searcher, terms, full)
            if why and _REASON.search(unit.text(text)):
                score += REASON_BONUS
            scored.append((score, unit))
            i += 1
        scored.sort(key=lambda pair: -pair[0])
        out.append(scored)
    return out


def highlights(searcher: Searcher, question: str, citations: list[Citation], *,
               focus: str | None = None, qvec: np.ndarray | None = None) -> list[Highlight]:
    """The verbatim sentence(s) that answer the question: the first citation's best, and close seconds.

    `focus` is the newest part of a question asked in context (a follow-up such as "what if they're my
    nephew?"): sentences are scored against it as well as the whole question, so the twist decides. `qvec` is
    the question's embedding when the searcher has already computed it.
    """
    if not citations:
        return []
    scored = _score(searcher, question, [c.text for c in citations], qvec)
    if focus:
        merged = []
        for ranked, more in zip(scored, _score(searcher, focus, [c.text for c in citations])):
            bonus = {unit: score for score, unit in more}
            merged.append(sorted(((score + bonus.get(unit, 0.0), unit) for score, unit in ranked),
                                 key=lambda pair: -pair[0]))
        scored = merged
    why = bool(_WHY.search(focus or question))
    out: list[Highlight] = []
    best = scored[0][0][0] if scored[0] else None
    for cite, ranked in zip(citations, scored):
        if not ranked or len({(h.policy, h.clause) for h in out}) >= MAX_HIGHLIGHTS:
            continue
        score, unit = ranked[0]
        if out and (best is None or score < best - SECOND_MARGIN):
            continue
        if unit.lead is not None:
            out.append(Highlight(cite.policy, cite.clause, cite.text[unit.lead[0]:unit.lead[1]]))
        out.append(Highlight(cite.policy, cite.clause, unit.text(cite.text)))
        if why and not _REASON.search(unit.text(cite.text)):
            # "why…?": the rule alone doesn't answer it; add the clause's own reason sentence when it has one
            reason = next((u for _, u in ranked[1:] if _REASON.search(u.text(cite.text))), None)
            if reason is not None:
                out.append(Highlight(cite.policy, cite.clause, reason.text(cite.text)))
    return out


# -- the lead-in line ----------------------------------------------------------------------------------------
_YES_NO = re.compile(r"^\s*(?:so\s+|and\s+|but\s+)?(?:can|could|may|might|should|shall|am|is|are|do|does|must|will|"
                     r"would|have|has)\b|\b(?:allowed|ok|okay|alright|permitted|fine)\s+(?:to|if)\b", re.I)
_PROHIBIT = re.compile(r"\b(?:must not|mustn't|must never|should not|shouldn't|may not|cannot|can not|"
                       r"will not|is not permitted|are not permitted|must (?:decline|refuse|avoid))\b", re.I)
_EXCEPT = re.compile(r"\b(?:unless|except)\b", re.I)
_ONLY_IF = re.compile(r"\b(?:can only|may only|only (?:be \w+ )?(?:with|when|if|where|through)|only do so)\b", re.I)

LEAD_NO = "No."
LEAD_NO_UNLESS = "No, unless the exception it names applies."
LEAD_YES_IF = "Yes, but only on the conditions it sets."


def lead_in(question: str, sentence: str) -> str:
    """A fixed short answer decided from the highlighted sentence's own words; '' when its words don't decide it.

    Only a yes/no question gets one: "No." for a plain prohibition ("must not", "should not"), "No, unless…"
    when the prohibition names an exception ("unless", "except"), "Yes, but only…" for a conditional
    permission ("can only do so with the approval of…"); "must decline" counts as a prohibition. Anything else is left to the quoted words.
    """
    if not _YES_NO.search(question or ""):
        return ""
    if _PROHIBIT.search(sentence):
        return LEAD_NO_UNLESS if _EXCEPT.search(sentence) else LEAD_NO
    if _ONLY_IF.search(sentence):
        return LEAD_YES_IF
    return ""


def clause_name(cite: Citation | dict) -> str:
    """A short name for a clause: "clause 6.3 (Personal Use of Social Media)", "Appendix 3, It Is Not Advisable"."""
    get = cite.get if isinstance(cite, dict) else (lambda k, d="": getattr(cite, k, d))
    clause, section, title = str(get("clause", "")), str(get("section", "")), str(get("title", ""))
    topic = re.sub(r"^\d+(?:\.\d+)*\s+", "", section).strip()
    if title.startswith(clause) and re.match(r"^\d", clause):
        return f"clause {clause} ({_short(topic)})" if topic else f"clause {clause}"
    parts = [p.strip() for p in title.split(" — ") if p.strip()]
    if not parts:
        return clause
    head = parts[0] if parts[0].lower().startswith("appendix") else ""
    tail = parts[-1] if len(parts) > 1 else ""
    tail = re.sub(r",\s*(?:paragraph|item)\s*\d*$", "", tail).strip()
    if head and tail and tail != head:
        return f"{head}, {_short(tail)}"
    if head:
        return head
    return _short(tail or parts[0]).lower() if parts[0].lower() == "document details" else _short(tail or parts[0])


def _short(text: str, limit: int = 48) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:–—- ")
    return cut + "…"


def answer_message(question: str, citations: list[Citation], found: list[Highlight]) -> str:
    """The line that leads an answer: an optional fixed lead-in, then the policy and the clause named briefly."""
    first = citations[0]
    own = " ".join(h.text for h in found if (h.policy, h.clause) == (first.policy, first.clause))
    lead = lead_in(question, own)
    line = f"The {first.policy_title}, {clause_name(first)}, says:"
    others = list(dict.fromkeys(c.policy_title for c in citations if c.policy != first.policy))
    if others:  # a library: two policies really both answer it, each named
        also = next(c for c in citations if c.policy_title == others[0])
        line = f"The {first.policy_title}, {clause_name(first)}, and the {others[0]}, {clause_name(also)}, say:"
    return f"{lead} {line}" if lead else line


# -- measurement -----------------------------------------------------------------------------------------------
def evaluate(searcher: Searcher, rows: list[dict]) -> dict:
    """How often the answer's top highlight is the expected sentence ({"q", "clause", "expect"} rows).

    `top` counts the whole answer (the searcher picks the clause, then its sentence); `given_clause` scores
    the expected clause's sentences alone, so it measures the sentence choice without retrieval errors.
    """
    top = given = 0
    misses = []
    for row in rows:
        answer = searcher.ask(row["q"])
        first = answer.highlights[0] if answer.highlights else None
        shown = " ".join(h.text for h in answer.highlights
                         if first and (h.policy, h.clause) == (first.policy, first.clause))
        ok_top = row["expect"].lower() in shown.lower()
        clause = searcher.index.find(None, row["clause"])
        ranked = score_units(searcher, row["q"], clause.text) if clause else []
        best = ranked[0][1].full(clause.text) if ranked else ""
        ok_given = row["expect"].lower() in best.lower()
        top += ok_top
        given += ok_given
        if not (ok_top and ok_given):
            misses.append({"q": row["q"], "clause": row["clause"], "expect": row["expect"],
                           "top_clause": first.clause if first else None, "shown": shown, "best_in_clause": best})
    n = len(rows) or 1
    return {"n": len(rows), "top": top / n, "given_clause": given / n, "misses": misses}


def main(argv: list[str] | None = None) -> int:
    """`python -m knowledge.highlight FILE.jsonl`: print the highlight accuracy on a question set."""
    import argparse  # noqa: PLC0415
    import json  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from knowledge.service import get_searcher  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m knowledge.highlight")
    parser.add_argument("file")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in Path(args.file).read_text().splitlines() if line.strip()]
    result = evaluate(get_searcher(), rows)
    print(f"{args.file}: {result['n']} questions; top highlight is the expected sentence {result['top']:.1%}; "
          f"best sentence of the expected clause {result['given_clause']:.1%}")
    if args.verbose:
        for miss in result["misses"]:
            print(json.dumps(miss, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
