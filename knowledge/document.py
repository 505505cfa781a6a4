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

    kind: str  # heading | para | item | row | form
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
