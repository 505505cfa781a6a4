"""Benchmark retrieval: `python -m knowledge.bench` prints figures (no assertions).

For every evaluation set (data/eval/sets.yml; dev = tuned on, test = only reported) it prints, side by side, the
search on the set's policy alone, the same questions in one library of all policies of that split (a hit must come
from the right policy), and the plain 400-character chunk-and-embed baseline; then ingest time, index size, warm
query latency on a library of exactly 20 policies (the 19-policy dev library and a renamed copy of its first policy;
wall and CPU, split into embed / search / highlight / other), how query time grows with 10/100/1,000 policies
(synthetic copies), and peak RSS. `--split test` (or `all`) includes the test sets: run them rarely, and never tune on what they say.

`python -m knowledge.bench --fit-oos` instead refits the out-of-scope decision (data/retrieval/oos.yml) on the dev
sets only (each policy alone and in the dev library) and prints the coefficients to paste into that file.
"""
from __future__ import annotations

import argparse
import copy
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from knowledge.encoder import load_encoder
from knowledge.evaluate import EvalSet, dev_library, eval_sets, evaluate
from knowledge.index import PolicyIndex, ingest, load
from knowledge.search import Lexicon, OutOfScope, Searcher, clean_question
from knowledge.settings import ROOT, get_settings

SOCIAL = ROOT / "data" / "policies" / "social-media-policy.md"
OOS_FEATURES = ("dense", "anchor", "coverage", "topic", "lift", "topicgap", "qlift")


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())


def ingest_exactly(paths: list[Path], directory: Path, encoder) -> PolicyIndex:
    """Ingest policies into a reused --work folder and load it, holding exactly those policies: ingest adds to an
    index (as an upload does), so a policy dropped or renamed since the last run would otherwise stay in it."""
    from knowledge.parser import policy_id_for  # noqa: PLC0415

    ingest(paths, directory, encoder)
    index = load(directory)
    if set(index.policies) != {policy_id_for(p) for p in paths}:
        shutil.rmtree(directory)
        ingest(paths, directory, encoder)
        index = load(directory)
    return index


def _searcher(index: PolicyIndex, encoder, settings) -> Searcher:
    # quality runs ask and then search the same question: a cache spares the second encode (timing uses the raw one)
    from knowledge.tune import CachedEncoder  # noqa: PLC0415

    encoder = encoder if isinstance(encoder, CachedEncoder) else CachedEncoder(encoder)
    return Searcher(index, encoder, lexicon=Lexicon.load(settings.lexicon_path), max_chars=settings.max_question_chars)


def oos_features(searcher: Searcher, question: str) -> dict[str, float]:
    """The features the out-of-scope decision sees for one question."""
    return searcher.oos_features(searcher._ranking(clean_question(question)))


def feature_rows(cases: list[tuple[Searcher, EvalSet, bool]]) -> list[dict]:
    """The out-of-scope features of every dev question in every case (each policy alone, and in the library)."""
    out = []
    for searcher, item, library in cases:
        if item.split != "dev":
            raise ValueError(f"refusing to fit on {item.name}: it is a {item.split} set")
        data = [r for r in item.rows() if not (library and r.get("other_policy"))]
        n_oos = sum(1 for r in data if r.get("oos")) or 1
        n_in = (len(data) - n_oos) or 1
        for row in data:
            out.append({"set": item.name, "policy": " ".join(str(p) for p in item.policies), "library": library,
                        "features": oos_features(searcher, row["q"]),
                        "label": 0 if row.get("oos") else 1,
                        "weight": 1.0 / (n_oos if row.get("oos") else n_in)})
    return out


