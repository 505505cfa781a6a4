"""Grouped-CV cross-encoder: train on the other folds' dev policies, score each held-out row's top-3 clauses."""
import argparse
import json
import random
import time

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

torch.set_num_threads(1)
from knowledge.settings import default_model_path  # noqa: E402

NFOLDS = 6


def folds_of(rows):
    pols = sorted({r["policy"] for r in rows})
    return {p: i % NFOLDS for i, p in enumerate(pols)}


def pairs_for(rows, gen, policies, hard=1, generated=True, off_k=1):
    out = []
    for r in rows:
        if r["policy"] not in policies:
            continue
        if r["label"] == 0:
            out += [(r["q"], t["text"], 0.0) for t in r["top"][:off_k]]
        elif not r["library"]:
            out += [(r["q"], g, 1.0) for g in r.get("gold_texts", [])[:2]]
            out += [(r["q"], t["text"], 0.0) for t in r["top"] if not t["gold"]][:hard]
    if generated:
        for p in policies:
            out += [(q, c, 1.0) for q, c in gen.get(p, [])]
    return out


def train(pairs, epochs, lr, seed, max_length=256, batch=16):
    random.seed(seed)
    torch.manual_seed(seed)
    path = default_model_path()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * ((len(pairs) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, 0.1 * steps)) * max(0.0, (steps - s) / steps))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    for _ in range(epochs):
        random.shuffle(pairs)
        # length buckets: sort within chunks of 8 batches so padding stays short, then shuffle the batches
        order = []
        for j in range(0, len(pairs), batch * 8):
            chunk = sorted(pairs[j:j + batch * 8], key=lambda p: len(p[0]) + len(p[1]))
            order += [chunk[i:i + batch] for i in range(0, len(chunk), batch)]
        random.shuffle(order)
        for b in order:
            enc = tok([p[0] for p in b], [p[1] for p in b], truncation=True, max_length=max_length, padding=True,
                      return_tensors="pt")
            logits = model(**enc).logits.squeeze(-1)
            loss = loss_fn(logits, torch.tensor([p[2] for p in b]))
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad()
    model.eval()
    return tok, model


@torch.inference_mode()
def score(tok, model, pairs, max_length=256, batch=32):
    out = []
    for i in range(0, len(pairs), batch):
        b = pairs[i:i + batch]
        enc = tok([p[0] for p in b], [p[1] for p in b], truncation=True, max_length=max_length, padding=True,
                  return_tensors="pt")
        out += model(**enc).logits.squeeze(-1).tolist()
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--hard", type=int, default=1)
    ap.add_argument("--off-k", type=int, default=1)
    ap.add_argument("--no-generated", action="store_true")
    ap.add_argument("--folds", default="")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    d = json.load(open("var/xenc/rows.json"))
    rows, gen = d["rows"], d["generated"]
    fold = folds_of(rows)
    scores = {}
    wanted = [int(x) for x in a.folds.split(",")] if a.folds else range(NFOLDS)
    for k in wanted:
        t0 = time.time()
        train_pols = {p for p, f in fold.items() if f != k}
        pairs = pairs_for(rows, gen, train_pols, a.hard, not a.no_generated, a.off_k)
        tok, model = train(pairs, a.epochs, a.lr, a.seed)
        t1 = time.time()
        held = [i for i, r in enumerate(rows) if fold[r["policy"]] == k]
        flat = [(rows[i]["q"], t["text"]) for i in held for t in rows[i]["top"]]
        s = score(tok, model, flat)
        j = 0
        for i in held:
            n = len(rows[i]["top"])
            scores[i] = s[j:j + n]
            j += n
        print(f"fold {k}: {len(pairs)} pairs, train {t1 - t0:.0f} s, score {len(flat)} pairs {time.time() - t1:.0f} s",
              flush=True)
        json.dump(scores, open(f"var/xenc/scores-{a.name}.json", "w"))
