"""Answer a question from the index: hybrid dense + keyword search, citations, and out-of-scope refusal."""
from __future__ import annotations

import html
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from knowledge.index import PolicyIndex

STOPWORDS = set(
    """a about above after again against all am an and any are aren't as at be because been before being below
    between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each few
    for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself him
    himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my
    myself no nor not of off on once only or other ought our ours ourselves out over own same shan't she she'd she'll
    she's should shouldn't so some such than that that's the their theirs them themselves then there there's these
    they they'd they'll they're they've this those through to too under until up very was wasn't we we'd we'll we're
    we've were weren't what what's when when's where where's which while who who's whom why why's with won't would
    wouldn't you you'd you'll you're you've your yours yourself yourselves im ive dont cant wont whats ok okay just
    really also get got go going want wanted need like thing things still allowed please hi hey policy say says
    said tell u ur r yeah bit lot""".split()
)


def _stem(word: str) -> str:
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    return word


def tokens(text: str) -> list[str]:
    """Lower-cased, stemmed content words of a text."""
    words = re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())
    return [_stem(w.replace("'", "")) for w in words if w not in STOPWORDS and len(w) > 1]


class Lexicon:
    """Staff wording -> policy wording, loaded from a YAML data file."""

    def __init__(self, mapping: dict[str, str] | None = None):
        self.mapping = {k.lower(): str(v).lower() for k, v in (mapping or {}).items()}

    @classmethod
    def load(cls, path: Path | None) -> "Lexicon":
        """Read a lexicon file; a missing file gives an empty lexicon."""
        if path is None or not Path(path).exists():
            return cls()
        data = yaml.safe_load(Path(path).read_text()) or {}
        return cls({str(k): str(v) for k, v in data.items()})

    def expand(self, text: str) -> str:
        """Return the words the lexicon adds for a text (not including the text)."""
        words = re.findall(r"[a-z0-9'-]+", text.lower())
        extra = [self.mapping[w] for w in words if w in self.mapping]
        return " ".join(extra)


class BM25:
    """Okapi BM25 over clause texts."""

    def __init__(self, docs: list[list[str]], k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self.docs = [Counter(d) for d in docs]
        self.lengths = np.array([len(d) for d in docs], dtype=np.float32)
        self.avg = float(self.lengths.mean()) if len(docs) else 1.0
        df: Counter = Counter()
        for doc in docs:
            df.update(set(doc))
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: list[str], weights: dict[str, float] | None = None) -> np.ndarray:
        """BM25 score of every document for a bag of query terms."""
        out = np.zeros(len(self.docs), dtype=np.float32)
        for term in set(query):
            idf = self.idf.get(term)
            if idf is None:
                continue
            w = (weights or {}).get(term, 1.0)
            for i, doc in enumerate(self.docs):
                tf = doc.get(term)
                if tf:
                    denom = tf + self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avg)
                    out[i] += w * idf * tf * (self.k1 + 1) / denom
        return out


@dataclass
class Citation:
    """One cited clause, verbatim."""

    policy: str
    policy_title: str
    clause: str
    section: str
    title: str
    text: str
    score: float

    def to_dict(self) -> dict:
        """The citation as the JSON the CLI and the bot send."""
        return {
            "policy": self.policy,
            "policy_title": self.policy_title,
            "clause": self.clause,
            "section": self.section,
            "title": self.title,
            "text": self.text,
            "score": round(float(self.score), 4),
        }


