"""Coordinator: the quiz editor — list, edit, add, approve and retire scenarios; draft a quiz; YAML import/export."""
from __future__ import annotations

import copy

import pandas as pd
import streamlit as st

from bot.training import banks
from bot.training.bank import QuizBankError, parse_bank
from bot.training.store import StoreUnavailable
from knowledge.settings import get_settings
from ui import session
from ui.policy_docs import try_index
from ui.quiz_admin import ROLE_LABELS, STATUS_LABELS, clause_texts, draft_into_editor, flagged
from ui.render import clause_label, escape_md

NEW = "__new__"
LETTERS = "ABCD"


def _uk(value) -> str:
    return value.strftime("%d %b %Y, %H:%M") if value else ""


def _policy_label(index, policy: str) -> str:
    meta = (index.policies.get(policy) if index is not None else None) or {}
    return str(meta.get("title") or policy)


def _notice() -> None:
    kind, text = st.session_state.pop("quiz_editor_notice", (None, None))
    if kind == "ok":
        st.success(escape_md(text), icon=":material/task_alt:")
    elif kind == "error":
        st.error(escape_md(text), icon=":material/error:")


def _say(kind: str, text: str) -> None:
    st.session_state["quiz_editor_notice"] = (kind, text)


def _import_export(store, user, index, policy: str, has_bank: bool) -> None:
    with st.expander("Import or export YAML"):
        if has_bank:
            st.download_button("Download this quiz (YAML)", banks.export_yaml(store, policy).encode("utf-8"),
                               f"{policy}.yml", "application/x-yaml", key="quiz-export",
                               icon=":material/download:")
        upload = st.file_uploader("Quiz file to import (replaces the quiz with a new version)", type=["yml", "yaml"],
                                  key="quiz-import-file")
        if st.button("Import", key="quiz-import", icon=":material/upload:"):
            if upload is None:
                st.error("Choose a YAML file first.")
                return
            try:
                _, version = banks.import_yaml(store, upload.getvalue(), clause_texts(index, policy), by=user["email"],
                                               quizzes_dir=get_settings().quizzes_dir, policy=policy)
            except QuizBankError as exc:
                st.error(escape_md(f"Not imported: {exc}"), icon=":material/error:")
                return
            _say("ok", f"Imported as version {version}.")
            st.rerun()


def _scenario_table(data: dict, flags: dict[str, str], texts: dict[str, str], index=None, policy: str = "") -> None:
    def label(cid: str) -> str:
        return clause_label(index.find(policy, cid) if index else None, cid)

    rows = []
    for item in data.get("scenarios", []):
        # "text:" references in hand-written banks are shown as the clause ids they point at.
        shown = _resolved_clauses(item, texts) if texts else [str(c) for c in item.get("clauses", [])]
        status = "flagged" if item.get("id") in flags else str(item.get("status") or "approved")
        rows.append({"Question": str(item.get("prompt", ""))[:110], "Status": STATUS_LABELS.get(status, status),
                     "For": ", ".join(ROLE_LABELS.get(r, r) for r in item.get("roles") or ["all"]),
                     "Clauses": ", ".join(label(c) for c in shown)})
    frame = pd.DataFrame(rows)
    counts = frame["Status"].value_counts().to_dict() if rows else {}
    st.caption(" · ".join(f"{v} {k.lower()}" for k, v in counts.items()))
    shown = st.multiselect("Show", list(STATUS_LABELS.values()), default=list(STATUS_LABELS.values()),
                           key="quiz-status-filter")
    st.dataframe(frame[frame["Status"].isin(shown)] if rows else frame, hide_index=True,
                 column_config={"Question": st.column_config.TextColumn("Question", pinned=True, width="large")})


def _blank(data: dict, policy: str) -> dict:
    return {"id": banks.next_scenario_id(data, policy), "status": "draft", "roles": ["all"], "prompt": "",
            "clauses": [], "options": [{"id": c, "text": "", "correct": c == "a", "feedback": ""} for c in "abcd"]}


