"""Policy ingestion: every supported layout and format parses into citable clauses, and bad input fails clearly."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from knowledge.parser import Policy, parse_file, parse_lines, parse_text, policy_id_for
from knowledge.readers import PolicyReadError, read_document

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "policies"
SOCIAL = ROOT / "data" / "policies" / "social-media-policy.md"
MOBILE = ROOT / "data" / "eval" / "policies" / "staff-mobile-phone-policy.txt"


def by_id(policy: Policy) -> dict:
    return {c.clause: c for c in policy.clauses}


def numbered(policy: Policy) -> list[str]:
    return [c.clause for c in policy.clauses if c.kind == "clause"]


# ---------------------------------------------------------------------------------------------------------------
# A minimal PDF writer: one or more pages of Helvetica text lines drawn with BT / Tj, so no PDF library is needed.


def make_pdf(pages: list[list[str]]) -> bytes:
    """Return a valid PDF whose pages show the given lines of text (cp1252 characters only)."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    kids = [4 + 2 * i for i in range(len(pages))]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join(f"{k} 0 R" for k in kids).encode(), len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for kid, lines in zip(kids, pages):
        ops = ["BT", "/F1 10 Tf", "14 TL", "50 800 Td"] + [f"({escape(line)}) Tj T*" for line in lines] + ["ET"]
        stream = "\n".join(ops).encode("cp1252")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (kid + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    return pdf_file(objects)


def pdf_file(objects: list[bytes]) -> bytes:
    """A PDF file holding these objects (1 = catalog), with its cross-reference table and trailer."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# ---------------------------------------------------------------------------------------------------------------
# The shipped social media policy (Markdown converted from Word): its ids and texts are pinned.


@pytest.fixture(scope="module")
def social() -> Policy:
    return parse_file(SOCIAL)


def test_social_media_numbered_clause_ids_are_stable(social):
    expected = (
        [f"1.{i}" for i in range(1, 5)] + [f"2.{i}" for i in range(1, 4)] + [f"3.{i}" for i in range(1, 5)]
        + ["4.1"] + [f"5.{i}" for i in range(1, 8)] + [f"6.{i}" for i in range(1, 16)]
        + ["7.1", "7.2"] + ["8.1", "8.2", "8.3"]
    )
    assert numbered(social) == expected


def test_social_media_pinned_texts(social):
    clauses = by_id(social)
    assert social.title == "Guidance on Social Media Use for Education Establishments"
    assert social.policy == "social-media-policy"

    c63 = clauses["6.3"]
    assert c63.text.startswith("6.3 Staff members must not have contact")
    assert c63.section == "6 Personal Use of Social Media"
    assert c63.kind == "clause"

    c31 = clauses["3.1"]
    assert c31.section == "3 Legal Framework"
    assert "- the Human Rights Act 1998" in c31.text
    assert "- Common law duty of confidentiality, and" in c31.text
    assert c31.text.rstrip().endswith("- GDPR.")

    assert "Maple Medical PRU or the LA liable to third parties may result in disciplinary action or dismissal." in (
        clauses["8.2"].text
    )
    assert clauses["8.3"].text.startswith("8.3 Contracted providers")


def test_social_media_front_matter(social):
    assert social.owner() == "K. Formby"
    assert social.review_date() == "March 2023"
    details = by_id(social)
    assert details["doc.person-responsible-for-policy"].kind == "detail"
    assert details["doc.person-responsible-for-policy"].text == "Person Responsible For Policy: K. Formby"
    assert details["doc.approved"].text == "Approved: March 2021"
    assert details["doc.to-be-reviewed"].text == "To be reviewed: March 2023"


def test_social_media_appendices(social):
    clauses = by_id(social)
    appendix_1 = [c for c in social.clauses if c.clause.startswith("A1.")]
    assert len(appendix_1) == 15
    assert clauses["A1.4"].title == (
        "Appendix 1 — Staff, Management Committee and Visitor ICT Acceptable Use Agreement, item 4"
    )
    assert clauses["A1.4"].text.startswith("I will ensure that all electronic communications")
    letters = [c for c in social.clauses if c.clause.startswith("A2.")]
    assert letters[0].section == "Appendix 2 › Letters to Parents › General letter to all parents on social media"
    assert clauses["A2.2"].text.startswith("Dear\nIt has been brought to our attention")
    contacts = [c for c in social.clauses if c.clause.startswith("A4.")]
    text = "\n".join(c.text for c in contacts)
    assert "Jim Foy" in text and "lado@doncaster.gov.uk" in text
    lado = next(c for c in contacts if "Jim Foy" in c.text)
    assert lado.text.splitlines()[0] == "LADO (Local Designated Officer for Safeguarding) – Jim Foy"
    assert "01302 737748" in lado.text
    assert lado in social.contacts()


def test_clause_ids_are_unique_and_ordered(social):
    ids = [c.clause for c in social.clauses]
    assert len(ids) == len(set(ids))
    assert [c.order for c in social.clauses] == list(range(len(ids)))


def test_parsing_is_deterministic(social):
    again = parse_file(SOCIAL)
    assert [c.to_dict() for c in again.clauses] == [c.to_dict() for c in social.clauses]
    assert again.checksum == social.checksum


# ---------------------------------------------------------------------------------------------------------------
# The plain-text mobile phone policy: mixed heading styles, numbers on their own line, (a)/(b) items, appendices.


@pytest.fixture(scope="module")
def mobile() -> Policy:
    return parse_file(MOBILE)


def test_mobile_policy_has_all_32_numbered_clauses(mobile):
    counts = {"1": 3, "2": 3, "3": 5, "4": 5, "5": 4, "6": 4, "7": 5, "8": 3}
    expected = [f"{major}.{n}" for major, count in counts.items() for n in range(1, count + 1)]
    assert numbered(mobile) == expected
    assert len(expected) == 32


def test_mobile_policy_section_titles(mobile):
    sections = {c.clause.split(".")[0]: c.section for c in mobile.clauses if c.kind == "clause"}
    assert sections == {
        "1": "1 Purpose",
        "2": "2 Scope",
        "3": "3 Personal Mobile Phones During the School Day",
        "4": "4 Photographs and Videos of Pupils",
        "5": "5 School-Issued Devices",
        "6": "6 Early Years (EYFS), Toilets and Changing Areas",
        "7": "7 Emergencies, Educational Visits and Lost Devices",
        "8": "8 Breaches of This Policy",
    }


def test_mobile_policy_clause_texts(mobile):
    clauses = by_id(mobile)
    # number on the line before the text
    assert clauses["3.1"].text.startswith("3.1 Personal mobile phones must be switched off")
    assert clauses["5.4"].text.startswith("5.4 School-issued devices taken home")
    # lettered sub-items stay with their clause
    c33 = clauses["3.3"].text.splitlines()
    assert c33[0].endswith("and only where:")
    assert [line[:3] for line in c33[1:]] == ["(a)", "(b)", "(c)"]
    c72 = clauses["7.2"].text
    assert "(a) take photographs or videos of pupils;" in c72
    assert "(c) post anything about the visit on social media." in c72
    assert clauses["7.3"].text.startswith("7.3 Parents will be told")
    # nothing from a later heading leaks into the clause before it
    assert "DEFINITIONS" not in clauses["2.3"].text and "Personal device" not in clauses["2.3"].text
    assert "REMINDERS" not in clauses["8.3"].text


def test_mobile_policy_unnumbered_sections_give_items(mobile):
    definitions = [c for c in mobile.clauses if c.section == "Definitions"]
    assert len(definitions) == 4
    assert all(c.kind == "item" for c in definitions)
    assert definitions[0].text.startswith("Personal device means any phone")
    assert definitions[3].title == "Definitions, item 4"
    reminders = [c for c in mobile.clauses if c.section == "Reminders for Visitors, Volunteers and Contractors"]
    assert len(reminders) == 4
    assert any("even at class assemblies" in c.text for c in reminders)


def test_mobile_policy_appendices(mobile):
    contacts = [c for c in mobile.clauses if c.section == "Appendix A — Key Contacts"]
    assert [c.clause for c in contacts] == [f"AA.{i}" for i in range(1, 8)]
    assert all(len(c.text.splitlines()) == 1 for c in contacts)  # one contact per citable item
    assert contacts[1].text == "Designated Safeguarding Lead (DSL): Mr Daniel Osei, Deputy Headteacher, 01632 960 219"
    assert contacts[1].title == "Appendix A — Key Contacts, item 2"
    assert contacts[6].text.startswith("Local Authority Designated Officer (LADO)")
    declaration = [c for c in mobile.clauses if c.section == "Appendix B — Staff Declaration"]
    assert declaration[0].text.startswith("I have read and understood")
    assert declaration[-1].text.startswith("Please return the signed declaration")
    assert not any("...." in c.text for c in mobile.clauses)  # the signature line is a form, not content
    assert {c.clause for c in contacts} <= {c.clause for c in mobile.contacts()}


def test_mobile_policy_front_matter(mobile):
    assert mobile.title == "Staff Use of Mobile Phones and Personal Devices Policy"
    assert mobile.owner() == "Mrs Helen Carver, Headteacher"
    assert mobile.review_date() == "October 2025, or sooner if national guidance changes"
    assert mobile.details["Date approved"] == "12 October 2023 (Full Governing Body)"
    details = [c for c in mobile.clauses if c.kind == "detail"]
    assert [c.clause for c in details] == ["doc.title", "doc.line-1", "doc.policy-owner", "doc.date-approved",
                                           "doc.review-date", "doc.status"]
    assert by_id(mobile)["doc.line-1"].text == "NORTHFIELD PRIMARY SCHOOL"  # the school's name is kept, not lost
    assert all(c.section == "Document details" for c in details)


# ---------------------------------------------------------------------------------------------------------------
# Small fixtures, one per layout.


@pytest.fixture(scope="module")
def lone() -> Policy:
    return parse_file(FIXTURES / "lone-working-policy.txt")


def test_txt_fixture_title_and_front_matter(lone):
    assert lone.policy == "lone-working-policy"
    assert lone.title == "Lone Working Policy"  # not the trust's name on the line above
    assert lone.owner() == "Mr Sam Patel, Business Manager"
    assert lone.review_date() == "September 2026"
    assert by_id(lone)["doc.date-approved"].text == "Date approved: 3 September 2024 (Trust Board)"


def test_txt_fixture_unnumbered_first_heading(lone):
    purpose = [c for c in lone.clauses if c.section == "Purpose"]
    assert [c.clause for c in purpose] == ["purpose.1", "purpose.2", "purpose.3"]
    assert purpose[0].text.startswith("This policy explains")
    assert purpose[1].text == "Lone working means working where no colleague can see or hear you."
    assert purpose[1].kind == "item"


def test_txt_fixture_heading_and_clause_numbers_on_their_own_line(lone):
    clauses = by_id(lone)
    assert numbered(lone) == ["1.1", "1.2", "2.1", "2.2", "3.1", "3.2"]
    assert clauses["1.1"].section == "1 Responsibilities"  # "1." then "RESPONSIBILITIES"
    assert clauses["1.1"].text == "1.1 The Headteacher must keep a register of staff who regularly work alone on site."
    assert clauses["2.1"].section == "2 Home Visits"  # "2 HOME VISITS"
    assert clauses["3.1"].section == "3 Reporting Incidents"  # "3. REPORTING INCIDENTS"
    assert clauses["2.2"].text.endswith("the school office when they leave the visit.")


def test_txt_fixture_lettered_items_and_wrapped_numbers(lone):
    clauses = by_id(lone)
    assert clauses["2.1"].text.count("\n(") == 3
    assert "(c) never take place alone where there is a known risk." in clauses["2.1"].text
    # "within" / "24 hours using…" is one sentence, not a clause 24
    assert "24" not in by_id(lone)
    assert clauses["3.1"].text.endswith("24 hours using the school's incident form.")


def test_txt_fixture_sentence_case_heading_and_appendices(lone):
    clauses = by_id(lone)
    assert not any("home visit is any visit" in line for line in clauses["3.2"].text.splitlines())
    definitions = [c for c in lone.clauses if c.section == "Definitions"]
    assert [c.clause for c in definitions] == ["definitions.1", "definitions.2"]
    assert clauses["A1.2"].title == "Appendix 1 — Lone Worker Agreement, item 2"
    assert clauses["A1.2"].text == "I will keep my phone charged and with me."
    assert "A1.4" not in clauses  # the signature line is not an item
    assert clauses["A2.3"].text == "Out-of-hours security: 01632 960 399"
    assert clauses["A2.3"].title == "Appendix 2 — Contacts, item 3"
    assert clauses["A2.1"] in lone.contacts()


@pytest.fixture(scope="module")
def aup() -> Policy:
    return parse_file(FIXTURES / "acceptable-use-policy.md")


def test_md_fixture_table_front_matter(aup):
    assert aup.title == "Acceptable Use of ICT Policy"
    assert aup.owner() == "Ms Ruth Okafor, Computing Lead"
    assert aup.review_date() == "March 2025"
    assert by_id(aup)["doc.approved-by-governors"].text == "Approved by governors: 14 March 2024"


def test_md_fixture_sections_and_bulleted_clause_numbers(aup):
    clauses = by_id(aup)
    assert numbered(aup) == ["5.1", "5.2", "6.3", "6.4"]
    assert clauses["5.1"].section == "5 Principles"  # "## 5 PRINCIPLES"
    assert clauses["6.3"].text == "6.3 Staff members must not use personal email accounts to send pupil data."
    assert clauses["6.3"].section == "6 Email and Messaging"
    assert clauses["5.2"].text.splitlines() == [
        "5.2 Staff must not:",
        "a) share their passwords with anyone;",
        "b) leave a logged-in computer unattended in a classroom.",
    ]


def test_md_fixture_bullets_under_unnumbered_heading(aup):
    definitions = [c for c in aup.clauses if c.section == "Definitions"]
    assert [c.clause for c in definitions] == ["definitions.1", "definitions.2"]
    assert definitions[0].text == "ICT systems means the school's computers, network, email and internet access."


def test_md_fixture_agreement_letter_and_contacts(aup):
    clauses = by_id(aup)
    assert clauses["A1.4"].title == "Appendix 1 — Acceptable Use Agreement, item 4"
    assert clauses["A1.4"].text == "4. I will not install software on a school computer without permission."
    letter = [c for c in aup.clauses if c.section == "Appendix 2 — Letter to Parents"]
    assert len(letter) == 2
    assert letter[0].text.startswith("Dear Parent or Carer,\nThe school provides")  # salutation kept with its letter
    contacts = [c for c in aup.clauses if c.section == "Appendix 3 — Contact List"]
    assert [c.clause for c in contacts] == ["A3.1", "A3.2"]
    assert "ruth.okafor@example.sch.uk" in contacts[0].text
    assert contacts[0] in aup.contacts()


@pytest.mark.parametrize(
    ("lines", "section"),
    [
        (["## 5 PRINCIPLES", "", "5.1 Staff must be professional.", "5.2 Staff must be kind."], "5 Principles"),
        (["5.", "PRINCIPLES", "5.1 Staff must be professional.", "5.2 Staff must be kind."], "5 Principles"),
        (["5 PRINCIPLES", "5.1 Staff must be professional.", "5.2 Staff must be kind."], "5 Principles"),
        (["5. Principles", "5.1 Staff must be professional.", "5.2 Staff must be kind."], "5 Principles"),
        (["Section 5 - Principles", "5.1 Staff must be professional.", "5.2 Staff must be kind."], "5 Principles"),
        (["# 5 Principles", "", "- 5.1 Staff must be professional.", "- 5.2 Staff must be kind."], "5 Principles"),
    ],
)
def test_section_heading_styles(lines, section):
    policy = parse_lines(["Conduct Policy", ""] + lines, "conduct")
    assert numbered(policy) == ["5.1", "5.2"]
    assert {c.section for c in policy.clauses if c.kind == "clause"} == {section}
    assert by_id(policy)["5.2"].text == "5.2 Staff must be kind."


@pytest.mark.parametrize(
    "lines",
    [
        ["1 INTRODUCTION", "6.3 Staff members must not have contact with pupils.", "6.4 Other text."],
        ["1 INTRODUCTION", "- 6.3 Staff members must not have contact with pupils.", "- 6.4 Other text."],
        ["1 INTRODUCTION", "6.3", "Staff members must not have contact with pupils.", "6.4", "Other text."],
        ["1 INTRODUCTION", "6.3.", "", "Staff members must not have contact with pupils.", "", "6.4.", "Other text."],
    ],
)
def test_clause_number_positions(lines):
    policy = parse_lines(["Conduct Policy", ""] + lines, "conduct")
    assert by_id(policy)["6.3"].text == "6.3 Staff members must not have contact with pupils."
    assert by_id(policy)["6.4"].text == "6.4 Other text."


def test_unnumbered_heading_after_title_with_no_front_matter():
    policy = parse_lines(
        ["Lone Working Policy", "", "PURPOSE", "This policy keeps lone workers safe.", "",
         "- Staff sign in and out.", "- Staff carry a phone."],
        "lone",
    )
    assert policy.title == "Lone Working Policy"
    assert [c.clause for c in policy.clauses] == ["doc.title", "purpose.1", "purpose.2", "purpose.3"]
    assert policy.clauses[3].title == "Purpose, item 3"


def test_headings_and_wrapped_lines_without_blank_lines():
    """Text extracted from a PDF has no blank lines: headings and wrapped numbers must still be told apart."""
    policy = parse_lines(
        ["Behaviour Policy", "1. INTRODUCTION",
         "1.1 Staff must apply the policy consistently, as set out in section",
         "2 of this policy.",
         "2. REWARDS", "2.1 Staff should use praise.",
         "Sanctions", "Detentions may be given for repeated low-level disruption.", "- A detention lasts 20 minutes.",
         "3. EXCLUSIONS", "3.1 Only the Headteacher may exclude a pupil."],
        "behaviour",
    )
    clauses = by_id(policy)
    assert numbered(policy) == ["1.1", "2.1", "3.1"]
    assert clauses["1.1"].text.endswith("as set out in section 2 of this policy.")
    assert clauses["2.1"].text == "2.1 Staff should use praise."
    assert [c.clause for c in policy.clauses if c.section == "Sanctions"] == ["sanctions.1", "sanctions.2"]
    assert clauses["3.1"].section == "3 Exclusions"


def test_lone_numbers():
    policy = parse_lines(
        ["Conduct Policy", "", "1 DUTIES", "1.1 Staff must be on time.", "", "7", "", "1.2 Staff must be polite.",
         "", "2", "", "Staff must dress smartly.", "", "3", "SAFEGUARDING", "3.1 Report concerns the same day."],
        "conduct",
    )
    clauses = by_id(policy)
    assert numbered(policy) == ["1.1", "1.2", "2", "3.1"]  # the "7" was a page number
    assert clauses["2"].text == "2 Staff must dress smartly."
    assert clauses["2"].kind == "clause"
    assert clauses["3.1"].section == "3 Safeguarding"


def test_roman_and_letter_sub_items_stay_with_clause():
    policy = parse_lines(
        ["1 SCOPE", "1.1 This applies to:", "a. teachers;", "b. support staff;", "(i) volunteers;", "ii) governors.",
         "1.2 Second clause."],
        "scope",
    )
    assert by_id(policy)["1.1"].text.count("\n") == 4
    assert by_id(policy)["1.2"].text == "1.2 Second clause."


def test_duplicate_clause_numbers_get_distinct_ids():
    policy = parse_lines(["1 SCOPE", "1.1 First.", "1.1 Repeated by mistake.", "1.2 Third."], "dup")
    assert [c.clause for c in policy.clauses] == ["1.1", "1.1-2", "1.2"]


def test_clause_ids_survive_an_edit_elsewhere():
    before = parse_lines(["1 SCOPE", "1.1 First.", "1.2 Second.", "2 RULES", "2.1 Third.", "2.2 Fourth."], "p")
    after = parse_lines(["1 SCOPE", "1.1 First, reworded.", "1.2 Second.", "2 RULES", "2.2 Fourth."], "p")
    assert by_id(after)["1.2"].text == by_id(before)["1.2"].text
    assert by_id(after)["2.2"].text == by_id(before)["2.2"].text
    assert "2.1" not in by_id(after)


def test_numbered_clauses_inside_an_appendix_are_prefixed():
    policy = parse_lines(
        ["1 SCOPE", "1.1 First.", "1.2 Second.", "APPENDIX B – VISITS PROTOCOL", "1.1 Sign the visits book."], "p"
    )
    clauses = by_id(policy)
    assert clauses["1.1"].text == "1.1 First."
    assert clauses["AB.1.1"].section == "Appendix B — Visits Protocol"


def test_markdown_inline_markup_is_stripped():
    policy = parse_text(
        "# Conduct Policy\n\n<b>Approved:</b>\t<b>March 2021</b>\n\n## 2 SCOPE\n\n"
        "- 2.3 sites such as *Facebook* and **Twitter**\n- 2.4 Call 01302 [lado@x.gov.uk](mailto:lado@x.gov.uk)\n\n"
        "| Review date | March 2025 |\n| --- | --- |\n", "conduct", suffix=".md")
    clauses = by_id(policy)
    assert policy.details["Approved"] == "March 2021"
    assert clauses["2.3"].text == "2.3 sites such as Facebook and Twitter"
    assert clauses["2.4"].text == "2.4 Call 01302 lado@x.gov.uk"
    assert any(c.text == "Review date: March 2025" for c in policy.clauses)


def test_policy_id_for():
    assert policy_id_for(Path("/x/Staff Mobile Phone Policy (2023).docx")) == "staff-mobile-phone-policy-2023"


# ---------------------------------------------------------------------------------------------------------------
# Word and PDF, generated in the test.


def test_docx_policy(tmp_path):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_paragraph("Oakwood Academy Trust")
    document.add_heading("Visitors Policy", 0)
    table = document.add_table(rows=3, cols=2)
    for row, (key, value) in enumerate(
        [("Policy owner", "Mrs Ann Lee, Office Manager"), ("Approved", "2 May 2024"), ("Review date", "May 2026")]
    ):
        table.cell(row, 0).text = key
        table.cell(row, 1).text = value
    document.add_heading("1 INTRODUCTION", 1)
    document.add_paragraph("1.1 All visitors must sign in at reception and wear a visitor badge.")
    document.add_paragraph("1.2 Visitors must be collected from reception by the member of staff they are visiting.")
    document.add_heading("2 SAFEGUARDING", 1)
    document.add_paragraph("2.1 Visitors must not be left alone with pupils unless they have:")
    document.add_paragraph("(a) an enhanced DBS check; and")
    document.add_paragraph("(b) the agreement of the DSL.")
    document.add_heading("Definitions", 1)
    document.add_paragraph("A visitor is anyone who is not on the staff list.", style="List Bullet")
    document.add_paragraph("A contractor is a visitor who is paid to work on site.", style="List Bullet")
    document.add_heading("Appendix A – Contacts", 1)
    contacts = document.add_table(rows=2, cols=2)
    contacts.cell(0, 0).text = "Office Manager"
    contacts.cell(0, 1).text = "Mrs Ann Lee, 01632 960 100"
    contacts.cell(1, 0).text = "DSL"
    contacts.cell(1, 1).text = "Mr Tom Ray, 01632 960 101"
    path = tmp_path / "visitors-policy.docx"
    document.save(str(path))

    policy = parse_file(path)
    clauses = by_id(policy)
    assert policy.title == "Visitors Policy"
    assert policy.owner() == "Mrs Ann Lee, Office Manager"
    assert policy.review_date() == "May 2026"
    assert numbered(policy) == ["1.1", "1.2", "2.1"]
    assert clauses["1.1"].section == "1 Introduction"
    assert clauses["2.1"].section == "2 Safeguarding"
    assert clauses["2.1"].text.splitlines()[1:] == ["(a) an enhanced DBS check; and", "(b) the agreement of the DSL."]
    definitions = [c for c in policy.clauses if c.section == "Definitions"]
    assert [c.text for c in definitions] == [
        "A visitor is anyone who is not on the staff list.",
        "A contractor is a visitor who is paid to work on site.",
    ]
    assert clauses["AA.2"].text == "DSL: Mr Tom Ray, 01632 960 101"
    assert clauses["AA.2"].title == "Appendix A — Contacts, item 2"


def _add_outline_numbering(document) -> str:
    """Give the document a Word multi-level list (1. / 1.1) and return its numId."""
    from docx.oxml import parse_xml

    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    numbering = document.part.numbering_part.element
    numbering.insert(0, parse_xml(
        f'<w:abstractNum {w} w:abstractNumId="90">'
        '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/></w:lvl>'
        '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1.%2"/></w:lvl>'
        '<w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="lowerLetter"/><w:lvlText w:val="(%3)"/></w:lvl>'
        "</w:abstractNum>"
    ))
    numbering.append(parse_xml(f'<w:num {w} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))
    return "90"


def _number(paragraph, num_id: str, level: int) -> None:
    from docx.oxml import parse_xml

    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    paragraph._p.get_or_add_pPr().append(parse_xml(
        f'<w:numPr {w}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>'
    ))


def test_docx_automatic_numbering_is_written_out(tmp_path):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_heading("Uniform Policy", 0)
    num = _add_outline_numbering(document)
    _number(document.add_heading("INTRODUCTION", 1), num, 0)
    _number(document.add_paragraph("Pupils must wear the school uniform every day."), num, 1)
    _number(document.add_paragraph("Staff must model smart dress, including:"), num, 1)
    _number(document.add_paragraph("a name badge;"), num, 2)
    _number(document.add_paragraph("closed shoes."), num, 2)
    _number(document.add_heading("JEWELLERY", 1), num, 0)
    _number(document.add_paragraph("Pupils may wear one pair of stud earrings."), num, 1)
    path = tmp_path / "uniform.docx"
    document.save(str(path))

    policy = parse_file(path)
    clauses = by_id(policy)
    assert numbered(policy) == ["1.1", "1.2", "2.1"]
    assert clauses["1.1"].text == "1.1 Pupils must wear the school uniform every day."
    assert clauses["1.1"].section == "1 Introduction"
    assert clauses["1.2"].text.splitlines() == [
        "1.2 Staff must model smart dress, including:", "(a) a name badge;", "(b) closed shoes."
    ]
    assert clauses["2.1"].section == "2 Jewellery"


def test_pdf_policy(tmp_path):
    pytest.importorskip("pypdf")
    path = tmp_path / "first-aid-policy.pdf"
    path.write_bytes(make_pdf([
        [
            "Hillside School",
            "First Aid Policy",
            "Policy owner: Mrs Jo Grant, School Business Manager",
            "Review date: January 2026",
            "1 INTRODUCTION",
            "1.1 Every member of staff must know who the first aiders are and where the first aid",
            "boxes are kept.",
            "1.2 A qualified first aider must be on site whenever pupils are present.",
            "Page 1 of 2",
        ],
        [
            "2. RECORDING INJURIES",
            "2.1",
            "All injuries must be recorded in the accident book on the same day.",
            "2.2 Head injuries must be reported to parents within",
            "2 hours by telephone.",
            "APPENDIX A – FIRST AIDERS",
            "Main office: Mrs Jo Grant, 01632 960 400",
            "Sports hall: Mr Ian Cole, 01632 960 401",
            "Page 2 of 2",
        ],
    ]))
    policy = parse_file(path)
    clauses = by_id(policy)
    assert policy.title == "First Aid Policy"
    assert policy.owner() == "Mrs Jo Grant, School Business Manager"
    assert policy.review_date() == "January 2026"
    assert numbered(policy) == ["1.1", "1.2", "2.1", "2.2"]
    assert clauses["1.1"].text.endswith("boxes are kept.")
    assert "Page" not in clauses["1.2"].text
    assert clauses["2.1"].section == "2 Recording Injuries"
    assert clauses["2.1"].text == "2.1 All injuries must be recorded in the accident book on the same day."
    assert clauses["2.2"].text.endswith("2 hours by telephone.")
    assert clauses["AA.1"].text == "Main office: Mrs Jo Grant, 01632 960 400"
    assert clauses["AA.2"].title == "Appendix A — First Aiders, item 2"


def test_pdf_page_numbers_and_running_footers_are_dropped(tmp_path):
    pages = [["Trips Policy", "1 PLANNING", "1.1 Trips must be planned.", "Trips Policy v2 – page 1", "1"]]
    pages += [[f"1.{n} Trip rule number {n}.", f"Trips Policy v2 – page {n}", str(n)] for n in (2, 3)]
    path = tmp_path / "trips.pdf"
    path.write_bytes(make_pdf(pages))
    texts = [block.text for block in read_document(path).blocks]
    assert texts == ["Trips Policy", "1 PLANNING", "1.1 Trips must be planned.", "1.2 Trip rule number 2.",
                     "1.3 Trip rule number 3."]
    assert numbered(parse_file(path)) == ["1.1", "1.2", "1.3"]


# ---------------------------------------------------------------------------------------------------------------
# Bad input: every case raises PolicyReadError with a one-line message naming the file.


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    random = os.urandom(2048) + b"\x00\x01"
    cases = {
        "empty": ("empty.md", b"", r"empty"),
        "whitespace": ("blank.txt", b"  \n\t\n   \r\n", r"empty"),
        "binary-md": ("image.md", b"\x89PNG\r\n\x1a\n" + random, r"binary"),
        "random-md": ("noise.md", random, r"binary"),
        "corrupt-pdf": ("broken.pdf", random, r"not a valid PDF"),
        "truncated-pdf": ("truncated.pdf", make_pdf([["1 A", "1.1 Text here."]])[:200], r"not a valid PDF"),
        "corrupt-docx": ("broken.docx", random, r"not a valid Word"),
        "no-clauses": ("shopping.txt", b"Shopping list\n\nMilk, eggs and bread from the shop on the corner.\n",
                       r"no recognisable clauses"),
        "unsupported": ("policy.doc", b"Some text", r"unsupported file type '\.doc'"),
        "no-extension": ("POLICY", b"1.1 Text", r"unsupported file type"),
    }
    out = {}
    for key, (name, data, pattern) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        out[key] = (path, pattern)
    out["missing"] = (tmp_path / "nope" / "missing.md", r"file not found")
    out["directory"] = (tmp_path, r"not a file")
    return out


BAD_CASES = ["empty", "whitespace", "binary-md", "random-md", "corrupt-pdf", "truncated-pdf", "corrupt-docx",
             "no-clauses", "unsupported", "no-extension", "missing", "directory"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_raises_clear_error(tmp_path, case):
    path, pattern = _bad_files(tmp_path)[case]
    with pytest.raises(PolicyReadError) as info:
        parse_file(path)
    message = str(info.value)
    assert re.search(pattern, message), message
    assert "\n" not in message
    assert path.name in message
    assert len(message) < 200


def test_empty_pdf_has_no_text(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf([[]]))
    with pytest.raises(PolicyReadError, match="no text found"):
        parse_file(path)


def test_password_protected_pdf(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(
        make_pdf([["Trips Policy", "1 PLANNING", "1.1 Trips must be planned.", "1.2 Trips need a risk assessment."]])
    )
    for password, name in [("secret", "locked.pdf"), ("", "open-with-empty-password.pdf")]:
        writer = pypdf.PdfWriter(clone_from=str(plain))
        writer.encrypt(user_password=password, owner_password="owner", algorithm="RC4-128")
        writer.write(str(tmp_path / name))
    with pytest.raises(PolicyReadError, match=r"^locked\.pdf: the PDF is password-protected"):
        parse_file(tmp_path / "locked.pdf")
    assert numbered(parse_file(tmp_path / "open-with-empty-password.pdf")) == ["1.1", "1.2"]


def test_docx_without_clauses(tmp_path):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_paragraph("Minutes of the staff social committee.")
    path = tmp_path / "minutes.docx"
    document.save(str(path))
    with pytest.raises(PolicyReadError, match="no recognisable clauses"):
        parse_file(path)


def test_text_encodings(tmp_path):
    body = "Café Policy\n\n1 SCOPE\n1.1 Staff café rules – always.\n1.2 More.\n"
    for name, data in [("a.txt", body.encode("cp1252")), ("b.txt", body.encode("utf-8-sig")),
                       ("c.txt", body.encode("utf-16"))]:
        path = tmp_path / name
        path.write_bytes(data)
        assert by_id(parse_file(path))["1.1"].text == "1.1 Staff café rules – always."
