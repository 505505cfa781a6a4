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

import hashlib

import numpy as np
import yaml

from knowledge.parser import Clause, Policy, parse_file
from knowledge.readers import PolicyReadError
from knowledge.questions import generated_questions
from knowledge.settings import DATA

FORMAT_VERSION = 4
# Bump when embedding_texts_with_kinds or the retrieval data change meaning, so an unchanged policy is re-embedded.
EMBED_VERSION = "10"  # 10: questions for first-person and subjectless rules; 9: parser fixes, new questions
RETRIEVAL_DIR = DATA / "retrieval"
# Bump when the token match's stored clause pieces (piece_text, search.content_pieces) change meaning, so the next
# ingest stores them again (until then the searcher embeds them as it meets them).
PIECES_VERSION = "1"
# Vectors from which the dense search is an HNSW graph rather than an exact flat scan (a local authority's library).
HNSW_FROM = 100_000

# What each stored vector is: the clause text itself (under its heading path), one sentence of it, or a question that
# the clause answers (a generic front-matter question from data/retrieval/details.yml, or a question generated at
# ingest from the clause's own text by knowledge.questions: "can I ..." from "staff must not ...").
KIND_TEXT, KIND_SENTENCE, KIND_QUESTION = 0, 1, 2
# A generic question about the clause's section (data/retrieval/sections.yml), shared by every clause of it.
KIND_SECTION = 3


class IndexError_(RuntimeError):
    """The index is missing or unusable; the message is shown to the user."""


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?;:])\s+|\n+", text)
    return [p.strip(" -") for p in parts if len(p.split()) >= 4]


def clause_body(clause: Clause) -> str:
    """A clause's text without its leading number."""
    return re.sub(r"^\d+(\.\d+)*\s+", "", clause.text)


def clause_head(clause: Clause) -> str:
    """The heading a clause is read under: its section for numbered clauses, else its title."""
    return clause.title if clause.kind != "clause" else clause.section


def piece_text(clause: Clause) -> str:
    """The text whose word pieces the token match compares with a question: the clause under its heading."""
    return f"{clause_head(clause)} {clause.text}"


def _load_yaml(path: Path):
    try:
        return yaml.safe_load(Path(path).read_text()) if Path(path).exists() else None
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from exc


def detail_questions(clause: Clause, templates: list[dict] | None = None) -> list[str]:
    """Generic questions a front-matter detail answers ("who owns this policy"), from data/retrieval/details.yml."""
    if clause.kind != "detail":
        return []
    if templates is None:
        templates = _load_yaml(RETRIEVAL_DIR / "details.yml") or []
    key = clause.text.split(":", 1)[0]
    for entry in templates:
        if re.search(str(entry.get("key", "$^")), key, re.I):
            return [str(q) for q in entry.get("questions") or []]
    return []


def section_questions(clause: Clause, sections: list[dict] | None = None) -> list[str]:
    """Generic questions about a clause's section ("why do we have this policy" for a Purpose section), from
    data/retrieval/sections.yml."""
    if clause.kind == "detail":
        return []
    if sections is None:
        sections = _load_yaml(RETRIEVAL_DIR / "sections.yml") or []
    heading = re.sub(r"^(appendix\s+\w+\s*[—–-]\s*)?[\d.]*\s*", "", clause.section, flags=re.I).strip()
    out: list[str] = []
    for entry in sections:
        # `key` matches the section heading; an optional `text` must also match the clause's own text, so a
        # question about one kind of clause ("lost or stolen devices") attaches to those clauses, not the section.
        if "key" not in entry and "text" not in entry:
            continue
        if "key" in entry and not re.search(str(entry["key"]), heading, re.I):
            continue
        if "text" in entry and not re.search(str(entry["text"]), clause.text, re.I):
            continue
        out.extend(str(q) for q in entry.get("questions") or [])
    return out


def embedding_texts_with_kinds(clause: Clause, templates: list[dict] | None = None,
                               sections: list[dict] | None = None) -> list[tuple[str, int]]:
    """(text, kind) for every vector of one clause: the clause with its heading, its sentences, generic questions."""
    body = clause_body(clause)
    texts = [(f"{clause_head(clause)}: {body}", KIND_TEXT)]
    sentences = _sentences(body)
    if len(sentences) > 1:
        texts.extend((s, KIND_SENTENCE) for s in sentences)
    texts.extend((q, KIND_QUESTION) for q in detail_questions(clause, templates))
    if clause.kind != "detail":
        texts.extend((q, KIND_QUESTION) for q in generated_questions(body))
    texts.extend((q, KIND_SECTION) for q in section_questions(clause, sections))
    return texts


