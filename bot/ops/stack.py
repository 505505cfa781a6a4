"""Start and stop the whole stack: Rasa server (5005), action server (5055), Streamlit (8501).

Used by `make run` (python -m bot.ops.stack run) and by the end-to-end tests.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import requests

from bot.ops import nginx
from bot.tokens import ACTION_TOKEN, CHANNEL_TOKEN, ensure_token, secure_dir
from knowledge.settings import ROOT, exit_on_bad_settings, get_settings, settings_from

RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"
APP_PY = ROOT / ".venv" / "bin" / "python"
MODELS = ROOT / "models"
MODEL = MODELS / "policy-coach.tar.gz"
TRAINING_INPUTS = [ROOT / "config.yml", ROOT / "bot" / "domain.yml", ROOT / "data" / "rasa"]


def rasa_env() -> dict[str, str]:
    """Environment for Rasa processes: no telemetry, no hub downloads, quiet TensorFlow."""
    env = dict(os.environ)
    env.update({
        "RASA_TELEMETRY_ENABLED": "false",
        "HF_HUB_OFFLINE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONWARNINGS": "ignore",
    })
    return env


def training_fingerprint() -> str:
    """Hash of everything a trained model depends on."""
    digest = hashlib.sha256()
    for item in TRAINING_INPUTS:
        files = sorted(item.rglob("*.yml")) if item.is_dir() else [item]
        for path in files:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def train_if_needed(*, force: bool = False) -> bool:
    """Train the Rasa model when its inputs changed since the last training; return True if it trained."""
    stamp = MODELS / "fingerprint.txt"
    fingerprint = training_fingerprint()
    if not force and MODEL.exists() and stamp.exists() and stamp.read_text().strip() == fingerprint:
        return False
    MODELS.mkdir(exist_ok=True)
    cmd = [str(RASA_BIN), "train", "--domain", "bot/domain.yml", "--data", "data/rasa", "--config", "config.yml",
           "--out", str(MODELS), "--fixed-model-name", "policy-coach"]
    subprocess.run(cmd, cwd=ROOT, env=rasa_env(), check=True)
    stamp.write_text(fingerprint)
    return True


def tracker_store_config(url: str | None, var_dir: Path | None = None) -> str:
    """YAML for Rasa's SQL tracker store: Postgres when RASA_TRACKER_URL/DATABASE_URL is Postgres, else SQLite."""
    if url and url.startswith("postgres"):
        parsed = urlparse(url)
        return (
            "tracker_store:\n  type: SQL\n  dialect: postgresql\n"
            f"  url: {parsed.hostname or 'localhost'}\n  port: {parsed.port or 5432}\n"
            f"  db: {parsed.path.lstrip('/')}\n  username: {parsed.username or ''}\n"
            f"  password: ${{RASA_TRACKER_PASSWORD}}\n"
        )
    if url and url.startswith("sqlite:///"):
        db = url.removeprefix("sqlite:///")
    else:
        db = str((var_dir or get_settings().var_dir) / "rasa_tracker.db")
    return f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {db}\n"


def lock_store_config(redis_url: str | None) -> str:
    """YAML for Rasa's lock store: Redis when REDIS_URL is set (needed for several Rasa replicas)."""
    if not redis_url:
        return ""
    parsed = urlparse(redis_url)
    return (f"lock_store:\n  type: redis\n  url: {parsed.hostname or 'localhost'}\n  port: {parsed.port or 6379}\n"
            f"  db: {(parsed.path or '/0').lstrip('/') or 0}\n")


def write_endpoints(path: Path, action_port: int, *, tracker_url: str | None = None,
                    redis_url: str | None = None, action_token: str | None = None) -> Path:
    """Write the endpoints.yml a Rasa server uses (action server URL and token, tracker store, lock store)."""
    secure_dir(path.parent)
    text = f"action_endpoint:\n  url: http://127.0.0.1:{action_port}/webhook\n"
    if action_token:
        text += f"  token: {action_token}\n"  # Rasa sends it as ?token= ; bot/action_server.py checks it
    text += tracker_store_config(tracker_url, path.parent) + lock_store_config(redis_url)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)
    return path


