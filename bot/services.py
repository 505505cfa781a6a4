"""Process-wide services for the action server: searcher, store and quiz engine, built on first use."""
from __future__ import annotations

import logging
import threading
import time

from bot.training import reports
from bot.training.quiz import QuizEngine
from bot.training.store import Store, StoreUnavailable, get_store
from knowledge import highlight
from knowledge.followup import Tie, ask_follow_up, ask_in_policy, policy_tie, stays_in_context
from knowledge.search import Searcher, normalise_question
from knowledge.service import get_searcher
from knowledge.settings import get_settings

log = logging.getLogger(__name__)
_lock = threading.Lock()
_engine: QuizEngine | None = None
_engine_files: tuple = ()
_links_checked = 0.0


def store() -> Store:
    """The configured database store."""
    return get_store(get_settings().database_url)


def searcher() -> Searcher:
    """The policy searcher, with coordinator question links refreshed at most every 30 s."""
    global _links_checked
    found = get_searcher()
    if time.monotonic() - _links_checked > 30:
        try:
            found.set_links(store().question_links())
            found.set_topic_contacts(reports.topic_contacts(store()))
        except StoreUnavailable:
            log.warning("question links not refreshed: database unavailable")
        _links_checked = time.monotonic()
    return found


def _bank_files(folder) -> tuple:
    """(name, mtime, size) of every bank file, so an edit saved by the quiz editor is picked up."""
    try:
        return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.glob("*.y*ml")))
    except OSError:
        return ()


def quiz() -> QuizEngine:
    """The quiz engine over every bank in data/quizzes (reloaded when a bank file changes), clauses checked."""
    global _engine, _engine_files
    with _lock:
        files = _bank_files(get_settings().quizzes_dir)
        if _engine is None or files != _engine_files:
            _engine_files = files
            settings = get_settings()
            index = get_searcher().index
            texts: dict[str, dict[str, str]] = {}
            for clause in index.clauses:
                texts.setdefault(clause.policy, {})[clause.clause] = clause.text
            _engine = QuizEngine.from_dir(store(), settings.quizzes_dir, texts,
                                          length=settings.quiz_length, pass_mark=settings.pass_mark)
        return _engine


def answer(sender_id: str, question: str, policy: str | None = None, *,
           focus: str | None = None, context: str | None = None,
           cited: list[str] | None = None) -> tuple[dict, Tie | None]:
    """Answer (and log) a question, from one policy when the user chose it; a Tie when two policies fit equally.

    `focus` is the follow-up part of a question asked in context; the highlighted sentence is chosen for it. With
    `context` (the previous question) and `cited` (its "policy#clause" citations) the follow-up is searched by
    knowledge.followup.ask_follow_up and never offered as a choice of policies (the conversation chose one).
    """
    found = searcher()
    if policy:
        result = ask_in_policy(found, question, policy)
    elif context and focus:
        result = ask_follow_up(found, context, focus, cited)
        focus = None  # its highlights are already chosen for the follow-up
    else:
        result = found.ask(question)
        tie = policy_tie(found, question, result)
        if tie is not None:
            return result.to_dict(), tie
    if focus and result.answered:
        result.highlights = highlight.highlights(found, question, result.citations, focus=focus)
        result.message = highlight.answer_message(focus, result.citations, result.highlights)
    data = result.to_dict()
    if not sender_id:  # the database is down, so the sender could not be checked: answer, record nothing
        return data, None
    try:
        store().log_question(sender_id, question, normalise_question(question), data)
    except StoreUnavailable:
        log.warning("question not logged: database unavailable")
    return data, None


def in_conversation(previous: str | None, text: str, cited: list[str] | None) -> bool:
    """Is a message the NLU took for a new question still about the previous answer's policy (knowledge.followup)?"""
    if not previous:
        return False
    try:
        return stays_in_context(searcher(), previous, text, cited)
    except Exception:  # the answer that follows reports the failure to the user
        log.exception("could not tell whether a message continues the conversation")
        return False


def reset() -> None:
    """Forget the cached quiz engine (tests switch databases and settings between cases)."""
    global _engine, _links_checked
    with _lock:
        _engine = None
        _links_checked = 0.0
