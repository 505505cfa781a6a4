"""`policy-coach ingest` and `ask --json`, run in-process with the hashing encoder (no model is loaded)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from knowledge import cli
from knowledge.index import load
from tests.test_parser import make_pdf

ROOT = Path(__file__).resolve().parent.parent
SOCIAL = ROOT / "data" / "policies" / "social-media-policy.md"
MOBILE = ROOT / "data" / "eval" / "policies" / "staff-mobile-phone-policy.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "policies"

GARDEN_V1 = """Garden Safety Policy

Policy owner: Mr Alan Green, Site Manager
Review date: April 2026

1 TOOLS

1.1 Garden tools must be locked in the shed when they are not in use.
1.2 Pupils may use hand tools only when an adult is supervising them.
1.3 Power tools must never be used while pupils are in the garden.

2 PONDS

2.1 The pond cover must stay closed unless a pond-dipping lesson is taking place.
"""

GARDEN_V2 = GARDEN_V1.replace(
    "1.3 Power tools must never be used while pupils are in the garden.\n", ""
).replace(
    "2.1 The pond cover must stay closed unless a pond-dipping lesson is taking place.\n",
    "2.1 The pond cover must stay closed unless a pond-dipping lesson is taking place.\n"
    "2.2 Wellington boots must be worn for pond-dipping lessons.\n",
)


@pytest.fixture(autouse=True)
def hashing_model(monkeypatch, tmp_path):
    monkeypatch.setenv("POLICY_COACH_MODEL", "hashing")
    monkeypatch.setenv("POLICY_COACH_INDEX", str(tmp_path / "default-index"))


@pytest.fixture
def index_dir(tmp_path) -> Path:
    return tmp_path / "index"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ingest(capsys, index_dir: Path, *paths: Path) -> tuple[int, str, str]:
    return run(capsys, "ingest", *map(str, paths), "--index", str(index_dir), "--quiet")


def snapshot(directory: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under the index folder with its mtime and contents."""
    return {
        str(p.relative_to(directory)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def siblings(directory: Path) -> list[str]:
    """Names next to the index folder (no stray temporary or .old copies may be left behind)."""
    return sorted(p.name for p in directory.parent.iterdir())


def bad_files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "bad"
    folder.mkdir()
    files = {
        "empty.md": b"",
        "blank.txt": b"   \n\n\t \n",
        "binary.md": os.urandom(1024) + b"\x00",
        "corrupt.pdf": os.urandom(1024),
        "corrupt.docx": os.urandom(1024),
        "notes.txt": b"Notes\n\nRemember to buy milk and eggs on the way home tonight.\n",
        "policy.rtf": b"{\\rtf1 1.1 Text}",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files] + [folder / "missing.md"]


def test_ingest_new_index(capsys, index_dir):
    code, out, err = ingest(capsys, index_dir, SOCIAL)
    assert code == 0, err
    assert "added social-media-policy:" in out
    index = load(index_dir)
    assert set(index.policies) == {"social-media-policy"}
    assert index.model == "hashing"
    assert index.find("social-media-policy", "6.3").text.startswith("6.3 Staff members must not have contact")
    assert index.policies["social-media-policy"]["owner"] == "K. Formby"


def test_bad_files_exit_non_zero_and_leave_the_index_untouched(capsys, tmp_path, index_dir):
    assert ingest(capsys, index_dir, SOCIAL)[0] == 0
    bad_paths = bad_files(tmp_path)
    before, names = snapshot(index_dir), siblings(index_dir)
    manifest = (index_dir / "manifest.json").read_text()
    for bad in bad_paths:
        code, out, err = ingest(capsys, index_dir, bad)
        assert code != 0, bad
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("policy-coach ingest: ") and bad.name in lines[0]
        assert "Traceback" not in err and out == ""
        assert snapshot(index_dir) == before
        assert siblings(index_dir) == names
    assert (index_dir / "manifest.json").read_text() == manifest


def test_one_bad_file_among_good_ones_writes_nothing(capsys, tmp_path, index_dir):
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4\n garbage")
    code, _, err = ingest(capsys, index_dir, SOCIAL, bad)
    assert code != 0
    assert "broken.pdf" in err and len(err.strip().splitlines()) == 1
    assert not index_dir.exists()


def test_reingest_unchanged_does_not_rewrite(capsys, index_dir):
    assert ingest(capsys, index_dir, SOCIAL)[0] == 0
    before = snapshot(index_dir)
    mtime = (index_dir / "manifest.json").stat().st_mtime_ns
    code, out, err = ingest(capsys, index_dir, SOCIAL)
    assert code == 0, err
    assert "unchanged social-media-policy" in out
    assert "(not rewritten)" in out
    assert (index_dir / "manifest.json").stat().st_mtime_ns == mtime
    assert snapshot(index_dir) == before


def test_changed_policy_replaces_its_clauses_and_keeps_others(capsys, tmp_path, index_dir):
    garden = tmp_path / "garden-safety.txt"
    garden.write_text(GARDEN_V1)
    assert ingest(capsys, index_dir, garden, MOBILE)[0] == 0
    first = load(index_dir)
    assert first.find("garden-safety", "1.3") is not None
    mobile_before = [c.to_dict() for c in first.policy_clauses("staff-mobile-phone-policy")]

    garden.write_text(GARDEN_V2)
    code, out, err = ingest(capsys, index_dir, garden)
    assert code == 0, err
    assert "updated garden-safety: 1 added, 1 removed, 0 changed" in out
    after = load(index_dir)
    garden_ids = [c.clause for c in after.policy_clauses("garden-safety")]
    assert "1.3" not in garden_ids
    assert "2.2" in garden_ids
    assert after.find("garden-safety", "2.2").text == "2.2 Wellington boots must be worn for pond-dipping lessons."
    assert [c.to_dict() for c in after.policy_clauses("staff-mobile-phone-policy")] == mobile_before
    assert set(after.policies) == {"garden-safety", "staff-mobile-phone-policy"}
    # every vector still belongs to a clause of the index
    assert int(after.owners.max()) == len(after.clauses) - 1
    assert len(after.owners) == after.faiss_index.ntotal


def test_ask_json_cites_each_policy_by_name(capsys, tmp_path, index_dir):
    assert ingest(capsys, index_dir, SOCIAL, MOBILE)[0] == 0

    code, out, err = run(
        capsys, "ask", "Staff members must not have contact through any personal social medium with any pupil",
        "--index", str(index_dir), "--json",
    )
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    answer = json.loads(lines[0])
    assert {"answered", "message", "citations"} <= set(answer)
    assert answer["answered"] is True
    assert answer["citations"]
    for cite in answer["citations"]:
        assert {"policy", "clause", "section", "text", "score"} <= set(cite)
        assert cite["policy"] in {"social-media-policy", "staff-mobile-phone-policy"}
        assert isinstance(cite["score"], float)
    top = answer["citations"][0]
    assert (top["policy"], top["clause"]) == ("social-media-policy", "6.3")
    assert top["section"] == "6 Personal Use of Social Media"

    code, out, err = run(
        capsys, "ask", "Can I use my personal phone to take photographs or videos of pupils on a school trip?",
        "--index", str(index_dir), "--json",
    )
    assert code == 0, err
    answer = json.loads(out)
    assert answer["answered"] is True
    assert answer["citations"][0]["policy"] == "staff-mobile-phone-policy"


def test_ask_json_without_index(capsys, tmp_path):
    code, out, _ = run(capsys, "ask", "anything", "--index", str(tmp_path / "none"), "--json")
    assert code != 0
    answer = json.loads(out)
    assert answer["answered"] is False and answer["citations"] == []


def test_ingest_word_and_pdf_together(capsys, tmp_path, index_dir):
    docx = pytest.importorskip("docx")

    document = docx.Document()
    document.add_heading("Visitors Policy", 0)
    document.add_heading("1 SIGNING IN", 1)
    document.add_paragraph("1.1 All visitors must sign in at reception and wear a visitor badge.")
    document.add_paragraph("1.2 Visitors must be escorted by a member of staff at all times.")
    word = tmp_path / "visitors.docx"
    document.save(str(word))
    pdf = tmp_path / "first-aid.pdf"
    pdf.write_bytes(make_pdf([["First Aid Policy", "1 FIRST AIDERS", "1.1 A first aider must be on site.",
                               "1.2 First aid boxes are kept in every classroom."]]))
    code, _, err = ingest(capsys, index_dir, word, pdf, FIXTURES / "lone-working-policy.txt")
    assert code == 0, err
    index = load(index_dir)
    assert set(index.policies) == {"visitors", "first-aid", "lone-working-policy"}
    assert index.policies["visitors"]["title"] == "Visitors Policy"
    assert index.find("first-aid", "1.2").text == "1.2 First aid boxes are kept in every classroom."


def test_clauses_listing_names_policy_and_title(capsys, index_dir):
    assert ingest(capsys, index_dir, SOCIAL, FIXTURES / "acceptable-use-policy.md")[0] == 0
    code, out, err = run(capsys, "clauses", "--index", str(index_dir))
    assert code == 0, err
    rows = [line.split("\t") for line in out.splitlines()]
    assert ["acceptable-use-policy", "A1.4", "Appendix 1 — Acceptable Use Agreement, item 4"] in rows
    assert any(r[:2] == ["social-media-policy", "8.2"] for r in rows)


def test_index_copy_is_loadable(tmp_path, capsys, index_dir):
    """The index folder is self-contained: a copy elsewhere loads the same clauses."""
    assert ingest(capsys, index_dir, MOBILE)[0] == 0
    copy = tmp_path / "copy"
    shutil.copytree(index_dir, copy)
    assert [c.clause for c in load(copy).clauses] == [c.clause for c in load(index_dir).clauses]


# -- upload limits (ui.policy_admin.upload_policy on a real store and index) ---------------------------------------


@pytest.fixture
def upload_env(tmp_path, monkeypatch, index_dir, sqlite_url):
    from bot.training.store import Store

    monkeypatch.setenv("POLICY_COACH_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("POLICY_COACH_INDEX", str(index_dir))
    monkeypatch.setenv("POLICY_COACH_QUIZZES", str(tmp_path / "quizzes"))  # a new version drafts a refresher there
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    return Store(sqlite_url)


def _zip_bomb(path: Path, inflated: int) -> bytes:
    """A .docx-shaped zip whose one part inflates from a few KB to `inflated` bytes."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * inflated)
    return buffer.getvalue()


def test_upload_caps_size_zip_inflation_and_clauses_before_anything_is_written(upload_env, tmp_path, monkeypatch,
                                                                                capsys, index_dir):
    from ui.policy_admin import upload_policy

    assert ingest(capsys, index_dir, SOCIAL)[0] == 0
    before = snapshot(index_dir)
    bomb = _zip_bomb(tmp_path / "bomb.docx", 60 * 2**20)
    assert len(bomb) < 200_000  # tiny on the wire
    result = upload_policy(upload_env, "bomb.docx", bomb)
    assert not result.ok and "unpacks to 63 MB" in result.message and "nothing was changed" in result.message
    monkeypatch.setenv("POLICY_COACH_MAX_UPLOAD_MB", "0.01")
    result = upload_policy(upload_env, "garden.md", GARDEN_V1.encode() * 40)
    assert not result.ok and "limited to 0.01 MB" in result.message
    monkeypatch.setenv("POLICY_COACH_MAX_UPLOAD_MB", "10")
    monkeypatch.setenv("POLICY_COACH_MAX_CLAUSES", "3")
    result = upload_policy(upload_env, "social-copy.md", SOCIAL.read_bytes())
    assert not result.ok and "more than the limit of 3" in result.message
    assert snapshot(index_dir) == before
    assert not (tmp_path / "var" / "policies").exists() or not list((tmp_path / "var" / "policies").iterdir())
    # the command line keeps the wider default inflation cap for files already on the server (here: refused later
    # only because the zeros are not a Word document)
    (tmp_path / "bomb.docx").write_bytes(bomb)
    code, _, err = ingest(capsys, index_dir, tmp_path / "bomb.docx")
    assert code == 1 and "unpacks to" not in err and "not a valid Word" in err


def test_upload_lands_in_the_runtime_dir_and_make_index_prefers_it(upload_env, tmp_path, capsys, index_dir):
    from ui.policy_admin import upload_policy

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "garden.md").write_text(GARDEN_V1)
    assert ingest(capsys, index_dir, shipped / "garden.md")[0] == 0
    result = upload_policy(upload_env, "garden-v2.md", GARDEN_V2.encode(), replaces="garden")
    assert result.ok and result.status == "updated", result.message
    uploaded = tmp_path / "var" / "policies" / "garden.md"
    assert uploaded.read_text() == GARDEN_V2 and (shipped / "garden.md").read_text() == GARDEN_V1
    [archived] = (tmp_path / "var" / "policy-archive").iterdir()
    assert archived.read_text() == GARDEN_V1
    # `make index` (ingest --uploads of the shipped files) keeps the uploaded version, not the shipped one
    code, out, _ = run(capsys, "ingest", "--uploads", str(shipped / "garden.md"), "--index", str(index_dir), "--quiet")
    assert code == 0 and "using the uploaded" in out and "unchanged garden" in out
    assert any("Wellington boots" in c.text for c in load(index_dir).clauses)


# -- a damaged index is rebuilt; other policies are never dropped silently -----------------------------------------


def _three_policies(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "garden-safety.txt").write_text(GARDEN_V1)
    shutil.copy(MOBILE, folder / MOBILE.name)
    shutil.copy(SOCIAL, folder / SOCIAL.name)
    return sorted(folder.iterdir())


def test_ingesting_one_file_into_an_index_of_three_keeps_the_three(capsys, tmp_path, index_dir):
    three = _three_policies(tmp_path)
    assert ingest(capsys, index_dir, *three)[0] == 0
    before = {name: [c.to_dict() for c in load(index_dir).policy_clauses(name)] for name in load(index_dir).policies}
    pond = tmp_path / "pond-rules.txt"
    pond.write_text(GARDEN_V2.replace("Garden Safety Policy", "Pond Rules"))
    code, out, err = ingest(capsys, index_dir, pond)
    assert code == 0, err
    after = load(index_dir)
    assert set(after.policies) == set(before) | {"pond-rules"} and len(before) == 3
    for name, clauses in before.items():
        assert [c.to_dict() for c in after.policy_clauses(name)] == clauses


@pytest.mark.parametrize("damage", ["flip a byte of the vectors", "truncate the FAISS file", "delete clauses.json"])
def test_damaged_index_is_detected_by_checksum_and_rebuilt_with_every_policy(capsys, tmp_path, index_dir, damage):
    three = _three_policies(tmp_path)
    assert ingest(capsys, index_dir, *three)[0] == 0
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert set(manifest["files"]) >= {"vectors.npy", "owners.npy", "kinds.npy", "clauses.faiss", "clauses.json"}
    clauses_before = [c.to_dict() for c in load(index_dir).clauses]
    if damage.startswith("flip"):
        data = bytearray((index_dir / "vectors.npy").read_bytes())
        data[-5] ^= 0xFF  # still a loadable array, just wrong numbers: only the checksum notices
        (index_dir / "vectors.npy").write_bytes(bytes(data))
    elif damage.startswith("truncate"):
        path = index_dir / "clauses.faiss"
        path.write_bytes(path.read_bytes()[:100])
    else:
        (index_dir / "clauses.json").unlink()
    with pytest.raises(Exception, match="damaged"):
        load(index_dir)
    # re-ingesting only one (unchanged) policy rebuilds the whole index, re-reading the other two from their files
    code, out, err = ingest(capsys, index_dir, three[0])
    assert code == 0, err
    assert "can't be kept" in out and "rebuilt the index" in out
    assert out.count("kept ") >= 2
    rebuilt = load(index_dir)
    assert len(rebuilt.policies) == 3
    assert sorted(map(str, (c.to_dict() for c in rebuilt.clauses))) == sorted(map(str, clauses_before))
    # and now it is whole again: the next run leaves it alone
    code, out, _ = ingest(capsys, index_dir, three[0])
    assert code == 0 and "(not rewritten)" in out


def test_rebuild_says_loudly_which_policy_it_could_not_keep(capsys, tmp_path, index_dir):
    three = _three_policies(tmp_path)
    assert ingest(capsys, index_dir, *three)[0] == 0
    (index_dir / "owners.npy").write_bytes(b"junk")
    mobile = [p for p in three if p.name == MOBILE.name][0]
    mobile.unlink()
    code, out, err = ingest(capsys, index_dir, three[0])
    assert code == 0
    assert "WARNING: staff-mobile-phone-policy is no longer in the index" in err
    assert set(load(index_dir).policies) == {"garden-safety", "social-media-policy"}


def test_force_rewrites_an_unchanged_index(capsys, index_dir):
    assert ingest(capsys, index_dir, SOCIAL)[0] == 0
    built = json.loads((index_dir / "manifest.json").read_text())["files"]
    mtime = (index_dir / "manifest.json").stat().st_mtime_ns
    code, out, err = run(capsys, "ingest", str(SOCIAL), "--index", str(index_dir), "--quiet", "--force")
    assert code == 0, err
    assert "updated social-media-policy: 0 added, 0 removed, 0 changed" in out
    assert (index_dir / "manifest.json").stat().st_mtime_ns != mtime
    assert json.loads((index_dir / "manifest.json").read_text())["files"] == built  # same content, rebuilt


def test_eval_json_reports_every_question(capsys, index_dir, tmp_path):
    assert run(capsys, "ingest", str(SOCIAL), "--index", str(index_dir), "--quiet")[0] == 0
    questions = tmp_path / "set.jsonl"
    questions.write_text(
        json.dumps({"q": "Staff members must not have contact through any personal social medium with any pupil",
                    "gold": ["6.3"]}) + "\n"
        + json.dumps({"q": "???", "gold": ["6.3"]}) + "\n"  # refused: a miss at every k
        + json.dumps({"q": "What is the capital of France?", "oos": True}) + "\n")
    code, out, _ = run(capsys, "eval", str(questions), "--index", str(index_dir), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["recall@5"] == pytest.approx(0.5)
    assert [sorted(q) for q in result["questions"]] == [["q", "rank", "refused", "top"]] * 3
    first, refused, _ = result["questions"]
    assert first["rank"] == 1 and first["top"][0] == "social-media-policy:6.3" and first["refused"] is False
    assert refused["rank"] is None and refused["refused"] is True
