"""Search: BM25, lexicon, refusals and edge cases (hashing encoder), and quality gates on the real model."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from knowledge.encoder import load_encoder
from knowledge.evaluate import evaluate, load_set
from knowledge.index import KIND_QUESTION, KIND_SENTENCE, KIND_TEXT, PolicyIndex, embedding_texts_with_kinds, ingest, load
from knowledge.parser import parse_file
from knowledge.search import (BM25, Lexicon, SearchConfig, Searcher, clean_question, question_parts, strip_policy_name,
                              tokens)
from knowledge.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
SOCIAL = ROOT / "data" / "policies" / "social-media-policy.md"
MOBILE = ROOT / "data" / "eval" / "policies" / "staff-mobile-phone-policy.txt"
EVAL = ROOT / "data" / "eval" / "social-media.jsonl"  # dev
MOBILE_EVAL = ROOT / "data" / "eval" / "mobile-phones.jsonl"  # dev
HOLDOUT = ROOT / "data" / "eval" / "test" / "social-media-holdout.jsonl"  # test
LEXICON = ROOT / "data" / "lexicon.yml"


# -- fast: hashing encoder ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hashing_searcher(tmp_path_factory) -> Searcher:
    directory = tmp_path_factory.mktemp("hashing") / "index"
    ingest([SOCIAL], directory, load_encoder("hashing"))
    return Searcher(load(directory), load_encoder("hashing"), lexicon=Lexicon.load(LEXICON))


def test_tokens_stem_plurals_and_verb_forms_together():
    assert tokens("phone phones phoned") == ["phone"] * 3
    assert tokens("Posting photos") == tokens("posted photo")
    assert tokens("children took") == tokens("child take")  # irregular forms meet their base word
    assert "the" not in tokens("the rules of the school")


def test_bm25_prefers_the_document_with_rare_matching_terms():
    bm = BM25([tokens("staff must not contact pupils"), tokens("wikipedia edits at work"), tokens("staff and pupils")])
    scores = bm.scores(tokens("can I edit wikipedia"))
    assert int(np.argmax(scores)) == 1
    assert bm.scores(tokens("unrelated words entirely")).max() == 0
    assert bm.scores([]).max() == 0
    assert bm.coverage(tokens("edit wikipedia"), 1) == pytest.approx(1.0)
    assert BM25([]).scores(tokens("anything")).shape == (0,)


def test_lexicon_expands_words_and_phrases():
    lex = Lexicon({"insta": "instagram social media", "in charge": "responsible owner", "my kids": "family members"})
    assert lex.expand("can i add a kid on insta") == "instagram social media"
    assert "responsible owner" in lex.expand("Who is IN CHARGE of this?")
    assert "family members" in lex.expand("can my kids use it")
    assert lex.expand("nothing to add") == ""


def test_repo_lexicon_loads_and_maps_staff_wording():
    lex = Lexicon.load(LEXICON)
    assert "pupil" in lex.expand("my students")
    assert Lexicon.load(ROOT / "no-such-file.yml").expand("insta") == ""


def test_policy_name_in_a_question_is_reduced_to_the_policy():
    titles = ["Staff Use of Mobile Phones and Personal Devices Policy"]
    assert strip_policy_name("who is in charge of the staff phone policy", titles) == "who is in charge of the policy"
    assert strip_policy_name("why do we have rules about staff phones", titles) == "why do we have rules about staff phones"


def test_rules_become_the_questions_staff_ask():
    from knowledge.questions import contact_questions, rule_questions

    assert "can i give my personal mobile number to parents" in rule_questions(
        "Staff must not give their personal mobile number to parents.")
    asked = rule_questions("Pupils may bring a phone to school but must hand it in at the office.")
    assert "are pupils allowed to bring a phone to school but" not in asked
    assert any(q.startswith(("can pupils bring a phone to school", "are pupils allowed to bring a phone")) for q in asked)
    assert any(q.startswith("do i have to") for q in rule_questions("All staff must report concerns to the DSL."))
    assert rule_questions("The school values its community.") == []
    assert contact_questions("Designated Safeguarding Lead: Mrs A. Smith, dsl@school.org") == [
        "who is the designated safeguarding lead", "how do i contact the designated safeguarding lead",
        "what is the email address of the designated safeguarding lead"]
    assert contact_questions("Background: the school opened in 1990") == []


def test_rule_questions_read_through_fillers_duties_and_avoid():
    from knowledge.questions import contact_questions, rule_questions

    # "must, therefore, ..." and "must therefore for example ..." still make a question, without the filler words
    assert "do i have to demonstrate high standards of conduct" in rule_questions(
        "All staff must, therefore, demonstrate high standards of conduct.")
    # "must avoid using X" is a prohibition: staff ask whether using X is allowed
    asked = rule_questions("Staff must therefore for example avoid using offensive language at all times.")
    assert "is using offensive language at all times allowed" in asked
    assert not any("therefore" in q for q in asked)
    assert "is posting comments about the school online allowed" in rule_questions(
        "Staff should refrain from posting comments about the school online.")
    assert "do i have to safeguard pupils from harm" in rule_questions("Staff have a duty to safeguard pupils from harm.")
    # a passive whose subject is itself a clause is no question
    assert rule_questions("This code helps staff to understand what behaviour is and is not acceptable.") == []
    # a contact line naming a person (no title) answers "who is ..."; a phone number answers "what is the number"
    assert contact_questions("Data Protection Lead: Jo Bloggs")[0] == "who is the data protection lead"
    assert "what is the phone number for the data protection officer" in contact_questions(
        "Data Protection Officer: Jo Bloggs; 01234 567 890")


def test_first_person_and_subjectless_rules_become_questions():
    """Acceptable-use agreements say 'I will not ...'; short policies list duties under a lead-in ('all practitioners:'
    / 'avoid putting themselves into ...') or give orders ('Never take photos ...')."""
    from knowledge.questions import generated_questions, rule_questions, subjectless_questions

    assert "can i install any software without permission" in rule_questions(
        "I will not install any software without permission.")
    assert "do i have to keep my password private" in rule_questions("1. I will keep my password private.")
    assert "should i avoid putting myself into compromising situations" in generated_questions(
        "avoid putting themselves into compromising situations.")
    assert "am i responsible for self-moderation of my own behaviours" in generated_questions(
        "are responsible for self-moderation of their own behaviours.")
    assert "can i take photos of children" in generated_questions("Never take photos of children.")
    assert "should i switch my phone off" in generated_questions("Please switch your phone off.")
    # a description, a name or a noun phrase is no instruction; a roman-numeral 'i' is no 'I will'
    for text in ("The school values its community.", "E Safety", "iPads are kept in the office.",
                 "the following documentation:", "are aware of the im", "i) the school will review it."):
        assert generated_questions(text) == [], text
    # the lead words are whole words: "Nevertheless"/"Neverland" are not "never", "Do notify" is not "do not"
    for text in ("Nevertheless take photos of children.", "Neverland take photos of children.",
                 "Do notify the office.", "Pleased to report the results.", "Alwayson devices are kept safe."):
        assert subjectless_questions(text) == [], text
    assert "can i notify the office" in subjectless_questions("Do not notify the office.")
    # a rule with a subject of its own keeps its own questions (read once, not also as a staff rule)
    assert subjectless_questions("Pupils may bring a phone to school.") == []
    assert generated_questions("Pupils may bring a phone to school.") == rule_questions(
        "Pupils may bring a phone to school.")


def test_a_rule_needing_approval_answers_who_signs_it_off():
    from knowledge.questions import approval_questions

    assert "who needs to sign it off" in approval_questions(
        "Staff may run a class blog only with the written approval of the headteacher.")
    assert "who has to approve it" in approval_questions("Trips must be authorised by the governors.")
    assert approval_questions("Staff must sign the acceptable use agreement.") == []


def test_ingest_reads_no_per_policy_data(tmp_path):
    """Whatever per-policy question files exist, an index is built from the policy's own text and generic data."""
    extras = tmp_path / "retrieval"
    extras.mkdir()
    for name in ("details.yml", "sections.yml"):
        (extras / name).write_text((ROOT / "data" / "retrieval" / name).read_text())
    (extras / "staff-mobile-phone-policy.questions.yml").write_text('"3.2":\n  - zebra crossing marmalade\n')
    ingest([MOBILE], tmp_path / "a", load_encoder("hashing"), extras_dir=extras)
    ingest([MOBILE], tmp_path / "b", load_encoder("hashing"))
    a, b = load(tmp_path / "a"), load(tmp_path / "b")
    assert len(a.owners) == len(b.owners)  # the stray per-policy file added nothing
    texts = [t for c in a.clauses for t, _ in embedding_texts_with_kinds(c)]
    assert not any("marmalade" in t for t in texts)
    assert any(t.startswith("can i ") for t in texts)  # questions generated from the policy's rules


