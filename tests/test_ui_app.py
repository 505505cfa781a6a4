"""AppTest tests of the Streamlit app: sign-in, every page, chat and quiz buttons, sign-off, dashboard, access."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from bot import messages
from bot.training import accounts
from bot.training import reports
from bot.training.store import Store
from knowledge.encoder import HashingEncoder
from knowledge.followup import has_topic, in_context, is_follow_up
from knowledge import highlight
from knowledge.index import ingest, load
from knowledge.search import Answer, Searcher, normalise_question
from knowledge.parser import parse_file
from ui import rasa_client
from ui.render import escape_md
from ui.demo import DEMO_PASSWORD, quiz_engine, seed_demo
from tests.conftest import fresh_database

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "ui" / "app.py")
POLICY = ROOT / "data" / "policies" / "social-media-policy.md"
QUIZZES = ROOT / "data" / "quizzes"
COORD = ("coord@school.example", "coordinator password 1")


@pytest.fixture(scope="session")
def hashing_index(tmp_path_factory) -> Path:
    """A real index of the real policy, embedded with the fast hashing encoder (the reader needs no model)."""
    directory = tmp_path_factory.mktemp("ui-index") / "index"
    ingest([POLICY], directory, HashingEncoder())
    return directory


@pytest.fixture
def env(tmp_path, monkeypatch, hashing_index, schema_template) -> dict:
    """A fresh database, a writable copy of the index and policies folder, and a coordinator from the env."""
    index = tmp_path / "index"
    shutil.copytree(hashing_index, index)
    policies = tmp_path / "policies"
    policies.mkdir()
    shutil.copy(POLICY, policies / POLICY.name)
    shutil.copytree(QUIZZES, tmp_path / "app-quizzes")  # what the app saves (a drafted refresher) never lands in data/
    values = {
        "POLICY_COACH_QUIZZES": str(tmp_path / "app-quizzes"),
        "DATABASE_URL": fresh_database(schema_template, tmp_path / "ui.db"),
        "POLICY_COACH_INDEX": str(index),
        "POLICY_COACH_POLICIES": str(policies),
        "POLICY_COACH_VAR": str(tmp_path / "var"),
        "POLICY_COACH_MODEL": "hashing",
        "RASA_URL": "http://127.0.0.1:9",
        "COORDINATOR_EMAIL": COORD[0],
        "COORDINATOR_PASSWORD": COORD[1],
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def store(env) -> Store:
    return Store(env["DATABASE_URL"])


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory, schema_template) -> Path:
    """A database seeded once per session (roster, passwords, quizzes, questions); tests get a copy."""
    path = tmp_path_factory.mktemp("seeded") / "seeded.db"
    template = Store(fresh_database(schema_template, path))
    seed_demo(template, parse_file(POLICY).clauses, QUIZZES)
    with template.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    template.engine.dispose()
    return path


@pytest.fixture
def seeded(env, seeded_template) -> Store:
    target = Path(env["DATABASE_URL"].split("///", 1)[1])
    shutil.copy(seeded_template, target)
    return Store(env["DATABASE_URL"])


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=30)


def open_page(at: AppTest, url_path: str) -> AppTest:
    """Open an st.navigation page by its url path (AppTest.switch_page only knows file pages)."""
    at._page_hash = calc_hash(url_path)
    return at.run()


def as_user(at: AppTest, store: Store, email: str) -> AppTest:
    """Sign a roster member in with the demo password through the real auth code."""
    name = {"alice": "Alice Teacher", "bob": "Bob Support", "gwen": "Gwen Governor"}[email.split("@")[0]]
    result = accounts.sign_in_staff(store, name, email, DEMO_PASSWORD)
    assert result.status == "ok", result.message
    at.session_state["user"] = result.user
    return at


def as_coordinator(at: AppTest, store: Store) -> AppTest:
    accounts.bootstrap_coordinator(store, {"COORDINATOR_EMAIL": COORD[0], "COORDINATOR_PASSWORD": COORD[1]})
    at.session_state["user"] = accounts.sign_in_coordinator(store, *COORD).user
    return at


def texts(at: AppTest) -> str:
    """Everything visible as text on the page (without escapes and the invisible word joiners that stop autolinks)."""
    parts = []
    for kind in ("markdown", "title", "header", "subheader", "caption", "success", "error", "warning", "info",
                 "metric", "expander"):
        for element in getattr(at, kind):
            parts.append(str(getattr(element, "label", "") or ""))
            parts.append(str(getattr(element, "value", "") or ""))
    return "\n".join(parts).replace("\\", "").replace("\u2060", "")


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def upload_and_wait(at: AppTest, timeout: float = 60) -> tuple[AppTest, list[float]]:
    """Press 'Upload and re-index', then rerun the page (as its polling fragment does) until the result shows;
    return the page and every progress-bar value seen on the way."""
    import time

    [b for b in at.button if b.label == "Upload and re-index"][0].click().run()
    seen: list[float] = []
    deadline = time.monotonic() + timeout
    while "upload_job" in at.session_state and at.session_state["upload_job"]:
        assert time.monotonic() < deadline, "the upload never finished"
        seen += [bar.value for bar in at.get("progress")]
        time.sleep(0.2)
        at.run()
    return at, seen


# -- sign-in ------------------------------------------------------------------
def test_only_sign_in_before_signing_in(env):
    at = app().run()
    no_exceptions(at)
    assert at.title[0].value == "Policy Coach"
    assert [b.label for b in at.button] == ["Sign in", "Set password and sign in", "Sign in as coordinator"]
    for page in ("chat", "training", "reader", "agreement", "dashboard", "questions", "manage"):
        open_page(at, page)
        no_exceptions(at)
        assert at.title[0].value == "Policy Coach", page  # unknown pages fall back to sign-in
    assert "sso-login" not in [b.key for b in at.button]  # no [auth] secrets: no SSO button


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_staff_first_use_needs_the_code_then_password_sign_in(env, store):
    accounts.import_roster(store, "name,email,role\nAlice Teacher,alice@school.example,teacher\n")
    at = app().run()
    # name and email alone (what a colleague could know) sign nobody in
    at.text_input(key="signin-name").input("Alice Teacher")
    at.text_input(key="signin-email").input("ALICE@school.example")
    _button(at, "Sign in").click().run()
    no_exceptions(at)
    assert "user" not in at.session_state
    code = accounts.issue_claim_code(store, "alice@school.example")
    at.text_input(key="claim-name").input("Alice Teacher")
    at.text_input(key="claim-email").input("ALICE@school.example")
    at.text_input(key="claim-code").input(code)
    at.text_input(key="new-password").input("aaaaaaaaaa")
    at.text_input(key="confirm-password").input("aaaaaaaaaa")
    _button(at, "Set password and sign in").click().run()
    assert "too easy to guess" in texts(at) and "user" not in at.session_state
    at.text_input(key="new-password").input("lantern orbit marmalade")
    at.text_input(key="confirm-password").input("lantern orbit marmalade")
    _button(at, "Set password and sign in").click().run()
    no_exceptions(at)
    assert at.session_state["user"]["sender_id"] == "alice@school.example"
    assert at.title[0].value == "Ask & practise"
    # sign out and back in with the password
    at.button(key="sign-out").click().run()
    assert at.title[0].value == "Policy Coach" and "user" not in at.session_state
    at.text_input(key="signin-name").input("Alice Teacher")
    at.text_input(key="signin-email").input("alice@school.example")
    at.text_input(key="signin-password").input("lantern orbit marmalade")
    _button(at, "Sign in").click().run()
    assert at.title[0].value == "Ask & practise"


def test_wrong_password_refused_with_clear_message(env, seeded):
    at = app().run()
    at.text_input(key="signin-name").input("Alice Teacher")
    at.text_input(key="signin-email").input("alice@school.example")
    at.text_input(key="signin-password").input("not my password")
    at.button[0].click().run()
    no_exceptions(at)
    assert "user" not in at.session_state
    assert [e.value for e in at.error] == [escape_md(accounts.FAILED)]  # the same message for every failure
    assert at.title[0].value == "Policy Coach"


def test_coordinator_signs_in_from_env_bootstrap(env):
    at = app().run()
    at.text_input(key="coord-email").input(COORD[0])
    at.text_input(key="coord-password").input("wrong password!")
    _button(at, "Sign in as coordinator").click().run()
    assert [e.value for e in at.error] == [escape_md(accounts.FAILED)]
    at.text_input(key="coord-password").input(COORD[1])
    _button(at, "Sign in as coordinator").click().run()
    no_exceptions(at)
    assert at.session_state["user"]["is_coordinator"]
    assert at.title[0].value == "Training dashboard"


def test_sso_button_only_when_configured_and_user_matched_by_email(env, seeded):
    at = app()
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x",
                          "client_id": "id", "client_secret": "s",
                          "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
    at.run()
    assert "sso-login" in [b.key for b in at.button]
    at.user = {"is_logged_in": True, "email": "Bob@School.example", "name": "Bob"}
    at.run()
    no_exceptions(at)
    assert at.session_state["user"]["sender_id"] == "bob@school.example"
    assert at.title[0].value == "Ask & practise"
    stranger = app()
    stranger.secrets["auth"] = dict(at.secrets["auth"])
    stranger.user = {"is_logged_in": True, "email": "stranger@school.example"}
    stranger.run()
    assert "user" not in stranger.session_state
    assert any("isn't on the staff roster" in e.value.replace("\\", "") for e in stranger.error)


def test_deep_link_survives_sign_in(env, seeded):
    at = app()
    at.query_params["clause"] = "6.3"
    open_page(at, "reader")
    no_exceptions(at)
    assert at.title[0].value == "Policy Coach"  # the sign-in form, on the reader's URL
    at.text_input(key="signin-name").input("Alice Teacher")
    at.text_input(key="signin-email").input("alice@school.example")
    at.text_input(key="signin-password").input(DEMO_PASSWORD)
    _button(at, "Sign in").click().run()
    no_exceptions(at)
    assert at.session_state["user"]["sender_id"] == "alice@school.example"
    assert at.title[0].value == "Policy reader" and at.query_params["clause"] in ("6.3", ["6.3"])
    assert "6.3" in texts(at)


def test_session_ends_on_password_reset_roster_removal_and_idle(env, seeded, monkeypatch):
    at = as_user(app(), seeded, "alice@school.example").run()
    assert at.title[0].value == "Ask & practise"
    accounts.reset_password(seeded, "alice@school.example")
    at.run()
    no_exceptions(at)
    assert "user" not in at.session_state and at.title[0].value == "Policy Coach"
    assert any("account was changed" in e.value.replace("\\", "") for e in at.error)

    at = as_user(app(), seeded, "bob@school.example").run()
    accounts.import_roster(seeded, "name,email,role\nGwen Governor,gwen@school.example,governor\n", replace=True)
    at.run()
    assert "user" not in at.session_state

    at = as_user(app(), seeded, "gwen@school.example").run()
    monkeypatch.setenv("POLICY_COACH_IDLE_MINUTES", "0")
    at.session_state["last_seen"] = 0.0
    at.run()
    assert "user" not in at.session_state
    assert any("inactivity" in e.value for e in at.error)


def test_sign_in_queues_the_http_only_cookie_exchange_and_sign_out_clears_it(env, seeded):
    from ui import cookies

    at = app().run()
    at.text_input(key="signin-name").input("Alice Teacher")
    at.text_input(key="signin-email").input("alice@school.example")
    at.text_input(key="signin-password").input(DEMO_PASSWORD)
    _button(at, "Sign in").click().run()
    scripts = "".join(str(h.proto) for h in at.get("html"))
    assert cookies.ROUTE in scripts and DEMO_PASSWORD not in scripts and "alice" not in scripts
    at.button(key="sign-out").click().run()
    assert "DELETE" in "".join(str(h.proto) for h in at.get("html"))
    assert "user" not in at.session_state


def test_csv_exports_neutralise_formula_cells(env, seeded):
    import pandas as pd

    from ui.render import safe_csv

    accounts.import_roster(seeded, 'name,email,role\n"=HYPERLINK(""http://evil.example"",""x"")",eve@school.example,'
                               'teacher\n')
    seeded.log_question("alice@school.example", "+cmd|' /C calc'!A0", "cmd", {"answered": False,
                                                                             "reason": "out_of_scope"})
    frame = pd.DataFrame(reports.completion(seeded))
    data = safe_csv(frame).decode()
    assert "'=HYPERLINK" in data and "\n=HYPERLINK" not in data and ",=HYPERLINK" not in data
    unanswered = pd.DataFrame(reports.unanswered_questions(seeded))
    assert "'+cmd" in safe_csv(unanswered).decode()
    for cell in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        out = safe_csv(pd.DataFrame({"c": [cell]})).decode().splitlines()[1]
        assert out.lstrip('"').startswith("'"), cell
    assert safe_csv(pd.DataFrame({"c": ["plain", 5]})).decode().splitlines()[1:] == ["plain", "5"]


# -- access -------------------------------------------------------------------
def test_staff_cannot_open_coordinator_pages(env, seeded):
    at = as_user(app(), seeded, "alice@school.example").run()
    for page in ("dashboard", "questions", "manage"):
        open_page(at, page)
        no_exceptions(at)
        assert at.title[0].value == "Coordinator page", page  # told it isn't theirs ...
        assert "for the training coordinator" in texts(at) and "Training dashboard" not in texts(at)
        assert at.session_state["user"]["sender_id"] == "alice@school.example"  # ... and still signed in


def test_coordinator_pages_refuse_a_forged_session(env, seeded):
    """Even a session that claims to be a coordinator is checked against the database."""
    at = AppTest.from_string("from ui.views import dashboard\ndashboard.render()\n", default_timeout=30)
    at.session_state["user"] = {**accounts.sign_in_staff(seeded, "Alice Teacher", "alice@school.example",
                                                     DEMO_PASSWORD).user, "is_coordinator": True}
    at.run()
    no_exceptions(at)
    assert at.title[0].value == "Coordinator page" and "for the training coordinator" in texts(at)
    assert not at.dataframe


def test_my_training_shows_only_my_records(env, seeded):
    at = open_page(as_user(app(), seeded, "alice@school.example").run(), "training")
    no_exceptions(at)
    page = texts(at)
    assert at.title[0].value == "My training"
    mine = reports.my_attempts(seeded, "alice@school.example")
    assert len(at.dataframe[0].value) == len(mine) == 2
    bob_ids = {a["attempt"] for a in reports.my_attempts(seeded, "bob@school.example")}
    assert not bob_ids & set(at.dataframe[0].value.index)
    assert "Bob" not in page and "bob@school.example" not in page
    assert at.download_button


# -- pages ----------------------------------------------------------------------
@pytest.mark.parametrize("page,title", [("chat", "Ask & practise"), ("training", "My training"),
                                        ("reader", "Policy reader"), ("agreement", "Sign the agreement")])
def test_staff_pages_smoke(env, seeded, page, title):
    at = open_page(as_user(app(), seeded, "bob@school.example").run(), page)
    no_exceptions(at)
    assert at.title[0].value == title


@pytest.mark.parametrize("page,title", [("dashboard", "Training dashboard"), ("questions", "Unanswered questions"),
                                        ("manage", "Policies & roster"), ("reader", "Policy reader")])
def test_coordinator_pages_smoke(env, seeded, page, title):
    at = open_page(as_coordinator(app(), seeded).run(), page)
    no_exceptions(at)
    assert at.title[0].value == title


def test_reader_highlights_clause_from_query_param_and_searches(env, seeded):
    at = as_user(app(), seeded, "alice@school.example")
    at.query_params["clause"] = "6.3"
    at.query_params["policy"] = "social-media-policy"
    open_page(at.run(), "reader")
    no_exceptions(at)
    assert any("Clause 6.3" in i.value.replace("\\", "") for i in at.info)
    assert "Guidance on Social Media Use" in texts(at)
    assert "Appendix 1" in texts(at)
    at.text_input(key="reader-search").input("friend request").run()
    page = texts(at)
    assert "match" in page and "**friend**" in "\n".join(m.value for m in at.markdown)


# -- chat -------------------------------------------------------------------------
class FakeRasa:
    """Answers like the real bot: policy answers from the index, quizzes from the real engine and messages."""

    def __init__(self, store: Store, index_dir: Path):
        self.store = store
        self.index = load(index_dir)
        self.engine = quiz_engine(store, self.index.clauses, QUIZZES, length=2)
        self.searcher = Searcher(self.index, HashingEncoder())
        self.sent: list[tuple[str, str]] = []  # (the roster member the chat id maps to, text)
        self.chat_ids: list[str] = []
        self.last: dict[str, str] = {}  # each member's last question (the bot's last_question slot)
        self.events: dict[str, list[dict]] = {}  # Rasa's tracker store: events per chat id, as Rasa records them
        self.down = False  # True: Rasa can't be reached (posts and the tracker route both fail)

    def cite(self, clause_id: str) -> dict:
        c = self.index.find("social-media-policy", clause_id)
        return {"policy": c.policy, "policy_title": "Guidance on Social Media Use for Education Establishments",
                "clause": c.clause, "section": c.section, "title": c.title, "text": c.text, "score": 0.9}

    def __call__(self, base_url: str, chat_id: str, text: str, *, metadata: dict | None = None, **_) -> list[dict]:
        if self.down:
            raise rasa_client.RasaUnavailable(rasa_client.UNREACHABLE)
        replies = self.answer(chat_id, text)
        # recorded as Rasa's tracker does: the user event with its metadata, one bot event per message, whose
        # text the REST channel sends first, then its buttons and custom payload (bot/actions/common.py send)
        events = self.events.setdefault(chat_id, [])
        events.append({"event": "user", "text": text, "metadata": metadata or {}, "parse_data": {}})
        events.append({"event": "action", "name": "action_answer_policy"})
        for reply in replies:
            buttons = [{"title": b["title"], "payload": b["payload"]} for b in reply.get("buttons") or []] or \
                [{"title": f"{o['letter']}) {o['text']}", "payload": o["payload"]} for o in reply.get("options") or []]
            events.append({"event": "bot", "text": reply.get("text") or reply.get("message"),
                           "data": {"buttons": buttons or None, "custom": reply}, "metadata": {}})
        events.append({"event": "action", "name": "action_listen"})
        return replies

    def get(self, url: str, *, params=None, headers=None, **_):
        """Rasa's tracker route on the token channel (GET .../conversations/<chat id>/tracker)."""
        if self.down:
            raise requests.ConnectionError("connection refused")
        assert url.endswith("/tracker") and headers["Authorization"].startswith("Bearer ")
        chat_id = url.split("/conversations/", 1)[1].rsplit("/tracker", 1)[0]
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps({"sender_id": chat_id, "events": self.events.get(chat_id, [])}).encode()
        return response

    def answer(self, chat_id: str, text: str) -> list[dict]:
        """The replies to one message, render-ready (what send_message returns)."""
        # Like the real actions: the app sends an opaque chat id, mapped back to a roster member here.
        self.chat_ids.append(chat_id)
        sender = self.store.member_for_chat(chat_id) or f"unknown:{chat_id}"
        self.sent.append((sender, text))
        if text == "/start_quiz":
            question, _ = self.engine.start(sender, seed=3)
            return [{"kind": "quiz_start", "text": "Quiz: 2 scenarios."}, self.question(question)]
        if "quiz_choice" in text:
            outcome = self.engine.answer(sender, text)
            cites = [self.cite(c) for c in outcome.question.scenario.clauses]
            text_, payload = messages.quiz_feedback(outcome, cites)
            out = [{**payload, "text": text_}]
            if outcome.finished:
                summary = self.engine.last_result(sender)
                text_, payload = messages.quiz_result(summary, [self.cite(c) for c in summary["reread"]])
                out.append({**payload, "text": text_})
            else:
                out.append(self.question(self.engine.current(sender)))
            return out
        if "<script>" in text:
            return [{"kind": "out_of_scope", "message": "I can't find that in the policy.", "contacts": []}]
        running = self.engine.current(sender)
        if running is not None:  # a typed reply mid-quiz, in the order bot/actions/quiz.py tries it
            outcome = self.engine.answer(sender, text)
            assert outcome.status != "answered", f"{text!r} was stored as a quiz answer"
            if is_follow_up(text) and not has_topic(text):
                answered = self.engine.last_answered(sender)
                cites = [self.cite(c) for c in answered.scenario.clauses] if answered else []
                text_, payload = messages.quiz_explain(answered, outcome.question.position, cites)
                resume, notice = messages.notice("quiz_resume", "Back to the quiz:")
                return [{**payload, "text": text_}, {**notice, "text": resume}, self.question(running)]
        # a follow-up is searched with the previous question, as bot/actions/policy.py does
        previous = self.last.get(sender)
        context = previous if previous and is_follow_up(text) else None
        question = in_context(previous, text) if context else text
        # the real highlight and message code on clause 6.3 (the hashing encoder would not pick clauses well)
        row = next(i for i, c in enumerate(self.index.clauses) if c.clause == "6.3")
        cites = [self.searcher._citation(row, 0.9)]
        focus = text if context else None
        found = highlight.highlights(self.searcher, question, cites, focus=focus)
        answer = Answer(True, highlight.answer_message(focus or question, cites, found), cites, highlights=found)
        self.last[sender] = question
        text_, payload = messages.policy_answer({**answer.to_dict(), "question": question}, context=context)
        return [{**payload, "text": text_}]

    @staticmethod
    def question(question) -> dict:
        text, payload, _ = messages.quiz_question(question)
        return {**payload, "text": text}


