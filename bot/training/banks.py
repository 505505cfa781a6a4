"""Scenario banks versioned in the database: the coordinator's quiz editor reads and writes them here.

Every save makes a new numbered version of the whole bank (YAML, the data/quizzes format) and publishes it to
data/quizzes/<policy>.yml, which the action server loads; each quiz attempt records the bank version it was
drawn from. Saving a scenario names the version the editor started from, so two coordinators editing the same
scenario cannot silently overwrite each other (edits to different scenarios are merged).
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

from sqlalchemy import func, select

from bot.training.bank import STATUSES, Bank, QuizBankError, dump_yaml, load_yaml, parse_bank
from bot.training.store import QuizBankVersion, Store


class EditConflict(QuizBankError):
    """Someone else saved a change to the same scenario since this editor loaded it."""


def dump(data: dict) -> str:
    """A bank as YAML text (stable key order, readable unicode)."""
    return dump_yaml(data)


def _latest(session, policy: str) -> QuizBankVersion | None:
    return session.scalar(select(QuizBankVersion).where(QuizBankVersion.policy == policy)
                          .order_by(QuizBankVersion.version.desc()).limit(1))


def current(store: Store, policy: str) -> tuple[int, dict] | None:
    """(version number, bank data) of the live version of a policy's bank, or None if it has none."""
    with store.session() as session:
        row = _latest(session, policy)
        return (row.version, load_yaml(row.content)) if row else None


def policies(store: Store) -> list[str]:
    """Policies with a bank in the database."""
    with store.session() as session:
        return list(session.scalars(select(QuizBankVersion.policy).distinct().order_by(QuizBankVersion.policy)))


def history(store: Store, policy: str) -> list[dict]:
    """Every saved version of a policy's bank, newest first."""
    with store.session() as session:
        rows = session.scalars(select(QuizBankVersion).where(QuizBankVersion.policy == policy)
                               .order_by(QuizBankVersion.version.desc())).all()
        return [{"version": r.version, "note": r.note, "by": r.created_by, "at": r.created_at} for r in rows]


def validate(data: dict, clause_texts: dict[str, str] | None) -> Bank:
    """Check a bank with the loader; raises QuizBankError naming the scenario and the reason."""
    return parse_bank(dump(data), clause_texts, name=str(data.get("policy") or "bank"))


def _save(store: Store, policy: str, data: dict, *, by: str | None, note: str, base: int | None,
          quizzes_dir: Path | None) -> int:
    with store.session() as session:
        latest = _latest(session, policy)
        number = (latest.version if latest else 0) + 1
        if base is not None and latest is not None and latest.version != base:
            raise EditConflict(f"the bank changed (now version {latest.version}) while you were editing; reload it")
        data = {**data, "policy": policy, "version": number}
        session.add(QuizBankVersion(policy=policy, version=number, content=dump(data), note=note[:300],
                                    created_by=by))
    if quizzes_dir is not None:
        publish(data, quizzes_dir)
    return number


def save_bank(store: Store, policy: str, data: dict, *, by: str | None, note: str, base: int | None,
              quizzes_dir: Path | None) -> int:
    """Save a whole (already validated) bank as the next version; EditConflict if `base` is no longer the live one."""
    return _save(store, policy, data, by=by, note=note, base=base, quizzes_dir=quizzes_dir)


def publish(data: dict, quizzes_dir: Path) -> Path:
    """Write a bank to <quizzes_dir>/<policy>.yml atomically (the action server reloads changed files)."""
    quizzes_dir = Path(quizzes_dir)
    quizzes_dir.mkdir(parents=True, exist_ok=True)
    path = quizzes_dir / f"{data['policy']}.yml"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dump(data))
    os.replace(tmp, path)
    return path


