"""Benchmark retrieval: `python -m knowledge.bench` prints figures (no assertions).

For every evaluation set (data/eval/sets.yml; dev = tuned on, test = only reported) it prints, side by side, the
search on the set's policy alone, the same questions in one library of all policies of that split (a hit must come
from the right policy), and the plain 400-character chunk-and-embed baseline; then ingest time, index size, warm
query latency on a 20-policy library, how query time grows with 10/100/1,000 policies (synthetic copies), and peak
RSS. `--split test` (or `all`) includes the test sets: run them rarely, and never tune on what they say.

`python -m knowledge.bench --fit-oos` instead refits the out-of-scope decision (data/retrieval/oos.yml) on the dev
sets only (each policy alone and in the dev library) and prints the coefficients to paste into that file.
"""
from __future__ import annotations

import argparse
import copy
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from knowledge.encoder import load_encoder
from knowledge.evaluate import EvalSet, dev_library_extra, eval_sets, evaluate
from knowledge.index import PolicyIndex, ingest, load
from knowledge.search import Lexicon, OutOfScope, Searcher, clean_question
from knowledge.settings import ROOT, get_settings

SOCIAL = ROOT / "data" / "policies" / "social-media-policy.md"
OOS_FEATURES = ("dense", "anchor", "coverage", "topic", "lift", "topicgap")


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())


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
            out.append({"set": item.name, "library": library, "features": oos_features(searcher, row["q"]),
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
    """Leave-one-policy-out: fit on every other dev set, score the held-out set's questions (alone and in the
    library). Returns (set, case, off-topic refused, in-scope refused) — how the decision does on a policy it
    was not fitted on, which is what a school's new policy is."""
    out = []
    for held in dict.fromkeys(r["set"] for r in rows):
        decision = OutOfScope(**fit_rows([r for r in rows if r["set"] != held], features, c, topic_cap),
                              threshold=threshold)
        for library in (False, True):
            part = [r for r in rows if r["set"] == held and r["library"] == library]
            out.append((held, "library" if library else "alone", *_refused(decision, part, threshold)))
    return out


def refused_lines(searcher: Searcher, rows: list[dict]) -> list[str]:
    """One line per in-scope question the searcher refuses: P(in scope), the features, and the nearest anchor
    question (what the decision saw; for finding the causes of in-scope refusals on dev)."""
    from knowledge.search import RETRIEVAL_DIR, load_anchors  # noqa: PLC0415

    anchors = load_anchors(RETRIEVAL_DIR / "anchors.yml")
    out = []
    for row in rows:
        if row.get("oos"):
            continue
        ranking = searcher._ranking(clean_question(row["q"]))
        ok, p = searcher.in_scope(ranking)
        if ok:
            continue
        f = searcher.oos_features(ranking)
        nearest = anchors[int(np.argmax(searcher._anchors @ ranking.qvec))] if anchors else "-"
        out.append(f"refused p={p:.2f} anchor={f['anchor']:.2f} topicgap={f['topicgap']:.2f} lift={f['lift']:.2f} "
                   f"dense={f['dense']:.2f} | {row['q']} | nearest anchor: {nearest}")
    return out


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
    return PolicyIndex(policies, clauses, np.vstack(vectors).astype(np.float32), np.concatenate(owners),
                       index.model, index.dim, kinds=np.concatenate(kinds))


def _latency(searcher: Searcher, questions: list[str], *, new: bool = True) -> tuple[float, float]:
    """p50/p95 ms of `ask`; new=True times each question as never seen (the encoder's recent-question memory is
    cleared first), new=False as asked again (encoder memory hit: what a repeated or highlighted question costs)."""
    searcher.ask("warm up")
    forget = getattr(searcher.encoder, "forget", lambda: None)
    times = []
    for q in questions:
        if new:
            forget()
        else:
            searcher.ask(q)
        begin = time.perf_counter()
        searcher.ask(q)
        times.append((time.perf_counter() - begin) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def _fmt(r: dict, library: bool = False) -> str:
    oos = f"{r['oos_refused']:.0%}" if r.get("oos_refused") is not None else "  -"
    first = f"{r['first_policy']:.0%}" if r.get("first_policy") is not None else "  -"
    line = (f"R@1 {r['recall@1']:.2f} R@3 {r['recall@3']:.2f} R@5 {r['recall@5']:.2f} MRR {r['mrr']:.2f} "
            f"off-topic refused {oos:>4} in-scope refused {r['in_scope_refused']:.0%} first-policy {first:>4}")
    if library and r.get("policy_offered") is not None:
        # strict first citation beside: the right policy among those shown (citations or choice buttons)
        line += f" offered {r['policy_offered']:.0%} choice-prompt {r['policy_prompt']:.0%}"
    return line


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m knowledge.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model name or folder (default from settings)")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev", help="which evaluation sets")
    parser.add_argument("--scale", default="10,100,1000", help="library sizes (policies) for the timing curve; '' skips")
    parser.add_argument("--no-baseline", action="store_true", help="skip the chunk-and-embed baseline")
    parser.add_argument("--no-library", action="store_true", help="skip the one-library figures")
    parser.add_argument("--timing-only", action="store_true", help="skip the quality figures (latency and scaling only)")
    parser.add_argument("--work", help="keep the indexes in this folder and reuse them (ingest skips unchanged ones)")
    parser.add_argument("--fit-oos", action="store_true", help="refit the out-of-scope decision on dev and print it")
    parser.add_argument("--features", default="dense,anchor,topic", help="features for --fit-oos")
    parser.add_argument("--c", type=float, default=1000.0, help="inverse L2 strength for --fit-oos")
    parser.add_argument("--topic-cap", type=float, default=0.5, help="topic coverage cap for --fit-oos")
    parser.add_argument("--refused", action="store_true",
                        help="list every in-scope question refused alone, with its out-of-scope features")
    parser.add_argument("--cv", action="store_true",
                        help="with --fit-oos: leave-one-policy-out figures for each ';'-separated feature set")
    args = parser.parse_args(argv)
    settings = get_settings()
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
                paths = list(dict.fromkeys(p for s in sets if s.split == split for p in s.policies))
                paths += dev_library_extra() if split == "dev" else [SOCIAL]
                paths = list(dict.fromkeys(paths))
                directory = Path(tmp) / f"library-{split}"
                start = time.perf_counter()
                ingest(paths, directory, encoder)
                libraries[split] = _searcher(load(directory), encoder, settings)
                print(f"{split} library: {len(paths)} policies, {len(libraries[split].index.clauses)} clauses, "
                      f"ingest {time.perf_counter() - start:.1f} s")

        if args.fit_oos:
            cases = [(alone[s.name], s, False) for s in sets] + [(libraries["dev"], s, True) for s in sets]
            rows = feature_rows(cases)
            if args.cv:
                for spec in args.features.split(";"):
                    features = tuple(spec.split(","))
                    print(f"leave-one-policy-out, features {spec}:")
                    for threshold in (0.3, 0.4, 0.5, 0.6):
                        results = cross_validate(rows, features, args.c, args.topic_cap, threshold)
                        if threshold == 0.5:
                            for held, case, off, inn in results:
                                print(f"  {held[:38]:<39}{case:<9} off-topic refused {off:>5.0%}  "
                                      f"in-scope refused {inn:>5.0%}")
                        print(f"  threshold {threshold}: mean off-topic refused "
                              f"{np.nanmean([r[2] for r in results]):.0%}, in-scope refused "
                              f"{np.nanmean([r[3] for r in results]):.0%}")
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

        print("\nquality (dev = tuned on; test = never tuned on)")
        for item in [] if args.timing_only else sets:
            rows = item.rows()
            print(f"{item.name} [{item.split}] ({sum(not r.get('oos') for r in rows)} in scope, "
                  f"{sum(bool(r.get('oos')) for r in rows)} off-topic)")
            print(f"  alone    {_fmt(evaluate(alone[item.name], rows))}")
            if args.refused:
                for line in refused_lines(alone[item.name], rows):
                    print(f"    {line}")
            if item.split in libraries:
                lib = libraries[item.split]
                print(f"  library  {_fmt(evaluate(lib, rows, policies=set(item.policy_ids)), library=True)}"
                      f"  ({len(lib.index.policies)} policies)")
            if not args.no_baseline:
                from knowledge.baseline import ChunkBaseline  # noqa: PLC0415

                b = ChunkBaseline(item.policies, encoder).evaluate(rows)
                print(f"  baseline R@1 {b['recall@1']:.2f} R@3 {b['recall@3']:.2f} R@5 {b['recall@5']:.2f} "
                      f"MRR {b['mrr']:.2f}  (400-char chunks, {b['chunks']} chunks, never refuses)")

        questions = [r["q"] for s in sets for r in s.rows()]
        base = next(iter(libraries.values()), None) or next(iter(alone.values()))
        n_base = len(base.index.policies)
        copies = max(1, -(-20 // n_base))
        lexicon = Lexicon.load(settings.lexicon_path)
        twenty = Searcher(replicate(base.index, copies), encoder, lexicon=lexicon)  # uncached encoder: real timing
        questions = questions[:: max(1, len(questions) // 150)]
        p50, p95 = _latency(twenty, questions)
        seen50, seen95 = _latency(twenty, questions, new=False)
        busy = os.getloadavg()[0]
        print(f"\nwarm query latency, {len(twenty.index.policies)}-policy library "
              f"({len(twenty.index.owners)} vectors), {len(questions)} asks: new question p50 {p50:.1f} ms  "
              f"p95 {p95:.1f} ms; same question again p50 {seen50:.1f} ms  p95 {seen95:.1f} ms  "
              f"(load average {busy:.1f} on {os.cpu_count()} cores)")
        for size in [int(x) for x in args.scale.split(",") if x.strip()]:
            start = time.perf_counter()
            big = Searcher(replicate(base.index, max(1, size // n_base)), encoder, lexicon=lexicon)
            built = time.perf_counter() - start
            p50, p95 = _latency(big, questions[:60])
            kind = type(big.index.faiss_index).__name__
            print(f"library of {len(big.index.policies):>5} policies ({len(big.index.owners):>7} vectors, {kind}): "
                  f"query p50 {p50:.1f} ms  p95 {p95:.1f} ms  (index+searcher build {built:.1f} s)")
            del big

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"peak RSS: {peak / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
