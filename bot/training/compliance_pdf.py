"""Compliance report per policy for governors and inspectors: who has signed and passed, by role, with dates, pass
rates, overdue staff and the policy's review status — as rows (for the screen) and as a printable PDF (fpdf2)."""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path

from sqlalchemy import select

from bot.training import assignments
from bot.training.roles import ROLE_LABELS
from bot.training.reports import parse_review_date
from bot.training.store import Assignment, Attempt, SignOff, Staff, Store

# Debian's fonts-dejavu-core: a Unicode font, so names like "Zoë Ní Bhriain" print; Helvetica is the fallback.
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


def _day(value) -> str:
    if not value:
        return "—"
    return f"{value.day} {value:%b %Y}"


def review_status(meta: dict, today: date | None = None) -> str:
    """'Review due March 2023: 640 days overdue' / 'Next review: March 2027' / 'No review date in the policy'."""
    today = today or date.today()
    text = meta.get("review_date")
    due = parse_review_date(text)
    if not text:
        return "No review date in the policy"
    if due and due < today:
        return f"Review was due {text}: {(today - due).days} days overdue"
    return f"Next review: {text}"


def compliance(store: Store, index, policy: str, today: date | None = None) -> dict:
    """Everything the report shows for one policy: title, review status, one row per person on the roster (signed
    the current text? when; best score; passed? when; assigned and due; overdue), totals by role, overdue people."""
    today = today or date.today()
    meta = (index.policies.get(policy) if index is not None else None) or {}
    title = str(meta.get("title") or policy)
    with store.session() as session:
        people = session.scalars(select(Staff).where(Staff.on_roster.is_(True)).order_by(Staff.role, Staff.name)).all()
        rules = session.scalars(select(Assignment).where(Assignment.policy == policy)).all()
        signs: dict[int, list[SignOff]] = defaultdict(list)
        for s in session.scalars(select(SignOff).where(SignOff.policy == policy)).all():
            signs[s.staff_id].append(s)
        tries: dict[int, list[Attempt]] = defaultdict(list)
        for a in session.scalars(select(Attempt).where(Attempt.policy == policy, Attempt.status == "completed")).all():
            tries[a.staff_id].append(a)
        todo = {p.id: {t["policy"]: t for t in assignments._person_todo(session, index, p, rules, today)}
                for p in people} if index is not None else {}
        rows = []
        for person in people:
            item = todo.get(person.id, {}).get(policy)
            signed_at = max((s.signed_at for s in signs[person.id]), default=None)
            done = tries[person.id]
            passes = [a.finished_at for a in done if a.passed and not a.refresher and a.finished_at]
            rows.append({
                "name": person.name, "role": ROLE_LABELS.get(person.role, person.role),
                # with an assignment 'signed' means signed the current text; otherwise any signature of the policy
                "signed": bool(item["signed"]) if item else bool(signs[person.id]),
                "signed_on": _day(signed_at),
                "best": f"{round(max(a.score or 0 for a in done) * 100)}%" if done else "—",
                "passed": bool(passes), "passed_on": _day(min(passes)) if passes else "—",
                "assigned": bool(item), "due": _day(item["due"]) if item and item["due"] else "—",
                "overdue": bool(item and item["overdue"]), "missing": item["missing"] if item else "",
            })
    by_role: dict[str, dict] = {}
    for row in rows:
        r = by_role.setdefault(row["role"], {"role": row["role"], "people": 0, "signed": 0, "passed": 0})
        r["people"] += 1
        r["signed"] += row["signed"]
        r["passed"] += row["passed"]
    for r in by_role.values():
        r["pass_rate"] = f"{round(r['passed'] / r['people'] * 100)}%"
    n = len(rows)
    return {"policy": policy, "title": title, "owner": meta.get("owner") or "—", "review": review_status(meta, today),
            "today": _day(today), "rows": rows, "by_role": sorted(by_role.values(), key=lambda r: r["role"]),
            "overdue": [r for r in rows if r["overdue"]],
            "totals": {"people": n, "signed": sum(r["signed"] for r in rows), "passed": sum(r["passed"] for r in rows),
                       "pass_rate": f"{round(sum(r['passed'] for r in rows) / n * 100)}%" if n else "—"}}


def compliance_pdf(data: dict) -> bytes:
    """The compliance report as a printable A4 PDF."""
    from fpdf import FPDF  # noqa: PLC0415 - only when a report is asked for
    from fpdf.fonts import FontFace  # noqa: PLC0415

    pdf = FPDF(format="A4")
    pdf.set_title(f"Compliance report: {data['title']}")
    pdf.set_author("Policy Coach")
    if (FONT_DIR / "DejaVuSans.ttf").exists():
        pdf.add_font("body", "", str(FONT_DIR / "DejaVuSans.ttf"))
        pdf.add_font("body", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        font, clean = "body", str
    else:
        font = "helvetica"

        def clean(text: str) -> str:
            return str(text).replace("—", "-").encode("latin-1", "replace").decode("latin-1")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font(font, "B", 16)
    pdf.multi_cell(0, 8, clean(f"Compliance report: {data['title']}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(font, "", 10)
    for line in (f"Produced {data['today']} by Policy Coach", f"Policy owner: {data['owner']}",
                 f"Review status: {data['review']}",
                 f"{data['totals']['people']} people on the roster: {data['totals']['signed']} signed, "
                 f"{data['totals']['passed']} passed the quiz (pass rate {data['totals']['pass_rate']}), "
                 f"{len(data['overdue'])} overdue."):
        pdf.multi_cell(0, 6, clean(line), new_x="LMARGIN", new_y="NEXT")
    heading = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))

    def section(title: str) -> None:
        pdf.ln(4)
        pdf.set_font(font, "B", 12)
        pdf.cell(0, 8, clean(title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(font, "", 9)

    def table(head: list[str], body: list[list[str]], widths: tuple[int, ...]) -> None:
        with pdf.table(col_widths=widths, headings_style=heading, line_height=5.5, text_align="LEFT") as t:
            t.row([clean(h) for h in head])
            for cells in body:
                t.row([clean(c) for c in cells])

    section("By role")
    table(["Role", "People", "Signed", "Passed", "Pass rate"],
          [[r["role"], str(r["people"]), str(r["signed"]), str(r["passed"]), r["pass_rate"]] for r in data["by_role"]],
          (50, 15, 15, 15, 20))
    section(f"Overdue ({len(data['overdue'])})")
    if data["overdue"]:
        table(["Name", "Role", "Due", "Still to do"],
              [[r["name"], r["role"], r["due"], r["missing"]] for r in data["overdue"]], (40, 35, 20, 40))
    else:
        pdf.cell(0, 6, "Nobody is overdue.", new_x="LMARGIN", new_y="NEXT")
    section("Everyone on the roster")
    yes = {True: "Yes", False: "No"}
    table(["Name", "Role", "Signed", "Signed on", "Best score", "Passed", "Passed on", "Due"],
          [[r["name"], r["role"], yes[r["signed"]], r["signed_on"], r["best"], yes[r["passed"]], r["passed_on"],
            r["due"]] for r in data["rows"]], (34, 30, 13, 20, 15, 13, 20, 20))
    return bytes(pdf.output())
