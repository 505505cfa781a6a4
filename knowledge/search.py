"""Answer a question from the index: hybrid dense + keyword search, citations, and out-of-scope refusal.

How a question is scored against every clause (weights in SearchConfig, chosen on the dev sets only; knowledge/tune.py):
  dense    best cosine similarity between the question and any vector of the clause, found with FAISS (exact flat
           index at school scale, HNSW past 100k vectors): the clause under its heading path, each of its sentences,
           and questions the clause answers (generic front-matter and section questions from data/retrieval, and
           questions generated at ingest from the clause's own rules and contact lines, knowledge/questions.py);
           each part of a compound question ("i think X happened, who do i report it to") is also compared with the
           generic section questions;
  keyword  BM25 (bm25s) over clause text + heading, Snowball-stemmed (PyStemmer), with the domain lexicon
           (data/lexicon.yml) adding policy wording for staff wording; normalised by the best clause;
  policy   with several policies loaded, how much the clause's policy as a whole is about the question (cosine to the
           policy's mean clause vector, and the share of the question's topical words the policy uses), relative to
           the best policy: a question is answered from the policy it is about;
  tokens   with several policies, which of them answers: a late-interaction match (each content word piece of the
           question meets its best piece of the clause in the encoder's token embeddings) among the 30 best clauses,
           each policy's best relative to the best policy's (SearchConfig.token_weight);
  own      own-words evidence: similarity to the clause's own text and best sentence (and of a compound question's
           parts to its section questions), so a clause that says what was asked beats one only reached through a
           generated or shared section question; front-matter details carry a small penalty;
  score    dense + keyword_weight * keyword + own + policy prior (+ tokens).
Out of scope: generic off-topic "anchor" questions (data/retrieval/anchors.yml: pay, leave, timetable, general
knowledge... never a school-policy topic) are embedded once; a question is refused when a logistic decision over
(best anchor similarity, lift, question lift, topic gap) says it is more like the anchors than the policies. Lift
is the best clause's dense similarity less its policy's background (what the anchors reach in that policy); question
lift is the same over that policy's stored questions only (generated at ingest and generic section questions), which
an in-scope question, asked in a question's shape, meets more closely than an off-topic one (the question, or the
best of its parts when it is compound). Topic coverage is the
share of the question's topical words (not everyday school words) that the policy of the best clause uses at all,
directly or through the lexicon: it refuses school-policy questions about another policy's topic ("can pupils use
their phones at break" put to a social media policy). The topic gap is the best coverage by any loaded policy less
the anchors' mean best coverage by the loaded policies: the more policies (and words) a library holds, the more of an
off-topic question's words some policy uses by chance, and the gap removes that, so refusal does not weaken as
policies are added. Its coefficients are data fitted on the dev sets (data/retrieval/oos.yml).
"""
from __future__ import annotations

import bisect
import html
import math
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from knowledge.index import (KIND_QUESTION, KIND_SECTION, KIND_SENTENCE, KIND_TEXT, RETRIEVAL_DIR,
                             PolicyIndex, piece_text)

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
    said tell u ur r yeah bit lot actually even anyway right sure mean meant supposed""".split()
)

# Irregular forms the Snowball stemmer leaves apart from their base word.
_IRREGULAR = {
    "children": "child", "men": "man", "women": "woman", "people": "person", "took": "take", "taken": "take",
    "sent": "send", "made": "make", "told": "tell", "gotten": "get", "wrote": "write", "written": "write",
    "bought": "buy", "brought": "bring", "gave": "give", "given": "give", "saw": "see", "seen": "see",
    "lost": "lose", "stolen": "steal", "stole": "steal", "paid": "pay", "kept": "keep", "found": "find",
    "chose": "choose", "chosen": "choose", "knew": "know", "known": "know", "was": "be", "is": "be",
}
_STEMMERS = threading.local()  # PyStemmer objects must not be shared between threads


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """Snowball (Porter2) English stem of a word, after a few irregular forms; 'phone', 'phones', 'phoned' meet."""
    word = word.lower().replace("'", "")
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        import Stemmer  # noqa: PLC0415

        stemmer = _STEMMERS.english = Stemmer.Stemmer("english")
    return stemmer.stemWord(word)


# Words that say nothing about which policy a question is about: the everyday words of school life and of
# conversational questions. They are left out of the topic-coverage feature of the out-of-scope decision.
_TOPIC_GENERIC_WORDS = """staff pupil pupils student students child children kid kids school schools policy
    policies teacher teachers class classes member members colleague work use used using allow allowed ok okay can do
    make take bring put let keep ask know think someone anyone one thing year day time new old people person lot way
    something anything everything nothing stuff bit kind sort type thing point problem issue question idea example case
    happen happens try trying want wants give find found finding stop stopping start end ends tell telling talk see
    look come goes go went run runs help deal count counts mean matter fine alright weird worst best good bad better
    nice lovely horrible every now today tomorrow first last still again already actually exactly quite whole own
    other another able enough instead since due sure clear rule rules guidance tip tips hold hand many much"""


_TOPIC_STOP = frozenset("""a an the i im i'm my me we our you your is are am be been was were do does did can could
    should would will shall may might must to of in on at for about with from by and or if what when where who how
    why which that this it its there their they them he she his her get got have has had any some""".split()) | \
    frozenset(_TOPIC_GENERIC_WORDS.split())


@lru_cache(maxsize=1)
def topic_generic() -> frozenset[str]:
    """Stems of the words that say nothing about which policy a question is about."""
    return frozenset(_stem(w) for w in _TOPIC_GENERIC_WORDS.split())


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower().replace("\u2019", "'"))


def tokens(text: str) -> list[str]:
    """Lower-cased, stemmed content words of a text."""
    return [_stem(w) for w in _words(text) if w not in STOPWORDS and len(w) > 1]


class Lexicon:
    """Staff wording -> policy wording, loaded from a YAML data file; keys may be single words or phrases."""

    def __init__(self, mapping: dict[str, str] | None = None):
        self.mapping = {" ".join(_words(k)): str(v).lower() for k, v in (mapping or {}).items() if _words(k)}
        phrases = sorted((k for k in self.mapping if " " in k), key=len, reverse=True)
        self._phrases = re.compile(r"\b(" + "|".join(re.escape(p) for p in phrases) + r")\b") if phrases else None

    @classmethod
    def load(cls, path: Path | None) -> "Lexicon":
        """Read a lexicon file; a missing file gives an empty lexicon."""
        if path is None or not Path(path).exists():
            return cls()
        data = yaml.safe_load(Path(path).read_text()) or {}
        return cls({str(k): str(v) for k, v in data.items()})

    def expand(self, text: str) -> str:
        """Return the words the lexicon adds for a text (not including the text)."""
        normal = " ".join(_words(text))
        extra = []
        if self._phrases:
            extra.extend(self.mapping[m.group(1)] for m in self._phrases.finditer(normal))
        extra.extend(self.mapping[w] for w in normal.split() if w in self.mapping)
        return " ".join(extra)


class BM25:
    """Okapi BM25 over clause texts (the bm25s library), plus the idf-weighted term coverage the refusal uses."""

    def __init__(self, docs: list[list[str]], k1: float = 1.2, b: float = 0.75):
        import bm25s  # noqa: PLC0415

        self.n = len(docs)
        self.docs = [set(d) for d in docs]
        df: dict[str, int] = {}
        for doc in self.docs:
            for term in doc:
                df[term] = df.get(term, 0) + 1
        self.idf = {t: math.log(1 + (self.n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self._bm25 = None
        if self.n and df:
            self._bm25 = bm25s.BM25(k1=k1, b=b)
            self._bm25.index([d or [""] for d in docs], show_progress=False)

    def scores(self, query: list[str]) -> np.ndarray:
        """BM25 score of every document for a bag of query terms."""
        terms = [t for t in dict.fromkeys(query) if t in self.idf]
        if self._bm25 is None or not terms:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(terms), dtype=np.float32)

    def coverage(self, query: list[str], row: int) -> float:
        """Share of the query's (idf-weighted) known terms that occur in one document."""
        terms = set(query)
        total = sum(self.idf.get(t, 0.0) for t in terms)
        if not total:
            return 0.0
        return sum(self.idf[t] for t in terms if t in self.docs[row]) / total


