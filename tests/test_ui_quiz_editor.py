# ruff: noqa: F811  (pytest fixtures imported from test_ui_app are re-bound as test arguments)
"""AppTest tests of the coordinator's quiz editor: list, edit, validation, version conflicts, drafting, approval."""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from bot.training import banks
from bot.training.bank import load_bank
from bot.training.store import Store
from knowledge.encoder import HashingEncoder
from knowledge.index import ingest
from knowledge.parser import parse_file
from tests.test_ui_app import (  # noqa: F401  (fixtures)
    upload_and_wait,
    POLICY,
    app,
    as_coordinator,
    as_user,
    env,
    hashing_index,
    no_exceptions,
    open_page,
    seeded,
    seeded_template,
    store,
    texts,
)

ROOT = Path(__file__).resolve().parent.parent
BANK = ROOT / "data" / "quizzes" / "social-media-policy.yml"
LONE = ROOT / "tests" / "fixtures" / "policies" / "lone-working-policy.txt"


@pytest.fixture
def quizzes(env, tmp_path, monkeypatch) -> Path:
    """A writable copy of the quiz banks, so saving in the editor never touches the repository."""
    folder = tmp_path / "quizzes"
    folder.mkdir()
    shutil.copy(BANK, folder / BANK.name)
    monkeypatch.setenv("POLICY_COACH_QUIZZES", str(folder))
    return folder


@pytest.fixture
def clause_texts() -> dict[str, str]:
    return {c.clause: c.text for c in parse_file(POLICY).clauses}


def editor(store: Store):
    at = as_coordinator(app(), store)
    at.run()
    return open_page(at, "quizzes")


def pick(at, scenario_id: str):
    at.selectbox(key="quiz-pick").set_value(scenario_id)
    return at.run()


def form_key(at, scenario_id: str) -> str:
    return next(w.key for w in at.text_area if w.key and w.key.startswith(f"prompt-social-media-policy-{scenario_id}-"))


def save(at):
    next(b for b in at.button if b.label == "Save scenario").click()
    return at.run()


def test_editor_lists_the_bank_with_human_labels_and_its_version(store, quizzes):
    at = editor(store)
    no_exceptions(at)
    shown = texts(at)
    assert "Quiz editor" in shown and "Version 1" in shown
    table = at.dataframe[0].value
    assert list(table.columns) == ["Question", "Status", "For", "Clauses"]
    assert len(table) == len(load_bank(BANK).scenarios)
    assert "Governors / management committee" in set(table["For"])


def test_editing_a_scenario_saves_a_new_version_and_publishes_it(store, quizzes, clause_texts):
    at = editor(store)
    sid = "sm-pupil-friend-request"
    at = pick(at, sid)
    key = form_key(at, sid)
    at.text_area(key=key).input("A Year 10 pupil sends you a friend request on Instagram. What do you do?")
    at = save(at)
    no_exceptions(at)
    assert "quiz version 2" in texts(at)
    assert at.selectbox(key="quiz-pick").value == sid  # the saved scenario stays open
    version, data = banks.current(store, "social-media-policy")
    assert version == 2
    assert next(s for s in data["scenarios"] if s["id"] == sid)["prompt"].startswith("A Year 10 pupil")
    served = load_bank(quizzes / BANK.name, clause_texts)
    assert served.by_id[sid].prompt.startswith("A Year 10 pupil")


def test_an_invalid_edit_shows_the_loaders_reason_and_saves_nothing(store, quizzes):
    at = editor(store)
    sid = "sm-pupil-friend-request"
    at = pick(at, sid)
    clauses_key = next(w.key for w in at.multiselect if w.key and w.key.startswith("clauses-"))
    at.multiselect(key=clauses_key).set_value([])
    at = save(at)
    no_exceptions(at)
    assert any("must name the clauses it tests" in e.value for e in at.error)
    assert banks.current(store, "social-media-policy")[0] == 1


def test_two_coordinators_editing_the_same_scenario_do_not_lose_a_change(store, quizzes, clause_texts):
    sid = "sm-pupil-friend-request"
    at = pick(editor(store), sid)  # this coordinator opens version 1 of the scenario
    version, data = banks.current(store, "social-media-policy")
    original = next(s for s in data["scenarios"] if s["id"] == sid)
    other = {**copy.deepcopy(original), "prompt": "The other coordinator's wording?"}
    banks.save_scenario(store, "social-media-policy", other, base_version=version, original=original,
                        clause_texts=clause_texts, by="other@school.example")
    at.text_area(key=form_key(at, sid)).input("My wording of the same scenario?")
    at = save(at)
    no_exceptions(at)
    assert any("changed by someone else" in e.value for e in at.error)
    live = next(s for s in banks.current(store, "social-media-policy")[1]["scenarios"] if s["id"] == sid)
    assert live["prompt"] == "The other coordinator's wording?"
    reload = next(b for b in at.button if b.key and b.key.startswith("reload-"))
    reload.click()
    at = at.run()
    assert at.text_area(key=form_key(at, sid)).value == "The other coordinator's wording?"


