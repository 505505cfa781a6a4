"""Split a policy's lines into citable clauses: numbered clauses, appendix items and document details."""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from knowledge.readers import PolicyReadError, read_lines


@dataclass
class Clause:
    """One citable unit of a policy, with its verbatim text."""

    policy: str  # policy id: the file's stem
    clause: str  # stable id within the policy: "6.3", "A1.4", "doc.approved", "purpose.2"
    section: str  # section title as shown to users: "6 Personal Use of Social Media"
    text: str  # verbatim text (markup removed)
    title: str = ""  # human label: "Appendix 1 — Acceptable Use Agreement, item 4"
    kind: str = "clause"  # clause | item | detail
    order: int = 0

    def to_dict(self) -> dict:
        """Return the clause as a plain dict."""
        return asdict(self)


@dataclass
class Policy:
    """A parsed policy document."""

    policy: str
    title: str
    path: str
    checksum: str
    clauses: list[Clause] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)  # front matter: key -> value

    def contacts(self) -> list[Clause]:
        """Clauses that name a person to contact: the policy owner and any contact list entries."""
        found = [c for c in self.clauses if c.kind == "detail" and _OWNER_KEY.search(c.clause)]
        found += [c for c in self.clauses if _EMAIL.search(c.text) or _PHONE.search(c.text)]
        return found

    def owner(self) -> str | None:
        """The person or role the front matter names as responsible for the policy, if any."""
        for key, value in self.details.items():
            if _OWNER_KEY.search(key) and value:
                return value
        return None

    def review_date(self) -> str | None:
        """The review date the front matter gives, as written, if any."""
        for key, value in self.details.items():
            if re.search(r"review", key, re.IGNORECASE) and value:
                return value
        return None