@pytest.fixture
def rasa(monkeypatch, seeded, env) -> FakeRasa:
    fake = FakeRasa(seeded, Path(env["POLICY_COACH_INDEX"]))
    monkeypatch.setattr(rasa_client, "send_message", fake)
    monkeypatch.setattr(rasa_client.requests, "get", fake.get)
    return fake


def test_chat_sends_as_signed_in_user_and_shows_cited_clause(env, seeded, rasa):
    at = as_user(app(), seeded, "alice@school.example").run()
    at.chat_input[0].set_value("A pupil sent me a friend request on Facebook, what do I do?").run()
    no_exceptions(at)
    assert rasa.sent == [("alice@school.example", "A pupil sent me a friend request on Facebook, what do I do?")]
    assert rasa.chat_ids == [at.session_state["user"]["chat_id"]] and "alice" not in rasa.chat_ids[0]
    assert any(e.label.replace("\\", "").startswith("6.3 — 6 Personal Use of Social Media") for e in at.expander)
    assert "friend request" in texts(at)  # verbatim clause text in the expander
    assert len(at.chat_message) == 2


def test_chat_answer_leads_with_the_bold_highlight_then_the_collapsed_clause(env, seeded, rasa):
    at = as_user(app(), seeded, "alice@school.example").run()
    at.chat_input[0].set_value("Can I accept a friend request from a pupil?").run()
    no_exceptions(at)
    reply = at.chat_message[1]
    lines = [m.value.replace("\\", "") for m in reply.markdown]
    assert lines[0].endswith("The Guidance on Social Media Use for Education Establishments, "
                             "clause 6.3 (Personal Use of Social Media), says:")
    bold = lines[1]
    assert bold.startswith("**") and bold.endswith("**")
    sentence = bold.strip("*")
    assert sentence in rasa.index.find("social-media-policy", "6.3").text  # verbatim, only escaped for Markdown
    lead = highlight.lead_in("Can I accept a friend request from a pupil?", sentence)
    assert lines[0].startswith(lead) if lead else lines[0].startswith("The Guidance")
    assert not reply.expander[0].proto.expanded  # the full clause waits in the expander


