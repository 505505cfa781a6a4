"""Load test through the Rasa REST channel: simulated staff asking questions and taking quizzes.

Bounded and self-stopping; talks to 127.0.0.1 only. Prints figures, asserts nothing.

  python -m bot.perf.loadtest latency      # sequential warm latency of questions and quiz turns
  python -m bot.perf.loadtest long --n 300 # one 300-turn conversation paired with fresh ones: growth ratio
  python -m bot.perf.loadtest saturation   # closed loop, no think time: max turns/s
  python -m bot.perf.loadtest morning      # 200 staff, a message every 5-15 s, >= 2 minutes
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx

from knowledge.settings import exit_on_bad_settings

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "data" / "eval" / "social-media.jsonl"
MAX_REQUESTS = 200_000


def _questions() -> list[str]:
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    return [r["q"] for r in rows]


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile (nearest rank) of values, or 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(pct / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


class Recorder:
    """Latency per turn kind, and errors."""

    def __init__(self):
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.count = 0

    def add(self, kind: str, seconds: float) -> None:
        self.latency[kind].append(seconds * 1000)
        self.count += 1

    def report(self, elapsed: float) -> None:
        """Print throughput and p50/p95/p99 per turn kind."""
        total = sum(len(v) for v in self.latency.values())
        print(f"  turns: {total} in {elapsed:.1f} s = {total / elapsed:.1f} turns/s; "
              f"errors: {sum(self.errors.values())} {dict(self.errors) or ''}")
        print(f"  {'turn kind':<14}{'n':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}")
        everything = [x for v in self.latency.values() for x in v]
        for kind, values in sorted(self.latency.items()) + [("all", everything)]:
            print(f"  {kind:<14}{len(values):>7}{percentile(values, 50):>10.0f}{percentile(values, 95):>10.0f}"
                  f"{percentile(values, 99):>10.0f}{max(values, default=0):>10.0f}")


class StaffMember:
    """One simulated member of staff: asks questions, takes a quiz, answers with buttons."""

    def __init__(self, client: httpx.AsyncClient, url: str, rec: Recorder, rng: random.Random, questions: list[str],
                 sender: str):
        self.client, self.url, self.rec, self.rng, self.questions = client, url, rec, rng, questions
        self.sender = sender
        self.question: dict | None = None
        self.step = 0

    async def _send(self, kind: str, text: str) -> list[dict] | None:
        start = time.perf_counter()
        try:
            response = await self.client.post(self.url, json={"sender": self.sender, "message": text})
            elapsed = time.perf_counter() - start
            if response.status_code != 200:
                self.rec.errors[f"http {response.status_code}"] += 1
                return None
            replies = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            self.rec.errors[type(exc).__name__] += 1
            return None
        customs = [r["custom"] for r in replies if "custom" in r]
        if not customs or any(c.get("kind") == "error" for c in customs):
            self.rec.errors["no payload" if not customs else "error reply"] += 1
            return None
        self.rec.add(kind, elapsed)
        return customs

    async def session_turn(self) -> None:
        """One turn of a realistic session: hello (just signed in), 5 questions, a whole quiz, progress, repeat."""
        if self.question is not None:
            await self.turn()
            return
        step, self.step = self.step, self.step + 1
        if step % 8 == 0:
            await self._send("greeting", "hello")
        elif step % 8 <= 5:
            await self._send("question", self.rng.choice(self.questions))
        elif step % 8 == 6:
            customs = await self._send("quiz_start", "quiz me")
            self.question = next((c for c in customs or [] if c["kind"] == "quiz_question"), None)
        else:
            await self._send("progress", "have I passed the training yet?")

    async def turn(self) -> None:
        """Take one action: continue the quiz if one is open, else ask or start a quiz."""
        if self.question is not None:
            option = self.rng.choice(self.question["options"])
            customs = await self._send("quiz_answer", option["payload"])
            self.question = next((c for c in customs or [] if c["kind"] == "quiz_question"), None)
        elif self.rng.random() < 0.3:
            customs = await self._send("quiz_start", "quiz me")
            self.question = next((c for c in customs or [] if c["kind"] == "quiz_question"), None)
        else:
            await self._send("question", self.rng.choice(self.questions))


def _children(pid: int) -> list[int]:
    """pid and all its descendants (Sanic may run its workers as child processes)."""
    parents: dict[int, list[int]] = defaultdict(list)
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents[ppid].append(int(proc.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(parents.get(current, []))
    return out


def _cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User+system CPU seconds of each process and its descendants (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for name, pid in pids.items():
        total = 0.0
        for member in _children(pid):
            try:
                fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
                total += sum(int(x) for x in fields[11:13]) / tick
            except (OSError, IndexError, ValueError):
                continue
        out[name] = total
    return out


def _pid_on_port(port: int) -> int | None:
    """The pid of the process listening on a local TCP port (from /proc, no extra tools)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(parts[9])
        except OSError:
            continue
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def _stack_pids(ports: dict[str, int]) -> dict[str, int]:
    """The processes listening on the named ports under test."""
    found = {name: _pid_on_port(port) for name, port in ports.items()}
    return {k: v for k, v in found.items() if v}


