"""The one ingest path: add or replace policy files in the index and record each new version in the database.

`policy-coach ingest` (bot/cli.py) and the coordinator's upload page (ui/policy_admin.py) both come here, so a policy
loaded either way shows in the upload history with the clause ids it added, removed or changed and their wording.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bot.training import reports
from bot.training.store import Store
from knowledge.index import IndexError_, IngestReport, ingest, load


@dataclass
class Version:
    """A recorded policy version: what changed, and the old and new wording of every changed clause."""

    policy: str
    title: str
    checksum: str
    status: str  # added | updated
    changes: dict[str, list[str]]
    wording: list[dict] = field(default_factory=list)


def _policy_clauses(index_dir: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """(policy metadata, {policy: {clause id: clause}}) of the index on disk, or empty when there is none yet."""
    try:
        index = load(index_dir)
    except IndexError_:
        return {}, {}
    clauses: dict[str, dict] = {}
    for clause in index.clauses:
        clauses.setdefault(clause.policy, {})[clause.clause] = clause
    return index.policies, clauses


def _plain_label(clause, clause_id: str) -> str:
    return clause_id


def wording_diff(old: dict, new: dict, changes: dict[str, list[str]], label: Callable = _plain_label) -> list[dict]:
    """Old and new verbatim wording of every changed, added and removed clause; `label(clause, id)` names it."""
    out = []
    for kind in ("changed", "added", "removed"):
        for cid in changes.get(kind, []):
            before, after = old.get(cid), new.get(cid)
            out.append({"clause": cid, "kind": kind, "label": label(after or before, cid),
                        "old": before.text if before else "", "new": after.text if after else ""})
    return out


def ingest_policies(paths: list[Path], index_dir: Path, encoder, *, label: Callable = _plain_label,
                    **options) -> tuple[IngestReport, list[Version]]:
    """Ingest the files (knowledge.index.ingest, `options` passed on); returns its report and, for every policy it
    added or updated, the Version to record (record_versions)."""
    index_dir = Path(index_dir)
    _, before = _policy_clauses(index_dir)
    report = ingest([Path(p) for p in paths], index_dir, encoder, **options)
    if not (report.added or report.updated):
        return report, []
    meta, after = _policy_clauses(index_dir)
    versions = []
    for status, names in (("added", report.added), ("updated", report.updated)):
        for policy in names:
            changes = report.changes.get(policy, {"added": [], "removed": [], "changed": []})
            wording = wording_diff(before.get(policy, {}), after.get(policy, {}), changes, label) \
                if status == "updated" else []
            info = meta.get(policy, {})
            versions.append(Version(policy, str(info.get("title") or policy), str(info.get("checksum") or ""),
                                    status, changes, wording))
    return report, versions


def record_versions(store: Store, versions: list[Version], *, uploaded_by: str | None = None) -> None:
    """Record each new policy version in the upload history (reports.policy_versions)."""
    for version in versions:
        reports.record_policy_version(store, policy=version.policy, checksum=version.checksum, title=version.title,
                                      changes={**version.changes, "wording": version.wording},
                                      uploaded_by=uploaded_by)


def ingest_and_record(store: Store, paths: list[Path], index_dir: Path, encoder, *, uploaded_by: str | None = None,
                      **options) -> IngestReport:
    """ingest_policies, then record_versions: what `policy-coach ingest` does."""
    report, versions = ingest_policies(paths, index_dir, encoder, **options)
    record_versions(store, versions, uploaded_by=uploaded_by)
    return report
