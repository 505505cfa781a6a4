"""Sign-in: the staff roster (CSV import), first-use passwords (bcrypt), coordinator accounts and lock-out."""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

import bcrypt
from sqlalchemy import select, update
from zxcvbn import zxcvbn

from bot.training.roles import ROLE_LABELS, ROLES
from bot.training.store import JobTitle, Staff, Store, utcnow

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_BYTES = 72  # bcrypt ignores anything longer, so refuse it rather than silently truncate
MIN_PASSWORD_SCORE = 3  # zxcvbn's 0-4 scale: 3 = "safely unguessable" against online attacks
BCRYPT_ROUNDS = 12  # bcrypt's own default work factor (the fast tests lower it: tests/conftest.py)
MAX_FAILURES = 5  # wrong passwords in a row before a lock-out
LOCKOUT_SECONDS = 300
COORDINATOR_PREFIX = "coordinator:"
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


# -- passwords ----------------------------------------------------------------
def hash_password(password: str) -> str:
    """A bcrypt hash of the password (salted; the clear text is never stored)."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(BCRYPT_ROUNDS)).decode("ascii")


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


def password_problem(password: str, confirm: str | None = None, *, user_inputs: list[str] | None = None) -> str | None:
    """Why a new password is not acceptable (too short, too long, too guessable by zxcvbn), or None if it is."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        return f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters."
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        return f"That password is too long: use at most {MAX_PASSWORD_BYTES} characters."
    if not password.strip():
        return "A password can't be only spaces."
    if confirm is not None and confirm != password:
        return "The two passwords don't match."
    strength = zxcvbn(password, user_inputs=[u for u in (user_inputs or []) if u])
    if strength["score"] < MIN_PASSWORD_SCORE:
        hint = (strength.get("feedback") or {}).get("warning") or ""
        return ("That password is too easy to guess" + (f" ({hint.rstrip('.').lower()})" if hint else "") +
                ". Try a few unrelated words together.")
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


# Job titles schools really put in the role column, and the role each counts as. The coordinator can add or
# change titles (stored in job_titles); these are the starting point. Keys are normalised by title_key().
JOB_TITLES = {
    "teaching assistant": "support_staff", "ta": "support_staff", "hlta": "support_staff",
    "higher level teaching assistant": "support_staff", "learning support assistant": "support_staff",
    "lsa": "support_staff", "cover supervisor": "support_staff", "midday supervisor": "support_staff",
    "lunchtime supervisor": "support_staff", "office manager": "support_staff", "administrator": "support_staff",
    "admin": "support_staff", "receptionist": "support_staff", "business manager": "support_staff",
    "site manager": "support_staff", "caretaker": "support_staff", "technician": "support_staff",
    "it technician": "support_staff", "librarian": "support_staff", "cook": "support_staff",
    "kitchen assistant": "support_staff", "cleaner": "support_staff", "nursery nurse": "support_staff",
    "teacher": "teacher", "class teacher": "teacher", "headteacher": "teacher", "head teacher": "teacher",
    "deputy headteacher": "teacher", "deputy head": "teacher", "assistant head": "teacher",
    "senco": "teacher", "senco teacher": "teacher", "sendco": "teacher", "trainee": "teacher",
    "trainee teacher": "teacher", "ect": "teacher", "nqt": "teacher", "supply": "teacher",
    "supply teacher": "teacher", "head of year": "teacher", "head of department": "teacher",
    "governor": "governor", "chair of governors": "governor", "management committee": "governor",
    "management committee member": "governor", "mc member": "governor", "mc": "governor", "trustee": "governor",
    "contractor": "contractor", "visiting professional": "contractor", "peripatetic teacher": "contractor",
    "volunteer": "volunteer", "parent volunteer": "volunteer", "student volunteer": "volunteer",
}


def title_key(title: str) -> str:
    """A job title compared without case, dots, hyphens or extra spaces ('H.L.T.A.' -> 'hlta')."""
    text = re.sub(r"(?<=\b\w)\.", "", (title or "").casefold())
    return " ".join(re.sub(r"[^\w/&]+|_", " ", text).split())


def role_for(title: str, titles: dict[str, str] | None = None) -> str | None:
    """The role a roster's role/job-title cell counts as, or None when it is not known."""
    key = normalise_role(title)
    if key in ROLES:
        return key
    mapping = JOB_TITLES if titles is None else titles
    found = mapping.get(title_key(title))
    if found:
        return found
    labels = {title_key(label): role for role, label in ROLE_LABELS.items()}
    return labels.get(title_key(title))


def job_titles(store: Store) -> dict[str, str]:
    """Every known job title -> role: the built-in list with the coordinator's additions and changes."""
    merged = dict(JOB_TITLES)
    with store.session() as session:
        merged.update({row.title: row.role for row in session.scalars(select(JobTitle)).all()})
    return merged


