"""Reading documents from disk into decoded text: .txt/.md (any common Chinese encoding), .pdf,
.docx and .html."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path

from qa.types import Document

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
SUFFIXES = (*TEXT_SUFFIXES, ".pdf", ".docx", ".html", ".htm")
MAX_FILE_BYTES = 50 * 1024 * 1024


class DocumentError(ValueError):
    """A document that cannot be read; the message says which and why, in one line."""


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_document(name: str, text: str) -> Document:
    return Document(name=name, text=text, content_hash=content_hash(text))


def _looks_like_text(text: str) -> bool:
    if not text:
        return True
    bad = sum(
        1
        for ch in text
        if (unicodedata.category(ch) in ("Cc", "Co", "Cs", "Cn") and ch not in "\n\r\t\f") or ch == "\ufffd"
    )
    return bad / len(text) < 0.01


def decode_text(data: bytes, name: str = "<bytes>") -> str:
    """Decode UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030/GBK; refuse binary data."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates: tuple[str, ...] = ("utf-16",)
    else:
        candidates = ("utf-8-sig", "gb18030")
    if b"\x00" in data and candidates[0] != "utf-16":
        raise DocumentError(f"{name}: looks like a binary file, not text")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            return text.replace("\r\n", "\n").replace("\r", "\n")
    raise DocumentError(f"{name}: not text in UTF-8, UTF-16 or GB18030/GBK (binary file?)")


class _HTMLText(HTMLParser):
    """Collects the visible text of an HTML page; scripts and styles are dropped, blocks break lines."""

    _SKIP = {"script", "style", "noscript", "template", "head"}
    _BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "title",
        "table",
        "ul",
        "ol",
        "blockquote",
        "pre",
        "hr",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipped: list[str] = []  # open elements whose text is not shown

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._skipped = [t for t in self._skipped if t != "head"]  # </head> may be left out
        if tag in self._SKIP:
            self._skipped.append(tag)
        elif tag in self._BLOCK:
            self.parts.append("\n")
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"} and not self._skipped:
            self.parts.append("#" * int(tag[1]) + " ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._skipped:
            del self._skipped[len(self._skipped) - 1 - self._skipped[::-1].index(tag) :]
        elif tag in ("td", "th"):
            self.parts.append(" | ")  # cells of a row stay apart: 2023 | 106, never 2023106
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipped:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()).strip(" |") for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _pdf_text(path: Path) -> str:
    try:
        from pypdf import PdfReader

        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many types on malformed files
        raise DocumentError(f"{path.name}: cannot read PDF ({type(exc).__name__}: {exc})") from None
    return "\n\n".join(page.strip() for page in pages)


def _docx_text(path: Path) -> str:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > 20 * MAX_FILE_BYTES:
            raise DocumentError(f"{path.name}: unpacks to {unpacked} bytes; refusing a zip bomb")
        import docx

        document = docx.Document(str(path))
    except DocumentError:
        raise
    except Exception as exc:
        raise DocumentError(f"{path.name}: cannot read DOCX ({type(exc).__name__}: {exc})") from None
    lines = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        style = (paragraph.style.name or "").lower() if paragraph.style is not None else ""
        if text and style.startswith("heading"):
            level = "".join(ch for ch in style if ch.isdigit()) or "1"
            text = "#" * min(int(level), 6) + " " + text
        lines.append(text)
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(lines)


def read_document(path: str | Path) -> Document:
    """Read one file into a ``Document`` named by its file name; raise ``DocumentError`` if it
    cannot be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DocumentError(f"{path.name}: unsupported file type (use {', '.join(SUFFIXES)})")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"{path}: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise DocumentError(f"{path.name}: {size} bytes is over the {MAX_FILE_BYTES} byte limit")
    if suffix == ".pdf":
        text = _pdf_text(path)
    elif suffix == ".docx":
        text = _docx_text(path)
    else:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DocumentError(f"{path}: {exc.strerror or exc}") from None
        text = decode_text(data, path.name)
        if suffix in (".html", ".htm"):
            text = html_to_text(text)
    if not any(ch.isalnum() for ch in text):
        raise DocumentError(f"{path.name}: the document holds no text")
    return make_document(path.name, text)


def expand_paths(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files named directly, and the supported files inside named folders (sorted)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        elif path.exists():
            yield path
        else:
            raise DocumentError(f"{path}: no such file or folder")
