"""A policy shown as its document tree (headings, lead-ins, letter titles, signature lines in place), with each
citable unit's anchor on the block where it starts. The reader and the sign-off page both draw from this."""
from __future__ import annotations


import streamlit as st

from knowledge.document import Block
from knowledge.parser import Clause, squash
from knowledge.units import APPENDIX, is_form_line, nice_title
from ui.policy_docs import clause_key
from ui.render import escape_md



def blocks_of(meta: dict) -> list[Block]:
    """The document tree stored with a policy in the index (empty for an index built before trees were kept)."""
    out = []
    for raw in meta.get("blocks") or []:
        try:
            out.append(Block(**raw))
        except TypeError:
            return []
    return out


def anchors(blocks: list[Block], clauses: list[Clause]) -> dict[int, str]:
    """Block index -> id of the unit that starts at that block (units and blocks are both in document order)."""
    content = [c for c in sorted(clauses, key=lambda c: c.order) if c.kind != "detail"]
    texts = [squash(c.text) for c in content]
    out: dict[int, str] = {}
    used: set[str] = set()
    pointer = 0
    for i, block in enumerate(blocks):
        if block.kind == "heading" or not block.text.strip():
            continue
        needle = squash(block.text)[:200]
        for j in range(pointer, min(pointer + 8, len(content))):
            if needle and needle in texts[j]:
                if content[j].clause not in used:
                    out[i] = content[j].clause
                    used.add(content[j].clause)
                pointer = j
                break
    return out


def subtree(blocks: list[Block], start: int) -> list[Block]:
    """The heading at `start` and every block under it, up to the next heading of the same or a higher level."""
    level = blocks[start].level
    out = [blocks[start]]
    for block in blocks[start + 1:]:
        if block.kind == "heading" and block.level <= level:
            break
        out.append(block)
    return out


def appendices(blocks: list[Block]) -> list[tuple[int, str]]:
    """(block index, heading text) of each appendix, annex or schedule heading."""
    return [(i, b.text) for i, b in enumerate(blocks) if b.kind == "heading" and APPENDIX.match(b.text)]


def render(blocks: list[Block], clauses: list[Clause] | None = None, *, anchored: bool = True) -> None:
    """Draw blocks as the policy shows them; with clauses, each unit's first block carries its reader anchor."""
    where = anchors(blocks, clauses) if clauses and anchored else {}
    top = min((b.level for b in blocks if b.kind == "heading"), default=1)
    for i, block in enumerate(blocks):
        if block.kind == "heading":
            depth = min(6, 3 + block.level - top)
            st.markdown(f"{'#' * depth} {escape_md(nice_title(block.text) or block.text)}")
            continue
        text = escape_md(block.text).replace("\n", "  \n")
        if block.kind == "item":
            indent = "&nbsp;" * 6 * block.level
            marker = escape_md(block.label) if block.label and block.label != "•" else "•"
            line = f"{indent}{marker} {text}"
        elif block.kind == "row":
            line = text
        elif is_form_line(block.text):
            line = f"_{text}_"
        else:
            line = text
        clause_id = where.get(i)
        if clause_id:
            with st.container(key=clause_key(clause_id)):
                st.markdown(line)
        else:
            st.markdown(line)
