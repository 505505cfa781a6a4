"""Collect dev rows: oos features, top-3 clause texts per case, gold clause texts, generated questions."""
import json
import sys
from pathlib import Path

import torch

torch.set_num_threads(1)
from knowledge.bench import _searcher, feature_rows, ingest_exactly  # noqa: E402
from knowledge.encoder import load_encoder  # noqa: E402
from knowledge.evaluate import dev_library, eval_sets, matches  # noqa: E402
from knowledge.index import clause_body, clause_head, ingest, load  # noqa: E402
from knowledge.questions import generated_questions  # noqa: E402
from knowledge.search import clean_question  # noqa: E402
from knowledge.settings import get_settings  # noqa: E402


def ctext(clause):
    return f"{clause_head(clause)}: {clause_body(clause)}"


settings = get_settings()
sets = eval_sets("dev")
enc = load_encoder(settings.model)
work = Path("var/bench")
alone = {}
for item in sets:
    d = work / f"alone-{item.name}"
    ingest(item.policies, d, enc)
    alone[item.name] = _searcher(load(d), enc, settings)
lib = _searcher(ingest_exactly(dev_library(sets), work / "library-dev", enc), enc, settings)
cases = [(alone[s.name], s, False) for s in sets] + [(lib, s, True) for s in sets]
rows = feature_rows(cases)
# attach top-3 clause texts and question (feature_rows keeps order of item.rows() filtered)
i = 0
for searcher, item, library in cases:
    data = [r for r in item.rows() if not (library and r.get("other_policy"))]
    for row in data:
        out = rows[i]
        i += 1
        ranking = searcher._ranking(clean_question(row["q"]))
        top = [int(x) for x in ranking.order[:3]]
        cl = searcher.index.clauses
        out["q"] = row["q"]
        out["top"] = [{"policy": cl[t].policy, "clause": cl[t].clause, "text": ctext(cl[t]),
                       "gold": bool(row.get("gold")) and any(matches(g, cl[t], set(item.policy_ids)) for g in row["gold"])}
                      for t in top]
        if not library and row.get("gold"):
            out["gold_texts"] = [ctext(c) for c in cl if any(matches(g, c, set(item.policy_ids)) for g in row["gold"])]
assert i == len(rows)
gen = {}
for item in sets:
    pid = " ".join(str(p) for p in item.policies)
    if pid in gen:
        continue
    pairs = []
    for c in alone[item.name].index.clauses:
        if c.kind == "detail":
            continue
        for q in generated_questions(clause_body(c)):
            pairs.append([q, ctext(c)])
    gen[pid] = pairs
json.dump({"rows": rows, "generated": gen}, open("var/xenc/rows.json", "w"))
print(len(rows), {k: len(v) for k, v in gen.items()}, file=sys.stderr)