# An index stores its clauses' word pieces for the token match (PolicyIndex.piece_vectors, at ingest). One from before
# them keeps the pieces of this many clauses met most recently (about 90 MB at 1,000), filled at start by
# Searcher.warm_tokens, because a clause met for the first time costs an encoder run: new questions on the 19-policy
# dev library measured p95 219 ms while clauses were first met, 28 ms once met (docs/performance.md, session 23)
TOKEN_CLAUSES = 1000


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
    highlights: list = field(default_factory=list)  # knowledge.highlight.Highlight: verbatim parts of citations
    # every clause's score for the question (Searcher.ranked lists them), so a caller that needs more than the
    # citations does not rank the question again; never part of the JSON
    ranking: Ranking | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """The answer as the JSON object `policy-coach ask --json` prints."""
        return {
            "answered": self.answered,
            "message": self.message,
            "highlights": [h.to_dict() for h in self.highlights],
            "citations": [c.to_dict() for c in self.citations],
            "reason": self.reason,
            "contacts": [c.to_dict() for c in self.contacts],
        }


@dataclass
class SearchConfig:
    """Tunable weights; chosen by measurement on the dev evaluation sets only (data/eval/sets.yml, knowledge/bench.py)."""

    # Chosen by `python -m knowledge.tune` on the dev sets (alone and in the dev library; see data/eval/sets.yml).
    keyword_weight: float = 0.3  # weight of the normalised BM25 score added to the dense score
    question_weight: float = 1.0  # similarity to a stored question counts this much of a similarity to clause text
    section_weight: float = 0.8  # ... and to a generic question about the clause's section (sections.yml)
    # Template text (letters to parents, declarations to sign) restates rules for another reader; it is cited
    # only when it clearly beats the rules themselves.
    template_penalty: float = 0.05
    template_pattern: str = r"\b(letters?|template|declaration|example letter|model letter)\b"
    part_weight: float = 0.9  # a part of a compound question meeting a section question counts this much
    max_citations: int = 3
    # A refused question names the coordinator's contact for a "not covered" topic when it is at least this
    # similar (cosine, or share of content words) to a question the coordinator marked with that contact.
    topic_contact_min: float = 0.5
    relative_cutoff: float = 0.80  # citations after the first must score at least this share of the best
    # Fallback refusal thresholds, used when no OOS model is configured for the encoder (e.g. the test encoder).
    min_dense: float = 0.34
    min_combined: float = 0.42
    # Library case: a clause's policy adds policy_weight * (its policy's similarity to the question - the best
    # policy's), where a policy's similarity is the cosine of the question with the mean of its clause vectors
    # (what the policy as a whole is about), plus vocab_weight * the same difference in topic coverage (the share of
    # the question's topical words the policy uses). Zero effect with one policy.
    # Refitted 2026-12-02 by `python -m knowledge.tune` on the 9 dev sets (social-media, mobile-phones and the seven
    # data/eval/dev real policies, alone and in the 11-policy dev library): policy_weight 0.3 -> 1.0 raised the dev
    # library's R@3 0.697 -> 0.716 and first-policy 0.60 -> 0.64 (1.5 and 2.5 no better; vocab 0 / 0.5 no better).
    policy_weight: float = 1.0
    vocab_weight: float = 0.2
    # ... plus evidence_weight * (its mean over its 3 best clauses - the best policy's): see Searcher._evidence;
    # measured no better on dev (0.5 and 1.0 tried), so off. Re-measured 2026-12-02 (session 23) on the 19-policy dev
    # library with the blind audit (docs/retrieval-eval.md, branch lib2): the 2/3/5 best clauses, soft maximum, count
    # near the best, size-normalised versions, and policy_weight / vocab_weight / name_weight chosen leave-one-set-out
    # were all no better on "first-policy only-own" (71.1% now) or "own-or-equal" (77.1% now).
    evidence_weight: float = 0.0
    # A question that names a policy by its title ("the staff phone policy", "the code of conduct") is about that
    # policy: its clauses gain this. 0.2 -> 1.0 on the 9 dev sets in the 11-policy dev library (2026-12-02, with the
    # title-phrase naming): first citation from the right policy 0.670 -> 0.691, R@1 0.504 -> 0.522, R@3 0.708 ->
    # 0.698 (0.5: 0.682 / 0.512 / 0.703).
    name_weight: float = 1.0
    # Dense candidates: FAISS returns this many nearest vectors; clauses with no vector among them get the
    # similarity of the last one returned (an upper bound) so keyword matches can still rank them.
    dense_k: int = 400
    # A second policy is cited beside the first only when its best clause scores this share of the best.
    second_policy_cutoff: float = 0.92
    # Own-words evidence: the best match above may be a generated or shared section question that several clauses
    # answer alike; a clause whose own wording is also near the question comes first. Added to the fused score:
    # text_evidence * (similarity to the clause's text under its heading) + sentence_evidence * (to its best sentence,
    # its text when it has one sentence) + part_evidence * (best similarity of a part of a compound question to its
    # section questions). A front-matter detail (title, dates, "Role: Name") answers through generic detail
    # questions that many questions meet; it loses detail_penalty. Fitted 2026-12-02 on the 9 dev sets of session 21
    # (social-media, mobile-phones, the seven data/eval/dev policies; alone and in the 11-policy dev library; not
    # social-media-dev2, kept to check it) by a grid chosen leave-one-set-out (8 of 9 folds chose these values):
    # CV alone R@1 0.787 -> 0.792, R@3 0.935 -> 0.938; library R@1 0.558 -> 0.573, R@3 0.735 -> 0.760
    # (knowledge.tune's no-refusal measure). Without the detail penalty the same evidence weights lost alone R@1.
    text_evidence: float = 0.25
    sentence_evidence: float = 0.25
    part_evidence: float = 0.25
    detail_penalty: float = 0.1
    # Library case: which policy answers, by a late-interaction match (Searcher._token_match: each content word piece
    # of the question meets its best word piece of the clause, in the encoder's contextual token embeddings; the mean
    # of those cosines). Among the token_candidates best clauses, a policy's best match less the best policy's,
    # times token_weight, joins the policy prior; zero with one policy, so the order within a policy is unchanged.
    # The sentence vectors say a clause is *about* the question; the pieces meeting one by one say it *answers* it
    # (a dad filming at an assembly: "never take photos of children, even at class assemblies" over another school's
    # "where parents request permission to photograph"). Chosen 2026-12-02 (session 23, branch lib2) leave-one-set-out on
    # the 10 dev sets in the 19-policy dev library, grid 0-4 (every fold chose 3.0), objective first-policy
    # own-or-equal + only-own (the blind audit, data/eval/dev/AUDIT.md); held-out means against 0: first-policy
    # 64.2% -> 69.6%, own-or-equal 77.1% -> 80.9%, only-own 71.1% -> 77.5%, R@1 0.496 -> 0.537, R@3 0.684 -> 0.697,
    # offered 71.8% -> 74.1%, prompt 8.8% -> 6.6% of answers, in-scope refused 5.6% -> 5.8%, off-topic refused 95%
    # either way; alone unchanged (on main after scope2 and conv5, bench: first-policy 64% -> 70%, own-or-equal
    # 78% -> 81%, only-own 72% -> 78%, R@3 0.70 -> 0.71). 30 candidates: as all clauses (10: R@3 0.678). The
    # question's token embeddings come with its vector (ONNX); a clause costs one run the first time it is a
    # candidate (docs/performance.md).
    token_weight: float = 3.0
    token_candidates: int = 30
    # ... and a policy's best match first loses token_count_penalty * ln(how many of the candidates are its clauses):
    # the best of many clauses is high by chance (a long policy with 10 candidates has ten draws at the question, a
    # short one with one has one), so the policy with more candidates no longer wins on the luck of its best piece
    # matches. Fitted 2026-12-02 (session 25, branch lib4) on the 18 dev sets in the 19-policy dev library, grid
    # 0-0.04, leave-one-set-out (objective first-policy + own-or-equal + offered; every fold chose 0.02); against 0,
    # bench means: first-policy 63.1% -> 64.5%, own-or-equal 69.0% -> 69.8%, offered 68.5% -> 68.9%, prompt 8.5% ->
    # 7.2% of answers, R@1 0.495 -> 0.508, R@3 0.652 -> 0.667, in-scope refused 5.4% -> 5.1%, off-topic refused 84.7% ->
    # 84.2% (one question: a different best clause changes the refusal features); alone unchanged. A penalty on the
    # policy's whole size (ln of its clauses) at 0.02 scored as high in-sample but held out worse (63.2%), and
    # sqrt(ln) or a per-clause length penalty were no better (docs/retrieval-eval.md).
    token_count_penalty: float = 0.02