def test_generic_section_questions_attach_by_heading_not_by_policy():
    from knowledge.index import section_questions

    clauses = {c.clause: c for c in parse_file(MOBILE).clauses}
    assert "why do we have this policy" in section_questions(clauses["1.2"])  # "1 Purpose"
    assert any("report" in q for q in section_questions(clauses["8.1"]))  # "8 Breaches of This Policy"
    assert section_questions(clauses["3.1"]) == []
    assert section_questions(clauses["doc.policy-owner"]) == []


def test_section_questions_with_a_text_pattern_attach_only_to_matching_clauses():
    from knowledge.index import section_questions

    sections = [{"text": r"\blost\b", "questions": ["i lost it"]},
                {"key": "^purpose", "text": "children", "questions": ["why"]}]
    clauses = {c.clause: c for c in parse_file(MOBILE).clauses}
    assert section_questions(clauses["7.4"], sections) == ["i lost it"]  # "if a school-issued device is lost"
    assert section_questions(clauses["7.1"], sections) == []
    assert section_questions(clauses["1.2"], sections) == ["why"]  # purpose heading and text both match
    assert section_questions(clauses["1.1"], sections) == []  # purpose heading, text does not match


def test_standard_sections_are_found_under_joined_headings_and_in_untitled_text():
    """Short policies join standard parts under one heading or state them in an opening paragraph."""
    from knowledge.index import section_questions
    from knowledge.parser import Clause

    def clause(section: str, text: str) -> Clause:
        return Clause(policy="p", clause="1", section=section, title=section, text=text)

    assert "does this policy cover me" in section_questions(clause("Objective, Scope and Principles", "It sets out."))
    assert "does this policy cover me" in section_questions(clause("General", "This policy applies to all staff."))
    assert "when is this policy reviewed" in section_questions(
        clause("Who is it for; when is it reviewed?", "It is subject to annual review and amended when needed."))
    assert "when is this policy reviewed" in section_questions(clause("General", "This policy will be reviewed yearly."))
    assert any("disciplined" in q for q in section_questions(
        clause("Compliance", "Staff who do not comply may face disciplinary action.")))
    assert section_questions(clause("Using phones in class", "Staff may not use phones in lessons.")) == []
    # a pointer to other rules staff must also follow, under any heading
    assert "which other documents go with this policy" in section_questions(clause(
        "General", "This information should also be read in relation to the following documentation: E Safety"))
    assert "what other policies do i have to follow as well as this one" in section_questions(clause(
        "Objective", "In addition to this Code of Conduct, teachers must adhere to the Teachers' Standards."))
    assert "can this policy be changed during the year" in section_questions(clause(
        "Who is it for; when is it reviewed?", "It is subject to annual review and amended when needed."))
    assert not any("other" in q for q in section_questions(clause("General", "Staff may use the staff room.")))


def test_compound_questions_split_into_parts():
    from knowledge.search import question_parts

    assert question_parts("i think someone took photos, who do i report it to") == [
        "i think someone took photos", "who do i report it to"]
    assert question_parts("can i accept a friend request from a pupil?") == []
    assert question_parts("ok, who do i tell") == []  # a part under three words is not a question


def test_index_stores_question_vectors_with_their_kind(hashing_searcher):
    index = hashing_searcher.index
    assert len(index.kinds) == len(index.owners) == len(index.vectors)
    assert (index.kinds == KIND_QUESTION).sum() > 50


