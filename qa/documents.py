"""Reading documents from disk into decoded text: .txt/.md (any common Chinese encoding), .pdf,
.docx and .html, each within limits on what reading one file may cost (``ReadLimits``)."""

from __future__ import annotations

import dataclasses
import hashlib
import posixpath
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import TypeVar
from xml.parsers import expat

from qa.types import Document

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
SUFFIXES = (*TEXT_SUFFIXES, ".pdf", ".docx", ".html", ".htm")
MAX_FILE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    """What reading one file may cost. Past any limit the file is refused with one line, so time and
    memory stay proportional to the file's size: a DOCX unpacks to at most ``unpack_ratio`` times its
    own size (never less than ``min_unpacked_bytes``, never more than ``max_unpacked_bytes``), counted
    as it streams out of the archive, and its XML is parsed element by element, never built as a tree.
    A PDF has at most ``max_pdf_pages`` pages, and its page content streams decode to at most
    ``pdf_content_ratio`` times its size in all (never less than ``min_pdf_content_bytes``, never more
    than ``max_pdf_content_bytes``), counted page by page before the page is parsed: pypdf parses a
    content stream at about 1.5 MB a second and holds some 30 bytes for each byte it parses. Its text
    is no longer than that either, and one content stream holds at most ``max_pdf_stream_operands``.
    Within these limits the pages are laid out (``qa.pdf``: paragraphs, headings, tables) by pdfplumber,
    which takes some 10 times longer than pypdf and holds about a kilobyte for each character, as long
    as a page's text is at most ``max_pdf_layout_chars`` and its content at most
    ``max_pdf_layout_page_bytes``, and the content laid out so far at most ``pdf_content_ratio`` times
    the file's size (never less than ``min_pdf_layout_bytes``); other pages keep pypdf's text."""

    max_file_bytes: int = MAX_FILE_BYTES
    unpack_ratio: int = 20
    min_unpacked_bytes: int = 16 * 1024 * 1024
    max_unpacked_bytes: int = 128 * 1024 * 1024
    max_xml_elements: int = 2_000_000
    max_xml_depth: int = 512  # lxml (and so python-docx) stops at 256
    max_xml_token_bytes: int = 1024 * 1024  # one tag (all its attributes) or comment
    max_cell_span: int = 63  # columns one table cell may span (Word allows 63 in all)
    max_html_tags: int = 2_000_000
    max_pdf_pages: int = 5_000
    pdf_content_ratio: int = 10
    min_pdf_content_bytes: int = 2 * 1024 * 1024
    max_pdf_content_bytes: int = 64 * 1024 * 1024
    max_pdf_stream_operands: int = 500_000  # pypdf allows 2,000,000: 7 s and 320 MB
    max_pdf_layout_chars: int = 50_000  # a dense page of text holds about 5,000
    max_pdf_layout_page_bytes: int = 256 * 1024  # a dense page of text decodes to some 20-100 KB
    min_pdf_layout_bytes: int = 256 * 1024

    def __post_init__(self) -> None:
        if min(self.max_file_bytes, self.unpack_ratio, self.min_unpacked_bytes, self.max_xml_elements) < 1:
            raise ValueError(f"limits must be positive: {self}")
        if not 1 <= self.min_unpacked_bytes <= self.max_unpacked_bytes:
            raise ValueError(f"min_unpacked_bytes must not exceed max_unpacked_bytes: {self}")
        if min(self.max_pdf_pages, self.pdf_content_ratio, self.max_pdf_stream_operands) < 1:
            raise ValueError(f"limits must be positive: {self}")
        if min(self.max_pdf_layout_chars, self.max_pdf_layout_page_bytes, self.min_pdf_layout_bytes) < 0:
            raise ValueError(f"layout limits must not be negative (0 lays out no page): {self}")
        if not 1 <= self.min_pdf_content_bytes <= self.max_pdf_content_bytes:
            raise ValueError(f"min_pdf_content_bytes must not exceed max_pdf_content_bytes: {self}")

    def pdf_content_bytes(self, file_bytes: int) -> int:
        """The most the page content of a PDF of ``file_bytes`` may decode to, all pages together."""
        return min(max(self.pdf_content_ratio * file_bytes, self.min_pdf_content_bytes), self.max_pdf_content_bytes)

    def pdf_layout_bytes(self, file_bytes: int) -> int:
        """The most page content of a PDF of ``file_bytes`` laid out by pdfplumber, all pages together."""
        return min(max(self.pdf_content_ratio * file_bytes, self.min_pdf_layout_bytes), self.max_pdf_content_bytes)

    def unpacked_bytes(self, file_bytes: int) -> int:
        """The most a compressed file of ``file_bytes`` may unpack to."""
        return min(max(self.unpack_ratio * file_bytes, self.min_unpacked_bytes), self.max_unpacked_bytes)


