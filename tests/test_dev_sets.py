"""The evaluation sets of data/eval/sets.yml load, and their gold is really in their policies (no model).

A gold entry is a clause id or a `text:` snippet; a snippet must sit verbatim (after the evaluator's own whitespace,
case and apostrophe folding) inside one parsed unit of the set's policies, or the set would count a miss that no
search could turn into a hit. The real-school dev sets in data/eval/dev/ must also be big enough to tune on.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from knowledge.evaluate import SETS_FILE, _norm, eval_sets
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
    assert set(paths) <= set(dev_library(dev)) and not set(paths) & set(dev_library(dev, distractors=False))