def test_own_words_evidence_is_the_clauses_text_and_best_sentence_similarity(hashing_searcher):
    """A clause's own wording near the question adds to its score (SearchConfig.text_evidence): its text vector and
    its best sentence vector (the text again for a one-sentence clause); a front-matter detail carries a penalty."""
    searcher, config = hashing_searcher, hashing_searcher.config
    index = searcher.index
    assert len(index.owners) <= config.dense_k  # every vector is among FAISS's nearest, so the figures are exact
    ranking = searcher._ranking("can i accept a friend request from a parent of a pupil")
    assert ranking.own is not None and ranking.own.any()
    for row in ranking.order[:8]:
        sims = index.vectors[index.owners == row] @ ranking.qvec
        kinds = index.kinds[index.owners == row]
        text = float(sims[kinds == KIND_TEXT].max())
        sentence = float(sims[kinds == KIND_SENTENCE].max()) if (kinds == KIND_SENTENCE).any() else text
        expected = config.text_evidence * max(text, 0.0) + config.sentence_evidence * max(sentence, 0.0)
        assert float(ranking.own[row]) == pytest.approx(expected, abs=1e-5)
    details = [i for i, c in enumerate(index.clauses) if c.kind == "detail"]
    assert details and all(searcher._prior[i] <= -config.detail_penalty + 1e-6 for i in details)
    plain = Searcher(index, searcher.encoder, lexicon=searcher.lexicon,
                     config=replace(config, text_evidence=0.0, sentence_evidence=0.0, part_evidence=0.0))
    assert not plain._ranking("can i accept a friend request from a parent of a pupil").own.any()


@pytest.mark.parametrize("question", ["", "   ", "\n\t ", "???", "<b></b>"])
def test_empty_questions_are_refused_politely(hashing_searcher, question):
    answer = hashing_searcher.ask(question)
    assert answer.answered is False and answer.reason == "empty"
    assert answer.citations == []
    assert hashing_searcher.search(question) == [] or question.strip("?<>/b ") == ""


def test_very_long_question_is_refused_without_searching(hashing_searcher):
    answer = hashing_searcher.ask("friend request " * 1500)  # ~22,000 characters
    assert answer.answered is False and answer.reason == "too_long"
    assert "characters" in answer.message


def test_non_english_question_is_refused(hashing_searcher):
    for question in ["Могу ли я добавить ученика в друзья?", "我可以加学生为好友吗？"]:
        answer = hashing_searcher.ask(question)
        assert answer.answered is False and answer.reason == "not_english"


@pytest.mark.parametrize("question", [
    "<script>alert('x')</script>Can I accept a friend request from a pupil?",
    "&lt;img src=x onerror=alert(1)&gt; friend request from a pupil",
    "<div onclick=\"x()\">friend <i>request</i> from a pupil</div>",
])
def test_markup_in_a_question_never_comes_back(hashing_searcher, question):
    answer = hashing_searcher.ask(question)
    assert "<" not in answer.message and ">" not in answer.message
    assert "script" not in answer.message.lower()
    assert "<" not in clean_question(question) and "alert" not in clean_question(question).split("friend")[0][:6]
    payload = str(answer.to_dict())
    assert "<script" not in payload and "onerror" not in payload


def test_clause_text_question_is_answered_with_that_clause(hashing_searcher):
    answer = hashing_searcher.ask("Staff members must not have contact through any personal social medium with any pupil")
    assert answer.answered
    assert answer.citations[0].clause == "6.3"
    assert len(answer.citations) <= 3


def test_links_override_search(hashing_searcher):
    hashing_searcher.set_links({"Magic words?": [("social-media-policy", "7.1")]})
    try:
        answer = hashing_searcher.ask("magic   WORDS")
        assert answer.answered and [c.clause for c in answer.citations] == ["7.1"]
    finally:
        hashing_searcher.set_links({})


def test_out_of_scope_message_names_the_owner(hashing_searcher):
    message = hashing_searcher.out_of_scope_message()
    assert "K. Formby" in message and "<" not in message


def test_topic_coverage_counts_policy_words_and_lexicon_slang(hashing_searcher):
    cover = hashing_searcher.topic_coverage
    assert cover("can i accept a friend request from a pupil on facebook") == pytest.approx(1.0)
    assert cover("can i add a parent on insta") == pytest.approx(1.0)  # insta -> instagram via the lexicon
    assert cover("can pupils use their phones at break?") == pytest.approx(0.0)  # no phones or breaks in it
    assert cover("are kids allowed smartwatches in class") == pytest.approx(0.0)
    assert cover("can the pupils do it?") == pytest.approx(1.0)  # nothing topical to judge: no evidence against
    assert 0.0 < cover("can i post about the zoo trip on twitter") < 1.0


# -- real model over the real Social Media policy ---------------------------------------------------------
@pytest.fixture(scope="module")
def real_searcher(tmp_path_factory) -> Searcher:
    settings = get_settings()
    if settings.model == "hashing":
        pytest.skip("POLICY_COACH_MODEL=hashing: the real-model gates need the bundled model")
    encoder = load_encoder(settings.model)
    directory = tmp_path_factory.mktemp("real") / "index"
    ingest([SOCIAL], directory, encoder)
    return Searcher(load(directory), encoder, lexicon=Lexicon.load(settings.lexicon_path))


@pytest.mark.slow
def test_friend_request_question_cites_6_3_first(real_searcher):
    answer = real_searcher.ask("A pupil has sent me a friend request on Facebook. Can I accept it?")
    assert answer.answered
    assert answer.citations[0].clause == "6.3"


@pytest.mark.slow
def test_off_topic_question_is_refused_naming_the_owner(real_searcher):
    answer = real_searcher.ask("What is the capital of France?")
    assert answer.answered is False
    assert answer.reason == "out_of_scope"
    assert "K. Formby" in answer.message
    assert answer.to_dict()["answered"] is False


@pytest.mark.slow
def test_dev_regression_floor_social_media(real_searcher):
    """REGRESSION FLOOR on a dev set (the refusal decision and fusion weights were fitted on it): it catches a change
    that breaks retrieval, it is not evidence of quality. Quality is reported on the test sets by `make bench`."""
    result = evaluate(real_searcher, load_set(EVAL))
    assert result["recall@3"] >= 0.75, result["recall@3"]
    assert result["oos_refused"] >= 0.85, result["oos_refused"]
    assert result["in_scope_refused"] <= 0.10, result["in_scope_refused"]


@pytest.mark.slow
def test_held_out_social_media_questions(real_searcher):
    """Fresh staff questions on the Social Media policy (test split: nothing was fitted on them).

    REGRESSION FLOOR at the third test run (2026-12-02): R@3 0.76 (issue 11's target is 0.90, not met), off-topic
    refused 100%, in-scope refused 12% (6 of 50). The in-scope floor was 10% (5 of 50): the dev-fitted topic-gap
    refusal that raised off-topic refusal in the test library from 54% to 62% refuses one more of these questions;
    that trade is reported in docs/retrieval-eval.md, not tuned away on this set. Fifth test run (session 23): R@3
    0.74, in-scope refused 14% (7 of 50) after the dev-fitted refusal refit at threshold 0.45 and the generated
    questions for first-person rules, which cut dev in-scope refusal from 5% to 3% and Stokesley's from 35% to 22%;
    reported, not tuned away here. A change that lowers these is a regression."""
    result = evaluate(real_searcher, load_set(HOLDOUT))
    assert result["recall@3"] >= 0.74, result["recall@3"]
    assert result["oos_refused"] >= 0.80, result["oos_refused"]
    assert result["in_scope_refused"] <= 0.14, result["in_scope_refused"]