def set_job_title(store: Store, title: str, role: str, *, by: str | None = None) -> str:
    """Store (or change) which role a job title counts as; returns the normalised title."""
    key = title_key(title)
    if not key:
        raise ValueError("Type the job title as it appears on your roster.")
    if len(key) > 120:
        raise ValueError("That job title is longer than 120 characters.")
    if role not in ROLES:
        raise ValueError("Choose the role this job title counts as.")
    with store.session() as session:
        row = session.scalar(select(JobTitle).where(JobTitle.title == key))
        if row is None:
            row = JobTitle(title=key)
            session.add(row)
        row.role, row.added_by, row.added_at = role, by, utcnow()
    return key


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


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # tab, LF and CR are the only control characters allowed


def _decode_roster(data: bytes) -> str | None:
    """Text of an uploaded roster: UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode text"), else cp1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if len(data) >= 4 and data[1:4:2] == b"\x00\x00" and data[0] and data[2]:
        try:
            return data.decode("utf-16-le")  # UTF-16 without a byte-order mark
        except UnicodeDecodeError:
            return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return None


MAX_ROSTER_LINE = 2000


def _records(reader, errors: list[tuple[int, str]]):
    """The reader's records; a malformed one ends the file with a line-numbered problem, not a traceback."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append((reader.line_num, f"can't be read as CSV ({exc}); the rest of the file was skipped"))
            return


def _delimiter(text: str) -> str:
    """Comma, semicolon (European Excel) or tab (spreadsheet 'text' export), judged from the header line."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def parse_roster(data: str | bytes, titles: dict[str, str] | None = None) -> tuple[list[RosterRow], list[tuple[int, str]]]:
    """Read a roster CSV (name, email, role or job title); return the good rows and (line, problem) for each
    bad one, the problem naming the person. `titles` maps job titles to roles (default: the built-in list)."""
    if isinstance(data, bytes):
        data = _decode_roster(data)
        if data is None:
            return [], [(1, "the file isn't text in a known encoding: save it as 'CSV UTF-8' from your "
                            "spreadsheet and upload it again")]
    data = data.lstrip("\ufeff")
    delimiter = _delimiter(data)
    errors: list[tuple[int, str]] = []
    lines = data.splitlines(keepends=True)
    for number, text in enumerate(lines, start=1):
        if len(text) > MAX_ROSTER_LINE:  # csv would raise on a huge field; report the line instead
            errors.append((number, f"the line is longer than {MAX_ROSTER_LINE} characters"))
            lines[number - 1] = "\n"
    reader = csv.reader(io.StringIO("".join(lines)), delimiter=delimiter)
    rows: list[RosterRow] = []
    header: list[str] | None = None
    seen: dict[str, int] = {}
    for record in _records(reader, errors):
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = [c.strip().lower() for c in record]
            missing = [c for c in ("name", "email", "role") if c not in header]
            if missing:
                found = {",": "commas", ";": "semicolons", "\t": "tabs"}[delimiter]
                return [], [(line, "the first line must be the header name,email,role "
                                   f"(missing: {', '.join(missing)}; columns read as separated by {found})")]
            continue
        if any(_CONTROL.search(cell) for cell in record):
            errors.append((line, "contains control characters (such as NUL or a form feed); retype this row"))
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
        role_key = role_for(role, titles)
        if role_key is None:
            problems.append(f"the job title '{role}' is not known: add it under 'Job titles and roles' or use "
                            f"one of {', '.join(ROLE_LABELS.values())}" if role else "role is empty")
        if email and email in seen and not problems:
            problems.append(f"{email} is already on line {seen[email]}")
        if problems:
            who = " ".join(name.split())[:80] or email or "(no name or email)"
            errors.append((line, f"{who}: " + "; ".join(problems)))
            continue
        seen[email] = line
        rows.append(RosterRow(line, " ".join(name.split()), email, role_key))
    if header is None:
        errors.append((1, "the file is empty: expected a header name,email,role and one line per person"))
    return rows, errors


def import_roster(store: Store, data: str | bytes, *, replace: bool = False) -> RosterReport:
    """Add or update the good rows of a roster CSV; with replace, people missing from the file leave the roster."""
    rows, errors = parse_roster(data, job_titles(store))
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
@dataclass
class Lockout:
    """The lock-out rule; the count itself lives in the staff row, so every UI process shares it.

    Each attempt first claims a try with one atomic UPDATE ... RETURNING, and only a claimed try may reach
    bcrypt: concurrent guesses can't get more than `max_failures` checks in.
    """

    max_failures: int = MAX_FAILURES
    seconds: float = LOCKOUT_SECONDS
    clock: Callable[[], float] = time.time

    def now(self) -> datetime:
        """The current time by this rule's clock."""
        return datetime.fromtimestamp(self.clock(), timezone.utc)

    def claim(self, store: Store, key: str) -> bool:
        """Count one attempt for an account; False when it is locked (then no password may be checked)."""
        now = self.now()
        with store.session() as session:
            row = session.execute(update(Staff).where(Staff.sender_id == key)
                                  .values(failed_logins=Staff.failed_logins + 1)
                                  .returning(Staff.id, Staff.failed_logins, Staff.locked_until)).first()
            if row is None:
                return True  # no such account: the caller fails it with the same message
            staff_id, count, until = row
            if until is not None and _aware(until) <= now:
                # The lock-out has passed: this attempt is the first of a fresh series.
                session.execute(update(Staff).where(Staff.id == staff_id).values(failed_logins=1, locked_until=None))
                return True
            if count > self.max_failures:
                if until is None:
                    session.execute(update(Staff).where(Staff.id == staff_id)
                                    .values(locked_until=now + timedelta(seconds=self.seconds)))
                return False
            return True

    def succeed(self, store: Store, key: str) -> None:
        """Forget the failures of an account after a good sign-in."""
        with store.session() as session:
            session.execute(update(Staff).where(Staff.sender_id == key).values(failed_logins=0, locked_until=None))


