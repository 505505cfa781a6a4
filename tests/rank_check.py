"""Prove a change leaves every dev answer as it was: dump each dev question's top 5 and answer, then compare two dumps.

    .venv/bin/python -m tests.rank_check dump var/rank-before.json     # on the code before the change
    .venv/bin/python -m tests.rank_check dump var/rank-after.json      # on the code after it
    .venv/bin/python -m tests.rank_check compare var/rank-before.json var/rank-after.json

For every question of every dev set (data/eval/sets.yml `split: dev`), asked new (the encoder's question memory
cleared) in the 19-policy dev library (token match warmed up first, as the action server does: nothing to do when
the index stores the clauses' pieces) and with its set's
policy alone: the five best clauses with their scores (`Searcher.search`), and what `Searcher.ask` answers (answered
or the refusal reason, the cited clauses and scores, the highlighted sentences). `compare` passes when every clause
and answer is the same and every score is within 1e-5. Dev sets only: test policies and questions are never run.
Indexes are kept under var/bench (as `knowledge.bench --work var/bench` builds them).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from knowledge.encoder import load_encoder
from knowledge.evaluate import dev_library, eval_sets
from knowledge.index import ingest, load
from knowledge.search import Lexicon, Searcher
from knowledge.settings import ROOT, get_settings

TOLERANCE = 1e-5


def _record(searcher: Searcher, question: str) -> dict:
    """The top 5 and the answer of one question asked new."""
    forget = getattr(searcher.encoder, "forget", None)
    if forget:
        forget()
    top = [[c.policy, c.clause, float(c.score)] for c in searcher.search(question, k=5)]
    if forget:
        forget()
    answer = searcher.ask(question)
    return {"q": question, "top": top, "answered": answer.answered, "reason": answer.reason,
            "cites": [[c.policy, c.clause, float(c.score)] for c in answer.citations],
            "highlights": [h.to_dict() for h in answer.highlights]}


def dump(out: Path, work: Path) -> int:
    """Write every dev question's records (library and alone) to `out`."""
    settings = get_settings()
    encoder = load_encoder(settings.model)
    lexicon = Lexicon.load(settings.lexicon_path)
    sets = eval_sets("dev")
    paths = dev_library(sets)
    directory = work / "library-dev"
    ingest(paths, directory, encoder)
    library = Searcher(load(directory), encoder, lexicon=lexicon, max_chars=settings.max_question_chars)
    library.warm_tokens()
    records: dict[str, list[dict]] = {}
    for item in sets:
        alone_dir = work / f"alone-{item.name}"
        ingest(item.policies, alone_dir, encoder)
        alone = Searcher(load(alone_dir), encoder, lexicon=lexicon, max_chars=settings.max_question_chars)
        rows = item.rows()
        records[f"library/{item.name}"] = [_record(library, r["q"]) for r in rows]
        records[f"alone/{item.name}"] = [_record(alone, r["q"]) for r in rows]
        print(f"{item.name}: {len(rows)} questions", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"policies": len(library.index.policies), "records": records}))
    return 0


def _same(a: list, b: list) -> bool:
    """Same clauses in the same order, scores within TOLERANCE."""
    return len(a) == len(b) and all(x[:2] == y[:2] and abs(x[2] - y[2]) <= TOLERANCE for x, y in zip(a, b))


def compare(before: Path, after: Path) -> int:
    """Print every question whose top 5 or answer differs; 0 when none does."""
    a, b = (json.loads(Path(p).read_text())["records"] for p in (before, after))
    if a.keys() != b.keys():
        print(f"different cases: {sorted(a.keys() ^ b.keys())}")
        return 1
    checked = differ = 0
    worst = 0.0
    for case in a:
        for x, y in zip(a[case], b[case], strict=True):
            checked += 1
            worst = max([worst] + [abs(p[2] - q[2]) for p, q in zip(x["top"] + x["cites"], y["top"] + y["cites"])])
            same = (x["q"] == y["q"] and _same(x["top"], y["top"]) and _same(x["cites"], y["cites"])
                    and (x["answered"], x["reason"]) == (y["answered"], y["reason"])
                    and [h["text"] for h in x["highlights"]] == [h["text"] for h in y["highlights"]])
            if not same:
                differ += 1
                print(f"{case}: {x['q']}\n  before {x['top']} {x['reason']}\n  after  {y['top']} {y['reason']}")
    print(f"{checked} questions ({len(a)} cases), {differ} differ; largest score difference {worst:.2e}")
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    """`dump FILE` or `compare BEFORE AFTER`."""
    parser = argparse.ArgumentParser(prog="python -m tests.rank_check", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    d.add_argument("--work", type=Path, default=ROOT / "var" / "bench")
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "dump":
        return dump(args.out, args.work)
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
