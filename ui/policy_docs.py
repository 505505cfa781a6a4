"""The policy index as the UI reads it: whole policies by section, agreements found by title, keyword search."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.index import IndexError_, PolicyIndex, load
from knowledge.parser import Clause
from knowledge.settings import get_settings

_lock = threading.Lock()
_cache: dict[str, tuple[float, PolicyIndex]] = {}
_STAFF_AGREEMENT = re.compile(r"acceptable\s+use", re.IGNORECASE)
_GOVERNOR_AGREEMENT = re.compile(r"govern(ing|or)|management\s+committee\s+(document|agreement)|"
                                 r"social\s+networking\s+agreement", re.IGNORECASE)
GOVERNOR_ROLES = ("governor",)


def load_index(index_dir: Path | None = None) -> PolicyIndex:
    """The index on disk, reloaded when it changes (raises IndexError_ with a message to show)."""
    directory = Path(index_dir or get_settings().index_dir)
    manifest = directory / "manifest.json"
    stamp = manifest.stat().st_mtime if manifest.exists() else 0.0
    with _lock:
        cached = _cache.get(str(directory))
        if cached and cached[0] == stamp and stamp:
            return cached[1]
        index = load(directory)
        _cache[str(directory)] = (stamp, index)
        return index


def try_index() -> tuple[PolicyIndex | None, str | None]:
    """(index, None) or (None, a message saying why there is no index)."""
    try:
        return load_index(), None
    except IndexError_ as exc:
        return None, str(exc)


def sections(index: PolicyIndex, policy: str) -> list[tuple[str, list[Clause]]]:
    """A policy's clauses grouped by section, in document order."""
    out: list[tuple[str, list[Clause]]] = []
    for clause in sorted(index.policy_clauses(policy), key=lambda c: c.order):
        if not out or out[-1][0] != clause.section:
            out.append((clause.section, []))
        out[-1][1].append(clause)
    return out


def clause_key(clause_id: str) -> str:
    """A CSS-safe, unique key for a clause id: '6.3' -> 'clause-6_3', 'A1.4~2' -> 'clause-a1_4-2'."""
    return "clause-" + re.sub(r"[^a-z0-9_-]", "", clause_id.lower().replace(".", "_").replace("~", "-"))


@dataclass
class Agreement:
    """An agreement to read and sign: which policy, which document, its clauses, its part of the document tree
    (headings, lead-ins and signature lines in place) and the policy version."""

    policy: str
    policy_title: str
    document: str
    clauses: list[Clause]
    version: str
    blocks: list = field(default_factory=list)


def _document_name(section: str, kind: str) -> str:
    """'Appendix 1 › Maple Medical Pru › Staff, … Acceptable Use Agreement' -> 'Appendix 1 — Staff, … Agreement'."""
    parts = section.split(" › ")
    wanted = _GOVERNOR_AGREEMENT if kind == "governor" else _STAFF_AGREEMENT
    named = next((p for p in parts[1:] if wanted.search(p)), parts[1] if len(parts) > 1 else "")
    head = parts[0]
    return f"{head} — {named}" if named and " — " not in head else head


def agreement_for(index: PolicyIndex, role: str | None) -> Agreement | None:
    """The agreement a person in this role signs: the governors' one for governors, else the acceptable use one."""
    from ui.policy_tree import appendices, blocks_of, subtree  # noqa: PLC0415 - streamlit-side rendering helpers

    found: dict[str, Agreement] = {}
    for policy, meta in index.policies.items():
        grouped: dict[str, list[Clause]] = {}
        for section, clauses in sections(index, policy):
            top = section.split(" › ")[0]
            if top.lower().startswith(("appendix", "annex", "schedule")):
                grouped.setdefault(top, []).extend(clauses)
        tree = blocks_of(meta)
        parts = {text: subtree(tree, i) for i, text in appendices(tree)}
        for top, clauses in grouped.items():
            names = " ".join(dict.fromkeys(c.section for c in clauses))
            kind = "governor" if _GOVERNOR_AGREEMENT.search(names) and not _STAFF_AGREEMENT.search(names) \
                else "staff" if _STAFF_AGREEMENT.search(names) else None
            if not kind or kind in found:
                continue
            label = top.split(" — ")[0]
            blocks = next((b for text, b in parts.items() if re.match(re.escape(label) + r"\b", text, re.IGNORECASE)
                           or text.lower().startswith(label.lower())), [])
            found[kind] = Agreement(policy, meta.get("title", policy), _document_name(clauses[0].section, kind),
                                    clauses, meta.get("checksum", ""), blocks)
    if role in GOVERNOR_ROLES and "governor" in found:
        return found["governor"]
    return found.get("staff") or found.get("governor")


def search(index: PolicyIndex, policy: str, query: str) -> list[Clause]:
    """Clauses of a policy containing every word of the query (case-insensitive)."""
    words = [w for w in re.findall(r"\w+", query.lower()) if len(w) > 1]
    if not words:
        return []
    hits = []
    for clause in index.policy_clauses(policy):
        text = f"{clause.clause} {clause.section} {clause.text}".lower()
        if all(w in text for w in words):
            hits.append(clause)
    return hits