def test_follow_up_answer_shows_what_it_follows_on_from_then_the_bold_highlight(env, seeded, rasa):
    first = "Can I accept a friend request from a pupil?"
    at = as_user(app(), seeded, "alice@school.example").run()
    at.chat_input[0].set_value(first).run()
    at.chat_input[0].set_value("what if they're my nephew?").run()
    no_exceptions(at)
    assert rasa.sent[-1] == ("alice@school.example", "what if they're my nephew?")  # the app sends what was typed
    assert len(at.chat_message) == 4
    assert not any("Following on from" in c.value for c in at.chat_message[1].caption)  # the first follows nothing
    reply = at.chat_message[3]
    assert reply.caption[0].value.replace("\\", "") == f"Following on from: {first}"  # shown before the answer
    lines = [m.value.replace("\\", "") for m in reply.markdown]
    assert "clause 6.3 (Personal Use of Social Media), says:" in lines[0]
    assert lines[1].startswith("**") and lines[1].strip("*") in rasa.index.find("social-media-policy", "6.3").text
    assert not reply.expander[0].proto.expanded


def test_a_reload_or_new_tab_shows_the_conversation_so_far_to_that_person_only(env, seeded, rasa):
    first = "Can I accept a friend request from a pupil?"
    at = as_user(app(), seeded, "alice@school.example").run()
    at.chat_input[0].set_value(first).run()
    at.chat_input[0].set_value("what if they're my nephew?").run()
    again = as_user(app(), seeded, "alice@school.example").run()  # a new browser session: a reload or a new tab
    no_exceptions(again)
    assert len(again.chat_message) == 4 and f"Following on from: {first}" in texts(again)
    assert not [b for b in again.button if b.key == "todo-0"]  # the to-do card is for an empty chat
    again.chat_input[0].set_value("why not?").run()
    assert len(again.chat_message) == 6 and len(rasa.sent) == 3
    other = as_user(app(), seeded, "bob@school.example").run()
    assert not other.chat_message  # another person never sees it