@pytest.fixture(scope="module")
def mobile_searcher(tmp_path_factory) -> Searcher:
    settings = get_settings()
    if settings.model == "hashing":
        pytest.skip("POLICY_COACH_MODEL=hashing: the real-model gates need the bundled model")
    encoder = load_encoder(settings.model)
    directory = tmp_path_factory.mktemp("mobile") / "index"
    ingest([MOBILE], directory, encoder)
    return Searcher(load(directory), encoder, lexicon=Lexicon.load(settings.lexicon_path))


@pytest.fixture(scope="module")
def mobile_result(mobile_searcher) -> dict:
    return evaluate(mobile_searcher, load_set(MOBILE_EVAL))


@pytest.mark.slow
def test_dev_regression_floor_mobile_phones(mobile_result):
    """REGRESSION FLOOR on a dev set (the refusal decision was fitted on it; no per-policy data exists for this
    policy). Catches breakage; not a quality claim."""
    assert mobile_result["recall@3"] >= 0.85, mobile_result["recall@3"]
    assert mobile_result["oos_refused"] >= 0.8, mobile_result["oos_refused"]
    assert mobile_result["in_scope_refused"] <= 0.06, mobile_result["in_scope_refused"]


# -- the library case: several policies in one index ----------------------------------------------------------
@pytest.fixture(scope="module")
def library_searcher(tmp_path_factory) -> Searcher:
    settings = get_settings()
    if settings.model == "hashing":
        pytest.skip("POLICY_COACH_MODEL=hashing: the library tests need the bundled model")
    from knowledge.evaluate import dev_library_extra

    encoder = load_encoder(settings.model)
    directory = tmp_path_factory.mktemp("library") / "index"
    ingest([SOCIAL, MOBILE, *dev_library_extra()], directory, encoder)
    return Searcher(load(directory), encoder, lexicon=Lexicon.load(settings.lexicon_path))


@pytest.mark.slow
def test_library_answers_from_the_policy_the_question_is_about(library_searcher):
    phones = library_searcher.ask("can I take a photo of the class on my own phone?")
    assert phones.answered and phones.citations[0].policy == "staff-mobile-phone-policy"
    friends = library_searcher.ask("A pupil has sent me a friend request on Facebook. Can I accept it?")
    assert friends.answered and friends.citations[0].policy == "social-media-policy"
    assert friends.citations[0].policy_title in friends.message  # every answer names its policy


@pytest.mark.slow
def test_refusal_does_not_get_worse_in_a_library(library_searcher, real_searcher, mobile_searcher):
    """Off-topic questions are refused in a 4-policy library at least as often as alone (dev sets). It failed (23 alone
    vs 19 in the library on Social Media) until the decision compared the question's topic coverage with what the
    anchor questions reach in the same library (OutOfScope.topicgap)."""
    for alone, path in ((real_searcher, EVAL), (mobile_searcher, MOBILE_EVAL)):
        # other_policy rows ask about a topic another library policy covers (pupils' phones): off-topic alone only
        off_topic = [r for r in load_set(path) if r.get("oos") and not r.get("other_policy")]
        refused_alone = sum(not alone.ask(r["q"]).answered for r in off_topic)
        refused_library = sum(not library_searcher.ask(r["q"]).answered for r in off_topic)
        assert refused_library >= refused_alone, (path.name, refused_alone, refused_library)


# -- fast: the library case with the hashing encoder -------------------------------------------------------
@pytest.fixture(scope="module")
def hashing_library(tmp_path_factory) -> Searcher:
    from knowledge.evaluate import dev_library_extra

    directory = tmp_path_factory.mktemp("hashing-library") / "index"
    ingest([SOCIAL, MOBILE, *dev_library_extra()], directory, load_encoder("hashing"))
    return Searcher(load(directory), load_encoder("hashing"), lexicon=Lexicon.load(LEXICON))


def test_a_title_phrase_names_its_policy_without_the_word_policy(hashing_library):
    def named(question):
        return {hashing_library._policy_ids[p] for p in hashing_library.named_policies(question)}

    assert named("does the lone working cover home visits?") == {"lone-working-policy"}
    assert named("what do the social media rules say about friend requests") == {"social-media-policy"}
    assert named("is the staff mobile phone thing strict about the classroom?") == {"staff-mobile-phone-policy"}
    assert named("can i post a photo of the class trip?") == set()  # no title phrase: no policy is named


def test_a_title_phrase_as_the_subject_of_a_question_does_not_name_the_policy(hashing_library):
    # "on social media", "my mobile phone": the topic, not a document (in the dev library the bonus sent another
    # school's social networking questions to the Social Media guidance)
    def named(question):
        return {hashing_library._policy_ids[p] for p in hashing_library.named_policies(question)}

    assert named("does lone working cover home visits?") == set()
    assert named("can i post about my holiday on social media?") == set()
    assert named("is my mobile phone allowed in the classroom?") == set()


def test_a_school_name_in_a_title_does_not_name_the_policy(hashing_library):
    index = hashing_library.index
    policies = {k: dict(v) for k, v in index.policies.items()}
    policies["lone-working-policy"]["title"] = "Lone Working Policy for Little Heath Primary School"
    renamed = Searcher(PolicyIndex(policies, index.clauses, index.vectors, index.owners, index.model, index.dim,
                                   kinds=index.kinds), load_encoder("hashing"), lexicon=Lexicon.load(LEXICON))
    ids = renamed._policy_ids
    assert [ids[p] for p in renamed.named_policies("do the lone working rules cover home visits?")] == [
        "lone-working-policy"]
    assert renamed.named_policies("at a primary school can i keep my phone on me?") == []


