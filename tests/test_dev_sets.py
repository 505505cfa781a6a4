"""The evaluation sets of data/eval/sets.yml load, and their gold is really in their policies (no model).

A gold entry is a clause id or a `text:` snippet; a snippet must sit verbatim (after the evaluator's own whitespace,
case and apostrophe folding) inside one parsed unit of the set's policies, or the set would count a miss that no
search could turn into a hit. The real-school dev sets in data/eval/dev/ must also be big enough to tune on.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from knowledge.evaluate import SETS_FILE, _norm, dev_library, dev_library_extra, eval_sets
from knowledge.parser import parse_file, policy_id_for

ROOT = Path(__file__).resolve().parent.parent
DEV_DIR = ROOT / "data" / "eval" / "dev"
LISTED = {entry["name"] for entry in yaml.safe_load(SETS_FILE.read_text())["sets"]}
SETS = [s for s in eval_sets() if s.name in LISTED]


def test_every_listed_set_is_found_and_has_policies():
    assert {s.name for s in SETS} == LISTED
    for item in SETS:
        assert item.split in ("dev", "test"), item.name
        assert item.policies and all(p.is_file() for p in item.policies), item.name
        assert item.questions.is_file(), item.name
    # the folder entries are read from their Word file and known by the folder's name, so ids never collide
    folders = [s for s in SETS if s.questions.parent == DEV_DIR]
    assert len(folders) >= 4
    for item in folders:
        assert item.policies[0].suffix == ".docx" and item.policy_ids == [policy_id_for(item.questions)], item.name
    others = {pid for s in SETS if s not in folders for pid in s.policy_ids}
    assert len({pid for s in folders for pid in s.policy_ids} - others) == len(folders)


@pytest.mark.parametrize("item", SETS, ids=lambda s: s.name)
def test_every_gold_entry_is_in_the_parsed_policy(item):
    clauses = [c for path in item.policies for c in parse_file(path).clauses]
    texts = [_norm(c.text) for c in clauses]
    ids = {c.clause for c in clauses}
    missing = []
    for row in item.rows():
        for gold in row.get("gold") or []:
            found = any(_norm(gold[5:]) in t for t in texts) if gold.startswith("text:") else gold in ids
            if not found:
                missing.append((row["q"], gold))
    assert not missing, missing


@pytest.mark.parametrize("item", [s for s in SETS if s.questions.parent == DEV_DIR], ids=lambda s: s.name)
def test_real_school_dev_sets_are_big_enough_and_documented(item):
    rows = item.rows()
    in_scope = [r for r in rows if not r.get("oos")]
    off_topic = [r for r in rows if r.get("oos")]
    assert len(in_scope) >= 20 and len(off_topic) >= 10, (len(in_scope), len(off_topic))
    assert all(g.startswith("text:") for r in in_scope for g in r["gold"]), "gold as verbatim snippets"
    assert len({r["q"] for r in rows}) == len(rows), "duplicate questions"
    folder = DEV_DIR / "policies" / item.name
    for name in ("SOURCE.md", "policy.docx", "policy.html"):
        assert (folder / name).is_file(), name
    assert (folder / "policy.md").is_file() or (folder / "policy.txt").is_file()
    assert "licen" in (folder / "SOURCE.md").read_text().lower()


def test_dev_library_distractors_are_real_documented_and_not_test_policies():
    from knowledge.evaluate import TEST_POLICIES, dev_library, dev_library_distractors

    entries = yaml.safe_load(SETS_FILE.read_text())["dev_library_distractors"]
    paths = dev_library_distractors()
    assert len(paths) == len(entries) >= 6
    test_slugs = {p.name for p in TEST_POLICIES.iterdir() if p.is_dir()}
    for entry, path in zip(entries, paths):
        folder = ROOT / entry
        assert path.suffix == ".docx" and policy_id_for(path) == folder.name  # read like a dev set's folder
        assert folder.name not in test_slugs
        assert "licen" in (folder / "SOURCE.md").read_text().lower()
        assert (folder / "source.txt").read_text() == (folder / "policy.txt").read_text()  # kept as found
        assert len(parse_file(path).clauses) >= 5
    dev = eval_sets("dev")
    # session 24 gave each distractor a question set of its own: the library holds each once
    assert set(paths) <= set(dev_library(dev)) and len(dev_library(dev)) == len(set(dev_library(dev))) >= 19


@lru_cache(maxsize=None)
def _library_text(slug: str, split: str) -> str:
    """The text the blind judge read for one library policy (data/eval/*/AUDIT.md), by its slug."""
    folder = (ROOT / "tests" / "fixtures" / "policies" if split == "test" else DEV_DIR / "policies") / slug
    files = [folder / "policy.txt", folder / "policy.md"] if folder.is_dir() else [
        p for p in [ROOT / "data" / "policies" / "social-media-policy.md", *dev_library(eval_sets("dev")),
                    *dev_library_extra()] if p.stem == slug]
    found = next((f for f in files if f.is_file()), None)
    assert found is not None, f"{slug}: no policy of that name in the {split} library"
    return _norm(found.read_text(encoding="utf-8"))


def test_the_blind_audit_names_library_policies_and_quotes_them_verbatim():
    # `also` / `answered_by` (another library policy answers the row) must quote that policy, not the set's own
    checked = 0
    for item in eval_sets():
        for n, row in enumerate(item.rows(), 1):
            for entry in (row.get("also") or []) + (row.get("answered_by") or []):
                assert policy_id_for(Path(entry["policy"])) not in item.policy_ids, (item.name, n)
                assert _norm(entry["text"]) in _library_text(entry["policy"], item.split), (item.name, n)
                checked += 1
            assert not (row.get("answered_by") and not row.get("oos")), (item.name, n)
            assert not (row.get("also") and row.get("oos")), (item.name, n)
    assert checked >= 200, "the dev and test audits label 232 rows"
