"""A PDF's pages as text that keeps the document's shape, from the position, size and font of each
character (pdfplumber): lines reflowed into paragraphs, tables read as rows, headings marked.

- Lines of one paragraph are joined: with no space where either side is Chinese (or other wide
  script), a hyphen that ends an English line before a lower-case word is dropped (``reimburse-`` +
  ``ment`` → ``reimbursement``), other lines are joined by a space. A paragraph ends at a line that
  had room for the next line's first word (so it ended by choice), before an indented line, a wider
  gap, a list mark or a heading; it may run on onto the next page.
- A line in a font clearly larger than the body's, or bold where the body is not, and short enough
  to be one, is a heading: written as a Markdown heading (``## 二、分城市数据``), one ``#`` for the
  largest size, so the splitter puts it in the section path of the passages below it.
- A table drawn with ruling lines is read row by row, its cells apart (``一线城市 | 600 | 120``), as
  DOCX and HTML tables are, at its place in the page; a merged cell repeats its text in each
  column and row it covers.
- Page numbers and running headers or footers (the same line on the top or bottom of most pages)
  are dropped.
- Each page ends with a form feed (``\\f``) on a line of its own, so a character's page is the count
  of form feeds before it, plus one; a paragraph running onto the next page stays whole and counts
  as the page it starts on.

Text runs top to bottom on each page: two columns side by side are read as one."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from qa.types import PAGE_BREAK

MAX_HEADING_CHARS = 60
MAX_RULES = 5_000

# Chinese, Japanese and Korean characters and full-width punctuation: lines are joined without a space
_WIDE = (
    "\u2e80-\u2fff\u3000-\u30ff\u3100-\u31ff\u3200-\u9fff\ua960-\ua97f\uac00-\ud7ff"
    "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
)
_WIDE_CHAR = re.compile(f"[{_WIDE}]")
_SPACE_BETWEEN_WIDE = re.compile(f"(?<=[{_WIDE}]) +(?=[{_WIDE}])")
_CLOSING = frozenset("%)]},.;:!?’”»…")
_SENTENCE_END = re.compile(r"[.!?:;。！？：；…]['\"’”」』）)]*$")
_CN = "一二三四五六七八九十"
_LIST_MARK = re.compile(
    rf"^(?:[•·●▪◆■□○◇\-–*]\s|\d{{1,2}}[.．、)）]\s*\D|[(（]\d{{1,2}}[)）]|[{_CN}]+[、.．]|[(（][{_CN}]+[)）])"
)
_PAGE_NUMBER = re.compile(
    r"^(?:[-–—\s]*\d{1,4}[-–—\s]*|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?"
    r"|(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?|\d{1,4}\s*/\s*\d{1,4})$",
    re.IGNORECASE,
)
_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)


@dataclass(frozen=True)
class Line:
    """One line of text on a page, with where it stands and how it is set."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float  # the font size of most of its characters
    bold: bool


@dataclass(frozen=True)
class Table:
    """A table on a page: its rows as text, cells joined by `` | ``."""

    rows: tuple[str, ...]
    top: float


@dataclass(frozen=True)
class Page:
    """What one page shows, top to bottom; ``text`` stands in for the layout where it could not be read
    (its lines are kept as they are)."""

    items: tuple[Line | Table, ...]
    width: float
    height: float
    text: str | None = None


def join_lines(before: str, after: str) -> str:
    """Two lines of one paragraph as one: no space next to a wide (CJK) character, before closing
    punctuation (``57`` + ``%``) or inside a number of Chinese text; an English word broken by a
    hyphen made whole; else one space."""
    if not before or not after:
        return before + after
    if _broken_word(before, after):
        return before[:-1] + after
    if _WIDE_CHAR.match(before[-1]) or _WIDE_CHAR.match(after[0]) or after[0] in _CLOSING:
        return before + after
    if before[-1].isdigit() and after[0].isdigit() and len(_WIDE_CHAR.findall(before)) * 2 > len(before):
        return before + after  # a number in Chinese text, broken where the line was full
    return before + " " + after


