"""Why a question got the answer it got: every pipeline stage's figures for one question.

read → structure → units → index (what the loaded index holds, per policy) → search (the question as searched, and
each top clause's dense score, BM25 score, policy prior and fused score) → scope (the refusal features, probability
and decision) → answer (what `ask` returns). `policy-coach explain "question" [--json]` prints it.
"""
from __future__ import annotations

import re
from collections import Counter

from knowledge.index import KIND_QUESTION, KIND_SECTION, KIND_SENTENCE, KIND_TEXT
from knowledge.search import Searcher, clean_question, question_parts, strip_policy_name, tokens

VECTOR_KINDS = {KIND_TEXT: "clause", KIND_SENTENCE: "sentence", KIND_QUESTION: "question", KIND_SECTION: "section"}


def _library(searcher: Searcher) -> dict:
    """The read, structure, units and index stages: what the searcher's index holds."""
    index = searcher.index
    by_policy: dict[str, list] = {}
    for clause in index.clauses:
        by_policy.setdefault(clause.policy, []).append(clause)
    read, structure, units = [], [], []
    for policy, meta in index.policies.items():
        clauses = by_policy.get(policy, [])
        quality = meta.get("quality") or {}
        read.append({"policy": policy, "title": meta.get("title", policy), "path": meta.get("path"),
                     "checksum": meta.get("checksum"), "owner": meta.get("owner"),
                     "warnings": list(quality.get("warnings") or [])})
        structure.append({"policy": policy, "blocks": len(meta.get("blocks") or []),
                          "sections": len({c.section for c in clauses if c.kind != "detail"})})
        units.append({"policy": policy, "units": len(clauses), "by_kind": dict(Counter(c.kind for c in clauses)),
                      "longest": quality.get("longest"), "coverage": quality.get("coverage")})
    kinds = Counter(VECTOR_KINDS.get(int(k), str(int(k))) for k in index.kinds)
    return {"read": read, "structure": structure, "units": units,
            "index": {"model": index.model, "dim": index.dim, "vectors": len(index.owners), "by_kind": dict(kinds),
                      "faiss": type(index.faiss_index).__name__ if index.faiss_index is not None else None}}


def _search(searcher: Searcher, text: str, k: int) -> tuple[dict, dict]:
    """The search and scope stages for a cleaned question, from the searcher's own ranking."""
    config = searcher.config
    ranking = searcher._ranking(text)  # the same ranking ask() decides on
    n = len(ranking.combined)
    top_bm25 = float(ranking.keyword.max()) if n else 0.0
    rows = []
    for row in ranking.order[:k]:
        row = int(row)
        clause = searcher.index.clauses[row]
        dense, bm25 = float(ranking.dense[row]), float(ranking.keyword[row])
        bm25_norm = bm25 / top_bm25 if top_bm25 > 0 else bm25
        template = float(searcher._prior[row])  # the clause's fixed prior (template text, front-matter detail)
        own = float(ranking.own[row]) if ranking.own is not None else 0.0
        fused = float(ranking.combined[row])
        rows.append({"policy": clause.policy, "clause": clause.clause, "title": clause.title,
                     "dense": round(dense, 4), "bm25": round(bm25, 4), "bm25_norm": round(bm25_norm, 4),
                     "template_prior": round(template, 4), "own": round(own, 4),
                     # what is left of the fused score is the library's policy prior (zero with one policy)
                     "policy_prior": round(fused - dense - config.keyword_weight * bm25_norm - template - own, 4)
                     + 0.0,
                     "fused": round(fused, 4)})
    stripped = strip_policy_name(text, searcher._titles)
    search = {"searched_as": stripped, "parts": question_parts(stripped), "terms": ranking.terms,
              "expanded_terms": [t for t in dict.fromkeys(tokens(searcher.lexicon.expand(stripped)))
                                 if t not in ranking.terms],
              "named_policies": [searcher._policy_ids[p] for p in searcher.named_policies(text)],
              "keyword_weight": config.keyword_weight, "top": rows}
    decided, confidence = searcher.in_scope(ranking)
    if searcher.oos is not None:
        scope = {"method": "logistic", "features": {k: round(v, 4) for k, v in searcher.oos_features(ranking).items()},
                 "probability": round(confidence, 4), "threshold": searcher.oos.threshold, "in_scope": decided}
    else:
        best = int(ranking.order[0]) if n else None
        scope = {"method": "thresholds", "features": {
                     "dense": round(float(ranking.dense.max()), 4) if n else None,
                     "fused": round(float(ranking.combined[best]), 4) if best is not None else None},
                 "min_dense": config.min_dense, "min_fused": config.min_combined, "in_scope": decided}
    return search, scope


