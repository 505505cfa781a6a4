"""Cut a document tree into citable units: one rule per unit, each with its heading path and a stable id.

A unit is a numbered clause (with any list under it), a list item together with its lead-in, a paragraph, a
table row or a front-matter fact. Ids are the document's own numbering where it has one ("6.3", "A1.2.1"
inside Appendix 1), else the nearest heading's slug and an ordinal ("forbidden.3", "A3.2", "4.p1"), so editing
one part of a policy never renumbers another.
"""
from __future__ import annotations

from collections import Counter

import re
from dataclasses import dataclass, field

from knowledge.document import CONTENTS_HEADING, Block, Document, contents_entry, split_run_in_number, title_key
from knowledge.readers import is_caps_heading

MAX_CHARS = 1500  # no unit longer than this (issue 10); long paragraphs are cut at sentence ends
SPLIT_TARGET = 900  # the size the parts of a cut paragraph aim for
MIN_WORDS = 4  # shorter units ("Dear", "Signed:") are merged into their neighbour
LEAD_MAX = 300  # a lead-in ending in ':' up to this long is repeated with each item of its list

_CLAUSE_NUM = re.compile(r"^\(?(\d{1,2}(?:\.\d{1,2}){1,3})\.?\)?\s+(\S.*)$", re.DOTALL)
_TOP_NUM = re.compile(r"^(\d{1,2})\.?\s+(\S.*)$", re.DOTALL)
_HEADING_NUM = re.compile(r"^(?:section\s+)?(\d{1,2})(?:\.0)?[.:)]?\s+(?:[-–—:]\s*)?(\S.*)$", re.IGNORECASE)
APPENDIX = re.compile(r"^(appendix|annex|annexe|schedule)\s+([A-Z0-9]{1,3})\b[\s.:\-–—]*(.*)$", re.IGNORECASE)
_KEY_VALUE = re.compile(r"^([A-Za-z][\w '/()&,.-]{0,60}?)\s*:\s*(\S.*)$")
_FILL_IN = re.compile(r"(\.{4,}|_{3,}|…{2,}|(?:\\_){3,})")
_SENTENCE_END = (".", ":", ";", "!", "?", ")", '"', "'", "”", "’")
# Words that name a kind of document: a front-matter line holding one is the policy's title, not the school's name.
_DOC_WORD = re.compile(
    r"\b(polic(y|ies)|guidance|guidelines|procedures?|code of conduct|agreement|handbook|protocol|statement|"
    r"charter|framework|plan|rules)\b",
    re.IGNORECASE,
)


@dataclass
class Unit:
    """A unit under construction (becomes a knowledge.parser.Clause)."""

    clause: str
    section: str
    lines: list[str]
    title: str
    kind: str  # clause | item | detail
    anchor: str = ""
    heading_key: int = 0  # which heading it sits under, so merges never cross headings
    first_under_heading: bool = False
    heading_raw: str = ""
    numbered: bool = False
    heading_major: bool = False

    @property
    def text(self) -> str:
        """The unit's text: its lines joined with line breaks where the document has structure."""
        return "\n".join(line for line in self.lines if line).strip()


@dataclass
class _Heading:
    level: int
    display: str
    raw: str
    anchor: str
    number: str | None = None
    appendix: str | None = None
    major: bool = False
    key: int = 0


@dataclass
class Cut:
    """The result of cutting a document: title, front-matter facts and the units in order."""

    title: str
    details: dict[str, str]
    units: list[Unit] = field(default_factory=list)


def nice_title(text: str) -> str:
    """A heading as shown to users: capitals turned to title case (keeping abbreviations), trailing ':-' dropped."""
    text = text.strip(" :-–—.")
    if is_caps_heading(text):
        small = {"of", "and", "the", "for", "on", "in", "to", "a", "an", "or", "at", "by", "with"}
        words = []
        for i, word in enumerate(text.split()):
            core = word.strip("()[],;:'\"")
            if word.startswith("(") and core.isalpha() and len(core) <= 5:
                words.append(word)  # an abbreviation in brackets: "(EYFS)", "(DSL)"
            elif len(core) >= 2 and core.isalpha() and not re.search(r"[AEIOUY]", core):
                words.append(word)  # no vowels: an abbreviation such as "ICT" or "CCTV"
            elif i and word.lower() in small:
                words.append(word.lower())
            else:
                words.append("-".join(part[:1].upper() + part[1:].lower() for part in word.split("-")))
        text = " ".join(words)
    return text


