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
        raise PolicyReadError(f"{path.name}: unsupported file type '{suffix}' (use .md, .txt, .docx or .pdf)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyReadError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not data.strip():
        raise PolicyReadError(f"{path.name}: the file is empty")
    if suffix == ".docx":
        lines = _docx_lines(path)
    elif suffix == ".pdf":
        lines = _pdf_lines(path)
    else:
        lines = _text_lines(path.name, data)
    if not any(line.strip() for line in lines):
        raise PolicyReadError(f"{path.name}: no text found in the file")
    return lines


def _text_lines(name: str, data: bytes) -> list[str]:
    if b"\x00" in data[:4096]:
        raise PolicyReadError(f"{name}: looks like a binary file, not text")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes nearly everything
        raise PolicyReadError(f"{name}: text encoding not recognised")
    control = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\r\n\t\f")
    if control > 20:
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
    lines: list[str] = []
    for para in document.paragraphs:
        text = para.text.strip()
        style = (para.style.name or "").lower() if para.style is not None else ""
        if not text:
            lines.append("")
        elif style.startswith("heading") or style == "title":
            level = re.search(r"\d", style)
            lines.extend(["", "#" * (int(level.group()) if level else 1) + " " + text, ""])
        elif "list" in style:
            lines.append("- " + text)
        else:
            lines.extend([text, ""])
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
            if cells:
                lines.extend([" | ".join(dict.fromkeys(cells)), ""])
    return lines


def _pdf_lines(path: Path) -> list[str]:
    try:
        from pypdf import PdfReader  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover
        raise PolicyReadError("PDF files need the pypdf package") from exc
    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many different errors for damaged files
        raise PolicyReadError(f"{path.name}: not a valid PDF file") from exc
    lines: list[str] = []
    for page in pages:
        lines.extend(page.splitlines())
        lines.append("")
    return lines
