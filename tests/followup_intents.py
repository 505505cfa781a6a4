"""Intent counts of the trained Rasa NLU on follow-up messages (dev and tuning sets only), and on messages that must
keep their own intent (quiz answers, progress, help, greetings from tests/rasa/test_stories.yml).

A follow-up reaches the follow-up path when its intent is follow_up, or when it is ask_policy / nlu_fallback (both go
to action_answer_policy) and knowledge.followup.is_follow_up takes it by shape; any other intent (quiz, progress,
help, greet, affirm/deny...) sends it to another action. Never reads data/eval/test/.

    .venv/bin/python -m tests.followup_intents             # counts per set; the tuning set's misrouted messages
    .venv/bin/python -m tests.followup_intents --model models/policy-coach.tar.gz --quiet
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import yaml

from knowledge.followup import is_follow_up
from tests import test_followups as T

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "data" / "eval" / "dev"
MODEL = ROOT / "models" / "policy-coach.tar.gz"
STORIES = ROOT / "tests" / "rasa" / "test_stories.yml"
# intents whose rule goes to action_answer_policy (data/rasa/rules.yml)
POLICY_PATH = {"follow_up", "ask_policy", "nlu_fallback"}
TUNING = "tuning (tests/test_followups.py)"
PROBE = "probes (tests/followup_intents.py)"
STORY = "follow-ups of tests/rasa/test_stories.yml"
THREE_TURN = "dev followups-3turn.jsonl (tuning set)"
# Follow-ups written for this check (nlu session, before any NLU change), in the general shapes staff use after an
# answer; none is in data/rasa/nlu.yml (test_probes_are_not_training_examples checks it), so they measure how the NLU
# generalises rather than what it memorised.
PROBES = [
    "and if i'm not sure it's serious enough?", "what if i just pop away from my desk for a min?",
    "how do i get hold of her?", "who do i speak to about it?", "how long do they keep it?", "and if nobody answers?",
    "what if i forget?", "does that go for trainees as well?", "can they do that?", "what happens next?",
    "when do i have to tell them?", "is that the case on trips too?", "and in the holidays?", "what if it's urgent?",
    "who else needs to know?", "what if the head says it's fine?", "do i need to write it down?",
    "how long does that last?", "what if i'm off sick?", "and after that?", "is there someone else i can ask?",
    "what if they don't reply?", "so can i or not?", "and if it's only for a second?", "does it count if it's deleted?",
    "what if i've got no signal?", "who checks that?", "how often?", "what if it's a one off?",
    "even at lunchtime?", "and my personal laptop?", "where do i send it?", "and what if they refuse?",
    "what if it was years ago?", "who would i ring?", "and is that in writing?", "do they have to?",
    "what if i'm the only one there?", "what if i see a colleague doing it?", "and if i get it wrong?",
]
# Messages that must keep their own intent, written with PROBES and likewise not training examples.
GUARDS = [
    ("b) i reckon", "quiz_answer"), ("option c please", "quiz_answer"), ("answer 3", "quiz_answer"),
    ("i'll go for d", "quiz_answer"), ("e)", "quiz_answer"), ("the second option", "quiz_answer"),
    ("what's my score?", "show_progress"), ("how did i get on in the quiz?", "show_progress"),
    ("have i passed the training?", "show_progress"), ("hello again coach", "greet"), ("good morning!", "greet"),
    ("hey coach", "greet"), ("what can i ask?", "help"), ("how do i use this bot?", "help"),
    ("i want to stop the quiz", "stop_quiz"), ("skip this please", "skip_question"),
    ("next one", "skip_question"), ("can we do the quiz now", "start_quiz"), ("cheers for that", "thank"),
    ("ok bye for now", "goodbye"),
]
_PARSE = """
import asyncio, json, sys
from rasa.core.agent import Agent
async def main():
    agent = Agent.load(sys.argv[1])
    texts = json.load(sys.stdin)
    print(json.dumps({t: (await agent.parse_message(t))["intent"]["name"] for t in texts}))
asyncio.run(main())
"""


def _jsonl_follow_ups(path: Path) -> list[str]:
    """Every turn after the first of each conversation in a dev follow-up set, except turns marked as new questions."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            for turn in json.loads(line)["turns"][1:]:
                if not turn.get("new"):
                    out.append(turn["q"])
    return out


