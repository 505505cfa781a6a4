"""The policy reader: the whole policy by section with clause anchors, a search box, and ?clause= highlighting."""
from __future__ import annotations

import json
import re

import streamlit as st

from ui import policy_tree, session
from ui.policy_docs import clause_key, search, sections, try_index
from ui.render import escape_md, multiline


def _param(name: str) -> str:
    value = st.query_params.get(name, "")
    return value if isinstance(value, str) else (value[-1] if value else "")


def _highlight(text: str, words: list[str]) -> str:
    """Escaped text with the search words in bold."""
    out = multiline(text)
    for word in sorted(set(words), key=len, reverse=True):
        pattern = re.escape(escape_md(word))
        out = re.sub(f"({pattern})", r"**\1**", out, flags=re.IGNORECASE)
    return out


def _scroll_to(key: str) -> None:
    """Scroll the page to a clause and mark it (key is CSS-safe: built by clause_key)."""
    st.html(f"<style>.st-key-{key} {{ background: rgba(255, 196, 0, 0.18); border-left: 4px solid #f0a500; "
            f"padding: 0.4rem 0.8rem; border-radius: 0.4rem; }}</style>")
    st.html("<script>(function(){let n=0;const t=setInterval(function(){"
            f"const el=document.querySelector({json.dumps('.st-key-' + key)});"
            "if(el){el.scrollIntoView({behavior:'smooth',block:'center'});clearInterval(t);}"
            "if(++n>40){clearInterval(t);}},150);})();</script>", unsafe_allow_javascript=True)


def render() -> None:
    """Draw the policy reader."""
    session.require_user()
    st.title("Policy reader")
    index, problem = try_index()
    if index is None:
        st.error(escape_md(problem or "No policy index."))
        return
    if not index.policies:
        st.info("No policies have been uploaded yet.")
        return
    policies = list(index.policies)
    wanted = _param("policy")
    choice = st.selectbox("Policy", policies, index=policies.index(wanted) if wanted in policies else 0,
                          format_func=lambda p: index.policies[p].get("title", p), key="reader-policy",
                          disabled=len(policies) == 1)
    meta = index.policies[choice]
    details = " · ".join(f"{escape_md(k)}: {escape_md(v)}" for k, v in (meta.get("details") or {}).items() if v)
    if details:
        st.caption(details)
    clause_id = _param("clause")
    target = index.find(choice, clause_id) if clause_id else None
    if clause_id and target is None:
        st.warning(f"Clause {escape_md(clause_id)} isn't in this policy.")
    query = st.text_input("Search this policy", key="reader-search", placeholder="e.g. friend request")
    if query.strip():
        hits = search(index, choice, query)
        words = [w for w in re.findall(r"\w+", query) if len(w) > 1]
        st.markdown(f"**{len(hits)} clause{'s' if len(hits) != 1 else ''} match**")
        for clause in hits:
            with st.container(border=True):
                st.markdown(f"**{escape_md(clause.clause)}** · {escape_md(clause.section)}")
                st.markdown(_highlight(clause.text, words))
        st.divider()
    if target is not None:
        st.info(f"**Clause {escape_md(target.clause)}** — {escape_md(target.section)}", icon=":material/bookmark:")
        _scroll_to(clause_key(target.clause))
    st.header(escape_md(meta.get("title", choice)), anchor="policy-top")
    tree = policy_tree.blocks_of(meta)
    if tree:
        # the document as written (headings, lead-ins, letter titles, signature lines), each unit anchored
        policy_tree.render(tree, index.policy_clauses(choice))
        return
    for section, clauses in sections(index, choice):
        st.subheader(escape_md(section), anchor=re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-")[:60])
        for clause in clauses:
            with st.container(key=clause_key(clause.clause)):
                if clause.kind == "clause":
                    st.markdown(multiline(clause.text))
                else:
                    st.markdown(f"`{clause.clause.replace(chr(96), '')}` " + multiline(clause.text))
