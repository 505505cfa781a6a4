"""The app's pages, and which of them each kind of user may open (st.navigation only offers those)."""
from __future__ import annotations

import streamlit as st


def signin_page():
    """The sign-in page (the only page before signing in)."""
    from ui.views import signin  # noqa: PLC0415

    return st.Page(signin.render, title="Sign in", url_path="signin", icon=":material/login:", default=True)


def chat_page(default: bool = False, hidden: bool = False):
    """Chat with the policy coach."""
    from ui.views import chat  # noqa: PLC0415

    return st.Page(chat.render, title="Ask & practise", url_path="chat", icon=":material/chat:", default=default,
                   visibility="hidden" if hidden else "visible")


def training_page(hidden: bool = False):
    """The signed-in person's own training record."""
    from ui.views import training  # noqa: PLC0415

    return st.Page(training.render, title="My training", url_path="training", icon=":material/school:",
                   visibility="hidden" if hidden else "visible")


def reader_page(hidden: bool = False):
    """The policy reader (linked from citations with ?clause=)."""
    from ui.views import reader  # noqa: PLC0415

    return st.Page(reader.render, title="Policy reader", url_path="reader", icon=":material/menu_book:",
                   visibility="hidden" if hidden else "visible")


def agreement_page(hidden: bool = False):
    """Read and sign the acceptable use agreement."""
    from ui.views import agreement  # noqa: PLC0415

    return st.Page(agreement.render, title="Sign the agreement", url_path="agreement", icon=":material/draw:",
                   visibility="hidden" if hidden else "visible")


def dashboard_page(default: bool = False, hidden: bool = False):
    """Coordinator: completion, scores and facility."""
    from ui.views import dashboard  # noqa: PLC0415

    return st.Page(dashboard.render, title="Dashboard", url_path="dashboard", icon=":material/monitoring:",
                   default=default,
                   visibility="hidden" if hidden else "visible")


def questions_page(hidden: bool = False):
    """Coordinator: questions the bot could not answer."""
    from ui.views import questions  # noqa: PLC0415

    return st.Page(questions.render, title="Unanswered questions", url_path="questions",
                   icon=":material/help:", visibility="hidden" if hidden else "visible")


def manage_page(hidden: bool = False):
    """Coordinator: upload policies and the roster."""
    from ui.views import manage  # noqa: PLC0415

    return st.Page(manage.render, title="Policies & roster", url_path="manage",
                   icon=":material/upload_file:", visibility="hidden" if hidden else "visible")


def quiz_editor_page(hidden: bool = False):
    """Coordinator: edit, draft, approve and retire quiz scenarios."""
    from ui.views import quiz_editor  # noqa: PLC0415

    return st.Page(quiz_editor.render, title="Quiz editor", url_path="quizzes", icon=":material/quiz:",
                   visibility="hidden" if hidden else "visible")


def assignments_page(hidden: bool = False):
    """Coordinator: assign policies to roles with due dates; completion and overdue."""
    from ui.views import assignments  # noqa: PLC0415

    return st.Page(assignments.render, title="Assignments", url_path="assignments", icon=":material/assignment:",
                   visibility="hidden" if hidden else "visible")


def todo_page(hidden: bool = False):
    """Staff: the policies assigned to me, to read, sign and pass."""
    from ui.views import todo  # noqa: PLC0415

    return st.Page(todo.render, title="My policies", url_path="my-policies", icon=":material/checklist:",
                   visibility="hidden" if hidden else "visible")


def pages_for(user: dict | None) -> dict[str, list] | list:
    """The pages a user may open: sign-in only, staff pages, or coordinator pages."""
    if not user:
        # Every page exists but is hidden: a deep link (?clause=…, /dashboard) opens its page, which shows the
        # sign-in form and then itself, so the destination survives signing in.
        return [signin_page(), *[page(hidden=True) for page in (chat_page, training_page, todo_page, reader_page,
                                                               agreement_page, dashboard_page, questions_page,
                                                               manage_page, quiz_editor_page, assignments_page)]]
    if user.get("is_coordinator"):
        return {"Coordinator": [dashboard_page(default=True), questions_page(), manage_page(),
                                 quiz_editor_page(), assignments_page()],
                "Policy": [reader_page()]}
    # Coordinator URLs stay reachable (hidden) so staff are told the page isn't theirs instead of a 404.
    return [chat_page(default=True), training_page(), todo_page(), reader_page(), agreement_page(),
            *[page(hidden=True) for page in (dashboard_page, questions_page, manage_page, quiz_editor_page,
                                             assignments_page)]]