def follow_up_sets() -> dict[str, list[str]]:
    """The follow-up messages of each dev / tuning set, by set name."""
    tuning = [b for _, b, _ in T.CONVERSATIONS] + [b for _, b, _ in T.OTHER_POLICY]
    tuning += [t for turns in T.MORE_CONVERSATIONS for t, gold in turns[1:] if not (gold and gold[0] == T.NEW)]
    tuning += [b for _, b, _ in T.POINTING_BACK] + [b for _, b, _ in T.OTHER_POLICY_DRIFT]
    stories = [step["user"].strip() for story in yaml.safe_load(STORIES.read_text())["stories"]
               for step in story["steps"] if step.get("intent") == "follow_up"]
    return {"held-out dev followups.jsonl": _jsonl_follow_ups(DEV / "followups.jsonl"),
            THREE_TURN: _jsonl_follow_ups(DEV / "followups-3turn.jsonl"),
            TUNING: tuning, PROBE: list(PROBES), STORY: list(dict.fromkeys(stories))}


def fresh_questions() -> list[str]:
    """Standalone questions that must not be taken as follow-ups: every question of the dev eval sets of
    data/eval/sets.yml, the first turns of the dev follow-up conversations and the tuning set's new questions."""
    sets = yaml.safe_load((ROOT / "data" / "eval" / "sets.yml").read_text())["sets"]
    out = [json.loads(line)["q"] for s in sets if s["split"] == "dev"
           for line in (ROOT / s["questions"]).read_text().splitlines() if line.strip()]
    for path in (DEV / "followups.jsonl", DEV / "followups-3turn.jsonl"):
        if path.exists():
            out += [json.loads(line)["turns"][0]["q"] for line in path.read_text().splitlines() if line.strip()]
    out += [t for turns in T.MORE_CONVERSATIONS for t, gold in turns if gold and gold[0] == T.NEW]
    return out


def guard_messages() -> list[tuple[str, str]]:
    """(message, intent) of GUARDS and of every user turn in the test stories whose intent is not a policy question."""
    stories = yaml.safe_load(STORIES.read_text())["stories"]
    return list(dict.fromkeys(GUARDS + [(step["user"].strip(), step["intent"]) for story in stories
                                        for step in story["steps"] if "user" in step
                                        and step["intent"] not in POLICY_PATH]))


def parse(texts: list[str], model: Path) -> dict[str, str]:
    """The model's intent for each message (one Rasa process in .venv-rasa)."""
    out = subprocess.run([str(ROOT / ".venv-rasa" / "bin" / "python"), "-c", _PARSE, str(model)],
                         input=json.dumps(sorted(set(texts))), capture_output=True, text=True, check=True,
                         env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(model: Path, *, quiet: bool = False) -> dict:
    """Print intent counts per set and return them with the misrouted messages."""
    sets, guards, fresh = follow_up_sets(), guard_messages(), fresh_questions()
    intent = parse([t for texts in sets.values() for t in texts] + [t for t, _ in guards] + fresh, model)
    result: dict = {}
    for name, texts in sets.items():
        if not texts:
            print(f"{name}: absent")
            continue
        counts = Counter(intent[t] for t in texts)
        taken = sum(intent[t] in POLICY_PATH and is_follow_up(t, intent[t]) for t in texts)
        wrong = [(t, intent[t]) for t in texts if intent[t] not in POLICY_PATH]
        result[name] = {"counts": dict(counts), "follow_up_path": taken, "total": len(texts), "misrouted": wrong}
        print(f"{name}: {len(texts)} follow-ups; intents {dict(counts.most_common())}; "
              f"reach action_answer_policy {len(texts) - len(wrong)}/{len(texts)}; "
              f"taken as follow-ups {taken}/{len(texts)}")
        if not quiet and name in (TUNING, PROBE, STORY, THREE_TURN):  # followups.jsonl is held out: counts only
            for t, i in wrong:
                print(f"    MISROUTED {i:14} {t!r}")
            for t in texts:
                if intent[t] in POLICY_PATH and not is_follow_up(t, intent[t]):
                    print(f"    NOT TAKEN {intent[t]:14} {t!r}")
    counts = Counter(intent[t] for t in fresh)
    taken = sum(is_follow_up(t, intent[t]) for t in fresh)
    result["fresh"] = {"counts": dict(counts), "taken_as_follow_up": taken, "total": len(fresh)}
    print(f"standalone dev questions: {len(fresh)}; intents {dict(counts.most_common())}; "
          f"taken as follow-ups after an answer {taken}/{len(fresh)} ({taken - counts['follow_up']} by shape alone)")
    kept = [(t, want, intent[t]) for t, want in guards if intent[t] != want]
    result["guards"] = {"total": len(guards), "changed": kept}
    print(f"quiz/progress/help/greet messages (GUARDS and test stories) that keep their intent: {len(guards) - len(kept)}/{len(guards)}")
    for t, want, got in kept:
        print(f"    CHANGED {t!r}: {want} -> {got}")
    return result


def main() -> None:
    """Report (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--quiet", action="store_true", help="counts only, no messages")
    args = parser.parse_args()
    report(args.model, quiet=args.quiet)


if __name__ == "__main__":
    main()
