"""The plain chunk-and-embed baseline the search is compared with: 400-character chunks, same model, FAISS.

No clause structure, no keyword search, no generated questions, no refusal: the document's text (the parser's
clauses joined in order, each under its heading) is cut into ~400-character chunks at word boundaries, each chunk
is embedded with the same sentence-transformers model, and a question returns the nearest chunks. A chunk counts
as a hit for a gold clause (or `text:` snippet) when it overlaps that clause's (or snippet's) characters by at least
min(40, their length), so chunk boundaries cost the baseline as little as they fairly can.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge.evaluate import _norm


@dataclass
class Chunk:
    """A slice of one policy's text and the clause spans it covers."""

    policy: str
    start: int
    end: int
    text: str


class ChunkBaseline:
    """Chunk-and-embed retrieval over one or more policy files."""

    def __init__(self, paths: list[Path], encoder, size: int = 400):
        import faiss  # noqa: PLC0415

        from knowledge.parser import parse_file  # noqa: PLC0415

        self.docs: dict[str, str] = {}
        self.spans: dict[str, list[tuple[int, int, object]]] = {}  # policy -> (start, end, clause)
        self.chunks: list[Chunk] = []
        for path in paths:
            policy = parse_file(Path(path))
            text, spans, heading = "", [], None
            for clause in policy.clauses:
                if clause.section != heading:
                    heading = clause.section
                    text += f"{heading}\n"
                start = len(text)
                text += clause.text + "\n"
                spans.append((start, len(text) - 1, clause))
            self.docs[policy.policy] = text
            self.spans[policy.policy] = spans
            pos = 0
            while pos < len(text):
                end = min(len(text), pos + size)
                if end < len(text):
                    cut = text.rfind(" ", pos + size // 2, end)
                    end = cut if cut > pos else end
                self.chunks.append(Chunk(policy.policy, pos, end, text[pos:end]))
                pos = end
        self.encoder = encoder
        vectors = encoder.encode([c.text for c in self.chunks])
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, question: str, k: int = 5) -> list[Chunk]:
        """The k nearest chunks."""
        _, ids = self.index.search(self.encoder.encode([question]), min(k, len(self.chunks)))
        return [self.chunks[i] for i in ids[0] if i >= 0]

    def _gold_spans(self, gold: str, policies: set[str] | None) -> list[tuple[str, int, int]]:
        out = []
        for policy, spans in self.spans.items():
            if policies and policy not in policies:
                continue
            if gold.startswith("text:"):
                snippet = _norm(gold[5:])
                for start, end, clause in spans:
                    if snippet in _norm(clause.text):
                        out.append((policy, start, end))
            else:
                out.extend((policy, s, e) for s, e, c in spans if c.clause == gold)
        return out

    def evaluate(self, rows: list[dict], *, k: int = 5, policies: set[str] | None = None) -> dict:
        """Recall@1/3/5 and MRR of the baseline on the in-scope questions of a set (it never refuses)."""
        hits = {1: 0, 3: 0, 5: 0}
        rr, n = 0.0, 0
        for row in rows:
            if row.get("oos"):
                continue
            n += 1
            golds = [s for g in row["gold"] for s in self._gold_spans(g, policies)]
            rank = None
            for i, chunk in enumerate(self.search(row["q"], k)):
                if any(p == chunk.policy and min(e, chunk.end) - max(s, chunk.start) >= min(40, e - s)
                       for p, s, e in golds):
                    rank = i + 1
                    break
            for cut in hits:
                hits[cut] += int(rank is not None and rank <= cut)
            rr += 1.0 / rank if rank else 0.0
        n = max(n, 1)
        return {"recall@1": hits[1] / n, "recall@3": hits[3] / n, "recall@5": hits[5] / n, "mrr": rr / n,
                "chunks": len(self.chunks)}
