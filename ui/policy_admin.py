"""Upload a new policy or a new version: check it and keep it in the runtime dir (archiving the version it replaces),
then re-index and record the version through the one ingest path (bot/training/policies.py)."""
from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bot.training import policies
from bot.training.store import Store
from bot.tokens import secure_dir
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
    # per changed/added/removed clause: {"clause", "kind", "label", "old", "new"} for the side-by-side diff
    wording: list[dict] = field(default_factory=list)


def _current_policies(settings: Settings) -> dict[str, dict]:
    try:
        return load(settings.index_dir).policies
    except IndexError_:
        return {}


def _limit_message(filename: str, data: bytes, settings: Settings) -> str | None:
    cap = int(settings.max_upload_mb * 1024 * 1024)
    if len(data) > cap:
        return (f"{filename} is {len(data) / 1e6:.1f} MB; uploads are limited to {settings.max_upload_mb:g} MB, so "
                "nothing was changed. A policy is rarely over 5 MB: save it without embedded images.")
    return None


def upload_policy(store: Store, filename: str, data: bytes, *, replaces: str | None = None,
                  uploaded_by: str | None = None, settings: Settings | None = None, encoder=None,
                  on_progress: Callable[[str, float], None] | None = None) -> UploadResult:
    """Check, save and index an uploaded policy file; a bad file leaves the files and the index untouched.

    The file goes to the runtime dir (settings.uploads_dir), never into the repository; the version it replaces is
    copied to settings.archive_dir first. `on_progress(stage, fraction)` reports reading, embedding and saving.
    """
    settings = settings or get_settings()
    report_progress = on_progress or (lambda stage, fraction: None)
    suffix = Path(filename or "").suffix.lower()
    if suffix not in ALLOWED:
        kind = f"'{suffix}'" if suffix else "with no extension"
        return UploadResult(False, f"{filename}: files {kind} can't be read; upload a .md, .txt, .docx or .pdf file.")
    too_big = _limit_message(filename, data, settings)
    if too_big:
        return UploadResult(False, too_big)
    policy = replaces or policy_id_for(Path(filename))
    existing = _current_policies(settings)
    if replaces is None and policy in existing:
        return UploadResult(False, f"There is already a policy '{existing[policy].get('title', policy)}' from a file "
                                   f"named like this. Choose 'a new version of' it, or rename the file.")
    report_progress("Reading the file", 0.05)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / f"{policy}{suffix}"
        staged.write_bytes(data)
        try:
            parsed = parse_file(staged, max_bytes=int(settings.max_upload_mb * 1024 * 1024),
                                max_unzipped=int(settings.max_unzipped_mb * 1024 * 1024),
                                max_clauses=settings.max_clauses)
        except PolicyReadError as exc:
            message = str(exc).replace(str(staged), filename).replace(staged.name, filename)
            return UploadResult(False, f"The file couldn't be used, so nothing was changed. {message}")
    uploads = secure_dir(Path(settings.uploads_dir))
    final = uploads / f"{policy}{suffix}"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    # Every earlier file of this policy: uploads are moved out of the way (kept in the archive); the file the
    # index was built from is archived too, but a shipped file in the repository is only copied, never touched.
    previous = [old for old in sorted(uploads.iterdir()) if old.is_file() and policy_id_for(old) == policy]
    indexed = Path(existing.get(policy, {}).get("path") or "")
    if indexed.name and indexed.is_file() and indexed not in previous:
        previous.append(indexed)
    moved: list[tuple[Path, Path, bool]] = []
    try:
        for old in previous:
            archive = secure_dir(Path(settings.archive_dir))
            kept = archive / f"{old.stem}-{stamp}{old.suffix}"
            shutil.copy2(old, kept)
            moved.append((old, kept, old.parent.resolve() == uploads.resolve()))
        for old, _, ours in moved:
            if ours:
                old.unlink()
        final.write_bytes(data)
        final.chmod(0o600)
        if encoder is None:
            report_progress("Loading the language model", 0.1)
            from knowledge.encoder import load_encoder  # noqa: PLC0415 - heavy, only on upload

            encoder = load_encoder(settings.model)
        from ui.render import clause_label  # noqa: PLC0415

        report, versions = policies.ingest_policies([final], Path(settings.index_dir), encoder, label=clause_label,
                                                    on_progress=report_progress, max_clauses=settings.max_clauses)
    except Exception:
        log.exception("policy upload failed")
        final.unlink(missing_ok=True)
        for old, kept, ours in moved:
            if ours:
                shutil.copy2(kept, old)
        return UploadResult(False, "Re-indexing failed, so the previous version stays in use. The details are in the "
                                   "server log.")
    report_progress("Done", 1.0)
    if policy in report.unchanged:
        return UploadResult(True, "This file is the same as the version already in use; nothing changed.",
                            policy, parsed.title, "unchanged", {"added": [], "removed": [], "changed": []})
    policies.record_versions(store, versions, uploaded_by=uploaded_by)
    version = next(v for v in versions if v.policy == policy)
    status, changes, wording = version.status, version.changes, version.wording
    verb = "New version of" if status == "updated" else "Added"
    message = f"{verb} '{parsed.title}': {len(parsed.clauses)} clauses indexed."
    if status == "updated" and (changes.get("added") or changes.get("changed")):
        message += _refresher_note(store, settings, policy, set(changes["added"]) | set(changes["changed"]),
                                   uploaded_by)
    return UploadResult(True, message, policy, parsed.title, status, changes, wording)


def _refresher_note(store: Store, settings: Settings, policy: str, changed: set[str], by: str | None) -> str:
    """Draft refresher scenarios for the changed clauses (as drafts); the upload succeeds whatever happens here."""
    from bot.training.assignments import draft_refresher  # noqa: PLC0415

    try:
        drafted = draft_refresher(store, load(settings.index_dir), policy, changed, by=by,
                                  quizzes_dir=Path(settings.quizzes_dir))
    except Exception:  # the new version is in use either way; the coordinator can draft by hand
        log.exception("refresher drafting failed")
        return " Drafting a refresher quiz for the changed clauses failed; see the server log."
    if not drafted:
        return ""
    return (f" {len(drafted)} refresher scenario{'s' if len(drafted) > 1 else ''} drafted for the changed clauses: "
            f"approve {'them' if len(drafted) > 1 else 'it'} in the Quiz editor before staff can take the refresher.")

