"""Measure retrieval on a JSONL set: recall@k, MRR, off-topic refusal, first-citation policy and latency.

Evaluation sets are split (data/eval/sets.yml): `dev` sets may be tuned on, `test` sets are only reported.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from knowledge.settings import ROOT

SETS_FILE = ROOT / "data" / "eval" / "sets.yml"
TEST_DIR = ROOT / "data" / "eval" / "test"
TEST_POLICIES = ROOT / "tests" / "fixtures" / "policies"
POLICY_SUFFIXES = {".md", ".markdown", ".txt", ".text", ".docx", ".pdf"}


@dataclass
class EvalSet:
    """One question set, the policy files it asks about, and whether it may be tuned on."""

    name: str
    split: str  # dev | test
    policies: list[Path]
    questions: Path
    policy_ids: list[str] = field(default_factory=list)

    def rows(self) -> list[dict]:
        """The set's questions."""
        return load_set(self.questions)


# A test folder holds one policy in several formats (policy.docx, .pdf, .md, .txt, source.*): the set is measured on
# one of them, Word first (what schools mostly upload), copied under the folder's name so its policy id is the slug.
FORMAT_PREFERENCE = ("policy.docx", "policy.md", "policy.txt", "policy.pdf")


def _policy_files(folder: Path) -> list[Path]:
    for name in FORMAT_PREFERENCE:
        if (folder / name).is_file():
            target = Path(tempfile.gettempdir()) / "policy-coach-eval" / f"{folder.name}{Path(name).suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() or target.read_bytes() != (folder / name).read_bytes():
                shutil.copyfile(folder / name, target)
            return [target]
    return []


def eval_sets(split: str | None = None, *, sets_file: Path = SETS_FILE) -> list[EvalSet]:
    """The evaluation sets of data/eval/sets.yml plus every data/eval/test/<slug>.jsonl with policies in
    tests/fixtures/policies/<slug>/; only one split when `split` is given."""
    from knowledge.parser import policy_id_for  # noqa: PLC0415

    data = yaml.safe_load(Path(sets_file).read_text()) or {} if Path(sets_file).exists() else {}
    out: list[EvalSet] = []
    listed = set()
    for entry in data.get("sets") or []:
        questions = ROOT / entry["questions"]
        listed.add(questions.resolve())
        # A folder entry (data/eval/dev/policies/<slug>) is read like a test folder: one format, named by the slug.
        paths = [q for p in entry["policies"]
                 for q in (_policy_files(ROOT / p) if (ROOT / p).is_dir() else [ROOT / p])]
        out.append(EvalSet(entry["name"], entry["split"], paths, questions))
    if TEST_DIR.exists():
        for questions in sorted(TEST_DIR.glob("*.jsonl")):
            folder = TEST_POLICIES / questions.stem
            if questions.resolve() in listed or not folder.is_dir() or not _policy_files(folder):
                continue
            out.append(EvalSet(questions.stem, "test", _policy_files(folder), questions))
    for item in out:
        item.policy_ids = [policy_id_for(p) for p in item.policies]
    return [s for s in out if split is None or s.split == split]


def dev_library_extra(sets_file: Path = SETS_FILE) -> list[Path]:
    """Policies with no question set that join the dev library (the small fixture layouts the tests' library uses)."""
    data = yaml.safe_load(Path(sets_file).read_text()) or {} if Path(sets_file).exists() else {}
    return [ROOT / p for p in data.get("dev_library_extra") or []]


def dev_library_distractors(sets_file: Path = SETS_FILE) -> list[Path]:
    """Real policies of other schools with no question set that join the dev library of the bench and tuning: the
    same topics as the dev sets, so a question must be answered from its own school's policy. A folder entry is read
    like a dev set's folder (its policy.docx, under the folder's name)."""
    data = yaml.safe_load(Path(sets_file).read_text()) or {} if Path(sets_file).exists() else {}
    return [q for p in data.get("dev_library_distractors") or []
            for q in (_policy_files(ROOT / p) if (ROOT / p).is_dir() else [ROOT / p])]


