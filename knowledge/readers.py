"""Read a policy file — Markdown, plain text, Word, PDF or a saved web page — into one document tree.

Each format is read with a maintained parser (markdown-it-py, lxml, python-docx, pdfplumber); only plain text
needs hand-written heuristics (underlined and capitalised headings, numbering that restarts, hard-wrapped
lines, page headers), because plain text has no structure to parse. Every failure is a `PolicyReadError`
whose message is one line a coordinator can act on.
"""
from __future__ import annotations

import re
import zipfile
from collections import Counter
from pathlib import Path

import yaml

from knowledge.document import CONTENTS_HEADING, Block, Document, contents_entry, normalise, split_run_in_number, title_key


class PolicyReadError(ValueError):
    """A policy file could not be read into text; the message is shown to the user."""


SUPPORTED = {".md", ".markdown", ".txt", ".text", ".rst", ".docx", ".pdf", ".html", ".htm"}
MAX_BYTES = 25 * 1024 * 1024  # a 200-page policy PDF is ~2-5 MB; anything far larger is not a policy
MAX_UNZIPPED = 200 * 1024 * 1024  # a .docx whose parts inflate past this is refused before opening (zip bomb)

_CONVERT_HINTS = {
    ".doc": "an old Word .doc file: open it in Word and save it as .docx",
    ".rtf": "save it from Word as .docx",
    ".odt": "save it as .docx",
    ".pages": "export it as .docx or PDF",
    ".docm": "a macro-enabled Word file: save it as a plain .docx",
}


def sniff(data: bytes, suffix: str) -> str:
    """The format the bytes really are ('pdf', 'docx', 'ole', 'html', 'text', 'binary'), whatever the extension."""
    head = data[:2048].lstrip()
    if head.startswith(b"%PDF"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return "docx" if b"word/" in data[:65536] or suffix == ".docx" else "zip"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return "ole"  # an old .doc, or an encrypted Office file
    if data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"{\\rtf")):
        return "binary"
    lowered = head[:512].lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"\xef\xbb\xbf<!doctype html", b"\xef\xbb\xbf<html")) or (
        suffix in (".html", ".htm") and b"<" in lowered
    ):
        return "html"
    return "text"