def test_another_documents_name_sharing_a_title_word_does_not_name_the_policy(hashing_library):
    # "child protection policy" is not the Data Protection Policy, though "protection policy" ends both
    index = hashing_library.index
    policies = {k: dict(v) for k, v in index.policies.items()}
    policies["lone-working-policy"]["title"] = "Data Protection Policy"
    clauses = list(index.clauses)
    row = next(i for i, c in enumerate(clauses) if c.policy == "staff-mobile-phone-policy")
    clauses[row] = replace(clauses[row], text=clauses[row].text + " Follow the child protection procedures.")
    renamed = Searcher(PolicyIndex(policies, clauses, index.vectors, index.owners, index.model, index.dim,
                                   kinds=index.kinds), load_encoder("hashing"), lexicon=Lexicon.load(LEXICON))

    def named(question):
        return {renamed._policy_ids[p] for p in renamed.named_policies(question)}

    assert named("how does this fit with the child protection policy?") == set()
    assert named("does the data protection policy cover cctv?") == {"lone-working-policy"}
    # a word that only qualifies the policy, or one the policies never put before a title word, still names it
    assert named("when does the new protection policy start?") == {"lone-working-policy"}
    assert named("where do i hand in my signed protection policy form?") == {"lone-working-policy"}


def test_topic_gap_allows_for_the_words_a_bigger_library_knows(hashing_searcher, hashing_library):
    # the anchors (generic off-topic questions) find more of their words in four policies than in one
    assert hashing_library._anchor_topic > hashing_searcher._anchor_topic
    for searcher in (hashing_searcher, hashing_library):
        features = searcher.oos_features(searcher._ranking("where do i park on the first day of term?"))
        ranking = searcher._ranking("where do i park on the first day of term?")
        assert features["topicgap"] == pytest.approx(ranking.topic_max - searcher._anchor_topic)
        assert ranking.topic_max == pytest.approx(searcher.topic_coverage("where do i park on the first day of term?"))


def test_library_evaluation_reports_the_policy_offered_and_the_choice_prompts(hashing_library):
    rows = [{"q": "can i accept a friend request from a pupil on facebook", "gold": ["6.3"]},
            {"q": "who is the policy owner?", "gold": ["doc.person-responsible-for-policy"]},
            {"q": "can i use my phone in the classroom", "gold": ["text:phone"]}]
    result = evaluate(hashing_library, rows, policies={"social-media-policy"})
    # the first citation is always among the policies shown, so "offered" is never below the strict figure
    assert result["policy_offered"] >= result["first_policy"]
    assert 0.0 <= result["policy_prompt"] <= 1.0
    answered = [q for q in result["questions"] if not q["refused"]]
    assert answered, "the hashing library answers these clause-worded questions"
    assert result["policy_prompt"] == pytest.approx(sum("choice" in q for q in answered) / len(answered))


def test_library_evaluation_counts_the_blind_audit_of_other_policies_that_answer(hashing_library):
    phone = "can i use my phone in the classroom"
    plain = evaluate(hashing_library, [{"q": phone, "gold": ["text:phone"]}], policies={"social-media-policy"})
    first = next(q for q in plain["questions"])["top"][0].split(":")[0]
    assert first == "staff-mobile-phone-policy", "the phone policy answers a phone question first"
    assert plain["first_policy"] == 0.0 and plain["first_policy_any"] == 0.0 and plain["n_single"] == 1
    # the judge says the phone policy answers it as directly: it counts for "own or equal", not for the strict figure
    audited = evaluate(hashing_library, [{"q": phone, "gold": ["text:phone"],
                                          "also": [{"policy": "staff-mobile-phone-policy", "text": "phone"}]}],
                       policies={"social-media-policy"})
    assert audited["first_policy"] == 0.0 and audited["first_policy_any"] == 1.0
    assert audited["n_shared"] == 1 and audited["first_policy_single"] is None
    # an off-topic row another policy answers leaves off-topic refusal and is checked against that policy instead
    rows = [{"q": phone, "oos": True, "other_policy": True,
             "answered_by": [{"policy": "staff-mobile-phone-policy", "text": "phone"}]},
            {"q": phone, "oos": True, "other_policy": True, "answered_by": [{"policy": "lone-working-policy", "text": "x"}]},
            {"q": phone, "oos": True, "other_policy": True}]  # not judged: left out as before
    elsewhere = evaluate(hashing_library, rows, policies={"social-media-policy"})
    assert elsewhere["n_elsewhere"] == 2 and elsewhere["elsewhere_right"] == 0.5 and elsewhere["n_oos"] == 0
    alone = evaluate(hashing_library, rows)  # alone, every row is off-topic for its policy
    assert alone["n_oos"] == 3 and alone["n_elsewhere"] == 0


def test_library_evaluation_tells_off_topic_answers_from_another_policy_apart(hashing_library):
    # a phone question is off-topic for the social media policy; in a library holding a phone policy it is answered
    # from that one: the library's lower off-topic refusal comes from the policies added, not from its own policy
    rows = [{"q": "can i use my phone in the classroom", "oos": True}, {"q": "What is the capital of France?", "oos": True}]
    library = evaluate(hashing_library, rows, policies={"social-media-policy"})
    phone = library["questions"][0]
    assert not phone["refused"] and phone["top"][0].startswith("staff-mobile-phone-policy:")
    assert library["oos_answered_other"] == pytest.approx(0.5)  # the phone row
    assert library["oos_refused"] + library["oos_answered_own"] + library["oos_answered_other"] == pytest.approx(1.0)
    # without a set's own policies (the alone case) every answer is its own
    alone = evaluate(hashing_library, rows)
    assert alone["oos_answered_other"] == 0.0
    assert alone["oos_answered_own"] == pytest.approx(1.0 - alone["oos_refused"])


def test_bench_lists_refused_in_scope_questions_with_their_features(hashing_searcher):
    from knowledge.bench import refused_lines

    clause = next(c for c in hashing_searcher.index.clauses if c.clause == "6.3")
    rows = [{"q": "qwxz vbnm plokij", "gold": ["1.1"]},  # labelled in scope, but nothing in the policy matches it
            {"q": "What is the capital of France?", "oos": True},  # off-topic rows are never listed
            {"q": clause.text[:200], "gold": ["6.3"]}]  # the clause's own words: answered
    assert hashing_searcher.ask(rows[0]["q"]).answered is False
    assert hashing_searcher.ask(rows[2]["q"]).answered is True
    lines = refused_lines(hashing_searcher, rows)
    assert len(lines) == 1
    assert "qwxz vbnm plokij" in lines[0] and "anchor=" in lines[0] and "nearest anchor: " in lines[0]