def slug(text: str, limit: int = 32) -> str:
    """A slug cut at a word boundary: 'Reminders for Visitors, Volunteers…' -> 'reminders-for-visitors'."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = ""
    for word in words:
        candidate = f"{out}-{word}" if out else word
        if len(candidate) > limit and out:
            break
        out = candidate
    return out[:limit] or "part"


def is_form_line(text: str) -> bool:
    """A form line such as 'Signature ..... Date .....': only labels around blanks to fill in."""
    if not _FILL_IN.search(text):
        return False
    segments = [s.strip(" :()") for s in _FILL_IN.split(text) if s and not _FILL_IN.fullmatch(s)]
    return all(len(s.split()) <= 3 for s in segments)


def _is_key_value(text: str) -> bool:
    match = _KEY_VALUE.match(text)
    return bool(match) and len(match.group(1).split()) <= 6 and not _FILL_IN.search(match.group(2))


def sentences(text: str) -> list[str]:
    """Sentences of a text (pysbd, a maintained rule-based splitter that knows 'e.g.' and 'Mr.')."""
    import pysbd  # noqa: PLC0415 - loaded only when a long unit has to be cut or coverage is measured

    segmenter = pysbd.Segmenter(language="en", clean=False)
    out: list[str] = []
    for line in text.split("\n"):
        out.extend(s.strip() for s in segmenter.segment(line) if s.strip())
    return out


class _Cutter:
    def __init__(self, doc: Document):
        self.doc = doc
        self.title = doc.title
        self.details: dict[str, str] = dict(doc.meta)
        self.units: list[Unit] = []
        self.unit_anchors: Counter = Counter()  # anchors of self.units, so a lookup is O(1) (parsing stays linear)
        self.stack: list[_Heading] = []
        self.major_level: int | None = None
        self.counters: dict[str, int] = {}
        self.used: set[str] = set()
        self.heading_count = 0
        self.started = False
        self.open_clause: Unit | None = None  # a numbered clause still taking its list
        self.lead: str | None = None  # a lead-in paragraph ending in ':' whose list follows
        self.lead_unit: Unit | None = None
        self.last_item: Unit | None = None
        self.under_heading = 0
        self.headings_later: set[str] = set()  # title keys of every heading, and of each paragraph's first words
        self.contents_unit: Unit | None = None
        self.row_header: dict[int, list[str]] = {}  # id(row block) -> its table's header cells
        self.renumber: dict[int, str] = {}  # id(heading block) -> the number its lost auto-numbering had

    # -- headings ---------------------------------------------------------------------------------------------
    def section(self) -> str:
        return " › ".join(h.display for h in self.stack) if self.stack else ""

    def anchor(self) -> str:
        return self.stack[-1].anchor if self.stack else "general"

    def appendix(self) -> str | None:
        return next((h.appendix for h in reversed(self.stack) if h.appendix), None)

    def heading(self, block: Block) -> None:
        text = block.text.strip()
        if not text:
            return
        if not self.started and not self.title and block.level <= 1 and not APPENDIX.match(text) and not (
                _HEADING_NUM.match(text)):
            self.title = text
            return
        if not self.started and text == self.title:
            return
        self.started = True
        self._close()
        appendix = APPENDIX.match(text)
        numbered = _HEADING_NUM.match(text)
        major = bool(appendix) or bool(numbered and not self.appendix())
        level = block.level or 2
        if major:
            self.major_level = level if self.major_level is None else min(self.major_level, level)
            level = self.major_level
        elif self.major_level is not None and level <= self.major_level and any(h.major for h in self.stack):
            level = self.major_level  # a heading such as "DEFINITIONS" between numbered sections
        while self.stack and self.stack[-1].level >= level:
            self.stack.pop()
        self.heading_count += 1
        if appendix:
            label = appendix.group(2).upper()
            rest = nice_title(appendix.group(3)) if appendix.group(3) else ""
            display = f"{appendix.group(1).title()} {label}" + (f" — {rest}" if rest else "")
            heading = _Heading(level, display, text, f"A{label}", appendix=label, major=True)
        elif numbered and major:
            number = self.renumber.get(id(block), numbered.group(1))
            display = f"{number} {nice_title(numbered.group(2))}"
            heading = _Heading(level, display, text, f"{number}.p", number=number, major=True)
        else:
            display = nice_title(text) or text
            anchor = slug(display)
            inside = next((h for h in reversed(self.stack) if h.appendix), None)
            if inside is not None:
                anchor = inside.anchor  # an appendix's parts are numbered through the appendix: "A1.14"
            elif any(h.anchor == anchor for h in self.stack) or self._anchor_taken(anchor):
                parent = self.stack[-1].anchor.rstrip(".p") if self.stack else ""
                anchor = f"{parent}.{anchor}" if parent else anchor
            heading = _Heading(level, display, text, anchor)
        heading.key = self.heading_count
        self.stack.append(heading)
        self.under_heading = 0
        self.lead = text if text.rstrip().endswith((":", ":-", ":–")) else None

    def _anchor_taken(self, anchor: str) -> bool:
        return self.unit_anchors[anchor] > 0

    # -- units ------------------------------------------------------------------------------------------------
    def _close(self) -> None:
        self.open_clause = None
        self.last_item = None
        self.lead_unit = None
        if self.stack:
            heading = self.stack[-1]
            self.lead = heading.raw if heading.raw.rstrip().endswith((":", ":-", ":–")) else None
        else:
            self.lead = None

    def _next_id(self, anchor: str, wanted: int | None = None) -> str:
        sep = "" if anchor.endswith(".p") else "."
        if wanted is not None and f"{anchor}{sep}{wanted}" not in self.used:
            self.counters[anchor] = max(self.counters.get(anchor, 0), wanted)
            return f"{anchor}{sep}{wanted}"
        n = self.counters.get(anchor, 0) + 1
        while f"{anchor}{sep}{n}" in self.used:
            n += 1
        self.counters[anchor] = n
        return f"{anchor}{sep}{n}"

    def _unique(self, clause_id: str) -> str:
        if clause_id not in self.used:
            return clause_id
        n = 2
        while f"{clause_id}-{n}" in self.used:
            n += 1
        return f"{clause_id}-{n}"

    def _add(self, clause_id: str, lines: list[str], kind: str, *, numbered: bool = False, word: str = "item") -> Unit:
        clause_id = self._unique(clause_id)
        self.used.add(clause_id)
        heading = self.stack[-1] if self.stack else None
        where = heading.display if heading else (self.title or "General")
        if numbered:
            top = next((h.display for h in self.stack if h.major), where)
            title = f"{clause_id} — {top}"
        else:
            appendix = next((h for h in self.stack if h.appendix), None)
            if appendix is not None and heading is not appendix and not where.startswith(appendix.display):
                where = f"{appendix.display.split(' — ')[0]} — {where}"
            title = f"{where}, {word} {clause_id.rsplit('.', 1)[-1].lstrip('p')}"
        unit = Unit(clause_id, self.section() or (self.title or "General"), lines, title, kind,
                    anchor=self.anchor(), heading_key=heading.key if heading else 0,
                    first_under_heading=self.under_heading == 0, heading_raw=heading.raw if heading else "",
                    numbered=numbered, heading_major=heading.major if heading else False)
        self.under_heading += 1
        self.units.append(unit)
        self.unit_anchors[unit.anchor] += 1
        return unit

    def _front_heading(self, block: Block, following: Block | None) -> bool:
        """A capitalised line at the top ('OAKWOOD ACADEMY TRUST') followed by more front matter, not a section."""
        text = block.text.strip()
        if APPENDIX.match(text) or _HEADING_NUM.match(text) or following is None:
            return False
        front_like = following.kind == "heading" or (
            following.kind in ("para", "row") and len(following.text.split()) <= 14
            and not following.text.endswith(".") and not _CLAUSE_NUM.match(following.text))
        if not front_like:
            return False
        if not self.title and _DOC_WORD.search(text):
            self.title = nice_title(text) if is_caps_heading(text) else text
        elif text != self.title:
            self.details.setdefault(f"line-{len(self.details) + 1}", text)
        return True

    def front(self, block: Block) -> bool:
        """Before the policy's first heading or clause: record 'Key: value' facts and the title lines."""
        lines = block.lines or [block.text]
        if block.kind == "row":
            cells = block.lines or block.text.split(" | ")
            if len(cells) == 2 and len(cells[0].split()) <= 12:
                self.details.setdefault(cells[0].rstrip(": "), cells[1])
                return True
            return False
        if block.kind != "para":
            return False
        if any(not _is_key_value(line) and not is_form_line(line) and (
                len(line.split()) > 14 or line.rstrip().endswith((".", ":"))) for line in lines):
            return False  # a sentence: the policy's text has begun
        for line in lines:
            match = _KEY_VALUE.match(line)
            if match and _is_key_value(line):
                self.details.setdefault(match.group(1).strip(), match.group(2).strip())
            elif is_form_line(line):
                continue
            elif not self.title and _DOC_WORD.search(line) and len(line.split()) <= 20:
                self.title = nice_title(line) if is_caps_heading(line) else line
            elif line != self.title:
                self.details.setdefault(f"line-{len(self.details) + 1}", line)
        return True

    def contents(self, block: Block) -> None:
        """A contents-list entry: dropped when the document has the part it names (a heading or a paragraph that
        starts with its title), so it never competes with that part; entries naming parts the text lacks (a partial
        copy, or sections kept in other documents) are kept together as one 'contents' unit."""
        entry = contents_entry(block.text, after_heading=True) or block.text
        key = title_key(entry)
        number = _LEADING_NUMBER.match(entry)
        if not key or key in self.headings_later or (number and f"#{number.group(1)}" in self.headings_later):
            return  # the part is there, under the same title or the same number ("3. Scope of this policy" / "3 SCOPE")
        self.started = True
        if self.contents_unit is None:
            self._close()
            self.contents_unit = self._add("contents", [entry], "item")
            self.contents_unit.title = "Contents"
        else:
            self.contents_unit.lines.append(entry)

    def block(self, block: Block, following: Block | None = None) -> None:
        if block.kind == "toc":
            self.contents(block)
            return
        if block.kind == "heading":
            if not self.started and not self.stack and self._front_heading(block, following):
                return
            self.heading(block)
            return
        text = block.text.strip()
        if not text:
            return
        if block.kind == "para" and is_form_line(text):
            return  # a signature or date line to fill in: shown by the reader, not a rule
        if not self.started and not self.stack and self.front(block):
            return
        self.started = True
        if block.kind == "para":
            self.para(block, text)
        elif block.kind == "item":
            self.item(block, text)
        elif block.kind == "row":
            cells = block.lines or text.split(" | ")
            header = self.row_header.get(id(block))
            if header is not None and not header:
                return  # the header row itself: its words go with every row below it
            if header:
                # a row of a table with column headings: "Role: DSL; Name: …" so the row reads on its own
                text = "; ".join(f"{h}: {c}" if h else c for h, c in zip(header, cells) if c)
            elif len(cells) == 2 and len(cells[0].split()) <= 12 and not cells[0].endswith("."):
                text = f"{cells[0].rstrip(':')}: {cells[1]}"
            self._close_clause_if_needed()
            self._add(self._next_id(self.anchor()), [text], "item")

    def _close_clause_if_needed(self) -> None:
        self.open_clause = None
        self.last_item = None

    def para(self, block: Block, text: str) -> None:
        appendix = self.appendix()
        clause = _CLAUSE_NUM.match(text)
        if clause:
            number = clause.group(1)
            clause_id = f"A{appendix}.{number}" if appendix else number
            self.open_clause = self._add(clause_id, [text], "clause", numbered=True)
            self.last_item, self.lead = None, None
            return
        top = _TOP_NUM.match(text)
        heading = self.stack[-1] if self.stack else None
        last_major = next((h.number for h in reversed(self.stack) if h.number), None)
        if top and not appendix and len(text.split()) >= 4 and not top.group(2)[:1].islower() and (
                (heading is not None and heading.number == top.group(1))
                or (last_major is not None and int(top.group(1)) == int(last_major) + 1)):
            # "4 Staff must …": a top-level numbered clause with no sub-numbers
            self.open_clause = self._add(top.group(1), [text], "clause", numbered=True)
            return
        if self.open_clause is not None:
            last = self.open_clause.lines[-1]
            if not last.rstrip().endswith(_SENTENCE_END) or last.rstrip().endswith(":") or text[:1].islower():
                self.open_clause.lines.append(text)  # the clause carries on (a page break, or its list's tail)
                return
            self.open_clause = None
        lines = block.lines or [text]
        if len(lines) > 1 and all(_is_key_value(line) for line in lines):
            for line in lines:  # a contact list: one entry per unit
                self._add(self._next_id(self.anchor()), [line], "item")
            self.last_item = None
            return
        self.last_item = None
        previous = self.units[-1] if self.units else None
        if (previous is not None and previous.kind == "item" and previous.heading_key == (
                self.stack[-1].key if self.stack else 0) and _FILL_IN.search(previous.lines[-1])
                and not previous.lines[-1].rstrip().endswith(_SENTENCE_END)):
            previous.lines[-1] += " " + text  # "Name: _____ a member at" / "Maple PRU, agree to…": one sentence
            return
        unit = self._add(self._next_id(self.anchor()), [text], "item",
                         word="item" if _is_key_value(text) and len(text) < 200 else "paragraph")
        if text.endswith(":") and len(text) <= LEAD_MAX:
            self.lead, self.lead_unit = text, unit
        else:
            self.lead, self.lead_unit = (self.stack[-1].raw if self.stack and self.stack[-1].raw.rstrip().endswith(
                (":", ":-")) else None), None

    def item(self, block: Block, text: str) -> None:
        label = block.label if block.label and block.label != "•" else ""
        shown = f"{label} {text}" if label else text
        clause = _CLAUSE_NUM.match(text)
        appendix = self.appendix()
        if clause and block.level == 0:  # "- 1.1 The internet provides…": a clause number written inside a bullet
            number = clause.group(1)
            self.open_clause = self._add(f"A{appendix}.{number}" if appendix else number, [text], "clause",
                                         numbered=True)
            return
        if self.open_clause is not None:
            marker = label if label else "-"
            self.open_clause.lines.append(f"{marker} {text}")
            return
        if block.level > 0 and self.last_item is not None:
            self.last_item.lines.append(f"{label or '-'} {text}")
            return
        lead = self.lead
        if self.lead_unit is not None and self.lead_unit.lines == [lead]:
            # the lead-in paragraph is repeated with each item, so it need not stand alone
            # by identity from the end (it is the latest unit or close to it), not an equality scan from the start
            at = next(i for i in range(len(self.units) - 1, -1, -1) if self.units[i] is self.lead_unit)
            del self.units[at]
            self.unit_anchors[self.lead_unit.anchor] -= 1
            self.used.discard(self.lead_unit.clause)
            self.counters[self.lead_unit.anchor] = self.counters.get(self.lead_unit.anchor, 1) - 1
            self.lead_unit = None
        wanted = int(label.rstrip(".)")) if re.fullmatch(r"\d{1,3}[.)]", label or "") else None
        lines = [lead, shown] if lead else [shown]
        self.last_item = self._add(self._next_id(self.anchor(), wanted), lines, "item")


