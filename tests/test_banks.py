"""Banks versioned in the database: import/export, edits, approval, version checks, flagged scenarios."""
from __future__ import annotations

import copy
import random
import shutil
from pathlib import Path

import pytest
import yaml

from bot.training import banks
from bot.training.bank import QuizBankError, draw, load_bank
from bot.training.draft import draft_bank
from bot.training.quiz import QuizEngine
from bot.training.store import Attempt, Store
from knowledge.parser import parse_file

ROOT = Path(__file__).resolve().parent.parent
BANK = ROOT / "data" / "quizzes" / "social-media-policy.yml"
SOCIAL = ROOT / "data" / "policies" / "social-media-policy.md"
LONE = ROOT / "tests" / "fixtures" / "policies" / "lone-working-policy.txt"


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return {c.clause: c.text for c in parse_file(SOCIAL).clauses}


@pytest.fixture
def store(sqlite_url) -> Store:
    return Store(sqlite_url)


@pytest.fixture
def quizzes(tmp_path) -> Path:
    folder = tmp_path / "quizzes"
    folder.mkdir()
    shutil.copy(BANK, folder / BANK.name)
    return folder


def test_seed_export_import_round_trip(store, quizzes, texts):
    assert banks.seed_from_files(store, quizzes) == ["social-media-policy"]
    assert banks.seed_from_files(store, quizzes) == []  # only once
    version, data = banks.current(store, "social-media-policy")
    assert version == 1 and len(data["scenarios"]) == len(load_bank(BANK).scenarios)
    text = banks.export_yaml(store, "social-media-policy")
    policy, version = banks.import_yaml(store, text, texts, by="coord@school.example", quizzes_dir=quizzes)
    assert (policy, version) == ("social-media-policy", 2)
    assert [h["version"] for h in banks.history(store, "social-media-policy")] == [2, 1]
    published = load_bank(quizzes / "social-media-policy.yml", texts)
    assert published.version.startswith("2-")


def test_an_invalid_import_is_refused_with_the_reason_and_changes_nothing(store, quizzes, texts):
    banks.seed_from_files(store, quizzes)
    data = yaml.safe_load(BANK.read_text())
    data["scenarios"][0]["clauses"] = ["99.9"]
    with pytest.raises(QuizBankError, match="unknown clause id '99.9'"):
        banks.import_yaml(store, yaml.safe_dump(data), texts, quizzes_dir=quizzes)
    assert banks.current(store, "social-media-policy")[0] == 1
    assert (quizzes / BANK.name).read_bytes() == BANK.read_bytes()


def test_edit_approve_retire_and_what_is_served(store, quizzes, texts):
    banks.seed_from_files(store, quizzes)
    version, data = banks.current(store, "social-media-policy")
    original = data["scenarios"][0]
    edited = {**copy.deepcopy(original), "prompt": "A reworded prompt about the policy's purpose?",
              "status": "draft"}
    v2 = banks.save_scenario(store, "social-media-policy", edited, base_version=version, original=original,
                             clause_texts=texts, by="a@school.example", quizzes_dir=quizzes)
    served = load_bank(quizzes / BANK.name, texts)
    assert served.by_id[original["id"]].status == "draft"
    assert original["id"] not in {s.id for s in served.for_role("teacher")}
    approved = {**edited, "status": "approved"}
    v3 = banks.save_scenario(store, "social-media-policy", approved, base_version=v2, original=edited,
                             clause_texts=texts, quizzes_dir=quizzes)
    served = load_bank(quizzes / BANK.name, texts)
    assert served.by_id[original["id"]].prompt == edited["prompt"]
    assert original["id"] in {s.id for s in served.for_role("teacher")}
    banks.save_scenario(store, "social-media-policy", {**approved, "status": "retired"}, base_version=v3,
                        original=approved, clause_texts=texts, quizzes_dir=quizzes)
    served = load_bank(quizzes / BANK.name, texts)
    for seed in range(20):
        assert original["id"] not in {p["scenario"] for p in draw(served, "teacher", 10, random.Random(seed))}
    notes = [h["note"] for h in banks.history(store, "social-media-policy")]
    assert notes[0].endswith("set to retired") and notes[2].endswith("edited")


def test_an_invalid_edit_is_refused_with_the_loaders_message(store, quizzes, texts):
    banks.seed_from_files(store, quizzes)
    version, data = banks.current(store, "social-media-policy")
    original = data["scenarios"][1]
    bad = copy.deepcopy(original)
    for option in bad["options"]:
        option["correct"] = False
    with pytest.raises(QuizBankError, match="exactly one correct option"):
        banks.save_scenario(store, "social-media-policy", bad, base_version=version, original=original,
                            clause_texts=texts)
    assert banks.current(store, "social-media-policy")[0] == version


def test_two_coordinators_editing_the_same_scenario_do_not_lose_a_change(store, quizzes, texts):
    banks.seed_from_files(store, quizzes)
    version, data = banks.current(store, "social-media-policy")
    first, second = data["scenarios"][2], data["scenarios"][3]
    # Coordinator A and B both open version 1. A saves scenario 1; B then saves a different scenario: merged.
    a = {**copy.deepcopy(first), "prompt": "A's wording of this scenario?"}
    banks.save_scenario(store, "social-media-policy", a, base_version=version, original=first, clause_texts=texts)
    b_other = {**copy.deepcopy(second), "prompt": "B's wording of another scenario?"}
    v3 = banks.save_scenario(store, "social-media-policy", b_other, base_version=version, original=second,
                             clause_texts=texts)
    live = {s["id"]: s for s in banks.current(store, "social-media-policy")[1]["scenarios"]}
    assert live[first["id"]]["prompt"] == a["prompt"] and live[second["id"]]["prompt"] == b_other["prompt"]
    # B now edits the scenario A changed, from the version B opened: refused, A's change survives.
    b_same = {**copy.deepcopy(first), "prompt": "B's wording of A's scenario?"}
    with pytest.raises(banks.EditConflict, match="changed by someone else"):
        banks.save_scenario(store, "social-media-policy", b_same, base_version=version, original=first,
                            clause_texts=texts)
    assert banks.current(store, "social-media-policy")[0] == v3
    live = {s["id"]: s for s in banks.current(store, "social-media-policy")[1]["scenarios"]}
    assert live[first["id"]]["prompt"] == a["prompt"]


