"""Real school layouts read right: clause numbers run into the text, contents lists, and tables (real or flattened
into one line per cell), on small synthetic inputs in every format, and on the dev policies that showed them."""
from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.document import contents_entry, split_run_in_number, title_key
from knowledge.parser import Policy, parse_file, parse_text
from tests.test_parser import make_pdf

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "data" / "eval" / "dev" / "policies"
FORMATS = ("policy.docx", "policy.html", "policy.md", "policy.txt")


def content(policy: Policy) -> list:
    return [c for c in policy.clauses if c.kind != "detail"]


def texts(policy: Policy) -> list[str]:
    return [c.text for c in policy.clauses]


# -- run-in clause numbers ----------------------------------------------------------------------------------------


def test_split_run_in_number_only_splits_a_clause_number_before_a_word():
    assert split_run_in_number("1.1All staff must") == "1.1 All staff must"
    assert split_run_in_number("2.10.3Staff must") == "2.10.3 Staff must"
    assert split_run_in_number("2.4GHz wifi is provided") == "2.4GHz wifi is provided"
    assert split_run_in_number("1.5 m from the door") == "1.5 m from the door"
    assert split_run_in_number("12 staff attended") == "12 staff attended"


@pytest.mark.parametrize("suffix", [".md", ".txt"])
def test_run_in_numbers_become_numbered_clauses(suffix):
    text = ("# Staff Conduct\n\n## 1. Setting an Example\n\n1.1All staff must set a good example.\n\n"
            "1.2Staff must not swear in front of pupils.\n\n## 2. Safeguarding\n\n2.1Staff must report concerns.\n")
    if suffix == ".txt":
        text = text.replace("# ", "").replace("#", "")
    policy = parse_text(text, suffix=suffix)
    clauses = {c.clause: c for c in policy.clauses if c.kind == "clause"}
    assert list(clauses) == ["1.1", "1.2", "2.1"]
    assert clauses["1.2"].text == "1.2 Staff must not swear in front of pupils."
    assert policy.coverage() == 1.0


def test_a_repeated_lost_heading_number_takes_its_clauses_number():
    text = ("# Staff Conduct\n\nThis code applies to all staff.\n\n## 1. Setting an Example\n\n1.1 Staff set an example.\n\n"
            "## 1. Safeguarding\n\n2.1 Staff must report concerns.\n\n## 1. Dress\n\n3.1 Staff dress smartly for work.\n")
    sections = {c.clause: c.section for c in parse_text(text, suffix=".md").clauses}
    assert (sections["1.1"], sections["2.1"], sections["3.1"]) == ("1 Setting an Example", "2 Safeguarding", "3 Dress")


# -- contents lists ------------------------------------------------------------------------------------------------


def test_contents_entry_reads_leaders_and_page_numbers():
    assert contents_entry("3. Scope ........ 4") == "3. Scope"
    assert contents_entry("Appendix A – Contacts …… 12") == "Appendix A – Contacts"
    assert contents_entry("Staff must not use phones in class.") is None
    assert contents_entry("2.1 What is social media?", after_heading=True) == "2.1 What is social media?"
    assert contents_entry("Staff must not use phones in class.", after_heading=True) is None
    assert title_key("Section 2: Scope") == "scope" and title_key("2.1 Use of phones") == "use of phones"


BODY = ("## 1 Scope\n\nThis policy applies to all staff and volunteers in school.\n\n"
        "## 2 Use of phones\n\n2.1 Staff must keep personal phones in their bags during lessons.\n")


def test_markdown_contents_list_is_dropped_when_the_parts_are_there():
    policy = parse_text("# Phones Policy\n\n## Contents\n\n- 1 Scope\n- 2 Use of phones\n\n" + BODY, suffix=".md")
    assert not any(c.section == "Contents" for c in policy.clauses)
    assert [c.clause for c in content(policy)] == ["1.p1", "2.1"]
    assert policy.coverage() == 1.0


def test_contents_entries_naming_missing_parts_are_kept_as_one_unit():
    policy = parse_text("# Phones Policy\n\n## Contents\n\n- 1 Scope\n- 2 Use of phones\n- 3 Cameras\n- 4 Smart watches\n\n"
                        + BODY, suffix=".md")
    units = [c for c in policy.clauses if c.section == "Contents"]
    assert [(c.clause, c.text) for c in units] == [("contents", "3 Cameras\n4 Smart watches")]
    assert [c.clause for c in content(policy)] == ["contents", "1.p1", "2.1"]


