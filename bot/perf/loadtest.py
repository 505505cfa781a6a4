"""Load and latency through the Rasa REST channel: simulated staff asking questions and taking quizzes.

Bounded and self-stopping; talks to 127.0.0.1 only. Prints figures, asserts nothing. The concurrent runs are
Locust (bot/perf/locustfile.py) run headless as a child process; per-service CPU and memory come from psutil.

  python -m bot.perf.loadtest latency      # sequential warm latency of questions and quiz turns
  python -m bot.perf.loadtest long --n 300 # one 300-turn conversation paired with fresh ones: growth ratio
  python -m bot.perf.loadtest saturation   # closed loop, no think time: max turns/s
  python -m bot.perf.loadtest morning      # 200 staff, a message every 5-15 s, >= 2 minutes
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlparse

import psutil
import requests

from knowledge.settings import exit_on_bad_settings

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "data" / "eval" / "social-media.jsonl"
LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def _questions() -> list[str]:
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    return [r["q"] for r in rows]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _pct(values: list[float], pct: int) -> float:
    """The pct-th percentile (statistics.quantiles, inclusive), or the only value, or 0 for none."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


class Recorder:
    """Latency per turn kind and errors, for the sequential runs (Locust keeps its own for the load runs)."""

    def __init__(self):
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)

    def report(self, elapsed: float) -> None:
        """Print throughput and p50/p95/p99 per turn kind."""
        total = sum(len(v) for v in self.latency.values())
        print(f"  turns: {total} in {elapsed:.1f} s = {total / elapsed:.1f} turns/s; "
              f"errors: {sum(self.errors.values())} {dict(self.errors) or ''}")
        print(f"  {'turn kind':<14}{'n':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}")
        everything = [x for v in self.latency.values() for x in v]
        for kind, values in sorted(self.latency.items()) + [("all", everything)]:
            print(f"  {kind:<14}{len(values):>7}{_pct(values, 50):>10.0f}{_pct(values, 95):>10.0f}"
                  f"{_pct(values, 99):>10.0f}{max(values, default=0):>10.0f}")


class Chat:
    """One simulated member of staff in a sequential run: sends a message, records the time."""

    def __init__(self, http: requests.Session, url: str, rec: Recorder, sender: str):
        self.http, self.url, self.rec, self.sender = http, url, rec, sender
        self.question: dict | None = None

    def send(self, kind: str, text: str) -> list[dict] | None:
        """Post one message; record its latency under `kind`, or an error."""
        start = time.perf_counter()
        try:
            response = self.http.post(self.url, json={"sender": self.sender, "message": text}, timeout=60,
                                      headers={"X-Chat-Session": self.sender})
            elapsed = time.perf_counter() - start
            customs = [r["custom"] for r in response.json() if "custom" in r] if response.status_code == 200 else []
        except (requests.RequestException, ValueError) as exc:
            self.rec.errors[type(exc).__name__] += 1
            return None
        if not customs or any(c.get("kind") == "error" for c in customs):
            self.rec.errors[f"http {response.status_code}" if response.status_code != 200 else "no/error payload"] += 1
            return None
        self.rec.latency[kind].append(elapsed * 1000)
        return customs

    def quiz(self, rng: random.Random) -> None:
        """Take a whole quiz, pressing a random option each time."""
        customs = self.send("quiz_start", "quiz me")
        self.question = next((c for c in customs or [] if c["kind"] == "quiz_question"), None)
        while self.question is not None:
            customs = self.send("quiz_answer", rng.choice(self.question["options"])["payload"])
            self.question = next((c for c in customs or [] if c["kind"] == "quiz_question"), None)


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
    return {"Authorization": f"Bearer {token or _token()}"}


def _token_file() -> Path:
    from bot.tokens import CHANNEL_TOKEN  # noqa: PLC0415

    from knowledge.settings import get_settings  # noqa: PLC0415

    return get_settings().var_dir / CHANNEL_TOKEN


def _token() -> str:
    return _token_file().read_text().strip()


def stack_ports(rasa_port: int, action_port: int) -> dict[str, int]:
    """Names for the CPU report of a one-replica stack."""
    return {"rasa server (NLU, policies, tracker store)": rasa_port,
            "action server (search, encoder, quiz DB)": action_port}