def explain(searcher: Searcher, question: str, k: int = 5) -> dict:
    """Every stage's figures for one question, and the answer `ask` gives it (a JSON-ready dict)."""
    text = clean_question(question or "")
    report = {"question": question, "cleaned": text, **_library(searcher), "search": None, "scope": None}
    if searcher.index.clauses and re.search(r"[^\W_]", text) and len(question or "") <= searcher.max_chars:
        report["search"], report["scope"] = _search(searcher, text, k)
    answer = searcher.ask(question)
    report["answer"] = {"answered": answer.answered, "reason": answer.reason, "message": answer.message,
                        "citations": [{"policy": c.policy, "clause": c.clause, "score": round(c.score, 4)}
                                      for c in answer.citations]}
    return report


def render(report: dict) -> str:
    """The report as plain text, one stage after another."""
    out = [f"question: {report['question']!r}"]
    for item in report["read"]:
        out.append(f"read       {item['policy']}: {item['title']} ({item['path']})"
                   + (f"; warnings: {'; '.join(item['warnings'])}" if item["warnings"] else ""))
    for item in report["structure"]:
        out.append(f"structure  {item['policy']}: {item['blocks']} blocks, {item['sections']} sections")
    for item in report["units"]:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(item["by_kind"].items()))
        out.append(f"units      {item['policy']}: {item['units']} units ({kinds}); longest {item['longest']}")
    index = report["index"]
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(index["by_kind"].items()))
    out.append(f"index      {index['vectors']} vectors ({kinds}), {index['dim']}-d, model {index['model']}, "
               f"{index['faiss']}")
    search = report["search"]
    if search:
        out.append(f"search     as {search['searched_as']!r}; BM25 terms {search['terms']}"
                   + (f" + lexicon {search['expanded_terms']}" if search["expanded_terms"] else ""))
        out.append(f"  {'clause':<34} {'dense':>7} {'bm25':>7} {'norm':>6} {'own':>6} {'policy':>7} {'fused':>7}")
        for row in search["top"]:
            name = f"{row['policy']} {row['clause']}"[:34]
            out.append(f"  {name:<34} {row['dense']:>7.3f} {row['bm25']:>7.2f} {row['bm25_norm']:>6.2f} "
                       f"{row['own']:>6.3f} {row['policy_prior']:>7.3f} {row['fused']:>7.3f}")
        scope = report["scope"]
        features = ", ".join(f"{name} {value}" for name, value in scope["features"].items())
        if scope["method"] == "logistic":
            out.append(f"scope      {features} -> P(in scope) {scope['probability']:.3f} "
                       f"vs {scope['threshold']} -> {'in scope' if scope['in_scope'] else 'out of scope'}")
        else:
            out.append(f"scope      {features} vs min dense {scope['min_dense']}, min fused {scope['min_fused']} "
                       f"-> {'in scope' if scope['in_scope'] else 'out of scope'}")
    answer = report["answer"]
    cited = ", ".join(f"{c['policy']} {c['clause']}" for c in answer["citations"])
    out.append(f"answer     {'answered' if answer['answered'] else 'refused (' + str(answer['reason']) + ')'}"
               + (f": {cited}" if cited else ""))
    return "\n".join(out)