def _broken_word(before: str, after: str) -> bool:
    """Whether ``before`` ends with a word that a hyphen breaks onto ``after`` (``reim-`` + ``bursement``)."""
    return len(before) > 1 and before[-1] in "-\u00ad" and before[-2].isalpha() and after[:1].islower()


def _clean(text: str) -> str:
    return _SPACE_BETWEEN_WIDE.sub("", " ".join(text.split()))


# --- reading a page with pdfplumber -------------------------------------------------------------


def _line(raw: dict[str, Any]) -> Line | None:
    chars = [c for c in raw.get("chars", ()) if c.get("text", "").strip()]
    text = _clean(raw.get("text", ""))
    if not chars or not text:
        return None
    sizes = Counter(round(float(c.get("size", 0.0)) * 2) / 2 for c in chars)  # to the half point
    bold = sum(1 for c in chars if _BOLD.search(str(c.get("fontname", "")))) * 2 > len(chars)
    return Line(
        text,
        float(raw["x0"]),
        float(raw["x1"]),
        float(raw["top"]),
        float(raw["bottom"]),
        sizes.most_common(1)[0][0],
        bold,
    )


def _table_rows(table: Any) -> tuple[str, ...]:
    """The rows of a pdfplumber table; a cell covered by a merged one shows the merged cell's text."""
    texts = table.extract()
    boxes = [list(row.cells) for row in table.rows]
    shown: list[list[str]] = []
    for r, (row_texts, row_boxes) in enumerate(zip(texts, boxes, strict=False)):
        row_shown: list[str] = []
        for c, text in enumerate(row_texts):
            if row_boxes[c] is not None:
                row_shown.append(_cell_text(text))
                continue
            row_shown.append(_covering(r, c, boxes, shown, row_shown))
        shown.append(row_shown)
    return tuple(" | ".join(cells) for cells in shown if any(cells))


def _covering(r: int, c: int, boxes: list[list[Any]], shown: list[list[str]], row_shown: list[str]) -> str:
    """The text of the merged cell that covers the empty position (r, c): the cell to its left that
    reaches over the middle of its column, else the cell above that reaches over the middle of its row."""
    column = [row[c] for row in boxes if c < len(row) and row[c] is not None]
    if column:
        middle = (column[0][0] + column[0][2]) / 2
        left = next((i for i in range(c - 1, -1, -1) if boxes[r][i] is not None), None)
        if left is not None and boxes[r][left][2] > middle:
            return row_shown[left]
    row = [box for box in boxes[r] if box is not None]
    if row:
        middle = (row[0][1] + row[0][3]) / 2
        above = next((i for i in range(r - 1, -1, -1) if c < len(boxes[i]) and boxes[i][c] is not None), None)
        if above is not None and boxes[above][c][3] > middle:
            return shown[above][c]
    return ""


def _cell_text(text: str | None) -> str:
    if not text:
        return ""
    joined = ""
    for part in text.split("\n"):
        joined = join_lines(joined, _clean(part))
    return joined.strip()


def read_page(page: Any, max_rules: int = MAX_RULES) -> Page:
    """The lines and tables of one pdfplumber page, top to bottom; a character drawn twice in one
    place (as fake bold is) counts once. Tables are looked for only on a page of at most
    ``max_rules`` lines and rectangles (the table finder's time grows faster than their number)."""
    objects = page.objects
    rules = len(objects.get("line", ())) + len(objects.get("rect", ())) + len(objects.get("curve", ()))
    tables = [t for t in page.find_tables() if t.rows] if rules <= max_rules else []
    boxes = [t.bbox for t in tables]
    seen: set[tuple[str, int, int]] = set()
    dropped: set[int] = set()
    for char in page.chars:
        x, y = (char["x0"] + char["x1"]) / 2, (char["top"] + char["bottom"]) / 2
        key = (char["text"], round(x), round(y))
        if key in seen or any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes):
            dropped.add(id(char))
        seen.add(key)
    text_page = page.filter(lambda obj: id(obj) not in dropped) if dropped else page
    items: list[Line | Table] = [Table(rows, t.bbox[1]) for t in tables if (rows := _table_rows(t))]
    items += [line for raw in text_page.extract_text_lines(return_chars=True, strip=True) if (line := _line(raw))]
    items.sort(key=lambda item: item.top)
    return Page(tuple(items), float(page.width), float(page.height))


