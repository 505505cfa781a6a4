"""Render bot payloads in Streamlit. Every text is escaped first: the chat never renders user (or bot) HTML."""
from __future__ import annotations

import html
import re
from typing import Callable

import streamlit as st
from streamlit.errors import StreamlitAPIException

Send = Callable[[str, str], None]  # (message to send, text to show as the user's turn)


# GFM autolink literals (www.x.org, http://x, a@b.org) are found in the text after escapes are resolved, so a
# backslash can't stop them; an invisible WORD JOINER (U+2060) inside the trigger does.
WORD_JOINER = "\u2060"
_AUTOLINK = re.compile(r"(?i)\b(www)(?=\.)|\b([a-z][a-z0-9+.-]*)(?=:/)|\b(mailto|xmpp)(?=:)|(?<=[\w.+-])(@)(?=[\w-]+\.)")


def escape_md(text: str) -> str:
    """Escape text so Streamlit's Markdown shows it literally (no HTML, links, autolinks or formatting)."""
    text = _AUTOLINK.sub(lambda m: m.group(0) + WORD_JOINER if m.group(4) is None else WORD_JOINER + m.group(0),
                         str(text or ""))
    text = html.escape(text, quote=False)
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|>~:$])", r"\\\1", text)


def multiline(text: str) -> str:
    """Escaped text with its line breaks kept."""
    return escape_md(text).replace("\n", "  \n")


def reader_link(cite: dict, *, key: str = "") -> None:
    """A link that opens the cited clause in the policy reader (skipped where the reader isn't a page)."""
    from ui.pages import reader_page  # noqa: PLC0415

    try:
        st.page_link(reader_page(), label=f"Open {cite['clause']} in the policy reader",
                     icon=":material/open_in_new:",
                     query_params={"clause": cite["clause"], "policy": cite.get("policy", "")})
    except StreamlitAPIException:
        pass


def citation(cite: dict, *, expanded: bool = False, key: str = "", link_below: bool = False) -> None:
    """One cited clause: number and section, the verbatim text in an expander, and a link to the reader
    (inside the expander, or below it when link_below)."""
    label = f"{cite['clause']} — {cite['section']}"
    with st.expander(escape_md(label), expanded=expanded, icon=":material/format_quote:"):
        st.markdown(multiline(cite["text"]))
        source = cite.get("policy_title") or cite.get("policy", "")
        if source:
            st.caption(escape_md(source))
        if not link_below:
            reader_link(cite, key=key)
    if link_below:
        reader_link(cite, key=key)


def _policy_answer(msg: dict, key: str) -> None:
    """The lead-in line, the highlighted sentence(s) in bold, then each full clause (collapsed) and its link."""
    if msg.get("context"):
        st.caption(f"Following on from: {escape_md(msg['context'])}")
    st.markdown(multiline(msg.get("message", "")))
    found = [h for h in msg.get("highlights") or [] if h.get("text")]
    if found:
        st.markdown("  \n".join(f"**{escape_md(h['text'])}**" for h in found))
    for i, cite in enumerate(msg.get("citations", [])):
        # with a highlight the clause is context, so it starts collapsed; without one the first clause is the answer
        citation(cite, expanded=(i == 0 and not found), key=f"{key}-c{i}", link_below=True)


def _quiz_question(msg: dict, key: str, send: Send | None) -> None:
    st.markdown(f"**Question {escape_md(msg.get('progress', ''))}**")
    st.markdown(multiline(msg.get("question", "")))
    for opt in msg.get("options", []):
        label = f"{opt['letter']}) {opt['text']}"
        if send is not None:
            st.button(escape_md(label), key=f"{key}-{opt['letter']}", on_click=send, args=(opt["payload"], label),
                      width="stretch")
        else:
            st.markdown(escape_md(label))
    if send is not None:
        left, right, _ = st.columns([1, 1, 4])
        left.button("Skip", key=f"{key}-skip", on_click=send, args=("/skip_question", "Skip"),
                    icon=":material/skip_next:")
        right.button("Stop quiz", key=f"{key}-stop", on_click=send, args=("/stop_quiz", "Stop quiz"),
                     icon=":material/stop:")


def _quiz_feedback(msg: dict, key: str) -> None:
    headline = msg.get("headline", "")
    if msg.get("correct"):
        st.success(escape_md(headline), icon=":material/check_circle:")
    else:
        st.error(escape_md(headline), icon=":material/cancel:")
    if msg.get("chosen") and not msg.get("correct"):
        st.caption(f"You chose {escape_md(msg['chosen']['letter'] + ') ' + msg['chosen']['text'])}")
    st.markdown(multiline(msg.get("feedback", "")))
    if msg.get("clauses_unavailable"):
        st.info("Your answer was saved. The policy clauses for this question can't be shown right now.",
                icon=":material/save:")
    for i, cite in enumerate(msg.get("citations", [])):
        citation(cite, key=f"{key}-c{i}")


def _quiz_result(msg: dict, key: str, send: Send | None) -> None:
    pct = round(msg.get("score", 0) * 100)
    head = (msg.get("text") or "").split("\n")[0]
    if msg.get("passed"):
        st.success(escape_md(head), icon=":material/workspace_premium:")
    else:
        st.warning(escape_md(head), icon=":material/info:")
    cols = st.columns(3)
    cols[0].metric("Score", f"{pct}%")
    cols[1].metric("Correct", f"{msg.get('correct', 0)} / {msg.get('total', 0)}")
    cols[2].metric("Pass mark", f"{round(msg.get('pass_mark', 0) * 100)}%")
    reread = msg.get("reread_citations", [])
    if reread:
        st.markdown("**Clauses worth re-reading**")
        for i, cite in enumerate(reread):
            citation(cite, key=f"{key}-r{i}")
    if msg.get("offer_retake") and send is not None:
        st.button("Retake the quiz", key=f"{key}-retake", on_click=send, args=("/start_quiz", "Retake the quiz"),
                  icon=":material/replay:")