@dataclass
class Answer:
    """The result of asking a question."""

    answered: bool
    message: str
    citations: list[Citation] = field(default_factory=list)
    reason: str = "ok"  # ok | out_of_scope | empty | too_long | not_english | no_index
    contacts: list[Citation] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The answer as the JSON object `policy-coach ask --json` prints."""
        return {
            "answered": self.answered,
            "message": self.message,
            "citations": [c.to_dict() for c in self.citations],
            "reason": self.reason,
            "contacts": [c.to_dict() for c in self.contacts],
        }


@dataclass
class SearchConfig:
    """Tunable weights; chosen by measurement on data/eval (see README)."""

    top_vectors: int = 64
    keyword_weight: float = 0.25  # weight of the normalised BM25 score added to the dense score
    expansion_weight: float = 0.5  # weight of lexicon-added words in BM25
    min_dense: float = 0.34  # below this best dense similarity the question is off-topic
    min_combined: float = 0.42
    max_citations: int = 3
    relative_cutoff: float = 0.80  # citations after the first must score at least this share of the best


def clean_question(text: str) -> str:
    """Strip markup and control characters from a question; never returns HTML."""
    text = unicodedata.normalize("NFKC", text or "")
    text = re.sub(r"<(script|style)[^>]*>.*?</\1\s*>", " ", text, flags=re.I | re.S)
    text = re.sub(r"<[^>]{0,200}>", " ", text)
    text = html.unescape(text)
    text = "".join(ch for ch in text if ch.isprintable() or ch in "\n\t")
    return re.sub(r"\s+", " ", text).strip()


def _mostly_latin(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return True
    latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    return latin / len(letters) >= 0.6


class Searcher:
    """Answers questions against a loaded PolicyIndex."""

    def __init__(self, index: PolicyIndex, encoder, *, lexicon: Lexicon | None = None,
                 config: SearchConfig | None = None, max_chars: int = 1000):
        self.index = index
        self.encoder = encoder
        self.lexicon = lexicon or Lexicon()
        self.config = config or SearchConfig()
        self.max_chars = max_chars
        docs = []
        for clause in index.clauses:
            head = clause.title if clause.kind != "clause" else clause.section
            docs.append(tokens(f"{head} {clause.text}"))
        self.bm25 = BM25(docs)
        self.links: dict[str, list[tuple[str, str]]] = {}  # normalised question -> [(policy, clause)]

    def set_links(self, links: dict[str, list[tuple[str, str]]]) -> None:
        """Coordinator-confirmed question -> clause links; an exact match is answered with that clause."""
        self.links = {normalise_question(q): v for q, v in links.items()}

    # -- scoring ----------------------------------------------------------
    def _scores(self, question: str) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.index.clauses)
        qvec = self.encoder.encode([question])
        k = min(self.config.top_vectors, self.index.faiss_index.ntotal)
        dense = np.full(n, -1.0, dtype=np.float32)
        if k:
            sims, rows = self.index.faiss_index.search(qvec, k)
            for sim, row in zip(sims[0], rows[0]):
                if row < 0:
                    continue
                owner = int(self.index.owners[row])
                if sim > dense[owner]:
                    dense[owner] = sim
        base = tokens(question)
        extra = tokens(self.lexicon.expand(question))
        weights = {t: self.config.expansion_weight for t in extra if t not in base}
        keyword = self.bm25.scores(base + extra, weights)
        return dense, keyword

    def rank(self, question: str) -> list[tuple[int, float, float, float]]:
        """All clauses as (row, combined, dense, keyword) best first."""
        dense, keyword = self._scores(question)
        top_kw = float(keyword.max()) if len(keyword) else 0.0
        kw_norm = keyword / top_kw if top_kw > 0 else keyword
        combined = dense + self.config.keyword_weight * kw_norm
        order = np.argsort(-combined)
        return [(int(i), float(combined[i]), float(dense[i]), float(keyword[i])) for i in order]

    # -- answering --------------------------------------------------------
    def _citation(self, row: int, score: float) -> Citation:
        clause = self.index.clauses[row]
        meta = self.index.policies.get(clause.policy, {})
        return Citation(clause.policy, meta.get("title", clause.policy), clause.clause, clause.section,
                        clause.title, clause.text, score)

    def contacts(self) -> list[Citation]:
        """Clauses naming who to ask: the policy owner and the policy's contact list."""
        found = []
        for row, clause in enumerate(self.index.clauses):
            if clause.kind == "detail" and re.search(r"responsib|owner|lead", clause.clause):
                found.append(self._citation(row, 0.0))
        return found

    def _refusal(self, reason: str, message: str) -> Answer:
        return Answer(False, message, [], reason, self.contacts() if reason == "out_of_scope" else [])

    def out_of_scope_message(self) -> str:
        """What to say when no loaded policy covers a question, naming who to ask."""
        titles = [m.get("title") for m in self.index.policies.values() if m.get("title")]
        which = " or ".join(f"the {t}" for t in titles[:2]) if titles else "the loaded policies"
        owners = sorted({m["owner"] for m in self.index.policies.values() if m.get("owner")})
        who = f" Please ask {', '.join(owners)} (responsible for the policy)" if owners else " Please ask your line manager"
        return f"I couldn't find anything in {which} that answers this, so I won't guess.{who}."

    def ask(self, question: str) -> Answer:
        """Answer a question with verbatim cited clauses, or refuse clearly."""
        raw = question or ""
        if len(raw) > self.max_chars:
            return self._refusal(
                "too_long",
                f"That message is {len(raw):,} characters long. Please ask in under {self.max_chars:,} characters.",
            )
        text = clean_question(raw)
        if not re.search(r"[^\W_]", text):
            return self._refusal("empty", "Please type a question about the policy, for example: "
                                          "'Can I accept a friend request from a pupil?'")
        if not _mostly_latin(text):
            return self._refusal("not_english", "Sorry, I can only answer questions written in English.")
        linked = self.links.get(normalise_question(text))
        if linked:
            rows = [i for i, c in enumerate(self.index.clauses) if (c.policy, c.clause) in set(map(tuple, linked))]
            if rows:
                cites = [self._citation(r, 1.0) for r in rows]
                return Answer(True, _answer_message(cites), cites)
        ranked = self.rank(text)
        if not ranked:
            return self._refusal("out_of_scope", self.out_of_scope_message())
        best_row, best, best_dense, _ = ranked[0]
        if best_dense < self.config.min_dense or best < self.config.min_combined:
            return self._refusal("out_of_scope", self.out_of_scope_message())
        cites = [self._citation(best_row, best)]
        for row, score, _, _ in ranked[1:]:
            if len(cites) >= self.config.max_citations:
                break
            cites.append(self._citation(row, score))
        return Answer(True, _answer_message(cites), cites)

    def search(self, question: str, k: int = 5) -> list[Citation]:
        """The k best clauses for a question, with no refusal logic (for evaluation and the reader)."""
        return [self._citation(r, s) for r, s, _, _ in self.rank(clean_question(question))[:k]]


def normalise_question(text: str) -> str:
    """The key a question is logged and linked under: lower case, words only."""
    return " ".join(re.findall(r"[a-z0-9]+", clean_question(text).lower()))


def _answer_message(cites: list[Citation]) -> str:
    first = cites[0]
    where = f"clause {first.clause}" if first.title.startswith(first.clause) else first.title
    return f"The {first.policy_title} covers this in {where} ({first.section}):"