DEFAULT_LIMITS = ReadLimits()


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


class _Hidden:
    """The open elements whose text is not shown (``<script>``, ``<style>``, ``<template>``…), as a
    stack on which every step costs O(1) amortised, however deep the page nests them: closing a tag
    pops down to its last opening, and ``<body>`` closes every ``<head>`` (``</head>`` may be left out)."""

    def __init__(self) -> None:
        self._stack: list[str | None] = []  # None: a <head> closed by <body>
        self._open: dict[str, int] = {}
        self._heads: list[int] = []  # positions of the open <head>s in the stack
        self._count = 0

    def __bool__(self) -> bool:
        return self._count > 0

    def push(self, tag: str) -> None:
        if tag == "head":
            self._heads.append(len(self._stack))
        self._stack.append(tag)
        self._open[tag] = self._open.get(tag, 0) + 1
        self._count += 1

    def close(self, tag: str) -> bool:
        """Close the last open ``tag`` and everything opened after it; False if none is open."""
        if not self._open.get(tag):
            return False
        while True:
            top = self._stack.pop()
            if top is None:
                continue
            self._open[top] -= 1
            self._count -= 1
            if top == "head":
                self._heads.pop()
            if top == tag:
                return True

    def close_heads(self) -> None:
        for position in self._heads:
            self._stack[position] = None
        self._count -= self._open.get("head", 0)
        self._open["head"] = 0
        self._heads.clear()


_TAG_NAME = re.compile(r"[A-Za-z][^\t\n\r\f />]*")
_QUOTED_VALUE = re.compile(r"=[\t\n\r\f ]*([\"'])")
_RAW_TEXT = {tag: re.compile(rf"</{tag}[\t\n\r\f />]", re.IGNORECASE) for tag in ("script", "style")}


def _tag_end(html: str, start: int) -> int:
    """The index just past the ``>`` that closes a tag whose attributes begin at ``start`` (a quoted
    attribute value may hold ``>``), or -1 where the input ends first. Each character is looked at a
    bounded number of times, however many attributes the tag has."""
    end = -1
    while True:
        if end < start:
            end = html.find(">", start)
            if end < 0:
                return -1
        quoted = _QUOTED_VALUE.search(html, start, end)
        if quoted is None:
            return end + 1
        start = html.find(quoted.group(1), quoted.end()) + 1
        if start == 0:
            return -1