# --- reflowing the pages into text --------------------------------------------------------------


@dataclass
class _Paragraph:
    page: int
    text: str
    kind: str  # "body", "heading" or "table"
    last: Line | None = None  # its last line
    at: int = 0  # the page of its last line
    right: float = 0.0  # the right margin of the page of its last line
    low: bool = False  # its last line stands in the lowest quarter of its page


@dataclass(frozen=True)
class _Measures:
    size: float  # the body's font size
    bold: bool  # whether the body is set bold
    pitch: float  # the usual distance from one body line to the next
    levels: dict[float, int]  # heading font size → heading level
    bold_level: int  # the level of a bold heading of the body's size


def _lines(pages: Sequence[Page]) -> Iterable[Line]:
    for page in pages:
        yield from (item for item in page.items if isinstance(item, Line))


def _measure(pages: Sequence[Page]) -> _Measures:
    weight: Counter[float] = Counter()
    bold = 0
    for line in _lines(pages):
        weight[line.size] += len(line.text)
        bold += len(line.text) if line.bold else -len(line.text)
    size = weight.most_common(1)[0][0] if weight else 10.0
    pitches = []
    for page in pages:
        lines = [item for item in page.items if isinstance(item, Line) and item.size == size]
        pitches += [b.top - a.top for a, b in zip(lines, lines[1:], strict=False) if 0 < b.top - a.top < 2.5 * size]
    pitch = statistics.median(pitches) if pitches else 1.2 * size
    larger = sorted({line.size for line in _lines(pages) if _headlike(line) and line.size >= 1.15 * size}, reverse=True)
    levels = {s: min(i + 1, 6) for i, s in enumerate(larger)}
    return _Measures(size, bold > 0, pitch, levels, min(len(larger) + 1, 6))


def _headlike(line: Line) -> bool:
    return len(line.text) <= MAX_HEADING_CHARS and not re.search(r"[。！？；;,，]$", line.text)


def _heading_level(line: Line, m: _Measures) -> int:
    """The heading level of ``line`` (1 the largest), or 0 for body text."""
    if not _headlike(line):
        return 0
    if line.size in m.levels:
        return m.levels[line.size]
    if line.bold and not m.bold and line.size >= 0.95 * m.size:
        return m.bold_level
    return 0


def _drop_furniture(pages: Sequence[Page]) -> list[list[Line | Table]]:
    """Each page's items without its page number and running header or footer: a line at the very
    top or bottom of a page of more lines that is a page number, or whose words (digits aside) stand
    there on at least three pages and half of them."""
    edges: Counter[str] = Counter()

    def shape(line: Line) -> str:
        return re.sub(r"\d+", "#", line.text)

    def at_edge(page: Page) -> list[Line]:
        lines = [item for item in page.items if isinstance(item, Line)]
        if len(lines) < 2:
            return []  # a page's only line is its content
        found = []
        if lines[0].top < 0.12 * page.height:
            found.append(lines[0])
        if lines[-1].bottom > 0.88 * page.height:
            found.append(lines[-1])
        return found

    for page in pages:
        edges.update({shape(line) for line in at_edge(page)})
    repeated = {s for s, n in edges.items() if n >= 3 and n * 2 >= len(pages)}
    kept = []
    for page in pages:
        drop = {id(line) for line in at_edge(page) if _PAGE_NUMBER.match(line.text) or shape(line) in repeated}
        kept.append([item for item in page.items if id(item) not in drop])
    return kept


def _breaks(before: Line, after: Line, m: _Measures, left: float, right: float) -> bool:
    """Whether a paragraph ends between two body lines on one page: the next line stands further
    down than lines do, is indented or opens a list item, or its first word would have fitted on the
    line before (so that line ended by choice, not for want of room)."""
    em = max(before.size, 1.0)
    if after.top - before.top > 1.35 * m.pitch or after.top < before.top:
        return True
    if after.x0 > left + 0.8 * em or _LIST_MARK.match(after.text):
        return True
    return _fits(before, after, right)