def test_tune_lists_questions_whose_gold_clause_is_in_the_top_3_but_not_first(hashing_searcher, capsys):
    from knowledge.tune import misordered

    question = "can i accept a friend request from a parent of a pupil"
    order = hashing_searcher._ranking(question).order
    first, second = (hashing_searcher.index.clauses[int(i)].clause for i in order[:2])
    rows = [{"q": question, "gold": [second]},  # misordered: listed
            {"q": question, "gold": [first]},  # first: not listed
            {"q": "what is the capital of france", "oos": True}]  # off-topic: never listed
    counts = misordered(hashing_searcher, "social-media", rows)
    out = capsys.readouterr().out
    assert counts["misordered"] == 1
    assert out.count("[social-media]") == 1 and f"first {first}" in out and f"gold  {second}" in out
    assert "via " in out and "own " in out
    assert 0 <= counts["dense prefers gold"] + counts["keyword prefers gold"] + counts["own prefers gold"] <= 3


class _TokenHashing:
    """The hashing encoder with word-level "token embeddings" (each word hashed alone), for the token match."""

    name, dim = "hashing", 256

    def __init__(self):
        self._encoder = load_encoder("hashing")

    def encode(self, texts, **kwargs):
        return self._encoder.encode(texts, **kwargs)

    def token_vectors(self, texts):
        words = [re.findall(r"[a-z0-9]+", t.lower()) for t in texts]
        return [(w, self._encoder.encode(w)) for w in words]


def test_the_token_match_moves_policies_never_clauses_within_one(hashing_library):
    index = hashing_library.index
    tokened = Searcher(index, _TokenHashing(), lexicon=Lexicon.load(LEXICON))
    plain = Searcher(index, _TokenHashing(), lexicon=Lexicon.load(LEXICON), config=SearchConfig(token_weight=0.0))
    row = next(i for i, c in enumerate(index.clauses) if c.policy == "lone-working-policy" and len(c.text) > 80)
    question = index.clauses[row].text[:120]
    rows = np.arange(len(index.clauses))
    match = tokened._token_match(question, rows)
    assert match[row] == pytest.approx(1.0)  # every word of the question is in the clause
    assert match.min() < 0.9
    with_tokens, without = tokened._ranking(question), plain._ranking(question)
    prior = with_tokens.combined - without.combined  # the token term, one value per policy
    for p in range(len(tokened._policy_ids)):
        assert np.ptp(prior[tokened._clause_policy == p]) < 1e-5
    assert prior[row] == pytest.approx(0.0, abs=1e-6) and prior.min() < 0  # the best-matching policy loses nothing
    alone = Searcher(load_policy_index(index, "lone-working-policy"), _TokenHashing(), lexicon=Lexicon.load(LEXICON))
    assert not alone._token_prior(question, alone._ranking(question).combined).any()  # one policy: no effect


def test_warming_the_token_match_embeds_each_clause_once_and_changes_no_answer(hashing_library):
    index = hashing_library.index
    warm = Searcher(index, _TokenHashing(), lexicon=Lexicon.load(LEXICON))
    cold = Searcher(index, _TokenHashing(), lexicon=Lexicon.load(LEXICON))
    assert warm.warm_tokens(batch=7) == len(index.clauses) and len(warm._clause_tokens) == len(index.clauses)
    assert warm.warm_tokens() == 0  # nothing left to embed
    calls = []
    warm.encoder.token_vectors = lambda texts, inner=warm.encoder.token_vectors: calls.append(texts) or inner(texts)
    question = "can i use my phone in the classroom"
    assert [c.clause for c in warm.ask(question).citations] == [c.clause for c in cold.ask(question).citations]
    assert calls == [[question]]  # only the question is run: every clause was ready
    alone = Searcher(load_policy_index(index, "lone-working-policy"), _TokenHashing(), lexicon=Lexicon.load(LEXICON))
    assert alone.warm_tokens() == 0  # one policy: the token match is off, nothing to warm


class _OneRun(_TokenHashing):
    """A token encoder that, like the ONNX one, has a text's token embeddings only from the run that embedded it."""

    def __init__(self):
        super().__init__()
        self.runs: list[list[str]] = []

    def encode(self, texts, **kwargs):
        self.runs.append(list(texts))
        return super().encode(texts, **kwargs)

    def token_vectors(self, texts):
        for text in texts:
            if not any(text in run for run in self.runs):
                self.runs.append([text])  # a second run, for a text the question's run did not hold
        return super().token_vectors(texts)


def test_a_question_naming_its_policy_is_embedded_as_asked_in_the_same_run(hashing_library):
    index = hashing_library.index
    library = Searcher(index, _OneRun(), lexicon=Lexicon.load(LEXICON))
    library.warm_tokens()
    library.encoder.runs.clear()
    question = "does the staff mobile phone policy let me ring a parent, who do i ask first"
    stripped = strip_policy_name(question, library._titles)
    assert stripped != question and question_parts(stripped)
    plain = Searcher(index, _TokenHashing(), lexicon=Lexicon.load(LEXICON))
    assert [(c.clause, c.score) for c in library.ask(question).citations] == \
        [(c.clause, c.score) for c in plain.ask(question).citations]  # the same answer
    # the token match needs the question as asked (before its policy name was cut): in the run of its vector
    asked = [run for run in library.encoder.runs if {question, stripped} & set(run)]
    assert asked == [[stripped, *question_parts(stripped), question]]  # (other runs: the hashing index's highlights)
    alone = Searcher(load_policy_index(index, "staff-mobile-phone-policy"), _OneRun(), lexicon=Lexicon.load(LEXICON))
    alone.ask(question)
    asked = [run for run in alone.encoder.runs if {question, stripped} & set(run)]
    assert asked == [[stripped, *question_parts(stripped)]]  # one policy: no token match, not added


def test_the_token_match_keeps_the_clauses_used_most_recently(hashing_library, monkeypatch):
    from knowledge import search

    monkeypatch.setattr(search, "TOKEN_CLAUSES", 4)
    library = Searcher(hashing_library.index, _TokenHashing(), lexicon=Lexicon.load(LEXICON))
    assert library.warm_tokens() == 4 and list(library._clause_tokens) == [0, 1, 2, 3]
    library._token_match("phones in the classroom", np.array([0]))  # clause 0 is used again
    library._token_match("phones in the classroom", np.array([5]))  # a new clause: the least recently used goes
    assert list(library._clause_tokens) == [2, 3, 0, 5]


def load_policy_index(index: PolicyIndex, policy: str) -> PolicyIndex:
    """One policy's part of a library index."""
    keep = [i for i, c in enumerate(index.clauses) if c.policy == policy]
    vectors = np.isin(index.owners, keep)
    renumber = {old: new for new, old in enumerate(keep)}
    return PolicyIndex({policy: index.policies[policy]}, [index.clauses[i] for i in keep], index.vectors[vectors],
                       np.array([renumber[int(o)] for o in index.owners[vectors]]), index.model, index.dim,
                       kinds=np.asarray(index.kinds)[vectors])