LOCKOUT = Lockout()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


# -- sign-in ------------------------------------------------------------------
FAILED = ("That sign-in didn't work. Check your name, school email and password (or one-time code) and try "
          "again. After several wrong tries an account is paused for a few minutes; your coordinator can help.")


@dataclass
class SignIn:
    """The outcome of a sign-in attempt: ok, or refused with the one message every failure shows."""

    status: str  # ok | refused
    message: str = ""
    user: dict | None = None


def _refused(message: str = FAILED) -> SignIn:
    return SignIn("refused", message)


def _staff_row(session, key: str, name: str | None) -> Staff | None:
    staff = session.scalar(select(Staff).where(Staff.sender_id == key, Staff.on_roster.is_(True)))
    if staff is None or (name is not None and normalise_name(staff.name or "") != normalise_name(name)):
        return None
    return staff


def sign_in_staff(store: Store, name: str, email: str, password: str, *, lockout: Lockout = LOCKOUT) -> SignIn:
    """Check a staff member's name, school email and password; every failure gives the same message."""
    key = normalise_email(email)
    if not key or not normalise_name(name) or not password:
        return _refused("Enter your name, your school email and your password. First time here? Use the "
                        "one-time code from your coordinator under 'First sign-in'.")
    if not lockout.claim(store, key):
        return _refused()
    with store.session() as session:
        staff = _staff_row(session, key, name)
        hashed = staff.password_hash if staff is not None else None
    if not check_password(password, hashed or _timing_hash()):
        return _refused()
    if staff is None or not hashed:
        return _refused()
    lockout.succeed(store, key)
    with store.session() as session:
        staff = _staff_row(session, key, name)
        if staff is None:
            return _refused()
        staff.last_active_at = utcnow()
        return SignIn("ok", user=identity(staff))


_timing: list[str] = []


def _timing_hash() -> str:
    """A throwaway bcrypt hash, so an unknown account costs the same time as a wrong password."""
    if not _timing:
        _timing.append(hash_password(secrets.token_urlsafe(16)))
    return _timing[0]


# -- one-time codes for first use -------------------------------------------------------------------------
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a printed sheet


def _hash_code(code: str) -> str:
    return hashlib.sha256(re.sub(r"[\s-]", "", code or "").upper().encode()).hexdigest()


def issue_claim_code(store: Store, email: str) -> str | None:
    """A new one-time code for a roster member's first sign-in (or after a reset); shown once, stored hashed.

    Returns None when the email is not a current roster member.
    """
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == normalise_email(email),
                                                   Staff.on_roster.is_(True)))
        if staff is None:
            return None
        staff.claim_code_hash = _hash_code(code)
    return "-".join(code[i:i + 4] for i in range(0, 12, 4))


def issue_codes_for_unclaimed(store: Store) -> list[dict]:
    """New one-time codes for every roster member without a password: [{name, email, role, code}]."""
    with store.session() as session:
        people = [(s.name, s.sender_id, s.role) for s in session.scalars(
            select(Staff).where(Staff.on_roster.is_(True), Staff.password_hash.is_(None)).order_by(Staff.name))]
    return [{"name": name, "email": email, "role": ROLE_LABELS.get(role, role), "code": issue_claim_code(store, email)}
            for name, email, role in people]


