"""Sign-in: the staff roster (CSV import), first-use passwords (bcrypt), coordinator accounts and lock-out."""
from __future__ import annotations

import csv
import io
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import bcrypt
from sqlalchemy import select

from bot.bank import ROLES
from bot.store import Staff, Store, utcnow

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_BYTES = 72  # bcrypt ignores anything longer, so refuse it rather than silently truncate
MAX_FAILURES = 5  # wrong passwords in a row before a lock-out
LOCKOUT_SECONDS = 300
COORDINATOR_PREFIX = "coordinator:"
ROLE_LABELS = {
    "teacher": "Teacher",
    "support_staff": "Support staff",
    "governor": "Governor / management committee",
    "contractor": "Contractor",
    "volunteer": "Volunteer",
}
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


# -- passwords ----------------------------------------------------------------
def hash_password(password: str) -> str:
    """A bcrypt hash of the password (salted; the clear text is never stored)."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")


def check_password(password: str, hashed: str | None) -> bool:
    """Whether the password matches a bcrypt hash (False for no hash or an over-long password)."""
    if not hashed or not password:
        return False
    data = password.encode("utf-8")
    if len(data) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(data, hashed.encode("ascii"))
    except ValueError:
        return False


def password_problem(password: str, confirm: str | None = None) -> str | None:
    """Why a new password is not acceptable, or None if it is."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        return f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters."
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        return f"That password is too long: use at most {MAX_PASSWORD_BYTES} characters."
    if not password.strip():
        return "A password can't be only spaces."
    if confirm is not None and confirm != password:
        return "The two passwords don't match."
    return None


# -- identities ---------------------------------------------------------------
def normalise_email(email: str) -> str:
    """Lower-cased, trimmed email (the roster key and a staff member's Rasa sender id)."""
    return (email or "").strip().lower()


def normalise_name(name: str) -> str:
    """A name compared without case or extra spaces."""
    return " ".join((name or "").split()).casefold()


def normalise_role(role: str) -> str:
    """'Support staff' / 'support-staff' / 'SUPPORT_STAFF' -> 'support_staff'."""
    return re.sub(r"[\s-]+", "_", (role or "").strip().lower())


def new_chat_id() -> str:
    """A fresh opaque Rasa sender id (never derived from the email, so it can't be guessed)."""
    return "c_" + secrets.token_urlsafe(24)


def identity(staff: Staff) -> dict:
    """The signed-in identity kept in the session: who, their role, the records key and the opaque chat id.

    `sender_id` is the records key (the email) used by the app's own pages; `chat_id` is what Rasa sees.
    """
    if not staff.chat_id:
        staff.chat_id = new_chat_id()
    return {
        "sender_id": staff.sender_id,
        "chat_id": staff.chat_id,
        "generation": staff.session_generation or 0,
        "name": staff.name or staff.email or staff.sender_id,
        "email": staff.email or staff.sender_id.removeprefix(COORDINATOR_PREFIX),
        "role": "coordinator" if staff.is_coordinator else staff.role,
        "is_coordinator": bool(staff.is_coordinator),
    }


# -- roster -------------------------------------------------------------------
@dataclass
class RosterRow:
    line: int
    name: str
    email: str
    role: str


@dataclass
class RosterReport:
    """What a roster import did: good rows kept, bad rows reported with their line numbers."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number in the file, problem)

    @property
    def ok(self) -> int:
        """How many rows were stored."""
        return len(self.added) + len(self.updated)


def parse_roster(data: str | bytes) -> tuple[list[RosterRow], list[tuple[int, str]]]:
    """Read a roster CSV (name, email, role); return the good rows and (line, problem) for each bad one."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            data = data.decode("cp1252", errors="replace")
    data = data.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(data))
    rows: list[RosterRow] = []
    errors: list[tuple[int, str]] = []
    header: list[str] | None = None
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = [c.strip().lower() for c in record]
            missing = [c for c in ("name", "email", "role") if c not in header]
            if missing:
                return [], [(line, "the first line must be the header name,email,role "
                                   f"(missing: {', '.join(missing)})")]
            continue
        cells = dict(zip(header, (c.strip() for c in record)))
        name, email, role = cells.get("name", ""), normalise_email(cells.get("email", "")), cells.get("role", "")
        problems = []
        if len(record) < len(header):
            problems.append(f"expected {len(header)} columns, found {len(record)}")
        if not name:
            problems.append("name is empty")
        elif len(name) > 200:
            problems.append("name is longer than 200 characters")
        if not email:
            problems.append("email is empty")
        elif not _EMAIL.match(email) or len(email) > 254:
            problems.append(f"'{email}' is not a valid email address")
        elif email.startswith(COORDINATOR_PREFIX):
            problems.append("email cannot start with 'coordinator:'")
        role_key = normalise_role(role)
        if role_key not in ROLES:
            problems.append(f"role '{role}' is not one of {', '.join(ROLES)}" if role else "role is empty")
        if email and email in seen and not problems:
            problems.append(f"{email} is already on line {seen[email]}")
        if problems:
            errors.append((line, "; ".join(problems)))
            continue
        seen[email] = line
        rows.append(RosterRow(line, " ".join(name.split()), email, role_key))
    if header is None:
        errors.append((1, "the file is empty: expected a header name,email,role and one line per person"))
    return rows, errors


