"""Upload a new policy or a new version: check it, save it under the policies folder, re-index, record the version."""
from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot import records
from bot.store import Store
from knowledge.index import IndexError_, load
from knowledge.parser import parse_file, policy_id_for
from knowledge.readers import PolicyReadError
from knowledge.settings import Settings, get_settings

log = logging.getLogger(__name__)
ALLOWED = (".md", ".txt", ".docx", ".pdf")


@dataclass
class UploadResult:
    """What an upload did: ok or not, a message to show, and the clause ids added, removed or changed."""

    ok: bool
    message: str
    policy: str | None = None
    title: str | None = None
    status: str = "error"  # error | added | updated | unchanged
    changes: dict[str, list[str]] = field(default_factory=dict)


def _current_policies(settings: Settings) -> dict[str, dict]:
    try:
        return load(settings.index_dir).policies
    except IndexError_:
        return {}


def upload_policy(store: Store, filename: str, data: bytes, *, replaces: str | None = None,
                  uploaded_by: str | None = None, settings: Settings | None = None, encoder=None) -> UploadResult:
    """Check, save and index an uploaded policy file; a bad file leaves the files and the index untouched."""
    settings = settings or get_settings()
    suffix = Path(filename or "").suffix.lower()
    if suffix not in ALLOWED:
        kind = f"'{suffix}'" if suffix else "with no extension"
        return UploadResult(False, f"{filename}: files {kind} can't be read; upload a .md, .txt, .docx or .pdf file.")
    policy = replaces or policy_id_for(Path(filename))
    existing = _current_policies(settings)
    if replaces is None and policy in existing:
        return UploadResult(False, f"There is already a policy '{existing[policy].get('title', policy)}' from a file "
                                   f"named like this. Choose 'a new version of' it, or rename the file.")
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / f"{policy}{suffix}"
        staged.write_bytes(data)
        try:
            parsed = parse_file(staged)
        except PolicyReadError as exc:
            message = str(exc).replace(str(staged), filename).replace(staged.name, filename)
            return UploadResult(False, f"The file couldn't be used, so nothing was changed. {message}")
    policies_dir = Path(settings.policies_dir)
    policies_dir.mkdir(parents=True, exist_ok=True)
    final = policies_dir / f"{policy}{suffix}"
    archive = Path(settings.index_dir).parent / "policy-archive"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved: list[tuple[Path, Path]] = []
    for old in sorted(policies_dir.iterdir()):
        if old.is_file() and old.suffix.lower() in ALLOWED + (".markdown", ".text") and policy_id_for(old) == policy:
            archive.mkdir(parents=True, exist_ok=True)
            kept = archive / f"{old.stem}-{stamp}{old.suffix}"
            shutil.copy2(old, kept)
            moved.append((old, kept))
    try:
        for old, _ in moved:
            old.unlink()
        final.write_bytes(data)
        if encoder is None:
            from knowledge.encoder import load_encoder  # noqa: PLC0415 - heavy, only on upload

            encoder = load_encoder(settings.model)
        report = reindex(final, settings, encoder)
    except Exception as exc:  # put the old files back whatever went wrong
        log.exception("policy upload failed")
        final.unlink(missing_ok=True)
        for old, kept in moved:
            shutil.copy2(kept, old)
        return UploadResult(False, f"Re-indexing failed, so the previous version stays in use ({exc}).")
    if policy in report.unchanged:
        return UploadResult(True, "This file is the same as the version already in use; nothing changed.",
                            policy, parsed.title, "unchanged", {"added": [], "removed": [], "changed": []})
    changes = report.changes.get(policy, {"added": [], "removed": [], "changed": []})
    status = "updated" if policy in report.updated else "added"
    records.record_policy_version(store, policy=policy, checksum=parsed.checksum, title=parsed.title,
                                  changes=changes, uploaded_by=uploaded_by)
    verb = "New version of" if status == "updated" else "Added"
    return UploadResult(True, f"{verb} '{parsed.title}': {len(parsed.clauses)} clauses indexed.", policy,
                        parsed.title, status, changes)


def reindex(path: Path, settings: Settings, encoder):
    """Add or replace one policy file in the index (knowledge.index.ingest)."""
    from knowledge.index import ingest  # noqa: PLC0415

    return ingest([path], Path(settings.index_dir), encoder)
