"""Benchmark retrieval: `python -m knowledge.bench` prints figures (no assertions).

Ingest time of the Social Media policy into a fresh index, index size on disk, warm query latency (p50/p95 over
every eval question of both sets), peak RSS, and the eval figures (recall@k, MRR, refusals) of both eval sets.
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


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m knowledge.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model name or folder (default from settings)")
    parser.add_argument("--rounds", type=int, default=2, help="timed passes over the eval questions")
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
