"""Choose the fusion weights (SearchConfig) on the dev sets only: `python -m knowledge.tune`.

Each dev policy is searched alone and in the dev library (data/eval/sets.yml); question embeddings are cached so
a grid of weights costs one encode per question. Prints the figures of every setting, best last; test sets are
never read. `--misordered` lists the dev questions whose gold clause is in the top 3 but not first, with the score
parts of the clause that won and of the gold one (dense and the vector kind it came through, keyword, own-words).
`--wrong-policy` lists the dev questions that only their own policy answers (the blind audit's `also` is empty) whose
first citation in the dev library is from another policy, with how much each score part favoured the winner.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from knowledge.bench import ingest_exactly
from knowledge.encoder import load_encoder
from knowledge.evaluate import dev_library, eval_sets, matches
from knowledge.index import KIND_QUESTION, KIND_SECTION, KIND_SENTENCE, KIND_TEXT, ingest, load
from knowledge.search import Lexicon, SearchConfig, Searcher, clean_question
from knowledge.settings import get_settings


class CachedEncoder:
    """An encoder that remembers the vectors of texts it has seen (tuning asks the same questions many times)."""

    def __init__(self, encoder):
        self.encoder, self.name, self.dim = encoder, encoder.name, encoder.dim
        self.cache: dict[str, np.ndarray] = {}

    def __getattr__(self, name):
        if name == "encoder":  # not set yet (copying): no recursion
            raise AttributeError(name)
        return getattr(self.encoder, name)  # token_vectors and the rest pass through

    def encode(self, texts, **kwargs):
        """Embed texts, reusing earlier results."""
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            for text, vec in zip(todo, self.encoder.encode(todo, **kwargs)):
                self.cache[text] = vec
        return np.stack([self.cache[t] for t in texts]) if len(texts) else self.encoder.encode([])


def score(searcher: Searcher, rows: list[dict], policies: set[str] | None) -> dict[str, float]:
    """R@1, R@3 and first-policy share of the in-scope questions (no refusal: weights only)."""
    r1 = r3 = first = n = 0
    for row in rows:
        if row.get("oos"):
            continue
        n += 1
        ranked = searcher.search(row["q"], k=3)
        rank = next((i + 1 for i, c in enumerate(ranked) if any(matches(g, c, policies) for g in row["gold"])), None)
        r1 += rank == 1
        r3 += rank is not None
        first += bool(ranked) and (policies is None or ranked[0].policy in policies)
    return {"r1": r1 / n, "r3": r3 / n, "first": first / n}


VECTOR_KINDS = {KIND_TEXT: "text", KIND_SENTENCE: "sentence", KIND_QUESTION: "question", KIND_SECTION: "section"}


def _matched_by(searcher: Searcher, row: int, qvec: np.ndarray) -> str:
    """Which of a clause's vectors the question met best (weighted as the dense score weighs them), and its kind."""
    index = searcher.index
    rows = np.flatnonzero(index.owners == row)
    sims = (index.vectors[rows] @ qvec) * searcher._vector_weight[rows]
    best = rows[int(np.argmax(sims))]
    return VECTOR_KINDS.get(int(index.kinds[best]), "?")


def misordered(searcher: Searcher, name: str, rows: list[dict]) -> Counter:
    """Print the questions whose gold clause is in the top 3 but not first (the policy alone), with each one's score
    parts; return counts of which signal preferred the gold clause."""
    counts: Counter = Counter()
    for row in rows:
        if row.get("oos"):
            continue
        ranking = searcher._ranking(clean_question(row["q"]))
        top = [int(i) for i in ranking.order[:3]]
        hits = [any(matches(g, searcher.index.clauses[i]) for g in row["gold"]) for i in top]
        if not any(hits) or hits[0]:
            continue
        win, gold = top[0], top[hits.index(True)]
        kw_top = float(ranking.keyword.max()) or 1.0
        own = ranking.own if ranking.own is not None else np.zeros_like(ranking.dense)
        counts["misordered"] += 1
        for signal, values in (("dense", ranking.dense), ("keyword", ranking.keyword), ("own", own)):
            counts[f"{signal} prefers gold"] += int(values[gold] > values[win])
        print(f"  [{name}] {row['q']!r} gold {row['gold']}")
        for label, i in (("first", win), ("gold ", gold)):
            clause = searcher.index.clauses[i]
            print(f"    {label} {clause.clause:<12} fused {ranking.combined[i]:.3f} dense {ranking.dense[i]:.3f} "
                  f"(via {_matched_by(searcher, i, ranking.qvec)}) keyword {ranking.keyword[i] / kw_top:.2f} "
                  f"own {own[i]:.3f}  {clause.text[:70]!r}")
    return counts