def import_roster(store: Store, data: str | bytes, *, replace: bool = False) -> RosterReport:
    """Add or update the good rows of a roster CSV; with replace, people missing from the file leave the roster."""
    rows, errors = parse_roster(data)
    report = RosterReport(errors=errors)
    if not rows and errors:
        return report
    with store.session() as session:
        for row in rows:
            staff = session.scalar(select(Staff).where(Staff.sender_id == row.email))
            if staff is not None and not staff.on_roster and not staff.email and not staff.is_coordinator:
                # A row someone created by chatting under this address before it was on the roster: its
                # records were never proven to be this person's, so they stay apart and are not adopted.
                staff.sender_id = f"unclaimed:{staff.id}:{row.email}"[:200]
                staff.chat_id = None
                staff = None
            if staff is None:
                staff = session.scalar(select(Staff).where(Staff.email == row.email))
            if staff is None:
                session.add(Staff(sender_id=row.email, email=row.email, name=row.name, role=row.role,
                                  on_roster=True, is_coordinator=False))
                report.added.append(row.email)
                continue
            changed = (staff.name, staff.role, staff.on_roster, staff.email) != (row.name, row.role, True, row.email)
            staff.name, staff.role, staff.on_roster, staff.email = row.name, row.role, True, row.email
            if changed:
                report.updated.append(row.email)
        if replace:
            keep = {row.email for row in rows}
            for staff in session.scalars(select(Staff).where(Staff.on_roster.is_(True))).all():
                if staff.sender_id not in keep:
                    staff.on_roster = False
                    _end_sessions(staff)
                    report.removed.append(staff.sender_id)
    return report


def _end_sessions(staff: Staff) -> None:
    """Sign the person out everywhere at once: a new chat id and a new cookie generation."""
    staff.chat_id = None
    staff.session_generation = (staff.session_generation or 0) + 1


# -- lock-out -----------------------------------------------------------------
class Lockout:
    """Counts wrong passwords per account and locks it briefly after too many (shared by all sessions)."""

    def __init__(self, max_failures: int = MAX_FAILURES, seconds: float = LOCKOUT_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.max_failures = max_failures
        self.seconds = seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, int] = {}
        self._until: dict[str, float] = {}

    def remaining(self, key: str) -> float:
        """Seconds left on a lock-out (0 when not locked)."""
        with self._lock:
            until = self._until.get(key, 0.0)
            left = until - self.clock()
            if left <= 0 and until:
                self._until.pop(key, None)
                self._failures.pop(key, None)
            return max(0.0, left)

    def fail(self, key: str) -> int:
        """Record a wrong password; return how many tries are left before a lock-out (0: now locked)."""
        with self._lock:
            count = self._failures.get(key, 0) + 1
            self._failures[key] = count
            if count >= self.max_failures:
                self._until[key] = self.clock() + self.seconds
                return 0
            return self.max_failures - count

    def succeed(self, key: str) -> None:
        """Forget the failures of an account after a good sign-in."""
        with self._lock:
            self._failures.pop(key, None)
            self._until.pop(key, None)


LOCKOUT = Lockout()


# -- sign-in ------------------------------------------------------------------
@dataclass
class SignIn:
    """The outcome of a sign-in attempt: ok, set_password (first use), or refused with a message."""

    status: str  # ok | set_password | refused | locked
    message: str = ""
    user: dict | None = None


def _locked_message(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return (f"Too many wrong passwords. This account is locked for about {minutes} minute"
            f"{'s' if minutes != 1 else ''}; try again then, or ask your coordinator.")


def _check(lockout: Lockout, key: str, staff: Staff, password: str) -> SignIn:
    if check_password(password, staff.password_hash):
        lockout.succeed(key)
        staff.last_active_at = utcnow()
        return SignIn("ok", user=identity(staff))
    left = lockout.fail(key)
    if left == 0:
        return SignIn("locked", _locked_message(lockout.seconds))
    return SignIn("refused", f"Wrong password. {left} more {'try' if left == 1 else 'tries'} before a short "
                             "lock-out. If you've forgotten it, ask your coordinator to reset it.")


def sign_in_staff(store: Store, name: str, email: str, password: str, *, lockout: Lockout = LOCKOUT) -> SignIn:
    """Check a staff member's name, school email and password against the roster."""
    key = normalise_email(email)
    if not key or not normalise_name(name):
        return SignIn("refused", "Enter your name and your school email.")
    left = lockout.remaining(key)
    if left:
        return SignIn("locked", _locked_message(left))
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == key, Staff.on_roster.is_(True)))
        if staff is None or normalise_name(staff.name or "") != normalise_name(name):
            return SignIn("refused", "That name and email aren't on the staff roster. Check the spelling "
                                     "(use your school email) or ask your coordinator to add you.")
        if not staff.password_hash:
            return SignIn("set_password", "Welcome! This is your first sign-in: choose a password.",
                          user=identity(staff))
        if not password:
            return SignIn("refused", "Enter your password.")
        return _check(lockout, key, staff, password)


