"""Build, save and load the on-disk index: clause metadata, embeddings and a FAISS index."""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from knowledge.parser import Clause, Policy, parse_file

FORMAT_VERSION = 3


class IndexError_(RuntimeError):
    """The index is missing or unusable; the message is shown to the user."""


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?;:])\s+|\n+", text)
    return [p.strip(" -") for p in parts if len(p.split()) >= 4]


def embedding_texts(clause: Clause) -> list[str]:
    """The texts embedded for one clause: the whole clause with its heading, and each sentence of it."""
    head = clause.title if clause.kind != "clause" else clause.section
    body = re.sub(r"^\d+(\.\d+)+\s+", "", clause.text)
    texts = [f"{head}: {body}"]
    sentences = _sentences(body)
    if len(sentences) > 1:
        texts.extend(sentences)
    return texts


@dataclass
class PolicyIndex:
    """Everything search needs, in memory."""

    policies: dict[str, dict]
    clauses: list[Clause]
    vectors: np.ndarray  # (n_vectors, dim)
    owners: np.ndarray  # (n_vectors,) clause row of each vector
    model: str
    dim: int
    faiss_index: object = field(default=None, repr=False)

    def build_faiss(self) -> None:
        """(Re)build the in-memory FAISS inner-product index from the vectors."""
        import faiss  # noqa: PLC0415

        index = faiss.IndexFlatIP(self.dim)
        if len(self.vectors):
            index.add(np.ascontiguousarray(self.vectors, dtype=np.float32))
        self.faiss_index = index

    def policy_clauses(self, policy: str) -> list[Clause]:
        """Clauses of one policy in document order."""
        return [c for c in self.clauses if c.policy == policy]

    def find(self, policy: str | None, clause_id: str) -> Clause | None:
        """Look up a clause by id (in one policy, or the first policy that has it)."""
        for clause in self.clauses:
            if clause.clause == clause_id and (policy is None or clause.policy == policy):
                return clause
        return None


def save(index: PolicyIndex, directory: Path) -> None:
    """Write the index to `directory` atomically: a reader sees the old index or the new one, never half."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        import faiss  # noqa: PLC0415

        if index.faiss_index is None:
            index.build_faiss()
        np.save(tmp / "vectors.npy", index.vectors)
        np.save(tmp / "owners.npy", index.owners)
        faiss.write_index(index.faiss_index, str(tmp / "clauses.faiss"))
        (tmp / "clauses.json").write_text(json.dumps([c.to_dict() for c in index.clauses], indent=1))
        manifest = {
            "format": FORMAT_VERSION,
            "model": index.model,
            "dim": index.dim,
            "policies": index.policies,
            "built": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        old = directory.with_name(directory.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        if directory.exists():
            os.replace(directory, old)
        os.replace(tmp, directory)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def load(directory: Path) -> PolicyIndex:
    """Load an index written by `save` (falling back to the previous copy if a swap was interrupted)."""
    directory = Path(directory)
    if not (directory / "manifest.json").exists():
        old = directory.with_name(directory.name + ".old")
        if (old / "manifest.json").exists():
            directory = old
        else:
            raise IndexError_(f"No policy index at {directory}. Build it with: policy-coach ingest data/policies/*")
    try:
        import faiss  # noqa: PLC0415

        manifest = json.loads((directory / "manifest.json").read_text())
        clauses = [Clause(**row) for row in json.loads((directory / "clauses.json").read_text())]
        vectors = np.load(directory / "vectors.npy")
        owners = np.load(directory / "owners.npy")
        faiss_index = faiss.read_index(str(directory / "clauses.faiss"))
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise IndexError_(f"The policy index at {directory} is damaged ({exc}); rebuild it with policy-coach ingest") from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexError_(f"The policy index at {directory} is from an older version; rebuild it with policy-coach ingest")
    return PolicyIndex(
        policies=manifest["policies"],
        clauses=clauses,
        vectors=vectors,
        owners=owners,
        model=manifest["model"],
        dim=manifest["dim"],
        faiss_index=faiss_index,
    )


def _policy_meta(policy: Policy) -> dict:
    return {
        "title": policy.title,
        "path": policy.path,
        "checksum": policy.checksum,
        "details": policy.details,
        "owner": policy.owner(),
        "review_date": policy.review_date(),
        "clauses": len(policy.clauses),
    }


@dataclass
class IngestReport:
    """What an ingest did, per policy."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    changes: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # policy -> added/removed/changed ids
    written: bool = False