@dataclass
class OutOfScope:
    """Logistic decision 'this question is about a loaded policy', over features of the best match."""

    bias: float = 0.0
    dense: float = 0.0  # best dense similarity to a clause
    anchor: float = 0.0  # best similarity to an off-topic anchor question
    coverage: float = 0.0  # share of the question's keywords found in the best clause
    topic: float = 0.0  # share of the question's topical words found anywhere in the loaded policies ...
    topic_cap: float = 1.0  # ... counted up to this share: above it, more coverage is no more evidence
    lift: float = 0.0  # best dense similarity less the policy's background level (Searcher._policy_background)
    topicgap: float = 0.0  # best topic coverage by a loaded policy less the anchors' mean best coverage (same library)
    qlift: float = 0.0  # best similarity to the policy's stored questions less the anchors' level there (same policy)
    threshold: float = 0.5

    def probability(self, dense: float, anchor: float, coverage: float, topic: float = 1.0, lift: float = 0.0,
                    topicgap: float = 0.0, qlift: float = 0.0) -> float:
        """P(in scope) for the features of one question."""
        logit = (self.bias + self.dense * dense + self.anchor * anchor + self.coverage * coverage
                 + self.topic * min(topic, self.topic_cap) + self.lift * lift + self.topicgap * topicgap
                 + self.qlift * qlift)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))

    @classmethod
    def load(cls, path: Path, model: str) -> "OutOfScope | None":
        """The decision for one encoder from data/retrieval/oos.yml ('default' applies to real models)."""
        if not Path(path).exists():
            return None
        data = yaml.safe_load(Path(path).read_text()) or {}
        models = data.get("models") or {}
        entry = models.get(model)
        if entry is None and model != "hashing":
            entry = data.get("default")
        if not entry:
            return None
        return cls(**{k: float(v) for k, v in entry.items() if k in cls.__dataclass_fields__})


_NAME_END = frozenset({"policy", "guidance", "guidelines", "rules", "agreement", "procedure"})
# Words that may stand before a policy's title words without being part of another document's name ("the new phone
# policy", "our staff code of conduct"); any other content word there makes a different name ("child protection
# policy" is not the Data Protection Policy).
_NAME_MODIFIERS = frozenset("""staff new current latest updated revised draft whole main existing full official old
    own school school's schools trust academy""".split())


# A title phrase without a name word names the policy only as a noun of its own: after one of these ("the code of
# conduct", "this online safety", past modifiers: "the staff code of conduct") or before a name word ("the social media
# rules"); "anything unsafe on social media", "my mobile phone" are the topic. Dev library (19 policies, bench, session
# 24): first-policy 70% -> 72%, own-or-equal 81% -> 82%, only-own 78% -> 78%, R@1 0.55 -> 0.57, R@3 0.71 -> 0.72.
_DETERMINERS = frozenset("the this that these our your a an".split())


@lru_cache(maxsize=1)
def _name_end_stems() -> frozenset[str]:
    """Stems of the words that end a policy's name ("policy", "rules")."""
    return frozenset(_stem(w) for w in _NAME_END)


@lru_cache(maxsize=1)
def _school_name_words() -> frozenset[str]:
    """Stems of the words of a school's name in a title ("... for Little Heath Primary School"): a question saying
    "primary school" does not name that school's policy."""
    return frozenset(_stem(w) for w in """primary secondary school academy college nursery preschool pre infant junior
        first middle high trust federation church catholic ce cofe vc va st saint model""".split())


@lru_cache(maxsize=8)
def _title_stems(titles: tuple[str, ...]) -> frozenset[str]:
    # stemming every title took 8.5 ms a question with 990 policies (knowledge.bench --scale 1000): once per library
    return frozenset(_stem(w) for t in titles for w in _words(t) if w not in STOPWORDS)


