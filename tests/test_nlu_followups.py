"""The trained NLU sends follow-ups to the policy search (issue 12) and keeps quiz, progress, help and greetings."""
from __future__ import annotations

import pytest
import yaml

from tests import followup_intents as F


def _training_examples() -> set[str]:
    nlu = yaml.safe_load((F.ROOT / "data" / "rasa" / "nlu.yml").read_text())["nlu"]
    return {line.strip()[2:].strip().lower() for item in nlu if "intent" in item
            for line in item["examples"].splitlines() if line.strip().startswith("- ")}


def test_probes_and_guards_are_not_training_examples():
    examples = _training_examples()
    assert not [t for t in F.PROBES if t.lower() in examples]
    assert not [t for t, _ in F.GUARDS if t.lower() in examples]


def test_the_held_out_dev_follow_ups_are_not_training_examples():
    examples = _training_examples()
    held_out = F._jsonl_follow_ups(F.DEV / "followups.jsonl")  # followups-3turn.jsonl is a tuning set
    assert held_out and not [t for t in held_out if t.lower() in examples]


def test_later_turns_only_and_no_new_questions(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"turns": [{"q": "first?"}, {"q": "and then?"}, {"q": "New question?", "new": true}]}\n\n')
    assert F._jsonl_follow_ups(path) == ["and then?"]
    assert F._jsonl_follow_ups(tmp_path / "absent.jsonl") == []


@pytest.mark.slow
def test_follow_ups_reach_the_policy_search_and_quiz_progress_help_greet_keep_their_intent():
    if not F.MODEL.exists():
        pytest.fail("No trained Rasa model: run `make model` first")
    result = F.report(F.MODEL, quiet=True)
    for name in (F.TUNING, F.PROBE, F.STORY):
        assert result[name]["misrouted"] == [], name
        # measured (nlu session, after the NLU change): tuning 46/46, probes 39/40, story follow-ups all taken
        assert result[name]["follow_up_path"] >= result[name]["total"] - 1, name
    assert result["guards"]["changed"] == []
    # standalone dev questions taken as follow-ups: 40/506 with the model before the issue-12 examples, 46/506 after
    # (9.1%). Session 24 added eight blind-written dev sets (their questions short and casual, e.g. "photocopier
    # code?"): 85/782 (10.9%) in CI, with the NLU data and is_follow_up unchanged — new staff wording, not a
    # regression. The bound is the measured share plus one point; lowering it is issue-12 work.
    # conv7 (session 25): an existential "there" and a "why…" naming its own subject no longer count by shape:
    # 85 -> 69 of the 772 of these questions outside the held-out followups.jsonl; live on all 782: 69 (8.8%), so the
    # bound is again the measured share plus one point
    fresh = result["fresh"]
    assert fresh["taken_as_follow_up"] <= 0.10 * fresh["total"], fresh