def test_reload_restores_button_labels_and_the_live_quiz_buttons(env, seeded, rasa):
    at = as_user(app(), seeded, "bob@school.example").run()
    at.button(key="suggest-Quiz me").click().run()
    option = next(b for b in at.button if b.key and b.key.endswith("-A"))
    label = option.label.replace("\\", "")
    option.click().run()
    again = as_user(app(), seeded, "bob@school.example").run()  # a reload: a new session, the tracker only
    no_exceptions(again)
    users = [m.markdown[0].value.replace("\\", "") for m in again.chat_message if m.name == "user"]
    assert users == ["Quiz me", label]
    assert "Question 2 of 2" in texts(again)
    # the restored question's buttons still answer it, bound to the question on screen
    again.button(key=next(b.key for b in again.button if b.key and b.key.endswith("-B"))).click().run()
    no_exceptions(again)
    assert rasa.engine.current("bob@school.example") is None  # the second (last) answer finished the quiz
    assert "Retake the quiz" in [b.label for b in again.button]


def test_when_rasa_is_down_the_page_says_so_and_the_chat_comes_back_once_rasa_answers(env, seeded, rasa):
    at = as_user(app(), seeded, "alice@school.example").run()
    at.chat_input[0].set_value("Can I accept a friend request from a pupil?").run()
    rasa.down = True
    again = as_user(app(), seeded, "alice@school.example").run()
    no_exceptions(again)
    assert "Your conversation so far can't be shown" in texts(again) and "isn't reachable" in texts(again)
    assert not again.chat_message and again.chat_input  # nothing crashed; the box is still there
    again.chat_input[0].set_value("hello?").run()  # a message while Rasa is down gets the plain error
    no_exceptions(again)
    assert again.error and "isn't reachable" in again.error[-1].value.replace("\\", "")
    rasa.down = False
    again.chat_input[0].set_value("what if they're my nephew?").run()  # Rasa answers again: the chat comes back
    no_exceptions(again)
    assert "can't be shown" not in texts(again) and "isn't reachable" not in texts(again)
    assert len(again.chat_message) == 4  # the tracker's turns; "hello?" never reached Rasa
    assert "Following on from: Can I accept a friend request from a pupil?" in texts(again)


