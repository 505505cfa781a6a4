"""Turn a policy file (Markdown, text, Word, PDF) into plain lines, with clear errors."""
from __future__ import annotations

import re
from pathlib import Path


class PolicyReadError(ValueError):
    """A policy file could not be read into text; the message is shown to the user."""


SUPPORTED = {".md", ".markdown", ".txt", ".text", ".docx", ".pdf"}


def read_lines(path: Path) -> list[str]:
    """Read a policy file of any supported format and return its lines of text."""
    path = Path(path)
    if not path.exists():
        raise PolicyReadError(f"{path}: file not found")
    if not path.is_file():
        raise PolicyReadError(f"{path}: not a file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        hint = _CONVERT_HINTS.get(suffix, "use .md, .txt, .docx or .pdf")
        kind = f"'{suffix}'" if suffix else "(no extension)"
        raise PolicyReadError(f"{path.name}: unsupported file type {kind} ({hint})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyReadError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not data:
        raise PolicyReadError(f"{path.name}: the file is empty")
    if not data.strip() or (suffix not in (".docx", ".pdf") and not _decode(data).strip()):
        raise PolicyReadError(f"{path.name}: the file is empty (only blank space)")
    if suffix == ".docx":
        lines = _docx_lines(path)
    elif suffix == ".pdf":
        lines = _pdf_lines(path)
    else:
        lines = _text_lines(path.name, data)
    if not any(line.strip() for line in lines):
        raise PolicyReadError(f"{path.name}: no text found in the file")
    return lines


_CONVERT_HINTS = {
    ".doc": "save it from Word as .docx",
    ".rtf": "save it from Word as .docx",
    ".odt": "save it as .docx",
    ".pages": "export it as .docx or PDF",
    ".htm": "save the page as text (.txt)",
    ".html": "save the page as text (.txt)",
}

_BINARY_MAGIC = (b"%PDF", b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"{\\rtf")


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("cp1252", errors="replace")


def _text_lines(name: str, data: bytes) -> list[str]:
    if data.startswith(_BINARY_MAGIC):
        raise PolicyReadError(f"{name}: looks like a binary file (PDF, Word, image…), not text; check its extension")
    utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
    if b"\x00" in data[:4096] and not utf16:
        raise PolicyReadError(f"{name}: looks like a binary file, not text")
    text = _decode(data)
    sample = text[:4096]
    control = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\r\n\t\f") or ch == "\ufffd")
    if control > max(20, len(sample) // 50):
        raise PolicyReadError(f"{name}: looks like a binary file, not text")
    return text.splitlines()


def _docx_lines(path: Path) -> list[str]:
    try:
        import docx  # noqa: PLC0415 - python-docx is only needed for Word files
        from docx.opc.exceptions import PackageNotFoundError  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover
        raise PolicyReadError("Word files need the python-docx package") from exc
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError, Exception) as exc:  # zip/xml errors vary
        raise PolicyReadError(f"{path.name}: not a valid Word (.docx) file") from exc
    try:
        return _docx_body_lines(document)
    except Exception as exc:  # a damaged part inside an otherwise valid package
        raise PolicyReadError(f"{path.name}: the Word file could not be read ({type(exc).__name__})") from exc


def _docx_body_lines(document) -> list[str]:
    """Paragraphs and tables in document order, with Word's automatic numbering written out."""
    from docx.table import Table  # noqa: PLC0415
    from docx.text.paragraph import Paragraph  # noqa: PLC0415

    numbering = _DocxNumbering(document)
    lines: list[str] = []
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.extend(_docx_paragraph(Paragraph(child, document), numbering))
        elif tag == "tbl":
            lines.extend(_docx_table(Table(child, document)))
    return lines


def _docx_paragraph(para, numbering: _DocxNumbering) -> list[str]:
    text = re.sub(r"\s+", " ", para.text).strip()
    style = (para.style.name or "").lower() if para.style is not None else ""
    if not text:
        return [""]
    label, fmt, outline = numbering.label(para)
    heading = style.startswith("heading") or style == "title"
    if heading:
        level = re.search(r"\d", style)
        if label and fmt not in ("bullet", "none"):
            text = f"{label} {text}"
        return ["", "#" * (int(level.group()) if level else 1) + " " + text, ""]
    if fmt == "bullet":
        return ["- " + text]
    if label and fmt == "decimal" and outline:
        return [f"{label} {text}", ""]  # "1.2 Staff must…": a clause number from a multi-level (outline) list
    if label and fmt == "decimal":
        return [f"{label.rstrip('.)')}) {text}"]  # a simple numbered list: an item, not a section
    if label and fmt not in ("none", ""):
        return [f"({label.strip('().')}) {text}"]  # lettered or roman sub-item
    if "list" in style:
        return ["- " + text]
    runs = [run for run in para.runs if run.text.strip()]
    if runs and all(run.bold for run in runs) and len(text.split()) <= 12 and not text.endswith((".", ",", ";")):
        return ["", "### " + text, ""]  # a bold line used as a heading
    return [text, ""]


def _docx_table(table) -> list[str]:
    lines: list[str] = []
    for row in table.rows:
        cells = list(dict.fromkeys(re.sub(r"\s+", " ", cell.text).strip() for cell in row.cells))
        cells = [c for c in cells if c]
        if not cells:
            continue
        if len(cells) == 2 and len(cells[0].split()) <= 6 and not cells[0].endswith("."):
            lines.extend([f"{cells[0].rstrip(':')}: {cells[1]}"])  # "Review date | March 2025"
        else:
            lines.extend([" | ".join(cells), ""])
    lines.append("")
    return lines


class _DocxNumbering:
    """Word's list numbering (numbering.xml), so '1.1' generated by Word appears in the text."""

    _NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"

    def __init__(self, document):
        self.levels: dict[str, dict[int, tuple[str, str, int]]] = {}  # numId -> ilvl -> (fmt, lvlText, start)
        self.counters: dict[str, dict[int, int]] = {}
        self.style_num: dict[str, tuple[str, int]] = {}
        try:
            self._load(document)
        except (AttributeError, KeyError, NotImplementedError, ValueError, TypeError):
            # no numbering part, or one we cannot follow: the text is still read, without generated numbers
            self.levels, self.style_num = {}, {}

    def _load(self, document) -> None:
        w = self._NS
        root = document.part.numbering_part.element
        abstract: dict[str, dict[int, tuple[str, str, int]]] = {}
        for node in root.iter(f"{w}abstractNum"):
            levels = {}
            for lvl in node.iter(f"{w}lvl"):
                ilvl = int(lvl.get(f"{w}ilvl", "0"))
                fmt = self._val(lvl, "numFmt") or "decimal"
                text = self._val(lvl, "lvlText") or ""
                start = int(self._val(lvl, "start") or "1")
                levels[ilvl] = (fmt, text, start)
            abstract[node.get(f"{w}abstractNumId")] = levels
        for node in root.iter(f"{w}num"):
            ref = node.find(f"{w}abstractNumId")
            if ref is not None:
                self.levels[node.get(f"{w}numId")] = abstract.get(ref.get(f"{w}val"), {})
        for style in document.styles:
            ppr = getattr(style.element, "pPr", None)
            num = self._num_pr(ppr)
            if num:
                self.style_num[style.name] = num

    def _val(self, node, name: str) -> str | None:
        child = node.find(f"{self._NS}{name}")
        return child.get(f"{self._NS}val") if child is not None else None

    def _num_pr(self, ppr) -> tuple[str, int] | None:
        if ppr is None:
            return None
        num_pr = ppr.find(f"{self._NS}numPr")
        if num_pr is None:
            return None
        num_id = self._val(num_pr, "numId")
        level = self._val(num_pr, "ilvl") or "0"
        ilvl = int(level) if level.isdigit() else 0
        return (num_id, ilvl) if num_id and num_id != "0" else None

    def label(self, para) -> tuple[str, str, bool]:
        """(label as Word shows it, number format, whether the list is an outline such as 1 / 1.1) for a paragraph."""
        num = self._num_pr(para._p.pPr)
        if num is None and para.style is not None:
            num = self.style_num.get(para.style.name)
        if num is None or num[0] not in self.levels:
            return "", "", False
        num_id, ilvl = num
        levels = self.levels[num_id]
        fmt, pattern, _ = levels.get(ilvl, ("decimal", f"%{ilvl + 1}.", 1))
        counters = self.counters.setdefault(num_id, {})
        counters[ilvl] = counters.get(ilvl, levels.get(ilvl, ("", "", 1))[2] - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]
        if fmt == "bullet":
            return "-", "bullet", False

        def render(match: re.Match) -> str:
            level = int(match.group(1)) - 1
            lvl_fmt, _, lvl_start = levels.get(level, ("decimal", "", 1))
            return _format_number(counters.get(level, lvl_start), lvl_fmt)

        label = re.sub(r"%(\d)", render, pattern).strip()
        outline = any(len(re.findall(r"%\d", text)) > 1 for _, text, _ in levels.values())
        return label, fmt, outline


def _format_number(n: int, fmt: str) -> str:
    if fmt == "lowerLetter":
        return chr(ord("a") + (n - 1) % 26)
    if fmt == "upperLetter":
        return chr(ord("A") + (n - 1) % 26)
    if fmt in ("lowerRoman", "upperRoman"):
        out, value = "", n
        for number, numeral in ((10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
            while value >= number:
                out, value = out + numeral, value - number
        return out if fmt == "lowerRoman" else out.upper()
    return str(n)


def _pdf_lines(path: Path) -> list[str]:
    try:
        from pypdf import PdfReader  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover
        raise PolicyReadError("PDF files need the pypdf package") from exc
    if not path.read_bytes()[:1024].lstrip().startswith(b"%PDF"):
        raise PolicyReadError(f"{path.name}: not a valid PDF file")
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # many PDFs are "encrypted" with an empty password
            except Exception as exc:  # unsupported encryption: the same answer for the user
                raise PolicyReadError(f"{path.name}: the PDF is password-protected") from exc
            if not opened:
                raise PolicyReadError(f"{path.name}: the PDF is password-protected")
        pages = [page.extract_text() or "" for page in reader.pages]
    except PolicyReadError:
        raise
    except Exception as exc:  # pypdf raises many different errors for damaged files
        raise PolicyReadError(f"{path.name}: not a valid PDF file") from exc
    if not any(page.strip() for page in pages):
        raise PolicyReadError(f"{path.name}: no text found in the PDF (is it a scan? export it from Word as text)")
    return _strip_page_furniture([page.splitlines() for page in pages])


_PAGE_NUMBER = re.compile(r"^\s*(page\s+)?\d{1,3}(\s*(of|/)\s*\d{1,3})?\s*$", re.IGNORECASE)


def _strip_page_furniture(pages: list[list[str]]) -> list[str]:
    """Drop page numbers and running headers/footers, which would otherwise read as headings or clauses."""
    pages = [[ln for ln in page if ln.strip()] for page in pages]
    repeated: set[str] = set()
    if len(pages) >= 3:
        edges: dict[str, int] = {}
        for page in pages:
            for line in {*page[:2], *page[-2:]}:
                key = re.sub(r"\d+", "#", line.strip())
                edges[key] = edges.get(key, 0) + 1
        need = len(pages) if len(pages) < 5 else len(pages) - 1  # a header may be missing from the cover page
        repeated = {key for key, count in edges.items() if count >= need and not re.match(r"#(\.#)+\s", key)}
    lines: list[str] = []
    def furniture(line: str) -> bool:
        return re.sub(r"\d+", "#", line.strip()) in repeated

    for number, page in enumerate(pages):
        body = list(page)
        for _ in range(2):  # a footer or header line at either edge of the page
            if body and (_PAGE_NUMBER.match(body[-1]) or furniture(body[-1])):
                body.pop()
            # at the top, a bare number may be a section number ("3" then "SAFEGUARDING"): only "Page 3" goes
            top = body[0].strip() if body else ""
            if body and ((_PAGE_NUMBER.match(top) and not top.isdigit()) or (number and furniture(top))):
                body.pop(0)
        lines.extend(body)
        lines.append("")
    return lines
