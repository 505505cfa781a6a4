"""Shared secrets kept in the runtime dir: created once with mode 600, read by the processes that need them.

Standard library only: the Rasa server (.venv-rasa) imports this module too.
"""
from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

CHANNEL_TOKEN = "channel.token"  # trusted tools and the app -> Rasa channel (Authorization: Bearer <token>)
ACTION_TOKEN = "action.token"  # Rasa -> action server (sent by the action endpoint as ?token=)
SESSION_SECRET = "session.key"  # the app's sign-in cookie signatures


def runtime_dir() -> Path:
    """POLICY_COACH_VAR, default var/ in the repository."""
    value = os.environ.get("POLICY_COACH_VAR", "").strip()
    return Path(value or Path(__file__).resolve().parent.parent / "var").resolve()


def secure_dir(path: Path) -> Path:
    """Create a directory readable by its owner only (mode 700)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def ensure_token(name: str, directory: Path | None = None) -> str:
    """The token in `<runtime dir>/name`, created (random, mode 600) on first use."""
    directory = secure_dir(directory or runtime_dir())
    path = directory / name
    try:
        # O_EXCL: two processes starting at once never overwrite each other's token.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    path.chmod(0o600)
    return read_token(name, directory)


def read_token(name: str, directory: Path | None = None) -> str:
    """The token in `<runtime dir>/name`; FileNotFoundError if it was never created."""
    token = ((directory or runtime_dir()) / name).read_text().strip()
    if not token:
        raise ValueError(f"{name} is empty")
    return token


def same(supplied: str | None, expected: str) -> bool:
    """Constant-time comparison of a supplied secret with the expected one."""
    return bool(supplied) and hmac.compare_digest(str(supplied).encode(), expected.encode())


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, value = (header or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None