def prepare(doc: Document) -> None:
    """Tidy a document tree in place before it is cut (every reader's output, so all formats agree): clause
    numbers run into their first word split off, contents lists marked, flattened two-column tables paired."""
    for block in doc.blocks:
        if block.kind in ("para", "item"):
            fixed = split_run_in_number(block.text)
            if fixed != block.text:
                block.text = fixed
                if block.lines:
                    block.lines[0] = split_run_in_number(block.lines[0])
    _mark_contents(doc.blocks)
    doc.blocks = _pair_flattened_table(doc.blocks)


def _mark_contents(blocks: list[Block]) -> None:
    """Mark contents lists as 'toc' blocks: the entries under a 'Contents' heading, or a run of lines with dotted
    leaders and page numbers ('3. Scope ....... 4'). Plain text marks its own (knowledge.readers)."""
    i = 0
    while i < len(blocks):
        block = blocks[i]
        if block.kind in ("heading", "para") and CONTENTS_HEADING.match(block.text.strip()):
            j = i + 1
            while j < len(blocks) and blocks[j].kind in ("para", "item", "toc") and all(
                    contents_entry(line, after_heading=True) for line in (blocks[j].lines or [blocks[j].text])):
                j += 1
            if j - i - 1 >= 2:
                if block.kind == "para":
                    block.kind, block.level, block.lines = "heading", 2, []
                for entry in blocks[i + 1:j]:
                    _to_toc(entry)
                i = j
                continue
        j = i
        while j < len(blocks) and blocks[j].kind in ("para", "item", "toc") and all(
                contents_entry(line) for line in (blocks[j].lines or [blocks[j].text])):
            j += 1
        lines = sum(len(b.lines or [b.text]) for b in blocks[i:j])
        if lines >= 3:  # three leader lines in a row: a contents page (one line is a form or an index entry)
            for entry in blocks[i:j]:
                _to_toc(entry)
            i = j
            continue
        i += 1


