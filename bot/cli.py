"""The `policy-coach` command line: the knowledge commands (ingest, ask, explain, eval, clauses), `quiz draft` and
`remind`; `ingest` records each new policy version in the database (bot/training/policies.py)."""
from __future__ import annotations

import sys
from pathlib import Path

from bot.training.bank import QuizBankError
from bot.training.draft import NoRulesError, write_draft
from knowledge import cli as knowledge_cli
from knowledge.settings import get_settings


def cmd_quiz_draft(args) -> int:
    """Draft a scenario bank for one policy of the index (status: draft, for review)."""
    from knowledge.index import IndexError_, load  # noqa: PLC0415  (faiss/numpy only when drafting)

    try:
        index = load(Path(args.index or get_settings().index_dir))
        bank = write_draft(index, args.policy, Path(args.out))
    except (IndexError_, NoRulesError, QuizBankError, OSError) as exc:
        print(f"policy-coach quiz draft: {exc}", file=sys.stderr)
        return 1
    except KeyError as exc:
        print(f"policy-coach quiz draft: {exc.args[0]}", file=sys.stderr)
        return 1
    sections = {s["section"] for s in bank["scenarios"]}
    print(f"drafted {len(bank['scenarios'])} scenarios over {len(sections)} sections of {args.policy} -> {args.out} "
          f"(status: draft; approve them before they are used)")
    return 0


def cmd_ingest(args) -> int:
    """knowledge's ingest, through bot/training/policies.py so each added or updated policy is recorded as a version."""
    from bot.training.policies import ingest_policies, record_versions  # noqa: PLC0415
    from bot.training.store import StoreUnavailable, get_store  # noqa: PLC0415

    def ingest_and_record(paths, index_dir, encoder, **options):
        report, versions = ingest_policies(paths, index_dir, encoder, **options)
        try:
            record_versions(get_store(), versions, uploaded_by=None)
        except StoreUnavailable as exc:  # the index is written either way; only the history misses this version
            print(f"WARNING: the policy versions were not recorded: {exc}", file=sys.stderr)
        return report

    return knowledge_cli.cmd_ingest(args, ingest=ingest_and_record)


def cmd_remind(args) -> int:
    """Email everyone with overdue training (only when the school configured SMTP_HOST)."""
    from datetime import date  # noqa: PLC0415

    from bot.training.reminders import RemindersOff, send_overdue_reminders  # noqa: PLC0415
    from bot.training.store import StoreUnavailable, get_store  # noqa: PLC0415
    from knowledge.index import IndexError_, load  # noqa: PLC0415

    settings = get_settings()
    try:
        index = load(Path(args.index or settings.index_dir))
        today = date.fromisoformat(args.today) if args.today else None
        report = send_overdue_reminders(get_store(settings.database_url), index, settings, today,
                                        dry_run=args.dry_run)
    except (RemindersOff, IndexError_, StoreUnavailable, ValueError, OSError) as exc:
        print(f"policy-coach remind: {exc}", file=sys.stderr)
        return 1
    if args.dry_run:
        print(f"{len(report.overdue)} people have overdue training: {', '.join(report.overdue) or 'nobody'} "
              f"(dry run: nothing sent)")
    else:
        n = len(report.sent)
        print(f"sent {n} reminder email{'' if n == 1 else 's'}" + (f"; failed: {len(report.failed)}" if report.failed
                                                                     else ""))
        for email, reason in report.failed:
            print(f"  not sent to {email}: {reason}", file=sys.stderr)
    for name in report.skipped:
        print(f"  {name} is overdue but has no email address on the roster", file=sys.stderr)
    return 1 if report.failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the policy-coach console script."""
    parser, sub = knowledge_cli.build_parser()
    sub.choices["ingest"].set_defaults(func=cmd_ingest)
    p = sub.add_parser("quiz", help="scenario quizzes")
    quiz = p.add_subparsers(dest="quiz_command", required=True)
    p = quiz.add_parser("draft", help="draft a scenario bank from a policy's rule sentences (for review)")
    p.add_argument("policy", metavar="POLICY_ID", help="the policy id that `policy-coach clauses` shows")
    p.add_argument("--index")
    p.add_argument("--out", required=True, metavar="FILE.yml")
    p.set_defaults(func=cmd_quiz_draft)
    p = sub.add_parser("remind", help="email overdue training reminders (needs SMTP_HOST)")
    p.add_argument("--index")
    p.add_argument("--dry-run", action="store_true", help="list who would be emailed; send nothing")
    p.add_argument("--today", metavar="YYYY-MM-DD", help="count as overdue what is due before this date")
    p.set_defaults(func=cmd_remind)
    return knowledge_cli.run(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
