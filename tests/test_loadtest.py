"""The load tools behind `make bench` work against the real stack (figures are printed, never asserted)."""
from __future__ import annotations

import pytest

from bot.perf import loadtest

pytestmark = pytest.mark.slow


def test_locust_saturation_run_reports_turns_cpu_and_memory_with_no_errors(live_stack, live_env, capsys):
    url = f"http://127.0.0.1:{live_stack.rasa_port}/webhooks/rest/webhook"
    loadtest.closed_loop(url, 3, 8, None, loadtest.stack_ports(live_stack.rasa_port, live_stack.action_port),
                         token=live_stack.channel_token, database_url=live_env["DATABASE_URL"])
    out = capsys.readouterr().out
    assert "errors: 0 " in out, out  # every turn had a payload, none an error reply
    turns = int(out.split("turns: ", 1)[1].split()[0])
    assert turns > 0
    for kind in ("question", "all"):
        assert f"\n  {kind} " in out, out
    assert "rasa server" in out and "action server" in out and " MB" in out  # CPU split and memory per service


def test_morning_sessions_and_long_conversation_run(live_stack, live_env, capsys):
    url = f"http://127.0.0.1:{live_stack.rasa_port}/webhooks/rest/webhook"
    trusted = {"token": live_stack.channel_token, "database_url": live_env["DATABASE_URL"]}
    loadtest.closed_loop(url, 4, 8, (0.1, 0.5), loadtest.stack_ports(live_stack.rasa_port, live_stack.action_port),
                         sessions=True, **trusted)
    out = capsys.readouterr().out
    assert "errors: 0 " in out and "greeting" in out, out  # each session starts by signing in (hello)
    pairs = loadtest.long_conversation(url, 6, **trusted)
    assert sorted(pairs) == list(range(1, 7)) and all(a > 0 and b > 0 for a, b in pairs.values())
    assert "growth ratio at turn 6" in capsys.readouterr().out


def test_the_load_test_refuses_another_machine(capsys):
    assert loadtest.main(["saturation", "--url", "http://example.org:5005"]) == 2
