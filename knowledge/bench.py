"""Benchmark retrieval: `python -m knowledge.bench` prints figures (no assertions).

Ingest time of the Social Media policy into a fresh index, index size on disk, warm query latency (p50/p95 over
every eval question of both sets), peak RSS, and the eval figures (recall@k, MRR, refusals) of both eval sets.

`python -m knowledge.bench --fit-oos` instead refits the out-of-scope decision (data/retrieval/oos.yml) on the
features of both eval sets' questions and prints the coefficients to paste into that file.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from knowledge.encoder import load_encoder
from knowledge.evaluate import evaluate, load_set
from knowledge.index import ingest, load
from knowledge.search import Lexicon, Searcher
from knowledge.settings import ROOT, get_settings

SETS = [
    ("social-media", ROOT / "data" / "policies" / "social-media-policy.md", ROOT / "data" / "eval" / "social-media.jsonl"),
    ("mobile-phones", ROOT / "data" / "eval" / "policies" / "staff-mobile-phone-policy.txt",
     ROOT / "data" / "eval" / "mobile-phones.jsonl"),
]


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())


def _searcher(index_dir: Path, encoder, settings) -> Searcher:
    return Searcher(load(index_dir), encoder, lexicon=Lexicon.load(settings.lexicon_path),
                    max_chars=settings.max_question_chars)


OOS_FEATURES = ("dense", "anchor", "coverage", "topic")


def oos_features(searcher: Searcher, question: str) -> dict[str, float]:
    """The features the out-of-scope decision sees for one question."""
    from knowledge.search import clean_question  # noqa: PLC0415

    ranking = searcher._ranking(clean_question(question))
    best = int(ranking.order[0])
    return {"dense": float(ranking.dense.max()), "anchor": ranking.anchor,
            "coverage": searcher.bm25.coverage(ranking.terms, best), "topic": ranking.topic}


def fit_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float = 1e-3, iters: int = 100) -> np.ndarray:
    """Weighted L2-regularised logistic regression by Newton's method; returns [bias, coef...]."""
    x1 = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(x1.shape[1])
    penalty = np.full(x1.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(x1 @ beta, -50, 50)))
        grad = x1.T @ (weight * (p - y)) + penalty * beta
        hess = (x1 * (weight * p * (1 - p))[:, None]).T @ x1 + np.diag(penalty)
        step = np.linalg.solve(hess + 1e-9 * np.eye(len(beta)), grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def fit_oos(searchers: dict[str, Searcher], features: tuple[str, ...] = ("dense", "anchor", "topic"),
            l2: float = 1e-3, topic_cap: float = 0.5) -> dict[str, float]:
    """Fit the out-of-scope decision on both eval sets, each set and class weighted equally."""
    rows, labels, weights = [], [], []
    for name, _, eval_file in SETS:
        data = load_set(eval_file)
        n_oos = sum(1 for r in data if r.get("oos")) or 1
        n_in = (len(data) - n_oos) or 1
        for row in data:
            f = oos_features(searchers[name], row["q"])
            f["topic"] = min(f["topic"], topic_cap)
            rows.append([f[k] for k in features])
            labels.append(0.0 if row.get("oos") else 1.0)
            weights.append(1.0 / (n_oos if row.get("oos") else n_in))
    beta = fit_logistic(np.array(rows), np.array(labels), np.array(weights), l2)
    out = {"bias": round(float(beta[0]), 3)}
    out.update({k: round(float(b), 3) for k, b in zip(features, beta[1:])})
    out["topic_cap"] = topic_cap
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m knowledge.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model name or folder (default from settings)")
    parser.add_argument("--rounds", type=int, default=2, help="timed passes over the eval questions")
    parser.add_argument("--fit-oos", action="store_true", help="refit the out-of-scope decision and print it")
    parser.add_argument("--features", default="dense,anchor,topic", help="features for --fit-oos")
    parser.add_argument("--l2", type=float, default=1e-3, help="L2 penalty for --fit-oos")
    parser.add_argument("--topic-cap", type=float, default=0.5, help="topic coverage cap for --fit-oos")
    args = parser.parse_args(argv)
    settings = get_settings()

    start = time.perf_counter()
    encoder = load_encoder(args.model or settings.model)
    load_s = time.perf_counter() - start
    print(f"model: {encoder.name}  (load {load_s:.1f} s)")

    with tempfile.TemporaryDirectory(prefix="policy-coach-bench-") as tmp:
        searchers = {}
        for name, policy, _ in SETS:
            directory = Path(tmp) / name
            start = time.perf_counter()
            ingest([policy], directory, encoder)
            took = time.perf_counter() - start
            index = load(directory)
            print(f"ingest {policy.name}: {took:.2f} s, {len(index.clauses)} clauses, {len(index.owners)} vectors, "
                  f"index {_size(directory) / 1024:.0f} KiB on disk")
            searchers[name] = _searcher(directory, encoder, settings)

        if args.fit_oos:
            fitted = fit_oos(searchers, tuple(args.features.split(",")), args.l2, args.topic_cap)
            print("default:")
            for key, value in fitted.items():
                print(f"  {key}: {value}")
            from knowledge.search import OutOfScope  # noqa: PLC0415

            decision = OutOfScope(**fitted)
            for threshold in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6):
                line = []
                for name, _, eval_file in SETS:
                    data = load_set(eval_file)
                    p = [decision.probability(**oos_features(searchers[name], r["q"])) for r in data]
                    refused_oos = [pi < threshold for pi, r in zip(p, data) if r.get("oos")]
                    refused_in = [pi < threshold for pi, r in zip(p, data) if not r.get("oos")]
                    line.append(f"{name}: off-topic refused {np.mean(refused_oos):.1%}, "
                                f"in-scope refused {np.mean(refused_in):.1%}")
                print(f"  threshold {threshold:.2f}  " + "  ".join(line))
            return 0

        # warm-up: anchors and first-call overheads are paid before timing
        for searcher in searchers.values():
            searcher.ask("warm up")
        latencies = []
        for _ in range(max(1, args.rounds)):
            for name, _, eval_file in SETS:
                for row in load_set(eval_file):
                    begin = time.perf_counter()
                    searchers[name].ask(row["q"])
                    latencies.append((time.perf_counter() - begin) * 1000)
        print(f"warm query latency over {len(latencies)} asks: p50 {np.percentile(latencies, 50):.1f} ms  "
              f"p95 {np.percentile(latencies, 95):.1f} ms  max {max(latencies):.1f} ms")

        for name, _, eval_file in SETS:
            r = evaluate(searchers[name], load_set(eval_file))
            oos = f"{r['oos_refused']:.1%}" if r["oos_refused"] is not None else "n/a"
            print(f"{name} ({r['n_in_scope']} in scope, {r['n_oos']} off-topic): R@1 {r['recall@1']:.3f}  "
                  f"R@3 {r['recall@3']:.3f}  R@5 {r['recall@5']:.3f}  MRR {r['mrr']:.3f}  off-topic refused {oos}  "
                  f"in-scope refused {r['in_scope_refused']:.1%}  p50 {r['p50_ms']:.1f} ms  p95 {r['p95_ms']:.1f} ms")

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"peak RSS: {peak / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
