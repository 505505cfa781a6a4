"""explain(question): every pipeline stage's figures, consistent with what ask() answers (hashing encoder)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot import cli
from knowledge.encoder import load_encoder
from knowledge.explain import explain, render
from knowledge.index import ingest, load
from knowledge.search import Lexicon, Searcher, tokens

ROOT = Path(__file__).resolve().parent.parent
SOCIAL = ROOT / "data" / "policies" / "social-media-policy.md"
MOBILE = ROOT / "data" / "eval" / "policies" / "staff-mobile-phone-policy.txt"
LEXICON = ROOT / "data" / "lexicon.yml"
STAGES = ["read", "structure", "units", "index", "search", "scope", "answer"]
QUESTIONS = ["Can I accept a friend request from a pupil?", "Can I post on insta about my class trip?",
             "zebra xylophone quantum", "Who is the designated safeguarding lead?"]


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("explain") / "index"
    ingest([SOCIAL, MOBILE], directory, load_encoder("hashing"))
    return directory


@pytest.fixture(scope="module")
def searcher(library) -> Searcher:
    return Searcher(load(library), load_encoder("hashing"), lexicon=Lexicon.load(LEXICON))


@pytest.mark.parametrize("question", QUESTIONS)
def test_scope_and_ranking_agree_with_the_answer_ask_gives(searcher, question):
    report = explain(searcher, question)
    answer = searcher.ask(question)
    assert report["scope"]["in_scope"] == answer.answered == report["answer"]["answered"]
    fused = [row["fused"] for row in report["search"]["top"]]
    assert fused == sorted(fused, reverse=True)
    if answer.answered:
        top = report["search"]["top"][0]
        assert (top["policy"], top["clause"]) == (answer.citations[0].policy, answer.citations[0].clause)
        assert top["fused"] == pytest.approx(answer.citations[0].score, abs=1e-4)


def test_each_clause_score_is_dense_plus_weighted_bm25_plus_priors(searcher):
    report = explain(searcher, "Can I accept a friend request from a pupil?", k=8)
    search = report["search"]
    bm25 = searcher.bm25.scores(search["terms"] + search["expanded_terms"])  # the keyword side, scored afresh
    for row in search["top"]:
        position = next(i for i, c in enumerate(searcher.index.clauses)
                        if (c.policy, c.clause) == (row["policy"], row["clause"]))
        assert row["bm25"] == pytest.approx(float(bm25[position]), abs=1e-3)
        assert row["bm25_norm"] == pytest.approx(float(bm25[position] / bm25.max()), abs=1e-3)
        assert row["fused"] == pytest.approx(row["dense"] + search["keyword_weight"] * row["bm25_norm"]
                                             + row["template_prior"] + row["own"] + row["policy_prior"], abs=1e-3)
    # two policies loaded: one prior per policy, and the policy the question is about gets the higher one
    priors: dict[str, set[float]] = {}
    for row in explain(searcher, "friend request pupil on social media", k=80)["search"]["top"]:
        priors.setdefault(row["policy"], set()).add(row["policy_prior"])
    assert len(priors) == 2 and all(max(p) - min(p) < 2e-4 for p in priors.values()), priors
    social = priors.pop("social-media-policy")
    assert min(social) > max(next(iter(priors.values())))


def test_the_question_as_searched_shows_stemmed_terms_and_lexicon_expansions(searcher):
    search = explain(searcher, "Can I post on insta about my class trip?")["search"]
    assert search["terms"] == tokens("Can I post on insta about my class trip?")
    assert "instagram" in search["expanded_terms"] and len(set(search["expanded_terms"])) == len(
        search["expanded_terms"])


def test_library_stages_describe_the_loaded_index(searcher):
    report = explain(searcher, "Can I accept a friend request from a pupil?")
    index = searcher.index
    assert [r["policy"] for r in report["read"]] == list(index.policies) == [u["policy"] for u in report["units"]]
    assert sum(u["units"] for u in report["units"]) == len(index.clauses)
    social = next(u for u in report["units"] if u["policy"] == "social-media-policy")
    assert social["by_kind"]["clause"] > 30 and social["by_kind"]["detail"] >= 1
    assert report["index"]["vectors"] == len(index.owners)
    assert report["index"]["by_kind"]["question"] == int(np.sum(index.kinds == 2))
    assert all(s["sections"] > 0 and s["blocks"] > 0 for s in report["structure"])


@pytest.mark.parametrize("question,reason", [("", "empty"), ("friend request " * 1500, "too_long")])
def test_questions_refused_before_search_show_no_search_stage(searcher, question, reason):
    report = explain(searcher, question)
    assert report["search"] is None and report["scope"] is None
    assert report["answer"]["answered"] is False and report["answer"]["reason"] == reason


def test_cli_explain_prints_every_stage_as_text_and_as_json(library, capsys, monkeypatch):
    monkeypatch.setenv("POLICY_COACH_MODEL", "hashing")
    question = "Can I accept a friend request from a pupil?"
    assert cli.main(["explain", question, "--index", str(library), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [k for k in report if k in STAGES] == STAGES
    assert report["answer"]["citations"][0]["clause"] == "6.3"
    assert cli.main(["explain", question, "--index", str(library), "--top", "2"]) == 0
    text = capsys.readouterr().out
    assert [line.split()[0] for line in text.splitlines() if line.split()[0] in STAGES] == [
        "read", "read", "structure", "structure", "units", "units", "index", "search", "scope", "answer"]
    assert "answer     answered: social-media-policy 6.3" in text
    assert len([line for line in text.splitlines() if line.startswith("  social-media-policy")]) <= 2
    assert text.strip() == render(explain_report(library, question, 2)).strip()


def explain_report(library: Path, question: str, k: int) -> dict:
    return explain(Searcher(load(library), load_encoder("hashing"), lexicon=Lexicon.load(LEXICON)), question, k=k)


def test_cli_explain_without_an_index_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("POLICY_COACH_MODEL", "hashing")
    assert cli.main(["explain", "anything", "--index", str(tmp_path / "none")]) == 1
    assert "policy-coach explain" in capsys.readouterr().err