def test_plain_text_contents_with_leaders_and_page_numbers():
    text = ("Phones Policy\n\nContents\n1 Scope .......... 2\n2 Use of phones .......... 3\n\n"
            "1 SCOPE\n\nThis policy applies to all staff and volunteers in school.\n\n2 USE OF PHONES\n\n"
            "2.1 Staff must keep personal phones in their bags during lessons.\n")
    policy = parse_text(text)
    assert [c.clause for c in content(policy)] == ["1.p1", "2.1"]
    assert not any("....." in t or t.startswith("2 Use of phones") for t in texts(policy))


def test_a_contents_entry_worded_unlike_its_heading_is_matched_by_number():
    text = ("# Phones Policy\n\n## Contents\n\n- 1. Scope of this policy ..... 2\n- 2. Personal phones in school ..... 3\n\n"
            + BODY)
    policy = parse_text(text, suffix=".md")
    assert [c.clause for c in content(policy)] == ["1.p1", "2.1"]


def test_plain_text_contents_without_leaders_ends_where_the_body_starts_again():
    text = ("Phones Policy\nContents\nSection 1: Scope\n1.1 Who it covers\nSection 2: Phones\n2.1 In lessons\n"
            "Section 1: Scope\n1.1 Who it covers\n1.1.1 This policy covers all staff, volunteers and visitors.\n"
            "Section 2: Phones\n2.1 In lessons\n2.1.1 Staff must keep personal phones in their bags during lessons.\n")
    policy = parse_text(text)
    ids = [c.clause for c in content(policy)]
    assert ids == ["1.1.1", "2.1.1"], ids
    assert {c.clause: c for c in policy.clauses}["1.1.1"].section == "1 Scope › 1.1 Who it covers"


def test_pdf_contents_page_is_dropped(tmp_path):
    path = tmp_path / "phones.pdf"
    path.write_bytes(make_pdf([
        ["Phones Policy", "Contents", "1 Scope ................ 2", "2 Use of phones ................ 2",
         "3 Cameras ................ 2"],
        ["1 SCOPE", "1.1 This policy applies to all staff and volunteers in school.", "2 USE OF PHONES",
         "2.1 Staff must keep personal phones in their bags during lessons.", "3 CAMERAS",
         "3.1 Only school cameras may be used to photograph pupils."],
    ]))
    policy = parse_file(path)
    assert [c.clause for c in content(policy)] == ["1.1", "2.1", "3.1"]
    assert not any("......" in t for t in texts(policy))


def test_word_contents_styles_and_html_link_lists_are_contents(tmp_path):
    docx = pytest.importorskip("docx")
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    document.add_heading("Phones Policy", 1)
    style = document.styles.add_style("TOC 1", WD_STYLE_TYPE.PARAGRAPH)
    for entry in ("1 Scope\t2", "2 Use of phones\t3", "5 Records\t9"):
        document.add_paragraph(entry, style=style)
    document.add_heading("1 Scope", 2)
    document.add_paragraph("This policy applies to all staff and volunteers in school.")
    document.add_heading("2 Use of phones", 2)
    document.add_paragraph("2.1 Staff must keep personal phones in their bags during lessons.")
    path = tmp_path / "phones.docx"
    document.save(str(path))
    policy = parse_file(path)
    assert [c.clause for c in content(policy)] == ["contents", "1.p1", "2.1"]
    assert {c.clause: c.text for c in policy.clauses}["contents"] == "5 Records"

    html = ("<html><body><main><h1>Phones Policy</h1><ul><li><a href='#scope'>1 Scope</a></li>"
            "<li><a href='#use'>2 Use of phones</a></li><li><a href='#rec'>3 Records</a></li></ul>"
            "<h2 id='scope'>1 Scope</h2><p>This policy applies to all staff and volunteers in school.</p>"
            "<h2 id='use'>2 Use of phones</h2><p>2.1 Staff must keep personal phones in their bags.</p>"
            "<h2 id='rec'>3 Records</h2><p>3.1 Incidents are recorded by the office staff.</p></main></body></html>")
    page = tmp_path / "phones.html"
    page.write_text(html)
    assert [c.clause for c in content(parse_file(page))] == ["1.p1", "2.1", "3.1"]


