"""The document tree every reader produces: headings with levels, paragraphs, list items, table rows, front matter.

Readers (knowledge/readers.py) turn a file into a `Document`; `knowledge/units.py` cuts it into citable units.
The tree is kept flat — a list of blocks in reading order, each carrying its heading level or list depth —
because every consumer (units, the policy reader, the sign-off page) walks it in order.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field


@dataclass
class Block:
    """One block of a policy document, its text normalised for display but worded verbatim."""

    kind: str  # heading | para | item | row | form | toc (a contents-list entry: shown, not a rule)
    text: str
    level: int = 0  # heading level 1..6; list item depth 0..; 0 otherwise
    label: str = ""  # a list item's own marker as printed: "3.", "a)", "•"; a heading's number
    lines: list[str] = field(default_factory=list)  # the paragraph's lines where line breaks carry meaning

    def to_dict(self) -> dict:
        """Return the block as a plain dict."""
        return asdict(self)


@dataclass
class Document:
    """A policy file read into blocks, with its front-matter facts and any warnings from reading it."""

    blocks: list[Block] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)  # front matter: key -> value, as written
    title: str = ""
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        """All the document's words, one block per line (what coverage is measured against)."""
        parts = [f"{k}: {v}" for k, v in self.meta.items()]
        parts += [b.text for b in self.blocks]
        return "\n".join(p for p in parts if p)


_SOFT_HYPHEN = "\u00ad"
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_DEHYPHEN = re.compile(r"(?<=[a-z])-\n(?=[a-z])")


def normalise(text: str, *, join_lines: bool = True, dehyphenate: bool = False) -> str:
    """NFKC (ligatures such as 'ﬁ' become 'fi'), no soft hyphens or zero-width marks, hard line breaks joined
    into spaces, runs of blanks collapsed; with `dehyphenate` (PDF text) a word split 'con-/fidential' over a
    line break is re-joined. Wording is unchanged."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace(_SOFT_HYPHEN, "")
    text = _ZERO_WIDTH.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    if dehyphenate:
        text = _DEHYPHEN.sub("", text)
    if join_lines:
        text = re.sub(r"\s*\n\s*", " ", text)
    text = re.sub(r"[ \u00a0\u2002\u2003\u2009]+", " ", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


# "1.1All staff …": a clause number whose space was lost when the text was extracted (auto-numbering turned into
# text). Only a multi-part number straight before a capitalised word, so "2.4GHz" or "1.5 m" are left alone.
_RUN_IN = re.compile(r"^(\(?\d{1,2}(?:\.\d{1,2}){1,3}\.?\)?)(?=[A-Z][a-z])")


def split_run_in_number(text: str) -> str:
    """'1.1All staff must…' -> '1.1 All staff must…' (a clause number run into its first word); else unchanged."""
    return _RUN_IN.sub(r"\1 ", text, count=1)


# A contents list: its heading, and an entry's dotted leader and page number ("3. Scope ........ 4").
CONTENTS_HEADING = re.compile(r"^(table of )?contents( page)?\s*:?$|^index of (sections|contents)$", re.IGNORECASE)
_LEADER = re.compile(r"\s*(?:\.{3,}|…+|(?:\.\s){3,}\.?|_{4,}|-{4,}|\t+)\s*(\d{1,3}|[ivxlc]{1,6})\s*$", re.IGNORECASE)
_PAGE_END = re.compile(r"\s+(\d{1,3})\s*$")


def contents_entry(text: str, *, after_heading: bool = False) -> str | None:
    """The title a contents-list line names ('3. Scope ....... 4' -> '3. Scope'), or None if it is not one.

    With a dotted leader and a page number any short line is an entry; right under a 'Contents' heading a short
    line with no sentence end is one too (web pages and Word lists drop the leaders and page numbers)."""
    line = text.strip()
    if not line or "\n" in line or len(line) > 160:
        return None
    leader = _LEADER.search(line)
    if leader:
        title = line[:leader.start()].strip()
        return title if 0 < len(title.split()) <= 16 else None
    if not after_heading:
        return None
    page = _PAGE_END.search(line)
    title = line[:page.start()] if page and not re.fullmatch(r"[\d.\s]+", line[:page.start()]) else line
    words = title.split()
    if not 0 < len(words) <= 12 or title.rstrip().endswith((".", ",", ";", ":")) and not title.endswith("..."):
        return None
    return title.strip()


def title_key(text: str) -> str:
    """A heading or contents entry compared without its numbering, case or punctuation: 'Section 2: Scope' ->
    'scope', '2.1 What is social media?' -> 'what is social media'."""
    words = re.sub(r"[^a-z0-9]+", " ", text.lower()).split()
    while words and (words[0] in ("section", "part", "chapter") or re.fullmatch(r"\d+|[ivx]{1,4}|[a-z]", words[0])):
        words.pop(0)
    return " ".join(words)