def set_first_password(store: Store, name: str, email: str, password: str, confirm: str | None = None) -> SignIn:
    """Set the password of a roster member who has none yet (first use); signs them in."""
    problem = password_problem(password, confirm)
    if problem:
        return SignIn("set_password", problem)
    key = normalise_email(email)
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == key, Staff.on_roster.is_(True)))
        if staff is None or normalise_name(staff.name or "") != normalise_name(name):
            return SignIn("refused", "That name and email aren't on the staff roster.")
        if staff.password_hash:
            return SignIn("refused", "A password is already set for this account. Sign in with it, or ask your "
                                     "coordinator to reset it.")
        staff.password_hash = hash_password(password)
        staff.last_active_at = utcnow()
        return SignIn("ok", user=identity(staff))


def reset_password(store: Store, email: str) -> bool:
    """Clear a roster member's password so they choose a new one at next sign-in (coordinator action)."""
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == normalise_email(email)))
        if staff is None or staff.is_coordinator:
            return False
        staff.password_hash = None
        _end_sessions(staff)
    LOCKOUT.succeed(normalise_email(email))
    return True


def sign_in_sso(store: Store, email: str | None) -> SignIn:
    """Match a single-sign-on user to the roster by email (the identity provider has checked them)."""
    key = normalise_email(email or "")
    if not key:
        return SignIn("refused", "Your single sign-on account didn't share an email address.")
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == key, Staff.on_roster.is_(True)))
        if staff is None:
            return SignIn("refused", f"{key} isn't on the staff roster. Ask your coordinator to add you.")
        staff.last_active_at = utcnow()
        return SignIn("ok", user=identity(staff))


# -- coordinators -------------------------------------------------------------
def coordinator_sender(email: str) -> str:
    """The internal id of a coordinator account (kept apart from the staff roster)."""
    return COORDINATOR_PREFIX + normalise_email(email)


def ensure_coordinator(store: Store, email: str, password: str, *, name: str | None = None) -> bool:
    """Create a coordinator account, or reset its password to this one; return True if anything changed."""
    key = normalise_email(email)
    if not _EMAIL.match(key):
        raise ValueError(f"'{email}' is not a valid email address for a coordinator")
    problem = password_problem(password)
    if problem:
        raise ValueError(f"coordinator password: {problem}")
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == coordinator_sender(key)))
        if staff is None:
            session.add(Staff(sender_id=coordinator_sender(key), name=name or key, role="coordinator",
                              password_hash=hash_password(password), is_coordinator=True, on_roster=False))
            return True
        if check_password(password, staff.password_hash) and staff.is_coordinator:
            return False
        staff.password_hash = hash_password(password)
        staff.is_coordinator = True
        return True


def bootstrap_coordinator(store: Store, env: dict, secrets: dict | None = None) -> str | None:
    """Create the first coordinator from COORDINATOR_EMAIL / COORDINATOR_PASSWORD (env first, then secrets)."""
    secrets = secrets or {}
    email = (env.get("COORDINATOR_EMAIL") or secrets.get("COORDINATOR_EMAIL") or "").strip()
    password = env.get("COORDINATOR_PASSWORD") or secrets.get("COORDINATOR_PASSWORD") or ""
    if not email or not password:
        return None
    ensure_coordinator(store, email, password)
    return normalise_email(email)


def sign_in_coordinator(store: Store, email: str, password: str, *, lockout: Lockout = LOCKOUT) -> SignIn:
    """Check a coordinator's email and password."""
    key = coordinator_sender(email)
    if not normalise_email(email) or not password:
        return SignIn("refused", "Enter your coordinator email and password.")
    left = lockout.remaining(key)
    if left:
        return SignIn("locked", _locked_message(left))
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == key, Staff.is_coordinator.is_(True)))
        if staff is None:
            lockout.fail(key)
            return SignIn("refused", "Wrong coordinator email or password.")
        result = _check(lockout, key, staff, password)
        if result.status == "refused":
            result.message = "Wrong coordinator email or password. " + result.message.split(". ", 1)[1]
        return result


def is_coordinator(store: Store, sender_id: str) -> bool:
    """Whether a sender id belongs to a coordinator account (re-checked against the database)."""
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == sender_id))
        return bool(staff and staff.is_coordinator)