def test_tune_lists_only_own_questions_first_cited_from_another_policy(hashing_library, capsys):
    from knowledge.tune import wrong_policy

    clause = next(c for c in hashing_library.index.clauses if c.policy == "social-media-policy" and c.clause == "6.3")
    question = clause.text[:200]  # the clause's own words: answered, first from the Social Media policy
    first = hashing_library.ask(question).citations[0]
    assert (first.policy, first.clause) == ("social-media-policy", "6.3")
    rows = [{"q": question, "gold": ["1.1"]},  # asked of the phone policy, only it answers: listed
            {"q": question, "gold": ["1.1"], "also": [{"policy": "social-media-policy", "text": "x"}]},  # not listed
            {"q": "what is the capital of france", "oos": True}]  # off-topic: never listed
    counts = wrong_policy(hashing_library, "mobile-phones", rows, {"staff-mobile-phone-policy"})
    out = capsys.readouterr().out
    assert counts["only-own answered"] == 1 and counts["wrong policy first"] == 1
    assert counts["won by social-media-policy"] == 1
    assert out.count("[mobile-phones]") == 1 and "first social-media-policy:6.3 ahead by " in out
    assert "own policy ranked " in out and "centroid " in out and "name " in out
    lead = float(out.split("ahead by ")[1].split(";")[0])
    parts = [float(x) for x in re.findall(r"[+-]\d+\.\d+", out.split("winner's lead: ")[1])]
    # the hashing encoder has no token embeddings and evidence_weight is off: nothing is left for "tokens"
    assert lead > 0 and abs(sum(parts[:-1]) - lead) < 0.005 and abs(parts[-1]) < 0.002
    assert wrong_policy(hashing_library, "social-media", rows[:1], {"social-media-policy"})["wrong policy first"] == 0


def test_bench_lists_answered_off_topic_questions_with_their_features(hashing_searcher):
    from knowledge.bench import answered_lines

    clause = next(c for c in hashing_searcher.index.clauses if c.clause == "6.3")
    rows = [{"q": clause.text[:200], "oos": True},  # labelled off-topic, but the clause's own words: answered
            {"q": "qwxz vbnm plokij", "oos": True},  # refused: never listed
            {"q": clause.text[:200] + " again", "gold": ["6.3"]},  # in scope: never listed
            {"q": clause.text[:150], "oos": True, "other_policy": True}]  # another policy's topic
    assert hashing_searcher.ask(rows[0]["q"]).answered is True
    assert hashing_searcher.ask(rows[1]["q"]).answered is False
    lines = answered_lines(hashing_searcher, rows)
    assert len(lines) == 2 and all("cites social-media-policy:" in line for line in lines)
    assert "topicgap=" in lines[0] and "nearest anchor: " in lines[0]
    # in a library, an other-policy row is not off-topic (the library may hold that policy), so it is not listed
    assert len(answered_lines(hashing_searcher, rows, library=True)) == 1


def test_bench_refuses_to_list_per_question_results_on_the_test_split():
    from knowledge.bench import main

    for flags in (["--refused"], ["--answered"], ["--tie-curve", "0.05"]):
        with pytest.raises(SystemExit):
            main(["--split", "test", *flags])


def test_a_wider_policy_tie_margin_prompts_at_least_as_often_and_offers_at_least_as_much(hashing_library, tmp_path):
    import json

    from knowledge.bench import tie_figures
    from knowledge.evaluate import EvalSet

    rows = [{"q": "can i accept a friend request from a pupil on facebook", "gold": ["6.3"]},
            {"q": "who is the policy owner?", "gold": ["doc.person-responsible-for-policy"]},
            {"q": "can i use my phone in the classroom", "gold": ["text:phone"]},
            {"q": "what should i do if i am working alone in the building", "gold": ["text:alone"]}]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    item = EvalSet("social", "dev", [], path, policy_ids=["social-media-policy"])
    narrow, wide = tie_figures(hashing_library, item, 0.0), tie_figures(hashing_library, item, 10.0)
    assert narrow[0] == wide[0]  # the margin never changes the first citation
    assert wide[2] >= narrow[2] and wide[1] >= narrow[1]
    assert wide[2] > 0  # with a huge margin every answered question with two policies gets the prompt


def test_bench_reuses_a_work_folder_only_with_exactly_the_policies_asked_for(tmp_path):
    from knowledge.bench import ingest_exactly

    encoder = load_encoder("hashing")
    both = ingest_exactly([SOCIAL, MOBILE], tmp_path / "library", encoder)
    assert set(both.policies) == {"social-media-policy", "staff-mobile-phone-policy"}
    # ingest alone adds to an index; the bench's library must lose a policy dropped from its list
    assert set(ingest_exactly([MOBILE], tmp_path / "library", encoder).policies) == {"staff-mobile-phone-policy"}


def test_a_policy_tie_offers_the_next_best_policies_labelled_apart(hashing_library):
    from knowledge.followup import policy_tie

    index = hashing_library.index
    policies = {k: dict(v, title="Staff Policy") for k, v in index.policies.items()}  # four policies, one title
    same = Searcher(PolicyIndex(policies, index.clauses, index.vectors, index.owners, index.model, index.dim,
                                kinds=index.kinds), load_encoder("hashing"), lexicon=Lexicon.load(LEXICON))
    question = "what should i do about my phone when i am working alone"
    answer = same.ask(question)
    assert answer.answered
    best = {}
    for cite in same.search(question, k=30):
        best.setdefault(cite.policy, cite.score)
    scores = sorted(best.values(), reverse=True)
    assert len(scores) >= 3 and scores[1] > scores[2], scores
    margin = (scores[0] - scores[1] + scores[0] - scores[2]) / 2  # the top two tie, the third does not
    two = policy_tie(same, question, answer, tie=margin, choices=2)
    three = policy_tie(same, question, answer, tie=margin, choices=3)
    assert len(two.policies) == 2 and len(three.policies) == 3
    assert three.policies[:2] == two.policies  # the tied ones first, then the next best
    # the same title on every button would say nothing: each names its policy
    assert [t for _, t in three.policies] == [f"Staff Policy ({p})" for p, _ in three.policies]