_LEADING_NUMBER = re.compile(r"^(?:(?:section|part)\s+)?(\d{1,2}(?:\.\d{1,2}){0,3})(?![\d.]*\d)\.?(?=[\s:.)]|$)", re.IGNORECASE)


def _to_toc(block: Block) -> None:
    if block.label and block.label != "•":  # an entry's own number, kept by the list ("1." of "1. Scope ..... 2")
        block.text = f"{block.label} {block.text}"
        block.lines = [f"{block.label} {block.lines[0]}", *block.lines[1:]] if block.lines else []
    block.kind, block.label = "toc", ""


def split_toc(doc: Document) -> None:
    """A toc block holding several entry lines (a PDF contents page read as one paragraph) -> one block each."""
    out: list[Block] = []
    for block in doc.blocks:
        if block.kind == "toc" and len(block.lines) > 1:
            out.extend(Block("toc", line, lines=[line]) for line in block.lines)
        else:
            out.append(block)
    doc.blocks = out


# Words of a role, a post or a body: a short line holding one is a table label ("Designated Safeguarding Lead"),
# not the person's name under it. General to school contact tables, not taken from one document.
_ROLE_WORDS = frozenset("""
lead leader leads officer officers manager managers governor governors head headteacher teacher teachers
coordinator co-ordinator designated deputy chair clerk senco team support date dates review reviewed contact contacts
person responsible trustee trustees director directors board school academy trust committee member members staff
policy named link protection safeguarding safety assistant principal business administrator office council authority
service services number telephone phone email address name role roles technical network officer provider
""".split())
_NAME_TOKEN = re.compile(r"^(?:[A-Z][a-z'’]+(?:-[A-Z][a-z'’]+)?|[A-Z]\.?|[A-Z]{2,6}|Mc[A-Z][a-z]+|O'[A-Z][a-z]+)$")
_VALUE_SIGN = re.compile(
    r"@|\b0\d{2,4}[ -]?\d{3}[ -]?\d{3,4}\b|\+44|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b|"
    r"\b\d{1,2}(st|nd|rd|th)?\s+(January|February|March|April|May|June|July|August|September|October|November|"
    r"December)\b|\b(January|February|March|April|May|June|July|August|September|October|November|December)"
    r"\s+\d{4}\b")