def test_retire_and_approve_buttons(store, quizzes, clause_texts):
    sid = "sm-pupil-friend-request"
    at = pick(editor(store), sid)
    next(b for b in at.button if b.key and b.key.startswith("status-retired-")).click()
    at = at.run()
    no_exceptions(at)
    assert load_bank(quizzes / BANK.name, clause_texts).by_id[sid].status == "retired"
    next(b for b in at.button if b.key and b.key.startswith("status-approved-")).click()
    at = at.run()
    assert load_bank(quizzes / BANK.name, clause_texts).by_id[sid].status == "approved"


def test_adding_a_scenario(store, quizzes, clause_texts):
    at = pick(editor(store), "__new__")
    key = next(w.key for w in at.text_area if w.key and w.key.startswith("prompt-"))
    suffix = key[len("prompt-"):]
    at.text_area(key=key).input("A parent asks to follow your personal Instagram. What should you do?")
    at.multiselect(key=f"clauses-{suffix}").set_value(["6.5"])
    for n, (text, feedback) in enumerate([
            ("Decline; keep contact with parents to official channels.", "Right: 6.5."),
            ("Accept, as parents are adults.", "No: 6.5."),
            ("Accept but restrict what they see.", "No: 6.5.")]):
        at.text_input(key=f"opt-{n}-{suffix}").input(text)
        at.text_area(key=f"fb-{n}-{suffix}").input(feedback)
    at.radio(key=f"status-{suffix}").set_value("approved")
    at = save(at)
    no_exceptions(at)
    bank = load_bank(quizzes / BANK.name, clause_texts)
    added = bank.by_id["social-media-policy-new-1"]
    assert added.status == "approved" and added.clauses == ("6.5",) and len(added.options) == 3
    assert added.correct_option.text.startswith("Decline")


@pytest.fixture
def with_lone_policy(env):
    """The lone-working policy added to the app's index (as an upload would)."""
    ingest([POLICY, LONE], Path(env["POLICY_COACH_INDEX"]), HashingEncoder())


def test_drafting_a_quiz_for_another_policy_then_approving_one_scenario(store, quizzes, with_lone_policy):
    at = editor(store)
    at.selectbox(key="quiz-policy").set_value("lone-working-policy")
    at = at.run()
    assert "no quiz yet" in texts(at)
    at.button(key="quiz-draft").click()
    at = at.run()
    no_exceptions(at)
    assert "Drafted 8 scenarios" in texts(at)
    path = quizzes / "lone-working-policy.yml"
    drafted = load_bank(path)
    assert len(drafted.scenarios) == 8 and not drafted.servable
    first = drafted.scenarios[0].id
    at.selectbox(key="quiz-pick").set_value(first)
    at = at.run()
    next(b for b in at.button if b.key and b.key.startswith("status-approved-")).click()
    at = at.run()
    no_exceptions(at)
    served = load_bank(path)
    assert [s.id for s in served.for_role("support_staff")] == [first]


def test_staff_cannot_open_the_quiz_editor(store, seeded, quizzes):
    at = as_user(app(), seeded, "alice@school.example")
    at.run()
    at = open_page(at, "quizzes")
    no_exceptions(at)
    assert "Quiz editor" not in [t.value for t in at.title]


def test_upload_a_new_policy_then_draft_its_quiz_from_the_upload_page(store, quizzes):
    at = open_page(as_coordinator(app(), store).run(), "manage")
    at.file_uploader(key="policy-file").upload("lone-working-policy.txt", LONE.read_bytes(), "text/plain")
    at, _ = upload_and_wait(at)
    no_exceptions(at)
    at.button(key="upload-draft-quiz").click()
    at = at.run()
    no_exceptions(at)
    assert "Drafted 8 scenarios" in texts(at)
    drafted = load_bank(quizzes / "lone-working-policy.yml")
    assert len(drafted.scenarios) == 8 and {s.status for s in drafted.scenarios} == {"draft"}
    assert banks.history(store, "lone-working-policy")[0]["note"] == "8 scenarios drafted"


def test_the_table_shows_clause_ids_not_text_references(store, quizzes):
    at = editor(store)
    clauses = " ".join(at.dataframe[0].value["Clauses"])
    assert "text:" not in clauses and "A3.3" in clauses
