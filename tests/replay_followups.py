"""Replay the follow-up tuning conversations of tests/test_followups.py through the search alone, as the bot would.

Used to fit knowledge.followup's OWN_WEIGHT / BACK_WEIGHT / OTHER_POLICY_MARGIN without a live stack: each message is
taken as a follow-up when the trained Rasa model's intent (parsed once in .venv-rasa, cached) or
followup.is_follow_up says so, a policy choice picks the conversation's policy, and a refused question stays the
context (bot.actions.common.remembered). Tuning data only: never the held-out or test follow-ups.

    .venv/bin/python -m tests.replay_followups            # each turn, then the scores per set
    .venv/bin/python -m tests.replay_followups --sweep    # scores for a grid of BACK_WEIGHT x OTHER_POLICY_MARGIN
    .venv/bin/python -m tests.replay_followups --ranks    # mean reciprocal rank of the gold clause, pointing back
    .venv/bin/python -m tests.replay_followups --set data/eval/dev/followups-3turn.jsonl   # a conversations JSONL

`--set` replays a dev conversations file (`{"id", "policy", "turns": [{"q"}, {"q", "gold": [snippets]}, ...]}`, any
number of turns, policies from data/eval/dev/policies/<slug>/policy.docx) over ONE index of all its policies, as a
school would load them, plus the dev distractors of data/eval/sets.yml (`--no-distractors` leaves them out). Each
later turn is right when it is taken as a follow-up and its top citation is from the conversation's policy and
contains one of the gold snippets; the scores are also given per turn position and the NLU intent of each later turn
is listed. Dev sets only: the tool refuses data/eval/test/.

Indexes and the intents go under var/bench/followups (built on first use).
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from knowledge import followup as F
from tests import test_followups as T
from tests.followup_intents import parse

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench" / "followups"
SOCIAL_MEDIA = {"social-media-policy": "data/policies/social-media-policy.md"}
LONE = {"lone-working-policy": "tests/fixtures/policies/lone-working-policy.txt"}
DEV_POLICIES = ROOT / "data" / "eval" / "dev" / "policies"


def searcher(name: str, files: dict[str, str]):
    """A Searcher over the given policies (id -> path), indexed once under WORK."""
    from knowledge.encoder import load_encoder
    from knowledge.index import ingest, load
    from knowledge.search import Lexicon, Searcher
    from knowledge.settings import get_settings

    encoder = load_encoder(get_settings().model)
    directory = WORK / name
    if not (directory / "index").exists():
        (directory / "src").mkdir(parents=True, exist_ok=True)
        sources = []
        for slug, path in files.items():
            source = ROOT / path
            source = source / "policy.docx" if source.is_dir() else source
            sources.append(Path(shutil.copyfile(source, directory / "src" / f"{slug}{source.suffix}")))
        ingest(sources, directory / "index", encoder)
    return Searcher(load(directory / "index"), encoder, lexicon=Lexicon.load(get_settings().lexicon_path))


def set_searcher(path: Path, *, distractors: bool = True):
    """A Searcher over one index of the policies a conversations JSONL is about (plus the dev distractors)."""
    from knowledge.bench import ingest_exactly
    from knowledge.encoder import load_encoder
    from knowledge.evaluate import _policy_files, dev_library_distractors
    from knowledge.search import Lexicon, Searcher
    from knowledge.settings import get_settings

    slugs = dict.fromkeys(row["policy"] for row in load_set(path))
    files = [f for slug in slugs for f in _policy_files(DEV_POLICIES / slug)]  # each named by its folder
    files += [p for p in dev_library_distractors() if p not in files] if distractors else []
    encoder = load_encoder(get_settings().model)
    directory = WORK / f"set-{path.stem}{'' if distractors else '-small'}" / "index"
    directory.parent.mkdir(parents=True, exist_ok=True)
    return Searcher(ingest_exactly(files, directory, encoder), encoder,
                    lexicon=Lexicon.load(get_settings().lexicon_path))


def load_set(path: Path) -> list[dict]:
    """The rows of a dev conversations JSONL (never a test set)."""
    if "test" in path.resolve().relative_to(ROOT).parts:
        raise SystemExit(f"{path} is a test set: replay only dev conversations")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def set_conversations(path: Path, index: str) -> dict[str, list[tuple[str, list]]]:
    """A conversations JSONL as one set of (index name, [(message, gold or None)]); gold is (policy, [snippets])."""
    from knowledge.parser import policy_id_for

    convs = []
    for row in load_set(path):
        policy = policy_id_for(Path(row["policy"]))
        convs.append((index, [(t["q"], (policy, t["gold"]) if t.get("gold") else None) for t in row["turns"]]))
    return {path.stem: convs}


def conversations() -> dict[str, list[tuple[str, list]]]:
    """Each set's conversations as (index name, [(message, gold or None)]); gold is a clause-id set or (policy,
    snippet) or (NEW, policy, snippet)."""
    return {
        "social media": [("sm", [(a, None), (b, gold)]) for a, b, gold in T.CONVERSATIONS],
        "lone working": [("lone", [(a, None), (b, gold)]) for a, b, gold in T.OTHER_POLICY],
        "library": [("library", turns) for turns in T.MORE_CONVERSATIONS],
        "pointing back": [("sm" if gold[0] == T.SOCIAL else "library", [(a, None), (b, gold)])
                          for a, b, gold in T.POINTING_BACK],
        "other policy": [("library", [(a, None), (b, gold)]) for a, b, gold in T.OTHER_POLICY_DRIFT],
    }


def intents(texts: list[str]) -> dict[str, str]:
    """The trained model's intent for each message (models/policy-coach.tar.gz), cached by the model's fingerprint."""
    fingerprint = (ROOT / "models" / "fingerprint.txt").read_text().strip()
    cache = WORK / f"intents-{fingerprint[:12]}.json"
    known = json.loads(cache.read_text()) if cache.exists() else {}
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    if missing:
        known.update(parse(missing, ROOT / "models" / "policy-coach.tar.gz"))
        WORK.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known, indent=1))
    return known


def _hit(cite, gold) -> bool:
    if isinstance(gold, set):
        return cite.clause in gold
    from knowledge.evaluate import _norm  # the bench's matching: case, spacing and curly apostrophes aside

    policy, snippets = gold[-2:]
    text = _norm(cite.text)
    return cite.policy == policy and any(_norm(s) in text for s in ([snippets] if isinstance(snippets, str) else snippets))


def replay(searchers: dict, sets: dict, intent: dict[str, str], *, verbose: bool = False,
           positions: dict | None = None) -> dict[str, list[bool]]:
    """Each scored turn's outcome per set; `positions` collects the outcomes per turn position (2, 3, ...)."""
    scores: dict[str, list[bool]] = {}
    for name, convs in sets.items():
        for index, turns in convs:
            s = searchers[index]
            previous, cited = None, []
            pick = next((g[-2] for _, g in turns if g and not isinstance(g, set)), None)
            for position, (text, gold) in enumerate(turns, 1):
                follow = bool(previous) and (F.is_follow_up(text, intent.get(text))
                                             or F.stays_in_context(s, previous, text, cited))
                if follow:
                    answer, question = F.ask_follow_up(s, previous, text, cited), F.in_context(previous, text)
                else:
                    answer, question = s.ask(text), text
                    if F.policy_tie(s, text, answer) is not None and pick:
                        answer = F.ask_in_policy(s, text, pick)
                if gold is not None:
                    new = not isinstance(gold, set) and gold[0] == T.NEW
                    ok = follow != new and bool(answer.citations) and _hit(answer.citations[0], gold)
                    scores.setdefault(name, []).append(ok)
                    if positions is not None:
                        positions.setdefault(f"turn {position}", []).append(ok)
                    if verbose:
                        top = answer.citations[0] if answer.citations else None
                        print(f"{'OK  ' if ok else 'MISS'} {text!r} [{intent.get(text)}{' follow-up' if follow else ''}]"
                              f" -> {answer.reason} {top and (top.policy, top.clause)}")
                elif verbose:
                    top = answer.citations[0] if answer.citations else None
                    print(f"     {text!r} -> {answer.reason} {top and (top.policy, top.clause)}")
                if answer.answered or answer.reason == "out_of_scope":
                    previous, cited = question, [f"{c.policy}#{c.clause}" for c in answer.citations]
    return scores


