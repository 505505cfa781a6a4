"""What an answer no longer computes per question: highlight units cut and embedded at ingest (stored with the index),
the benchmark's per-stage split, and the optional ONNX Runtime encoder giving torch's vectors."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from knowledge import highlight
from knowledge.bench import TimedSearcher, _latency, library_of, replicate
from knowledge.encoder import load_encoder
from knowledge.highlight import clause_units, units
from knowledge.index import PIECES_VERSION, ingest, load, piece_text, save
from knowledge.search import Lexicon, Searcher, content_pieces, strip_policy_name
from knowledge.settings import SettingsError, get_settings

ROOT = Path(__file__).resolve().parent.parent
SOCIAL = ROOT / "data" / "policies" / "social-media-policy.md"
MOBILE = ROOT / "data" / "eval" / "policies" / "staff-mobile-phone-policy.txt"
LEXICON = ROOT / "data" / "lexicon.yml"
QUESTIONS = ["A pupil sent me a friend request, what do I do?", "can I post photos of pupils on my instagram?",
             "who do I tell if I see something worrying online", "why can't I use my own phone to take photos?"]


class Counting:
    """The hashing encoder, counting the texts it is asked to embed."""

    def __init__(self):
        self.inner = load_encoder("hashing")
        self.name, self.dim = self.inner.name, self.inner.dim
        self.calls: list[list[str]] = []

    def encode(self, texts, **kwargs):
        """Embed with the hashing encoder, recording the call."""
        self.calls.append(list(texts))
        return self.inner.encode(texts, **kwargs)


def without_units(index):
    """The same index as one built before highlight units were stored."""
    index.unit_texts, index.unit_vectors, index.unit_spans, index.units_version = [], np.zeros((0, index.dim)), {}, ""
    index._unit_rows = None
    return index


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("units") / "index"
    ingest([SOCIAL], directory, load_encoder("hashing"))
    return directory


# -- fast: hashing encoder ----------------------------------------------------------------------------------
def test_ingest_stores_every_clause_units_and_their_vectors(built):
    index = load(built)
    encoder = load_encoder("hashing")
    assert index.units_version == highlight.UNITS_VERSION and (built / "units.npy").exists()
    for clause in index.clauses:
        assert clause_units(index, clause.text) == units(clause.text)
        for unit in units(clause.text):
            text = unit.full(clause.text)
            assert np.allclose(index.unit_vector(text), encoder.encode([text])[0], atol=1e-6)
    assert index.unit_vector("a sentence no clause has") is None
    manifest = json.loads((built / "manifest.json").read_text())
    assert {"units.npy", "units.json"} <= set(manifest["files"])  # checksummed like the rest


def test_an_answer_embeds_only_the_question_and_highlights_as_before(built):
    stored, computed = Counting(), Counting()
    with_units = Searcher(load(built), stored, lexicon=Lexicon.load(LEXICON))
    old = Searcher(without_units(load(built)), computed, lexicon=Lexicon.load(LEXICON))
    for question in QUESTIONS:
        stored.calls.clear()
        computed.calls.clear()
        new_answer, old_answer = with_units.ask(question), old.ask(question)
        assert new_answer.highlights and new_answer.highlights == old_answer.highlights
        assert len(stored.calls) == 1 and stored.calls[0][0] == question  # the question (and its parts) only
        assert sum(map(len, computed.calls)) >= len(stored.calls[0])


def test_units_cut_by_another_version_of_units_are_not_used(built, monkeypatch):
    index = load(built)
    text = next(c.text for c in index.clauses if len(units(c.text)) > 1)
    index.unit_spans[text] = [[0, 5, -1, -1]]
    assert [(u.start, u.end) for u in clause_units(index, text)] == [(0, 5)]
    monkeypatch.setattr(highlight, "UNITS_VERSION", "a later one")
    assert clause_units(index, text) == units(text)


def test_an_index_from_before_stored_units_gains_them_at_the_next_ingest(built, tmp_path):
    directory = tmp_path / "index"
    shutil.copytree(built, directory)
    save(without_units(load(directory)), directory)
    assert not (directory / "units.json").exists() and not len(load(directory).unit_texts)
    report = ingest([SOCIAL], directory, load_encoder("hashing"))
    assert report.unchanged == [load(directory).clauses[0].policy] and report.written
    assert load(directory).units_version == highlight.UNITS_VERSION
    assert ingest([SOCIAL], directory, load_encoder("hashing")).written is False  # and then nothing to do


def test_a_changed_policy_embeds_only_its_own_new_units(tmp_path):
    directory = tmp_path / "index"
    ingest([SOCIAL, MOBILE], directory, load_encoder("hashing"))
    before = load(directory)
    changed = tmp_path / MOBILE.name
    changed.write_text(MOBILE.read_text() + "\n\n99.1 Staff must keep their phones in the staff room during lessons.\n")
    encoder = Counting()
    ingest([changed], directory, encoder)
    after = load(directory)
    embedded = {t for call in encoder.calls for t in call}
    assert "Staff must keep their phones in the staff room during lessons." in embedded
    social = {u.full(c.text) for c in before.clauses if c.policy == before.clauses[0].policy for u in units(c.text)}
    assert social and not social & embedded  # the unchanged policy's units were kept, not embedded again
    assert all(np.array_equal(after.unit_vector(t), before.unit_vector(t)) for t in social)


def test_the_bench_splits_an_ask_into_stages_and_copies_share_stored_units(built):
    index = load(built)
    big = TimedSearcher(replicate(index, 3), load_encoder("hashing"), lexicon=Lexicon.load(LEXICON))
    assert len(big.index.unit_texts) == len(index.unit_texts)
    timing = _latency(big, QUESTIONS)
    assert timing["calls"] == 1.0  # no highlight embedding in any copy
    assert set(timing["stages"]) == {"embed", "search", "highlight", "other"}
    assert sum(share for _, _, share in timing["stages"].values()) == pytest.approx(1.0, abs=0.02)
    assert all(p95 >= p50 >= 0 for p50, p95, _ in timing["stages"].values())
    assert timing["p95"] >= timing["p50"] > 0


def test_the_bench_times_a_library_of_exactly_the_size_asked_for(built):
    index = load(built)  # one policy: a library of 3 is it and two renamed copies
    for size in (1, 3):
        lib = library_of(index, size)
        assert len(lib.policies) == size == len({c.policy for c in lib.clauses})
        assert len(lib.clauses) == size * len(index.clauses) and len(lib.owners) == size * len(index.owners)
        assert np.array_equal(lib.owners[:len(index.owners)], index.owners) and lib.owners.max() < len(lib.clauses)
        assert np.allclose(lib.vectors[:len(index.vectors)], index.vectors, atol=1e-6)  # the first copy is the index
        for row in range(0, len(lib.owners), 97):  # each vector still belongs to its clause's copy
            twin = lib.clauses[lib.owners[row]]
            assert twin.text == index.clauses[index.owners[row % len(index.owners)]].text
    two = replicate(index, 2)  # a library of fewer policies than the copies made keeps the first ones whole
    assert list(library_of(two, 1).policies) == [next(iter(two.policies))]


class TokenCounting(Counting):
    """The counting hashing encoder with word-level "token embeddings" (each word hashed alone), counting the texts
    whose token embeddings it is asked for."""

    def __init__(self):
        super().__init__()
        self.token_calls: list[list[str]] = []

    def token_vectors(self, texts):
        """Each text's words and their hashing vectors, recording the call."""
        self.token_calls.append(list(texts))
        words = [re.findall(r"[a-z0-9]+", t.lower()) for t in texts]
        return [(w, self.inner.encode(w)) for w in words]


