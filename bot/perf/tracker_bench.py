"""The channel's tracker route (a chat after a reload) on long conversations: its SQL read against Rasa's full-tracker
replay, timed, and checked to return the same events. Runs in .venv-rasa, on a throwaway SQLite tracker store:

    .venv-rasa/bin/python -m bot.perf.tracker_bench            # figures
    .venv-rasa/bin/python -m bot.perf.tracker_bench --check    # small conversations, both paths equal (a slow test)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Restarted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channel import recent_state

ROOT = Path(__file__).resolve().parents[2]
# a real policy answer, as Rasa stored it (tests/fixtures/trackers/conversation.json was recorded from the stack)
FIXTURE = ROOT / "tests" / "fixtures" / "trackers" / "conversation.json"


def _store_with(turns: int, restart_at: int | None, directory: Path):
    """A SQLite tracker store holding one conversation of `turns` policy answers (a restart before turn
    `restart_at`), shaped like the stack's: listen, user, action, bot message with its payload, slot."""
    answer = next(e for e in json.loads(FIXTURE.read_text())["events"] if e["event"] == "bot")
    domain = Domain.load(str(ROOT / "bot" / "domain.yml"))
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(directory / f"tracker-{turns}-{restart_at}.db"))
    tracker = DialogueStateTracker("long", domain.slots)
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    for i in range(turns):
        if i == restart_at:
            tracker.update(Restarted())
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered(f"question {i}", {"name": "ask_policy", "confidence": 1.0}))
        tracker.update(ActionExecuted("action_answer_policy"))
        tracker.update(BotUttered(answer["text"], answer["data"]))
        tracker.update(SlotSet("last_question", f"question {i}"))
    asyncio.run(store.save(tracker))
    return store, len(tracker.events)


class _Replay:
    """Rasa's own path to the same events: retrieve_full_tracker, replayed into a tracker, then dumped."""

    def __init__(self, store) -> None:
        self.store = store

    async def retrieve_full_tracker(self, sender: str):
        return await self.store.retrieve_full_tracker(sender)


def _median_ms(call, repeat: int) -> tuple[float, dict]:
    times, out = [], {}
    for _ in range(repeat):
        started = time.perf_counter()
        out = asyncio.run(call())
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2] * 1000, out


def run(cases: list[tuple[int, int | None]], keep: int, repeat: int) -> bool:
    """Print each case's figures; True when both paths returned the same events in every case."""
    same_everywhere = True
    with tempfile.TemporaryDirectory() as tmp:
        for turns, restart_at in cases:
            store, events = _store_with(turns, restart_at, Path(tmp))
            sql_ms, sql = _median_ms(lambda s=store: recent_state(s, "long", keep), repeat)
            replay_ms, replay = _median_ms(lambda s=store: recent_state(_Replay(s), "long", keep), repeat)
            same = sql["events"] == replay["events"]
            same_everywhere &= same
            users = sum(e["event"] == "user" for e in sql["events"])
            print(f"{turns} turns, restart before turn {restart_at} ({events} events), last {keep}: "
                  f"SQL read {sql_ms:.0f} ms, full replay {replay_ms:.0f} ms, same events: {same}, "
                  f"{users} user messages, {len(json.dumps(sql)) // 1024} KB", flush=True)
    return same_everywhere


def main(argv: list[str] | None = None) -> int:
    """Figures for 50, 200 and 1,000 turns (or, with --check, small cases only); exit 1 if the paths differ."""
    parser = argparse.ArgumentParser(prog="python -m bot.perf.tracker_bench")
    parser.add_argument("--check", action="store_true", help="small conversations, one run each")
    args = parser.parse_args(argv)
    if args.check:
        cases = [(2, None), (3, None), (5, None), (5, 1), (5, 4), (5, 0), (8, 2)]
        return 0 if run(cases, keep=3, repeat=1) else 1
    cases = [(50, None), (200, None), (1000, None), (200, 190), (200, 100)]
    return 0 if run(cases, keep=50, repeat=5) else 1


if __name__ == "__main__":
    sys.exit(main())