def _value_like(text: str) -> bool:
    """A table value: a phone number, email or date, or a person's name ('Louise Thompson', 'DSL – Emma Shaw')."""
    if _VALUE_SIGN.search(text):
        return True
    tokens = [t for t in re.split(r"[\s/,&()–—-]+", text) if t]
    return 2 <= len(tokens) <= 8 and all(_NAME_TOKEN.match(t) for t in tokens) and not any(
        t.lower() in _ROLE_WORDS for t in tokens) and any(not t.isupper() for t in tokens)


def _cell_like(block: Block) -> bool:
    text = block.text.strip()
    if block.kind != "para" or len(text) > 160 or "\n" in text or len(block.lines or [text]) > 1:
        return False  # checked first: most paragraphs of a long policy are sentences, and this runs on every one
    words = len(text.split())
    return (0 < words <= 12 and not text.endswith((".", ":", ";", ",", "?", "!"))) or (
        words <= 16 and _VALUE_SIGN.search(text) is not None)


def _pair_flattened_table(blocks: list[Block]) -> list[Block]:
    """A table flattened into one short line per cell (a web page's table copied as text, or a Word table turned
    into paragraphs) -> 'label | value' rows: each label line is followed by its value lines (names, phone
    numbers, emails, dates). Only a run of four or more short lines with at least two such pairs is rebuilt."""
    out: list[Block] = []
    i = 0
    while i < len(blocks):
        j = i
        while j < len(blocks) and (_cell_like(blocks[j]) or (
                # plain text can read a label line as a heading when a long value follows it
                j > i and blocks[j].kind == "heading" and not re.search(r"\d", blocks[j].text) and j + 1 < len(blocks)
                and blocks[j + 1].kind == "para" and _value_like(blocks[j + 1].text))):
            j += 1
        if sum(1 for b in blocks[i:j] if b.kind == "heading") * 4 > j - i:
            # headings every other line: a contact list set out with headings (person, then number), kept as it is
            j = i
            while j < len(blocks) and _cell_like(blocks[j]):
                j += 1
        if j - i >= 4:
            out.extend(_pair_run(blocks[i:j]))
            i = j
        else:
            out.append(blocks[i])
            i += 1
    return out