def test_after_sign_out_the_next_person_on_the_same_browser_sees_only_their_own_chat(env, seeded, rasa):
    at = as_user(app(), seeded, "alice@school.example").run()
    at.chat_input[0].set_value("Can I accept a friend request from a pupil?").run()
    assert len(at.chat_message) == 2
    at.button(key="sign-out").click().run()
    assert "history" not in at.session_state
    at.text_input(key="signin-name").input("Bob Support")
    at.text_input(key="signin-email").input("bob@school.example")
    at.text_input(key="signin-password").input(DEMO_PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click().run()
    no_exceptions(at)
    assert at.session_state["user"]["email"] == "bob@school.example"
    assert not at.chat_message and "friend request from a pupil" not in texts(at)
    at.chat_input[0].set_value("hello").run()
    bob = at.session_state["user"]["chat_id"]
    assert [e["text"] for e in rasa.events[bob] if e["event"] == "user"] == ["hello"]  # his own tracker only


def test_why_typed_mid_quiz_shows_the_best_answer_and_its_clauses_without_answering(env, seeded, rasa):
    at = as_user(app(), seeded, "bob@school.example").run()
    at.button(key="suggest-Quiz me").click().run()
    at.chat_input[0].set_value("why?").run()  # before the first answer: how to answer
    no_exceptions(at)
    explain = [m for m in at.chat_message if m.info and "Pick the option" in m.info[0].value]
    assert explain, texts(at)
    options = [b for b in at.button if b.key and b.key.endswith(("-A", "-B", "-C", "-D")) and not b.disabled]
    options[0].click().run()
    at.chat_input[0].set_value("why not?").run()
    no_exceptions(at)
    answered = rasa.engine.last_answered("bob@school.example")
    best = answered.scenario.correct_option
    [reply] = [m for m in at.chat_message if m.info and "the best answer was" in m.info[0].value]
    assert reply.info[0].value.replace("\\", "").startswith(f'About question 1: the best answer was "{best.text}"')
    assert best.feedback.split()[0] in " ".join(m.value for m in reply.markdown).replace("\\", "")
    labels = [e.label.replace("\\", "") for e in reply.expander]
    assert [label.split(" — ")[0] for label in labels] == list(answered.scenario.clauses)
    assert "Back to the quiz:" in texts(at) and "Question 2 of 2" in texts(at)
    assert reports.my_attempts(seeded, "bob@school.example")[0]["answered"] == 1  # "why not?" is no answer


def test_thumbs_down_is_stored_for_the_signed_in_user_and_shown_to_the_coordinator(env, seeded, rasa):
    question = "Can I accept a friend request from a pupil?"
    at = as_user(app(), seeded, "alice@school.example").run()
    at.chat_input[0].set_value(question).run()
    at.feedback(key="rate-m1-0").set_value(0).run()  # 👎
    no_exceptions(at)
    [row] = reports.poorly_rated(seeded)
    assert row["question"] == question and row["count"] == 1 and row["cited"] == "6.3"
    coord = open_page(as_coordinator(app(), seeded).run(), "questions")
    no_exceptions(coord)
    assert "Answers rated unhelpful (1)" in texts(coord) and question in texts(coord)
    link = [b for b in coord.button if b.key and b.key.startswith("rated-link-")][0]
    coord.selectbox(key="rated-pick-" + link.key[len("rated-link-"):]).set_value(("social-media-policy", "6.5")).run()
    coord.button(key=link.key).click().run()
    no_exceptions(coord)
    assert seeded.question_links()[normalise_question(question)] == [("social-media-policy", "6.5")]


def test_todo_card_after_sign_in_offers_the_quiz_and_the_agreement(env, seeded, rasa):
    at = as_user(app(), seeded, "gwen@school.example").run()
    no_exceptions(at)
    best = round(reports.my_summary(seeded, "gwen@school.example")["best_score"] * 100)
    page = texts(at).replace("\\", "")
    assert f"Retake the scenario quiz: your best so far is {best}%." in page
    assert "Sign the Governing Body Document." in page  # a governor signs the governors' agreement
    at.button(key="todo-0").click().run()
    no_exceptions(at)
    assert rasa.sent[-1] == ("gwen@school.example", "/start_quiz")
    assert "Question 1 of 2" in texts(at)


def test_chat_escapes_user_html_and_markdown(env, seeded, rasa):
    at = as_user(app(), seeded, "alice@school.example").run()
    at.chat_input[0].set_value("<script>alert(1)</script> **bold** [x](http://evil)").run()
    no_exceptions(at)
    user_turn = at.chat_message[0].markdown[0].value
    assert "<script>" not in user_turn and "&lt;script&gt;" in user_turn
    assert "\\*\\*bold\\*\\*" in user_turn and "\\[x\\]\\(http" in user_turn


def test_escaped_text_leaves_no_autolink_trigger_and_reads_the_same():
    from ui.render import WORD_JOINER

    text = "see www.evil.example.com/x, HTTPS://evil.example/i.png and bob@evil.example"
    escaped = escape_md(text)
    plain = escaped.replace("\\", "")
    for trigger in ("www.", "HTTPS:", "bob@"):
        assert trigger not in plain  # the browser test checks the rendered DOM (tests/test_browser_markup.py)
    assert plain.replace(WORD_JOINER, "") == text


def test_quiz_buttons_send_payloads_and_show_feedback_and_result(env, seeded, rasa):
    at = as_user(app(), seeded, "bob@school.example").run()
    at.button(key="suggest-Quiz me").click().run()
    no_exceptions(at)
    assert rasa.sent[-1] == ("bob@school.example", "/start_quiz")
    assert "Question 1 of 2" in texts(at)
    for _ in range(2):
        options = [b for b in at.button if b.key and b.key.endswith(("-A", "-B", "-C", "-D")) and not b.disabled]
        assert len(options) >= 2
        options[0].click().run()
        no_exceptions(at)
        sender, sent = rasa.sent[-1]
        assert sender == "bob@school.example" and sent.startswith('/quiz_answer{"quiz_choice":')
        assert at.success or at.error  # feedback headline shown
    page = texts(at)
    assert "Pass mark" in page and "Score" in page
    assert at.button(key=[b.key for b in at.button if b.key and b.key.endswith("-retake")][0])
    attempts = reports.my_attempts(seeded, "bob@school.example")
    assert attempts[0]["status"] == "completed" and attempts[0]["answered"] == 2


def test_chat_shows_a_clear_message_when_rasa_is_down(env, seeded):
    at = as_user(app(), seeded, "alice@school.example").run()
    at.chat_input[0].set_value("Can I post photos of pupils?").run()
    no_exceptions(at)
    assert any("isn't reachable" in e.value.replace("\\", "") for e in at.error)


# -- sign-off -------------------------------------------------------------------------
def test_sign_off_records_name_role_date_and_version(env, seeded):
    at = open_page(as_user(app(), seeded, "alice@school.example").run(), "agreement")
    no_exceptions(at)
    assert "Acceptable Use Agreement" in texts(at)
    at.text_input(key="agree-name").input("Alice Teacher")
    at.button[0].click().run()
    assert any("Tick the box" in e.value for e in at.error)
    at.checkbox(key="agree-check").check()
    at.text_input(key="agree-name").input("Someone Else")
    at.button[0].click().run()
    assert any("full name" in e.value for e in at.error)
    at.text_input(key="agree-name").input("alice teacher")
    at.button[0].click().run()
    no_exceptions(at)
    assert any("You signed this agreement" in s.value for s in at.success)
    [signed] = reports.my_signoffs(seeded, "alice@school.example")
    checksum = load(Path(env["POLICY_COACH_INDEX"])).policies["social-media-policy"]["checksum"]
    assert signed["policy_version"] == checksum and signed["role"] == "teacher"
    assert signed["document"].startswith("Appendix 1") and signed["signed_at"]


def test_governors_sign_the_governing_body_agreement(env, seeded):
    at = open_page(as_user(app(), seeded, "gwen@school.example").run(), "agreement")
    no_exceptions(at)
    assert "Appendix 3" in texts(at) and "Acceptable Use" not in at.subheader[0].value
    # the bullets keep their lead-in heading, so a governor never signs "To become an on-line 'friend'…" as a rule
    page = texts(at)
    assert "It Is Not Advisable" in page and "on-line 'friend'" in page
    assert page.index("It Is Not Advisable") < page.index("on-line 'friend'")


def test_agreement_and_reader_show_every_heading_of_the_document(env, seeded):
    at = open_page(as_user(app(), seeded, "alice@school.example").run(), "agreement")
    no_exceptions(at)
    page = texts(at)
    for heading in ("School Equipment", "User Signature", "Signature"):
        assert heading in page, heading
    assert page.index("User Signature") < page.index("I agree to follow this code of conduct")
    at = open_page(as_user(app(), seeded, "alice@school.example").run(), "reader")
    no_exceptions(at)
    page = texts(at)
    for heading in ("General Letter to All Parents on Social Media", "Example Letter to Parent on Social Media Post",
                    "It Is Not Advisable", "School Equipment", "User Signature"):
        assert heading.lower() in page.lower(), heading


# -- dashboard ------------------------------------------------------------------------
def test_dashboard_completion_charts_facility_and_review_warning(env, seeded):
    at = as_coordinator(app(), seeded).run()
    no_exceptions(at)
    page = texts(at)
    assert "was due for review in March 2023" in page
    completion = at.dataframe[0].value
    assert len(completion) == 5 and {"Signed current version", "Quiz attempts", "Best score", "Passed",
                                     "Last activity"} <= set(completion.columns)
    assert "Most missed clause" in page
    assert len(at.get("vega_lite_chart")) >= 3
    assert {"dl-completion", "dl-scores", "dl-clause-facility", "dl-scenario-facility"} <= {
        b.key for b in at.download_button}
    at.multiselect(key="filter-roles").set_value(["governor"]).run()
    assert list(at.dataframe[0].value["Email"]) == ["gwen@school.example"]


def test_questions_link_and_not_covered(env, seeded):
    at = open_page(as_coordinator(app(), seeded).run(), "questions")
    no_exceptions(at)
    assert "Can I bring my dog to school" in texts(at)
    link_buttons = [b for b in at.button if b.key and b.key.startswith("link-")]
    at.selectbox(key="pick-" + link_buttons[0].key[5:]).set_value(("social-media-policy", "6.3")).run()
    at.button(key=link_buttons[0].key).click().run()
    no_exceptions(at)
    assert "Linked to 6.3" in texts(at)
    links = seeded.question_links()
    assert list(links.values()) == [[("social-media-policy", "6.3")]]
    [b for b in at.button if b.key and b.key.startswith("nc-")][0].click().run()
    decided = [r for r in reports.unanswered_questions(seeded, include_decided=True) if r["status"] != "open"]
    assert {r["status"] for r in decided} == {"linked", "not_covered"}


def test_upload_new_policy_version_shows_changes(env, seeded):
    at = open_page(as_coordinator(app(), seeded).run(), "manage")
    no_exceptions(at)
    text = POLICY.read_text(encoding="utf-8")
    changed = text.replace("6.3 Staff members must not", "6.3 Staff members must never") \
        .replace("- 8.3 Contracted", "- 8.4 A new clause about reporting.\n- 8.3 Contracted")
    at.file_uploader(key="policy-file").upload("anything.md", changed.encode(), "text/markdown")
    at.selectbox(key="policy-target").set_value("social-media-policy")
    at, _ = upload_and_wait(at)
    no_exceptions(at)
    page = texts(at)
    assert "New version of" in page
    assert "Clauses added" in page and "8.4" in page
    [version] = reports.policy_versions(seeded)
    assert version["policy"] == "social-media-policy" and "8.4" in version["added"]
    # the shipped file is untouched; the new version lives in the runtime dir, the old one in its archive
    policies = Path(env["POLICY_COACH_POLICIES"])
    assert [p.name for p in policies.iterdir()] == ["social-media-policy.md"]
    assert policies.joinpath("social-media-policy.md").read_bytes() == POLICY.read_bytes()
    var = Path(env["POLICY_COACH_VAR"])
    assert (var / "policies" / "social-media-policy.md").read_text(encoding="utf-8") == changed
    assert (var / "policies" / "social-media-policy.md").stat().st_mode & 0o077 == 0
    [archived] = (var / "policy-archive").iterdir()
    assert archived.read_bytes() == POLICY.read_bytes()
    index = load(Path(env["POLICY_COACH_INDEX"]))
    assert "8.4" in {c.clause for c in index.clauses}
    assert Path(index.policies["social-media-policy"]["path"]) == var / "policies" / "social-media-policy.md"


def test_bad_policy_file_leaves_index_untouched(env, seeded):
    manifest = Path(env["POLICY_COACH_INDEX"]) / "manifest.json"
    before = manifest.read_text()
    at = open_page(as_coordinator(app(), seeded).run(), "manage")
    at.file_uploader(key="policy-file").upload("broken.pdf", b"this is not a pdf", "application/pdf")
    at, _ = upload_and_wait(at)
    no_exceptions(at)
    assert any("nothing was changed" in e.value.replace("\\", "") for e in at.error)
    assert manifest.read_text() == before
    assert [p.name for p in Path(env["POLICY_COACH_POLICIES"]).iterdir()] == ["social-media-policy.md"]
    assert not (Path(env["POLICY_COACH_VAR"]) / "policies").exists() or \
        not list((Path(env["POLICY_COACH_VAR"]) / "policies").iterdir())
    assert reports.policy_versions(seeded) == []


def test_roster_upload_reports_bad_rows(env, seeded):
    at = open_page(as_coordinator(app(), seeded).run(), "manage")
    csv = b"name,email,role\nNew Person,new@school.example,teacher\nBad Row,bad-email,teacher\n"
    at.file_uploader(key="roster-file").upload("roster.csv", csv, "text/csv")
    [b for b in at.button if b.label == "Import roster"][0].click().run()
    no_exceptions(at)
    assert any("1 added" in s.value for s in at.success)
    errors = [d.value for d in at.dataframe if list(d.value.columns) == ["Line", "Problem"]][0]
    first = errors.to_dict("records")[0]
    assert first["Line"] == "3" and first["Problem"].startswith("Bad Row:") and "bad-email" in first["Problem"]


def test_database_down_shows_clear_message(monkeypatch, env):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:nothing@127.0.0.1:1/none")
    at = app().run()
    no_exceptions(at)
    assert any("database isn't available" in e.value.replace("\\", "") for e in at.error)
    assert not at.text_input


def test_database_failure_during_sign_in_is_a_plain_message(env, seeded, monkeypatch):
    from bot.training.store import StoreUnavailable

    def down(*_args, **_kwargs):
        raise StoreUnavailable("The training records database is not available right now.")

    at = app().run()
    monkeypatch.setattr(accounts, "sign_in_staff", down)
    at.text_input(key="signin-name").input("Alice Teacher")
    at.text_input(key="signin-email").input("alice@school.example")
    at.text_input(key="signin-password").input(DEMO_PASSWORD)
    at.button[0].click().run()
    no_exceptions(at)
    assert any("database isn't available" in e.value.replace("\\", "") for e in at.error)


def test_user_text_with_urls_and_markup_is_shown_literally_on_coordinator_pages_and_sidebar(env, seeded):
    """A roster name and a logged question carrying a real dotted URL, an email, an image and a link."""
    import re

    hostile = "see www.evil-site.example/x or https://evil-site.example/a ![i](https://evil-site.example/p.png)"
    accounts.import_roster(seeded, 'name,email,role\n"Mal [x](https://evil-site.example) www.evil-site.example",'
                               'mal@school.example,teacher\n')
    seeded.log_question("alice@school.example", hostile, "see evil", {"answered": False, "reason": "out_of_scope"})
    at = open_page(as_coordinator(app(), seeded).run(), "questions")
    no_exceptions(at)
    shown = [m.value for m in at.markdown if "evil" in m.value]
    assert shown, "the logged question is listed"
    at2 = as_user(app(), seeded, "alice@school.example")
    at2.session_state["user"] = {**at2.session_state["user"],
                                 "name": "Mal [x](https://evil-site.example) www.evil-site.example"}
    at2.run()
    shown += [m.value for m in at2.sidebar.markdown]
    for source in shown:
        # No autolink (www. / scheme://), no [text](url) link and no ![image] survive escaping.
        assert not re.search(r"(?<!\\)www\.|https?://|(?<!\\)\]\(|(?<!\\)!\[", source), source
        assert "evil" in source


def test_upload_queued_behind_another_shows_a_progress_bar_then_the_result(env, seeded):
    """The upload runs in the background worker: while it waits (here behind a real earlier job) the page shows a
    progress bar and stays usable; when it finishes the result replaces the bar."""
    import threading

    from ui import ingest_jobs

    gate = threading.Event()
    ingest_jobs._worker().submit(gate.wait, 30)  # an earlier upload still running
    at = open_page(as_coordinator(app(), seeded).run(), "manage")
    text = POLICY.read_text(encoding="utf-8").replace("6.3 Staff members must not", "6.3 Staff members must never")
    at.file_uploader(key="policy-file").upload("anything.md", text.encode(), "text/markdown")
    at.selectbox(key="policy-target").set_value("social-media-policy")
    [b for b in at.button if b.label == "Upload and re-index"][0].click().run()
    no_exceptions(at)
    [bar] = at.get("progress")
    assert bar.value == 0 and "Waiting for another upload" in bar.proto.text
    assert not [b for b in at.button if b.label == "Upload and re-index"]  # no second upload while one runs
    gate.set()
    at, _ = _wait(at)
    no_exceptions(at)
    assert not at.get("progress")
    assert "New version of" in texts(at)


def _wait(at: AppTest, timeout: float = 60) -> tuple[AppTest, None]:
    import time

    deadline = time.monotonic() + timeout
    while "upload_job" in at.session_state and at.session_state["upload_job"]:
        assert time.monotonic() < deadline, "the upload never finished"
        time.sleep(0.2)
        at.run()
    return at, None


def test_upload_over_the_size_cap_is_refused_and_changes_nothing(env, seeded, monkeypatch):
    monkeypatch.setenv("POLICY_COACH_MAX_UPLOAD_MB", "0.05")
    manifest = Path(env["POLICY_COACH_INDEX"]) / "manifest.json"
    before = manifest.read_text()
    at = open_page(as_coordinator(app(), seeded).run(), "manage")
    big = POLICY.read_text(encoding="utf-8") + "\n\n" + "Padding words for size. " * 4000
    at.file_uploader(key="policy-file").upload("big.md", big.encode(), "text/markdown")
    at, _ = upload_and_wait(at)
    no_exceptions(at)
    [error] = at.error
    message = error.value.replace("\\", "")
    assert "limited to 0.05 MB" in message and "nothing was changed" in message
    assert manifest.read_text() == before
    assert not (Path(env["POLICY_COACH_VAR"]) / "policies").exists()
