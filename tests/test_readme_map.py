"""The README's module map: every module under knowledge/ and bot/ is named there, and every name there exists."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("knowledge", "bot")
NAME = re.compile(r"`([\w./-]+(?:\.py|\.yml|/))`")


def mapped() -> set[str]:
    """Paths the module map names, relative to the repository. In a row, a bare name lives where the row's first
    name does (`training/quiz.py`, `bank.py` is training/bank.py), and names in a folder row's role are in it."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Module map", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    room = None
    for line in section.splitlines():
        heading = re.match(r"`(\w+)/`", line)
        if heading and heading.group(1) in ROOMS:
            room = heading.group(1)
            continue
        if room is None or not line.startswith("| `"):
            continue
        first = NAME.findall(line.split("|")[1])
        if not first:
            continue
        base = first[0] if first[0].endswith("/") else first[0].rpartition("/")[0] + "/" if "/" in first[0] else ""
        for name in NAME.findall(line):
            inside = name if "/" in name.rstrip("/") or name == first[0] else base + name
            names.add(f"{room}/{inside}".rstrip("/"))
    return names


def modules() -> set[str]:
    """Every Python module of the two rooms (packages' __init__ and Alembic revision files aside)."""
    found = set()
    for room in ROOMS:
        for path in (ROOT / room).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if path.name != "__init__.py" and "versions" not in relative.parts:
                found.add(relative.as_posix())
    return found


def test_the_map_has_rows_for_both_rooms():
    names = mapped()
    assert {"knowledge/search.py", "bot/training/store.py", "bot/actions/policy.py"} <= names, sorted(names)


def test_every_module_is_in_the_readme_module_map():
    names = mapped()

    def covered(module: str) -> bool:  # a named folder (bot/training/migrations/) covers what is in it
        return module in names or any(module.startswith(name + "/") for name in names)

    missing = sorted(m for m in modules() if not covered(m))
    assert missing == [], "add these to the README's module map: " + ", ".join(missing)


def test_every_name_in_the_module_map_exists():
    gone = sorted(name for name in mapped() if not (ROOT / name).exists())
    assert gone == [], "the README's module map names files that do not exist: " + ", ".join(gone)