def fit_rows(rows: list[dict], features: tuple[str, ...], c: float = 1000.0, topic_cap: float = 0.5) -> dict[str, float]:
    """Fit the out-of-scope decision (scikit-learn logistic regression) on feature rows, each class of each case
    weighted equally."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    x = np.array([[min(r["features"][k], topic_cap) if k == "topic" else r["features"][k] for k in features]
                  for r in rows])
    model = LogisticRegression(C=c, max_iter=1000)
    model.fit(x, np.array([r["label"] for r in rows]), sample_weight=np.array([r["weight"] for r in rows]))
    out = {"bias": round(float(model.intercept_[0]), 3)}
    out.update({k: round(float(b), 3) for k, b in zip(features, model.coef_[0])})
    out["topic_cap"] = topic_cap
    return out


def _refused(decision: OutOfScope, rows: list[dict], threshold: float) -> tuple[float, float]:
    """(off-topic refused, in-scope refused) shares of some feature rows under a decision."""
    refused = [(decision.probability(**{k: r["features"][k] for k in OOS_FEATURES}) < threshold, r["label"])
               for r in rows]
    off = [x for x, label in refused if label == 0]
    inn = [x for x, label in refused if label == 1]
    return float(np.mean(off)) if off else float("nan"), float(np.mean(inn)) if inn else float("nan")


def cross_validate(rows: list[dict], features: tuple[str, ...], c: float, topic_cap: float,
                   threshold: float = 0.5) -> list[tuple[str, str, float, float]]:
    """Leave-one-policy-out: fit on the sets of every other dev policy, score each held-out set's questions (alone
    and in the library). Returns (set, case, off-topic refused, in-scope refused) — how the decision does on a
    policy it was not fitted on, which is what a school's new policy is. Sets on the same policy are held out
    together (social-media and social-media-dev2 would otherwise train on each other's policy)."""
    out = []
    for held in dict.fromkeys(r.get("policy", r["set"]) for r in rows):
        decision = OutOfScope(**fit_rows([r for r in rows if r.get("policy", r["set"]) != held], features, c,
                                         topic_cap), threshold=threshold)
        for name in dict.fromkeys(r["set"] for r in rows if r.get("policy", r["set"]) == held):
            for library in (False, True):
                part = [r for r in rows if r["set"] == name and r["library"] == library]
                out.append((name, "library" if library else "alone", *_refused(decision, part, threshold)))
    return out


def refused_lines(searcher: Searcher, rows: list[dict]) -> list[str]:
    """One line per in-scope question the searcher refuses: P(in scope), the features, and the nearest anchor
    question (what the decision saw; for finding the causes of in-scope refusals on dev)."""
    return _decision_lines(searcher, [r for r in rows if not r.get("oos")], answered=False)


def answered_lines(searcher: Searcher, rows: list[dict], *, library: bool = False) -> list[str]:
    """One line per off-topic question the searcher answers (the mirror of refused_lines): P(in scope), the features,
    the nearest anchor question and the clause it would cite (for finding why off-topic questions get through)."""
    wanted = [r for r in rows if r.get("oos") and not (library and r.get("other_policy"))]
    return _decision_lines(searcher, wanted, answered=True)


def _decision_lines(searcher: Searcher, rows: list[dict], *, answered: bool) -> list[str]:
    """A line for each row whose out-of-scope decision is `answered`: P(in scope), its features, the question, the
    clause cited (answered) and the nearest anchor question."""
    from knowledge.search import RETRIEVAL_DIR, load_anchors  # noqa: PLC0415

    anchors = load_anchors(RETRIEVAL_DIR / "anchors.yml")
    out = []
    for row in rows:
        ranking = searcher._ranking(clean_question(row["q"]))
        ok, p = searcher.in_scope(ranking)
        if ok != answered:
            continue
        f = searcher.oos_features(ranking)
        nearest = anchors[int(np.argmax(searcher._anchors @ ranking.qvec))] if anchors else "-"
        best = searcher.index.clauses[int(ranking.order[0])]
        cites = f" | cites {best.policy}:{best.clause}" if answered else ""
        out.append(f"{'answered' if answered else 'refused'} p={p:.2f} anchor={f['anchor']:.2f} "
                   f"topicgap={f['topicgap']:.2f} lift={f['lift']:.2f} qlift={f['qlift']:.2f} dense={f['dense']:.2f} "
                   f"topic={f['topic']:.2f} | {row['q']}{cites} | nearest anchor: {nearest}")
    return out


def tie_figures(library: Searcher, item: EvalSet, margin: float,
                choices: int | None = None) -> tuple[float, float, float, float]:
    """One dev set in the library with the which-policy prompt at `margin` (offering at least `choices` policies):
    (first-policy, policy offered, prompt share, share of prompts given when the first citation was from another
    policy, i.e. a prompt that was needed)."""
    result = evaluate(library, item.rows(), policies=set(item.policy_ids), tie=margin, choices=choices)
    own = set(item.policy_ids)
    prompts = [q for q in result["questions"] if "choice" in q]
    needed = [q for q in prompts if q["top"] and q["top"][0].split(":", 1)[0] not in own]
    return (result["first_policy"], result["policy_offered"], result["policy_prompt"],
            len(needed) / len(prompts) if prompts else float("nan"))


def replicate(index: PolicyIndex, copies: int, *, seed: int = 0) -> PolicyIndex:
    """A synthetic library: `copies` renamed copies of every policy, vectors jittered so none are identical."""
    rng = np.random.default_rng(seed)
    clauses, owners, vectors, kinds, policies = [], [], [], [], {}
    n = len(index.clauses)
    for i in range(copies):
        suffix = f"-copy{i}" if i else ""
        for key, meta in index.policies.items():
            policies[key + suffix] = dict(meta, title=f"{meta.get('title', key)}{suffix}")
        for clause in index.clauses:
            twin = copy.copy(clause)
            twin.policy = clause.policy + suffix
            clauses.append(twin)
        owners.append(index.owners + i * n)
        jitter = index.vectors + rng.normal(0, 0.01, index.vectors.shape).astype(np.float32) if i else index.vectors
        vectors.append(jitter / np.linalg.norm(jitter, axis=1, keepdims=True))
        kinds.append(index.kinds)
    # copies share their clauses' texts, so the stored highlight vectors and clause pieces serve every copy
    spans = None if index.piece_spans is None else np.tile(index.piece_spans, (copies, 1))
    return PolicyIndex(policies, clauses, np.vstack(vectors).astype(np.float32), np.concatenate(owners),
                       index.model, index.dim, kinds=np.concatenate(kinds), unit_texts=list(index.unit_texts),
                       unit_vectors=index.unit_vectors, unit_spans=index.unit_spans, units_version=index.units_version,
                       piece_vectors=index.piece_vectors, piece_spans=spans, pieces_version=index.pieces_version)


def library_of(index: PolicyIndex, size: int) -> PolicyIndex:
    """A synthetic library of exactly `size` policies: the first `size` of replicate(index, enough copies), so the
    index's own policies first, then renamed copies in the same order (a 20-policy library from the 19-policy dev
    library adds a copy of its first policy, the Social Media policy)."""
    whole = replicate(index, -(-size // max(1, len(index.policies))))
    keep = list(whole.policies)[:size]
    wanted = set(keep)
    rows = np.array([i for i, c in enumerate(whole.clauses) if c.policy in wanted], dtype=np.int64)
    renumber = np.full(len(whole.clauses), -1, dtype=np.int64)
    renumber[rows] = np.arange(len(rows))
    vectors = renumber[whole.owners] >= 0
    return PolicyIndex({k: whole.policies[k] for k in keep}, [whole.clauses[i] for i in rows],
                       whole.vectors[vectors], renumber[whole.owners[vectors]], whole.model, whole.dim,
                       kinds=whole.kinds[vectors], unit_texts=list(whole.unit_texts), unit_vectors=whole.unit_vectors,
                       unit_spans=whole.unit_spans, units_version=whole.units_version,
                       piece_vectors=whole.piece_vectors,
                       piece_spans=None if whole.piece_spans is None else whole.piece_spans[rows],
                       pieces_version=whole.pieces_version)


STAGES = ("embed", "search", "highlight", "other")


class _Clock:
    """Wall and CPU (this thread's) milliseconds spent in each stage of the asks being timed."""

    def __init__(self):
        self.wall = dict.fromkeys(STAGES, 0.0)
        self.cpu = dict.fromkeys(STAGES, 0.0)

    def timed(self, stage: str, fn, *args, **kwargs):
        """Run fn, adding its time to `stage` and taking it out of the stage around it (embed inside search)."""
        wall, cpu = time.perf_counter(), time.thread_time()
        out = fn(*args, **kwargs)
        wall, cpu = (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000
        self.wall[stage] += wall
        self.cpu[stage] += cpu
        return out, wall, cpu


class _TimedEncoder:
    """The encoder with its calls clocked as the embed stage (everything else passes through): the sentence vectors,
    and the token embeddings of the token match (a hit on the question's, or a run for clauses met the first time)."""

    def __init__(self, encoder, clock: _Clock):
        self._encoder, self._clock = encoder, clock
        self.calls = self.texts = 0
        if hasattr(encoder, "token_vectors"):  # the hashing encoder has none, and the searcher checks
            self.token_vectors = self._token_vectors

    def __getattr__(self, name):
        return getattr(self._encoder, name)

    def encode(self, texts, **kwargs):
        """Embed texts, clocked."""
        self.calls += 1
        self.texts += len(texts)
        return self._clock.timed("embed", self._encoder.encode, texts, **kwargs)[0]

    def _token_vectors(self, texts):
        """Token embeddings of texts, clocked."""
        return self._clock.timed("embed", self._encoder.token_vectors, texts)[0]


class TimedSearcher(Searcher):
    """A Searcher that clocks each ask's stages: embed (every encoder call), search (ranking, refusal and
    citations without the embedding), highlight (picking the sentences, without any embedding), other."""

    def __init__(self, index: PolicyIndex, encoder, **kwargs):
        self.clock = _Clock()
        super().__init__(index, _TimedEncoder(encoder, self.clock), **kwargs)

    def _inner(self, stage: str, fn, *args, **kwargs):
        embed_wall, embed_cpu = self.clock.wall["embed"], self.clock.cpu["embed"]
        out, wall, cpu = self.clock.timed(stage, fn, *args, **kwargs)
        self.clock.wall[stage] -= self.clock.wall["embed"] - embed_wall
        self.clock.cpu[stage] -= self.clock.cpu["embed"] - embed_cpu
        return out

    def _ranking(self, question):
        return self._inner("search", super()._ranking, question)

    def _answer(self, question, cites, qvec=None):
        return self._inner("highlight", super()._answer, question, cites, qvec)

    def ask(self, question: str):
        """Ask, clocking the whole ask; what no other stage took is `other`."""
        before = dict(self.clock.wall), dict(self.clock.cpu)
        out = self.clock.timed("other", super().ask, question)[0]
        for spent, start in ((self.clock.wall, before[0]), (self.clock.cpu, before[1])):
            # `timed` added the whole ask to `other`: keep only what the other stages did not take
            spent["other"] -= sum(spent[k] - start[k] for k in STAGES if k != "other")
        return out


def _latency(searcher: Searcher, questions: list[str], *, new: bool = True) -> dict:
    """Timings of `ask` over the questions: p50/p95 ms wall and CPU, and with a TimedSearcher the per-stage split
    (each stage's p50/p95 ms and share of the total). new=True times each question as never seen (the encoder's
    recent-question memory is cleared first), new=False as asked again (encoder memory hit)."""
    searcher.ask("warm up")
    forget = getattr(searcher.encoder, "forget", lambda: None)
    clock = getattr(searcher, "clock", None)
    wall, cpu, stages = [], [], {k: [] for k in STAGES}
    calls = texts = runs = 0
    for q in questions:
        if new:
            forget()
        else:
            searcher.ask(q)
        spent = dict(clock.wall) if clock else {}
        calls0, texts0 = getattr(searcher.encoder, "calls", 0), getattr(searcher.encoder, "texts", 0)
        runs0 = getattr(searcher.encoder, "runs", 0)
        begin, begin_cpu = time.perf_counter(), time.thread_time()
        searcher.ask(q)
        wall.append((time.perf_counter() - begin) * 1000)
        cpu.append((time.thread_time() - begin_cpu) * 1000)
        calls += getattr(searcher.encoder, "calls", 0) - calls0
        texts += getattr(searcher.encoder, "texts", 0) - texts0
        runs += getattr(searcher.encoder, "runs", 0) - runs0
        for k in STAGES if clock else ():
            stages[k].append(clock.wall[k] - spent[k])
    out = {"p50": float(np.percentile(wall, 50)), "p95": float(np.percentile(wall, 95)),
           "cpu_p50": float(np.percentile(cpu, 50)), "cpu_p95": float(np.percentile(cpu, 95)),
           "calls": calls / len(questions), "texts": texts / len(questions), "runs": runs / len(questions)}
    if clock:
        total = sum(wall) or 1.0
        out["stages"] = {k: (float(np.percentile(v, 50)), float(np.percentile(v, 95)), sum(v) / total)
                         for k, v in stages.items()}
    return out


def _fmt_latency(t: dict) -> str:
    line = (f"p50 {t['p50']:.1f} ms  p95 {t['p95']:.1f} ms (CPU p50 {t['cpu_p50']:.1f}  p95 {t['cpu_p95']:.1f}); "
            f"{t['calls']:.2f} encoder calls, {t['texts']:.1f} texts, {t['runs']:.2f} model runs per ask")
    if "stages" in t:
        line += "\n    stages p50/p95 ms (share): " + "  ".join(
            f"{k} {p50:.1f}/{p95:.1f} ({share:.0%})" for k, (p50, p95, share) in t["stages"].items())
    return line


def _fmt(r: dict, library: bool = False) -> str:
    oos, first = _pct(r.get("oos_refused")), _pct(r.get("first_policy"))
    line = (f"R@1 {r['recall@1']:.2f} R@3 {r['recall@3']:.2f} R@5 {r['recall@5']:.2f} MRR {r['mrr']:.2f} "
            f"off-topic refused {oos:>4} in-scope refused {r['in_scope_refused']:.0%} first-policy {first:>4}")
    if library and r.get("policy_offered") is not None:
        # strict first citation beside: the right policy among those shown (citations or choice buttons)
        line += f" offered {r['policy_offered']:.0%} choice-prompt {r['policy_prompt']:.0%}"
    if library and r.get("oos_answered_other") is not None:
        # alone every off-topic answer comes from the set's own policy; a library adds the other policies' answers
        line += (f"\n           off-topic answered from its own policy {r['oos_answered_own']:.0%}, "
                 f"from another policy {r['oos_answered_other']:.0%}")
    if library and r.get("n_shared"):
        # the blind audit (data/eval/*/AUDIT.md): questions another school's policy answers as directly
        line += (f"\n           first-policy, own or an equally answering policy {r['first_policy_any']:.0%}; "
                 f"on the {r['n_single']} answered that only its own answers "
                 f"{_pct(r['first_policy_single'])}")
    if library and r.get("n_elsewhere"):
        line += (f"\n           off-topic for its policy but answered by another ({r['n_elsewhere']}): answered from "
                 f"that policy {r['elsewhere_right']:.0%}")
    return line


def _pct(value: float | None) -> str:
    return "  -" if value is None else f"{value:.0%}"


MEAN_KEYS = (("recall@1", "R@1", ".2f"), ("recall@3", "R@3", ".2f"), ("oos_refused", "off-topic refused", ".0%"),
             ("oos_answered_own", "off-topic answered from own policy", ".0%"),
             ("oos_answered_other", "from another", ".0%"), ("in_scope_refused", "in-scope refused", ".0%"),
             ("first_policy", "first-policy", ".0%"),
             ("first_policy_any", "first-policy own-or-equal", ".0%"),
             ("first_policy_single", "first-policy only-own", ".0%"), ("policy_offered", "offered", ".0%"),
             ("elsewhere_right", "answered-elsewhere right", ".0%"))


def mean_lines(results: dict[tuple[str, str], list[dict]]) -> list[str]:
    """One line per (split, alone/library): the mean of each figure over the sets that have it."""
    lines = []
    for (split, case), rows in sorted(results.items()):
        parts = []
        for key, label, spec in MEAN_KEYS:
            values = [r[key] for r in rows if r.get(key) is not None]
            if values and not (case == "alone" and key in ("first_policy", "policy_offered", "oos_answered_other")):
                parts.append(f"{label} {format(float(np.mean(values)), spec)}")
        lines.append(f"  {split} {case} ({len(rows)} sets): " + "  ".join(parts))
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m knowledge.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model name or folder (default from settings)")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev", help="which evaluation sets")
    parser.add_argument("--scale", default="10,100,1000", help="library sizes (policies) for the timing curve; '' skips")
    parser.add_argument("--no-baseline", action="store_true", help="skip the chunk-and-embed baseline")
    parser.add_argument("--no-library", action="store_true", help="skip the one-library figures")
    parser.add_argument("--no-distractors", action="store_true",
                        help="dev library without the distractor policies (sets.yml dev_library_distractors)")
    parser.add_argument("--timing-only", action="store_true", help="skip the quality figures (latency and scaling only)")
    parser.add_argument("--no-timing", action="store_true", help="skip the latency and scaling figures")
    parser.add_argument("--work", help="keep the indexes in this folder and reuse them (ingest skips unchanged ones)")
    parser.add_argument("--fit-oos", action="store_true", help="refit the out-of-scope decision on dev and print it")
    parser.add_argument("--features", default="dense,anchor,topic", help="features for --fit-oos")
    parser.add_argument("--c", type=float, default=30.0,
                        help="inverse L2 strength for --fit-oos (30: chosen by leave-one-policy-out CV, oos.yml)")
    parser.add_argument("--topic-cap", type=float, default=0.5, help="topic coverage cap for --fit-oos")
    parser.add_argument("--refused", action="store_true",
                        help="list every in-scope question refused alone, with its out-of-scope features")
    parser.add_argument("--answered", action="store_true",
                        help="list every off-topic question answered (alone and in the library), with its features")
    parser.add_argument("--tie-curve", default="",
                        help="comma-separated margins for the which-policy prompt (followup.POLICY_TIE): print the dev "
                             "library's first-policy, policy offered and prompt share for each, then stop")
    parser.add_argument("--tie-choices", default="3",
                        help="with --tie-curve: comma-separated least numbers of policies the prompt offers")
    parser.add_argument("--cv-threshold", type=float, default=0.4,
                        help="with --cv: the threshold whose per-policy figures are printed (data/retrieval/oos.yml's)")
    parser.add_argument("--cv", action="store_true",
                        help="with --fit-oos: leave-one-policy-out figures for each ';'-separated feature set")
    args = parser.parse_args(argv)
    settings = get_settings()
    if (args.refused or args.answered or args.tie_curve) and args.split != "dev":
        parser.error("--refused, --answered and --tie-curve read per-question results: dev split only")
    if args.tie_curve and args.no_library:
        parser.error("--tie-curve measures the dev library")
    if args.fit_oos:
        args.split = "dev"
    sets = eval_sets(None if args.split == "all" else args.split)

    start = time.perf_counter()
    encoder = load_encoder(args.model or settings.model)
    print(f"model: {encoder.name}  (load {time.perf_counter() - start:.1f} s)")

    with tempfile.TemporaryDirectory(prefix="policy-coach-bench-") as tmp:
        tmp = args.work or tmp
        alone: dict[str, Searcher] = {}
        for item in sets:
            directory = Path(tmp) / f"alone-{item.name}"
            start = time.perf_counter()
            ingest(item.policies, directory, encoder)
            took = time.perf_counter() - start
            index = load(directory)
            print(f"ingest {item.name} [{item.split}]: {took:.2f} s, {len(index.clauses)} clauses, "
                  f"{len(index.owners)} vectors, index {_size(directory) / 1024:.0f} KiB on disk")
            alone[item.name] = _searcher(index, encoder, settings)

        libraries: dict[str, Searcher] = {}
        if not args.no_library or args.fit_oos:
            for split in sorted({s.split for s in sets}):
                if split == "dev":
                    paths = dev_library(sets, distractors=not args.no_distractors)
                else:
                    paths = list(dict.fromkeys([p for s in sets if s.split == split for p in s.policies] + [SOCIAL]))
                directory = Path(tmp) / f"library-{split}{'-small' if split == 'dev' and args.no_distractors else ''}"
                start = time.perf_counter()
                libraries[split] = _searcher(ingest_exactly(paths, directory, encoder), encoder, settings)
                print(f"{split} library: {len(paths)} policies, {len(libraries[split].index.clauses)} clauses, "
                      f"ingest {time.perf_counter() - start:.1f} s")

        if args.fit_oos:
            cases = [(alone[s.name], s, False) for s in sets] + [(libraries["dev"], s, True) for s in sets]
            rows = feature_rows(cases)
            if args.cv:
                for spec in args.features.split(";"):
                    features = tuple(spec.split(","))
                    print(f"leave-one-policy-out, features {spec}:")
                    for threshold in sorted({0.3, 0.35, 0.4, 0.45, 0.5, 0.6, args.cv_threshold}):
                        results = cross_validate(rows, features, args.c, args.topic_cap, threshold)
                        if threshold == args.cv_threshold:
                            for held, case, off, inn in results:
                                print(f"  {held[:38]:<39}{case:<9} off-topic refused {off:>5.0%}  "
                                      f"in-scope refused {inn:>5.0%}")
                        print(f"  threshold {threshold}: mean off-topic refused "
                              f"{np.nanmean([r[2] for r in results]):.1%}, in-scope refused "
                              f"{np.nanmean([r[3] for r in results]):.1%}; worst held-out case "
                              f"{np.nanmin([r[2] for r in results]):.0%} / {np.nanmax([r[3] for r in results]):.0%}")
                return 0
            fitted = fit_rows(rows, tuple(args.features.split(",")), args.c, args.topic_cap)
            print("default:  # fitted on dev: " + ", ".join(s.name for s in sets) + " (alone and in the dev library)")
            for key, value in fitted.items():
                print(f"  {key}: {value}")
            decision = OutOfScope(**fitted)
            for threshold in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6):  # on the feature rows it was fitted on
                line = []
                for library in (False, True):
                    for item in sets:
                        part = [r for r in rows if r["set"] == item.name and r["library"] == library]
                        off, inn = _refused(decision, part, threshold)
                        line.append(f"{item.name}/{'library' if library else 'alone'}: off {off:.0%} in {inn:.0%}")
                print(f"  threshold {threshold:.2f}  " + "  ".join(line))
            return 0

        if args.tie_curve:
            print("which-policy prompt margin (dev library, mean of the dev sets): first-policy / policy offered / "
                  "prompt / share of prompts where the first citation was from another policy")
            for choices in [int(x) for x in args.tie_choices.split(",") if x.strip()]:
                for margin in [float(x) for x in args.tie_curve.split(",") if x.strip()]:
                    figures = [tie_figures(libraries["dev"], item, margin, choices) for item in sets]
                    first, offered, prompt, needed = np.nanmean(np.array(figures, dtype=float), axis=0)
                    print(f"  margin {margin:.3f}, {choices} choices: first-policy {first:.1%}  offered {offered:.1%}"
                          f"  prompt {prompt:.1%}  needed {needed:.0%}")
            return 0

        print("\nquality (dev = tuned on; test = never tuned on)")
        figures: dict[tuple[str, str], list[dict]] = {}
        for item in [] if args.timing_only else sets:
            rows = item.rows()
            print(f"{item.name} [{item.split}] ({sum(not r.get('oos') for r in rows)} in scope, "
                  f"{sum(bool(r.get('oos')) for r in rows)} off-topic)")
            result = evaluate(alone[item.name], rows)
            figures.setdefault((item.split, "alone"), []).append(result)
            print(f"  alone    {_fmt(result)}")
            if args.refused:
                for line in refused_lines(alone[item.name], rows):
                    print(f"    {line}")
            if args.answered:
                for line in answered_lines(alone[item.name], rows):
                    print(f"    {line}")
            if item.split in libraries:
                lib = libraries[item.split]
                result = evaluate(lib, rows, policies=set(item.policy_ids))
                figures.setdefault((item.split, "library"), []).append(result)
                print(f"  library  {_fmt(result, library=True)}  ({len(lib.index.policies)} policies)")
                if args.answered:
                    for line in answered_lines(lib, rows, library=True):
                        print(f"    {line}")
            if not args.no_baseline:
                from knowledge.baseline import ChunkBaseline  # noqa: PLC0415

                b = ChunkBaseline(item.policies, encoder).evaluate(rows)
                print(f"  baseline R@1 {b['recall@1']:.2f} R@3 {b['recall@3']:.2f} R@5 {b['recall@5']:.2f} "
                      f"MRR {b['mrr']:.2f}  (400-char chunks, {b['chunks']} chunks, never refuses)")

        if figures:
            print("\nmeans of the sets")
            print("\n".join(mean_lines(figures)))
        if args.no_timing:
            return 0
        questions = [r["q"] for s in sets for r in s.rows()]
        base = next(iter(libraries.values()), None) or next(iter(alone.values()))
        lexicon = Lexicon.load(settings.lexicon_path)
        # uncached encoder: real timing, on a library of exactly 20 policies (issue 11)
        twenty = TimedSearcher(library_of(base.index, 20), encoder, lexicon=lexicon)
        questions = questions[:: max(1, len(questions) // 150)]
        start = time.perf_counter()
        warmed = twenty.warm_tokens()  # as the action server's warm-up does before the first user
        print(f"token match warm-up: {warmed} clauses in {time.perf_counter() - start:.1f} s")
        busy = os.getloadavg()[0]
        fresh = _latency(twenty, questions)
        again = _latency(twenty, questions, new=False)
        print(f"\nwarm query latency, {len(twenty.index.policies)}-policy library "
              f"({len(twenty.index.owners)} vectors), {len(questions)} asks, load average {busy:.1f} → "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:\n  new question      {_fmt_latency(fresh)}\n"
              f"  same again        {_fmt_latency(again)}")
        for size in [int(x) for x in args.scale.split(",") if x.strip()]:
            start = time.perf_counter()
            big = TimedSearcher(library_of(base.index, size), encoder, lexicon=lexicon)
            built = time.perf_counter() - start
            t = _latency(big, questions[:60])
            kind = type(big.index.faiss_index).__name__
            print(f"library of {len(big.index.policies):>5} policies ({len(big.index.owners):>7} vectors, {kind}): "
                  f"query {_fmt_latency(t)}  (index+searcher build {built:.1f} s)")
            del big

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"peak RSS: {peak / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