def _resolved_clauses(item: dict, texts: dict[str, str]) -> list[str]:
    try:
        bank = parse_bank(banks.dump({"policy": "p", "scenarios": [item]}), texts or None, flag_missing=True)
        return [c for c in bank.scenarios[0].clauses if c in texts]
    except QuizBankError:
        return [c for c in item.get("clauses", []) if c in texts]


def _editor(store, user, index, policy: str, version: int, data: dict) -> None:
    st.subheader("Edit a scenario")
    items = {s["id"]: s for s in data.get("scenarios", [])}
    if "quiz-next-pick" in st.session_state:  # a just-saved scenario stays open for further editing
        st.session_state["quiz-pick"] = st.session_state.pop("quiz-next-pick")
    choice = st.selectbox("Scenario", [NEW] + list(items), key="quiz-pick",
                          format_func=lambda sid: "➕ Add a new scenario" if sid == NEW else
                          f"{str(items[sid].get('prompt', ''))[:90]} ({STATUS_LABELS.get(items[sid].get('status', 'approved'))})")
    # The version and the scenario as this editor opened them: saving is checked against them.
    opened_key = f"quiz-opened-{policy}-{choice}"
    if opened_key not in st.session_state:
        st.session_state[opened_key] = (version, copy.deepcopy(items.get(choice)))
    base_version, original = st.session_state[opened_key]
    item = copy.deepcopy(original) if original is not None else _blank(data, policy)
    if choice != NEW and version != base_version:
        st.info(f"This quiz has been saved since you opened this scenario (you opened version {base_version}, it is "
                f"now {version}). Saving still works unless someone changed this same scenario.")
    texts = clause_texts(index, policy)
    key = f"{policy}-{item['id']}-{base_version}"
    if choice != NEW:
        cols = st.columns(3)
        for col, (status, label, icon) in zip(cols, (("approved", "Approve", ":material/check_circle:"),
                                                     ("retired", "Retire", ":material/archive:"),
                                                     ("draft", "Back to draft", ":material/edit_note:"))):
            if col.button(label, key=f"status-{status}-{key}", icon=icon,
                          disabled=item.get("status", "approved") == status):
                _save(store, user, policy, {**item, "status": status}, base_version, original, texts, choice)
    with st.form(f"scenario-form-{key}"):
        prompt = st.text_area("Scenario (the question staff see)", item.get("prompt", ""), key=f"prompt-{key}")
        roles = st.multiselect("Who it is for", list(ROLE_LABELS), default=[r for r in item.get("roles") or ["all"]
                                                                              if r in ROLE_LABELS],
                               format_func=ROLE_LABELS.get, key=f"roles-{key}")
        clause_ids = list(texts)
        clauses = st.multiselect(
            "Clauses it tests (the first is the main one)", clause_ids,
            default=_resolved_clauses(item, texts), key=f"clauses-{key}",
            format_func=lambda cid: f"{clause_label(index.find(policy, cid) if index else None, cid)} — {texts[cid][:80]}")
        options = list(item.get("options") or [])[:4]
        while len(options) < 4:
            options.append({"id": "abcd"[len(options)], "text": "", "correct": False, "feedback": ""})
        correct_at = next((n for n, o in enumerate(options) if o.get("correct")), 0)
        new_options = []
        for n, option in enumerate(options):
            st.markdown(f"**Option {LETTERS[n]}**")
            text = st.text_input(f"Option {LETTERS[n]} text", option.get("text", ""), key=f"opt-{n}-{key}")
            feedback = st.text_area(f"Option {LETTERS[n]} feedback (quote the clause)", option.get("feedback", ""),
                                    key=f"fb-{n}-{key}", height=80)
            new_options.append({"id": option.get("id") or "abcd"[n], "text": text, "feedback": feedback})
        right = st.radio("Correct option", list(LETTERS[:len(new_options)]), index=correct_at, horizontal=True,
                         key=f"right-{key}")
        status = st.radio("Status", ["draft", "approved", "retired"], horizontal=True,
                          index=["draft", "approved", "retired"].index(item.get("status", "approved")
                                                                       if item.get("status") != "flagged" else "draft"),
                          format_func=STATUS_LABELS.get, key=f"status-{key}")
        if st.form_submit_button("Save scenario", type="primary", icon=":material/save:"):
            kept = [o for o in new_options if o["text"].strip() or o["feedback"].strip()]
            for o in kept:
                o["correct"] = o["id"] == new_options[LETTERS.index(right)]["id"]
            scenario = {**{k: v for k, v in item.items() if k not in ("options",)}, "status": status,
                        "roles": roles or ["all"], "prompt": prompt.strip(), "clauses": clauses, "options": kept}
            _save(store, user, policy, scenario, base_version, original, texts, choice)
    if st.session_state.get("quiz-conflict") == (policy, choice):
        if st.button("Reload this scenario with the other change", key=f"reload-{key}", icon=":material/refresh:"):
            st.session_state.pop(f"quiz-opened-{policy}-{choice}", None)
            st.session_state.pop("quiz-conflict", None)
            st.rerun()