def _pair_run(run: list[Block]) -> list[Block]:
    groups: list[list] = []  # [label block or None, [value blocks], any "(…)" blocks continuing the label]
    for block in run:
        text = block.text.strip()
        if _value_like(text) and not _is_key_value(text) and groups and groups[-1][0] is not None:
            groups[-1][1].append(block)
        elif re.fullmatch(r"\([^()]{1,40}\)", text) and groups and groups[-1][0] is not None and not groups[-1][1]:
            groups[-1].append(block)  # "(if different)" under its label: part of the label
        elif re.search(r"\d|:", text):
            groups.append([None, [], block])  # a line with numbers or its own 'key: value' labels nothing
        else:
            groups.append([block, []])
    if sum(1 for g in groups if g[1]) < 2:
        return run
    out: list[Block] = []
    for group in groups:
        label, values, extra = group[0], group[1], group[2:]
        if label is None or not values:
            out.extend(b for b in [label, *values, *extra] if b is not None)
            continue
        name = " ".join([label.text.strip()] + [b.text.strip() for b in extra])
        value = "; ".join(b.text.strip() for b in values)
        out.append(Block("row", f"{name} | {value}", lines=[name, value]))
    return out


def _table_headers(blocks: list[Block]) -> dict[int, list[str]]:
    """id(row) -> its table's column headings, for tables of three or more columns whose first row is a header
    (short cells, no numbers); the header row maps to []."""
    out: dict[int, list[str]] = {}
    i = 0
    while i < len(blocks):
        if blocks[i].kind != "row":
            i += 1
            continue
        j = i
        while j < len(blocks) and blocks[j].kind == "row":
            j += 1
        table = blocks[i:j]
        first = table[0].lines or table[0].text.split(" | ")
        if len(table) >= 2 and len(first) >= 3 and all(
                len(c.split()) <= 4 and not re.search(r"\d", c) and not c.endswith(".") for c in first):
            out[id(table[0])] = []
            for row in table[1:]:
                cells = row.lines or row.text.split(" | ")
                if len(cells) == len(first):
                    out[id(row)] = first
        i = j
    return out