def wrong_policy(searcher: Searcher, name: str, rows: list[dict], policies: set[str]) -> Counter:
    """Print the answered questions only their own policy answers (no `also` in the blind audit) whose first citation
    in a library is from another policy: the clause that won, how far the own policy's best clause is behind and the
    own policy's rank, and how much each score part favours the winner (the token match last); return counts of the
    winning policies and of the part that favours the winner most."""
    counts: Counter = Counter()
    config, ids = searcher.config, searcher._policy_ids
    own_numbers = [i for i, p in enumerate(ids) if p in policies]
    own_rows = np.flatnonzero(np.isin(searcher._clause_policy, own_numbers))
    for row in rows:
        if row.get("oos") or row.get("also") or row.get("other_policy"):
            continue
        text = clean_question(row["q"])
        ranking = searcher._ranking(text)
        if not len(own_rows) or not searcher.in_scope(ranking)[0]:
            continue
        counts["only-own answered"] += 1
        win = int(ranking.order[0])
        if searcher._clause_policy[win] in own_numbers:
            continue
        mine = int(own_rows[np.argmax(ranking.combined[own_rows])])
        w, o = int(searcher._clause_policy[win]), int(searcher._clause_policy[mine])
        kw_top = float(ranking.keyword.max()) or 1.0
        own = ranking.own if ranking.own is not None else np.zeros_like(ranking.dense)
        prior = searcher.policy_prior_parts(text, ranking.qvec, searcher._policy_topics(text))
        parts = {"dense": ranking.dense[win] - ranking.dense[mine],
                 "keyword": config.keyword_weight * (ranking.keyword[win] - ranking.keyword[mine]) / kw_top,
                 "own words": own[win] - own[mine], "fixed prior": searcher._prior[win] - searcher._prior[mine],
                 **{k: v[w] - v[o] for k, v in prior.items()}}
        margin = float(ranking.combined[win] - ranking.combined[mine])
        # what is left is the token match (SearchConfig.token_weight), and evidence_weight when that is on
        parts["tokens"] = margin - sum(float(v) for v in parts.values())
        before = list(ranking.order[:int(np.flatnonzero(ranking.order == mine)[0])])
        rank = len({int(searcher._clause_policy[i]) for i in before}) + 1
        gold = any(matches(g, searcher._citation(mine, 0.0)) for g in row.get("gold") or [])
        decided = max(parts, key=lambda k: float(parts[k]))
        counts["wrong policy first"] += 1
        counts[f"won by {ids[w]}"] += 1
        counts[f"largest part: {decided}"] += 1
        print(f"  [{name}] {row['q']!r}\n    first {ids[w]}:{searcher.index.clauses[win].clause} ahead by {margin:.3f}; "
              f"own policy ranked {rank}, its best {searcher.index.clauses[mine].clause} ({'gold' if gold else 'not gold'})"
              "\n    winner's lead: " + " ".join(f"{k} {float(v):+.3f}" for k, v in parts.items()))
    return counts


