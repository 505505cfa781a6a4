"""Render bot payloads in Streamlit. User-typed text is always escaped: the chat never renders user HTML."""
from __future__ import annotations

import html
import re

import streamlit as st


def escape_md(text: str) -> str:
    """Escape text so Streamlit's Markdown shows it literally (no HTML, links or formatting)."""
    text = html.escape(text or "", quote=False)
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|>~])", r"\\\1", text)


def citation(cite: dict, *, expanded: bool = False, key: str = "") -> None:
    """One cited clause: number and section, with the verbatim text in an expander."""
    label = f"{cite['clause']} — {cite['section']}"
    with st.expander(label, expanded=expanded):
        st.markdown(escape_md(cite["text"]).replace("\n", "  \n"))
        st.caption(escape_md(cite.get("policy_title") or cite.get("policy", "")))


def bot_message(msg: dict, *, key: str, on_button=None) -> None:
    """Render one bot message by its payload kind."""
    kind = msg.get("kind", "text")
    if kind == "policy_answer":
        st.markdown(escape_md(msg.get("message", "")))
        for i, cite in enumerate(msg.get("citations", [])):
            citation(cite, expanded=(i == 0), key=f"{key}-c{i}")
    elif kind in ("out_of_scope", "invalid_question"):
        st.warning(msg.get("message", ""))
        for contact in msg.get("contacts", []):
            st.caption(escape_md(contact["text"]))
    elif kind == "quiz_question":
        st.markdown(f"**Question {msg['progress']}**")
        st.markdown(escape_md(msg["question"]))
        for opt in msg.get("options", []):
            if on_button is not None:
                st.button(f"{opt['letter']}) {opt['text']}", key=f"{key}-{opt['letter']}",
                          on_click=on_button, args=(opt["payload"], f"{opt['letter']}) {opt['text']}"),
                          use_container_width=True)
            else:
                st.markdown(f"{opt['letter']}) {escape_md(opt['text'])}")
    elif kind == "quiz_feedback":
        (st.success if msg.get("correct") else st.error)(msg.get("headline", ""))
        st.markdown(escape_md(msg.get("feedback", "")))
        for i, cite in enumerate(msg.get("citations", [])):
            citation(cite, key=f"{key}-c{i}")
    elif kind == "quiz_result":
        pct = round(msg.get("score", 0) * 100)
        (st.success if msg.get("passed") else st.info)(msg.get("text", "").split("\n")[0])
        st.metric("Score", f"{msg.get('correct', 0)}/{msg.get('total', 0)}", f"{pct}%")
        for i, cite in enumerate(msg.get("reread_citations", [])):
            citation(cite, key=f"{key}-r{i}")
        if msg.get("offer_retake"):
            st.caption("Say 'yes' to retake the quiz.")
    elif kind == "progress":
        st.markdown(escape_md(msg.get("text", "")).replace("\n", "  \n"))
    elif kind == "error":
        st.error(msg.get("text", ""))
    else:
        st.markdown(escape_md(msg.get("text", "")).replace("\n", "  \n"))
