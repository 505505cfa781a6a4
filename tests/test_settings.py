"""The one settings module: every environment variable is declared, validated and documented in one place."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from knowledge.settings import ENV_NAMES, SettingsError, get_settings, settings_from

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "knowledge" / "settings.py"
ENV_READ = re.compile(r"\benviron\b|getenv")
# Building a child process's environment from this one's is not reading a setting (bot/ops/stack.py).
CHILD_ENV = re.compile(r"dict\(os\.environ\)|\{\*\*os\.environ, \*\*self\.env\}")


def test_nothing_reads_the_environment_outside_the_settings_module():
    offenders = []
    for path in sorted(p for d in ("knowledge", "bot", "ui") for p in (ROOT / d).rglob("*.py")):
        if path == SETTINGS:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if ENV_READ.search(line) and not CHILD_ENV.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "read the environment through knowledge.settings:\n" + "\n".join(offenders)


def test_the_readme_table_lists_exactly_the_variables_the_settings_read():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration (environment variables)", 1)[1].split("\n## ", 1)[0]
    documented = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            documented |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1]))
    assert documented == set(ENV_NAMES.values())


def test_a_bad_quiz_length_is_one_clear_line_naming_the_variable(monkeypatch):
    monkeypatch.setenv("QUIZ_LENGTH", "ten")
    with pytest.raises(SettingsError) as caught:
        get_settings()
    message = str(caught.value)
    assert "\n" not in message and "QUIZ_LENGTH" in message and "whole number" in message and "'ten'" in message
    monkeypatch.setenv("QUIZ_LENGTH", "0")
    monkeypatch.setenv("QUIZ_PASS_MARK", "80")
    with pytest.raises(SettingsError, match=r"QUIZ_LENGTH .*; QUIZ_PASS_MARK .*'80'"):
        get_settings()


@pytest.mark.parametrize("name,value", [("RASA_URL", "localhost:5005"), ("POLICY_COACH_TURN_TIMEOUT", "-1"),
                                        ("POLICY_COACH_SESSION_HOURS", "eight"), ("MAX_QUESTION_CHARS", "1.5")])
def test_other_bad_values_are_refused_by_name(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        get_settings()


def test_the_cli_refuses_a_bad_setting_at_start_up_without_a_traceback(tmp_path):
    env = {**os.environ, "QUIZ_LENGTH": "ten", "POLICY_COACH_VAR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "clauses", "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == "Bad setting: QUIZ_LENGTH should be a whole number (got 'ten')"
    assert done.stdout == ""


def test_blank_values_fall_back_to_defaults_and_paths_follow_the_runtime_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("POLICY_COACH_VAR", str(tmp_path / "run"))
    monkeypatch.setenv("QUIZ_LENGTH", "  ")
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.delenv("POLICY_COACH_INDEX", raising=False)
    settings = get_settings()
    assert settings.quiz_length == 10
    assert settings.var_dir == (tmp_path / "run").resolve()
    assert settings.index_dir == settings.var_dir / "index"
    assert settings.database_url == f"sqlite:///{settings.var_dir / 'policy_coach.db'}"
    monkeypatch.setenv("QUIZ_LENGTH", "4")
    assert get_settings().quiz_length == 4  # read at call time, not cached at import


def test_settings_for_a_child_environment_ignore_this_process(monkeypatch, tmp_path):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("COORDINATOR_PASSWORD", "from-this-process")
    given = settings_from({"POLICY_COACH_VAR": str(tmp_path), "POLICY_COACH_TURN_TIMEOUT": "5"})
    assert given.redis_url is None and given.coordinator_password is None
    assert given.turn_timeout == 5 and given.var_dir == tmp_path.resolve()
    assert "from-this-process" not in repr(get_settings())  # the password is a SecretStr


def test_the_rasa_server_gets_its_runtime_dir_and_time_guard_in_its_credentials_file(tmp_path):
    from bot.ops.stack import write_credentials

    path = write_credentials(tmp_path / "var" / "credentials-rasa.yml", runtime_dir=tmp_path / "var",
                             turn_timeout=7)
    channel = yaml.safe_load(path.read_text())["bot.channel.TokenRestInput"]
    assert channel == {"runtime_dir": str(tmp_path / "var"), "turn_timeout": 7.0}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_every_command_line_tool_is_a_registered_script_listed_in_the_readme():
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    targets = {target.split(":")[0] for target in scripts.values()}
    tools = {".".join(p.relative_to(ROOT).with_suffix("").parts) for d in ("knowledge", "bot")
             for p in (ROOT / d).rglob("*.py") if 'if __name__ == "__main__"' in p.read_text()}
    # these two run in .venv-rasa (Rasa imported), where the app's scripts are not installed: the Rasa launcher,
    # started by the stack, and the tracker route's benchmark (README module map)
    assert tools - targets == {"bot.ops.rasa_server", "bot.perf.tracker_bench"}
    readme = (ROOT / "README.md").read_text()
    for name, target in scripts.items():
        assert f"| `{name}` | `{target.split(':')[0]}` |" in readme
