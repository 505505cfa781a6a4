"""Highlights: the sentence(s) of a cited clause that answer the question, verbatim, on the real policy and model."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge import cli
from knowledge.highlight import (LEAD_NO, LEAD_NO_UNLESS, LEAD_YES_IF, clause_name, evaluate, lead_in, units)
from knowledge.parser import parse_file

ROOT = Path(__file__).resolve().parent.parent
SOCIAL = ROOT / "data" / "policies" / "social-media-policy.md"
SET = ROOT / "data" / "eval" / "highlights.jsonl"


@pytest.fixture(scope="module")
def clauses() -> dict[str, str]:
    return {c.clause: c.text for c in parse_file(SOCIAL).clauses}


@pytest.fixture(scope="module")
def searcher(real_index):
    from knowledge.service import get_searcher

    return get_searcher(index_dir=real_index)


# -- units: fast, no model ------------------------------------------------------------------------------------
def test_units_are_the_clause_sentences_without_its_number(clauses):
    text = clauses["6.3"]
    found = [u.text(text) for u in units(text)]
    assert len(found) == 3
    assert found[0].startswith("Staff members must not have contact")
    assert found[1] == "Staff members must decline 'friend requests' from pupils they receive in their personal " \
                       "social media accounts."
    assert all(f in text for f in found)


def test_a_list_item_keeps_its_lead_in(clauses):
    text = clauses["3.2"]
    items = [u for u in units(text) if u.lead is not None]
    assert len(items) == 5
    assert all(text[u.lead[0]:u.lead[1]] == "Confidential information includes, but is not limited to:" for u in items)
    assert items[0].text(text).startswith("Person-identifiable information, e.g. pupil")  # "e.g." is not a stop


def test_only_the_first_line_loses_a_leading_number(clauses):
    text = clauses["A4.2"]  # "Governors' Support - Wendy Heath\n01302 737279 / ..."
    assert any(u.text(text).startswith("01302 737279") for u in units(text))


def test_a_bulleted_clause_loses_its_bullet(clauses):
    text = clauses["A1.7"]
    assert [u.text(text) for u in units(text)] == [
        "I will not install any hardware or software without permission of the Network Manager."]


# -- lead-in: decided from the sentence's own words -----------------------------------------------------------
@pytest.mark.parametrize("question, sentence, expected", [
    ("Can I accept it?", "Staff members must decline 'friend requests' from pupils.", LEAD_NO),
    ("Am I allowed to post photos?", "Photographs … must not be published on personal webspace.", LEAD_NO),
    ("Can I message my niece?", "Staff must not have contact with any pupil, unless the pupils are family members.",
     LEAD_NO_UNLESS),
    ("Can I set up a class page?", "they can only do so with the approval of the education establishment",
     LEAD_YES_IF),
    ("What do I do?", "Staff members must decline 'friend requests' from pupils.", ""),  # not a yes/no question
    ("Can I edit Wikipedia?", "Caution is advised when inviting work colleagues.", ""),  # words don't decide it
])
def test_lead_in_comes_only_from_the_highlighted_words(question, sentence, expected):
    assert lead_in(question, sentence) == expected


def test_clause_names_are_brief():
    assert clause_name({"clause": "6.3", "section": "6 Personal Use of Social Media",
                        "title": "6.3 — 6 Personal Use of Social Media"}) == "clause 6.3 (Personal Use of Social Media)"
    long = {"clause": "A1.14", "section": "Appendix 1 — Staff, Management Committee and Visitor ICT Acceptable Use "
                                          "Agreement",
            "title": "Appendix 1 — Staff, Management Committee and Visitor ICT Acceptable Use Agreement — School "
                     "Equipment, paragraph 14"}
    assert clause_name(long) == "Appendix 1, School Equipment"


# -- the real model over the real policy ----------------------------------------------------------------------
@pytest.mark.slow
def test_friend_request_answer_leads_with_decline(searcher):
    answer = searcher.ask("A pupil sent me a friend request on Facebook, what do I do?")
    top = answer.highlights[0]
    assert (top.clause, top.policy) == ("6.3", "social-media-policy")
    assert "must decline 'friend requests'" in top.text
    assert answer.message.count("Personal Use of Social Media") == 1


@pytest.mark.slow
def test_yes_no_question_gets_a_lead_in_from_the_sentence(searcher):
    answer = searcher.ask("Can I post photos of pupils on my personal instagram?")
    assert answer.citations[0].clause == "6.9"
    assert answer.message.startswith(LEAD_NO)
    assert "must not be published" in answer.highlights[0].text


@pytest.mark.slow
def test_why_question_adds_the_clause_reason(searcher):
    answer = searcher.ask("Why can't I edit Wikipedia at work?")
    texts = [h.text for h in answer.highlights if h.clause == "6.11"]
    assert any(t.startswith("This is because") for t in texts)


@pytest.mark.slow
def test_every_highlight_is_verbatim_in_its_citation(searcher):
    rows = [json.loads(line) for line in SET.read_text().splitlines() if line.strip()]
    for row in rows:
        answer = searcher.ask(row["q"])
        cited = {(c.policy, c.clause): c.text for c in answer.citations}
        if answer.answered:
            assert answer.highlights, row["q"]
        for found in answer.highlights:
            assert found.text and found.text in cited[(found.policy, found.clause)], (row["q"], found)


@pytest.mark.slow
def test_highlight_accuracy_on_the_question_set(searcher):
    """Prints the figure the issue asks for; the floor catches a broken scorer, not a tuned number."""
    rows = [json.loads(line) for line in SET.read_text().splitlines() if line.strip()]
    assert len(rows) >= 30
    result = evaluate(searcher, rows)
    print(f"\nhighlights: top {result['top']:.1%}, given the clause {result['given_clause']:.1%} (n={result['n']})")
    assert result["given_clause"] >= 0.75


@pytest.mark.slow
def test_ask_json_carries_highlights(capsys, real_index):
    code = cli.main(["ask", "Can I accept a friend request from a pupil?", "--index", str(real_index), "--json"])
    out = json.loads(capsys.readouterr().out.strip())
    assert code == 0
    assert out["highlights"]
    texts = {(c["policy"], c["clause"]): c["text"] for c in out["citations"]}
    for found in out["highlights"]:
        assert set(found) == {"policy", "clause", "text"}
        assert found["text"] in texts[(found["policy"], found["clause"])]