class _HTMLText:
    """Collects the visible text of an HTML page; scripts and styles are dropped, blocks break lines.

    A tokenizer of its own rather than ``html.parser``, whose handling of unterminated comments and
    declarations is quadratic (CVE-2025-6069): every construct here either ends where its terminator
    is found or runs to the end of the input, as in HTML5, so reading takes time linear in the page.
    More than ``max_html_tags`` tags are refused."""

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

    def __init__(self, name: str, limits: ReadLimits) -> None:
        self.parts: list[str] = []
        self._hidden = _Hidden()
        self._name = name
        self._tags = 0
        self._max_tags = limits.max_html_tags

    def feed(self, html: str) -> None:
        n, pos = len(html), 0
        while pos < n:
            lt = html.find("<", pos)
            if lt < 0:
                lt = n
            if lt > pos and not self._hidden:
                self.parts.append(unescape(html[pos:lt]))
            if lt == n:
                return
            after = html[lt + 1 : lt + 2]
            closing = _TAG_NAME.match(html, lt + 2) if after == "/" else None
            if html.startswith("<!--", lt):  # a comment, to the end if unterminated
                end = html.find("-->", lt + 4)
                pos = n if end < 0 else end + 3
            elif after in ("!", "?", "/") and closing is None:
                end = html.find(">", lt + 2)  # a doctype, CDATA, processing instruction or bogus comment
                pos = n if end < 0 else end + 1
            elif closing is not None:
                pos = _tag_end(html, closing.end())
                if pos < 0:
                    return  # a tag cut off by the end of the input is dropped
                self._end(closing.group().lower())
            elif (name := _TAG_NAME.match(html, lt + 1)) is not None:
                pos = _tag_end(html, name.end())
                if pos < 0:
                    return
                tag = name.group().lower()
                self._start(tag)
                if html[pos - 2] == "/" and pos - 2 >= name.end():
                    self._end(tag)  # <br/>, <template/>: opened and closed, as html.parser has it
                elif tag in _RAW_TEXT:  # script and style text is never markup, and never shown
                    raw_end = _RAW_TEXT[tag].search(html, pos)
                    pos = n if raw_end is None else raw_end.start()
            else:
                if not self._hidden:
                    self.parts.append("<")
                pos = lt + 1

    def _count_tag(self) -> None:
        self._tags += 1
        if self._tags > self._max_tags:
            raise DocumentError(f"{self._name}: more than {self._max_tags} tags; refusing")

    def _start(self, tag: str) -> None:
        self._count_tag()
        if tag == "body":
            self._hidden.close_heads()
        if tag in self._SKIP:
            self._hidden.push(tag)
        elif tag in self._BLOCK:
            self.parts.append("\n")
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"} and not self._hidden:
            self.parts.append("#" * int(tag[1]) + " ")

    def _end(self, tag: str) -> None:
        self._count_tag()
        if self._hidden.close(tag):
            pass
        elif tag in ("td", "th"):
            self.parts.append(" | ")  # cells of a row stay apart: 2023 | 106, never 2023106
        elif tag in self._BLOCK:
            self.parts.append("\n")


