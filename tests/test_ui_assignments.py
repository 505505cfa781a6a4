# ruff: noqa: F811  (pytest fixtures imported from test_ui_app are re-bound as test arguments)
"""AppTest tests of assignments (coordinator), My policies (staff to-do and signing) and the dashboard's completion."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.training import assignments
from bot.training import reports
from knowledge.encoder import HashingEncoder
from knowledge.index import ingest
from tests.test_ui_app import (  # noqa: F401  (fixtures)
    POLICY,
    app,
    as_coordinator,
    as_user,
    env,
    hashing_index,
    no_exceptions,
    open_page,
    seeded,
    seeded_template,
    texts,
)

ROOT = Path(__file__).resolve().parent.parent
LONE = ROOT / "tests" / "fixtures" / "policies" / "lone-working-policy.txt"


@pytest.fixture
def with_lone_policy(env):
    ingest([POLICY, LONE], Path(env["POLICY_COACH_INDEX"]), HashingEncoder())


def test_coordinator_assigns_a_policy_to_support_staff_with_a_due_date(seeded, with_lone_policy):
    at = open_page(as_coordinator(app(), seeded).run(), "assignments")
    no_exceptions(at)
    at.selectbox(key="assign-policy").set_value("lone-working-policy")
    at = at.run()
    at.multiselect(key="assign-roles").set_value(["support_staff"])
    due = date.today() + timedelta(days=14)
    at.date_input(key="assign-due").set_value(due)
    at.checkbox(key="assign-quiz").check()
    next(b for b in at.button if b.label == "Save assignment").click()
    at = at.run()
    no_exceptions(at)
    assert "Assigned to Support staff." in texts(at)
    table = at.dataframe[0].value
    assert table.iloc[0].to_dict() == {"Policy": "Lone Working Policy", "Who": "Support staff",
                                       "Due": due.strftime("%d/%m/%Y"), "Read and sign": "Yes",
                                       "Pass the quiz": "Yes", "What to sign": "The whole policy"}
    assert assignments.list_assignments(seeded)[0]["due"] == due


def test_support_staff_see_their_list_sign_and_the_dashboard_shows_it(seeded, with_lone_policy):
    assignments.set_assignment(seeded, "lone-working-policy", "support_staff", due=date.today() - timedelta(days=1),
                               sign=True, quiz=False)
    coordinator = open_page(as_coordinator(app(), seeded).run(), "dashboard")
    no_exceptions(coordinator)
    assert "Overdue (1)" in texts(coordinator)
    assert any(b.label == "Download the overdue list (CSV)" for b in coordinator.get("download_button"))

    at = open_page(as_user(app(), seeded, "bob@school.example").run(), "my-policies")
    no_exceptions(at)
    page = texts(at)
    assert "Lone Working Policy" in page and "Overdue — still to do: signature" in page
    at.checkbox(key="agree-lone-working-policy").check()
    at.text_input(key="name-lone-working-policy").input("Wrong Name")
    next(b for b in at.button if b.label == "Sign").click()
    at = at.run()
    assert any("full name" in e.value for e in at.error)
    at.text_input(key="name-lone-working-policy").input("Bob Support")
    next(b for b in at.button if b.label == "Sign").click()
    at = at.run()
    no_exceptions(at)
    assert "Signed: Lone Working Policy." in texts(at) and "Done" in texts(at)
    [signoff] = [s for s in reports.my_signoffs(seeded, "bob@school.example") if s["policy"] == "lone-working-policy"]
    assert signoff["signed_name"] == "Bob Support" and signoff["role"] == "support_staff"

    coordinator = open_page(as_coordinator(app(), seeded).run(), "dashboard")
    assert "Nobody is overdue." in texts(coordinator)


def test_a_teacher_with_nothing_assigned_is_told_so(seeded, with_lone_policy):
    assignments.set_assignment(seeded, "lone-working-policy", "support_staff", due=None, sign=True, quiz=False)
    at = open_page(as_user(app(), seeded, "alice@school.example").run(), "my-policies")
    no_exceptions(at)
    assert "Nothing has been assigned to you yet." in texts(at)


def test_chat_todo_card_shows_what_is_overdue_with_its_date(seeded, with_lone_policy):
    due = date.today() - timedelta(days=12)
    assignments.set_assignment(seeded, "lone-working-policy", "support_staff", due=due, sign=True, quiz=True)
    assignments.set_assignment(seeded, "social-media-policy", "support_staff", due=date.today() + timedelta(days=5),
                               sign=True, quiz=False)  # open but not yet due: not overdue
    at = as_user(app(), seeded, "bob@school.example").run()  # the chat opens after sign-in
    no_exceptions(at)
    card = [e.value.replace("\\", "") for e in at.error]
    assert card == [f"Overdue: Lone Working Policy — signature, quiz pass was due {due.day} {due:%B %Y} "
                    f"(12 days ago)."]
    alice = as_user(app(), seeded, "alice@school.example").run()  # a teacher: nothing assigned, nothing overdue
    no_exceptions(alice)
    assert not [e for e in alice.error if "Overdue" in e.value]


def test_human_date_says_how_long_ago():
    from ui.views.chat import human_date

    today = date(2026, 12, 2)
    assert human_date(date(2026, 11, 3), today) == "3 November 2026 (29 days ago)"
    assert human_date(date(2026, 12, 1), today) == "1 December 2026 (yesterday)"
    assert human_date(date(2026, 12, 2), today) == "2 December 2026 (today)"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_coordinator_emails_overdue_reminders_when_smtp_is_configured(seeded, with_lone_policy, monkeypatch):
    from aiosmtpd.controller import Controller

    from tests.test_reminders import Inbox, _free_port

    assignments.set_assignment(seeded, "lone-working-policy", "support_staff", due=date.today() - timedelta(days=1),
                               sign=True, quiz=False)
    at = open_page(as_coordinator(app(), seeded).run(), "assignments")
    assert not any(b.label == "Email overdue reminders" for b in at.button)  # SMTP not configured: off
    assert any("Email reminders are off" in c.value for c in at.caption)
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_SECURITY": "none",
                            "SMTP_FROM": "coach@school.example"}.items():
            monkeypatch.setenv(name, value)
        at = open_page(as_coordinator(app(), seeded).run(), "assignments")
        next(b for b in at.button if b.label == "Email overdue reminders").click()
        at = at.run()
        no_exceptions(at)
    finally:
        controller.stop()
    assert [rcpt for rcpt, _ in inbox.messages] == [["bob@school.example"]]
    assert any(s.value == "Sent 1 reminder email." for s in at.success)


def test_a_changed_signed_clause_asks_to_sign_again_and_names_the_changed_clauses(seeded, with_lone_policy, env,
                                                                                 tmp_path):
    assignments.set_assignment(seeded, "lone-working-policy", "support_staff", due=None, sign=True, quiz=False)
    at = open_page(as_user(app(), seeded, "bob@school.example").run(), "my-policies")
    at.checkbox(key="agree-lone-working-policy").check()
    at.text_input(key="name-lone-working-policy").input("Bob Support")
    next(b for b in at.button if b.label == "Sign").click()
    at.run()
    changed = LONE.read_text().replace("when they leave the visit", "when they arrive and when they leave")
    new_file = tmp_path / "v2" / "lone-working-policy.txt"
    new_file.parent.mkdir()
    new_file.write_text(changed)
    report = ingest([new_file], Path(env["POLICY_COACH_INDEX"]), HashingEncoder())
    assert report.changes["lone-working-policy"]["changed"] == ["2.2"]
    reports.record_policy_version(seeded, policy="lone-working-policy", checksum="v2", title="Lone Working Policy",
                                  changes=report.changes["lone-working-policy"], uploaded_by="coord@school.example")
    at = open_page(as_user(app(), seeded, "bob@school.example").run(), "my-policies")
    no_exceptions(at)
    page = texts(at)
    assert "The text you signed has changed in a new version" in page
    assert "A new version changed clause 2.2. Read them again before you sign." in page
    at.checkbox(key="agree-lone-working-policy").check()
    at.text_input(key="name-lone-working-policy").input("Bob Support")
    next(b for b in at.button if b.label == "Sign").click()
    at = at.run()
    no_exceptions(at)
    assert "Done" in texts(at) and "A new version changed" not in texts(at)
