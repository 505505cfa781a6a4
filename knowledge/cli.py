"""The knowledge half of the `policy-coach` command line: ingest, ask, explain, eval, clauses (bot/cli.py adds quiz
draft)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from knowledge.settings import exit_on_bad_settings, get_settings


def _print_answer(answer) -> None:
    print(answer.message)
    for found in getattr(answer, "highlights", []):
        print(f"  >> {found.text}")
    for cite in answer.citations:
        print(f"\n[{cite.clause}] {cite.section}  ({cite.policy_title}; score {cite.score:.2f})")
        for line in cite.text.splitlines():
            print(f"    {line}")
    for contact in answer.contacts:
        print(f"\nContact: {contact.text}")


def _all_unchanged(parsed, index_dir: Path, model: str) -> bool:
    """True when the index already holds every file at the same checksum, built by the same model."""
    import json  # noqa: PLC0415

    from knowledge.encoder import expected_name  # noqa: PLC0415
    from knowledge.index import FORMAT_VERSION, retrieval_fingerprint  # noqa: PLC0415

    manifest = index_dir / "manifest.json"
    if not manifest.exists():
        return False
    try:
        meta = json.loads(manifest.read_text())
    except ValueError:
        return False
    known = meta.get("policies", {})
    from knowledge.index import verify  # noqa: PLC0415

    problem = verify(index_dir)
    if problem:
        print(f"the index at {index_dir} can't be kept: {problem}; rebuilding it")
        return False
    return meta.get("format") == FORMAT_VERSION and meta.get("model") == expected_name(model) and all(
        known.get(p.policy, {}).get("checksum") == p.checksum
        and known.get(p.policy, {}).get("retrieval") == retrieval_fingerprint(p.policy) for p in parsed)


def with_uploads(paths: list[Path], uploads: Path) -> list[Path]:
    """The given policy files plus the uploaded ones in the runtime dir; an upload replaces a shipped file of the
    same policy (so `make run` keeps the coordinator's newer version of a policy that ships with the product)."""
    from knowledge.parser import policy_id_for  # noqa: PLC0415
    from knowledge.readers import SUPPORTED  # noqa: PLC0415

    uploaded = {policy_id_for(p): p for p in sorted(uploads.iterdir())
                if p.is_file() and p.suffix.lower() in SUPPORTED} if uploads.is_dir() else {}
    kept = [p for p in paths if policy_id_for(p) not in uploaded]
    for path in paths:
        if policy_id_for(path) in uploaded:
            print(f"using the uploaded {uploaded[policy_id_for(path)]} instead of {path}")
    return kept + list(uploaded.values())


def cmd_ingest(args, ingest=None) -> int:
    """`ingest=`: what adds the files to the index (default knowledge.index.ingest); bot/cli.py passes the one that
    also records each new policy version in the database."""
    from knowledge.encoder import load_encoder  # noqa: PLC0415
    from knowledge.readers import PolicyReadError  # noqa: PLC0415

    if ingest is None:
        from knowledge.index import ingest  # noqa: PLC0415

    settings = get_settings()
    index_dir = Path(args.index or settings.index_dir)
    paths = [Path(p) for p in args.paths]
    if args.uploads:
        paths = with_uploads(paths, Path(settings.uploads_dir))
    if not paths:
        print("policy-coach ingest: give at least one policy file", file=sys.stderr)
        return 2
    try:
        # Parse everything first so a bad file stops the run before the model loads or anything is written.
        from knowledge.parser import parse_file  # noqa: PLC0415

        parsed = [parse_file(path) for path in paths]
        if not args.model and not args.force and _all_unchanged(parsed, index_dir, settings.model):
            _print_quality(parsed)
            for policy in parsed:
                print(f"unchanged {policy.policy}: nothing to do")
            print(f"index: {index_dir} (not rewritten)")
            return 0
        encoder = load_encoder(args.model or settings.model)
        report = ingest(paths, index_dir, encoder, progress=not args.quiet, force=args.force)
    except (PolicyReadError, ValueError) as exc:
        print(f"policy-coach ingest: {exc}", file=sys.stderr)
        return 1
    _print_quality(parsed)
    if report.damaged:
        print(f"rebuilt the index: the one on disk could not be kept ({report.damaged})")
    for name in report.recovered:
        print(f"kept {name}: re-read from its file for the rebuilt index")
    for name in report.lost:
        print(f"WARNING: {name} is no longer in the index: its file is gone; ingest it again to restore it",
              file=sys.stderr)
    for name in report.added:
        print(f"added {name}: {len(report.changes[name]['added'])} clauses")
    for name in report.updated:
        ch = report.changes[name]
        print(f"updated {name}: {len(ch['added'])} added, {len(ch['removed'])} removed, {len(ch['changed'])} changed")
    for name in report.unchanged:
        print(f"unchanged {name}: nothing to do")
    print(f"index: {index_dir}" + ("" if report.written else " (not rewritten)"))
    return 0


def _print_quality(parsed) -> None:
    """One line per document: units, longest unit, share of its sentences kept whole in one unit, warnings."""
    from knowledge.index import document_quality  # noqa: PLC0415

    print(f"{'policy':<40} {'units':>5} {'longest':>7} {'coverage':>8} {'fragments':>9}  warnings")
    for policy in parsed:
        q = document_quality(policy)
        print(f"{policy.policy[:40]:<40} {q['units']:>5} {q['longest']:>7} {q['coverage']:>8.1%} {q['fragments']:>9.1%}  "
              + ("; ".join(q["warnings"]) or "-"))


def _searcher(args):
    from knowledge.service import get_searcher  # noqa: PLC0415

    return get_searcher(index_dir=Path(args.index) if args.index else None)


def cmd_ask(args) -> int:
    from knowledge.index import IndexError_  # noqa: PLC0415

    try:
        answer = _searcher(args).ask(args.question)
    except IndexError_ as exc:
        if args.json:
            print(json.dumps({"answered": False, "message": str(exc), "citations": [], "reason": "no_index"}))
        else:
            print(f"policy-coach ask: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        _print_answer(answer)
    return 0


def cmd_explain(args) -> int:
    from knowledge.explain import explain, render  # noqa: PLC0415
    from knowledge.index import IndexError_  # noqa: PLC0415

    try:
        report = explain(_searcher(args), args.question, k=args.top)
    except IndexError_ as exc:
        print(f"policy-coach explain: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, ensure_ascii=False) if args.json else render(report))
    return 0


def cmd_eval(args) -> int:
    from knowledge.evaluate import evaluate, load_set  # noqa: PLC0415
    from knowledge.index import IndexError_  # noqa: PLC0415

    try:
        rows = load_set(Path(args.file))
        result = evaluate(_searcher(args), rows)
    except (OSError, ValueError, IndexError_) as exc:
        print(f"policy-coach eval: {exc}", file=sys.stderr)
        return 1
    if args.json:
        keys = ["n", "recall@1", "recall@3", "recall@5", "mrr", "oos_refused", "in_scope_refused", "first_policy",
                "p50_ms", "p95_ms", "policy_offered", "policy_prompt"]
        out = {k: result[k] for k in keys}
        out["questions"] = [{k: d[k] for k in ("q", "rank", "top", "refused")} for d in result["questions"]]
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"{args.file}: {result['n']} questions ({result['n_in_scope']} in scope, {result['n_oos']} off-topic)")
    print(f"  recall@1 {result['recall@1']:.3f}  recall@3 {result['recall@3']:.3f}  "
          f"recall@5 {result['recall@5']:.3f}  MRR {result['mrr']:.3f}")
    if result["oos_refused"] is not None:
        print(f"  off-topic refused {result['oos_refused']:.1%}")
    print(f"  in-scope wrongly refused {result['in_scope_refused']:.1%}")
    print(f"  latency p50 {result['p50_ms']:.1f} ms  p95 {result['p95_ms']:.1f} ms")
    if args.verbose:
        for d in result["questions"]:
            if d.get("oos") and not d["refused"]:
                print(f"  ANSWERED off-topic: {d['q']!r} -> {d['top']}")
            elif not d.get("oos") and (d["rank"] is None or d["rank"] > 1):
                flag = " [refused]" if d["refused"] else ""
                print(f"  rank {d['rank']}{flag}: {d['q']!r} gold {d['gold']} top {d['top']}")
    return 0


def cmd_clauses(args) -> int:
    from knowledge.index import IndexError_, load  # noqa: PLC0415

    try:
        index = load(Path(args.index or get_settings().index_dir))
    except IndexError_ as exc:
        print(f"policy-coach clauses: {exc}", file=sys.stderr)
        return 1
    if args.json:
        rows = [{"policy": c.policy, "clause": c.clause, "section": c.section, "title": c.title, "text": c.text}
                for c in index.clauses]
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    for clause in index.clauses:
        print(f"{clause.policy}\t{clause.clause}\t{clause.title}")
    return 0


def build_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """The parser for the knowledge commands; bot.cli adds the training commands (quiz draft) to it."""
    parser = argparse.ArgumentParser(prog="policy-coach", description="Offline policy-training assistant")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="build or update the policy index")
    p.add_argument("paths", nargs="*")
    p.add_argument("--index")
    p.add_argument("--model", help="sentence-transformers model name or folder (default from settings)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--force", action="store_true", help="re-read and re-embed the files even if they are unchanged")
    p.add_argument("--uploads", action="store_true",
                   help="also index the policies uploaded in the runtime dir (an upload wins over a shipped file)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", help="ask a question")
    p.add_argument("question")
    p.add_argument("--index")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("explain", help="show every pipeline stage's scores for one question")
    p.add_argument("question")
    p.add_argument("--index")
    p.add_argument("--top", type=int, default=5, help="how many ranked clauses to show (default 5)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("eval", help="measure retrieval on a JSONL question set")
    p.add_argument("file")
    p.add_argument("--index")
    p.add_argument("--json", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("clauses", help="list the indexed clauses")
    p.add_argument("--index")
    p.add_argument("--json", action="store_true", help="one JSON array of {policy, clause, section, title, text}")
    p.set_defaults(func=cmd_clauses)

    return parser, sub


def run(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse the arguments, check the settings, run the chosen command."""
    args = parser.parse_args(argv)
    exit_on_bad_settings()
    return args.func(args)


def main(argv: list[str] | None = None) -> int:
    """The knowledge commands alone (ingest, ask, eval, clauses); `policy-coach` is bot.cli:main."""
    return run(build_parser()[0], argv)