_OWNER_KEY = re.compile(r"responsib|owner|lead|author", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_PHONE = re.compile(r"\b0\d{3,4}[ -]?\d{3}[ -]?\d{3,4}\b")

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_CLAUSE = re.compile(r"^(?:[-*•]\s+)?(\d{1,2}(?:\.\d{1,2}){1,3})\.?(?:\s+(\S.*))?$")
_SECTION_NUM = re.compile(
    r"^(?:[-*•]\s+)?(?:section\s+)?(\d{1,2})[.:]?(?:\s+(?:[-–—:]\s+)?(\S.*))?$", re.IGNORECASE
)
_APPENDIX = re.compile(r"^(appendix|annex|annexe|schedule)\s+([A-Z0-9]{1,3})\b[\s.:\-–—]*(.*)$", re.IGNORECASE)
_BULLET = re.compile(r"^(?:[-*•●▪◦]|\d{1,2}[.)])\s+(.*)$")
_SUBITEM = re.compile(r"^(?:[-*•]\s+)?\(?([a-z]|[ivx]{1,4})\)\s+\S|^(?:[-*•]\s+)?[a-z]\.\s+\S")
_FILL_IN = re.compile(r"(\.{3,}|_{3,}|…{2,})")
_KEY_VALUE = re.compile(r"^([A-Za-z][\w '/()&,-]{1,60}?)\s*:\s+(\S.*)$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")
# Words that name a kind of document: the line holding one is the policy's title rather than the school's name.
_DOC_WORD = re.compile(
    r"\b(polic(y|ies)|guidance|guidelines|procedures?|code of conduct|agreement|handbook|protocol|statement|"
    r"charter|framework|plan|rules)\b",
    re.IGNORECASE,
)
_SENTENCE_END = (".", ":", ";", "!", "?", ")", '"', "'", "”", "’")


def clean_line(raw: str) -> str:
    """Strip Markdown/HTML markup from a line but keep its words and any leading heading/bullet marker."""
    line = raw.replace("\t", " ").replace("\xa0", " ")
    line = re.sub(r"</?[a-zA-Z][^>]*>", "", line)  # inline HTML such as <b>
    line = re.sub(r"\[([^\]]+)\]\((?:mailto:)?[^)]*\)", r"\1", line)  # links -> their text
    line = re.sub(r"(?:\\_|_){3,}", " _____ ", line)  # blanks to fill in on a form
    line = re.sub(r"\\([_*\[\]()#.-])", r"\1", line)  # markdown escapes
    line = re.sub(r"(\*\*|(?<!_)__(?!_))(.+?)\1", r"\2", line)
    line = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", line)
    line = line.replace("**", "")
    line = re.sub(r"\s+", " ", line).strip()
    if line.startswith("|") and line.endswith("|") and len(line) > 2:
        line = _table_row(line)
    return line


def _table_row(line: str) -> str:
    """A Markdown table row: 'label: value' for a two-cell row, cells joined by ' | ' otherwise."""
    if _TABLE_RULE.match(line):
        return ""
    cells = [c.strip() for c in line.strip("|").split("|")]
    cells = list(dict.fromkeys(c for c in cells if c))
    if len(cells) == 2 and len(cells[0].split()) <= 6 and not cells[0].endswith((".", ":")):
        return f"{cells[0]}: {cells[1]}"
    return " | ".join(cells)


def _is_caps_heading(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) < 3 or len(text) > 90:
        return False
    upper = sum(1 for ch in letters if ch.isupper())
    return upper / len(letters) > 0.85 and not text.rstrip().endswith((".", ","))


def _looks_like_title(text: str) -> bool:
    """A short line with no sentence ending: a heading such as '1 Introduction' or 'PURPOSE'."""
    if _is_caps_heading(text):
        return True
    words = text.split()
    return 0 < len(words) <= 7 and not text.rstrip().endswith((".", ",", ";", ":")) and text[:1].isupper()


def _nice_title(text: str) -> str:
    text = text.strip(" :-–—.")
    if _is_caps_heading(text):
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


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "part"


def _short_slug(text: str, limit: int = 32) -> str:
    """A slug cut at a word boundary: 'Reminders for Visitors, Volunteers…' -> 'reminders-for-visitors'."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = ""
    for word in words:
        candidate = f"{out}-{word}" if out else word
        if len(candidate) > limit and out:
            break
        out = candidate
    return out[:limit] or "part"


def _is_key_value(text: str) -> bool:
    """A 'Label: value' line such as 'Headteacher: Mrs Carver, 01632 960 214' (short label, some value)."""
    match = _KEY_VALUE.match(text)
    return bool(match) and len(match.group(1).split()) <= 6 and not _FILL_IN.search(match.group(2))


def _body_like(text: str) -> bool:
    """A line of policy content (a sentence, bullet or clause) rather than a heading or a front-matter fact."""
    if _MD_HEADING.match(text):
        return False
    if _BULLET.match(text) or _SUBITEM.match(text) or _CLAUSE.match(text):
        return True
    if _is_key_value(text) and len(text.split()) <= 12:
        return False
    return len(text.split()) >= 8 or text.rstrip().endswith((".", ";", ":", "!", "?"))


def _is_fill_in(text: str) -> bool:
    """A form line such as 'Signature ..... Date .....' carries no policy content."""
    if not _FILL_IN.search(text):
        return False
    rest = _FILL_IN.sub(" ", text)
    return len(re.findall(r"[A-Za-z]{2,}", rest)) <= 6


class _Builder:
    def __init__(self, policy_id: str):
        self.policy_id = policy_id
        self.clauses: list[Clause] = []
        self.details: dict[str, str] = {}
        self.title = ""
        self.title_from_heading = False
        self.section = ""  # display title of the current section
        self.section_num: str | None = None
        self.appendix: str | None = None  # label of the current appendix, e.g. "1"
        self.unnumbered_prefix: str | None = None
        self.subheading = ""
        self.subheading_raw = ""
        self.items_under_heading = 0
        self.carry: list[str] = []
        self.started = False  # past the front matter
        self.current: dict | None = None  # open unit: {"id", "lines", "kind", "numbered"}
        self.counters: dict[str, int] = {}
        self.pending_heading_num: str | None = None
        self.pending_clause_id: str | None = None
        self.title_lines: list[str] = []  # lines before the first heading or clause that could be the title
        self.last_major = 0  # highest top-level number seen outside appendices

    # -- units ------------------------------------------------------------
    def close(self) -> None:
        unit, self.current = self.current, None
        if not unit:
            return
        lines = [ln for ln in unit["lines"] if ln.strip()]
        if not lines:
            return
        if not unit["numbered"]:
            if len(" ".join(lines).split()) <= 2 or (len(lines) == 1 and re.match(r"^Dear\b.{0,60}$", lines[0])):
                # a salutation such as "Dear" or a stray label belongs with what follows it
                self.carry = lines
                return
            self._name_item(unit, lines)
        text = "\n".join(lines)
        if unit["numbered"] and unit.get("lead"):
            text = f"{unit['id']} {text}" if not lines[0].startswith(unit["id"]) else text
        self.clauses.append(
            Clause(
                policy=self.policy_id,
                clause=unit["id"],
                section=unit["section"],
                text=text.strip(),
                title=unit["title"],
                kind=unit["kind"],
                order=len(self.clauses),
            )
        )

    def open_numbered(self, clause_id: str, first: str | None) -> None:
        self.close()
        self.started = True
        major = clause_id.split(".")[0]
        if self.appendix is not None:
            # "1.2" inside Appendix B is that appendix's clause, not clause 1.2 of the policy
            clause_id = f"A{self.appendix}.{clause_id}"
        else:
            self.last_major = max(self.last_major, int(major))
            if self.section_num != major:
                # a clause of another number than the current numbered section is not under its heading
                if not self.section or self.section_num is not None or self.section.startswith("Section "):
                    self.section = f"Section {major}"
                    self.subheading, self.subheading_raw, self.items_under_heading = "", "", 0
                self.section_num = major
        section = self.section
        title = f"{clause_id} — {section}" if section else clause_id
        self.current = {
            "id": self._unique(clause_id),
            "lines": [first] if first else [],
            "kind": "clause",
            "numbered": True,
            "section": section,
            "title": title,
        }

    def _name_item(self, unit: dict, lines: list[str]) -> None:
        if self.appendix is not None:
            prefix = f"A{self.appendix}"
        elif self.section_num is not None:
            prefix = f"{self.section_num}.p"
        else:
            prefix = self.unnumbered_prefix or "general"
        n = self.counters.get(prefix, 0) + 1
        self.counters[prefix] = n
        sep = "" if prefix.endswith(".p") else "."
        unit["id"] = f"{prefix}{sep}{n}"
        where = unit["section"] + (f" — {unit['subheading']}" if unit["subheading"] else "")
        word = "paragraph" if unit["paragraph"] and not unit.get("entry") else "item"
        unit["title"] = f"{where}, {word} {n}"
        if unit["subheading"] and unit["first_under_heading"] and len(" ".join(lines).split()) < 15:
            # e.g. a contact list: the heading names the person, the paragraph holds the number
            lines.insert(0, unit["subheading_raw"])

    def open_item(self, text: str, *, paragraph: bool, entry: bool = False) -> None:
        self.close()
        self.started = True
        carry, self.carry = self.carry, []
        self.current = {
            "id": "",
            "lines": [*carry, text],
            "kind": "item",
            "numbered": False,
            "section": self.section,
            "subheading": self.subheading,
            "subheading_raw": self.subheading_raw,
            "first_under_heading": not self.items_under_heading,
            "title": "",
            "paragraph": paragraph,
            "entry": entry,
        }
        self.items_under_heading += 1

    def _unique(self, clause_id: str) -> str:
        existing = {c.clause for c in self.clauses}
        if clause_id not in existing:
            return clause_id
        n = 2
        while f"{clause_id}~{n}" in existing:
            n += 1
        return f"{clause_id}~{n}"

    # -- headings ---------------------------------------------------------
    def heading(self, text: str, level: int | None = None) -> None:
        text = text.strip()
        if not text:
            return
        appendix = _APPENDIX.match(text)
        if appendix:
            self.close()
            self.started = True
            self.appendix = appendix.group(2).upper()
            rest = _nice_title(appendix.group(3)) if appendix.group(3) else ""
            self.section = f"Appendix {self.appendix}" + (f" — {rest}" if rest else "")
            self.subheading, self.subheading_raw, self.items_under_heading = "", "", 0
            self.section_num = None
            return
        numbered = _SECTION_NUM.match(text)
        if numbered and numbered.group(2) and not self.appendix:
            self.close()
            self.started = True
            self.section_num = numbered.group(1)
            self.last_major = max(self.last_major, int(self.section_num))
            self.section = f"{self.section_num} {_nice_title(numbered.group(2))}"
            self.subheading, self.subheading_raw, self.items_under_heading = "", "", 0
            self.unnumbered_prefix = None
            return
        if not self.started and level == 1 and not self.title_from_heading:
            self.title = text
            self.title_from_heading = True
            return
        if not self.started:
            # A heading in the front matter: the policy title if we have none yet, else ignored.
            self.title_lines.append(text)
            if not self.title:
                self.title = text
            return
        self.close()
        if self.appendix is not None:
            # Headings inside an appendix name its parts; the first descriptive one names the appendix.
            nice = _nice_title(text)
            if self.section == f"Appendix {self.appendix}" and not _is_caps_heading(text):
                self.section = f"Appendix {self.appendix} — {nice}"
                self.subheading, self.subheading_raw, self.items_under_heading = "", "", 0
            else:
                self.subheading = nice
                self.subheading_raw = text
                self.items_under_heading = 0
            return
        if self.section_num is not None and level is not None and level >= 3:
            self.subheading, self.subheading_raw, self.items_under_heading = _nice_title(text), text, 0
            return
        # An unnumbered top-level heading such as "PURPOSE" or "Definitions".
        self.section_num = None
        self.section = _nice_title(text)
        self.subheading, self.subheading_raw, self.items_under_heading = "", "", 0
        self.unnumbered_prefix = _short_slug(self.section)

    def start_section(self, text: str, level: int | None = None) -> None:
        """A heading that ends the front matter (e.g. 'PURPOSE' straight after the title)."""
        self.started = True
        self.heading(text, level)

    # -- lines ------------------------------------------------------------
    def front_matter(self, line: str) -> bool:
        """Record a 'Key: value' line of the front matter; return True if it was one."""
        match = re.match(r"^([A-Za-z][\w '/()&-]{1,60}?)\s*:\s*(.*)$", line)
        if not match:
            return False
        key, value = match.group(1).strip(), match.group(2).strip()
        self.details.setdefault(key, value)
        clause_id = "doc." + _slug(key)
        self.clauses.append(
            Clause(
                policy=self.policy_id,
                clause=self._unique(clause_id),
                section="Document details",
                text=line,
                title=f"Document details — {key}",
                kind="detail",
                order=len(self.clauses),
            )
        )
        return True

    def _mid_sentence(self) -> bool:
        """The open unit's last line stops mid-sentence, so a wrapped line may carry on from it."""
        if not self.current or not self.current["lines"]:
            return False
        return not self.current["lines"][-1].rstrip().endswith(_SENTENCE_END)

    def _sentence_ended(self, following: str) -> bool:
        """With no blank lines (text from a PDF): the open unit ended a sentence and the next line starts one."""
        if not self.current or not self.current["lines"]:
            return False
        last = self.current["lines"][-1].rstrip()
        return last.endswith((".", "!", "?")) and following[:1].isupper()

    def _continues(self, major: str, rest: str | None) -> bool:
        """A line starting with a number that is really the open clause's wrapped text ('…within' / '24 hours')."""
        if not self._mid_sentence():
            return False
        if rest and rest[:1].islower():
            return True
        return self.appendix is None and self.last_major > 0 and int(major) > self.last_major + 3

    def add_title_line(self, line: str) -> None:
        self.title_lines.append(line)
        if not self.title:
            self.title = line

    def feed(self, raw_lines: list[str]) -> None:
        lines = [clean_line(raw) for raw in raw_lines]
        upcoming = [""] * (len(lines) + 1)  # the next non-blank line after each position
        for i in range(len(lines) - 1, -1, -1):
            upcoming[i] = lines[i + 1] if i + 1 < len(lines) and lines[i + 1] else upcoming[i + 1]
        blank_run = 0
        for i, line in enumerate(lines):
            following = upcoming[i]
            if not line:
                blank_run += 1
                if self.current and not self.current["numbered"] and self.current.get("paragraph"):
                    self.close()
                continue
            after_blank, blank_run = blank_run > 0, 0
            md = _MD_HEADING.match(line)
            if md:
                self.pending_heading_num = None
                self.pending_clause_id = None
                level, text = len(md.group(1)), md.group(2)
                if (
                    not self.started
                    and self.title
                    and (level > 1 or self.title_from_heading)
                    and _looks_like_title(text)
                    and _body_like(following)
                ):
                    self.start_section(text, level)  # "## Definitions" straight after the title block
                else:
                    self.heading(text, level=level)
                continue
            if self.pending_heading_num is not None:
                num, self.pending_heading_num = self.pending_heading_num, None
                if _CLAUSE.match(line) or _SECTION_NUM.match(line):
                    pass  # the lone number was a stray page number: read this line normally
                elif self.current and line[:1].islower():
                    self.current["lines"].append(f"{num} {line}")  # wrapped text: '…within' / '24' / 'hours'
                    continue
                elif _looks_like_title(line) and not _body_like(line):
                    self.heading(f"{num} {line}")
                    continue
                else:
                    # "3" on its own line, then the clause text
                    self.open_numbered(num, f"{num} {line}")
                    continue
            if self.pending_clause_id is not None:
                clause_id, self.pending_clause_id = self.pending_clause_id, None
                self.open_numbered(clause_id, f"{clause_id} {line}")
                continue
            if _is_fill_in(line):
                continue
            clause = _CLAUSE.match(line)
            if clause and (self.appendix is None or clause.group(2)):
                if self._continues(clause.group(1).split(".")[0], clause.group(2)):
                    self.current["lines"].append(line)
                    continue
                if clause.group(2):
                    self.open_numbered(clause.group(1), f"{clause.group(1)} {clause.group(2)}")
                else:
                    self.pending_clause_id = clause.group(1)
                continue
            appendix = _APPENDIX.match(line)
            if appendix and _looks_like_title(line) and not (self._mid_sentence() and not after_blank):
                self.heading(line)
                continue
            section = _SECTION_NUM.match(line)
            if section and not self.appendix and not self._continues(section.group(1), section.group(2)):
                if section.group(2) is None:
                    self.pending_heading_num = section.group(1)
                    continue
                if _looks_like_title(section.group(2)):
                    self.heading(line)
                    continue
                # "4 Staff must ..." : a top-level numbered clause without sub-numbers
                self.open_numbered(section.group(1), line)
                continue
            if not self.started:
                if _is_caps_heading(line) and self.title and len(self.clauses) > 0:
                    self.start_section(line)
                    continue
                if self.title and _looks_like_title(line) and not _is_key_value(line) and _body_like(following):
                    # "PURPOSE" (or "Purpose") after the title, with the policy's text under it
                    self.start_section(line)
                    continue
                if self.front_matter(line):
                    continue
                self.add_title_line(line)
                continue
            if _is_caps_heading(line) and not _SUBITEM.match(line) and not _BULLET.match(line):
                self.heading(line)
                continue
            if (
                (after_blank or self._sentence_ended(following))
                and self.appendix is None
                and len(line.split()) <= 6
                and _looks_like_title(line)
                and not _BULLET.match(line)
                and not _is_key_value(line)
                and not (self.current and self.current["lines"] and self.current["lines"][-1].endswith(":"))
                and _body_like(following)
            ):
                # an unnumbered heading in sentence case, e.g. "Definitions", with text under it
                self.heading(line)
                continue
            bullet = _BULLET.match(line)
            if self.current and self.current["numbered"]:
                self.current["lines"].append(line)
                continue
            if bullet:
                self.open_item(line, paragraph=False)
                continue
            if _is_key_value(line) and self.current and self.current.get("paragraph"):
                first, last = self.current["lines"][0], self.current["lines"][-1]
                if _is_key_value(first) or last.endswith(":"):
                    # one entry of a list such as 'Headteacher: Mrs Carver, 01632 960 214'
                    self.current["entry"] = self.current["entry"] or _is_key_value(first)
                    self.open_item(line, paragraph=True, entry=True)
                    continue
            if self.current and self.current.get("paragraph"):
                self.current["lines"].append(line)
                continue
            if self.current and _SUBITEM.match(line):
                self.current["lines"].append(line)
                continue
            self.open_item(line, paragraph=True, entry=_is_key_value(line))
        self.close()

    def best_title(self) -> str:
        """The policy title: a level-1 heading, else the first front line naming a kind of document."""
        if self.title_from_heading:
            return self.title
        for line in self.title_lines:
            if _DOC_WORD.search(line) and len(line.split()) <= 20:
                return _nice_title(line) if _is_caps_heading(line) else line
        return self.title


def parse_lines(lines: list[str], policy_id: str, *, path: str = "", checksum: str = "") -> Policy:
    """Parse policy lines into a Policy of clauses; raise PolicyReadError if no clauses are found."""
    builder = _Builder(policy_id)
    builder.feed(lines)
    clauses = builder.clauses
    content = [c for c in clauses if c.kind != "detail"]
    if len(content) < 2:
        name = Path(path).name if path else policy_id
        raise PolicyReadError(
            f"{name}: no recognisable clauses or sections found "
            "(expected numbered clauses such as '1.1' or headings such as '1 INTRODUCTION')"
        )
    for i, clause in enumerate(clauses):
        clause.order = i
    return Policy(
        policy=policy_id,
        title=builder.best_title() or policy_id.replace("-", " ").title(),
        path=path,
        checksum=checksum,
        clauses=clauses,
        details=builder.details,
    )


def policy_id_for(path: Path) -> str:
    """The id a policy file is known by: its file name without extension, slugged."""
    return _slug(Path(path).stem) or "policy"


def parse_file(path: Path) -> Policy:
    """Read and parse one policy file."""
    path = Path(path)
    lines = read_lines(path)
    checksum = hashlib.sha256(path.read_bytes()).hexdigest()
    return parse_lines(lines, policy_id_for(path), path=str(path), checksum=checksum)