def test_a_drafted_bank_is_stored_as_drafts_and_served_only_once_approved(store, tmp_path):
    policy = parse_file(LONE)
    lone_texts = {c.clause: c.text for c in policy.clauses}
    drafted = draft_bank(policy.policy, policy.title, policy.clauses)
    folder = tmp_path / "q"
    name, version = banks.import_yaml(store, banks.dump(drafted), lone_texts, quizzes_dir=folder,
                                      note="drafted")
    engine = QuizEngine.from_dir(store, folder, {name: lone_texts})
    assert name not in engine.banks  # nothing approved yet
    first = drafted["scenarios"][0]
    banks.save_scenario(store, name, {**first, "status": "approved"}, base_version=version, original=first,
                        clause_texts=lone_texts, quizzes_dir=folder)
    first = first["id"]
    engine = QuizEngine.from_dir(store, folder, {name: lone_texts})
    assert [s.id for s in engine.banks[name].for_role("support_staff")] == [first]


def test_a_scenario_whose_clause_left_the_policy_is_flagged_not_served(store, quizzes, texts):
    smaller = {k: v for k, v in texts.items() if k != "6.3"}
    bank = load_bank(quizzes / BANK.name, smaller, flag_missing=True)
    flagged = [s for s in bank.scenarios if s.status == "flagged"]
    assert flagged and all("6.3" in s.problem for s in flagged)
    assert not {s.id for s in flagged} & {s.id for s in bank.for_role("teacher")}
    with pytest.raises(QuizBankError, match="unknown clause id '6.3'"):
        load_bank(quizzes / BANK.name, smaller)


def test_each_attempt_and_answer_keeps_the_bank_version_it_was_given_against(store, quizzes, texts):
    from bot.training.bank import choice_token
    from bot.training.store import Answer

    banks.seed_from_files(store, quizzes)
    text = banks.export_yaml(store, "social-media-policy")
    banks.import_yaml(store, text, texts, quizzes_dir=quizzes)
    engine = QuizEngine.from_dir(store, quizzes, {"social-media-policy": texts})
    question, _ = engine.start("vera@school.example", seed=1)
    engine.answer("vera@school.example", choice_token(question.attempt_id, 0, question.options[0].id))
    # The coordinator saves version 3 mid-quiz; the next answer is given against it and says so.
    version, data = banks.current(store, "social-media-policy")
    original = data["scenarios"][-1]
    banks.save_scenario(store, "social-media-policy", {**original, "prompt": "Reworded?"}, base_version=version,
                        original=original, clause_texts=texts, quizzes_dir=quizzes)
    engine = QuizEngine.from_dir(store, quizzes, {"social-media-policy": texts})  # as the action server reloads
    question = engine.current("vera@school.example")
    engine.answer("vera@school.example", choice_token(question.attempt_id, 1, question.options[0].id))
    with store.session() as session:
        attempt = session.query(Attempt).one()
        assert attempt.bank_version.startswith("2-")
        versions = [a.bank_version for a in session.query(Answer).order_by(Answer.position)]
        assert versions[0].startswith("2-") and versions[1].startswith("3-")


def test_quiz_me_on_a_named_policy_starts_that_quiz_and_the_default_is_the_largest_bank(store, quizzes, texts):
    policy = parse_file(LONE)
    lone_texts = {c.clause: c.text for c in policy.clauses}
    data = draft_bank(policy.policy, policy.title, policy.clauses)
    for scenario in data["scenarios"]:
        scenario["status"] = "approved"
    banks.import_yaml(store, banks.dump(data), lone_texts, quizzes_dir=quizzes)
    engine = QuizEngine.from_dir(store, quizzes, {"social-media-policy": texts, policy.policy: lone_texts})
    assert engine.default_policy() == "social-media-policy"
    assert engine.policy_named("quiz me on the lone working policy") == "lone-working-policy"
    assert engine.policy_named("quiz me on social media") == "social-media-policy"
    assert engine.policy_named("quiz me") is None
    question, _ = engine.start("sam@school.example", engine.policy_named("quiz me on lone working"), seed=1)
    assert question.policy == "lone-working-policy" and question.scenario.clauses[0] in lone_texts


@pytest.mark.slow
def test_versions_and_conflicts_on_postgres(request, texts):
    import uuid

    store = Store(request.getfixturevalue("postgres_url"))  # skipped without TEST_POSTGRES_URL
    policy = f"pg-test-{uuid.uuid4().hex[:8]}"  # the database is shared between runs
    data = {**yaml.safe_load(BANK.read_text()), "policy": policy}
    _, version = banks.import_yaml(store, banks.dump(data), texts)
    original = data["scenarios"][0]
    mine = {**copy.deepcopy(original), "prompt": "First coordinator?"}
    banks.save_scenario(store, policy, mine, base_version=version, original=original, clause_texts=texts)
    theirs = {**copy.deepcopy(original), "prompt": "Second coordinator?"}
    with pytest.raises(banks.EditConflict):
        banks.save_scenario(store, policy, theirs, base_version=version, original=original, clause_texts=texts)
    assert [h["version"] for h in banks.history(store, policy)] == [version + 1, version]
