"""Measure retrieval on a JSONL set: recall@k, MRR, off-topic refusal and latency."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from knowledge.search import Searcher


def load_set(path: Path) -> list[dict]:
    """Read an eval file: one JSON object per line, {"q", "gold"} or {"q", "oos": true}."""
    rows = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        if "q" not in row or not (row.get("oos") or row.get("gold")):
            raise ValueError(f"{path}:{n}: each line needs 'q' and either 'gold' or 'oos'")
        rows.append(row)
    return rows


def matches(gold: str, citation) -> bool:
    """Does one gold entry (clause id, or 'text:' phrase) match one citation?"""
    if gold.startswith("text:"):
        return gold[5:].strip().lower() in citation.text.lower()
    return citation.clause == gold


def evaluate(searcher: Searcher, rows: list[dict], *, k: int = 5) -> dict:
    """Run every question; return the summary figures and per-question detail."""
    hits = {1: 0, 3: 0, 5: 0}
    rr = 0.0
    in_scope = oos = oos_refused = in_refused = 0
    latencies = []
    details = []
    searcher.ask("warm up")
    for row in rows:
        start = time.perf_counter()
        answer = searcher.ask(row["q"])
        latencies.append((time.perf_counter() - start) * 1000)
        if row.get("oos"):
            oos += 1
            oos_refused += int(not answer.answered)
            details.append({"q": row["q"], "oos": True, "ok": not answer.answered,
                            "top": answer.citations[0].clause if answer.citations else None})
            continue
        in_scope += 1
        in_refused += int(not answer.answered)
        ranked = searcher.search(row["q"], k=k)
        rank = next((i + 1 for i, c in enumerate(ranked) if any(matches(g, c) for g in row["gold"])), None)
        for cut in hits:
            hits[cut] += int(rank is not None and rank <= cut)
        rr += 1.0 / rank if rank else 0.0
        details.append({"q": row["q"], "gold": row["gold"], "rank": rank, "answered": answer.answered,
                        "top": [c.clause for c in ranked[:3]]})
    n_in = max(in_scope, 1)
    return {
        "n": len(rows),
        "n_in_scope": in_scope,
        "n_oos": oos,
        "recall@1": hits[1] / n_in,
        "recall@3": hits[3] / n_in,
        "recall@5": hits[5] / n_in,
        "mrr": rr / n_in,
        "oos_refused": oos_refused / oos if oos else None,
        "in_scope_refused": in_refused / n_in,
        "p50_ms": float(np.percentile(latencies, 50)) if latencies else 0.0,
        "p95_ms": float(np.percentile(latencies, 95)) if latencies else 0.0,
        "details": details,
    }
