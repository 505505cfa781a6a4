"""Overdue reminders by email: sent through a real local SMTP server (aiosmtpd), only when SMTP is configured."""
from __future__ import annotations

import socket
from datetime import date
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from bot.training import accounts, assignments
from bot.training.reminders import RemindersOff, send_overdue_reminders
from bot.training.store import Store
from knowledge.encoder import HashingEncoder
from knowledge.index import ingest, load
from knowledge.settings import settings_from

ROOT = Path(__file__).resolve().parent.parent
LONE = ROOT / "tests" / "fixtures" / "policies" / "lone-working-policy.txt"
ROSTER = ("name,email,role\nSam Support,sam@school.example,support_staff\nTia Teacher,tia@school.example,teacher\n"
          "Sue Site,sue@school.example,support_staff\n")
TODAY = date(2026, 12, 1)
# the test server takes a password over plain SMTP on 127.0.0.1; aiosmtpd warns about that, rightly, elsewhere
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class Inbox:
    """An aiosmtpd handler keeping every message it is given, and the login it was given."""

    def __init__(self):
        self.messages = []
        self.logins = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("sue@"):  # a mailbox the school's server refuses
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=default_policy)))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def school(tmp_path, sqlite_url):
    store = Store(sqlite_url)
    accounts.import_roster(store, ROSTER)
    ingest([LONE], tmp_path / "index", HashingEncoder())
    index = load(tmp_path / "index")
    assignments.set_assignment(store, "lone-working-policy", "support_staff", due=date(2026, 11, 20), sign=True,
                               quiz=True)
    assignments.set_assignment(store, "lone-working-policy", "teacher", due=date(2027, 1, 31), sign=True, quiz=False)
    return store, index


def _settings(port: int, **extra):
    return settings_from({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_SECURITY": "none",
                          "SMTP_USER": "coach", "SMTP_PASSWORD": "s3cret", "SMTP_FROM": "coach@school.example",
                          "POLICY_COACH_URL": "http://coach.school.example", **extra})


def test_each_overdue_person_gets_one_email_listing_what_is_left(smtp, school):
    inbox, port = smtp
    store, index = school
    report = send_overdue_reminders(store, index, _settings(port), TODAY)
    assert report.overdue == ["sam@school.example", "sue@school.example"]  # Tia's is not due yet
    # the server refused Sue's mailbox: reported, and Sam's email still went
    assert report.sent == ["sam@school.example"] and [e for e, _ in report.failed] == ["sue@school.example"]
    assert inbox.logins == [("coach", "s3cret")]
    by_rcpt = {tuple(rcpt): message for rcpt, message in inbox.messages}
    assert set(by_rcpt) == {("sam@school.example",)}
    message = by_rcpt[("sam@school.example",)]
    assert message["From"] == "coach@school.example" and message["To"] == "Sam Support <sam@school.example>"
    assert message["Subject"] == "Policy training overdue: 1 policy to complete"
    body = message.get_content()
    assert "Dear Sam Support," in body
    assert "- Lone Working Policy (due 20/11/2026): still to do: signature, quiz pass" in body
    assert "http://coach.school.example" in body


def test_nobody_overdue_sends_nothing(smtp, school):
    inbox, port = smtp
    store, index = school
    report = send_overdue_reminders(store, index, _settings(port), date(2026, 11, 1))
    assert report.overdue == [] and report.sent == [] and inbox.messages == [] and inbox.logins == []


def test_reminders_are_off_without_smtp_settings(school):
    store, index = school
    with pytest.raises(RemindersOff, match="SMTP_HOST"):
        send_overdue_reminders(store, index, settings_from({}), TODAY)


def test_the_remind_command_dry_run_then_sends(smtp, school, tmp_path, sqlite_url, monkeypatch, capsys):
    from bot.cli import main

    inbox, port = smtp
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    assert main(["remind", "--index", str(tmp_path / "index"), "--today", "2026-12-01"]) == 1  # SMTP not set
    assert "SMTP_HOST" in capsys.readouterr().err
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_SECURITY": "none",
                        "SMTP_USER": "coach", "SMTP_PASSWORD": "s3cret", "SMTP_FROM": "coach@school.example"}.items():
        monkeypatch.setenv(name, value)
    assert main(["remind", "--index", str(tmp_path / "index"), "--today", "2026-12-01", "--dry-run"]) == 0
    assert "2 people have overdue training: sam@school.example, sue@school.example (dry run" in capsys.readouterr().out
    assert inbox.messages == []
    assert main(["remind", "--index", str(tmp_path / "index"), "--today", "2026-12-01"]) == 1  # one refused
    out, err = capsys.readouterr()
    assert "sent 1 reminder email; failed: 1" in out and "not sent to sue@school.example" in err
    assert len(inbox.messages) == 1