def latency(url: str, n: int, *, token: str | None = None, database_url: str | None = None) -> None:
    """Sequential warm latency over n questions and three full quizzes."""
    rec = Recorder()
    rng = random.Random(1)
    questions = _questions()
    sender = enrol_virtual_staff(1, database_url)[0]
    try:
        with requests.Session() as http:
            http.headers.update(client_headers(token))
            chat = Chat(http, url, rec, sender)
            chat.send("warm-up", "hello")
            rec.latency.clear()
            start = time.perf_counter()
            for q in (questions * ((n // len(questions)) + 1))[:n]:
                chat.send("question", q)
            for _ in range(3):
                chat.quiz(rng)
            rec.report(time.perf_counter() - start)
    finally:
        retire_virtual_staff([sender], database_url)


def long_conversation(url: str, turns: int, *, token: str | None = None,
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
        with requests.Session() as http:
            http.headers.update(client_headers(token))
            long = Chat(http, url, rec, senders[0])
            for turn in range(1, turns + 1):
                question = questions[(turn - 1) % len(questions)]
                fresh = Chat(http, url, rec, senders[turn])
                # Alternate who goes first: the first to ask a question pays for encoding it (the encoder
                # remembers recent questions), so each side goes first on half the turns.
                first, second = (long, fresh) if turn % 2 else (fresh, long)
                start = time.perf_counter()
                first.send("long" if first is long else "fresh", question)
                middle = time.perf_counter()
                second.send("long" if second is long else "fresh", question)
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
            ratios.append(_median(longs) / (_median(freshes) or 1.0))
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
        print(f"  {first:>4}-{last:<7}{_median([a for a, _ in rows.values()]):>9.0f}"
              f"{_median([b for _, b in rows.values()]):>10.0f}{ratio:>8.2f}")
    print("  single turns: " + ", ".join(f"turn {t}: {pairs[t][0]:.0f} ms (fresh {pairs[t][1]:.0f} ms)"
                                        for t in sorted({1, min(100, turns), turns})))
    first_ratio = _ratio({t: pairs[t] for t in range(1, size + 1)})
    last_ratio = _ratio({t: pairs[t] for t in range(turns - size + 1, turns + 1)})
    print(f"  growth ratio at turn {turns} (long/fresh, median of the last {size} turns): {last_ratio:.2f}"
          f"  (first {size} turns: {first_ratio:.2f}); load average {os.getloadavg()[0]:.1f}")


def _processes(ports: dict[str, int]) -> dict[str, list[psutil.Process]]:
    """The process listening on each named local port, with its descendants (Sanic may fork workers)."""
    listening = {c.laddr.port: c.pid for c in psutil.net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN and c.pid}
    out = {}
    for name, port in ports.items():
        if port in listening:
            parent = psutil.Process(listening[port])
            out[name] = [parent, *parent.children(recursive=True)]
    return out


def _per_service(procs: dict[str, list[psutil.Process]], measure) -> dict[str, float]:
    """Sum `measure(process)` over each service's processes (one that has just exited counts 0)."""
    out = {}
    for name, members in procs.items():
        total = 0.0
        for proc in members:
            try:
                total += measure(proc)
            except psutil.Error:
                continue
        out[name] = total
    return out


def _cpu_seconds(procs: dict[str, list[psutil.Process]]) -> dict[str, float]:
    return _per_service(procs, lambda proc: sum(proc.cpu_times()[:2]))  # user + system


def _rss_mb(procs: dict[str, list[psutil.Process]]) -> dict[str, float]:
    return {name: rss / 2**20 for name, rss in _per_service(procs, lambda proc: proc.memory_info().rss).items()}


def _locust_report(prefix: str) -> int:
    """Print Locust's per-kind figures from its CSV; return the number of turns."""
    with open(f"{prefix}_stats.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    turns, failures = int(total["Request Count"]), int(total["Failure Count"])
    errors = {}
    if Path(f"{prefix}_failures.csv").exists():
        with open(f"{prefix}_failures.csv", newline="") as fh:
            errors = {f"{r['Name']}: {r['Error']}": int(r["Occurrences"]) for r in csv.DictReader(fh)}
    print(f"  turns: {turns} = {float(total['Requests/s']):.1f} turns/s; errors: {failures} {errors or ''}")
    print(f"  {'turn kind':<14}{'n':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for row in sorted(rows, key=lambda r: (r["Name"] == "Aggregated", r["Name"])):
        name = "all" if row["Name"] == "Aggregated" else row["Name"]
        print(f"  {name:<14}{int(row['Request Count']):>7}{float(row['50%']):>10.0f}{float(row['95%']):>10.0f}"
              f"{float(row['99%']):>10.0f}{float(row['Max Response Time']):>10.0f}")
    return turns


def closed_loop(url: str, users: int, seconds: float, think: tuple[float, float] | None,
                ports: dict[str, int] | None = None, *, token: str | None = None,
                database_url: str | None = None, sessions: bool = False) -> None:
    """Run `users` simulated staff with Locust for `seconds`; think=None means no think time (saturation).

    sessions=True: each follows a realistic session (hello, 5 questions, a whole quiz, progress, again; a
    message every 5-15 s) instead of random questions and quizzes with no pause."""
    user_class = "MorningStaff" if sessions or think else "BusyStaff"
    senders = enrol_virtual_staff(users, database_url)
    procs = _processes(ports or stack_ports(5005, 5055))
    parsed = urlparse(url)
    with tempfile.TemporaryDirectory() as tmp:
        ids, token_file = Path(tmp) / "chat_ids", Path(tmp) / "token"
        ids.write_text("\n".join(senders))
        token_file.write_text(token or _token())
        token_file.chmod(0o600)
        # Staff arrive spread over the first think period (or at once for saturation), as before.
        spawn_rate = users / think[1] if think else users
        cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), user_class, "--headless", "--only-summary",
               "-u", str(users), "-r", f"{spawn_rate:.2f}", "-t", f"{int(seconds)}s", "--stop-timeout", "30",
               "--host", f"{parsed.scheme}://{parsed.netloc}", "--csv", f"{tmp}/run", "--loglevel", "ERROR",
               "--exit-code-on-error", "0", "--chat-ids", str(ids), "--token-file", str(token_file)]
        before = _cpu_seconds(procs)
        start = time.perf_counter()
        try:
            subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        except subprocess.CalledProcessError as exc:
            print(f"  Locust failed: {exc.stderr.strip()[-2000:]}")
            raise
        finally:
            retire_virtual_staff(senders, database_url)
        elapsed = time.perf_counter() - start
        after = _cpu_seconds(procs)
        turns = _locust_report(f"{tmp}/run") or 1
    used = {k: after[k] - before.get(k, 0.0) for k in after}
    total = sum(used.values()) or 1.0
    cores = os.cpu_count() or 1
    # On a shared machine turns/s says more about the neighbours than the stack; CPU per turn does not.
    print(f"  CPU used by the stack: {total:.1f} s over {elapsed:.0f} s wall "
          f"({total / elapsed:.2f} of {cores} cores) = {1000 * total / turns:.0f} ms CPU per turn, "
          f"i.e. {turns / total * cores:.0f} turns/s if the stack had all {cores} cores")
    for name, secs in used.items():
        print(f"    {name:<40}{secs:>8.1f} s  {secs / total:>5.0%}")
    print(f"  load average (whole shared machine) {os.getloadavg()[0]:.1f}; resident memory after the run:")
    for name, mb in _rss_mb(procs).items():
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
    parsed = urlparse(args.url)
    if parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
        print("the load test only targets this machine (127.0.0.1)", file=sys.stderr)
        return 2
    url = args.url.rstrip("/") + "/webhooks/rest/webhook"
    ports = stack_ports(parsed.port or 5005, args.action_port)
    if args.mode == "latency":
        print(f"latency: {args.n} questions then 3 quizzes, one at a time")
        latency(url, args.n)
    elif args.mode == "long":
        print(f"long conversation: {args.n} turns, each paired with a fresh conversation")
        long_conversation(url, args.n)
    elif args.mode == "saturation":
        users, seconds = args.users or 16, args.seconds or 60
        print(f"saturation: {users} clients, closed loop, no think time, {seconds:.0f} s")
        closed_loop(url, users, seconds, None, ports)
    else:
        users, seconds = args.users or 200, args.seconds or 150
        print(f"school morning: {users} staff, a message every 5-15 s each, {seconds:.0f} s")
        closed_loop(url, users, seconds, (5.0, 15.0), ports, sessions=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