def _progress(msg: dict) -> None:
    st.markdown(multiline(msg.get("text", "")))
    try:
        from ui.pages import training_page  # noqa: PLC0415

        st.page_link(training_page(), label="See My training", icon=":material/school:")
    except StreamlitAPIException:
        pass


def bot_message(msg: dict, *, key: str, on_button: Send | None = None) -> None:
    """Render one bot message by its payload kind; buttons call on_button(text to send, text to show)."""
    kind = msg.get("kind", "text")
    if kind == "policy_answer":
        _policy_answer(msg, key)
    elif kind in ("out_of_scope", "invalid_question"):
        st.warning(multiline(msg.get("message", "")), icon=":material/help:")
        for contact in msg.get("contacts", []):
            st.caption(multiline(contact.get("text", "")))
    elif kind == "quiz_question":
        _quiz_question(msg, key, on_button)
    elif kind == "quiz_feedback":
        _quiz_feedback(msg, key)
    elif kind == "quiz_explain":  # "why?" mid-quiz: the question just answered, explained with its clauses
        st.info(multiline(msg.get("headline") or msg.get("text", "")), icon=":material/lightbulb:")
        if msg.get("headline"):
            st.markdown(multiline(msg.get("feedback", "")))
        for i, cite in enumerate(msg.get("citations", [])):
            citation(cite, key=f"{key}-c{i}")
    elif kind == "quiz_result":
        _quiz_result(msg, key, on_button)
    elif kind == "quiz_start":
        st.info(multiline(msg.get("text", "")), icon=":material/quiz:")
    elif kind == "progress":
        _progress(msg)
    elif kind == "error":
        st.error(multiline(msg.get("text", "")), icon=":material/error:")
    elif kind in ("quiz_reprompt", "quiz_stale"):
        st.warning(multiline(msg.get("text", "")))
    else:
        st.markdown(multiline(msg.get("text", "")))
        buttons = msg.get("buttons") or []
        if buttons and on_button is not None:
            for n, button in enumerate(buttons):
                st.button(escape_md(button.get("title", "")), key=f"{key}-b{n}", on_click=on_button,
                          args=(button.get("payload", ""), button.get("title", "")))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value):
    """A CSV cell that a spreadsheet will show as text, never run as a formula (OWASP CSV injection rule)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def safe_csv(frame) -> bytes:
    """A DataFrame as UTF-8 CSV with every text cell (and header) that starts like a formula neutralised."""
    clean = frame.copy()
    clean.columns = [neutralise_cell(str(c)) for c in clean.columns]
    for column in clean.columns:
        clean[column] = clean[column].astype(object).map(neutralise_cell)
    return clean.to_csv(index=False).encode("utf-8")


def code_sheet_html(issued: list[dict]) -> str:
    """A printable page of first sign-in codes: one cut-out slip per person (all text HTML-escaped)."""
    slips = "\n".join(
        f"<div class='slip'><p><b>{html.escape(str(p['name']))}</b><br>{html.escape(str(p['email']))}</p>"
        f"<p>Your one-time code for your first sign-in to Policy Coach:</p><p class='code'>"
        f"{html.escape(str(p['code']))}</p><p>Sign in under <i>First sign-in</i> with your name, school email "
        f"and this code, then choose your own password. The code works once.</p></div>" for p in issued)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>First sign-in codes</title><style>"
            "body{font-family:sans-serif}.slip{border:1px dashed #555;padding:12px;margin:10px 0;"
            "page-break-inside:avoid}.code{font:bold 22px monospace;letter-spacing:2px}</style></head><body>"
            f"<h1>Policy Coach — first sign-in codes</h1>{slips}</body></html>")


def uk_when(value, *, time: bool = True) -> str:
    """An ISO timestamp (or date) short and UK-style for tables: '1 Dec 2026, 09:05' / '1 Dec 2026'; '—' if none."""
    from datetime import date, datetime  # noqa: PLC0415

    if value is None or value != value or value == "":  # None, NaN or empty
        return "—"
    if isinstance(value, (datetime, date)):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    if isinstance(moment, datetime) and time:
        return f"{moment.day} {moment:%b %Y, %H:%M}"
    return f"{moment.day} {moment:%b %Y}"


_NUMBERED = re.compile(r"^[A-Z]{0,2}\d+(\.\d+)*[a-z]?$")


def clause_label(clause, clause_id: str | None = None) -> str:
    """How a clause is named on screen: its number and section ('6.3 · Personal use'), or — for front matter and
    unnumbered items, whose ids are internal ('doc.approved') — its title or section."""
    if clause is None:
        cid = str(clause_id or "")
        return cid if _NUMBERED.match(cid) else cid.split(".", 1)[-1].replace("-", " ").capitalize()
    if _NUMBERED.match(clause.clause):
        section = clause.section.split("›")[-1].strip()
        return f"{clause.clause} · {section}" if section else clause.clause
    return (clause.title or clause.section or clause.clause.split(".", 1)[-1].replace("-", " ").capitalize()).strip()


def short(text: str, limit: int = 70) -> str:
    """Text cut at a word boundary with an ellipsis when longer than limit."""
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"