def claim_account(store: Store, name: str, email: str, code: str, password: str, confirm: str | None = None,
                  *, lockout: Lockout = LOCKOUT) -> SignIn:
    """First use: the one-time code from the coordinator proves who this is; then the chosen password is set."""
    key = normalise_email(email)
    if not key or not normalise_name(name) or not (code or "").strip():
        return _refused("Enter your name, school email and the one-time code from your coordinator.")
    problem = password_problem(password, confirm, user_inputs=[name, key])
    if problem:
        return SignIn("weak", problem)
    if not lockout.claim(store, key):
        return _refused()
    with store.session() as session:
        staff = _staff_row(session, key, name)
        if staff is None or not staff.claim_code_hash or staff.password_hash or \
                not hmac.compare_digest(staff.claim_code_hash, _hash_code(code)):
            return _refused()
        staff.password_hash = hash_password(password)
        staff.claim_code_hash = None
        staff.claimed_at = utcnow()
        staff.last_active_at = utcnow()
        staff.failed_logins, staff.locked_until = 0, None
        return SignIn("ok", user=identity(staff))


def reset_password(store: Store, email: str) -> bool:
    """Clear a roster member's password and end their sessions; they need a new one-time code to sign in."""
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == normalise_email(email)))
        if staff is None or staff.is_coordinator:
            return False
        staff.password_hash = None
        staff.claim_code_hash = None
        staff.claimed_at = None
        staff.failed_logins, staff.locked_until = 0, None
        _end_sessions(staff)
    return True


def resume_session(store: Store, sender_id: str, generation: int) -> dict | None:
    """The identity for a signed cookie's account if it may still sign in (same generation), else None."""
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == sender_id))
        if not staff or not (staff.on_roster or staff.is_coordinator) or not staff.password_hash \
                or (staff.session_generation or 0) != generation:
            return None
        staff.last_active_at = utcnow()
        return identity(staff)


def session_valid(store: Store, sender_id: str, generation: int) -> bool:
    """Whether a signed-in session may go on: still on the roster (or a coordinator), not reset since."""
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == sender_id))
        return bool(staff and (staff.on_roster or staff.is_coordinator)
                    and (staff.session_generation or 0) == generation)


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


class CoordinatorExists(ValueError):
    """A coordinator with that email already exists (its password is never silently replaced)."""


def ensure_coordinator(store: Store, email: str, password: str, *, name: str | None = None,
                       replace: bool = False) -> bool:
    """Create a coordinator account; return True if anything changed.

    An existing account keeps its password unless `replace` (the server's own COORDINATOR_PASSWORD setting
    rotates it); adding one from the app with an email already in use raises CoordinatorExists.
    """
    key = normalise_email(email)
    if not _EMAIL.match(key):
        raise ValueError(f"'{email}' is not a valid email address for a coordinator")
    problem = password_problem(password, user_inputs=[key])
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
        if not replace:
            raise CoordinatorExists(f"There is already a coordinator account for {key}. Its password was not "
                                    "changed.")
        staff.password_hash = hash_password(password)
        staff.is_coordinator = True
        _end_sessions(staff)
        return True


def bootstrap_coordinator(store: Store, env: dict, secrets: dict | None = None) -> str | None:
    """Create the first coordinator from COORDINATOR_EMAIL / COORDINATOR_PASSWORD (env first, then secrets)."""
    secrets = secrets or {}
    email = (env.get("COORDINATOR_EMAIL") or secrets.get("COORDINATOR_EMAIL") or "").strip()
    password = env.get("COORDINATOR_PASSWORD") or secrets.get("COORDINATOR_PASSWORD") or ""
    if not email or not password:
        return None
    ensure_coordinator(store, email, password, replace=True)
    return normalise_email(email)


def sign_in_coordinator(store: Store, email: str, password: str, *, lockout: Lockout = LOCKOUT) -> SignIn:
    """Check a coordinator's email and password; every failure gives the same message."""
    key = coordinator_sender(email)
    if not normalise_email(email) or not password:
        return _refused("Enter your coordinator email and password.")
    if not lockout.claim(store, key):
        return _refused()
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == key, Staff.is_coordinator.is_(True)))
        hashed = staff.password_hash if staff is not None else None
    if not check_password(password, hashed or _timing_hash()) or not hashed:
        return _refused()
    lockout.succeed(store, key)
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == key, Staff.is_coordinator.is_(True)))
        staff.last_active_at = utcnow()
        return SignIn("ok", user=identity(staff))


def is_coordinator(store: Store, sender_id: str) -> bool:
    """Whether a sender id belongs to a coordinator account (re-checked against the database)."""
    with store.session() as session:
        staff = session.scalar(select(Staff).where(Staff.sender_id == sender_id))
        return bool(staff and staff.is_coordinator)
