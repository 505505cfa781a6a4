"""Locust users for `make bench`: simulated staff talking to the Rasa REST channel.

Run by bot/perf/loadtest.py (`locust --headless`, bounded, 127.0.0.1 only), which enrols the simulated staff and
passes files with their chat ids and the channel token as command-line options. What is specific to Policy Coach is only
the session a member of staff follows; Locust does the load, timing and percentiles.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from locust import HttpUser, between, constant, events, task

WEBHOOK = "/webhooks/rest/webhook"
QUESTIONS = Path(__file__).resolve().parents[2] / "data" / "eval" / "social-media.jsonl"
_SHARED: dict = {}


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    """Files the runner passes (paths, so the token never shows in the process list)."""
    parser.add_argument("--chat-ids", help="file of enrolled chat ids, one per line", default="")
    parser.add_argument("--token-file", help="the stack's channel.token", default="")
    parser.add_argument("--questions", help="JSONL of questions (field q)", default=str(QUESTIONS))


class _Staff(HttpUser):
    """One member of staff with an enrolled chat id; asks questions and takes quizzes with the buttons."""

    abstract = True

    def on_start(self) -> None:
        options = self.environment.parsed_options
        shared = _SHARED  # the files are read once per Locust process
        if not shared:
            shared["ids"] = Path(options.chat_ids).read_text().split()
            shared["token"] = Path(options.token_file).read_text().strip()
            shared["questions"] = [json.loads(line)["q"] for line in Path(options.questions).read_text().splitlines()
                                   if line.strip()]
            shared["next"] = 0
        self.sender = shared["ids"][shared["next"] % len(shared["ids"])]
        shared["next"] += 1
        self.rng = random.Random(self.sender)
        self.questions = shared["questions"]
        self.client.headers["Authorization"] = f"Bearer {shared['token']}"
        self.client.headers["X-Chat-Session"] = self.sender  # as the UI sends it (routing behind nginx)
        self.quiz_question: dict | None = None
        self.step = 0

    def send(self, kind: str, text: str) -> list[dict]:
        """Post one message; a turn counts as failed unless the bot answers with a payload that is not an error."""
        with self.client.post(WEBHOOK, json={"sender": self.sender, "message": text}, name=kind,
                              catch_response=True) as response:
            try:
                customs = [r["custom"] for r in response.json() if "custom" in r]
            except (ValueError, TypeError, KeyError):
                response.failure(f"http {response.status_code}, not JSON")
                return []
            if response.status_code != 200 or not customs:
                response.failure(f"http {response.status_code}, no payload")
            elif any(c.get("kind") == "error" for c in customs):
                response.failure("error reply")
            return customs

    def start_quiz(self) -> None:
        customs = self.send("quiz_start", "quiz me")
        self.quiz_question = next((c for c in customs if c.get("kind") == "quiz_question"), None)

    def answer(self) -> None:
        option = self.rng.choice(self.quiz_question["options"])
        customs = self.send("quiz_answer", option["payload"])
        self.quiz_question = next((c for c in customs if c.get("kind") == "quiz_question"), None)


class BusyStaff(_Staff):
    """Saturation: no think time; continues a quiz if one is open, else asks (70%) or starts a quiz (30%)."""

    wait_time = constant(0)

    @task
    def turn(self) -> None:
        if self.quiz_question is not None:
            self.answer()
        elif self.rng.random() < 0.3:
            self.start_quiz()
        else:
            self.send("question", self.rng.choice(self.questions))


class MorningStaff(_Staff):
    """A school morning: a message every 5-15 s; signs in (hello), asks 5 questions, takes a whole quiz, checks
    progress, and again."""

    wait_time = between(5, 15)

    @task
    def turn(self) -> None:
        if self.quiz_question is not None:
            self.answer()
            return
        step, self.step = self.step, self.step + 1
        if step % 8 == 0:
            self.send("greeting", "hello")
        elif step % 8 <= 5:
            self.send("question", self.rng.choice(self.questions))
        elif step % 8 == 6:
            self.start_quiz()
        else:
            self.send("progress", "have I passed the training yet?")