def strip_policy_name(text: str, titles: list[str]) -> str:
    """Replace a policy named by its title words ("the staff phone policy") with "the policy".

    The words of a policy's own title say nothing about which of its clauses is meant, but they pull the
    question towards clauses that happen to repeat the title (declarations, introductions).
    """
    title_stems: frozenset[str] | None = None
    words = text.split()
    out: list[str] = []
    for word in words:
        bare = re.sub(r"[^\w']", "", word.lower())
        if bare in _NAME_END:
            if title_stems is None:
                title_stems = _title_stems(tuple(titles))
            j = len(out)
            while j > 0:
                prev = re.sub(r"[^\w']", "", out[j - 1].lower())
                if not prev or prev in STOPWORDS or _stem(prev) not in title_stems:
                    break
                j -= 1
            if j < len(out):  # at least one title word before the name word
                out[j:] = []
                word = "policy" + word[len(re.match(r"^[\w']*", word).group(0)):]
        out.append(word)
    return " ".join(out)


def clean_question(text: str) -> str:
    """Strip markup and control characters from a question; never returns HTML."""
    text = unicodedata.normalize("NFKC", text or "")
    text = re.sub(r"<(script|style)[^>]*>.*?</\1\s*>", " ", text, flags=re.I | re.S)
    text = re.sub(r"<[^>]{0,200}>", " ", text)
    text = html.unescape(text)
    text = re.sub(r"<[^>]{0,200}>", " ", text)  # markup that was entity-escaped
    text = text.replace("<", " ").replace(">", " ")
    text = "".join(ch for ch in text if ch.isprintable() or ch in "\n\t")
    return re.sub(r"\s+", " ", text).strip()