def read_document(path: Path, *, max_bytes: int | None = None, max_unzipped: int | None = None) -> Document:
    """Read a policy file of any supported format into a Document, or raise PolicyReadError.

    `max_bytes` and `max_unzipped` lower the file and unpacked-Word limits (uploads use smaller caps).
    """
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    max_unzipped = MAX_UNZIPPED if max_unzipped is None else max_unzipped
    path = Path(path)
    if not path.exists():
        raise PolicyReadError(f"{path}: file not found")
    if not path.is_file():
        raise PolicyReadError(f"{path}: not a file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        hint = _CONVERT_HINTS.get(suffix, "use .md, .txt, .html, .docx or .pdf")
        kind = f"'{suffix}'" if suffix else "(no extension)"
        raise PolicyReadError(f"{path.name}: unsupported file type {kind} ({hint})")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise PolicyReadError(f"{path.name}: the file is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyReadError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not data.strip():
        raise PolicyReadError(f"{path.name}: the file is empty")
    kind = sniff(data, suffix)
    expected = {".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html"}.get(suffix, "text")
    warnings = []
    if kind != expected:
        if kind in ("ole",):
            raise PolicyReadError(
                f"{path.name}: an old Word .doc or a password-protected Office file; save it from Word as .docx "
                "without a password"
            )
        if kind in ("binary", "zip"):
            raise PolicyReadError(f"{path.name}: looks like a binary file (an image or archive), not {suffix} text")
        if kind == "text" and expected in ("pdf", "docx"):
            name = "PDF" if expected == "pdf" else "Word (.docx)"
            raise PolicyReadError(f"{path.name}: not a valid {name} file")
        warnings.append(f"the file's contents are {kind.upper()}, not what its extension '{suffix}' says; read as {kind}")
    if kind == "pdf":
        doc = _pdf(path, data)
    elif kind == "docx":
        doc = _docx(path, data, max_unzipped)
    elif kind == "html":
        doc = _html(path.name, decode(path.name, data))
    else:
        text = decode(path.name, data)
        doc = _markdown(text) if suffix in (".md", ".markdown") or _looks_like_markdown(text) else _text(text)
    doc.warnings = warnings + doc.warnings
    if not any(b.text.strip() for b in doc.blocks):
        raise PolicyReadError(f"{path.name}: no text found in the file")
    return doc


def decode(name: str, data: bytes) -> str:
    """Text from bytes: UTF-8 (with or without BOM), UTF-16 with a BOM, else Windows-1252; binary is refused."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise PolicyReadError(f"{name}: damaged UTF-16 text") from exc
    if b"\x00" in data[:4096]:
        raise PolicyReadError(f"{name}: looks like a binary file, not text; check its extension")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # Windows-1252: what Notepad and older Word save
    sample = text[:4096]
    control = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\r\n\t\f") or ch == "\ufffd")
    if control > max(20, len(sample) // 50):
        raise PolicyReadError(f"{name}: looks like a binary file, not text")
    return text


# -- Markdown ----------------------------------------------------------------------------------------------------

_MD_SIGNS = re.compile(r"^(#{1,6}\s+\S|\s*[-*+]\s+\S.*|\s*\d+\.\s+\S.*|\|.*\|\s*$)", re.MULTILINE)


def _looks_like_markdown(text: str) -> bool:
    """Plain text that is really Markdown: ATX headings, or lists and emphasis in Markdown syntax."""
    headings = len(re.findall(r"^#{1,6}\s+\S", text, re.MULTILINE))
    emphasis = len(re.findall(r"\*\*[^*\n]+\*\*|\[[^\]\n]+\]\([^)\n]+\)", text))
    return headings >= 2 or (headings >= 1 and emphasis >= 2)


_SUB_MARKER = re.compile(r"^(\(?[a-z]\)|\(?[ivx]{1,4}\)|[a-z]\.\s|[-•]\s)")


def join_lines(lines: list[str]) -> str:
    """A block's lines as one text: wrapped lines joined with spaces, but a line that starts a sub-item such as
    '(a)' or 'b)' kept on a line of its own."""
    out = ""
    for line in lines:
        if not out:
            out = line
        elif _SUB_MARKER.match(line):
            out += "\n" + line
        else:
            out += " " + line
    return out


def _inline_text(token) -> list[str]:
    """The words of a markdown-it inline token as lines (soft and hard breaks kept as line ends)."""
    out = [""]
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            out[-1] += child.content
        elif child.type in ("softbreak", "hardbreak"):
            out.append("")
        elif child.type == "html_inline":
            if re.match(r"<br\s*/?>", child.content, re.IGNORECASE):
                out.append("")
            elif re.match(r"</?(td|th|p|div)\b", child.content, re.IGNORECASE):
                out[-1] += " "
    return [normalise(line) for line in out if normalise(line)]


def _markdown(text: str) -> Document:
    from markdown_it import MarkdownIt  # noqa: PLC0415 - only needed for Markdown files

    doc = Document()
    text = text.replace("\r\n", "\n")
    front = re.match(r"^---\n(.*?)\n(?:---|\.\.\.)\n", text, re.DOTALL)
    if front:
        try:
            meta = yaml.safe_load(front.group(1))
        except yaml.YAMLError:
            meta = None
        if isinstance(meta, dict):
            doc.meta = {str(k).strip(): normalise(str(v)) for k, v in meta.items() if v not in (None, "")}
            title = next((v for k, v in doc.meta.items() if k.lower() == "title"), "")
            doc.title = title
            text = text[front.end():]
    parser = MarkdownIt("commonmark", {"html": True}).enable("table")
    tokens = parser.parse(text)
    lists: list[dict] = []  # open lists: {"ordered", "n"}
    item: Block | None = None  # the list item whose first paragraph is still to come
    row: list[str] | None = None
    for i, token in enumerate(tokens):
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            start = int(token.attrGet("start") or 1)
            lists.append({"ordered": kind == "ordered_list_open", "n": start - 1, "marker": token.markup})
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            current = lists[-1]
            current["n"] += 1
            label = f"{current['n']}{token.markup or '.'}" if current["ordered"] else "•"
            item = Block("item", "", level=len(lists) - 1, label=label)
            doc.blocks.append(item)
        elif kind == "heading_open":
            lines = _inline_text(tokens[i + 1])
            doc.blocks.append(Block("heading", " ".join(lines), level=int(token.tag[1])))
        elif kind == "inline" and tokens[i - 1].type == "paragraph_open":
            lines = _inline_text(token)
            if not lines:
                continue
            if item is not None and not item.text:
                item.text, item.lines = join_lines(lines), lines
            elif item is not None and lists and doc.blocks and doc.blocks[-1] is item:
                item.text += "\n" + join_lines(lines)  # a second paragraph of the same list item
                item.lines += lines
            else:
                doc.blocks.append(Block("para", join_lines(lines), lines=lines))
        elif kind == "list_item_close":
            item = None
        elif kind == "html_block":
            lines = [normalise(ln) for ln in _strip_tags(token.content).split("\n") if normalise(ln)]
            if lines:
                doc.blocks.append(Block("para", " ".join(lines), lines=lines))
        elif kind in ("fence", "code_block"):
            lines = [normalise(ln) for ln in token.content.split("\n") if normalise(ln)]
            if lines:
                doc.blocks.append(Block("para", " ".join(lines), lines=lines))
        elif kind == "tr_open":
            row = []
        elif kind == "inline" and row is not None and tokens[i - 1].type in ("th_open", "td_open"):
            row.append(" ".join(_inline_text(token)))
        elif kind == "tr_close":
            _add_row(doc, row or [])
            row = None
    doc.blocks = [b for b in doc.blocks if b.text.strip()]
    return doc


def _strip_tags(html: str) -> str:
    html = re.sub(r"<br\s*/?>|</(p|div|li|tr|h\d)>", "\n", html, flags=re.IGNORECASE)
    html = re.sub(r"<[^>]+>", " ", html)
    import html as html_lib  # noqa: PLC0415

    return html_lib.unescape(html)


def _add_row(doc: Document, cells: list[str]) -> None:
    cells = list(dict.fromkeys(c.strip() for c in cells if c and c.strip()))
    if cells:
        doc.blocks.append(Block("row", " | ".join(cells), lines=cells))


# -- HTML (a policy saved from a school website) -----------------------------------------------------------------

_CHROME = re.compile(
    r"(^|[-_\s])(nav|navbar|menu|breadcrumbs?|footer|site-header|masthead|cookie|cookies|sidebar|skip|share|"
    r"social|banner|search|newsletter|widget)([-_\s]|$)",
    re.IGNORECASE,
)
_BLOCK_TAGS = {"p", "div", "section", "article", "main", "blockquote", "ul", "ol", "li", "table", "tr", "td", "th",
               "h1", "h2", "h3", "h4", "h5", "h6", "dl", "dt", "dd", "header", "footer", "figure", "br", "hr", "pre",
               "thead", "tbody", "tfoot", "colgroup", "caption"}


def _html(name: str, text: str) -> Document:
    import lxml.html  # noqa: PLC0415 - only needed for web pages

    try:
        root = lxml.html.document_fromstring(text.encode("utf-8"))
    except Exception as exc:  # lxml raises several parser errors for broken markup
        raise PolicyReadError(f"{name}: the web page could not be read") from exc
    doc = Document()
    title = root.find(".//title")
    for bad in root.xpath("//script|//style|//noscript|//template|//svg|//iframe|//form|//button|//select"):
        bad.drop_tree()
    main = _main_content(root)
    for bad in main.xpath(".//nav|.//aside|.//*[@role='navigation']|.//*[@aria-hidden='true']"):
        bad.drop_tree()
    for el in list(main.iter()):
        if not isinstance(el.tag, str) or el is main:
            continue
        marker = f"{el.get('id', '')} {el.get('class', '')}"
        if el.tag in ("header", "footer") or (_CHROME.search(marker) and el.tag not in ("h1", "h2", "h3")):
            if el.getparent() is not None and not el.xpath(".//h1") and el.tag != "body":
                el.drop_tree()
    _walk_html(main, doc, depth=-1)
    doc.blocks = [b for b in doc.blocks if b.text.strip()]
    h1 = next((b.text for b in doc.blocks if b.kind == "heading" and b.level == 1), "")
    doc.title = h1 or (normalise(title.text_content()) if title is not None else "")
    return doc


def _main_content(root):
    """The element holding the policy: <main>, <article>, role=main, else the body without its chrome."""
    for query in ("//main", "//*[@role='main']", "//article", "//*[@id='content' or @id='main-content']"):
        found = root.xpath(query)
        if found:
            return max(found, key=lambda el: len(el.text_content()))
    body = root.find("body")
    main = body if body is not None else root
    for bad in main.xpath(".//header|.//footer|.//nav"):
        bad.drop_tree()
    return main


def _own_lines(el) -> list[str]:
    """The text of an element, excluding nested lists and tables, with <br> and inner paragraphs as line ends."""
    parts: list[str] = []

    def visit(node, top: bool) -> None:
        if not top:
            if node.tag in ("ul", "ol", "table"):
                return
            if node.tag == "br":
                parts.append("\n")
                return
            if node.tag in ("p", "div"):
                parts.append("\n")
        parts.append(node.text or "")
        for child in node:
            if isinstance(child.tag, str):
                visit(child, False)
            parts.append(child.tail or "")
        if not top and node.tag in ("p", "div"):
            parts.append("\n")

    visit(el, True)
    return [normalise(line) for line in "".join(parts).split("\n") if normalise(line)]


def _in_page_link(li) -> bool:
    """A list item that is only links to anchors on the same page, perhaps with a page number (a web page's table
    of contents)."""
    links = li.xpath(".//a[starts-with(@href, '#')]")
    if not links:
        return False
    letters = re.sub(r"\W+", "", li.text_content())
    linked = re.sub(r"\W+", "", "".join(a.text_content() for a in links))
    return bool(linked) and re.fullmatch(re.escape(linked) + r"\d{0,3}", letters) is not None


def _walk_html(el, doc: Document, depth: int) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    if re.fullmatch(r"h[1-6]", tag):
        doc.blocks.append(Block("heading", normalise(el.text_content()), level=int(tag[1])))
        return
    if tag == "li":
        parent = el.getparent()
        ordered = parent is not None and parent.tag == "ol"
        label = "•"
        if ordered:
            start = int(parent.get("start", "1") or 1) if str(parent.get("start", "1")).isdigit() else 1
            label = f"{start + [c for c in parent if c.tag == 'li'].index(el)}."
        lines = _own_lines(el)
        doc.blocks.append(Block("item", " ".join(lines), level=max(depth, 0), label=label, lines=lines))
        for child in el:
            if isinstance(child.tag, str) and child.tag in ("ul", "ol", "table"):
                _walk_html(child, doc, depth)
        return
    if tag in ("ul", "ol"):
        start = len(doc.blocks)
        for child in el:
            if isinstance(child.tag, str):
                _walk_html(child, doc, depth + 1)
        items = [li for li in el if isinstance(li.tag, str) and li.tag == "li"]
        if len(items) >= 3 and all(_in_page_link(li) for li in items):
            for block in doc.blocks[start:]:  # every entry links to a part of this page: a table of contents
                block.kind, block.label = "toc", ""
        return
    if tag == "tr":
        cells = [normalise(c.text_content()) for c in el if isinstance(c.tag, str) and c.tag in ("td", "th")]
        _add_row(doc, cells)
        return
    if tag in ("p", "dt", "dd", "pre", "figcaption", "caption", "address"):
        lines = _own_lines(el) if tag != "pre" else [normalise(x) for x in el.text_content().split("\n") if normalise(x)]
        if lines:
            doc.blocks.append(Block("para", " ".join(lines), lines=lines))
        for child in el:
            if isinstance(child.tag, str) and child.tag in ("ul", "ol", "table"):
                _walk_html(child, doc, depth)
        return
    # A container: its own loose text is a paragraph; block children are walked in order.
    loose = [el.text or ""]
    def flush() -> None:
        lines = [normalise(x) for x in "".join(loose).split("\n") if normalise(x)]
        if lines:
            doc.blocks.append(Block("para", " ".join(lines), lines=lines))
        loose.clear()

    for child in el:
        if not isinstance(child.tag, str):
            loose.append(child.tail or "")
            continue
        if child.tag in _BLOCK_TAGS:
            if child.tag == "br":
                loose.append("\n")
            else:
                flush()
                _walk_html(child, doc, depth)
        else:
            loose.append(child.text_content())
        loose.append(child.tail or "")
    flush()


# -- Word ----------------------------------------------------------------------------------------------------------


def _docx(path: Path, data: bytes, max_unzipped: int = MAX_UNZIPPED) -> Document:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            # Sizes from the central directory, before any member is opened; zipfile never inflates a member
            # past its declared size, so a member that lies about it fails its CRC instead of filling memory.
            total = sum(info.file_size for info in archive.infolist())
            if total > max_unzipped or len(names) > 5000:
                raise PolicyReadError(f"{path.name}: the Word file unpacks to {total / 1e6:.0f} MB; refused as unsafe")
            if "word/vbaProject.bin" in names:
                macro_warning = "the Word file contains macros; they were ignored (only its text is read)"
            else:
                macro_warning = ""
    except zipfile.BadZipFile as exc:
        raise PolicyReadError(f"{path.name}: not a valid Word (.docx) file") from exc
    try:
        import docx  # noqa: PLC0415 - only needed for Word files

        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises zip, XML and key errors for damaged packages
        if "macroEnabled" in str(exc):
            try:
                document = _open_docm(path)
            except Exception as inner:
                raise PolicyReadError(f"{path.name}: not a valid Word (.docx) file") from inner
        else:
            raise PolicyReadError(f"{path.name}: not a valid Word (.docx) file") from exc
    try:
        doc = _docx_blocks(document)
    except Exception as exc:  # a damaged part inside an otherwise valid package
        raise PolicyReadError(f"{path.name}: the Word file could not be read ({type(exc).__name__})") from exc
    if macro_warning:
        doc.warnings.append(macro_warning)
    return doc


def _open_docm(path: Path):
    """python-docx refuses macro-enabled content types; the text is the same, so read the body all the same."""
    import docx  # noqa: PLC0415
    from docx.opc.constants import CONTENT_TYPE as CT  # noqa: PLC0415
    from docx.opc.package import OpcPackage  # noqa: PLC0415
    from docx.opc.part import PartFactory  # noqa: PLC0415
    from docx.parts.document import DocumentPart  # noqa: PLC0415

    PartFactory.part_type_for["application/vnd.ms-word.document.macroEnabled.main+xml"] = DocumentPart
    del CT, OpcPackage
    return docx.Document(str(path))


def _docx_blocks(document) -> Document:
    from docx.table import Table  # noqa: PLC0415
    from docx.text.paragraph import Paragraph  # noqa: PLC0415

    doc = Document()
    props = document.core_properties
    numbering = _DocxNumbering(document)
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            block = _docx_paragraph(Paragraph(child, document), numbering)
            if block is not None:
                doc.blocks.append(block)
        elif tag == "tbl":
            for row in Table(child, document).rows:
                try:
                    cells = [normalise(cell.text) for cell in row.cells]
                except (IndexError, ValueError):
                    continue  # merged cells python-docx cannot map
                _add_row(doc, cells)
    title = next((b.text for b in doc.blocks if b.kind == "heading" and b.level == 1), "")
    doc.title = title or (props.title or "")
    return doc


def _docx_paragraph(para, numbering: _DocxNumbering) -> Block | None:
    lines = [normalise(x) for x in para.text.split("\n") if normalise(x)]
    if not lines:
        return None
    text = " ".join(lines)
    style = (para.style.name or "").lower() if para.style is not None else ""
    if re.fullmatch(r"toc( heading| \d)?|table of figures", style):
        # Word's own contents list (styles "TOC 1".."TOC 9"): entries with tab leaders and page numbers
        return Block("heading", text, level=2) if style == "toc heading" else Block("toc", lines[0], lines=lines[:1])
    label, fmt, outline, ilvl = numbering.label(para)
    if style.startswith("heading") or style == "title":
        level = re.search(r"\d", style)
        number = label if label and fmt not in ("bullet", "none") else ""
        return Block("heading", f"{number} {text}".strip(), level=int(level.group()) if level else 1, label=number)
    if fmt == "bullet" or ("list" in style and not label):
        return Block("item", text, level=ilvl, label="•", lines=lines)
    if label and fmt == "decimal" and outline:
        return Block("para", f"{label} {text}", lines=lines)  # "1.2 Staff must…": an outline clause number
    if label and fmt not in ("none", ""):
        shown = f"{label.rstrip('.)')}." if fmt == "decimal" else f"({label.strip('().')})"
        return Block("item", text, level=ilvl, label=shown, lines=lines)
    runs = [run for run in para.runs if run.text.strip()]
    if runs and all(run.bold for run in runs) and len(text.split()) <= 12 and not text.endswith((".", ",", ";")):
        return Block("heading", text, level=4)  # a bold line used as a heading
    return Block("para", text, lines=lines)


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
                levels[ilvl] = (self._val(lvl, "numFmt") or "decimal", self._val(lvl, "lvlText") or "",
                                int(self._val(lvl, "start") or "1"))
            abstract[node.get(f"{w}abstractNumId")] = levels
        for node in root.iter(f"{w}num"):
            ref = node.find(f"{w}abstractNumId")
            if ref is not None:
                self.levels[node.get(f"{w}numId")] = abstract.get(ref.get(f"{w}val"), {})
        for style in document.styles:
            num = self._num_pr(getattr(style.element, "pPr", None))
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

    def label(self, para) -> tuple[str, str, bool, int]:
        """(label as Word shows it, number format, whether the list is an outline such as 1 / 1.1, list level)."""
        num = self._num_pr(para._p.pPr)
        if num is None and para.style is not None:
            num = self.style_num.get(para.style.name)
        if num is None or num[0] not in self.levels:
            return "", "", False, 0
        num_id, ilvl = num
        levels = self.levels[num_id]
        fmt, pattern, _ = levels.get(ilvl, ("decimal", f"%{ilvl + 1}.", 1))
        counters = self.counters.setdefault(num_id, {})
        counters[ilvl] = counters.get(ilvl, levels.get(ilvl, ("", "", 1))[2] - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]
        if fmt == "bullet":
            return "-", "bullet", False, ilvl

        def render(match: re.Match) -> str:
            level = int(match.group(1)) - 1
            lvl_fmt, _, lvl_start = levels.get(level, ("decimal", "", 1))
            return _format_number(counters.get(level, lvl_start), lvl_fmt)

        label = re.sub(r"%(\d)", render, pattern).strip()
        outline = any(len(re.findall(r"%\d", text)) > 1 for _, text, _ in levels.values())
        return label, fmt, outline, ilvl


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


# -- PDF -----------------------------------------------------------------------------------------------------------

_PAGE_NUMBER = re.compile(r"^\s*(page\s+)?\d{1,3}(\s*(of|/)\s*\d{1,3})?\s*$", re.IGNORECASE)
_BULLET_CHARS = "•●▪◦■□➢➤►‣⁃-–*o"


def _pdf(path: Path, data: bytes) -> Document:
    try:
        import pdfplumber  # noqa: PLC0415 - only needed for PDFs
        from pdfminer.pdfdocument import PDFPasswordIncorrect  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover
        raise PolicyReadError("PDF files need the pdfplumber package") from exc
    try:
        with pdfplumber.open(path) as pdf:
            pages = []
            for page in pdf.pages:
                words = page.extract_words(extra_attrs=["size", "fontname"], use_text_flow=True, keep_blank_chars=False)
                tables = _pdf_tables(page)
                if tables:
                    words = [w for w in words if not any(_inside(w, bbox) for bbox, _ in tables)]
                pages.append((page.height, words, tables))
    except PDFPasswordIncorrect as exc:
        raise PolicyReadError(f"{path.name}: the PDF is password-protected; save an unprotected copy") from exc
    except Exception as exc:  # pdfminer raises many different errors for damaged files
        causes = " ".join(type(a).__name__ for a in getattr(exc, "args", ()) if isinstance(a, BaseException))
        if "password" in f"{exc} {causes}".lower() or "encrypt" in f"{type(exc).__name__} {causes}".lower():
            raise PolicyReadError(f"{path.name}: the PDF is password-protected; save an unprotected copy") from exc
        raise PolicyReadError(f"{path.name}: not a valid PDF file (it could not be opened)") from exc
    if not any(words or tables for _, words, tables in pages):
        raise PolicyReadError(
            f"{path.name}: no text found in the PDF — it looks like a scan; export it from Word, or run OCR first"
        )
    return _pdf_blocks([(h, sorted(_pdf_lines(words) + [_table_line(bbox, rows) for bbox, rows in tables],
                                   key=lambda ln: ln["top"])) for h, words, tables in pages])


def _pdf_tables(page) -> list[tuple[tuple, list[list[str]]]]:
    """Ruled tables on a PDF page (pdfplumber's table finder): (bounding box, rows of cell texts). Only tables of
    two or more columns with at least two fully filled rows count; a box drawn round a page header is not one."""
    found = []
    for table in page.find_tables():
        rows = [[normalise(cell or "") for cell in row] for row in table.extract()]
        full = [row for row in rows if len(row) >= 2 and all(row)]
        if len(full) >= 2:
            found.append((table.bbox, [row for row in rows if any(row)]))
    return found


def _inside(word: dict, bbox: tuple) -> bool:
    x0, top, x1, bottom = bbox
    return word["x0"] >= x0 - 1 and word["x1"] <= x1 + 1 and word["top"] >= top - 1 and word["bottom"] <= bottom + 1


def _table_line(bbox: tuple, rows: list[list[str]]) -> dict:
    """A table placed among a page's lines at its position, so its rows come out where the table stands."""
    return {"text": f"\x00table {bbox}", "top": bbox[1], "bottom": bbox[3], "x0": bbox[0], "x1": bbox[2], "size": 0,
            "is_bold": False, "table": rows}


def _pdf_lines(words: list[dict]) -> list[dict]:
    """Words grouped into lines by their position, each with its text, font size, boldness and indent."""
    lines: list[dict] = []
    for word in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        if lines and abs(word["top"] - lines[-1]["top"]) <= 2.5:
            line = lines[-1]
            gap = word["x0"] - line["x1"]
            line["text"] += (" " if gap > 0.8 else "") + word["text"]
            line["x1"] = word["x1"]
            line["sizes"].append(word["size"])
            line["bold"].append(bool(re.search(r"bold|black|heavy|semibold", word["fontname"], re.IGNORECASE)))
            line["bottom"] = max(line["bottom"], word["bottom"])
        else:
            lines.append({"text": word["text"], "top": word["top"], "bottom": word["bottom"], "x0": word["x0"],
                          "x1": word["x1"], "sizes": [word["size"]],
                          "bold": [bool(re.search(r"bold|black|heavy|semibold", word["fontname"], re.IGNORECASE))]})
    for line in lines:
        line["size"] = round(sorted(line["sizes"])[len(line["sizes"]) // 2], 1)
        line["is_bold"] = sum(line["bold"]) > len(line["bold"]) / 2
        line["text"] = normalise(line["text"])
    return [ln for ln in lines if ln["text"]]


def _pdf_blocks(pages: list[tuple[float, list[dict]]]) -> Document:
    """Lines of every page -> blocks: running headers/footers and page numbers dropped, headings from font size
    and weight, the rest read with the plain-text rules (blank lines where the page has a vertical gap)."""
    furniture: set[str] = set()
    if len(pages) >= 3:
        edges: Counter = Counter()
        for height, lines in pages:
            edge_lines = lines[:2] + lines[-2:] + [ln for ln in lines
                                                  if ln["top"] < height * 0.08 or ln["bottom"] > height * 0.92]
            edges.update({re.sub(r"\d+", "#", ln["text"]) for ln in edge_lines if "table" not in ln})
        furniture = {key for key, n in edges.items() if n >= max(3, (len(pages) + 1) // 2) and len(key) < 120}
    body: list[dict] = []
    for height, lines in pages:
        kept = []
        for index, ln in enumerate(lines):
            edge = index < 2 or index >= len(lines) - 2 or ln["top"] < height * 0.08 or ln["bottom"] > height * 0.92
            key = re.sub(r"\d+", "#", ln["text"])
            if key in furniture or (edge and _PAGE_NUMBER.match(ln["text"]) and (index > 0 or "page" in key.lower())):
                continue
            kept.append(ln)
        if kept:
            kept[0]["page_start"] = True
        body.extend(kept)
    doc = Document()
    if not body:
        return doc
    sizes: Counter = Counter()
    for ln in body:
        if "table" not in ln:
            sizes[ln["size"]] += len(ln["text"])
    base = sizes.most_common(1)[0][0] if sizes else 0
    big = sorted({ln["size"] for ln in body if ln["size"] >= base + 1.2}, reverse=True)
    level_of = {size: min(i + 1, 3) for i, size in enumerate(big)}
    chunk: list[str] = []
    previous: dict | None = None

    def flush() -> None:
        if chunk:
            doc.blocks.extend(_text("\n".join(chunk), dehyphenate=True).blocks)
            chunk.clear()

    for ln in body:
        if "table" in ln:
            flush()
            for cells in ln["table"]:
                _add_row(doc, cells)
            previous = ln
            continue
        text, words = ln["text"], len(ln["text"].split())
        level = 0
        if ln["size"] in level_of and words <= 20:
            level = level_of[ln["size"]]
        elif (ln["is_bold"] and big is not None and words <= 14 and not text.endswith((".", ",", ";"))
              and not _LIST_START.match(text) and sum(1 for x in body if x["is_bold"]) < len(body) * 0.5):
            level = min(len(big) + 1, 4)
        if level:
            flush()
            last = doc.blocks[-1] if doc.blocks else None
            gap = ln["top"] - previous["bottom"] if previous and not ln.get("page_start") else None
            if last is not None and last.kind == "heading" and last.level == level and gap is not None and gap < (
                ln["bottom"] - ln["top"]
            ):
                last.text += " " + text  # a heading wrapped onto two lines
            else:
                doc.blocks.append(Block("heading", text, level=level))
        else:
            if previous is not None and not ln.get("page_start"):
                gap = ln["top"] - previous["bottom"]
                if gap > (ln["bottom"] - ln["top"]) * 0.9:
                    chunk.append("")  # a vertical gap: a new paragraph
            chunk.append(text)
        previous = ln
    flush()
    doc.blocks = [b for b in doc.blocks if b.text.strip()]
    doc.title = next((b.text for b in doc.blocks if b.kind == "heading" and b.level == 1), "")
    return doc


_LIST_START = re.compile(r"^([•●▪◦■□➢➤►‣⁃]|[-–*o](?=\s)|\(?[a-z]\)|\(?[ivx]{1,4}\)|\d{1,2}[.)](?!\d))\s*(?=\S)")
_CLAUSE_START = re.compile(r"^\d{1,2}(\.\d{1,2}){1,3}\.?\s+\S")


# -- Plain text ----------------------------------------------------------------------------------------------------

_UNDERLINE = re.compile(r"^\s*([=\-~^*#_])\1{2,}\s*$")
_TEXT_BULLET = re.compile(r"^(\s*)([-*•●▪◦■➢►‣o])\s+(\S.*)$")
_TEXT_ORDERED = re.compile(r"^(\s*)(\(?[a-z]\)|\(?[ivx]{1,4}\)|[a-z]\.(?=\s)|\d{1,2}[.)](?!\d)|#\.)\s+(\S.*)$")
_TEXT_CLAUSE = re.compile(r"^\s*(\d{1,2}(?:\.\d{1,2}){1,3})\.?(?:\s+(\S.*))?$")
_TEXT_SECTION = re.compile(r"^\s*(?:section\s+)?(\d{1,2})[.:]?(?:\s+(?:[-–—:]\s+)?(\S.*))?$", re.IGNORECASE)
_APPENDIX_LINE = re.compile(r"^(appendix|annex|annexe|schedule)\s+[A-Z0-9]{1,3}\b", re.IGNORECASE)


def is_caps_heading(text: str) -> bool:
    """A line in capitals such as 'REPORTING INCIDENTS' (not a sentence)."""
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) < 3 or len(text) > 90:
        return False
    upper = sum(1 for ch in letters if ch.isupper())
    return upper / len(letters) > 0.85 and not text.rstrip().endswith((".", ","))


def _title_like(text: str, limit: int = 8) -> bool:
    words = text.split()
    return 0 < len(words) <= limit and not text.rstrip().endswith((".", ",", ";")) and text[:1].isupper()


def _text(text: str, *, dehyphenate: bool = False) -> Document:
    """Plain text: headings, numbered clauses, lists and paragraphs recognised from how the lines look."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    pages = text.split("\f")
    lines = _drop_running_lines(pages)
    doc = Document()
    n = len(lines)
    blank_separated = sum(1 for ln in lines if not ln.strip()) >= max(3, n // 12)
    lengths = sorted(len(ln) for ln in lines if len(ln.strip()) > 20)
    wrap_width = lengths[int(len(lengths) * 0.9)] if lengths else 80
    open_block: Block | None = None
    pending_number: str | None = None
    list_indent: int | None = None
    i = 0
    after_blank = True
    while i < n:
        raw = lines[i].rstrip()
        line = split_run_in_number(normalise(raw))
        j = i + 1
        while j < n and not lines[j].strip():
            j += 1
        nxt = normalise(lines[j]) if j < n else ""
        nxt_raw = lines[j] if j < n else ""
        if not line:
            if open_block is not None and open_block.kind != "heading":
                open_block = None
            after_blank = True
            i += 1
            continue
        # Underlined heading: "Purpose" then "=======".
        if i + 1 < n and _UNDERLINE.match(lines[i + 1]) and not _UNDERLINE.match(raw) and len(line.split()) <= 14:
            level = {"=": 1, "-": 2, "~": 3}.get(lines[i + 1].strip()[0], 3)
            doc.blocks.append(Block("heading", _strip_number(line, pending_number), level=level))
            pending_number, open_block, after_blank = None, None, True
            i += 2
            continue
        if _UNDERLINE.match(raw):
            i += 1
            continue  # a rule line between parts
        toc_end = _text_contents(lines, i) if CONTENTS_HEADING.match(line) else None
        if toc_end is not None:
            doc.blocks.append(Block("heading", line, level=2))
            doc.blocks.extend(Block("toc", normalise(ln), lines=[normalise(ln)]) for ln in lines[i + 1:toc_end]
                              if ln.strip())
            pending_number, open_block, after_blank = None, None, True
            i = toc_end
            continue
        if "|" in line and _pipe_row(lines, i):
            cells = [normalise(c) for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-{3,}:?", c) for c in cells if c):
                _add_row(doc, cells)  # a table typed with pipes: "Review date | November 2025 |"
            pending_number, open_block, after_blank = None, None, False
            i += 1
            continue
        atx = re.match(r"^(#{1,6})\s+(.*?)\s*#*$", line)
        if atx:
            doc.blocks.append(Block("heading", atx.group(2), level=len(atx.group(1))))
            pending_number, open_block, after_blank = None, None, True
            i += 1
            continue
        # A number on its own line, then the heading or the clause text.
        lone = re.fullmatch(r"(\d{1,2}(?:\.\d{1,2}){0,3})\.?", line)
        if lone and nxt:
            if open_block is not None and open_block.kind in ("para", "item") and not open_block.text.endswith(
                (".", ":", ";", "!", "?")
            ) and nxt[:1].islower():
                open_block.lines.append(line)  # '…within' / '24' / 'hours': a wrapped number
                open_block.text = normalise("\n".join(open_block.lines))
                i += 1
                continue
            pending_number = lone.group(1)
            i += 1
            continue
        if pending_number is not None:
            number, pending_number = pending_number, None
            clause_line = _TEXT_CLAUSE.match(line)
            section_line = _TEXT_SECTION.match(line)
            if (clause_line and clause_line.group(2)) or (section_line and section_line.group(2)
                                                          and is_caps_heading(line)):
                pass  # the lone number was a page number: read this line as it is
            elif "." not in number and (is_caps_heading(line) or _title_like(line)):
                doc.blocks.append(Block("heading", f"{number} {line}", level=2, label=number))
                open_block, after_blank = None, True
                i += 1
                continue
            else:
                line = f"{number} {line}"
        clause = _TEXT_CLAUSE.match(line)
        section = _TEXT_SECTION.match(line)
        bullet = _TEXT_BULLET.match(raw)
        ordered = _TEXT_ORDERED.match(raw)
        continuing = (open_block is not None and open_block.kind in ("para", "item")
                      and not open_block.text.rstrip().endswith((".", ":", ";", "!", "?", ")")))
        if (clause and clause.group(2) and _title_like(clause.group(2), 6) and not clause.group(2).endswith("?")
                and re.match(re.escape(clause.group(1)) + r"\.\d", nxt)):
            doc.blocks.append(Block("heading", line, level=3, label=clause.group(1)))  # "1.1 Objectives" / "1.1.1 …"
            open_block = None
        elif clause and clause.group(2) and not (continuing and clause.group(2)[:1].islower()):
            open_block = Block("para", line, lines=[line])
            doc.blocks.append(open_block)
        elif section and section.group(2) and (is_caps_heading(section.group(2)) or _title_like(section.group(2), 7)) \
                and not continuing:
            doc.blocks.append(Block("heading", line, level=2, label=section.group(1)))
            open_block = None
        elif _APPENDIX_LINE.match(line) and _title_like(line, 12) and not continuing:
            doc.blocks.append(Block("heading", line, level=2))
            open_block = None
        elif is_caps_heading(line) and not bullet and not ordered and len(line.split()) <= 12:
            doc.blocks.append(Block("heading", line, level=2 if after_blank or not blank_separated else 3))
            open_block = None
        elif bullet and not (continuing and bullet.group(2) == "o" and bullet.group(3)[:1].islower()):
            indent = len(bullet.group(1).expandtabs(4))
            if open_block is None or open_block.kind != "item" or list_indent is None:
                list_indent = indent  # the first bullet of a list sets its left edge, however far it is indented
            depth = 1 if indent >= list_indent + 2 else 0
            open_block = Block("item", bullet.group(3), level=depth, label="•", lines=[bullet.group(3)])
            doc.blocks.append(open_block)
        elif ordered and not (continuing and ordered.group(3)[:1].islower()):
            label = ordered.group(2)
            depth = 1 if re.match(r"\(?[a-z]|\(?[ivx]", label) or len(ordered.group(1)) >= 2 else 0
            open_block = Block("item", ordered.group(3), level=depth, label=label, lines=[ordered.group(3)])
            doc.blocks.append(open_block)
        elif (
            _title_like(line, 7)
            and (after_blank or (open_block is not None and open_block.text.endswith((".", "!", "?"))))
            and not line.rstrip().endswith(":")
            and nxt
            and not _title_like(nxt, 7)
            and (len(nxt.split()) >= 6 or _TEXT_BULLET.match(nxt_raw) or _TEXT_ORDERED.match(nxt_raw))
            and not re.match(r"^[A-Za-z][\w '/()&,-]{1,60}?\s*:\s+\S", line)
        ):
            doc.blocks.append(Block("heading", line, level=2))  # "Definitions": a sentence-case heading
            open_block = None
        elif open_block is not None and open_block.kind in ("para", "item") and (
            not after_blank or (blank_separated is False)
        ) and not _starts_new_paragraph(open_block, line, wrap_width, blank_separated):
            open_block.lines.append(line)
            open_block.text = normalise("\n".join(open_block.lines), dehyphenate=dehyphenate)
        else:
            open_block = Block("para", line, lines=[line])
            doc.blocks.append(open_block)
        after_blank = False
        i += 1
    doc.blocks = [b for b in doc.blocks if b.text.strip()]
    return doc


def _pipe_row(lines: list[str], i: int) -> bool:
    """A line of a table typed with '|' between cells: the line before or after it has as many '|' too."""
    count = lines[i].count("|")
    near = [lines[k] for k in (i - 1, i + 1) if 0 <= k < len(lines) and lines[k].strip()]
    return count >= 1 and any(ln.count("|") == count for ln in near)


def _text_contents(lines: list[str], i: int) -> int | None:
    """After a 'Contents' line: the index of the first line past its entries (short titles, with or without
    leaders and page numbers; it ends where the body starts again with the first entry), or None if no list."""
    seen: set[str] = set()
    k, entries = i + 1, 0
    while k < len(lines):
        line = normalise(lines[k])
        if not line:
            k += 1
            continue
        entry = contents_entry(line, after_heading=True)
        key = title_key(entry) if entry else ""
        if not entry or key in seen:
            break
        seen.add(key)
        entries += 1
        k += 1
    return k if entries >= 2 else None


def _strip_number(line: str, number: str | None) -> str:
    return f"{number} {line}" if number else line


def _starts_new_paragraph(block: Block, line: str, wrap_width: int, blank_separated: bool) -> bool:
    """Without a blank line: does this line start a new paragraph rather than continue a wrapped one?"""
    last = block.lines[-1] if block.lines else block.text
    if re.match(r"^[A-Za-z][\w '/()&,-]{1,60}?\s*:\s+\S", line) and re.match(
        r"^[A-Za-z][\w '/()&,-]{1,60}?\s*:\s+\S", last
    ):
        return True  # a list of 'Label: value' lines
    if blank_separated:
        return False
    # Text with no blank lines (e.g. copied from a PDF): a short last line that ended a sentence ends the paragraph.
    return last.endswith((".", "!", "?", ":")) and len(last) < wrap_width * 0.75 and line[:1].isupper()


def _drop_running_lines(pages: list[str]) -> list[str]:
    """Page headers and footers repeated on most pages of text split by form feeds, and bare page numbers."""
    split = [page.split("\n") for page in pages]
    if len(split) < 3:
        return [ln for page in split for ln in page + [""]][:-1] if split else []
    edges: Counter = Counter()
    for page in split:
        content = [ln for ln in page if ln.strip()]
        edges.update({re.sub(r"\d+", "#", ln.strip()) for ln in content[:2] + content[-2:]})
    repeated = {key for key, count in edges.items() if count >= max(2, len(split) // 2) and len(key) < 100}
    out: list[str] = []
    for page in split:
        for ln in page:
            key = re.sub(r"\d+", "#", ln.strip())
            if ln.strip() and (key in repeated or _PAGE_NUMBER.match(ln)):
                continue
            out.append(ln)
        out.append("")
    return out