def main(argv: list[str] | None = None) -> int:
    """Grid-search a few SearchConfig weights on dev and print the results."""
    parser = argparse.ArgumentParser(prog="python -m knowledge.tune", description=__doc__.splitlines()[0])
    parser.add_argument("--grid", action="append", default=[],
                        help="NAME=v1,v2,... for a SearchConfig field (repeatable)")
    parser.add_argument("--work", help="keep the dev indexes in this folder and reuse them on the next run")
    parser.add_argument("--no-distractors", action="store_true",
                        help="dev library without the distractor policies (sets.yml dev_library_distractors)")
    parser.add_argument("--show", action="store_true", help="print the library questions whose first citation is "
                        "from another policy, for the last setting")
    parser.add_argument("--misordered", action="store_true", help="print the questions whose gold clause is in the "
                        "top 3 but not first (each policy alone, last setting), with each score part")
    parser.add_argument("--wrong-policy", action="store_true", help="print the library questions only their own "
                        "policy answers (blind audit) whose first citation is from another policy (last setting), "
                        "with each score part's share of the winner's lead")
    args = parser.parse_args(argv)
    settings = get_settings()
    encoder = CachedEncoder(load_encoder(settings.model))
    lexicon = Lexicon.load(settings.lexicon_path)
    sets = eval_sets("dev")
    grid = {}
    for item in args.grid or ["policy_weight=0,0.25,0.5", "keyword_weight=0.1,0.15,0.25"]:
        name, values = item.split("=", 1)
        grid[name] = [float(v) for v in values.split(",")]
    with tempfile.TemporaryDirectory(prefix="policy-coach-tune-") as tmp:
        tmp = args.work or tmp
        indexes = {}
        for item in sets:
            ingest(item.policies, Path(tmp) / item.name, encoder.encoder)  # a no-op when unchanged
            indexes[item.name] = load(Path(tmp) / item.name)
        paths = dev_library(sets, distractors=not args.no_distractors)
        name = "library-small" if args.no_distractors else "library"
        library = ingest_exactly(paths, Path(tmp) / name, encoder.encoder)
        results = []
        for values in itertools.product(*grid.values()):
            config = replace(SearchConfig(), **dict(zip(grid, values)))
            figures = {}
            for item in sets:
                alone = score(Searcher(indexes[item.name], encoder, lexicon=lexicon, config=config), item.rows(), None)
                lib = score(Searcher(library, encoder, lexicon=lexicon, config=config), item.rows(),
                            set(item.policy_ids))
                figures[item.name] = (alone, lib)
            total = sum(a["r1"] + a["r3"] + lib["r1"] + lib["r3"] + lib["first"] for a, lib in figures.values())
            line = "  ".join(f"{k}: alone R@1 {a['r1']:.2f} R@3 {a['r3']:.2f} | lib R@1 {lib['r1']:.2f} "
                             f"R@3 {lib['r3']:.2f} first {lib['first']:.2f}" for k, (a, lib) in figures.items())
            results.append((total, dict(zip(grid, values)), line))
            print(f"{dict(zip(grid, values))}  {line}", flush=True)
        if args.show:
            searcher = Searcher(library, encoder, lexicon=lexicon, config=config)
            for item in sets:
                for row in item.rows():
                    if row.get("oos"):
                        continue
                    top = searcher.search(row["q"], k=3)
                    if top and top[0].policy not in item.policy_ids:
                        print(f"  [{item.name}] {row['q']!r} gold {row['gold']} -> "
                              + ", ".join(f"{c.policy}:{c.clause}" for c in top))
        if args.misordered:
            counts: Counter = Counter()
            for item in sets:
                searcher = Searcher(indexes[item.name], encoder, lexicon=lexicon, config=config)
                counts += misordered(searcher, item.name, item.rows())
            print("misordered (gold in the top 3, not first): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if args.wrong_policy:
            counts = Counter()
            searcher = Searcher(library, encoder, lexicon=lexicon, config=config)
            for item in sets:
                counts += wrong_policy(searcher, item.name, item.rows(), set(item.policy_ids))
            print(f"wrong policy first on {counts['wrong policy first']} of {counts['only-own answered']} answered "
                  "only-own questions")
            for kind in ("won by", "largest part:"):
                print(f"  {kind} " + ", ".join(f"{k[len(kind) + 1:]} {v}" for k, v in counts.most_common()
                                               if k.startswith(kind)))
        best = max(results, key=lambda r: r[0])
        print(f"best on dev: {best[1]}  {best[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