def without_pieces(index):
    """The same index as one built before clause pieces were stored."""
    index.piece_vectors, index.piece_spans, index.pieces_version = None, None, ""
    return index


@pytest.fixture(scope="module")
def tokened(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("pieces") / "index"
    ingest([SOCIAL, MOBILE], directory, TokenCounting())
    return directory


def test_ingest_stores_each_clauses_pieces_memory_mapped_and_checksummed(tokened):
    index = load(tokened)
    encoder = TokenCounting()
    assert index.pieces_version == PIECES_VERSION and isinstance(index.piece_vectors, np.memmap)
    assert index.piece_vectors.dtype == np.float16 and index.piece_spans.shape == (len(index.clauses), 2)
    for row, clause in enumerate(index.clauses):
        expected = content_pieces(*encoder.token_vectors([piece_text(clause)])[0]).astype(np.float16)
        assert np.array_equal(index.clause_pieces(row), expected)
    assert {"pieces.npy", "piece_spans.npy"} <= set(json.loads((tokened / "manifest.json").read_text())["files"])
    plain = tokened.parent / "plain"
    ingest([SOCIAL], plain, load_encoder("hashing"))  # no token embeddings: nothing stored, as before
    assert load(plain).piece_spans is None and not (plain / "pieces.npy").exists()


def test_stored_pieces_give_the_token_match_without_running_the_model_for_a_clause(tokened):
    stored, computed = TokenCounting(), TokenCounting()
    with_pieces = Searcher(load(tokened), stored, lexicon=Lexicon.load(LEXICON))
    old = Searcher(without_pieces(load(tokened)), computed, lexicon=Lexicon.load(LEXICON))
    assert with_pieces.warm_tokens() == 0 and old.warm_tokens() == len(old.index.clauses)
    rows = np.arange(len(with_pieces.index.clauses))
    for question in QUESTIONS:
        stored.token_calls.clear()
        assert np.allclose(with_pieces._token_match(question, rows), old._token_match(question, rows), atol=1e-6)
        assert stored.token_calls == [[question]]  # the question only, never a clause
        new_answer, old_answer = with_pieces.ask(question), old.ask(question)
        assert [(c.clause, round(c.score, 5)) for c in new_answer.citations] == \
            [(c.clause, round(c.score, 5)) for c in old_answer.citations]
    assert not with_pieces._clause_tokens  # nothing kept per searcher


def test_an_index_from_before_stored_pieces_gains_them_and_unchanged_policies_keep_theirs(tokened, tmp_path):
    directory = tmp_path / "index"
    shutil.copytree(tokened, directory)
    save(without_pieces(load(directory)), directory)
    assert load(directory).piece_spans is None and not (directory / "pieces.npy").exists()
    encoder = TokenCounting()
    report = ingest([SOCIAL, MOBILE], directory, encoder)
    assert len(report.unchanged) == 2 and report.written
    assert np.array_equal(load(directory).piece_vectors, load(tokened).piece_vectors)
    changed = tmp_path / MOBILE.name
    changed.write_text(MOBILE.read_text() + "\n\n99.1 Staff must keep their phones in the staff room during lessons.\n")
    encoder.token_calls.clear()
    ingest([changed], directory, encoder)
    embedded = {t for call in encoder.token_calls for t in call}
    after = load(directory)
    social = {piece_text(c) for c in after.clauses if c.policy == after.clauses[0].policy}
    assert any("staff room during lessons" in t for t in embedded) and not social & embedded
    assert ingest([SOCIAL, changed], directory, encoder).written is False  # and then nothing to do


def test_bench_copies_share_the_stored_pieces(tokened):
    index = load(tokened)
    lib = library_of(index, 5)
    assert len(lib.piece_vectors) == len(index.piece_vectors) and len(lib.piece_spans) == len(lib.clauses)
    for row in range(0, len(lib.clauses), 7):
        twin = lib.clauses[row]
        same = next(i for i, c in enumerate(index.clauses) if c.text == twin.text and c.section == twin.section)
        assert np.array_equal(lib.clause_pieces(row), index.clause_pieces(same))


def test_a_policy_name_is_stripped_and_the_titles_stemmed_once_per_library():
    from knowledge import search

    titles = ["Staff Mobile Phone Policy", "Social Media Guidance"]
    search._title_stems.cache_clear()
    assert strip_policy_name("can i  phone in sick", titles) == "can i phone in sick"
    assert search._title_stems.cache_info().misses == 0  # no word that can end a policy's name: no title stemmed
    assert strip_policy_name("Is the Staff Mobile Phone Policy strict?", titles) == "Is the policy strict?"
    assert strip_policy_name("what do the social media guidelines say", titles) == "what do the policy say"
    assert strip_policy_name("the POLICY. says what", titles) == "the POLICY. says what"
    assert search._title_stems.cache_info().misses == 1  # the library's title stems, made once


def test_the_embedding_runtime_is_a_validated_setting(monkeypatch):
    assert get_settings().embed_runtime == "onnx"  # the default since onnxruntime is in requirements/app.lock
    monkeypatch.setenv("POLICY_COACH_EMBED_RUNTIME", "torch")
    assert get_settings().embed_runtime == "torch"
    monkeypatch.setenv("POLICY_COACH_EMBED_RUNTIME", "gpu")
    with pytest.raises(SettingsError, match="POLICY_COACH_EMBED_RUNTIME"):
        get_settings()


# -- slow: the real model -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_stored_unit_vectors_are_the_ones_an_answer_would_compute(real_index):
    encoder = load_encoder(get_settings().model)
    index = load(real_index)
    assert index.model == encoder.name and len(index.unit_texts) > 100
    rng = np.random.default_rng(0)
    sample = [index.unit_texts[i] for i in rng.choice(len(index.unit_texts), 40, replace=False)]
    computed = np.vstack([encoder._encode([t], False, 32) for t in sample])  # one by one, as an answer would
    stored = np.vstack([index.unit_vector(t) for t in sample])
    assert float(np.min(np.sum(computed * stored, axis=1))) >= 0.9999


@pytest.mark.slow
def test_stored_clause_pieces_give_the_token_match_an_answer_would_compute(real_index):
    encoder = load_encoder(get_settings().model)
    index = load(real_index)
    assert index.pieces_version == PIECES_VERSION and len(index.piece_vectors) > 10 * len(index.clauses)
    stored = Searcher(index, encoder, lexicon=Lexicon.load(LEXICON))
    computed = Searcher(without_pieces(load(real_index)), encoder, lexicon=Lexicon.load(LEXICON))
    rows = np.arange(0, len(index.clauses), 3)
    for question in QUESTIONS:
        # computed: the candidates' pieces embedded together when first met, as without stored pieces
        assert np.allclose(stored._token_match(question, rows), computed._token_match(question, rows), atol=1e-4)


@pytest.mark.slow
def test_the_onnx_runtime_gives_torchs_vectors_or_is_not_used(tmp_path, monkeypatch):
    from knowledge.encoder import Encoder

    monkeypatch.setenv("POLICY_COACH_VAR", str(tmp_path))
    model = get_settings().model
    torch_encoder, onnx_encoder = Encoder(model, runtime="torch"), Encoder(model, runtime="onnx")
    texts = QUESTIONS + [c for c in QUESTIONS[0].split(",")] + ["Staff members must decline 'friend requests' from "
                                                                "pupils they receive in their personal accounts."]
    a, b = torch_encoder._encode(texts, False, 32), onnx_encoder._encode(texts, False, 32)
    assert onnx_encoder.name == torch_encoder.name  # same vectors, so the index and oos.yml stay valid
    assert float(np.min(np.sum(a * b, axis=1))) >= 0.9999
    # onnxruntime and onnx are installed (requirements/app.lock), so the export is made and used
    assert onnx_encoder.runtime == "onnx" and any((tmp_path / "models").glob("*.onnx"))


@pytest.mark.slow
def test_onnx_token_embeddings_are_torchs_and_come_with_the_questions_vector(tmp_path, monkeypatch):
    from knowledge.encoder import Encoder

    monkeypatch.setenv("POLICY_COACH_VAR", str(tmp_path))
    model = get_settings().model
    torch_encoder, onnx_encoder = Encoder(model, runtime="torch"), Encoder(model, runtime="onnx")
    assert onnx_encoder.runtime == "onnx"
    texts = QUESTIONS[:3] + ["Staff members must decline 'friend requests' from pupils they receive."]
    for (pieces, a), (same, b) in zip(torch_encoder.token_vectors(texts), onnx_encoder.token_vectors(texts)):
        assert pieces == same and "[CLS]" not in pieces and len(pieces) == len(a) == len(b)
        assert float(np.min(np.sum(a * b, axis=1))) >= 0.9999
    onnx_encoder.forget()
    onnx_encoder.encode([QUESTIONS[0]])  # a question: one ONNX run gives its vector and its token embeddings
    assert QUESTIONS[0] in onnx_encoder._recent_tokens
    onnx_encoder._onnx = None  # no second run possible: the question's token embeddings are the remembered ones
    monkeypatch.setattr(onnx_encoder.model, "encode", lambda *a, **k: pytest.fail("the model ran again"))
    assert onnx_encoder.token_vectors([QUESTIONS[0]])[0][0] == torch_encoder.token_vectors([QUESTIONS[0]])[0][0]


@pytest.mark.slow
def test_int8_onnx_is_named_apart_so_an_index_of_torch_vectors_is_re_embedded(tmp_path, monkeypatch):
    from knowledge.encoder import Encoder

    monkeypatch.setenv("POLICY_COACH_VAR", str(tmp_path))
    model = get_settings().model
    torch_encoder, int8 = Encoder(model, runtime="torch"), Encoder(model, runtime="onnx-int8")
    a, b = torch_encoder._encode(QUESTIONS, False, 32), int8._encode(QUESTIONS, False, 32)
    assert int8.runtime == "onnx-int8" and int8.name == torch_encoder.name + "+int8"
    assert 0.9 <= float(np.min(np.sum(a * b, axis=1))) < 0.9999  # close to torch's, but other vectors