ADAPTER_TRAINING_DIR = RETRIEVAL_DIR / "adapter-training"


def questions_path(policy_id: str, directory: Path | None = None) -> Path:
    """Where dev-only example staff questions for one policy live (adapter training data, never indexed)."""
    return Path(directory or ADAPTER_TRAINING_DIR) / f"{policy_id}.questions.yml"


def example_questions(policy: Policy, directory: Path | None = None) -> list[tuple[str, int]]:
    """(question, clause position) from data/retrieval/adapter-training/<policy-id>.questions.yml, if present.

    Keys are clause ids, or "text: phrase" for the first clause whose text contains the phrase. A key that no
    longer matches (the policy was reworded) is skipped rather than attached to the wrong clause.
    """
    data = _load_yaml(questions_path(policy.policy, directory)) or {}
    out: list[tuple[str, int]] = []
    for key, questions in data.items():
        key = str(key).strip()
        if key.lower().startswith("text:"):
            phrase = key[5:].strip().lower()
            rows = [i for i, c in enumerate(policy.clauses) if phrase and phrase in c.text.lower()]
        else:
            rows = [i for i, c in enumerate(policy.clauses) if c.clause == key]
        if not rows:
            continue
        out.extend((str(q).strip(), rows[0]) for q in questions or [] if str(q).strip())
    return out