def import_yaml(store: Store, text: str | bytes, clause_texts: dict[str, str] | None, *, by: str | None = None,
                quizzes_dir: Path | None = None, note: str = "imported from YAML",
                policy: str | None = None) -> tuple[str, int]:
    """Validate a whole bank (YAML) and save it as the policy's next version; returns (policy, version)."""
    bank = parse_bank(text, clause_texts, name="uploaded file", default_policy=policy or "")
    data = load_yaml(text)
    if policy and bank.policy != policy:
        raise QuizBankError(f"uploaded file: it is a bank for '{bank.policy}', not '{policy}'")
    return bank.policy, _save(store, bank.policy, data, by=by, note=note, base=None, quizzes_dir=quizzes_dir)


def seed_from_files(store: Store, quizzes_dir: Path) -> list[str]:
    """Give every bank file that has no database version its first version (so the editor starts from the file)."""
    known = set(policies(store))
    added = []
    for path in sorted(Path(quizzes_dir).glob("*.y*ml")):
        try:
            bank = parse_bank(path.read_bytes(), None, name=path.name, default_policy=path.stem)
        except (QuizBankError, OSError):
            continue
        if bank.policy not in known:
            data = load_yaml(path.read_text())
            _save(store, bank.policy, data, by=None, note=f"first version, from {path.name}", base=None,
                  quizzes_dir=None)
            added.append(bank.policy)
    return added


def export_yaml(store: Store, policy: str) -> str:
    """The live version of a policy's bank as YAML (for download and editing outside the app)."""
    with store.session() as session:
        row = _latest(session, policy)
        if row is None:
            raise KeyError(policy)
        return row.content  # saved by dump(), so already the export format


def save_scenario(store: Store, policy: str, scenario: dict, *, base_version: int, original: dict | None,
                  clause_texts: dict[str, str] | None, by: str | None = None,
                  quizzes_dir: Path | None = None) -> int:
    """Add or replace one scenario, checked by the loader; returns the new version number.

    `base_version` and `original` are the version and the scenario as the editor loaded them (None for a new
    one). If the live version differs but this scenario is unchanged in it, the edit is applied on top of the
    live version; if someone changed (or added) the same scenario meanwhile, EditConflict is raised.
    """
    found = current(store, policy)
    if found is None:
        raise KeyError(policy)
    version, data = found
    data = copy.deepcopy(data)
    items = data.setdefault("scenarios", [])
    position = next((n for n, s in enumerate(items) if s.get("id") == scenario.get("id")), None)
    live = items[position] if position is not None else None
    if version != base_version and live != original:
        who = "added" if original is None else "changed"
        raise EditConflict(f"scenario '{scenario.get('id')}' was {who} by someone else since you opened it "
                           f"(bank version {base_version} → {version}); your edit was not saved. Reload to see "
                           f"their change, then make yours again")
    if original is None and live is not None:
        raise QuizBankError(f"a scenario with id '{scenario.get('id')}' already exists")
    if str(scenario.get("status") or "approved") not in STATUSES:
        raise QuizBankError(f"unknown status '{scenario.get('status')}'")
    if position is None:
        items.append(scenario)
    else:
        items[position] = scenario
    validate(data, clause_texts)
    verb = "added" if original is None else ("set to " + str(scenario.get("status")) if _only_status_changed(
        original, scenario) else "edited")
    return _save(store, policy, data, by=by, note=f"scenario {scenario.get('id')} {verb}", base=version,
                 quizzes_dir=quizzes_dir)


def _only_status_changed(old: dict | None, new: dict) -> bool:
    if old is None:
        return False
    return {k: v for k, v in old.items() if k != "status"} == {k: v for k, v in new.items() if k != "status"}


def next_scenario_id(data: dict, prefix: str) -> str:
    """A fresh scenario id for a new scenario ("<prefix>-new-3")."""
    ids = {s.get("id") for s in data.get("scenarios", [])}
    n = 1
    while f"{prefix}-new-{n}" in ids:
        n += 1
    return f"{prefix}-new-{n}"


def count(store: Store) -> int:
    """How many bank versions the database holds (all policies)."""
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(QuizBankVersion)) or 0)