def _fits(before: Line, after: Line, right: float) -> bool:
    """Whether the first word of ``after`` would have fitted at the end of ``before``, whose text may
    reach ``right``: then ``before`` ended its paragraph by choice, not for want of room."""
    em = max(before.size, 1.0)
    if _broken_word(before.text, after.text):
        return False
    word = after.text.split(" ", 1)[0]
    if _WIDE_CHAR.match(word[0]):
        needed = em
    else:
        needed = (len(word) + 1) * (before.x1 - before.x0) / max(len(before.text), 1)
    return right - before.x1 > needed + 0.5 * em


def _margins(items: Sequence[Line | Table], m: _Measures) -> tuple[float, float]:
    body = [item for item in items if isinstance(item, Line) and item.size == m.size] or [
        item for item in items if isinstance(item, Line)
    ]
    if not body:
        return 0.0, 0.0
    lefts = Counter(round(line.x0) for line in body)
    return float(lefts.most_common(1)[0][0]), max(line.x1 for line in body)


def reflow(pages: Sequence[Page]) -> str:
    """The document's text: a paragraph, heading or table row a line, each page ended by a form feed."""
    m = _measure(pages)
    paragraphs: list[_Paragraph] = []
    for number, (page, items) in enumerate(zip(pages, _drop_furniture(pages), strict=True), 1):
        if page.text is not None:
            paragraphs += [_Paragraph(number, line, "body") for line in page.text.split("\n") if line.strip()]
            continue
        left, right = _margins(items, m)
        for item in items:
            previous = paragraphs[-1] if paragraphs else None
            if isinstance(item, Table):
                paragraphs += [_Paragraph(number, row, "table") for row in item.rows]
            elif level := _heading_level(item, m):
                _add_heading(paragraphs, number, "#" * level + " ", item)
            elif previous and previous.kind == "body" and _continues(previous, number, item, m, left, right):
                previous.text, previous.last = join_lines(previous.text, item.text), item
                previous.at, previous.right, previous.low = number, right, item.bottom > 0.75 * page.height
            else:
                paragraphs.append(
                    _Paragraph(number, item.text, "body", item, number, right, item.bottom > 0.75 * page.height)
                )
    out: list[str] = []
    current = 1
    for paragraph in paragraphs:
        out += [PAGE_BREAK] * (paragraph.page - current)
        current = max(current, paragraph.page)
        out.append(paragraph.text)
    out += [PAGE_BREAK] * (len(pages) - current + 1)
    return "\n".join(out)


def _add_heading(paragraphs: list[_Paragraph], page: int, mark: str, line: Line) -> None:
    """A heading line, joined to the heading line just above it when they are one heading set on two lines."""
    previous = paragraphs[-1] if paragraphs else None
    if (
        previous is not None
        and previous.kind == "heading"
        and previous.page == page
        and previous.text.startswith(mark)
        and not previous.text.startswith(mark + "#")
        and previous.last is not None
        and line.top - previous.last.bottom < 0.8 * line.size
    ):
        previous.text, previous.last = join_lines(previous.text, line.text), line
    else:
        paragraphs.append(_Paragraph(page, mark + line.text, "heading", line, page))


def _continues(previous: _Paragraph, page: int, line: Line, m: _Measures, left: float, right: float) -> bool:
    """Whether ``line`` goes on with the body paragraph before it: on the same page where no break
    stands between them; onto a new page where that paragraph did not end its sentence, its last line
    stood low on its page with no room for the first word of ``line``, and ``line`` is neither
    indented nor a list item."""
    last = previous.last
    if last is None or abs(line.size - last.size) > 0.1 * m.size:
        return False
    if previous.at == page:
        return not _breaks(last, line, m, left, right)
    return (
        previous.low
        and not _fits(last, line, previous.right)
        and not _SENTENCE_END.search(previous.text)
        and line.x0 <= left + 0.8 * max(line.size, 1.0)
        and not _LIST_MARK.match(line.text)
    )
