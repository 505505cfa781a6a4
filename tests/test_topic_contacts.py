"""A coordinator's "not covered" contact is named in later refusals of similar questions (real model, real index)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.training import reports
from bot.training.store import Store
from knowledge.encoder import load_encoder
from knowledge.index import ingest, load
from knowledge.search import Lexicon, Searcher, normalise_question
from knowledge.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
SOCIAL = ROOT / "data" / "policies" / "social-media-policy.md"
HR = "HR (Mrs Patel, hr@school.example)"


@pytest.fixture(scope="module")
def searcher(tmp_path_factory) -> Searcher:
    settings = get_settings()
    if settings.model == "hashing":
        pytest.skip("POLICY_COACH_MODEL=hashing: topic matching is judged with the bundled model")
    encoder = load_encoder(settings.model)
    directory = tmp_path_factory.mktemp("topic") / "index"
    ingest([SOCIAL], directory, encoder)
    return Searcher(load(directory), encoder, lexicon=Lexicon.load(settings.lexicon_path))


@pytest.mark.slow
def test_not_covered_contact_is_named_in_the_next_refusal_on_that_topic(searcher, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'topic.db'}")
    before = searcher.ask("How much maternity pay will I get?")
    assert not before.answered and "K. Formby" in before.message and "HR" not in before.message
    store.log_question("amy@school.example", "How much maternity pay will I get?",
                       normalise_question("How much maternity pay will I get?"), before.to_dict())
    reports.mark_not_covered(store, normalise_question("How much maternity pay will I get?"),
                             by="coord@school.example", contact=HR)
    searcher.set_topic_contacts(reports.topic_contacts(store))
    try:
        for question in ("How much maternity pay will I get?", "What maternity leave am I entitled to?",
                         "Do I get paid maternity leave?"):
            answer = searcher.ask(question)
            assert not answer.answered and answer.reason == "out_of_scope", question
            assert HR in answer.message and "K. Formby" not in answer.message, (question, answer.message)
        # an unrelated refusal still names the policy owner, and in-scope questions are still answered
        other = searcher.ask("What is the capital of France?")
        assert not other.answered and HR not in other.message and "K. Formby" in other.message
        assert searcher.ask("A pupil sent me a friend request on Facebook. Can I accept it?").answered
    finally:
        searcher.set_topic_contacts([])