def _lost_heading_numbers(blocks: list[Block]) -> dict[int, str]:
    """id(heading) -> its real number, where Word's automatic heading numbers were lost in extraction and every
    section heading reads '1.': a numbered heading repeating the last one's number takes the top number of the
    clauses right under it ('1. Safeguarding' over '2.1 Staff have…' -> section 2)."""
    out: dict[int, str] = {}
    written: str | None = None
    for i, block in enumerate(blocks):
        if block.kind != "heading":
            continue
        match = _HEADING_NUM.match(block.text.strip())
        if not match or APPENDIX.match(block.text.strip()):
            continue
        number = match.group(1)
        if number == written:
            following = next((b for b in blocks[i + 1:i + 4] if b.kind != "heading"), None)
            clause = _CLAUSE_NUM.match(following.text) if following is not None else None
            top = clause.group(1).split(".")[0] if clause else None
            if top is not None and int(top) > int(number):
                out[id(block)] = top
        written = number
    return out


def cut(doc: Document) -> Cut:
    """Cut a document tree into units with heading paths, merging fragments and splitting long paragraphs."""
    prepare(doc)
    split_toc(doc)
    cutter = _Cutter(doc)
    cutter.row_header = _table_headers(doc.blocks)
    cutter.renumber = _lost_heading_numbers(doc.blocks)
    for block in doc.blocks if any(b.kind == "toc" for b in doc.blocks) else []:
        number = _LEADING_NUMBER.match(block.text) if block.kind != "toc" else None
        if number and (block.kind == "heading" or "." in number.group(1)):
            cutter.headings_later.add(f"#{number.group(1)}")  # a numbered heading or clause: "#3", "#2.1"
        if block.kind == "heading":
            cutter.headings_later.add(title_key(block.text))
        elif block.kind in ("para", "item", "row"):
            words = title_key(block.text[:200]).split()[:12]  # "2.1 What is social media? Social media…" is part 2.1
            cutter.headings_later.update(" ".join(words[:n]) for n in range(1, len(words) + 1))
    for i, block in enumerate(doc.blocks):
        cutter.block(block, doc.blocks[i + 1] if i + 1 < len(doc.blocks) else None)
    units = _merge_fragments(cutter.units)
    units = _with_contact_headings(units)
    units = _split_long(units)
    return Cut(title=cutter.title, details=cutter.details, units=units)