def diff_clauses(old: list[Clause], new: list[Clause]) -> dict[str, list[str]]:
    """Which clause ids were added, removed or reworded between two versions of a policy."""
    before = {c.clause: c.text for c in old}
    after = {c.clause: c.text for c in new}
    return {
        "added": [k for k in after if k not in before],
        "removed": [k for k in before if k not in after],
        "changed": [k for k in after if k in before and before[k] != after[k]],
    }


def ingest(paths: list[Path], directory: Path, encoder, *, progress: bool = False) -> IngestReport:
    """Parse policy files and add or replace them in the index at `directory`; unchanged files are a no-op.

    Raises PolicyReadError (from parsing) before anything is written, so a bad file never damages the index.
    """
    parsed = [parse_file(Path(p)) for p in paths]
    seen: set[str] = set()
    for policy in parsed:
        if policy.policy in seen:
            raise ValueError(f"two files give the same policy id '{policy.policy}'")
        seen.add(policy.policy)
    try:
        current = load(directory)
        if current.model != encoder.name:
            current = None  # a different model: everything is re-embedded
    except IndexError_:
        current = None

    report = IngestReport()
    keep_policies: dict[str, dict] = dict(current.policies) if current else {}
    todo: list[Policy] = []
    for policy in parsed:
        old_meta = keep_policies.get(policy.policy)
        if old_meta and old_meta.get("checksum") == policy.checksum:
            report.unchanged.append(policy.policy)
            continue
        (report.updated if old_meta else report.added).append(policy.policy)
        old_clauses = current.policy_clauses(policy.policy) if current else []
        report.changes[policy.policy] = diff_clauses(old_clauses, policy.clauses)
        todo.append(policy)
    if not todo:
        return report

    replaced = {p.policy for p in todo}
    clauses: list[Clause] = []
    vectors: list[np.ndarray] = []
    owners: list[int] = []
    if current:
        for row, clause in enumerate(current.clauses):
            if clause.policy in replaced:
                continue
            new_row = len(clauses)
            clauses.append(clause)
            mask = current.owners == row
            vectors.append(current.vectors[mask])
            owners.extend([new_row] * int(mask.sum()))
    texts: list[str] = []
    text_owner: list[int] = []
    for policy in todo:
        keep_policies[policy.policy] = _policy_meta(policy)
        for clause in policy.clauses:
            row = len(clauses)
            clauses.append(clause)
            for text in embedding_texts(clause):
                texts.append(text)
                text_owner.append(row)
    new_vectors = encoder.encode(texts, progress=progress)
    vectors.append(new_vectors)
    owners.extend(text_owner)
    # keep vectors grouped in clause order so owners stay consistent
    all_vectors = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, encoder.dim), np.float32)
    index = PolicyIndex(
        policies=keep_policies,
        clauses=clauses,
        vectors=all_vectors,
        owners=np.asarray(owners, dtype=np.int64),
        model=encoder.name,
        dim=encoder.dim,
    )
    index.build_faiss()
    save(index, directory)
    report.written = True
    return report


def remove_policy(directory: Path, policy: str) -> bool:
    """Drop one policy from the index; return False if it was not there."""
    current = load(directory)
    if policy not in current.policies:
        return False
    keep = [i for i, c in enumerate(current.clauses) if c.policy != policy]
    remap = {old: new for new, old in enumerate(keep)}
    mask = np.isin(current.owners, keep)
    index = PolicyIndex(
        policies={k: v for k, v in current.policies.items() if k != policy},
        clauses=[current.clauses[i] for i in keep],
        vectors=current.vectors[mask],
        owners=np.asarray([remap[int(o)] for o in current.owners[mask]], dtype=np.int64),
        model=current.model,
        dim=current.dim,
    )
    index.build_faiss()
    save(index, directory)
    return True
