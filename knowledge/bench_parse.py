"""Benchmark parsing: `python -m knowledge.bench_parse` prints how reading a policy grows with its size (no assertions).

It writes synthetic policies of 1, 5 and 20 MB (numbered sections and clauses of varied words, as Markdown and as
plain text), then times reading the file into a tree, cutting it into clauses, and the coverage check `ingest`
reports, and prints seconds per MB: a flat seconds-per-MB column means parsing is linear in the document's size.
"""
from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from knowledge.parser import parse_document
from knowledge.readers import MAX_BYTES, read_document


def synthetic_policy(size: int, *, markdown: bool, seed: int = 7) -> str:
    """About `size` characters of policy-shaped text: a title, numbered sections of numbered clauses."""
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(5000)]

    def sentence() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(8, 20))).capitalize() + "."

    parts = ["# Generated Policy\n" if markdown else "GENERATED POLICY\n"]
    length, section = 0, 0
    while length < size:
        section += 1
        heading = f"{section} Section {rng.choice(words)}"
        parts.append(f"\n## {heading}\n" if markdown else f"\n{heading.upper()}\n")
        for clause in range(1, 6):
            para = f"\n{section}.{clause} " + " ".join(sentence() for _ in range(3)) + "\n"
            parts.append(para)
            length += len(para)
    return "".join(parts)


def measure(path: Path) -> dict:
    """Seconds to read, cut and check coverage of one file, and how many clauses it gave."""
    started = time.perf_counter()
    document = read_document(path)
    read = time.perf_counter()
    policy = parse_document(document, "generated", path=str(path), max_clauses=10**9)
    cut = time.perf_counter()
    policy.coverage()
    done = time.perf_counter()
    return {"read": read - started, "cut": cut - read, "coverage": done - cut, "clauses": len(policy.clauses)}


def main(argv: list[str] | None = None) -> int:
    """Print read / cut / coverage seconds and seconds per MB for each size and format."""
    parser = argparse.ArgumentParser(prog="python -m knowledge.bench_parse", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,5,20", help="sizes in MB (the reader refuses files over "
                                                          f"{MAX_BYTES / 2**20:.0f} MiB)")
    args = parser.parse_args(argv)
    print(f"{'format':<9}{'MB':>5}{'clauses':>9}{'read s':>8}{'cut s':>8}{'cover s':>9}{'total s':>9}{'s/MB':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for markdown in (True, False):
            for mb in (float(x) for x in args.sizes.split(",") if x.strip()):
                path = Path(tmp) / f"policy-{mb:g}.{'md' if markdown else 'txt'}"
                path.write_text(synthetic_policy(int(mb * 1_000_000), markdown=markdown), encoding="utf-8")
                real_mb = path.stat().st_size / 1e6
                row = measure(path)
                total = row["read"] + row["cut"] + row["coverage"]
                print(f"{'markdown' if markdown else 'text':<9}{real_mb:>5.1f}{row['clauses']:>9}{row['read']:>8.2f}"
                      f"{row['cut']:>8.2f}{row['coverage']:>9.2f}{total:>9.2f}{total / real_mb:>7.2f}", flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