def _merge_fragments(units: list[Unit]) -> list[Unit]:
    """Units under MIN_WORDS words ('Dear', 'Signed:') join the next unit under the same heading (else the last)."""
    out: list[Unit] = []
    carry: Unit | None = None
    for unit in units:
        if carry is not None:
            if carry.heading_key == unit.heading_key:
                unit.lines = carry.lines + unit.lines
                if not unit.numbered:
                    unit.clause, unit.title = carry.clause, carry.title  # keep the first id: "A2.2" = "Dear / It…"
                unit.first_under_heading = unit.first_under_heading or carry.first_under_heading
            elif out and out[-1].heading_key == carry.heading_key:
                out[-1].lines += carry.lines
            else:
                out.append(carry)
            carry = None
        salutation = re.match(r"^(Dear|To)\b[^.]{0,40}$", unit.text) is not None
        if (len(unit.text.split()) < MIN_WORDS or salutation) and not unit.numbered:
            carry = unit
            continue
        out.append(unit)
    if carry is not None:
        if out and out[-1].heading_key == carry.heading_key:
            out[-1].lines += carry.lines
        else:
            out.append(carry)
    return out


def _with_contact_headings(units: list[Unit]) -> list[Unit]:
    """A short paragraph that is the first under a minor heading (a contact list: heading = person, paragraph =
    number) keeps the heading in its text, so a search for the person finds the number."""
    for unit in units:
        if (unit.first_under_heading and not unit.numbered and unit.heading_raw and not unit.heading_major and len(unit.text.split()) < 15
                and not unit.heading_raw.rstrip().endswith((":", ":-")) and unit.lines[0] != unit.heading_raw
                and re.search(r"@|\b0\d{3,4}[ -]?\d{3}", unit.text)):
            unit.lines.insert(0, nice_title(unit.heading_raw) if is_caps_heading(unit.heading_raw)
                              else unit.heading_raw)
    return units


def _split_long(units: list[Unit]) -> list[Unit]:
    """Units over MAX_CHARS are cut at sentence ends into parts of about SPLIT_TARGET characters: '8.2', '8.2-2'."""
    out: list[Unit] = []
    for unit in units:
        if len(unit.text) <= MAX_CHARS:
            out.append(unit)
            continue
        segments = []  # (sentence, which line of the unit it came from)
        for index, line in enumerate(unit.lines):
            segments += [(piece, index) for piece in (sentences(line) if len(line) > SPLIT_TARGET else [line])]
        parts: list[list[str]] = []
        current: list[str] = []
        current_line, size = None, 0
        for piece, index in segments:
            if current and size + len(piece) > SPLIT_TARGET:
                parts.append(current)
                current, current_line, size = [], None, 0
            if current and index == current_line:
                current[-1] += " " + piece
            else:
                current.append(piece)
            current_line, size = index, size + len(piece) + 1
        if current:
            parts.append(current)
        for n, lines in enumerate(parts):
            out.append(Unit(unit.clause if n == 0 else f"{unit.clause}-{n + 1}", unit.section, lines,
                            unit.title if n == 0 else f"{unit.title} (continued)", unit.kind, anchor=unit.anchor,
                            heading_key=unit.heading_key, numbered=unit.numbered))
    return out