def _save(store, user, policy, scenario, base_version, original, texts, choice) -> None:
    """Save through the version-checked bank store; on failure show the reason where the editor is."""
    try:
        version = banks.save_scenario(store, policy, scenario, base_version=base_version, original=original,
                                      clause_texts=texts, by=user["email"], quizzes_dir=get_settings().quizzes_dir)
    except banks.EditConflict as exc:
        st.error(escape_md(f"Not saved: {exc}."), icon=":material/sync_problem:")
        st.session_state["quiz-conflict"] = (policy, choice)
        return
    except QuizBankError as exc:
        st.error(escape_md(f"Not saved: {exc}"), icon=":material/error:")
        return
    st.session_state.pop(f"quiz-opened-{policy}-{choice}", None)
    # The saved scenario stays open: its label (prompt, status) changed, and a selectbox whose options' labels
    # change starts again at its first option ("Add a new scenario") in the browser.
    st.session_state["quiz-next-pick"] = scenario["id"]
    _say("ok", f"Saved scenario “{scenario['prompt'][:60]}” as {STATUS_LABELS[scenario['status']].lower()} "
               f"(quiz version {version}).")
    st.rerun()


def render() -> None:
    """Draw the quiz editor."""
    store = session.require_store()
    user = session.require_coordinator(store)
    st.title("Quiz editor")
    st.caption("Every change is saved as a new version of the quiz. Staff are only ever asked approved scenarios; "
               "drafted ones wait here for you.")
    _notice()
    index, problem = try_index()
    if problem:
        st.warning(escape_md(problem))
    try:
        banks.seed_from_files(store, get_settings().quizzes_dir)
        known = sorted(set(banks.policies(store)) | set(index.policies if index else {}))
    except StoreUnavailable as exc:
        st.error(str(exc))
        return
    if not known:
        st.info("No policies yet. Upload one under Policies & roster.")
        return
    policy = st.selectbox("Policy", known, format_func=lambda p: _policy_label(index, p), key="quiz-policy")
    found = banks.current(store, policy)
    if index is not None and policy in index.policies:
        if st.button("Draft scenarios from this policy's rules", key="quiz-draft", icon=":material/auto_awesome:"):
            ok, message = draft_into_editor(store, index, policy, by=user["email"])
            _say("ok" if ok else "error", message)
            st.rerun()
    _import_export(store, user, index, policy, found is not None)
    if found is None:
        st.info("This policy has no quiz yet: draft one from its rules, or import a YAML file.")
        return
    version, data = found
    latest = banks.history(store, policy)[0]
    st.caption(escape_md(f"Version {version}, saved {_uk(latest['at'])}" + (f" by {latest['by']}" if latest["by"]
                                                                            else "") + f" — {latest['note']}"))
    flags = dict(flagged(store, index, policy))
    for sid, why in flags.items():
        st.warning(escape_md(f"Not served until fixed: “{next(s['prompt'] for s in data['scenarios'] if s['id'] == sid)[:80]}” "
                             f"— {why}."), icon=":material/report:")
    _scenario_table(data, flags, clause_texts(index, policy), index, policy)
    _editor(store, user, index, policy, version, data)
