"""Policy file -> citable units: read the file into a document tree (knowledge.readers), cut the tree into units
(knowledge.units), and return a Policy of Clauses with heading paths, front-matter facts and coverage."""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from knowledge.document import Document
from knowledge.readers import PolicyReadError, read_document
from knowledge.units import cut, sentences, slug


@dataclass
class Clause:
    """One citable unit of a policy, with its verbatim text."""

    policy: str  # policy id: the file's stem
    clause: str  # stable id within the policy: "6.3", "A1.4", "doc.approved", "forbidden.2"
    section: str  # heading path as shown to users: "Internet access › Forbidden"
    text: str  # verbatim text (markup removed, line breaks only where the document has structure)
    title: str = ""  # human label: "6.3 — 6 Personal Use of Social Media", "Forbidden, item 2"
    kind: str = "clause"  # clause (numbered) | item (list item, paragraph, table row) | detail (front matter)
    order: int = 0

    def to_dict(self) -> dict:
        """Return the clause as a plain dict."""
        return asdict(self)


@dataclass
class Policy:
    """A parsed policy document."""

    policy: str
    title: str
    path: str
    checksum: str
    clauses: list[Clause] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)  # front matter: key -> value
    document: Document | None = None  # the tree the units were cut from (the reader renders it)
    warnings: list[str] = field(default_factory=list)

    def contacts(self) -> list[Clause]:
        """Clauses that name a person to contact: the policy owner and any contact list entries."""
        found = [c for c in self.clauses if c.kind == "detail" and _OWNER_KEY.search(c.clause)]
        found += [c for c in self.clauses if _EMAIL.search(c.text) or _PHONE.search(c.text)]
        return found

    def owner(self) -> str | None:
        """The person or role the front matter names as responsible for the policy, if any."""
        for key, value in self.details.items():
            if _OWNER_KEY.search(key) and value:
                return value
        return None

    def review_date(self) -> str | None:
        """The review date the front matter gives, as written, if any."""
        for key, value in self.details.items():
            if re.search(r"review", key, re.IGNORECASE) and value:
                return value
        return None

    def longest(self) -> int:
        """Characters in the longest unit."""
        return max((len(c.text) for c in self.clauses), default=0)

    def coverage(self) -> float:
        """Share of the document's sentences found whole inside one unit (its heading path + text)."""
        return coverage(self.document, self.clauses) if self.document else 1.0


