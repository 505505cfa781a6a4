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
            if re.search(r"review", key, re.I) and value:
                return value
        return None


_OWNER_KEY = re.compile(r"responsib|owner|lead|author", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_PHONE = re.compile(r"\b0\d{3,4}[ -]?\d{3}[ -]?\d{3,4}\b")

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_CLAUSE = re.compile(r"^(?:[-*•]\s+)?(\d{1,2}(?:\.\d{1,2}){1,3})\.?(?:\s+(\S.*))?$")
_SECTION_NUM = re.compile(r"^(?:[-*•]\s+)?(?:section\s+)?(\d{1,2})\.?(?:\s+(\S.*))?$", re.I)
_APPENDIX = re.compile(r"^(appendix|annex|annexe|schedule)\s+([A-Z0-9]{1,3})\b[\s.:\-–—]*(.*)$", re.I)
_BULLET = re.compile(r"^(?:[-*•●▪◦]|\d{1,2}[.)])\s+(.*)$")
_SUBITEM = re.compile(r"^(?:[-*•]\s+)?\(?([a-z]|[ivx]{1,4})\)\s+\S|^(?:[-*•]\s+)?[a-z]\.\s+\S")
_FILL_IN = re.compile(r"(\.{3,}|_{3,}|…{2,})")


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
    return line


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
        words = text.lower().split()
        text = " ".join(w if (i and w in small) else w[:1].upper() + w[1:] for i, w in enumerate(words))
    return text


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "part"


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

    # -- units ------------------------------------------------------------
    def close(self) -> None:
        unit, self.current = self.current, None
        if not unit:
            return
        lines = [ln for ln in unit["lines"] if ln.strip()]
        if not lines:
            return
        if not unit["numbered"]:
            if len(" ".join(lines).split()) <= 2:
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
        if self.section_num != major and not self.appendix:
            self.section_num = major
            if not self.section:
                self.section = f"Section {major}"
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
        unit["title"] = f"{where}, {'paragraph' if unit['paragraph'] else 'item'} {n}"
        if unit["subheading"] and unit["first_under_heading"] and len(" ".join(lines).split()) < 15:
            # e.g. a contact list: the heading names the person, the paragraph holds the number
            lines.insert(0, unit["subheading_raw"])

    def open_item(self, text: str, *, paragraph: bool) -> None:
        self.close()
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
        self.unnumbered_prefix = _slug(self.section)

    # -- lines ------------------------------------------------------------
    def front_matter(self, line: str) -> bool:
        """Record a 'Key: value' line of the front matter; return True if it was one."""
        match = re.match(r"^([A-Za-z][\w '/()&-]{1,60}?)\s*:\s*(.*)$", line)
        if not match:
            return False
        key, value = match.group(1).strip(), match.group(2).strip()
        self.details[key] = value
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

    def feed(self, raw_lines: list[str]) -> None:
        blank_run = 0
        for raw in raw_lines:
            line = clean_line(raw)
            if not line:
                blank_run += 1
                if self.current and not self.current["numbered"] and self.current.get("paragraph"):
                    self.close()
                continue
            blank_run = 0
            md = _MD_HEADING.match(line)
            if md:
                self.pending_heading_num = None
                self.heading(md.group(2), level=len(md.group(1)))
                continue
            if self.pending_heading_num is not None:
                num, self.pending_heading_num = self.pending_heading_num, None
                self.heading(f"{num} {line}")
                continue
            if self.pending_clause_id is not None:
                clause_id, self.pending_clause_id = self.pending_clause_id, None
                self.open_numbered(clause_id, f"{clause_id} {line}")
                continue
            if _is_fill_in(line):
                continue
            clause = _CLAUSE.match(line)
            if clause and (self.appendix is None or clause.group(2)):
                if clause.group(2):
                    self.open_numbered(clause.group(1), f"{clause.group(1)} {clause.group(2)}")
                else:
                    self.pending_clause_id = clause.group(1)
                continue
            appendix = _APPENDIX.match(line)
            if appendix and _looks_like_title(line):
                self.heading(line)
                continue
            section = _SECTION_NUM.match(line)
            if section and not self.appendix:
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
                    self.heading(line)
                    continue
                if self.front_matter(line):
                    continue
                if not self.title:
                    self.title = line
                continue
            if _is_caps_heading(line) and not _SUBITEM.match(line) and not _BULLET.match(line):
                self.heading(line)
                continue
            bullet = _BULLET.match(line)
            if self.current and self.current["numbered"]:
                self.current["lines"].append(line)
                continue
            if bullet:
                self.open_item(line, paragraph=False)
                continue
            if self.current and self.current.get("paragraph"):
                self.current["lines"].append(line)
                continue
            if self.current and _SUBITEM.match(line):
                self.current["lines"].append(line)
                continue
            self.open_item(line, paragraph=True)
        self.close()


def parse_lines(lines: list[str], policy_id: str, *, path: str = "", checksum: str = "") -> Policy:
    """Parse policy lines into a Policy of clauses; raise PolicyReadError if no clauses are found."""
    builder = _Builder(policy_id)
    builder.feed(lines)
    clauses = builder.clauses
    content = [c for c in clauses if c.kind != "detail"]
    if len(content) < 2:
        raise PolicyReadError(f"{policy_id}: no recognisable clauses or sections found")
    for i, clause in enumerate(clauses):
        clause.order = i
    return Policy(
        policy=policy_id,
        title=builder.title or policy_id.replace("-", " ").title(),
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