def write_credentials(path: Path, *, runtime_dir: Path, turn_timeout: float) -> Path:
    """Write the credentials.yml a Rasa server uses: the token channel with its runtime dir and time guard."""
    secure_dir(path.parent)
    text = ((ROOT / "bot" / "credentials.yml").read_text()
            + f"  runtime_dir: {json.dumps(str(runtime_dir))}\n  turn_timeout: {float(turn_timeout)}\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float, proc: subprocess.Popen | None = None, name: str = "") -> None:
    """Poll a URL until it answers 200, the process dies, or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name or url} exited with code {proc.returncode} while starting")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{name or url} did not answer within {timeout:.0f} s")


@dataclass
class Stack:
    """The running processes of one stack."""

    rasa_port: int = 5005
    action_port: int = 5055
    ui_port: int = 8501
    log_dir: Path | None = None  # default <runtime dir>/logs
    env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    commands: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "POLICY_COACH_VAR" not in self.env:
            self.env["POLICY_COACH_VAR"] = str(get_settings().var_dir)
        self.var_dir = secure_dir(Path(self.env["POLICY_COACH_VAR"]).resolve())
        self.log_dir = secure_dir(Path(self.log_dir) if self.log_dir else self.var_dir / "logs")
        self.channel_token = ensure_token(CHANNEL_TOKEN, self.var_dir)
        self.action_token = ensure_token(ACTION_TOKEN, self.var_dir)

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
        path = self.log_dir / f"{name}.log"
        log = open(path, "ab")  # noqa: SIM115 - lives as long as the process
        path.chmod(0o600)
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, umask=0o077)
        self.procs[name] = proc
        self.commands[name] = (cmd, env)
        return proc

    def child_env(self, *overrides: dict[str, str]) -> dict[str, str]:
        """The environment a child process gets: this process's, then the stack's own values, then overrides."""
        env = {**os.environ, **self.env}
        for extra in overrides:
            env.update(extra)
        return env

    def headers(self) -> dict[str, str]:
        """The Authorization header trusted tools send to this stack's Rasa channel."""
        return {"Authorization": f"Bearer {self.channel_token}"}

    def start_actions(self) -> None:
        """Start the rasa-sdk action server and wait until it answers."""
        env = self.child_env({"HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
        env.pop("COORDINATOR_PASSWORD", None)  # secrets only to the process that needs them (the app)
        proc = self._spawn("actions", [str(APP_PY), "-m", "bot.action_server", "--actions", "bot.actions",
                                       "--port", str(self.action_port)], env)
        wait_for(f"http://127.0.0.1:{self.action_port}/health", 120, proc, "action server")
        self.warm_up()

    def warm_up(self) -> None:
        """Load the model, index and database now so the first user does not wait for them."""
        requests.post(f"http://127.0.0.1:{self.action_port}/webhook", timeout=120,
                      params={"token": self.action_token}, json={
            "next_action": "action_warm_up", "sender_id": "__warmup__",
            "tracker": {"sender_id": "__warmup__", "slots": {}, "latest_message": {}, "events": [],
                        "active_loop": {}}, "domain": {}})

    def start_rasa(self, *, port: int | None = None, name: str = "rasa") -> None:
        """Start a Rasa server with the REST channel and wait until it has loaded the model."""
        port = port or self.rasa_port
        env = {**rasa_env(), **self.env}
        env.pop("COORDINATOR_PASSWORD", None)
        settings = settings_from(env)
        tracker_url = settings.rasa_tracker_url
        if not tracker_url and settings.database_url.startswith("postgres"):
            tracker_url = settings.database_url  # the app's SQLite file is not shared with Rasa: the tracker gets its own
        if tracker_url and tracker_url.startswith("postgres"):
            env["RASA_TRACKER_PASSWORD"] = urlparse(tracker_url).password or ""
        endpoints = write_endpoints(self.var_dir / f"endpoints-{name}.yml", self.action_port,
                                    tracker_url=tracker_url, redis_url=settings.redis_url,
                                    action_token=self.action_token)
        credentials = write_credentials(self.var_dir / f"credentials-{name}.yml", runtime_dir=self.var_dir,
                                        turn_timeout=settings.turn_timeout)
        # No --enable-api: Rasa's HTTP API (trackers, DELETE/PUT /model) stays off; only the token channel.
        proc = self._spawn(name, [str(RASA_PY), "-m", "bot.ops.rasa_server", "run", "--model", str(MODEL), "--port", str(port),
                                  "--endpoints", str(endpoints), "--credentials", str(credentials),
                                  "-i", "127.0.0.1", "--session-events", str(settings.session_events)], env)
        wait_for(f"http://127.0.0.1:{port}/webhooks/rest/", 240, proc, f"Rasa server ({name})")

    def start_replicas(self, count: int) -> list[int]:
        """Start `count` Rasa servers on free ports and nginx on rasa_port in front of them."""
        ports = [free_port() for _ in range(count)]
        for i, port in enumerate(ports):
            self.start_rasa(port=port, name=f"rasa-{i + 1}")
        proc = self._spawn("nginx", nginx.command(self.var_dir / "nginx", self.rasa_port, ports), self.child_env())
        wait_for(f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/", 60, proc, "nginx")
        return ports

    def start_ui(self) -> None:
        """Start Streamlit and wait until it answers."""
        env = self.child_env({"RASA_URL": f"http://127.0.0.1:{self.rasa_port}", "HF_HUB_OFFLINE": "1"})
        proc = self._spawn("ui", [str(APP_PY), "-m", "streamlit", "run", str(ROOT / "ui" / "server.py"),
                                  "--server.port", str(self.ui_port), "--server.headless", "true",
                                  "--server.address", "127.0.0.1",
                                  "--browser.gatherUsageStats", "false"], env)
        wait_for(f"http://127.0.0.1:{self.ui_port}/_stcore/health", 120, proc, "Streamlit")

    def supervise(self, *, poll: float = 1.0, max_backoff: float = 60.0, stable_after: float = 60.0,
                  until: float | None = None) -> None:
        """Restart any service that exits, with exponential back-off per service, instead of stopping all."""
        backoff = {name: 1.0 for name in self.procs}
        started = {name: time.monotonic() for name in self.procs}
        due: dict[str, float] = {}
        while until is None or time.monotonic() < until:
            now = time.monotonic()
            for name, proc in list(self.procs.items()):
                if proc.poll() is None:
                    if now - started.get(name, now) > stable_after:
                        backoff[name] = 1.0
                    continue
                if name not in due:
                    due[name] = now + backoff.get(name, 1.0)
                    print(f"{name} exited with code {proc.returncode}; restarting in {backoff.get(name, 1.0):.0f} s "
                          f"(see {self.log_dir / (name + '.log')})", file=sys.stderr, flush=True)
                elif now >= due[name]:
                    cmd, env = self.commands[name]
                    self._spawn(name, cmd, env)
                    started[name] = time.monotonic()
                    backoff[name] = min(max_backoff, backoff.get(name, 1.0) * 2)
                    del due[name]
            time.sleep(poll)

    def stop(self, name: str | None = None, *, sig: int = signal.SIGTERM) -> None:
        """Stop one process (or all), waiting for it to exit."""
        names = [name] if name else list(self.procs)
        for key in names:
            proc = self.procs.pop(key, None)
            if proc is None or proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                continue
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def first_coordinator() -> dict[str, str]:
    """The first coordinator's sign-in for a fresh install with none configured.

    Secrets never live in the repo: when neither COORDINATOR_EMAIL/COORDINATOR_PASSWORD nor
    .streamlit/secrets.toml is set, a random password is generated once into var/coordinator.env
    (git-ignored, mode 600) and passed to the app through the environment.
    """
    settings = get_settings()
    if settings.coordinator_email or (ROOT / ".streamlit" / "secrets.toml").exists():
        return {}
    path = settings.var_dir / "coordinator.env"
    if not path.exists():
        import secrets  # noqa: PLC0415

        secure_dir(settings.var_dir)
        path.write_text(f"COORDINATOR_EMAIL=coordinator@school.local\nCOORDINATOR_PASSWORD={secrets.token_urlsafe(12)}\n")
        path.chmod(0o600)
    values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    print(f"Coordinator sign-in: {values['COORDINATOR_EMAIL']} with the password in {path} "
          "(set COORDINATOR_EMAIL / COORDINATOR_PASSWORD to choose your own)", flush=True)
    return values


def root_warning() -> str | None:
    """A warning when the launcher runs as root (a school server should use the service user in docs/systemd)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ("WARNING: running as root. On a school server run Policy Coach as an unprivileged user "
                "(docs/systemd/README.md): root can read every secret and change the code it runs.")
    return None


def run(args) -> int:
    """Start everything and wait for Ctrl-C."""
    warning = root_warning()
    if warning:
        print(warning, file=sys.stderr, flush=True)
    stack = Stack(rasa_port=args.rasa_port, action_port=args.action_port, ui_port=args.ui_port,
                  env=first_coordinator())
    started = time.monotonic()
    try:
        print("starting action server ...", flush=True)
        stack.start_actions()
        if args.replicas > 1:
            if not get_settings().redis_url:
                print("note: no REDIS_URL, so each replica keeps its own lock store; nginx sends each "
                      "chat to the same replica, which is safe on this one machine only", flush=True)
            print(f"starting {args.replicas} Rasa replicas behind nginx ...", flush=True)
            stack.start_replicas(args.replicas)
        else:
            print("starting Rasa server ...", flush=True)
            stack.start_rasa()
        print("starting Streamlit ...", flush=True)
        stack.start_ui()
        print(f"\nPolicy Coach is running ({time.monotonic() - started:.0f} s to start):\n"
              f"  app:            http://127.0.0.1:{stack.ui_port}\n"
              f"  Rasa REST:      http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook\n"
              f"  action server:  http://127.0.0.1:{stack.action_port}/health\n"
              f"  channel token:  {stack.var_dir / 'channel.token'} (trusted tools send Authorization: Bearer <token>)\n"
              f"  logs:           {stack.log_dir}\nPress Ctrl-C to stop.", flush=True)
        stack.supervise()
        return 0
    except KeyboardInterrupt:
        print("\nstopping ...")
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"could not start: {exc}; see {stack.log_dir}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not interrupt the shutdown
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    """Command line for the stack: `run` or `train`."""
    parser = argparse.ArgumentParser(prog="python -m bot.ops.stack")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--rasa-port", type=int, default=5005)
    p.add_argument("--action-port", type=int, default=5055)
    p.add_argument("--ui-port", type=int, default=8501)
    p.add_argument("--replicas", type=int, default=1, help="Rasa servers behind one URL (needs Postgres + Redis)")
    p = sub.add_parser("train")
    p.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    exit_on_bad_settings()
    if args.command == "train":
        trained = train_if_needed(force=args.force)
        print("Rasa model trained" if trained else "Rasa model up to date (data and config unchanged)")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