def dev_library(sets: list[EvalSet], *, distractors: bool = True, sets_file: Path = SETS_FILE) -> list[Path]:
    """Every policy of the dev library: the dev sets' own, the extra fixtures, and (unless left out) the distractors."""
    paths = [p for s in sets if s.split == "dev" for p in s.policies] + dev_library_extra(sets_file)
    if distractors:
        paths += dev_library_distractors(sets_file)
    return list(dict.fromkeys(paths))


def load_set(path: Path) -> list[dict]:
    """Read an eval file: one JSON object per line, {"q", "gold"} or {"q", "oos": true}.

    An off-topic row may add "other_policy": true: a school-policy question on a topic another policy covers (pupils'
    phones put to a social media policy). It is off-topic for its own policy alone, but not for a library that may
    hold that other policy, so library figures leave it out of off-topic refusal; with "answered_by" (a blind judge's
    [{"policy": slug, "text": verbatim passage}], data/eval/*/AUDIT.md) the library checks it is answered from one of
    those policies instead. An in-scope row may add "also" in the same form: other library policies that answer it
    as directly as its own (another school's policy on the same topic).
    """
    rows = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        if "q" not in row or not (row.get("oos") or row.get("gold")):
            raise ValueError(f"{path}:{n}: each line needs 'q' and either 'gold' or 'oos'")
        if isinstance(row.get("gold"), str):
            row["gold"] = [row["gold"]]
        rows.append(row)
    return rows


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("\u2019", "'").split())


def matches(gold: str, citation, policies: set[str] | None = None) -> bool:
    """Does one gold entry (clause id, or 'text:' phrase) match one citation (of one of `policies`, if given)?"""
    if policies and citation.policy not in policies:
        return False
    if gold.startswith("text:"):
        return _norm(gold[5:]) in _norm(citation.text)
    return citation.clause == gold


def judged_policies(entries: list[dict] | None) -> set[str]:
    """The policy ids of an audit list (`answered_by` / `also`: [{"policy": slug, "text"}])."""
    from knowledge.parser import policy_id_for  # noqa: PLC0415

    return {policy_id_for(Path(e["policy"])) for e in entries or []}