_OWNER_KEY = re.compile(r"responsib|owner|lead|author", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_PHONE = re.compile(r"\b0\d{3,4}[ -]?\d{3}[ -]?\d{3,4}\b")

def squash(text: str) -> str:
    """Lower-case words only, single-spaced: how unit and block texts are compared."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


COVERAGE_SAMPLE = 600  # paragraphs; past this, coverage() is estimated from an even sample


def coverage(document: Document, clauses: list[Clause]) -> float:
    """Share of the document's sentences (headings and form lines aside) found whole inside one unit's heading
    path and text: 1.0 means nothing the document says was lost when cutting it into units."""
    from knowledge.units import is_form_line  # noqa: PLC0415

    haystacks = [squash(f"{c.section} {c.title} {c.text}") for c in clauses]
    wanted = []
    blocks = [b for b in document.blocks if b.kind not in ("heading", "toc")]  # a contents entry is not a rule
    if len(blocks) > COVERAGE_SAMPLE:
        # the sentence splitter costs ~10 ms a paragraph: a very long document's coverage is estimated from an even
        # sample of its paragraphs, so a 20 MB upload is not spent minutes on a quality figure
        step = len(blocks) / COVERAGE_SAMPLE
        blocks = [blocks[int(i * step)] for i in range(COVERAGE_SAMPLE)]
    for block in blocks:
        if is_form_line(block.text):
            continue
        for line in block.lines or [block.text]:
            if not is_form_line(line):
                wanted += [s for s in sentences(line) if len(squash(s).split()) >= 2]
    if not wanted:
        return 1.0
    # Hand-written (no library does this): a sentence is looked for only in the units holding the rarest of its inner
    # words (inner words are whole words in any match; the first and last may be word ends), not in every unit, so
    # the check stays linear in the document's size (a 1 MB policy took minutes before).
    holders: dict[str, list[int]] = {}
    for row, haystack in enumerate(haystacks):
        for word in set(haystack.split()):
            holders.setdefault(word, []).append(row)
    joined = "\n".join(haystacks)
    known: dict[str, bool] = {}
    for sentence in wanted:
        key = squash(sentence)
        if key in known:
            continue
        inner = set(key.split()[1:-1])
        if inner:
            rows = min((holders.get(w, []) for w in inner), key=len)
            known[key] = any(key in haystacks[row] for row in rows)
        else:
            known[key] = key in joined  # two words: no newline in a squashed text, so it matches within one unit
    return sum(known[squash(s)] for s in wanted) / len(wanted)


def parse_document(document: Document, policy_id: str, *, path: str = "", checksum: str = "",
                   max_clauses: int | None = None) -> Policy:
    """Cut a document tree into a Policy of clauses; raise PolicyReadError if it holds no policy text."""
    if max_clauses is None:
        from knowledge.settings import get_settings  # noqa: PLC0415

        max_clauses = get_settings().max_clauses
    result = cut(document)
    if len(result.units) > max_clauses:
        name = Path(path).name if path else policy_id
        raise PolicyReadError(f"{name}: {len(result.units):,} clauses is more than the limit of {max_clauses:,} for one "
                              "policy; split the document or check that it is a policy")
    clauses: list[Clause] = []
    if result.title:
        clauses.append(Clause(policy_id, "doc.title", "Document details", result.title, "Document details — title",
                              "detail"))
    used = {c.clause for c in clauses}
    for key, value in result.details.items():
        if key.lower() == "title" and value == result.title:
            continue
        if key.startswith("line-"):
            text, name = value, key
        else:
            text, name = f"{key}: {value}", key
        clause_id = f"doc.{slug(name, 40)}"
        while clause_id in used:
            clause_id += "-2"
        used.add(clause_id)
        clauses.append(Clause(policy_id, clause_id, "Document details", text,
                              f"Document details — {key if not key.startswith('line-') else 'heading'}", "detail"))
    for unit in result.units:
        clauses.append(Clause(policy_id, unit.clause, unit.section, unit.text, unit.title, unit.kind))
    content = [c for c in clauses if c.kind != "detail"]
    if len(content) < 2:
        name = Path(path).name if path else policy_id
        raise PolicyReadError(
            f"{name}: no recognisable clauses or sections found (expected headings, numbered clauses or paragraphs of "
            "policy text)"
        )
    for i, clause in enumerate(clauses):
        clause.order = i
    return Policy(
        policy=policy_id,
        title=result.title or policy_id.replace("-", " ").title(),
        path=path,
        checksum=checksum,
        clauses=clauses,
        details={k: v for k, v in result.details.items() if not k.startswith("line-")},
        document=document,
        warnings=list(document.warnings),
    )


def parse_lines(lines: list[str], policy_id: str = "policy") -> Policy:
    """Parse policy text given as lines (pasted text and tests), read as plain text or Markdown."""
    return parse_text("\n".join(lines), policy_id)


def parse_text(text: str, policy_id: str = "policy", *, suffix: str = ".txt") -> Policy:
    """Parse policy text given as a string (tests and pasted text), as if read from a file with this suffix."""
    from knowledge.readers import _looks_like_markdown, _markdown, _text  # noqa: PLC0415

    markdown = suffix in (".md", ".markdown") or _looks_like_markdown(text)
    return parse_document(_markdown(text) if markdown else _text(text), policy_id)


def policy_id_for(path: Path) -> str:
    """The id a policy file is known by: its file name without extension, slugged."""
    return re.sub(r"[^a-z0-9]+", "-", Path(path).stem.lower()).strip("-")[:40] or "policy"


def parse_file(path: Path, *, max_bytes: int | None = None, max_unzipped: int | None = None,
               max_clauses: int | None = None, policy_id: str | None = None) -> Policy:
    """Read and parse one policy file (optional lower limits for uploads)."""
    path = Path(path)
    document = read_document(path, max_bytes=max_bytes, max_unzipped=max_unzipped)
    checksum = hashlib.sha256(path.read_bytes()).hexdigest()
    return parse_document(document, policy_id or policy_id_for(path), path=str(path), checksum=checksum,
                          max_clauses=max_clauses)