def test_the_token_match_does_not_favour_a_policy_for_having_more_candidate_clauses(hashing_library, monkeypatch):
    searcher = hashing_library
    combined = searcher._ranking("can i use my phone in the classroom").combined
    rows = np.argsort(-combined, kind="stable")[:searcher.config.token_candidates]
    counts = np.bincount(searcher._clause_policy[rows], minlength=len(searcher._policy_ids))
    assert counts.max() > 1 and (counts > 0).sum() >= 2
    monkeypatch.setattr(searcher, "_token_match", lambda question, rows: np.full(len(rows), 0.5, dtype=np.float32))
    prior = searcher._token_prior("can i use my phone in the classroom", combined)
    # every candidate matches alike: the best of more clauses is no better, each policy loses the log of its count
    seen = counts > 0
    expected = -searcher.config.token_weight * searcher.config.token_count_penalty * np.log(counts[seen])
    assert prior[seen] == pytest.approx(expected - expected.max(), abs=1e-6)
    assert np.all(prior[~seen] <= prior[seen].min() + 1e-6)


def test_two_schools_stating_the_same_rule_get_the_which_policy_prompt(tmp_path, monkeypatch):
    from knowledge import followup

    ashdown, birchfield = tmp_path / "ashdown-phones.txt", tmp_path / "birchfield-phones.txt"
    ashdown.write_text("ASHDOWN PRIMARY SCHOOL\nStaff Mobile Phone Policy\n\n1 PHONES IN SESSIONS\n\n"
                       "1.1 Staff must keep their personal mobile phones in the lockers in the staff room during "
                       "sessions with children.\n\n1.2 The office telephone number is given to families for "
                       "emergencies.\n\n2 VISITORS\n\n2.1 Visitors are asked to leave their phones at reception.\n")
    birchfield.write_text("BIRCHFIELD NURSERY\nCamera and Phone Rules\n\n1 PERSONAL PHONES\n\n1.1 All staff must "
                          "keep personal mobile phones in the staff room lockers during sessions with the children, "
                          "and not on them.\n\n1.2 Photographs of children are taken only on the nursery tablet."
                          "\n\n2 OUTINGS\n\n2.1 The outing leader takes the nursery mobile phone on every outing.\n")
    encoder = load_encoder("hashing")
    ingest([ashdown, birchfield], tmp_path / "index", encoder)
    searcher = Searcher(load(tmp_path / "index"), encoder)
    question = "where do we keep our phones during sessions with children"
    answer = searcher.ask(question)
    first, second = searcher.search(question, k=2)
    assert {first.policy, second.policy} == {"ashdown-phones", "birchfield-phones"}
    assert followup.POLICY_TIE < first.score - second.score <= followup.SAME_RULE_TIE  # no score tie
    assert searcher.clause_similarity(first, second) >= followup.SAME_RULE_SIMILARITY  # but the same rule
    tie = followup.policy_tie(searcher, question, answer)
    assert tie is not None and [p for p, _ in tie.policies] == [first.policy, second.policy]
    monkeypatch.setattr(followup, "SAME_RULE_SIMILARITY", 1.01)
    assert followup.policy_tie(searcher, question, answer) is None
    # a rule only one school has is answered straight away
    monkeypatch.undo()
    outing = "who takes the phone on an outing"
    assert followup.policy_tie(searcher, outing, searcher.ask(outing)) is None


def test_question_lift_measures_nearness_to_the_policys_own_stored_questions(hashing_searcher):
    searcher = hashing_searcher
    clause = next(c for c in searcher.index.clauses if c.clause == "6.3")
    stored = next(t for t, kind in embedding_texts_with_kinds(clause) if kind == KIND_QUESTION)
    vectors = searcher.encoder.encode([stored, "what is the capital of france"])
    background = float(searcher._question_background[0])
    assert 0.0 < background < 1.0  # the anchors' mean best similarity to the policy's stored questions
    # a question the policy stores is at similarity 1 to itself: its lift is 1 less the background
    assert searcher.question_lift(vectors[0], 0) == pytest.approx(1.0 - background, abs=1e-4)
    assert searcher.question_lift(vectors[1], 0) < searcher.question_lift(vectors[0], 0) - 0.3
    assert searcher.question_lift(None, 0) == 0.0
    ranking = searcher._ranking("can i accept a friend request from a pupil on facebook")
    features = searcher.oos_features(ranking)
    best_policy = int(searcher._clause_policy[ranking.order[0]])
    assert features["qlift"] == pytest.approx(searcher.question_lift(ranking.qvec, best_policy, ranking.parts))


def test_question_lift_of_a_compound_question_is_its_best_part(hashing_searcher):
    """'who does our IT support, the filter blocked a website i need': one part has a stored question's shape, the
    other part's words dilute the whole question's vector."""
    from knowledge.search import question_parts

    searcher = hashing_searcher
    clause = next(c for c in searcher.index.clauses if c.clause == "6.3")
    stored = next(t for t, kind in embedding_texts_with_kinds(clause) if kind == KIND_QUESTION and "," not in t)
    compound = f"{stored}, what is the capital of france"
    assert question_parts(compound) == [stored, "what is the capital of france"]
    whole, part, other = searcher.encoder.encode([compound, stored, "what is the capital of france"])
    background = float(searcher._question_background[0])
    alone = searcher.question_lift(whole, 0)
    assert searcher.question_lift(whole, 0, np.stack([part, other])) == pytest.approx(1.0 - background, abs=1e-4)
    assert alone < 1.0 - background - 0.1
    # no parts (an empty array, as a one-part question's ranking holds) is the whole question alone
    assert searcher.question_lift(whole, 0, np.zeros((0, len(whole)), dtype=np.float32)) == pytest.approx(alone)
    ranking = searcher._ranking(compound)
    assert len(ranking.parts) == 2
    best_policy = int(searcher._clause_policy[ranking.order[0]])
    assert searcher.oos_features(ranking)["qlift"] == pytest.approx(
        searcher.question_lift(whole, best_policy, np.stack([part, other])), abs=1e-4)


def test_bench_prints_the_mean_of_each_figure_per_split_and_case():
    from knowledge.bench import mean_lines

    lines = mean_lines({("dev", "alone"): [{"recall@1": 0.5, "recall@3": 1.0, "first_policy": None},
                                          {"recall@1": 1.0, "recall@3": 0.5, "first_policy": None}],
                        ("test", "library"): [{"recall@1": 0.25, "first_policy": 0.5, "elsewhere_right": None}]})
    assert lines[0] == "  dev alone (2 sets): R@1 0.75  R@3 0.75"
    assert lines[1] == "  test library (1 sets): R@1 0.25  first-policy 50%"