def test_a_list_of_links_to_other_pages_is_not_a_contents_list(tmp_path):
    page = tmp_path / "phones.html"
    page.write_text("<html><body><main><h1>Phones Policy</h1><h2>Related policies</h2><p>Read this policy with:</p><ul>"
                    "<li><a href='/safeguarding'>Safeguarding Policy</a></li><li><a href='/aup'>Acceptable Use Policy</a>"
                    "</li><li><a href='/data'>Data Protection Policy</a></li></ul><h2>1 Scope</h2>"
                    "<p>This policy applies to all staff and volunteers in school.</p></main></body></html>")
    found = texts(parse_file(page))
    assert "Read this policy with:\nAcceptable Use Policy" in found, found


# -- tables --------------------------------------------------------------------------------------------------------


KEY_PEOPLE = ["Designated Safeguarding Lead", "Mrs Jane Smith", "Deputy DSL", "Tom Brown",
              "Data Protection Officer", "Ann Lee", "01632 960 100", "Online safety lead", "(if different)",
              "Date of next review", "To be reviewed by governors in July 2025"]


@pytest.mark.parametrize("suffix", [".md", ".txt"])
def test_a_table_flattened_to_one_line_per_cell_is_read_as_rows(suffix):
    text = "# Online Safety Policy\n\nThis policy applies to all staff.\n\n## Key people\n\n" + "\n\n".join(KEY_PEOPLE) + \
        "\n\n## Purpose\n\nThis policy explains how staff keep pupils safe online at school and at home.\n"
    policy = parse_text(text if suffix == ".md" else text.replace("# ", "").replace("#", ""), suffix=suffix)
    found = texts(policy)
    for row in ("Designated Safeguarding Lead: Mrs Jane Smith", "Deputy DSL: Tom Brown",
                "Data Protection Officer: Ann Lee; 01632 960 100",
                "Date of next review: To be reviewed by governors in July 2025"):
        assert any(t == row or t.endswith("\n" + row) for t in found), (row, found)
    assert policy.coverage() == 1.0


def test_short_lines_with_no_names_or_numbers_are_not_paired():
    lines = ["Be kind to others", "Tell an adult", "Keep passwords secret", "Log off when you finish"]
    policy = parse_text("# Pupil Rules\n\nThese rules apply to all pupils.\n\n## Our rules\n\n" + "\n\n".join(lines) + "\n", suffix=".md")
    assert not any(":" in t for t in texts(policy) if t in lines or ";" in t)
    assert all(line in " ".join(texts(policy)) for line in lines)


def test_table_rows_carry_their_column_headings(tmp_path):
    md = ("# Contacts Policy\n\n## Who to contact\n\n| Role | Name | Telephone |\n|---|---|---|\n"
          "| DSL | Mrs Jane Smith | 01632 960 100 |\n| Headteacher | Mr Tom Brown | 01632 960 101 |\n")
    policy = parse_text(md, suffix=".md")
    assert "Role: DSL; Name: Mrs Jane Smith; Telephone: 01632 960 100" in texts(policy)
    assert not any(t.startswith("Role | Name") for t in texts(policy))
    html = tmp_path / "contacts.html"
    html.write_text("<html><body><h1>Contacts Policy</h1><h2>Who to contact</h2><table><thead><tr><th>Role</th>"
                    "<th>Name</th><th>Telephone</th></tr></thead><tbody><tr><td>DSL</td><td>Mrs Jane Smith</td>"
                    "<td>01632 960 100</td></tr><tr><td>Headteacher</td><td>Mr Tom Brown</td><td>01632 960 101</td>"
                    "</tr></tbody></table></body></html>")
    assert "Role: Headteacher; Name: Mr Tom Brown; Telephone: 01632 960 101" in texts(parse_file(html))


def test_plain_text_pipe_table_rows():
    text = ("Phones Policy\nDate of policy | November 2022 |\nReview date | November 2025 |\n\n1 SCOPE\n\n"
            "This policy applies to all staff and volunteers in school.\n\n2 USE OF PHONES\n\n"
            "2.1 Staff must keep personal phones in their bags during lessons.\n")
    policy = parse_text(text)
    assert policy.review_date() == "November 2025"
    assert policy.details["Date of policy"] == "November 2022"


# -- the dev policies that showed each layout, in every format their folder has ----------------------------------


def _formats(slug: str) -> list[Path]:
    return [DEV / slug / name for name in FORMATS if (DEV / slug / name).is_file()]


