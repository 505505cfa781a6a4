"""Overdue reminders by email, only when the school has configured an SMTP server (SMTP_* settings).

One email per person, listing every assigned policy that is past its due date and what is still to do.
Sent with the standard library's smtplib; the caller passes the settings, so this module reads no environment.
"""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from bot.training.assignments import completion_by_policy
from bot.training.store import Store


class RemindersOff(RuntimeError):
    """No SMTP server is configured, so no reminder can be emailed."""


@dataclass
class ReminderReport:
    """Who was emailed, and who could not be (with the reason)."""

    overdue: list[str] = field(default_factory=list)  # everyone with overdue training who has an email address
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # overdue but no email address on the roster


def overdue_by_person(store: Store, index, today: date | None = None) -> list[dict]:
    """[{"name", "email", "items": [{"policy", "due", "missing"}]}] for everyone with overdue training."""
    _, overdue = completion_by_policy(store, index, today)
    people: dict[tuple, dict] = {}
    for row in overdue:
        person = people.setdefault((row["Name"], row["Email"]), {"name": row["Name"], "email": row["Email"],
                                                                 "items": []})
        person["items"].append({"policy": row["Policy"], "due": row["Due"], "missing": row["Still to do"]})
    return list(people.values())


def reminder_message(person: dict, *, sender: str, school_url: str | None = None) -> EmailMessage:
    """The reminder email for one person (plain text)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((person["name"] or "", person["email"]))
    n = len(person["items"])
    message["Subject"] = f"Policy training overdue: {n} {'policy' if n == 1 else 'policies'} to complete"
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    lines = [f"Dear {person['name'] or 'colleague'},", "",
             "The following policy training assigned to you is past its due date:", ""]
    lines += [f"- {item['policy']} (due {item['due']}): still to do: {item['missing']}" for item in person["items"]]
    where = f"Policy Coach ({school_url})" if school_url else "Policy Coach"
    lines += ["", f"Please sign in to {where} and open My policies to complete it.", "",
              "This is an automatic reminder sent for your school's e-safety coordinator."]
    message.set_content("\n".join(lines))
    return message


def _connect(settings) -> smtplib.SMTP:
    host, port = settings.smtp_host, settings.smtp_port
    if settings.smtp_security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=30, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, port, timeout=30)
        if settings.smtp_security == "starttls":
            client.starttls(context=ssl.create_default_context())
    if settings.smtp_user:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
        client.login(settings.smtp_user, password)
    return client


def send_overdue_reminders(store: Store, index, settings, today: date | None = None, *,
                           dry_run: bool = False) -> ReminderReport:
    """Email every person with overdue training (one email each); RemindersOff when SMTP isn't configured."""
    if not settings.smtp_enabled:
        raise RemindersOff("Email reminders are off: the school has not configured an SMTP server (SMTP_HOST).")
    report = ReminderReport()
    people = overdue_by_person(store, index, today)
    with_email = [p for p in people if p["email"]]
    report.skipped = [p["name"] for p in people if not p["email"]]
    report.overdue = [p["email"] for p in with_email]
    if dry_run or not with_email:
        return report
    sender = settings.smtp_from or settings.smtp_user
    with _connect(settings) as client:
        for person in with_email:
            try:
                client.send_message(reminder_message(person, sender=sender, school_url=settings.app_url))
                report.sent.append(person["email"])
            except smtplib.SMTPException as exc:  # one refused address doesn't stop the others
                report.failed.append((person["email"], str(exc)))
    return report