def _line(scores: dict[str, list[bool]]) -> str:
    total = sum(sum(v) for v in scores.values()), sum(len(v) for v in scores.values())
    return "  ".join(f"{k} {sum(v)}/{len(v)}" for k, v in scores.items()) + f"  all {total[0]}/{total[1]}"


def main() -> None:
    """Replay, sweep or rank (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--ranks", action="store_true")
    parser.add_argument("--set", type=Path, help="a dev conversations JSONL instead of the tuning conversations")
    parser.add_argument("--no-distractors", action="store_true", help="with --set: only the set's own policies")
    args = parser.parse_args()
    if args.set:
        searchers = {"set": set_searcher(args.set, distractors=not args.no_distractors)}
        sets = set_conversations(args.set, "set")
    else:
        searchers = {"sm": searcher("sm", SOCIAL_MEDIA), "lone": searcher("lone", LONE),
                     "library": searcher("library", T.LIBRARY)}
        sets = conversations()
    intent = intents([t for convs in sets.values() for _, turns in convs for t, _ in turns])
    if args.sweep:
        for back in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
            for margin in (float("inf"), 0.0, 0.05, 0.1, 0.2):
                F.BACK_WEIGHT, F.OTHER_POLICY_MARGIN = back, margin
                print(f"BACK_WEIGHT {back} OTHER_POLICY_MARGIN {margin}: {_line(replay(searchers, sets, intent))}")
    elif args.ranks:
        spied: list = []
        real = F._context_policy_first

        def spy(s, text, order, score, cited):
            spied.append((text, order))
            return real(s, text, order, score, cited)

        F._context_policy_first = spy
        golds = {t: g for convs in sets.values() for _, turns in convs for t, g in turns
                 if g is not None and (isinstance(g, set) or g[0] != T.NEW)}
        for back in (0.0, 0.1, 0.2, 0.3, 0.4):
            F.BACK_WEIGHT = back
            spied.clear()
            scores = replay(searchers, sets, intent)
            ranks = [next((i + 1 for i, c in enumerate(order) if _hit(c, golds[text])), len(order))
                     for text, order in spied if text in golds and F.has_topic(text) and F._BACK.search(text)]
            print(f"BACK_WEIGHT {back}: MRR {sum(1 / r for r in ranks) / len(ranks):.3f} over {len(ranks)} "
                  f"pointing-back follow-ups with words of their own; {_line(scores)}")
    else:
        positions: dict[str, list[bool]] = {}
        print(_line(replay(searchers, sets, intent, verbose=True, positions=positions)))
        print(_line(positions))
        later = [t for convs in sets.values() for _, turns in convs for t, g in turns if g is not None]
        counts: dict[str, int] = {}
        for text in later:
            counts[intent.get(text) or "?"] = counts.get(intent.get(text) or "?", 0) + 1
        print("intents of the scored turns:", dict(sorted(counts.items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    main()