def _mostly_latin(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return True
    latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    return latin / len(letters) >= 0.6


_ANCHOR_CACHE: dict[tuple, np.ndarray] = {}
_ANCHOR_LOCK = threading.Lock()


def load_anchors(path: Path) -> list[str]:
    """Generic off-topic questions (a flat list, or categories of lists) from a YAML file."""
    if not Path(path).exists():
        return []
    data = yaml.safe_load(Path(path).read_text()) or []
    items = data.values() if isinstance(data, dict) else [data]
    out: list[str] = []
    for item in items:
        out.extend(str(q).strip() for q in (item if isinstance(item, list) else [item]) if str(q).strip())
    return out


def _anchor_vectors(encoder, path: Path) -> np.ndarray:
    """Embeddings of the anchor questions, computed once per process for each encoder and file version."""
    path = Path(path)
    stamp = path.stat().st_mtime_ns if path.exists() else 0
    key = (getattr(encoder, "name", id(encoder)), str(path), stamp)
    with _ANCHOR_LOCK:
        if key not in _ANCHOR_CACHE:
            anchors = load_anchors(path)
            _ANCHOR_CACHE[key] = (encoder.encode(anchors) if anchors
                                  else np.zeros((0, encoder.dim), dtype=np.float32))
        return _ANCHOR_CACHE[key]


@dataclass
class Ranking:
    """Scores of every clause for one question."""

    combined: np.ndarray
    dense: np.ndarray
    keyword: np.ndarray
    terms: list[str]
    anchor: float
    order: np.ndarray
    topic: float = 1.0  # topic coverage of the question by the policy of the best clause
    topic_max: float = 1.0  # ... and by the best-covering loaded policy
    qvec: np.ndarray | None = None  # the question's embedding (reused to pick the highlighted sentence)
    own: np.ndarray | None = None  # each clause's own-words evidence, part of combined (SearchConfig.text_evidence)
    parts: np.ndarray | None = None  # embeddings of a compound question's parts (question_parts), if any


class Searcher:
    """Answers questions against a loaded PolicyIndex."""

    def __init__(self, index: PolicyIndex, encoder, *, lexicon: Lexicon | None = None,
                 config: SearchConfig | None = None, max_chars: int = 1000,
                 retrieval_dir: Path | None = None):
        self.index = index
        self.encoder = encoder
        self.lexicon = lexicon or Lexicon()
        self.config = config or SearchConfig()
        self.max_chars = max_chars
        retrieval_dir = Path(retrieval_dir or RETRIEVAL_DIR)
        clauses = index.clauses
        docs = [tokens(piece_text(clause)) for clause in clauses]
        self.bm25 = BM25(docs)
        self.links: dict[str, list[tuple[str, str]]] = {}  # normalised question -> [(policy, clause)]
        self.topic_contacts: list[tuple[str, str]] = []  # (question marked not covered, who staff should ask)
        self._topic_vecs = None
        n = len(clauses)
        self._owners = np.asarray(index.owners, dtype=np.int64)
        kinds = np.asarray(index.kinds)
        self._vector_weight = np.where(kinds == KIND_QUESTION, self.config.question_weight,
                                       np.where(kinds == KIND_SECTION, self.config.section_weight, 1.0)
                                       ).astype(np.float32)
        if index.faiss_index is None or index.faiss_index.ntotal != len(self._owners):
            index.build_faiss()
        self._faiss = index.faiss_index
        # generic section questions, searched on their own for each part of a compound question
        self._section_rows = np.flatnonzero(kinds == KIND_SECTION)
        self._section_vectors = np.ascontiguousarray(index.vectors[self._section_rows], dtype=np.float32)
        pattern = re.compile(self.config.template_pattern, re.I)
        self._prior = np.array([-self.config.template_penalty if pattern.search(f"{c.section} {c.title}") else 0.0
                                for c in clauses], dtype=np.float32)
        self._prior -= np.array([c.kind == "detail" for c in clauses], dtype=np.float32) * self.config.detail_penalty
        self._kinds = kinds
        self._has_sentences = np.zeros(n, dtype=bool)
        self._has_sentences[self._owners[kinds == KIND_SENTENCE]] = True
        # policies: each clause's policy number, each policy's centroid and vocabulary
        self._policy_ids = list(dict.fromkeys([c.policy for c in clauses]))
        number = {p: i for i, p in enumerate(self._policy_ids)}
        self._clause_policy = np.array([number[c.policy] for c in clauses], dtype=np.int64)
        text_rows = kinds == 0
        centroids = np.zeros((len(self._policy_ids), index.dim), dtype=np.float32)
        if n and text_rows.any():
            np.add.at(centroids, self._clause_policy[self._owners[text_rows]], index.vectors[text_rows])
        norms = np.linalg.norm(centroids, axis=1, keepdims=True)
        self._centroids = centroids / np.where(norms > 0, norms, 1.0)
        self._rows = {(c.policy, c.clause): row for row, c in enumerate(clauses)}
        self._text_vector = np.full(n, -1, dtype=np.int64)  # each clause's text vector (its heading and body)
        self._text_vector[self._owners[text_rows]] = np.flatnonzero(text_rows)
        self._term_policies: dict[str, set[int]] = {}
        for row, doc in enumerate(self.bm25.docs):
            for term in doc:
                self._term_policies.setdefault(term, set()).add(int(self._clause_policy[row]))
        self._vocab = sorted(self._term_policies)
        self._bigrams = {pair for doc in docs for pair in zip(doc, doc[1:])}  # the library's phrases
        self._titles = [str(m.get("title") or "") for m in index.policies.values()]
        self._title_policies: dict[str, set[int]] = {}  # stemmed distinctive title word -> policies with it
        self._title_pairs: dict[tuple[str, str], set[int]] = {}  # adjacent title content words -> policies
        self._title_words: list[frozenset[str]] = [frozenset()] * len(self._policy_ids)  # each title's stems
        for key, meta in index.policies.items():
            if key in number:
                self._title_words[number[key]] = frozenset(tokens(str(meta.get("title") or "")))
                for word in _words(str(meta.get("title") or "")):
                    if word not in STOPWORDS and _stem(word) not in topic_generic() | _NAME_END:
                        self._title_policies.setdefault(_stem(word), set()).add(number[key])
                stems = tokens(str(meta.get("title") or ""))
                for pair in zip(stems, stems[1:]):
                    # "protection policy" is not a phrase of the Data Protection Policy's own: a pair with the name
                    # word would let any "... protection policy" name it (the loop in named_policies handles those)
                    if (not set(pair) <= topic_generic() | _NAME_END and not set(pair) & _school_name_words()
                            and not set(pair) & _name_end_stems()):
                        self._title_pairs.setdefault(pair, set()).add(number[key])
        self._anchors = _anchor_vectors(encoder, retrieval_dir / "anchors.yml")
        self._background = self._policy_background(index)
        # the questions each policy's clauses answer (generated at ingest, and the generic section questions attached
        # to its clauses): an in-scope question is near one of its own policy's, an off-topic one only by chance
        question_rows = np.flatnonzero((kinds == KIND_QUESTION) | (kinds == KIND_SECTION))
        policy_of = (self._clause_policy[self._owners[question_rows]] if len(question_rows)
                     else np.zeros(0, dtype=np.int64))
        by_policy = np.argsort(policy_of, kind="stable")  # each policy's questions in one slice
        self._question_vectors = np.ascontiguousarray(index.vectors[question_rows[by_policy]], dtype=np.float32)
        self._question_policy = policy_of[by_policy]
        self._question_bounds = np.searchsorted(self._question_policy, np.arange(len(self._policy_ids) + 1))
        self._question_background = self._policy_question_background()
        # the topic coverage an off-topic question reaches here by chance: the anchors' mean best coverage by any
        # loaded policy (grows with the library's vocabulary, as a real off-topic question's does)
        anchor_topics = [self._policy_topics(q) for q in load_anchors(retrieval_dir / "anchors.yml")]
        self._anchor_topic = float(np.mean([t.max() for t in anchor_topics if len(t)])) if anchor_topics and n else 0.0
        self.oos = OutOfScope.load(retrieval_dir / "oos.yml", getattr(encoder, "name", ""))
        # the clauses' content word-piece embeddings for the token match: stored in the index, or (an index from before
        # them) embedded when first met and kept for the clauses met most recently
        self._stored_pieces = index.has_pieces
        # a plain view of the memory map: slicing the np.memmap itself cost ~0.1 ms more per question
        self._pieces = np.asarray(index.piece_vectors) if self._stored_pieces else None
        self._clause_tokens: OrderedDict[int, np.ndarray] = OrderedDict()
        self._tokens_lock = threading.Lock()

    def _policy_background(self, index: PolicyIndex) -> np.ndarray:
        """Each policy's background similarity: the mean, over the generic off-topic anchor questions, of their best
        (weighted) similarity to any vector of the policy. A long policy meets any question more closely by chance
        than a one-page one; the out-of-scope decision compares a question's best match with this level rather than
        with one threshold for every policy."""
        background = np.zeros(len(self._policy_ids), dtype=np.float32)
        if not len(self._anchors) or not len(self._owners):
            return background
        vector_policy = self._clause_policy[self._owners]
        for p in range(len(self._policy_ids)):
            rows = np.flatnonzero(vector_policy == p)
            if len(rows):
                sims = (self._anchors @ index.vectors[rows].T) * self._vector_weight[rows]
                background[p] = float(sims.max(axis=1).mean())
        return background

    def _policy_question_background(self) -> np.ndarray:
        """Each policy's background among its stored questions: the anchors' mean best similarity to them (as
        _policy_background, over the question vectors only and unweighted)."""
        background = np.zeros(len(self._policy_ids), dtype=np.float32)
        if not len(self._anchors) or not len(self._question_vectors):
            return background
        sims = self._anchors @ self._question_vectors.T
        for p in range(len(self._policy_ids)):
            start, end = self._question_bounds[p], self._question_bounds[p + 1]
            if end > start:
                background[p] = float(sims[:, start:end].max(axis=1).mean())
        return background

    def question_lift(self, qvec: np.ndarray | None, policy: int, parts: np.ndarray | None = None) -> float:
        """Best similarity of a question (or of one of its parts) to one policy's stored questions less that policy's
        question background; 0 when the policy has none."""
        start, end = self._question_bounds[policy], self._question_bounds[policy + 1]
        if qvec is None or end <= start:
            return 0.0
        # "who does our IT support, the filter blocked a website i need": one part is the stored question's shape and
        # the other part's words dilute the whole; on dev (session 23) the best part lowered leave-one-policy-out
        # in-scope refusals 5.8% -> 4.8% at the same off-topic refusal, 96.2% (data/retrieval/oos.yml)
        vecs = qvec[None, :] if parts is None or not len(parts) else np.vstack([qvec[None, :], parts])
        best = float((self._question_vectors[start:end] @ vecs.T).max())
        return best - float(self._question_background[policy])

    def set_topic_contacts(self, contacts: list[tuple[str, str]]) -> None:
        """Coordinator-named contacts for topics the policies don't cover: [(question, who to ask)]."""
        contacts = [(q, c) for q, c in contacts if q and c]
        if [q for q, _ in contacts] != [q for q, _ in self.topic_contacts]:
            self._topic_vecs = self.encoder.encode([q for q, _ in contacts]) if contacts else None
        self.topic_contacts = contacts

    def topic_contact(self, question: str) -> str | None:
        """Who the coordinator said to ask about questions like this one (most similar stored topic question), or None.

        Similarity is the larger of the embedding cosine and the share of content words in common, so a new
        wording of the same topic ("sick pay" after "maternity pay") matches while an unrelated question does not.
        """
        if not self.topic_contacts or self._topic_vecs is None:
            return None
        qvec = np.asarray(self.encoder.encode([question])[0], dtype=np.float32)
        vecs = np.asarray(self._topic_vecs, dtype=np.float32)
        dense = vecs @ qvec / (np.linalg.norm(vecs, axis=1) * (np.linalg.norm(qvec) or 1.0) + 1e-9)
        words = set(_words(normalise_question(question))) - _TOPIC_STOP
        best, who = 0.0, None
        for (stored, contact), cosine in zip(self.topic_contacts, dense):
            theirs = set(_words(normalise_question(stored))) - _TOPIC_STOP
            overlap = len(words & theirs) / len(words | theirs) if words | theirs else 0.0
            score = max(float(cosine), overlap)
            if score > best:
                best, who = score, contact
        return who if best >= self.config.topic_contact_min else None

    def set_links(self, links: dict[str, list[tuple[str, str]]]) -> None:
        """Coordinator-confirmed question -> clause links; an exact match is answered with that clause."""
        self.links = {normalise_question(q): v for q, v in links.items()}

    # -- scoring ----------------------------------------------------------
    def _dense(self, vecs: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Best weighted similarity of the question (vecs[0]) to any vector of each clause, by FAISS; and each
        clause's own-words evidence (SearchConfig.text_evidence)."""
        dense = np.full(n, -1.0, dtype=np.float32)
        own = np.zeros(n, dtype=np.float32)
        total = self._faiss.ntotal
        if not total or not n:
            return dense, own
        k = min(total, self.config.dense_k)
        sims, ids = self._faiss.search(vecs[:1], k)
        sims, ids = sims[0], ids[0]
        keep = ids >= 0
        sims, ids = sims[keep], ids[keep]
        floor = float(sims[-1]) if k < total and len(sims) else -1.0
        dense[:] = floor  # upper bound for clauses with no vector among the nearest k
        weighted = sims * self._vector_weight[ids]
        owners = self._owners[ids]
        best = np.full(n, -np.inf, dtype=np.float32)
        np.maximum.at(best, owners, weighted)
        seen = np.isfinite(best)
        dense[seen] = best[seen]
        config = self.config
        if config.text_evidence or config.sentence_evidence:
            kinds = self._kinds[ids]
            text = np.full(n, floor, dtype=np.float32)
            rows = kinds == KIND_TEXT
            np.maximum.at(text, owners[rows], sims[rows])
            sentence = np.full(n, -np.inf, dtype=np.float32)
            rows = kinds == KIND_SENTENCE
            np.maximum.at(sentence, owners[rows], sims[rows])
            sentence = np.where(np.isfinite(sentence), sentence, np.where(self._has_sentences, floor, text))
            own += config.text_evidence * np.maximum(text, 0.0) + config.sentence_evidence * np.maximum(sentence, 0.0)
        if len(vecs) > 1 and len(self._section_rows):
            # "i think X happened, who do i report it to": each part of a compound question may meet a generic
            # section question on its own, without the other part's topic diluting it
            part = (self._section_vectors @ vecs[1:].T).max(axis=1)
            if config.part_evidence:
                best_part = np.zeros(n, dtype=np.float32)
                np.maximum.at(best_part, self._owners[self._section_rows], part)
                own += config.part_evidence * best_part
            part *= config.section_weight * config.part_weight
            np.maximum.at(dense, self._owners[self._section_rows], part)
        return dense, own

    def _policy_topics(self, question: str) -> np.ndarray:
        """Topic coverage of a question by each policy (see topic_coverage)."""
        covered = np.zeros(len(self._policy_ids), dtype=np.float32)
        total = 0
        generic = topic_generic()
        for word in _words(question):
            if word in STOPWORDS or len(word) <= 1 or word.isdigit():
                continue
            term = _stem(word)
            if term in generic:
                continue
            total += 1
            found = self._policies_knowing(term)
            extra = self.lexicon.mapping.get(word, "")
            for other in _words(extra):
                if other not in STOPWORDS:
                    found |= self._policies_knowing(_stem(other))
            if found:
                covered[list(found)] += 1
        return covered / total if total else np.ones(len(self._policy_ids), dtype=np.float32)

    def named_policies(self, question: str) -> list[int]:
        """The policies a question names by title ("the staff phone policy", "the social media guidance")."""
        words = [re.sub(r"[^\w']", "", w.lower()) for w in question.split()]
        counts: dict[int, int] = {}
        for i, word in enumerate(words):
            if word not in _NAME_END:
                continue
            j = i - 1
            run: list[str] = []
            while j >= 0 and words[j] and words[j] not in STOPWORDS and j >= i - 4:
                run.append(words[j])
                j -= 1
            found: dict[int, int] = {}
            for w in run:
                for p in self._title_policies.get(_stem(w), ()):
                    found[p] = found.get(p, 0) + 1
            for p, c in found.items():
                # a content word of no title of p's before p's title words names another document
                title, seen, previous = self._title_words[p], False, ""
                for w in run:  # nearest the name word first
                    stem = _stem(w)
                    if stem in title:
                        seen = True
                    elif seen:
                        # ... when the library's text uses the two as a phrase ("child protection") and the word is
                        # not one that only qualifies the policy ("new", "staff"): a signed phone policy form is one
                        if ((stem, previous) in self._bigrams and w not in _NAME_MODIFIERS
                                and stem not in _school_name_words()):
                            break
                    previous = stem
                else:
                    counts[p] = counts.get(p, 0) + c
        # a title's own phrase ("code of conduct", "data protection", "online safety") names it without "policy",
        # when used as a name (_DETERMINERS)
        kept = [(i, _stem(w)) for i, w in enumerate(words) if w and w not in STOPWORDS and len(w) > 1]
        for (i, a), (k, b) in zip(kept, kept[1:]):
            named_here = self._title_pairs.get((a, b), ())
            if named_here:
                j = i - 1
                while j > 0 and words[j] in _NAME_MODIFIERS:  # "the staff code of conduct"
                    j -= 1
                before = words[j] if j >= 0 else ""
                after = words[k + 1] if k + 1 < len(words) else ""
                if after not in _NAME_END and before not in _DETERMINERS:
                    continue
            for p in named_here:
                counts[p] = counts.get(p, 0) + 2
        top = max(counts.values(), default=0)
        return [p for p, c in counts.items() if c == top and top]

    def named_policy_ids(self, question: str) -> list[str]:
        """The ids of the policies a question names by title (see named_policies)."""
        return [self._policy_ids[p] for p in self.named_policies(question)]

    def _policies_knowing(self, term: str) -> set[int]:
        """Policies that use a stemmed word (exactly, or as the start of a longer word of theirs)."""
        found = set(self._term_policies.get(term, ()))
        if len(term) >= 5:
            i = bisect.bisect_left(self._vocab, term)
            while i < len(self._vocab) and self._vocab[i].startswith(term):
                found |= self._term_policies[self._vocab[i]]
                i += 1
        return found

    def _ranking(self, question: str) -> Ranking:
        n = len(self.index.clauses)
        topics = self._policy_topics(question)
        question_raw = question
        question = strip_policy_name(question, self._titles)
        parts = question_parts(question)
        texts = [question] + parts
        if question_raw != question and self._needs_raw_vector():
            # the token match (and a refusal's topic contact) embed the question as asked, before its policy name was
            # taken out: in the same run, as each model run costs ~7 ms however short its texts (ONNX profile,
            # docs/performance.md, session 24)
            texts.append(question_raw)
        vecs = self.encoder.encode(texts)[:1 + len(parts)]
        qvec = vecs[0]
        dense, own = self._dense(vecs, n)
        base = tokens(question)
        extra = tokens(self.lexicon.expand(question))
        terms = base + [t for t in extra if t not in base]
        keyword = self.bm25.scores(terms) if n else np.zeros(0, dtype=np.float32)
        top_kw = float(keyword.max()) if n else 0.0
        kw_norm = keyword / top_kw if top_kw > 0 else keyword
        combined = dense + self.config.keyword_weight * kw_norm + self._prior + own
        if len(self._policy_ids) > 1:
            policy_prior = sum(self.policy_prior_parts(question_raw, qvec, topics).values())
            if self.config.evidence_weight:
                policy_prior = policy_prior + self.config.evidence_weight * self._evidence(combined)
            combined = combined + policy_prior[self._clause_policy]
            # a front-matter fact every policy states (owner, dates) leads: which school's, no word match can say, so
            # the policies stay tied for the which-policy prompt (dev: no worse, offered 73.4% -> 74.1%)
            if self.config.token_weight and self.index.clauses[int(np.argmax(combined))].kind != "detail":
                combined = combined + self._token_prior(question_raw, combined)[self._clause_policy]
        anchor = float((self._anchors @ qvec).max()) if len(self._anchors) else -1.0
        order = np.argsort(-combined, kind="stable")
        topic = float(topics[self._clause_policy[order[0]]]) if n else 1.0
        return Ranking(combined, dense, keyword, base, anchor, order, topic, float(topics.max()) if n else 1.0, qvec,
                       own, vecs[1:])

    def _needs_raw_vector(self) -> bool:
        """Will answering embed the question as asked (the token match of a library, a topic contact)?"""
        token_match = (len(self._policy_ids) > 1 and bool(self.config.token_weight)
                       and hasattr(self.encoder, "token_vectors"))
        return token_match or bool(self.topic_contacts)

    def policy_prior_parts(self, question: str, qvec: np.ndarray, topics: np.ndarray) -> dict[str, np.ndarray]:
        """The parts of the prior a library gives every clause of a policy, one value per policy, each relative to the
        best policy's: the centroid's similarity, the topic words and the title a question names."""
        psim = self._centroids @ qvec
        name = np.zeros(len(self._policy_ids), dtype=np.float32)
        named = self.named_policies(question)
        if named and len(named) < len(self._policy_ids):
            name[named] = self.config.name_weight
        return {"centroid": self.config.policy_weight * (psim - psim.max()),
                "topic words": self.config.vocab_weight * (topics - topics.max()), "name": name}

    def _token_prior(self, question: str, combined: np.ndarray) -> np.ndarray:
        """Each policy's token match (best over its clauses among the token_candidates best, less token_count_penalty
        times the log of their number) less the best policy's, times token_weight; a policy with no candidate clause
        counts as the lowest seen. Zeros when the encoder has no token embeddings (the hashing encoder of the fast
        tests)."""
        prior = np.zeros(len(self._policy_ids), dtype=np.float32)
        rows = np.argsort(-combined, kind="stable")[:self.config.token_candidates]
        match = self._token_match(question, rows)
        if match is None or not len(rows):
            return prior
        best = np.full(len(self._policy_ids), -np.inf, dtype=np.float32)
        np.maximum.at(best, self._clause_policy[rows], match)
        seen = np.isfinite(best)
        count = np.bincount(self._clause_policy[rows], minlength=len(self._policy_ids))
        best[seen] -= self.config.token_count_penalty * np.log(count[seen])
        best[~seen] = float(best[seen].min())
        return self.config.token_weight * (best - best.max())

    def warm_tokens(self, batch: int = 32) -> int:
        """Embed the clauses' word pieces for the token match before the first question (a library whose index does
        not store them only); how many."""
        if (self._stored_pieces or not hasattr(self.encoder, "token_vectors") or not self.config.token_weight
                or len(self.index.policies) < 2):
            return 0
        rows = [r for r in range(min(TOKEN_CLAUSES, len(self.index.clauses))) if r not in self._clause_tokens]
        for start in range(0, len(rows), batch):
            self._clause_pieces(rows[start:start + batch])
        return len(rows)

    def _clause_pieces(self, rows: list[int]) -> dict[int, np.ndarray]:
        """Embed some clauses' content word pieces (under their headings) and keep them for the token match."""
        texts = [piece_text(self.index.clauses[r]) for r in rows]
        # rounded to float16 (as the token weight was chosen with) but kept as float32: converting the 30 candidates'
        # pieces back on every question took ~2 of the token match's ~3 ms (session 24), for twice the memory
        found = {r: content_pieces(pieces, vectors).astype(np.float16).astype(np.float32)
                 for r, (pieces, vectors) in zip(rows, self.encoder.token_vectors(texts))}
        with self._tokens_lock:
            self._clause_tokens.update(found)
            # a clause's pieces take ~90 KB (60 pieces, 384-d, float32): keep the 1,000 used most recently
            while len(self._clause_tokens) > TOKEN_CLAUSES:
                self._clause_tokens.popitem(last=False)
        return found

    def _token_match(self, question: str, rows: np.ndarray) -> np.ndarray | None:
        """Late interaction of a question with some clauses (ColBERT's MaxSim): the mean, over the question's content
        word pieces, of the best cosine with any content word piece of the clause (under its heading); None when the
        encoder gives no token embeddings."""
        token_vectors = getattr(self.encoder, "token_vectors", None)
        if token_vectors is None:
            return None
        asked = content_pieces(*token_vectors([question])[0])
        if not len(asked):
            return None
        if self._stored_pieces:
            return self._stored_match(asked, rows)
        with self._tokens_lock:
            known = {int(r): self._clause_tokens.get(int(r)) for r in rows}
            for r, pieces in known.items():
                if pieces is not None:  # least recently used first out: a clause met again is kept
                    self._clause_tokens.move_to_end(r)
        missing = [r for r, v in known.items() if v is None]
        if missing:
            known.update(self._clause_pieces(missing))
        return np.array([float((asked @ known[int(r)].T).max(axis=1).mean()) if len(known[int(r)])
                         else 0.0 for r in rows], dtype=np.float32)

    def _stored_match(self, asked: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """_token_match with the clauses' pieces read from the index: the candidates' float16 pieces converted
        together (~0.5 ms for 30), then met clause by clause as before."""
        spans = self.index.piece_spans[np.asarray(rows, dtype=np.int64)]
        if not len(spans):
            return np.zeros(0, dtype=np.float32)
        block = np.concatenate([self._pieces[start:end] for start, end in spans]).astype(np.float32)
        bounds = np.concatenate(([0], np.cumsum(spans[:, 1] - spans[:, 0])))
        # one small product per clause, not one product of all candidates: that one crossed OpenBLAS's threading
        # threshold and took p50 5-8 ms (against ~1 ms) on the shared 2-core box at load 2
        return np.array([float((asked @ block[a:b].T).max(axis=1).mean()) if b > a else 0.0
                         for a, b in zip(bounds[:-1], bounds[1:])], dtype=np.float32)

    def _evidence(self, combined: np.ndarray, pool: int = 200, depth: int = 3) -> np.ndarray:
        """Each policy's mean score over its `depth` best clauses among the `pool` best overall, less the best
        policy's: a policy about the question has several clauses near it, not one lucky sentence."""
        top = np.argpartition(-combined, min(pool, len(combined)) - 1)[:pool]
        top = top[np.argsort(-combined[top], kind="stable")]
        floor = float(combined[top[-1]])
        sums = np.zeros(len(self._policy_ids), dtype=np.float32)
        counts = np.zeros(len(self._policy_ids), dtype=np.int64)
        for row in top:
            p = self._clause_policy[row]
            if counts[p] < depth:
                sums[p] += combined[row]
                counts[p] += 1
        sums += (depth - counts) * floor
        mean = sums / depth
        return mean - mean.max()

    def topic_coverage(self, question: str) -> float:
        """Share of a question's topical words that the best-covering loaded policy uses (directly or via the lexicon).

        Topical words are the question's content words less everyday school and conversational words
        (topic_generic()). A question about pupils' phones in exams put to a social media policy has topical words
        (phone, exam) that the policy never uses; staff slang the policy lacks (insta, sacked) counts when the
        lexicon maps it to policy wording. Counted per policy, so adding policies does not make every question
        look covered.
        """
        topics = self._policy_topics(question)
        return float(topics.max()) if len(topics) else 1.0

    def oos_features(self, ranking: Ranking) -> dict[str, float]:
        """The features the out-of-scope decision sees for one ranked question."""
        best = int(ranking.order[0])
        dense = float(ranking.dense[best])
        policy = int(self._clause_policy[best])
        return {"dense": dense, "anchor": ranking.anchor, "coverage": self.bm25.coverage(ranking.terms, best),
                "topic": ranking.topic, "lift": dense - float(self._background[policy]),
                "topicgap": ranking.topic_max - self._anchor_topic,
                "qlift": self.question_lift(ranking.qvec, policy, ranking.parts)}

    def in_scope(self, ranking: Ranking) -> tuple[bool, float]:
        """Is the best match good enough to answer? Returns (decision, confidence)."""
        if not len(ranking.order):
            return False, 0.0
        best = int(ranking.order[0])
        if self.oos is None:
            best_dense = float(ranking.dense.max())
            ok = best_dense >= self.config.min_dense and float(ranking.combined[best]) >= self.config.min_combined
            return ok, best_dense
        p = self.oos.probability(**self.oos_features(ranking))
        return p >= self.oos.threshold, p

    # -- answering --------------------------------------------------------
    def clause_similarity(self, first: Citation, second: Citation) -> float:
        """Cosine of two cited clauses' text vectors: how nearly they say the same thing (0 when either is unknown)."""
        rows = [self._rows.get((c.policy, c.clause), -1) for c in (first, second)]
        vectors = [int(self._text_vector[r]) if r >= 0 else -1 for r in rows]
        if min(vectors) < 0:
            return 0.0
        return float(self.index.vectors[vectors[0]] @ self.index.vectors[vectors[1]])

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

    def _out_of_scope(self, question: str) -> Answer:
        """The refusal for a question no policy covers: the coordinator's contact for its topic if one matches,
        otherwise the policy owners and contact list."""
        who = self.topic_contact(question)
        if who is None:
            return self._refusal("out_of_scope", self.out_of_scope_message())
        return Answer(False, f"{self.out_of_scope_message(ask=False)} Your coordinator says to ask {who} about "
                             "questions like this.", [], "out_of_scope", [])

    def out_of_scope_message(self, *, ask: bool = True) -> str:
        """What to say when no loaded policy covers a question, naming who to ask."""
        titles = [m.get("title") for m in self.index.policies.values() if m.get("title")]
        which = " or ".join(f"the {t}" for t in titles[:2]) if titles else "the loaded policies"
        owners = sorted({m["owner"] for m in self.index.policies.values() if m.get("owner")})
        who = f" Please ask {', '.join(owners)} (responsible for the policy)" if owners else " Please ask your line manager"
        if not ask:
            return f"I couldn't find anything in {which} that answers this, so I won't guess."
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
            wanted = set(map(tuple, linked))
            rows = [i for i, c in enumerate(self.index.clauses) if (c.policy, c.clause) in wanted]
            if rows:
                return self._answer(text, [self._citation(r, 1.0) for r in rows])
        if not self.index.clauses:
            return self._out_of_scope(text)
        ranking = self._ranking(text)
        ok, _ = self.in_scope(ranking)
        if not ok:
            return self._out_of_scope(text)
        order = ranking.order
        best = float(ranking.combined[order[0]])
        cites = [self._citation(int(order[0]), best)]
        for row in order[1:]:
            if len(cites) >= self.config.max_citations:
                break
            score = float(ranking.combined[row])
            if best > 0 and score < self.config.relative_cutoff * best:
                break
            # another policy's clause is shown (labelled with its policy) only when it answers nearly as well
            if self.index.clauses[row].policy != cites[0].policy and score < self.config.second_policy_cutoff * best:
                continue
            cites.append(self._citation(int(row), score))
        answer = self._answer(text, cites, ranking.qvec)
        answer.ranking = ranking
        return answer

    def _answer(self, question: str, cites: list[Citation], qvec: np.ndarray | None = None) -> Answer:
        """An answer that leads with the verbatim sentence(s) of its citations that answer the question."""
        from knowledge import highlight  # noqa: PLC0415 - highlight builds on this module

        found = highlight.highlights(self, question, cites, qvec=qvec)
        return Answer(True, highlight.answer_message(question, cites, found), cites, highlights=found)

    def ranked(self, ranking: Ranking, k: int | None = None) -> list[Citation]:
        """The k best clauses of a ranking already computed (all of them when k is None), best first."""
        return [self._citation(int(i), float(ranking.combined[i])) for i in ranking.order[:k]]

    def search(self, question: str, k: int = 5) -> list[Citation]:
        """The k best clauses for a question, with no refusal logic (for evaluation and the reader)."""
        text = clean_question(question)
        if not text or not self.index.clauses:
            return []
        return self.ranked(self._ranking(text), k)


def content_pieces(pieces: list[str], vectors: np.ndarray) -> np.ndarray:
    """The vectors of the whole-word pieces that are not stop words (continuations "##ing" and punctuation left
    out, as measured for SearchConfig.token_weight)."""
    keep = [i for i, piece in enumerate(pieces) if piece.isalnum() and piece not in STOPWORDS]
    return vectors[keep] if keep else vectors[:0]


def question_parts(text: str, min_words: int = 3) -> list[str]:
    """The parts of a compound question split at commas, semicolons and question marks ("i think X, who do i
    tell"); none for a single-part question."""
    parts = [p.strip() for p in re.split(r"[,;?!]+|\s[-–—]\s", text) if p.strip()]
    parts = [p for p in parts if len(_words(p)) >= min_words]
    return parts if len(parts) >= 2 else []


def normalise_question(text: str) -> str:
    """The key a question is logged and linked under: lower case, words only."""
    return " ".join(re.findall(r"[a-z0-9]+", clean_question(text).lower()))