@pytest.mark.parametrize("path", _formats("little-heath-primary-code-of-conduct"), ids=lambda p: p.name)
def test_little_heath_run_in_numbers_are_clauses(path):
    policy = parse_file(path)
    clauses = {c.clause: c for c in policy.clauses if c.kind == "clause"}
    assert list(clauses) == ["1.1", "1.2", "1.3", "1.4", "1.5", "2.1"]
    assert clauses["1.1"].text.startswith("1.1 All staff who work in schools")
    assert clauses["2.1"].text == "2.1 Staff have a duty to safeguard pup"
    # both headings read "1." (Word's automatic numbers lost); the second takes its clauses' number
    assert clauses["2.1"].section == "2 Safeguarding Pupils/Students"
    assert not any(t[:4].rstrip(" ").replace(".", "").isdigit() and t[3:4].isalpha() for t in texts(policy))


@pytest.mark.parametrize("path", _formats("cerne-abbas-first-school-social-networking"), ids=lambda p: p.name)
def test_cerne_abbas_contents_list_is_not_read_as_clauses(path):
    policy = parse_file(path)
    ids = [c.clause for c in content(policy)]
    # the only numbered clause is the real 1.1.1; no contents line is a clause of its own
    assert [c.clause for c in policy.clauses if c.kind == "clause"] == ["1.1.1"], ids
    contents = [c for c in policy.clauses if c.clause == "contents"]
    assert len(contents) == 1 and contents[0].section == "Contents"
    lines = contents[0].text.splitlines()
    assert "2.8 Cyberbullying" in lines and "Appendix A – Relevant legislation" in lines
    # the parts the stored text does have are found there, not in the contents unit
    assert "1.1 Objectives" not in lines and "Section 1: Introduction" not in lines
    assert {c.clause: c for c in policy.clauses}["1.1.1"].section == "1 Introduction › 1.1 Objectives"
    assert policy.details["Review date"] == "November 2025"
    assert "Member of staff responsible in Cerne Abbas CE VC First School: Catherine Cresswell" in texts(policy)


@pytest.mark.parametrize("path", _formats("rainford-ce-primary-online-safety"), ids=lambda p: p.name)
def test_rainford_key_people_rows_are_intact(path):
    policy = parse_file(path)
    found = texts(policy)
    for row in ("Designated Safeguarding Lead (DSL)/Team: DSL – Emma Shawcross; DDSL – Louise Thompson",
                "Designated Data Protection Lead: Louise Thompson",
                "Trust Data Protection Officer: Alison Tennant; 07375 365 702",
                "Network manager / other technical support: Darren Shaw/Matthew Pye - Techminder",
                "Date of next review and by whom: To be reviewed by the Board of Directors by 31st August 2024"):
        assert row in found, (row, found)
    assert not any(t.startswith("Louise Thompson\n") or t.startswith("Alison Tennant") for t in found)


def _pdf_with_table(rows: list[tuple[str, str]]) -> bytes:
    """A one-page PDF: a heading, a paragraph, then a ruled two-column table (cell borders drawn), then a paragraph."""
    from tests.test_parser import pdf_file

    def esc(text: str) -> str:
        return text.replace("(", "\\(").replace(")", "\\)")

    ops = ["BT /F1 14 Tf 50 800 Td (Online Safety Policy) Tj ET",
           "BT /F1 10 Tf 50 770 Td (1.1 All staff must report online safety concerns to the DSL.) Tj ET",
           "0.5 w"]
    top = 740
    for n, (label, value) in enumerate(rows):
        y = top - 20 * (n + 1)
        ops += [f"50 {y} 200 20 re S", f"250 {y} 250 20 re S",
                f"BT /F1 10 Tf 55 {y + 6} Td ({esc(label)}) Tj ET", f"BT /F1 10 Tf 255 {y + 6} Td ({esc(value)}) Tj ET"]
    y = top - 20 * (len(rows) + 2)
    ops.append(f"BT /F1 10 Tf 50 {y} Td (1.2 Staff must not share passwords with anyone.) Tj ET")
    stream = "\n".join(ops).encode("cp1252")
    return pdf_file([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ])


def test_a_ruled_pdf_table_is_read_as_rows(tmp_path):
    path = tmp_path / "online-safety.pdf"
    path.write_bytes(_pdf_with_table([("Designated Safeguarding Lead", "Mrs Jane Smith"),
                                      ("Data Protection Officer", "Ann Lee, 01632 960 100"),
                                      ("Review date", "July 2025")]))
    policy = parse_file(path)
    found = texts(policy)
    assert "Designated Safeguarding Lead: Mrs Jane Smith" in found, found
    assert "Data Protection Officer: Ann Lee, 01632 960 100" in found
    assert [c.clause for c in policy.clauses if c.kind == "clause"] == ["1.1", "1.2"]
    assert not any("Mrs Jane Smith" in t and "Ann Lee" in t for t in found)