def enrol_virtual_staff(count: int, database_url: str | None = None) -> list[str]:
    """Put `count` simulated staff on the roster (as sign-in would) and return their opaque chat ids.

    Rasa only acts for current roster members, so the simulated staff are real roster rows
    (`load-…@loadtest.invalid`, role volunteer) in the stack's database.
    """
    from bot.training.accounts import new_chat_id  # noqa: PLC0415
    from bot.training.store import Staff, get_store  # noqa: PLC0415

    ids = []
    with get_store(database_url).session() as session:
        for _ in range(count):
            chat_id = new_chat_id()
            email = f"load-{uuid.uuid4().hex[:12]}@loadtest.invalid"
            session.add(Staff(sender_id=email, email=email, name="Load test", role="volunteer", on_roster=True,
                              chat_id=chat_id))
            ids.append(chat_id)
    return ids


def retire_virtual_staff(chat_ids: list[str], database_url: str | None = None) -> None:
    """Take the simulated staff off the roster again, so they never show on the coordinator's dashboard."""
    from sqlalchemy import update  # noqa: PLC0415

    from bot.training.store import Staff, get_store  # noqa: PLC0415

    with get_store(database_url).session() as session:
        session.execute(update(Staff).where(Staff.chat_id.in_(chat_ids)).values(on_roster=False, chat_id=None))


def client_headers(token: str | None = None) -> dict[str, str]:
    """The channel token header a trusted tool sends (from `<runtime dir>/channel.token` unless given)."""
    from bot.tokens import CHANNEL_TOKEN, read_token  # noqa: PLC0415

    from knowledge.settings import get_settings  # noqa: PLC0415

    return {"Authorization": f"Bearer {token or read_token(CHANNEL_TOKEN, get_settings().var_dir)}"}


def stack_ports(rasa_port: int, action_port: int) -> dict[str, int]:
    """Names for the CPU report of a one-replica stack."""
    return {"rasa server (NLU, policies, tracker store)": rasa_port,
            "action server (search, encoder, quiz DB)": action_port}


async def latency(url: str, n: int, *, token: str | None = None, database_url: str | None = None) -> None:
    """Sequential warm latency over n questions and a full quiz."""
    rec = Recorder()
    rng = random.Random(1)
    questions = _questions()
    sender = enrol_virtual_staff(1, database_url)[0]
    try:
        await _latency(url, n, rec, rng, questions, sender, token)
    finally:
        retire_virtual_staff([sender], database_url)