def html_to_text(html: str, name: str = "<html>", limits: ReadLimits = DEFAULT_LIMITS) -> str:
    """The visible text of a page, one block a line, in time linear in its length."""
    parser = _HTMLText(name, limits)
    parser.feed(html)
    lines = (" ".join(line.split()).strip(" |") for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _pdf_limits(limits: ReadLimits, most: int) -> AbstractContextManager[object]:
    """pypdf's own limits, where it has them (pypdf 6.4 and later), held to ``most`` decoded bytes a
    stream, so that a decompression bomb stops there instead of at pypdf's 75 MB."""
    import pypdf

    apply = getattr(pypdf, "apply_configuration", None)
    if apply is None:
        return nullcontext()
    fields = {field.name for field in dataclasses.fields(pypdf.Configuration)}
    wanted = {
        "zlib_maximum_output_length": most,
        "lzw_maximum_output_length": most,
        "run_length_maximum_output_length": most,
        "brotli_maximum_output_length": most,
        "array_based_stream_maximum_output_length": most,
        "maximum_declared_stream_length": most,
        "stream_parsing_work_maximum_count": limits.max_pdf_stream_operands,
        "page_tree_maximum_entries": limits.max_pdf_pages + 1,
    }
    return apply(**{name: value for name, value in wanted.items() if name in fields})


def _pdf_limit_message(name: str, said: str, limits: ReadLimits, most: int) -> str:
    """One line naming the limit pypdf stopped at."""
    said = " ".join(said.split())
    lowered = said.lower()
    if "page tree" in lowered:
        return f"{name}: over the {limits.max_pdf_pages} page limit; refusing"
    if "token" in lowered or "parsing" in lowered:
        return f"{name}: a content stream holds over {limits.max_pdf_stream_operands} operands; refusing"
    if "decompress" in lowered or "output" in lowered or "length" in lowered:
        return f"{name}: a stream decodes to over {most} bytes; refusing a decompression bomb"
    return f"{name}: over a limit on reading a PDF ({said}); refusing"


def _pdf_text(path: Path, size: int, limits: ReadLimits) -> str:
    """The text of a PDF, laid out by ``qa.pdf`` (paragraphs, headings, table rows; each page ended by a
    form feed), once pypdf has read it within the limits."""
    return _pdf_layout(path, _pdf_pages(path, size, limits), limits.pdf_layout_bytes(size), limits)


def _pdf_layout(path: Path, plain: list[tuple[str, int]], budget: int, limits: ReadLimits) -> str:
    """The pages, given as pypdf's text and the bytes of content of each, laid out by ``qa.pdf`` while
    the content laid out stays within ``budget``. A page over the limits of one page, past the budget,
    or that pdfplumber cannot read keeps its plain text; so does the whole file where pdfplumber
    cannot open it or counts its pages otherwise."""
    import logging

    import pdfplumber

    from qa.pdf import Page, read_page, reflow

    logging.getLogger("pdfminer").setLevel(logging.ERROR)  # its warnings on odd files are not ours to print
    pages: list[Page] = []
    try:
        with pdfplumber.open(path) as pdf:
            if len(pdf.pages) != len(plain):
                raise ValueError("pdfplumber counts the pages otherwise")
            for page, (text, content) in zip(pdf.pages, plain, strict=True):
                budget -= content
                small = len(text) <= limits.max_pdf_layout_chars and content <= limits.max_pdf_layout_page_bytes
                try:
                    pages.append(read_page(page) if small and budget >= 0 else Page((), 0, 0, text))
                except Exception:  # pdfminer raises many types on malformed pages
                    pages.append(Page((), 0, 0, text))
                finally:
                    page.close()
    except Exception:
        pages = [Page((), 0, 0, text) for text, _ in plain]
    try:
        return reflow(pages)
    except Exception:  # a layout qa.pdf cannot make sense of: the text as pypdf reads it, lost nothing
        return reflow([Page((), 0, 0, text) for text, _ in plain])


def _pdf_pages(path: Path, size: int, limits: ReadLimits) -> list[tuple[str, int]]:
    """pypdf's text of each page, and the bytes its content decodes to. Before any page is parsed the
    content of every page is decoded and counted against what a file of this size may decode to; past
    that, or past the page or operand limits, the file is refused in one line."""
    most = limits.pdf_content_bytes(size)
    decoded = chars = 0
    pages: list[tuple[str, int]] = []
    try:
        from pypdf import PdfReader
        from pypdf.errors import LimitReachedError

        with _pdf_limits(limits, most):
            try:
                reader = PdfReader(str(path))
                if (count := len(reader.pages)) > limits.max_pdf_pages:
                    raise DocumentError(
                        f"{path.name}: {count} pages, over the {limits.max_pdf_pages} page limit; refusing"
                    )
                lengths = []
                for page in reader.pages:  # every page is counted before any is parsed
                    content = page.get_contents()
                    lengths.append(0 if content is None else len(content.get_data()))
                    decoded += lengths[-1]
                    del content
                    if decoded > most:
                        raise DocumentError(
                            f"{path.name}: its pages decode to over {most} bytes; refusing "
                            f"(a PDF of {size} bytes may decode to {most})"
                        )
                for page, length in zip(reader.pages, lengths, strict=True):
                    text = page.extract_text() or ""
                    chars += len(text)
                    if chars > most:
                        raise DocumentError(f"{path.name}: its text would be over {most} characters; refusing")
                    pages.append((text.strip(), length))
            except LimitReachedError as exc:
                raise DocumentError(_pdf_limit_message(path.name, str(exc), limits, most)) from None
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises many types on malformed files
        message = " ".join(str(exc).split())
        raise DocumentError(f"{path.name}: cannot read PDF ({type(exc).__name__}: {message})") from None
    return pages


# --- DOCX: streamed out of the archive and parsed element by element -----------------------------

_WORD = frozenset(
    {"http://schemas.openxmlformats.org/wordprocessingml/2006/main", "http://purl.oclc.org/ooxml/wordprocessingml/main"}
)
_RELATIONSHIPS = frozenset({"http://schemas.openxmlformats.org/package/2006/relationships"})
_CHUNK = 256 * 1024


class _Budget:
    """What reading one DOCX has cost so far, against its limits: bytes unpacked (counted as they
    stream out of the archive, whatever sizes it declares), XML elements parsed, characters of text."""

    def __init__(self, name: str, limits: ReadLimits, file_bytes: int) -> None:
        self.name = name
        self.limits = limits
        self.max_bytes = limits.unpacked_bytes(file_bytes)
        self.bytes = 0
        self.elements = 0
        self.chars = 0

    def unpacked(self, count: int) -> None:
        self.bytes += count
        if self.bytes > self.max_bytes:
            raise DocumentError(f"{self.name}: unpacks to more than {self.max_bytes} bytes; refusing a zip bomb")

    def parsed(self, count: int) -> None:
        self.elements += count
        if self.elements > self.limits.max_xml_elements:
            raise DocumentError(f"{self.name}: more than {self.limits.max_xml_elements} XML elements; refusing")

    def wrote(self, count: int) -> None:
        self.chars += count
        if self.chars > self.max_bytes:
            raise DocumentError(f"{self.name}: its text would be over {self.max_bytes} characters; refusing")


class _Part:
    """A streaming reader of one XML part of a DOCX. ``ROLES`` maps (the parent's role, an element's
    local name) to the element's role; an element without one is skipped with everything inside it.
    Subclasses act on roles as elements open (``opened``) and close (``closed``)."""

    NAMESPACES: frozenset[str] = _WORD
    ROLES: dict[tuple[str | None, str], str] = {}
    TEXT_ROLE: str | None = None  # character data inside an element of this role is kept

    def __init__(self, budget: _Budget) -> None:
        self.budget = budget
        self.roles: list[str | None] = [""]
        self.elements = 0
        self.text: list[str] = []
        self._max_depth = budget.limits.max_xml_depth

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.elements += 1
        parent = self.roles[-1]
        if parent is None:
            if len(self.roles) > self._max_depth:
                raise DocumentError(f"{self.budget.name}: XML nested over {self._max_depth} deep; refusing")
            self.roles.append(None)
            return
        namespace, _, local = name.rpartition(" ")
        role = self.ROLES.get((parent, local)) if namespace in self.NAMESPACES else None
        self.roles.append(role)
        if role is not None:
            self.opened(role, attrs, namespace + " " if namespace else "")

    def end(self, name: str) -> None:
        role = self.roles.pop()
        if role is not None:
            self.closed(role)

    def data(self, text: str) -> None:
        if self.roles[-1] == self.TEXT_ROLE:
            self.text.append(text)

    def opened(self, role: str, attrs: dict[str, str], ns: str) -> None:
        """``ns`` prefixes the part's attribute names: ``attrs[ns + "val"]`` is ``w:val``."""

    def closed(self, role: str) -> None:
        pass


_P = TypeVar("_P", bound=_Part)


def _refuse_dtd(name: str) -> None:
    raise DocumentError(f"{name}: holds a DTD or entity declaration; refusing")


def _parse_part(archive: zipfile.ZipFile, member: str, part: _P, budget: _Budget) -> _P:
    """Stream one member through expat in chunks, counting the bytes that come out; no DTD, no
    entities, no tree."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = lambda *_: _refuse_dtd(budget.name)
    parser.EntityDeclHandler = lambda *_: _refuse_dtd(budget.name)
    parser.StartElementHandler = part.start
    parser.EndElementHandler = part.end
    if part.TEXT_ROLE is not None:
        parser.CharacterDataHandler = part.data
    counted = fed = 0
    with archive.open(member) as stream:
        while chunk := stream.read(_CHUNK):
            budget.unpacked(len(chunk))
            parser.Parse(chunk, False)
            budget.parsed(part.elements - counted)
            counted, fed = part.elements, fed + len(chunk)
            # expat holds an unfinished tag or comment and tokenizes it again with every chunk: bound it
            if fed - parser.CurrentByteIndex > (most := budget.limits.max_xml_token_bytes):
                raise DocumentError(f"{budget.name}: holds an XML tag or comment over {most} bytes; refusing")
    parser.Parse(b"", True)
    return part


class _Relationships(_Part):
    """A ``.rels`` part: the first internal target of each relationship type (by its last word)."""

    NAMESPACES = _RELATIONSHIPS
    ROLES = {("", "Relationships"): "rels", ("rels", "Relationship"): "rel"}

    def __init__(self, budget: _Budget) -> None:
        super().__init__(budget)
        self.targets: dict[str, str] = {}

    def opened(self, role: str, attrs: dict[str, str], ns: str) -> None:
        if role == "rel" and attrs.get("TargetMode") != "External" and "Target" in attrs:
            self.targets.setdefault(attrs.get("Type", "").rpartition("/")[2], attrs["Target"])


@dataclass
class _Style:
    kind: str | None
    name: str | None = None
    named: bool = False


class _Styles(_Part):
    """``styles.xml``: each style's type and name by its id, and the default paragraph style, found
    as python-docx finds them (the first style of an id, the last default)."""

    ROLES = {("", "styles"): "styles", ("styles", "style"): "style", ("style", "name"): "name"}

    def __init__(self, budget: _Budget) -> None:
        super().__init__(budget)
        self.by_id: dict[str, _Style] = {}
        self.default: _Style | None = None
        self._style = _Style(None)

    def opened(self, role: str, attrs: dict[str, str], ns: str) -> None:
        if role == "style":
            self._style = _Style(attrs.get(ns + "type"))
            self.by_id.setdefault(attrs.get(ns + "styleId", ""), self._style)
            if self._style.kind == "paragraph" and attrs.get(ns + "default") in ("1", "true", "on"):
                self.default = self._style
        elif role == "name" and not self._style.named:
            self._style.name, self._style.named = attrs.get(ns + "val"), True

    def paragraph_style_name(self, style_id: str | None) -> str | None:
        style = self.by_id.get(style_id) if style_id else None
        if style is None or style.kind != "paragraph":
            style = self.default
        return None if style is None else style.name


_RUN_CONTENT = {"tab": "tab", "ptab": "tab", "br": "br", "cr": "cr", "noBreakHyphen": "hyphen", "t": "t"}
_BODY_ROLES: dict[tuple[str | None, str], str] = {
    ("", "document"): "document",
    ("document", "body"): "body",
    ("body", "p"): "p",
    ("body", "tbl"): "tbl",
    ("tbl", "tr"): "tr",
    ("tr", "trPr"): "trPr",
    ("trPr", "gridBefore"): "gridBefore",
    ("tr", "tc"): "tc",
    ("tc", "tcPr"): "tcPr",
    ("tcPr", "gridSpan"): "gridSpan",
    ("tcPr", "vMerge"): "vMerge",
    ("tc", "p"): "cp",
    ("p", "pPr"): "pPr",
    ("pPr", "pStyle"): "pStyle",
    **{(paragraph, child): child for paragraph in ("p", "cp") for child in ("r", "hyperlink")},
    ("hyperlink", "r"): "r",
    **{("r", element): role for element, role in _RUN_CONTENT.items()},
}
_RUN_TEXT = {"tab": "\t", "cr": "\n", "hyphen": "-"}


def _whole_number(value: str | None, default: int) -> int:
    """An attribute's small whole number, or ``default`` where it is missing or not one."""
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 9:
        return default
    return int(value)


class _Body(_Part):
    """``document.xml`` read as python-docx reads it, in the body's order: each paragraph directly in
    the body (with its style, for headings) and each row of the tables directly in the body, at their
    place among the paragraphs; a cell spanning columns repeated once per column and a vertically
    merged cell given the text of the cell above it."""

    ROLES = _BODY_ROLES
    TEXT_ROLE = "t"

    def __init__(self, budget: _Budget, styles: _Styles | None) -> None:
        super().__init__(budget)
        self.lines: list[str] = []  # a paragraph ("## text" for a heading) or a table row ("a | b") each
        self._styles = styles
        self._headings: dict[str | None, str] = {}  # style id → "## " or ""
        self._style: str | None = None
        self._cell_paragraphs: list[str] = []
        self._cells: list[tuple[str, int, bool]] = []  # (text, columns spanned, continues the cell above)
        self._span, self._continues, self._grid_before = 1, False, 0
        self._above: dict[int, tuple[str, int]] = {}  # grid column → (text, span) of the row above
        self._max_span = budget.limits.max_cell_span

    def opened(self, role: str, attrs: dict[str, str], ns: str) -> None:
        if role in _RUN_TEXT:
            self.text.append(_RUN_TEXT[role])
        elif role == "br":
            if attrs.get(ns + "type", "textWrapping") == "textWrapping":
                self.text.append("\n")
        elif role == "p" or role == "cp":
            self.text = []
            self._style = None
        elif role == "pStyle":
            if self._style is None:
                self._style = attrs.get(ns + "val")
        elif role == "tc":
            self._cell_paragraphs, self._span, self._continues = [], 1, False
        elif role == "gridSpan":
            self._span = max(1, min(_whole_number(attrs.get(ns + "val"), 1), self._max_span))
        elif role == "vMerge":
            self._continues = attrs.get(ns + "val", "continue") == "continue"
        elif role == "tr":
            self._cells, self._grid_before = [], 0
        elif role == "gridBefore":
            self._grid_before = _whole_number(attrs.get(ns + "val"), 0)
        elif role == "tbl":
            self._above = {}

    def closed(self, role: str) -> None:
        if role == "p":
            text = "".join(self.text).strip()
            if text:
                text = self._heading(self._style) + text
            self.budget.wrote(len(text) + 1)
            self.lines.append(text)
        elif role == "cp":
            self._cell_paragraphs.append("".join(self.text))
        elif role == "tc":
            self._cells.append(("\n".join(self._cell_paragraphs).strip(), self._span, self._continues))
        elif role == "tr":
            self._close_row()

    def _close_row(self) -> None:
        column, row, cells = self._grid_before, {}, []
        for text, span, continues in self._cells:
            shown = self._above.get(column, ("", span)) if continues else (text, span)
            row[column] = shown
            cells.append(shown)
            column += span
        self.budget.wrote(sum((len(text) + 3) * span for text, span in cells))
        self.lines.append(" | ".join(text for text, span in cells for _ in range(span)))
        self._above = row

    def _heading(self, style_id: str | None) -> str:
        """The Markdown mark of a paragraph of this style: "## " for "Heading 2", "" for body text."""
        if style_id not in self._headings:
            name = self._styles.paragraph_style_name(style_id) if self._styles is not None else style_id
            style = (name or "").lower()
            mark = ""
            if style.startswith("heading"):
                digits = "".join(ch for ch in style if ch.isdigit()) or "1"
                mark = "#" * min(int(digits[:3]), 6) + " "
            self._headings[style_id] = mark
        return self._headings[style_id]


def _part_path(folder: str, target: str) -> str:
    return posixpath.normpath(posixpath.join("/" + folder, target)).lstrip("/")


def _read_docx(archive: zipfile.ZipFile, budget: _Budget) -> str:
    names = set(archive.namelist())
    main = "word/document.xml"
    if "_rels/.rels" in names:
        package = _parse_part(archive, "_rels/.rels", _Relationships(budget), budget)
        main = _part_path("", package.targets.get("officeDocument", main))
    folder, _, base = main.rpartition("/")
    styles = None
    if (rels := posixpath.join(folder, "_rels", base + ".rels")) in names:
        target = _parse_part(archive, rels, _Relationships(budget), budget).targets.get("styles")
        if target is not None and (path := _part_path(folder, target)) in names:
            styles = _parse_part(archive, path, _Styles(budget), budget)
    body = _parse_part(archive, main, _Body(budget, styles), budget)
    return "\n".join(body.lines)


def _docx_text(path: Path, size: int, limits: ReadLimits) -> str:
    budget = _Budget(path.name, limits, size)
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
            if declared > budget.max_bytes:
                raise DocumentError(
                    f"{path.name}: unpacks to {declared} bytes; refusing a zip bomb "
                    f"(a file of {size} bytes may unpack to {budget.max_bytes})"
                )
            return _read_docx(archive, budget)
    except DocumentError:
        raise
    except Exception as exc:
        message = " ".join(str(exc).split())
        raise DocumentError(f"{path.name}: cannot read DOCX ({type(exc).__name__}: {message})") from None


def read_document(path: str | Path, limits: ReadLimits = DEFAULT_LIMITS) -> Document:
    """Read one file into a ``Document`` named by its file name; raise ``DocumentError`` if it
    cannot be read or would cost more than ``limits`` allow."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DocumentError(f"{path.name}: unsupported file type (use {', '.join(SUFFIXES)})")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"{path}: {exc.strerror or exc}") from None
    if size > limits.max_file_bytes:
        raise DocumentError(f"{path.name}: {size} bytes is over the {limits.max_file_bytes} byte limit")
    if suffix == ".pdf":
        text = _pdf_text(path, size, limits)
    elif suffix == ".docx":
        text = _docx_text(path, size, limits)
    else:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DocumentError(f"{path}: {exc.strerror or exc}") from None
        text = decode_text(data, path.name)
        if suffix in (".html", ".htm"):
            text = html_to_text(text, path.name, limits)
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
