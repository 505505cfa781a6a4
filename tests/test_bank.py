"""Scenario bank: validation, coverage, drawing and answer matching."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from bot.training.bank import (
    ROLES,
    Option,
    QuizBankError,
    correct_is_longest,
    draw,
    load_bank,
    longest_correct_share,
    match_option,
    parse_token,
)
from knowledge.parser import parse_file

ROOT = Path(__file__).resolve().parent.parent
BANK = ROOT / "data" / "quizzes" / "social-media-policy.yml"
ALL_BANKS = sorted((ROOT / "data" / "quizzes").glob("*.y*ml"))
POLICY = ROOT / "data" / "policies" / "social-media-policy.md"


@pytest.fixture(scope="module")
def clause_texts() -> dict[str, str]:
    return {c.clause: c.text for c in parse_file(POLICY).clauses}


@pytest.fixture(scope="module")
def bank(clause_texts):
    return load_bank(BANK, clause_texts)


def test_every_cited_clause_exists_in_the_policy(bank, clause_texts):
    for scenario in bank.scenarios:
        for clause in scenario.clauses:
            assert clause in clause_texts, (scenario.id, clause)


def test_bank_covers_every_numbered_section_and_appendices_1_to_3(bank):
    sections = {c.split(".")[0] for s in bank.scenarios for c in s.clauses}
    assert {"1", "2", "3", "4", "5", "6", "7", "8", "A1", "A2", "A3"} <= sections
    assert len(bank.scenarios) >= 24


def test_every_scenario_is_well_formed(bank):
    for scenario in bank.scenarios:
        assert 3 <= len(scenario.options) <= 4
        assert sum(o.correct for o in scenario.options) == 1
        assert all(o.feedback for o in scenario.options)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_can_draw_a_full_quiz_spread_over_sections(bank, role):
    plan = draw(bank, role, 10, random.Random(1))
    assert len(plan) == 10
    assert len({p["scenario"] for p in plan}) == 10
    sections = {bank.by_id[p["scenario"]].section for p in plan}
    # Governors are bound by fewer parts of the policy (Appendices 1 and 3, the codes of conduct).
    assert len(sections) >= (3 if role == "governor" else 6)
    assert all(bank.by_id[p["scenario"]].applies_to(role) for p in plan)


@pytest.mark.parametrize("path", ALL_BANKS, ids=lambda p: p.stem)
def test_the_longest_option_is_not_a_giveaway_in_any_bank(path):
    bank = load_bank(path)
    share = longest_correct_share(bank.scenarios)
    longest = [s.id for s in bank.scenarios if correct_is_longest(s)]
    print(f"\n{path.stem}: correct option strictly longest in {len(longest)}/{len(bank.scenarios)} ({share:.0%})")
    assert share <= 0.35, longest


def test_governors_get_at_least_eight_scenarios_worded_for_them_and_no_employee_situations(bank):
    governor_only = [s for s in bank.scenarios if s.roles == ("governor",)]
    assert len(governor_only) >= 8
    assert all(any(w in s.prompt.lower() for w in ("governor", "committee", "panel")) for s in governor_only)
    for seed in range(5):
        plan = draw(bank, "governor", 10, random.Random(seed))
        for item in plan:
            scenario = bank.by_id[item["scenario"]]
            assert "governor" in scenario.roles or "all" in scenario.roles
            assert not any(w in scenario.prompt.lower() for w in ("your employer", "you work at", "your job"))


def test_a_role_with_few_scenarios_gets_a_shorter_quiz_not_someone_elses_questions(tmp_path):
    scenarios = [_scenario(id="gov", roles=["governor"]), _scenario(id="staff1", roles=["teacher"]),
                 _scenario(id="staff2", roles=["teacher"])]
    bank = load_bank(_write(tmp_path, scenarios))
    assert [p["scenario"] for p in draw(bank, "governor", 10, random.Random(1))] == ["gov"]


def test_only_approved_scenarios_are_drawn(tmp_path):
    scenarios = [_scenario(id="ok"), _scenario(id="draft", status="draft"), _scenario(id="old", status="retired")]
    bank = load_bank(_write(tmp_path, scenarios))
    assert bank.servable
    assert {p["scenario"] for p in draw(bank, "teacher", 10, random.Random(1))} == {"ok"}
    with pytest.raises(QuizBankError, match="unknown status"):
        load_bank(_write(tmp_path, [_scenario(status="maybe")]))


def test_draws_differ_between_attempts(bank):
    one = draw(bank, "teacher", 10, random.Random(1))
    two = draw(bank, "teacher", 10, random.Random(2))
    assert [p["scenario"] for p in one] != [p["scenario"] for p in two]


def _write(tmp_path, scenarios) -> Path:
    path = tmp_path / "bank.yml"
    path.write_text(yaml.safe_dump({"policy": "social-media-policy", "version": 1, "scenarios": scenarios}))
    return path


def _scenario(**over):
    base = {"id": "s1", "prompt": "What now?", "clauses": ["6.3"], "options": [
        {"id": "a", "text": "Yes", "correct": True, "feedback": "Right"},
        {"id": "b", "text": "No", "correct": False, "feedback": "Wrong"},
        {"id": "c", "text": "Maybe", "correct": False, "feedback": "Wrong"}]}
    base.update(over)
    return base


@pytest.mark.parametrize("scenarios, message", [
    ([_scenario(clauses=["9.9"])], "unknown clause id '9.9'"),
    ([_scenario(clauses=["text:no such words anywhere"])], "no clause contains"),
    ([_scenario(), _scenario()], "duplicate id"),
    ([_scenario(options=[{"id": "a", "text": "x", "correct": False, "feedback": "f"},
                         {"id": "b", "text": "y", "correct": False, "feedback": "f"}])], "exactly one correct"),
    ([_scenario(options=[{"id": "a", "text": "x", "correct": True}, {"id": "b", "text": "y", "feedback": "f"}])],
     "needs feedback"),
    ([_scenario(roles=["headmaster"])], "unknown role"),
])
def test_invalid_banks_are_rejected_with_a_clear_message(tmp_path, clause_texts, scenarios, message):
    with pytest.raises(QuizBankError, match=message):
        load_bank(_write(tmp_path, scenarios), clause_texts)


def test_unreadable_bank(tmp_path):
    path = tmp_path / "bank.yml"
    path.write_text("scenarios: [unclosed")
    with pytest.raises(QuizBankError, match="cannot be read as YAML"):
        load_bank(path)


OPTIONS = [Option("x", "Accept it but never message them", False, "f"),
           Option("y", "Decline it and signpost the official school page", True, "f"),
           Option("z", "Report the pupil to the police", False, "f")]


@pytest.mark.parametrize("reply, expected", [
    ("B", "y"), ("b", "y"), ("b)", "y"), ("option b", "y"), ("Option B.", "y"), ("answer: c", "z"),
    ("2", "y"), ("number 3", "z"), ("the first one", "x"), ("I'd go with B", "y"),
    ("decline it and signpost the official page", "y"), ("report the pupil to the police", "z"),
])
def test_answers_are_matched_by_letter_number_ordinal_or_words(reply, expected):
    assert match_option(reply, OPTIONS).id == expected


@pytest.mark.parametrize("reply", ["", "   ", "d", "5", "banana", "what does 6.3 say?", "yes", "it"])
def test_replies_matching_no_option_are_rejected(reply):
    assert match_option(reply, OPTIONS) is None


@pytest.mark.parametrize("reply", ["should i decline it and signpost the official page?",
                                   "can I report the pupil to the police", "is it ok to accept it but never message them?"])
def test_a_question_sharing_an_options_words_is_not_taken_as_that_answer(reply):
    # asked of the policy mid-quiz: answered as a question, never recorded as the option it resembles
    assert match_option(reply, OPTIONS) is None
    assert match_option(reply.rstrip("?").removeprefix("should i ").removeprefix("can I ")
                        .removeprefix("is it ok to "), OPTIONS) is not None  # the same words as a statement match


def test_button_tokens_parse_from_payloads():
    assert parse_token('/quiz_answer{"quiz_choice":"12:3:b"}') == (12, 3, "b")
    assert parse_token("12:3:b") == (12, 3, "b")
    assert parse_token("B") is None


def test_every_cited_clause_exists_in_the_built_index(real_index):
    from knowledge.index import load

    index = load(real_index)
    ids = {c.clause for c in index.clauses if c.policy == "social-media-policy"}
    texts = {c.clause: c.text for c in index.clauses if c.policy == "social-media-policy"}
    bank = load_bank(BANK, texts)
    missing = {(s.id, c) for s in bank.scenarios for c in s.clauses if c not in ids}
    assert not missing