async def _latency(url: str, n: int, rec: Recorder, rng: random.Random, questions: list[str], sender: str,
                   token: str | None) -> None:
    async with httpx.AsyncClient(timeout=60, headers=client_headers(token)) as client:
        member = StaffMember(client, url, rec, rng, questions, sender)
        await member._send("warm-up", "hello")
        rec.latency.clear()
        start = time.perf_counter()
        for q in (questions * ((n // len(questions)) + 1))[:n]:
            await member._send("question", q)
        for _ in range(3):
            customs = await member._send("quiz_start", "quiz me")
            member.question = next((c for c in customs or [] if c["kind"] == "quiz_question"), None)
            while member.question is not None:
                await member.turn()
        rec.report(time.perf_counter() - start)


async def long_conversation(url: str, turns: int, *, token: str | None = None,
                            database_url: str | None = None) -> dict[int, tuple[float, float]]:
    """One conversation of `turns` questions, each paired with the same question from a fresh conversation.

    The fresh turn is sent right after the long one, so machine noise (other load on a shared box) hits both
    alike; the ratio long/fresh shows how a turn's cost grows with the conversation. Returns {turn: (long ms,
    fresh ms)}.
    """
    questions = _questions()
    senders = enrol_virtual_staff(turns + 1, database_url)
    rec = Recorder()
    pairs: dict[int, tuple[float, float]] = {}
    try:
        async with httpx.AsyncClient(timeout=60, headers=client_headers(token)) as client:
            long = StaffMember(client, url, rec, random.Random(0), questions, senders[0])
            for turn in range(1, turns + 1):
                question = questions[(turn - 1) % len(questions)]
                fresh = StaffMember(client, url, rec, random.Random(turn), questions, senders[turn])
                # Alternate who goes first: the first to ask a question pays for encoding it (the encoder
                # remembers recent questions), so each side goes first on half the turns.
                first, second = (long, fresh) if turn % 2 else (fresh, long)
                start = time.perf_counter()
                await first._send("long" if first is long else "fresh", question)
                middle = time.perf_counter()
                await second._send("long" if second is long else "fresh", question)
                a, b = (middle - start) * 1000, (time.perf_counter() - middle) * 1000
                pairs[turn] = (a, b) if first is long else (b, a)
                if turn % 50 == 0:
                    print(f"    ... turn {turn}: long {pairs[turn][0]:.0f} ms, fresh {pairs[turn][1]:.0f} ms", flush=True)
    finally:
        retire_virtual_staff(senders, database_url)
    _report_growth(pairs, rec)
    return pairs


def _ratio(rows: dict[int, tuple[float, float]]) -> float:
    """Long/fresh latency ratio over some turns, comparing like with like.

    The side that asks first pays for encoding the question, and the sides take turns going first; so the long
    conversation's turns where it went first are compared with the fresh turns where the fresh one went first,
    likewise for second, and the two ratios of medians are combined (geometric mean)."""
    ratios = []
    for long_first in (True, False):
        longs = [a for t, (a, _) in rows.items() if (t % 2 == 1) == long_first]
        freshes = [b for t, (_, b) in rows.items() if (t % 2 == 0) == long_first]
        if longs and freshes:
            ratios.append(percentile(longs, 50) / (percentile(freshes, 50) or 1.0))
    return (ratios[0] * ratios[-1]) ** 0.5 if ratios else 0.0


def _report_growth(pairs: dict[int, tuple[float, float]], rec: Recorder) -> None:
    """Print long/fresh latency and their ratio (median over windows of turns) at the start, middle and end."""
    turns = max(pairs)
    errors = sum(rec.errors.values())
    print(f"  {turns} turns of one conversation, each paired with a fresh one; errors: {errors} {dict(rec.errors) or ''}")
    print(f"  {'turns':<12}{'long ms':>9}{'fresh ms':>10}{'ratio':>8}   (medians; ratio compares turns asked in the same order)")
    size = max(1, min(30, turns // 10))
    windows = sorted({(1, size), (max(1, turns // 3 - size // 2), turns // 3 + size // 2), (turns - size + 1, turns)})
    for first, last in windows:
        rows = {t: pairs[t] for t in range(first, last + 1) if t in pairs}
        ratio = _ratio(rows)
        print(f"  {first:>4}-{last:<7}{percentile([a for a, _ in rows.values()], 50):>9.0f}"
              f"{percentile([b for _, b in rows.values()], 50):>10.0f}{ratio:>8.2f}")
    print("  single turns: " + ", ".join(f"turn {t}: {pairs[t][0]:.0f} ms (fresh {pairs[t][1]:.0f} ms)"
                                        for t in sorted({1, min(100, turns), turns})))
    first_ratio = _ratio({t: pairs[t] for t in range(1, size + 1)})
    last_ratio = _ratio({t: pairs[t] for t in range(turns - size + 1, turns + 1)})
    print(f"  growth ratio at turn {turns} (long/fresh, median of the last {size} turns): {last_ratio:.2f}"
          f"  (first {size} turns: {first_ratio:.2f}); load average {os.getloadavg()[0]:.1f}")


def _rss_mb(pids: dict[str, int]) -> dict[str, float]:
    """Resident memory (MB) of each process and its descendants (from /proc)."""
    out = {}
    for name, pid in pids.items():
        total = 0
        for member in _children(pid):
            try:
                status = Path(f"/proc/{member}/status").read_text()
                total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
            except (OSError, StopIteration, ValueError):
                continue
        out[name] = total / 1024
    return out


async def closed_loop(url: str, users: int, seconds: float, think: tuple[float, float] | None,
                      ports: dict[str, int] | None = None, *, token: str | None = None,
                      database_url: str | None = None, sessions: bool = False) -> None:
    """Run `users` simulated staff for `seconds`; think=None means no think time (saturation).

    sessions=True: each follows a realistic session (hello, 5 questions, a whole quiz, progress, again)
    instead of random questions and quizzes."""
    rec = Recorder()
    questions = _questions()
    senders = enrol_virtual_staff(users, database_url)
    pids = _stack_pids(ports or stack_ports(5005, 5055))
    before = _cpu_seconds(pids)
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(timeout=30, limits=limits, headers=client_headers(token)) as client:
        async def run_user(i: int) -> None:
            rng = random.Random(i)
            member = StaffMember(client, url, rec, rng, questions, senders[i])
            if think:
                await asyncio.sleep(rng.uniform(0, think[1]))  # staff arrive spread out, not all at once
            while time.monotonic() < deadline and rec.count < MAX_REQUESTS:
                await (member.session_turn() if sessions else member.turn())
                if think:
                    await asyncio.sleep(rng.uniform(*think))

        start = time.perf_counter()
        try:
            await asyncio.gather(*(run_user(i) for i in range(users)))
        finally:
            retire_virtual_staff(senders, database_url)
        elapsed = time.perf_counter() - start
    after = _cpu_seconds(pids)
    rec.report(elapsed)
    used = {k: after[k] - before.get(k, 0.0) for k in after}
    total = sum(used.values()) or 1.0
    turns = sum(len(v) for v in rec.latency.values()) or 1
    # On a shared machine turns/s says more about the neighbours than the stack; CPU per turn does not.
    print(f"  CPU used by the stack: {total:.1f} s over {elapsed:.0f} s wall "
          f"({total / elapsed:.2f} of {os.cpu_count()} cores) = {1000 * total / turns:.0f} ms CPU per turn, "
          f"i.e. {turns / total * (os.cpu_count() or 1):.0f} turns/s if the stack had all {os.cpu_count()} cores")
    for name, secs in used.items():
        print(f"    {name:<40}{secs:>8.1f} s  {secs / total:>5.0%}")
    print(f"  load average (whole shared machine) {os.getloadavg()[0]:.1f}; resident memory after the run:")
    for name, mb in _rss_mb(pids).items():
        print(f"    {name:<40}{mb:>8.0f} MB")


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(prog="python -m bot.perf.loadtest")
    parser.add_argument("mode", choices=["latency", "long", "saturation", "morning"])
    parser.add_argument("--url", default=exit_on_bad_settings().rasa_url)
    parser.add_argument("--n", type=int, default=100, help="questions for latency, turns for long")
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--action-port", type=int, default=5055)
    args = parser.parse_args(argv)
    host = httpx.URL(args.url).host
    if host not in ("127.0.0.1", "localhost", "::1"):
        print("the load test only targets this machine (127.0.0.1)", file=sys.stderr)
        return 2
    url = args.url.rstrip("/") + "/webhooks/rest/webhook"
    if args.mode == "latency":
        print(f"latency: {args.n} questions then 3 quizzes, one at a time")
        asyncio.run(latency(url, args.n))
    elif args.mode == "long":
        print(f"long conversation: {args.n} turns, each paired with a fresh conversation")
        asyncio.run(long_conversation(url, args.n))
    elif args.mode == "saturation":
        users, seconds = args.users or 16, args.seconds or 60
        print(f"saturation: {users} clients, closed loop, no think time, {seconds:.0f} s")
        asyncio.run(closed_loop(url, users, seconds, None, stack_ports(httpx.URL(args.url).port or 5005, args.action_port)))
    else:
        users, seconds = args.users or 200, args.seconds or 150
        print(f"school morning: {users} staff, a message every 5-15 s each, {seconds:.0f} s")
        asyncio.run(closed_loop(url, users, seconds, (5.0, 15.0),
                                stack_ports(httpx.URL(args.url).port or 5005, args.action_port), sessions=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

