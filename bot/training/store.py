"""Scores, answers, question log and sign-offs in a SQL database (SQLite by default, Postgres by DATABASE_URL)."""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class StoreUnavailable(RuntimeError):
    """The database cannot be reached; the message is safe to show a user."""


ACTIVE_RESOLUTION = timedelta(minutes=1)  # "last active" is shown to the minute at most


def utcnow() -> datetime:
    """Current UTC time (timezone-aware)."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Staff(Base):
    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(200), unique=True, index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), unique=True, index=True)
    role: Mapped[str | None] = mapped_column(String(50))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_coordinator: Mapped[bool] = mapped_column(Boolean, default=False)
    on_roster: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_active_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Security (migration 0002): the opaque id the app gives Rasa for this person (re-issued on reset, so an
    # old id stops at once), the sign-in session generation, the database lock-out, the one-time claim code.
    chat_id: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claim_code_hash: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[list["Attempt"]] = relationship(back_populates="staff")


class Attempt(Base):
    __tablename__ = "quiz_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    policy: Mapped[str] = mapped_column(String(100))
    bank_version: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="in_progress", index=True)  # in_progress|completed|stopped
    plan: Mapped[str] = mapped_column(Text)  # JSON: [{"scenario": id, "options": [ids in shown order]}]
    position: Mapped[int] = mapped_column(Integer, default=0)  # index of the next question to ask
    n_questions: Mapped[int] = mapped_column(Integer)
    correct: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float | None] = mapped_column(Float)
    pass_mark: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # migration 0007: a quiz on just the clauses a new version changed; passing it is not passing the policy's quiz
    refresher: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    staff: Mapped[Staff] = relationship(back_populates="attempts")
    answers: Mapped[list["Answer"]] = relationship(back_populates="attempt", order_by="Answer.position")

    def plan_items(self) -> list[dict]:
        """The drawn scenarios and their shown option order."""
        return json.loads(self.plan)


class Answer(Base):
    __tablename__ = "quiz_answers"
    __table_args__ = (UniqueConstraint("attempt_id", "position", name="uq_answer_position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("quiz_attempts.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    scenario_id: Mapped[str] = mapped_column(String(100), index=True)
    option_id: Mapped[str | None] = mapped_column(String(20))  # None when skipped
    correct: Mapped[bool] = mapped_column(Boolean)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    clauses: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of clause ids the scenario tests
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    bank_version: Mapped[str | None] = mapped_column(String(40))  # the bank version the question was shown from
    attempt: Mapped[Attempt] = relationship(back_populates="answers")


class QuestionLog(Base):
    __tablename__ = "question_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    question: Mapped[str] = mapped_column(Text)
    normalised: Mapped[str] = mapped_column(String(500), index=True)
    answered: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(30))
    top_policy: Mapped[str | None] = mapped_column(String(100))
    top_clause: Mapped[str | None] = mapped_column(String(50))
    top_score: Mapped[float | None] = mapped_column(Float)
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class QuestionLink(Base):
    __tablename__ = "question_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    normalised: Mapped[str] = mapped_column(String(500), unique=True)
    status: Mapped[str] = mapped_column(String(20))  # linked | not_covered
    policy: Mapped[str | None] = mapped_column(String(100))
    clause: Mapped[str | None] = mapped_column(String(50))
    decided_by: Mapped[str | None] = mapped_column(String(254))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # not_covered only (migration 0006): who staff should ask about this topic, named in later refusals
    contact: Mapped[str | None] = mapped_column(String(300))


class AnswerRating(Base):
    """A staff member's thumbs up or down on one policy answer, with the question and what it cited."""

    __tablename__ = "answer_ratings"
    __table_args__ = (UniqueConstraint("staff_id", "answer_key", name="uq_rating_answer"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    answer_key: Mapped[str] = mapped_column(String(64))  # hash of question + citations: re-rating replaces
    question: Mapped[str] = mapped_column(Text)
    normalised: Mapped[str] = mapped_column(String(500), index=True)
    citations: Mapped[str] = mapped_column(Text, default="[]")  # JSON [{"policy", "clause"}] as answered
    helpful: Mapped[bool] = mapped_column(Boolean)
    rated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class SignOff(Base):
    __tablename__ = "signoffs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    policy: Mapped[str] = mapped_column(String(100))
    document: Mapped[str] = mapped_column(String(200))  # e.g. "Appendix 1 — Acceptable Use Agreement"
    policy_version: Mapped[str] = mapped_column(String(80))
    signed_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(50))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PolicyVersion(Base):
    __tablename__ = "policy_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy: Mapped[str] = mapped_column(String(100), index=True)
    checksum: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(300))
    changes: Mapped[str] = mapped_column(Text, default="{}")
    uploaded_by: Mapped[str | None] = mapped_column(String(254))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QuizBankVersion(Base):
    """One saved version of a policy's scenario bank (the YAML of data/quizzes); the newest is the live one."""

    __tablename__ = "quiz_bank_versions"
    __table_args__ = (UniqueConstraint("policy", "version", name="uq_bank_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)  # the whole bank as YAML
    note: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Assignment(Base):
    """Which policy a role must read and sign and/or pass the quiz of, by when."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("policy", "role", name="uq_assignment_policy_role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(50))
    due: Mapped[date | None] = mapped_column(Date)
    sign: Mapped[bool] = mapped_column(Boolean, default=True)
    quiz: Mapped[bool] = mapped_column(Boolean, default=False)
    section: Mapped[str | None] = mapped_column(String(300))  # the section to sign; None = the whole policy
    created_by: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JobTitle(Base):
    """A job title as written on a school's roster (normalised) and the role it counts as; coordinator-edited."""

    __tablename__ = "job_titles"
    __table_args__ = (UniqueConstraint("title", name="uq_job_title"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(50))
    added_by: Mapped[str | None] = mapped_column(String(254))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


_engines: dict[str, Engine] = {}
_engine_lock = threading.Lock()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (dashboard) and one writer (action server) work at once; busy_timeout waits out short locks.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def normalise_url(url: str) -> str:
    """Use the psycopg2 driver for plain postgres:// URLs (what hosting providers hand out)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


class DatabaseMissing(StoreUnavailable):
    """A SQLite database that existed before is gone: refused rather than silently recreated empty."""


def _refuse_lost_sqlite(url: str) -> None:
    """First-time setup creates the SQLite file and a `<file>.created` marker beside it; after that a missing
    file means lost records (or a wrong path), so it is refused with a clear message instead of recreated."""
    if not url.startswith("sqlite"):
        return
    path = url.split("///", 1)[-1]
    if not path or path == ":memory:":
        return
    db, marker = Path(path), Path(path + ".created")
    if db.exists():
        if not marker.exists():
            marker.touch(mode=0o600)
        return
    if marker.exists():
        raise DatabaseMissing(
            f"The training records database {db} is missing, though it was set up before. Nothing was recreated, "
            f"so no records are silently lost: restore it from your backup, or if you really want to start "
            f"again with no records, delete {marker.name} and restart.")
    db.parent.mkdir(parents=True, exist_ok=True)
    db.touch(mode=0o600)
    marker.touch(mode=0o600)


def get_engine(url: str) -> Engine:
    """One engine per database URL per process, created on first use."""
    url = normalise_url(url)
    with _engine_lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                path = url.split("///", 1)[-1]
                if path and path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, connect_args={"timeout": 5, "check_same_thread": False})
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                                       connect_args={"connect_timeout": 5} if "postgres" in url else {})
            _engines[url] = engine
        return engine


def migrate(url: str) -> None:
    """Create or upgrade the schema to the latest Alembic revision."""
    from alembic import command  # noqa: PLC0415
    from alembic.config import Config  # noqa: PLC0415

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    url = normalise_url(url)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection_url"] = url
    try:
        command.upgrade(config, "head")
    except OperationalError as exc:
        raise StoreUnavailable(_down_message()) from exc


def _down_message() -> str:
    return "The training records database is not available right now. Nothing was saved; please try again shortly."


class Store:
    """Short transactions over the database; every public method commits or rolls back before it returns."""

    def __init__(self, url: str, *, create: bool = True):
        self.url = url
        _refuse_lost_sqlite(url)
        self.engine = get_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if create:
            self.ensure_schema()

    def ensure_schema(self) -> None:
        """Bring the schema up to date (Alembic), once per process per URL."""
        if self.url in _migrated:
            return
        migrate(self.url)
        _migrated.add(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction; database errors become StoreUnavailable."""
        _refuse_lost_sqlite(self.url)  # a file deleted while running is not silently recreated either
        try:
            with self._sessions() as session, session.begin():
                yield session
        except OperationalError as exc:
            raise StoreUnavailable(_down_message()) from exc
        except SQLAlchemyError as exc:
            if "could not connect" in str(exc) or "Connection refused" in str(exc):
                raise StoreUnavailable(_down_message()) from exc
            raise

    # -- staff --------------------------------------------------------------
    def staff_for_sender(self, session: Session, sender_id: str) -> Staff:
        """The staff row for a Rasa sender id, created on first contact."""
        staff = session.scalar(select(Staff).where(Staff.sender_id == sender_id))
        if staff is None:
            staff = Staff(sender_id=sender_id)
            session.add(staff)
            session.flush()
        now = utcnow()
        seen = staff.last_active_at
        if seen is not None and seen.tzinfo is None:  # SQLite hands back naive UTC
            seen = seen.replace(tzinfo=timezone.utc)
        # Only write when the stored time is a minute old: every action looks the sender up, and an UPDATE on
        # each lookup turned read-only turns into write transactions queueing on SQLite's one writer (issue 16).
        if seen is None or now - seen >= ACTIVE_RESOLUTION:
            staff.last_active_at = now
        return staff

    def member_for_chat(self, chat_id: str) -> str | None:
        """The records key of the current roster member (or coordinator) a Rasa sender id was issued to, or None."""
        if not chat_id:
            return None
        with self.session() as session:
            staff = session.scalar(select(Staff).where(Staff.chat_id == chat_id))
            if staff is None or not (staff.on_roster or staff.is_coordinator):
                return None
            return staff.sender_id

    # -- question log -------------------------------------------------------
    def log_question(self, sender_id: str, question: str, normalised: str, answer: dict) -> None:
        """Record a question and whether the policy answered it."""
        top = (answer.get("citations") or [{}])[0]
        with self.session() as session:
            staff = self.staff_for_sender(session, sender_id)
            session.add(QuestionLog(
                staff_id=staff.id,
                question=question[:4000],
                normalised=normalised[:500],
                answered=bool(answer.get("answered")),
                reason=str(answer.get("reason", "ok"))[:30],
                top_policy=top.get("policy"),
                top_clause=top.get("clause"),
                top_score=top.get("score"),
            ))

    def question_links(self) -> dict[str, list[tuple[str, str]]]:
        """Coordinator links: normalised question -> [(policy, clause)]."""
        with self.session() as session:
            rows = session.scalars(select(QuestionLink).where(QuestionLink.status == "linked")).all()
            links: dict[str, list[tuple[str, str]]] = {}
            for row in rows:
                links.setdefault(row.normalised, []).append((row.policy, row.clause))
            return links


_migrated: set[str] = set()


def _staff_dict(staff: Staff) -> dict:
    return {
        "id": staff.id,
        "sender_id": staff.sender_id,
        "name": staff.name,
        "email": staff.email,
        "role": staff.role,
        "is_coordinator": staff.is_coordinator,
        "on_roster": staff.on_roster,
    }


_stores: dict[str, Store] = {}


def get_store(url: str | None = None) -> Store:
    """The process-wide Store for the configured database (created on first call, not on import)."""
    if url is None:
        from knowledge.settings import get_settings  # noqa: PLC0415

        url = get_settings().database_url
    store = _stores.get(url)
    if store is None:
        store = Store(url)
        _stores[url] = store
    return store