def retrieval_fingerprint(policy_id: str, directory: Path | None = None) -> str:
    """A hash of the retrieval data an ingest of this policy embeds (so editing it triggers a re-embed)."""
    digest = hashlib.sha256(EMBED_VERSION.encode())
    base = Path(directory or RETRIEVAL_DIR)
    for path in (base / "details.yml", base / "sections.yml"):
        digest.update(path.read_bytes() if path.exists() else b"-")
    return digest.hexdigest()[:16]


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
    kinds: np.ndarray | None = None  # (n_vectors,) KIND_* of each vector; None means all KIND_TEXT
    # The highlight step's sentences and list items of every clause (knowledge.highlight.units), cut and embedded at
    # ingest so an answer neither splits sentences nor calls the encoder to pick its sentence: unit_spans maps a
    # clause text to its units' [start, end, lead start, lead end] (-1: no lead-in), and text i of unit_texts has
    # vector unit_vectors[i]. Not searched. units_version is knowledge.highlight.UNITS_VERSION when they were cut.
    unit_texts: list[str] = field(default_factory=list, repr=False)
    unit_vectors: np.ndarray | None = field(default=None, repr=False)
    unit_spans: dict[str, list[list[int]]] = field(default_factory=dict, repr=False)
    units_version: str = ""
    # The token match's content word pieces of every clause (search.content_pieces of piece_text), embedded at ingest
    # so a question never runs the model for a clause: rows piece_spans[i, 0]:piece_spans[i, 1] of piece_vectors
    # (float16, memory-mapped when loaded) are clause i's; clauses with the same text share rows. None: not stored
    # (an older index, or an encoder without token embeddings). pieces_version is PIECES_VERSION when they were stored.
    piece_vectors: np.ndarray | None = field(default=None, repr=False)
    piece_spans: np.ndarray | None = field(default=None, repr=False)
    pieces_version: str = ""

    def __post_init__(self):
        if self.kinds is None or len(self.kinds) != len(self.owners):
            self.kinds = np.zeros(len(self.owners), dtype=np.int8)
        if self.unit_vectors is None or len(self.unit_vectors) != len(self.unit_texts):
            self.unit_texts, self.unit_vectors = [], np.zeros((0, self.dim), dtype=np.float32)
            self.units_version = ""  # so the next ingest stores them again
        if (self.piece_vectors is None or self.piece_spans is None or len(self.piece_spans) != len(self.clauses)
                or (len(self.piece_spans) and int(np.max(self.piece_spans, initial=0)) > len(self.piece_vectors))):
            self.piece_vectors, self.piece_spans, self.pieces_version = None, None, ""
        self._unit_rows: dict[str, int] | None = None

    def unit_vector(self, text: str) -> np.ndarray | None:
        """The stored vector of one highlight unit text, or None when the index has none for it."""
        rows = self._unit_rows
        if rows is None:  # built on first use; two threads building it at once build the same dict
            rows = self._unit_rows = {t: i for i, t in enumerate(self.unit_texts)}
        row = rows.get(text)
        return None if row is None else self.unit_vectors[row]

    @property
    def has_pieces(self) -> bool:
        """Whether the index stores its clauses' word pieces in the current PIECES_VERSION."""
        return self.piece_spans is not None and self.pieces_version == PIECES_VERSION

    def clause_pieces(self, row: int) -> np.ndarray | None:
        """Clause `row`'s stored content word-piece vectors (float16), or None when the index stores none."""
        if not self.has_pieces:
            return None
        start, end = self.piece_spans[row]
        return self.piece_vectors[start:end]

    def build_faiss(self) -> None:
        """(Re)build the in-memory FAISS inner-product index from the vectors."""
        import faiss  # noqa: PLC0415

        if len(self.vectors) >= HNSW_FROM:
            # past school scale an exact scan grows linearly; HNSW keeps a query to a few ms (approximate)
            index = faiss.IndexHNSWFlat(self.dim, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.hnsw.efSearch = 128
        else:
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


INDEX_FILES = ("vectors.npy", "owners.npy", "kinds.npy", "clauses.faiss", "clauses.json")
# units.npy and units.json (the highlight vectors) are optional: an index written before them still loads, and its
# highlights are embedded at ask time until the next ingest adds them. When present they are checksummed like the rest.
# So are pieces.npy and piece_spans.npy (the token match's clause pieces): without them the searcher embeds a clause's
# pieces when it first meets it.


def file_checksum(path: Path) -> str:
    """sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(directory: Path) -> str | None:
    """None when the index at `directory` is whole (every file present with its manifest checksum), else why not."""
    directory = Path(directory)
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except FileNotFoundError:
        return "there is no index"
    except (OSError, ValueError) as exc:
        return f"its manifest can't be read ({exc})"
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not set(INDEX_FILES) <= set(files):
        return "it has no checksums (built by an older version)"
    for name, expected in sorted(files.items()):
        path = directory / name
        if not path.is_file():
            return f"{name} is missing"
        if file_checksum(path) != expected:
            return f"{name} does not match its checksum"
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
        np.save(tmp / "kinds.npy", np.asarray(index.kinds, dtype=np.int8))
        faiss.write_index(index.faiss_index, str(tmp / "clauses.faiss"))
        (tmp / "clauses.json").write_text(json.dumps([c.to_dict() for c in index.clauses], indent=1))
        if index.units_version:
            np.save(tmp / "units.npy", np.asarray(index.unit_vectors, dtype=np.float32))
            (tmp / "units.json").write_text(json.dumps({"version": index.units_version, "texts": index.unit_texts,
                                                        "spans": index.unit_spans}))
        if index.pieces_version and index.piece_spans is not None:
            np.save(tmp / "pieces.npy", np.asarray(index.piece_vectors, dtype=np.float16))
            np.save(tmp / "piece_spans.npy", np.asarray(index.piece_spans, dtype=np.int64))
        manifest = {
            "format": FORMAT_VERSION,
            # checksums of every other file, so `ingest` can tell a damaged index from an unchanged one
            "files": {f.name: file_checksum(f) for f in sorted(tmp.iterdir())},
            "model": index.model,
            "dim": index.dim,
            "pieces": index.pieces_version if index.piece_spans is not None else "",
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
        if "files" in manifest:  # indexes from before checksums still load; `ingest` rebuilds them
            problem = verify(directory)
            if problem:
                raise ValueError(problem)
        clauses = [Clause(**row) for row in json.loads((directory / "clauses.json").read_text())]
        vectors = np.load(directory / "vectors.npy")
        owners = np.load(directory / "owners.npy")
        kinds = np.load(directory / "kinds.npy") if (directory / "kinds.npy").exists() else None
        faiss_index = faiss.read_index(str(directory / "clauses.faiss"))
        stored_units, stored_unit_vectors = [], None
        stored_spans, units_version = {}, ""
        if (directory / "units.json").exists():
            stored = json.loads((directory / "units.json").read_text())
            stored_units, stored_spans, units_version = stored["texts"], stored["spans"], str(stored["version"])
            stored_unit_vectors = np.load(directory / "units.npy")
        piece_vectors = piece_spans = None
        if manifest.get("pieces") and (directory / "pieces.npy").exists():
            # memory-mapped: a large library's pieces (~17 KB a clause) stay on disk until a question meets them
            piece_vectors = np.load(directory / "pieces.npy", mmap_mode="r")
            piece_spans = np.load(directory / "piece_spans.npy")
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
        kinds=kinds,
        unit_texts=stored_units,
        unit_vectors=stored_unit_vectors,
        unit_spans=stored_spans,
        units_version=units_version,
        piece_vectors=piece_vectors,
        piece_spans=piece_spans,
        pieces_version=str(manifest.get("pieces") or ""),
    )


def cut_units(clauses: list[Clause]) -> tuple[dict[str, list[list[int]]], list[str]]:
    """The highlight step's units of these clauses (knowledge.highlight.units) as stored spans, and every distinct
    text it scores (Unit.full)."""
    from knowledge.highlight import units  # noqa: PLC0415 - highlight builds on search, which builds on this module

    spans: dict[str, list[list[int]]] = {}
    texts: dict[str, None] = {}
    for clause in clauses:
        if clause.text in spans:
            continue
        cut = units(clause.text)
        spans[clause.text] = [[u.start, u.end, *(u.lead or (-1, -1))] for u in cut]
        texts.update(dict.fromkeys(u.full(clause.text) for u in cut))
    return spans, list(texts)


def _units_current(index: PolicyIndex) -> bool:
    """Whether an index's stored highlight units were cut by the current knowledge.highlight.units."""
    from knowledge.highlight import UNITS_VERSION  # noqa: PLC0415 - see cut_units

    return index.units_version == UNITS_VERSION


def _unit_store(clauses: list[Clause], old: PolicyIndex | None, encoder, *, progress: bool,
                on_progress) -> tuple[dict[str, list[list[int]]], list[str], np.ndarray]:
    """The highlight units of `clauses` and their vectors: vectors kept from `old` where it has them (a text's
    vector does not depend on how it was cut), else embedded now."""
    spans, texts = cut_units(clauses)
    keep = {} if old is None else {t: v for t in texts if (v := old.unit_vector(t)) is not None}
    missing = [t for t in texts if t not in keep]
    fresh = (_encode(encoder, missing, progress=progress, on_progress=on_progress, start=0.75, span=0.15) if missing
             else np.zeros((0, encoder.dim), np.float32))
    keep.update(zip(missing, fresh))
    vectors = np.stack([keep[t] for t in texts]).astype(np.float32) if texts else np.zeros((0, encoder.dim), np.float32)
    return spans, texts, vectors


def _piece_store(clauses: list[Clause], old: PolicyIndex | None, encoder, *,
                 on_progress) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The token match's content word pieces of `clauses` (float16, one block per distinct piece_text) and each
    clause's [start, end) rows: kept from `old` where it stores them, else embedded now. (None, None) when the
    encoder gives no token embeddings (the hashing encoder of the fast tests)."""
    if not hasattr(encoder, "token_vectors"):
        return None, None
    from knowledge.search import content_pieces  # noqa: PLC0415 - search builds on this module

    texts = list(dict.fromkeys(piece_text(c) for c in clauses))
    found: dict[str, np.ndarray] = {}
    if old is not None and old.pieces_version == PIECES_VERSION and old.piece_spans is not None:
        wanted = set(texts)
        for row, clause in enumerate(old.clauses):
            text = piece_text(clause)
            if text in wanted and text not in found:
                found[text] = np.asarray(old.clause_pieces(row), dtype=np.float16)
    missing = [t for t in texts if t not in found]
    for first in range(0, len(missing), 256):
        if on_progress:
            on_progress("Embedding the clauses' word pieces", 0.9 + 0.02 * first / len(missing))
        batch = missing[first:first + 256]
        for text, (pieces, vectors) in zip(batch, encoder.token_vectors(batch)):
            found[text] = content_pieces(pieces, vectors).astype(np.float16)
    blocks = [found[t] for t in texts]
    ends = np.cumsum([len(b) for b in blocks], dtype=np.int64)
    where = {t: (int(e) - len(b), int(e)) for t, b, e in zip(texts, blocks, ends)}
    spans = np.array([where[piece_text(c)] for c in clauses], dtype=np.int64).reshape(len(clauses), 2)
    vectors = np.vstack(blocks) if blocks else np.zeros((0, encoder.dim), np.float16)
    return vectors.astype(np.float16, copy=False), spans


def _policy_meta(policy: Policy, extras_dir: Path | None = None) -> dict:
    return {
        "title": policy.title,
        "path": policy.path,
        "checksum": policy.checksum,
        "retrieval": retrieval_fingerprint(policy.policy, extras_dir),
        "details": policy.details,
        "owner": policy.owner(),
        "review_date": policy.review_date(),
        "clauses": len(policy.clauses),
        "quality": document_quality(policy),
        # the tree the units were cut from, so the reader and the sign-off page show every heading in place
        "blocks": [b.to_dict() for b in policy.document.blocks] if policy.document else [],
    }


def document_quality(policy: Policy) -> dict:
    """What `ingest` reports per document: units, longest unit, share of sentences kept whole, fragments, warnings."""
    content = [c for c in policy.clauses if c.kind != "detail"]
    fragments = sum(1 for c in content if len(c.text.split()) < 4)
    return {
        "units": len(policy.clauses),
        "longest": policy.longest(),
        "coverage": round(policy.coverage(), 4),
        "fragments": round(fragments / max(1, len(content)), 4),
        "warnings": list(policy.warnings),
    }


@dataclass
class IngestReport:
    """What an ingest did, per policy."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    changes: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # policy -> added/removed/changed ids
    written: bool = False
    damaged: str | None = None  # why the index on disk could not be kept (it was rebuilt)
    recovered: list[str] = field(default_factory=list)  # other policies re-read from their files in a rebuild
    lost: list[str] = field(default_factory=list)  # other policies whose files are gone: not in the rebuilt index


def diff_clauses(old: list[Clause], new: list[Clause]) -> dict[str, list[str]]:
    """Which clause ids were added, removed or reworded between two versions of a policy."""
    before = {c.clause: c.text for c in old}
    after = {c.clause: c.text for c in new}
    return {
        "added": [k for k in after if k not in before],
        "removed": [k for k in before if k not in after],
        "changed": [k for k in after if k in before and before[k] != after[k]],
    }


def _encode(encoder, texts: list[str], *, progress: bool, on_progress, start: float = 0.15,
            span: float = 0.6) -> np.ndarray:
    """Embed texts, reporting the share done to `on_progress` batch by batch (the upload page's progress bar)."""
    if on_progress is None or len(texts) <= 256:
        return encoder.encode(texts, progress=progress)
    parts = []
    for first in range(0, len(texts), 256):
        on_progress("Embedding the clauses", start + span * first / len(texts))
        parts.append(encoder.encode(texts[first:first + 256], progress=False))
    return np.vstack(parts)


def _listed_policies(directory: Path) -> dict[str, dict]:
    """The policies a (possibly damaged) index's manifest lists, or {} when even that can't be read."""
    for folder in (Path(directory), Path(directory).with_name(Path(directory).name + ".old")):
        try:
            policies = json.loads((folder / "manifest.json").read_text()).get("policies")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(policies, dict):
            return policies
    return {}


def ingest(paths: list[Path], directory: Path, encoder, *, progress: bool = False,
           extras_dir: Path | None = None, on_progress=None, max_clauses: int | None = None,
           force: bool = False) -> IngestReport:
    """Parse policy files and add or replace them in the index at `directory`; unchanged files are a no-op.

    Besides each clause's text, its sentences, generic front-matter and section questions (from `extras_dir`, default
    data/retrieval), questions generated from the clause's own text are embedded as extra vectors of the clause;
    nothing per-policy is read. A policy is unchanged when both its file and that generic data are unchanged.
    Raises PolicyReadError (from parsing) before anything is written, so a bad file never damages the index.
    """
    if on_progress:
        on_progress("Reading the file", 0.1)
    parsed = [parse_file(Path(p), max_clauses=max_clauses) for p in paths]
    seen: set[str] = set()
    for policy in parsed:
        if policy.policy in seen:
            raise ValueError(f"two files give the same policy id '{policy.policy}'")
        seen.add(policy.policy)
    report = IngestReport()
    problem = verify(directory)
    try:
        current = load(directory)
        if current.model != encoder.name:
            current = None  # a different model: everything is re-embedded
            report.damaged = "it was built with another model"
        elif problem:
            current = None
            report.damaged = problem
    except IndexError_ as exc:
        current = None
        report.damaged = None if problem == "there is no index" else str(exc)
    if current is None:
        # Rebuilding: every other policy the old manifest lists is re-read from its file, never dropped silently.
        for name, meta in _listed_policies(directory).items():
            if name in seen:
                continue
            source = Path(meta.get("path") or "")
            try:
                parsed.append(parse_file(source, max_clauses=max_clauses, policy_id=name))
                seen.add(name)
                report.recovered.append(name)
            except (PolicyReadError, OSError):
                report.lost.append(name)

    keep_policies: dict[str, dict] = dict(current.policies) if current else {}
    todo: list[Policy] = []
    for policy in parsed:
        old_meta = keep_policies.get(policy.policy)
        if (not force and old_meta and old_meta.get("checksum") == policy.checksum
                and old_meta.get("retrieval") == retrieval_fingerprint(policy.policy, extras_dir)):
            report.unchanged.append(policy.policy)
            continue
        (report.updated if old_meta else report.added).append(policy.policy)
        old_clauses = current.policy_clauses(policy.policy) if current else []
        report.changes[policy.policy] = diff_clauses(old_clauses, policy.clauses)
        todo.append(policy)
    # an index from before stored highlight units (or cut by an older units()) gains them at the next ingest
    needs_units = current is not None and bool(current.clauses) and not _units_current(current)
    # ... and so does one from before stored clause pieces (when the encoder gives token embeddings)
    needs_pieces = (current is not None and bool(current.clauses) and hasattr(encoder, "token_vectors")
                    and current.pieces_version != PIECES_VERSION)
    if not todo and not needs_units and not needs_pieces:
        return report

    replaced = {p.policy for p in todo}
    clauses: list[Clause] = []
    vectors: list[np.ndarray] = []
    owners: list[int] = []
    kinds: list[int] = []
    if current:
        for row, clause in enumerate(current.clauses):
            if clause.policy in replaced:
                continue
            new_row = len(clauses)
            clauses.append(clause)
            mask = current.owners == row
            vectors.append(current.vectors[mask])
            owners.extend([new_row] * int(mask.sum()))
            kinds.extend(int(k) for k in current.kinds[mask])
    templates = _load_yaml(Path(extras_dir or RETRIEVAL_DIR) / "details.yml") or []
    sections = _load_yaml(Path(extras_dir or RETRIEVAL_DIR) / "sections.yml") or []
    texts: list[str] = []
    text_owner: list[int] = []
    text_kind: list[int] = []
    for policy in todo:
        keep_policies[policy.policy] = _policy_meta(policy, extras_dir)
        first_row = len(clauses)
        per_clause: dict[int, list[tuple[str, int]]] = {}
        for position, clause in enumerate(policy.clauses):
            clauses.append(clause)
            per_clause[position] = embedding_texts_with_kinds(clause, templates, sections)
        for position in range(len(policy.clauses)):
            for text, kind in per_clause[position]:
                texts.append(text)
                text_owner.append(first_row + position)
                text_kind.append(kind)
    if on_progress:
        on_progress("Embedding the clauses", 0.15)
    new_vectors = (_encode(encoder, texts, progress=progress, on_progress=on_progress) if texts
                   else np.zeros((0, encoder.dim), np.float32))
    vectors.append(new_vectors)
    owners.extend(text_owner)
    kinds.extend(text_kind)
    # keep vectors grouped in clause order so owners stay consistent
    all_vectors = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, encoder.dim), np.float32)
    from knowledge.highlight import UNITS_VERSION  # noqa: PLC0415 - see cut_units

    spans, units_text, units_vectors = _unit_store(clauses, current, encoder, progress=progress,
                                                   on_progress=on_progress)
    piece_vectors, piece_spans = _piece_store(clauses, current, encoder, on_progress=on_progress)
    index = PolicyIndex(
        policies=keep_policies,
        clauses=clauses,
        vectors=all_vectors,
        owners=np.asarray(owners, dtype=np.int64),
        model=encoder.name,
        dim=encoder.dim,
        kinds=np.asarray(kinds, dtype=np.int8),
        unit_texts=units_text,
        unit_vectors=units_vectors,
        unit_spans=spans,
        units_version=UNITS_VERSION,
        piece_vectors=piece_vectors,
        piece_spans=piece_spans,
        pieces_version=PIECES_VERSION if piece_spans is not None else "",
    )
    if on_progress:
        on_progress("Saving the index", 0.92)
    index.build_faiss()
    save(index, directory)
    report.written = True
    return report
