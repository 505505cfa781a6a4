"""Staff: My policies — the policies assigned to me, what to sign and pass by when, and signing them."""
from __future__ import annotations

import streamlit as st

from bot.training import assignments
from bot.training.roles import ROLE_LABELS
from bot.training.store import StoreUnavailable
from ui import session
from ui.policy_docs import try_index
from ui.render import escape_md, multiline


def _status(item: dict) -> str:
    if item["done"]:
        return "Done"
    return ("Overdue — still to do: " if item["overdue"] else "To do: ") + item["missing"]


def _refresher_text(title: str, refresher: dict) -> str:
    clauses = ", ".join(refresher["clauses"])
    what = f"A new version changed clause{'s' if len(refresher['clauses']) > 1 else ''} {clauses}. "
    if refresher["ready"]:
        n = refresher["ready"]
        return what + (f"Refresher: {n} question{'s' if n > 1 else ''} on just those — in **Ask & practise**, say "
                       f"*refresher quiz on {escape_md(title)}*.")
    if refresher["waiting"]:
        return what + "A refresher quiz on just those is being prepared by your coordinator."
    return what + "Read them again before you sign."


def _sign_form(store, index, user: dict, item: dict) -> None:
    text = assignments.signed_text(index, item["policy"], None if item["document"].startswith("Whole policy")
                                   else item["document"])
    if text is None:
        st.caption("This policy isn't available to read yet.")
        return
    with st.expander(f"Read {escape_md(text.document)}", expanded=not item["signed"]):
        for clause in text.clauses:
            st.markdown(multiline(clause.text))
    if item["signed"]:
        return
    if item["resign"]:
        st.warning("The text you signed has changed in a new version. Please read it again and sign it.")
    role = ROLE_LABELS.get(user.get("role"), user.get("role") or "")
    with st.form(f"sign-{item['policy']}"):
        st.markdown(f"Signing as **{escape_md(user['name'])}** ({escape_md(role)}), today.")
        agreed = st.checkbox("I have read this and agree to follow it.", key=f"agree-{item['policy']}")
        typed = st.text_input("Type your full name to sign", key=f"name-{item['policy']}")
        if st.form_submit_button("Sign", type="primary"):
            try:
                assignments.sign(store, index, user, item["policy"], typed, agreed=agreed)
            except ValueError as exc:
                st.error(escape_md(str(exc)))
                return
            st.session_state["todo_notice"] = f"Signed: {item['title']}."
            st.rerun()


def render() -> None:
    """Draw the signed-in person's assigned policies."""
    user = session.require_user()
    store = session.require_store()
    st.title("My policies")
    notice = st.session_state.pop("todo_notice", None)
    if notice:
        st.success(escape_md(notice), icon=":material/verified:")
    index, problem = try_index()
    if index is None:
        st.error(escape_md(problem or "No policy index."))
        return
    try:
        items = assignments.todo_for(store, index, user["sender_id"])
    except StoreUnavailable as exc:
        st.error(str(exc))
        return
    if not items:
        st.info("Nothing has been assigned to you yet.")
        return
    left = [i for i in items if not i["done"]]
    st.caption(f"{len(items) - len(left)} of {len(items)} done.")
    for item in items:
        with st.container(border=True):
            st.subheader(escape_md(item["title"]))
            due = item["due"].strftime("%d %B %Y") if item["due"] else "no date set"
            (st.success if item["done"] else st.error if item["overdue"] else st.info)(
                escape_md(f"{_status(item)} · due {due}"))
            if item["quiz"]:
                st.markdown("Quiz: " + ("passed." if item["passed"] else
                                        f"not passed yet — in **Ask & practise**, say *quiz me on "
                                        f"{escape_md(item['title'])}*."))
            refresher = item.get("refresher")
            if refresher:
                st.markdown(_refresher_text(item["title"], refresher))
            if item["sign"]:
                _sign_form(store, index, user, item)
