"""`make bench`, dialogue half: NLU cross-validation, then latency and load through a fresh stack on spare ports."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bot.perf import loadtest
from bot.ops.stack import RASA_BIN, ROOT, Stack, free_port, rasa_env
from knowledge.settings import get_settings

PARTS = ["nlu", "latency", "long", "saturation", "morning", "replicas"]


def nlu_cross_validation(folds: int) -> None:
    """Print intent accuracy / macro F1 from `rasa test nlu --cross-validation`."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([str(RASA_BIN), "test", "nlu", "--nlu", "data/rasa/nlu.yml", "--config", "config.yml",
                        "--cross-validation", "--folds", str(folds), "--out", out],
                       cwd=ROOT, env=rasa_env(), check=True, capture_output=True)
        report = json.loads((Path(out) / "intent_report.json").read_text())
    print(f"NLU intent classification, {folds}-fold cross-validation on data/rasa/nlu.yml:")
    print(f"  accuracy {report['accuracy']:.3f}  macro F1 {report['macro avg']['f1-score']:.3f}  "
          f"weighted F1 {report['weighted avg']['f1-score']:.3f}")
    worst = sorted(((k, v) for k, v in report.items() if isinstance(v, dict) and "support" in v
                    and k not in ("macro avg", "weighted avg", "micro avg")), key=lambda kv: kv[1]["f1-score"])[:3]
    print("  weakest intents: " + ", ".join(f"{k} F1 {v['f1-score']:.2f}" for k, v in worst))


def main(argv: list[str] | None = None) -> int:
    """Run the dialogue benchmarks."""

    parser = argparse.ArgumentParser(prog="python -m bot.perf.bench")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--morning-users", type=int, default=200)
    parser.add_argument("--morning-seconds", type=float, default=150)
    parser.add_argument("--saturation-users", type=int, default=16)
    parser.add_argument("--saturation-seconds", type=float, default=60)
    parser.add_argument("--replicas", type=int, default=2, help="also measure with this many Rasa replicas")
    parser.add_argument("--long-turns", type=int, default=300)
    parser.add_argument("--only", nargs="+", choices=PARTS, default=PARTS, help="run only these parts")
    args = parser.parse_args(argv)
    parts = set(args.only)

    if "nlu" in parts:
        nlu_cross_validation(args.folds)
    index = get_settings().index_dir  # the index `make index` built, before the stack gets its own runtime dir
    with tempfile.TemporaryDirectory() as tmp:
        env = {"DATABASE_URL": f"sqlite:///{tmp}/bench.db",
               "POLICY_COACH_VAR": f"{tmp}/var", "POLICY_COACH_INDEX": str(index)}
        trusted = {"token": None, "database_url": env["DATABASE_URL"]}
        stack = Stack(rasa_port=free_port(), action_port=free_port(), ui_port=free_port(),
                      log_dir=Path(tmp) / "logs", env=env)
        try:
            stack.start_actions()
            stack.start_rasa()
            url = f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook"
            trusted["token"] = stack.channel_token
            ports = loadtest.stack_ports(stack.rasa_port, stack.action_port)
            if "latency" in parts:
                print("\nWarm latency through Rasa REST (one user at a time): 100 questions, then 3 full quizzes")
                loadtest.latency(url, 100, **trusted)
            if "long" in parts:
                print(f"\nLong conversation: {args.long_turns} questions in one conversation, each followed by the "
                      "same question from a fresh conversation")
                loadtest.long_conversation(url, args.long_turns, **trusted)
            if "saturation" in parts:
                print(f"\n(a) Saturation: {args.saturation_users} clients, closed loop, no think time, "
                      f"{args.saturation_seconds:.0f} s")
                loadtest.closed_loop(url, args.saturation_users, args.saturation_seconds, None, ports,
                                     **trusted)
            if "morning" in parts:
                print(f"\n(b) School morning: {args.morning_users} staff, a message every 5-15 s each, "
                      f"{args.morning_seconds:.0f} s; each signs in (hello), asks 5 questions, takes a whole quiz, "
                      "checks progress, and again")
                loadtest.closed_loop(url, args.morning_users, args.morning_seconds, (5.0, 15.0), ports,
                                     sessions=True, **trusted)
            if args.replicas > 1 and "replicas" in parts:
                stack.stop("rasa")
                replica_ports = stack.start_replicas(args.replicas)
                ports = {"nginx": stack.rasa_port, "action server (search, encoder, quiz DB)": stack.action_port,
                         **{f"rasa replica {i + 1}": port for i, port in enumerate(replica_ports)}}
                print(f"\n(a') Saturation with {args.replicas} Rasa replicas on this box (nginx, sticky by chat, shared "
                      f"SQLite tracker store): {args.saturation_users} clients, {args.saturation_seconds:.0f} s")
                loadtest.closed_loop(url, args.saturation_users, args.saturation_seconds, None, ports, **trusted)
                print(f"\n(b') School morning with {args.replicas} Rasa replicas: {args.morning_users} staff, "
                      f"{args.morning_seconds:.0f} s")
                loadtest.closed_loop(url, args.morning_users, args.morning_seconds, (5.0, 15.0),
                                     ports, sessions=True, **trusted)
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