def evaluate(searcher, rows: list[dict], *, k: int = 5, policies: set[str] | None = None,
             tie: float | None = None, choices: int | None = None) -> dict:
    """Run every question; return the summary figures and per-question detail.

    An in-scope question that is refused counts as a miss at every k. With `policies`, a hit must also come from
    one of those policies (the library case), and `first_policy` is the share of answered in-scope questions whose
    first citation is from one of them. Beside that strict figure, `policy_offered` is the share whose answer offers
    one of them at all: a labelled citation, or a button of the policy-choice prompt the bot shows when two policies
    answer about equally (knowledge.followup.policy_tie); `policy_prompt` is the share of answered in-scope
    questions that get that prompt (a prompt on every question would be useless, so both are reported); `tie` and
    `choices` replace the prompt's score margin and number of policies (followup.POLICY_TIE, TIE_CHOICES) to measure
    others. Where the sets carry a blind judge's audit (`also`, `answered_by`; see load_set), the library figures add
    `first_policy_any` (the first citation is from its own policy or one judged to answer it as directly),
    `first_policy_single` (the strict figure on questions only their own policy answers) with `n_shared` (answered
    questions another policy also answers), and `elsewhere_right` / `n_elsewhere` (an off-topic question another
    library policy answers, answered from that policy). `oos_answered_own` / `oos_answered_other` split the off-topic
    questions answered into those answered from the set's own policy (alone: every one) and from another library
    policy: adding policies can only add the second kind (docs/retrieval-eval.md, session 25, branch libref).
    """
    from knowledge.followup import policy_tie  # noqa: PLC0415 - followup builds on search; only the library needs it

    hits = {1: 0, 3: 0, 5: 0}
    rr = 0.0
    in_scope = oos = oos_refused = in_refused = first_ok = answered_in = offered = prompted = 0
    first_any = single = single_ok = elsewhere = elsewhere_ok = oos_own = oos_other = 0
    latencies = []
    questions = []
    searcher.ask("warm up")
    for row in rows:
        if policies and row.get("other_policy") and not row.get("answered_by"):
            continue
        start = time.perf_counter()
        answer = searcher.ask(row["q"])
        latencies.append((time.perf_counter() - start) * 1000)
        refused = not answer.answered
        first = answer.citations[0] if answer.citations else None
        if policies and row.get("other_policy"):
            # another library policy answers it (the judge's answered_by): it should be answered, from that policy
            elsewhere += 1
            elsewhere_ok += int(not refused and first is not None and first.policy in judged_policies(row["answered_by"]))
            continue
        if row.get("oos"):
            oos += 1
            oos_refused += int(refused)
            if not refused:
                from_own = policies is None or (first is not None and first.policy in policies)
                oos_own += int(from_own)
                oos_other += int(not from_own)
            questions.append({"q": row["q"], "oos": True, "rank": None, "refused": refused,
                              "top": [f"{first.policy}:{first.clause}"] if first else []})
            continue
        in_scope += 1
        in_refused += int(refused)
        ranked = searcher.search(row["q"], k=k)
        rank = next((i + 1 for i, c in enumerate(ranked) if any(matches(g, c, policies) for g in row["gold"])), None)
        counted = None if refused else rank
        for cut in hits:
            hits[cut] += int(counted is not None and counted <= cut)
        rr += 1.0 / counted if counted else 0.0
        detail = {"q": row["q"], "gold": row["gold"], "rank": counted, "refused": refused,
                  "top": [f"{c.policy}:{c.clause}" for c in ranked[:3]]}
        if not refused:
            answered_in += 1
            right = policies is None or (first is not None and first.policy in policies)
            first_ok += int(right)
            if policies is not None:
                first_any += int(right or (first is not None and first.policy in judged_policies(row.get("also"))))
                if not row.get("also"):
                    single += 1
                    single_ok += int(right)
            options = {k: v for k, v in (("tie", tie), ("choices", choices)) if v is not None}
            choice = policy_tie(searcher, row["q"], answer, **options) if policies else None
            shown = {c.policy for c in answer.citations} | {p for p, _ in (choice.policies if choice else [])}
            offered += int(policies is None or bool(shown & policies))
            prompted += int(choice is not None)
            if choice is not None:
                detail["choice"] = [p for p, _ in choice.policies]
        questions.append(detail)
    n_in = max(in_scope, 1)
    return {
        "n": len(rows),
        "n_in_scope": in_scope,
        "n_oos": oos,
        "recall@1": hits[1] / n_in,
        "recall@3": hits[3] / n_in,
        "recall@5": hits[5] / n_in,
        "mrr": rr / n_in,
        "oos_refused": oos_refused / oos if oos else None,
        "oos_answered_own": oos_own / oos if oos else None,
        "oos_answered_other": oos_other / oos if oos else None,
        "in_scope_refused": in_refused / n_in,
        "first_policy": first_ok / answered_in if answered_in else None,
        "policy_offered": offered / answered_in if answered_in else None,
        "policy_prompt": prompted / answered_in if answered_in else None,
        "first_policy_any": first_any / answered_in if policies is not None and answered_in else None,
        "first_policy_single": single_ok / single if single else None,
        "n_shared": answered_in - single if policies is not None else None,
        "n_single": single,
        "n_elsewhere": elsewhere,
        "elsewhere_right": elsewhere_ok / elsewhere if elsewhere else None,
        "p50_ms": float(np.percentile(latencies, 50)) if latencies else 0.0,
        "p95_ms": float(np.percentile(latencies, 95)) if latencies else 0.0,
        "questions": questions,
    }
