"""Splitting a document into citable passages and sentences, with offsets and section locators.

A line is a paragraph, except in hard-wrapped text (a plain-text English release wrapped at 80
columns): there a paragraph runs on over its lines to the next blank line (``logical_lines``).
Headings (``一、`` ``(二)`` ``（三）`` ``1.`` ``(1)`` and Markdown ``#``) are
kept as the section path of the passages below them, not as passages of their own. A paragraph is
cut at its ``一是/二是…`` items; a long paragraph or item is cut into windows of whole sentences.
A form feed ends a page (``qa.pdf`` ends each page of a PDF with one): a passage is on the page it
starts on, counted from 1, and its locator names that page (第2页 in a Chinese document, p. 2 else).
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_right
from dataclasses import dataclass

from qa.text import cjk_ratio
from qa.types import PAGE_BREAK, Document, Passage, Sentence, Span

MAX_PASSAGE_CHARS = 360
MAX_SENTENCE_CHARS = 240
MAX_HEADING_CHARS = 60
CHINESE_RATIO = 0.3  # of a document's letters, the share of Chinese characters that makes it Chinese

_CN_NUM = "一二三四五六七八九十百零〇两"
_HEADING_PATTERNS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (11, re.compile(rf"[{_CN_NUM}]+[、.．]")),
    (12, re.compile(rf"[(（][{_CN_NUM}]+[)）]")),
    (13, re.compile(r"\d{1,2}[.．、](?![\d%])")),
    (14, re.compile(r"[(（]\d{1,2}[)）]")),
)
_MARKDOWN_HEADING = re.compile(r"(#{1,6})[ \t]+(?=\S)")
_LEADING_JUNK = re.compile(r"[\s•·●▪◆■□○◇\-*>]*")
_ITEM = re.compile(rf"(?:(?<=[。；;！？!?\s])|^)([{_CN_NUM}]+是|其[{_CN_NUM}]+是|首先|其次|最后)")
_SENTENCE_END = re.compile(r"[。！？!?；;…]+[”’\"』」）)]*|\n+")
_SENTENCE_END_RUN_ON = re.compile(r"[。！？!?；;…]+[”’\"』」）)]*")  # a wrapped paragraph's line breaks are spaces
WRAP_WIDTH = 100  # hard-wrapped text has no line longer than this, but for a few (tables, links)
WRAPPED_SHARE = 0.5  # of its long lines, the share that ends inside a sentence in hard-wrapped text
_CLAUSE_END = re.compile(r"[，,、：:]")
_BRACKETS = (("(", ")"), ("（", "）"), ("{", "}"), ("[", "]"))
_KEY_VALUE = re.compile(r"^[^\s:：]{1,8}[:：]\s*\S")


@dataclass(frozen=True)
class SplitDocument:
    """The passages and sentences of one document, in document order."""

    title: str
    passages: tuple[Passage, ...]
    sentences: tuple[tuple[Span, int], ...]  # (span, index of its passage in ``passages``)


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str, start: int, end: int, at_line_breaks: bool = True) -> list[Span]:
    """Sentences of ``text[start:end]``: cut after 。！？；?!; (and closing quotes) and at line
    breaks (not in a hard-wrapped paragraph: ``at_line_breaks`` False), never inside a title
    (《卡拉OK.LIVE!‧台北‧我》) nor at a half-width mark inside brackets (-{zh-cn:宽叶毛毡苔;zh-hk:锦地罗}-);
    a sentence longer than ``MAX_SENTENCE_CHARS`` is cut again at its commas."""
    spans: list[Span] = []
    pos = start
    for match in (_SENTENCE_END if at_line_breaks else _SENTENCE_END_RUN_ON).finditer(text, start, end):
        if match.group().strip() and _enclosed(text, pos, match.start(), match.group()):
            continue
        cut = match.end() if match.group().strip() else match.start()
        spans.extend(_cut_long(text, *_strip_span(text, pos, cut)))
        pos = match.end()
    spans.extend(_cut_long(text, *_strip_span(text, pos, end)))
    return spans


def _enclosed(text: str, start: int, at: int, mark: str) -> bool:
    """Whether a sentence mark at ``at`` stands inside a title opened since ``start`` (a sentence
    never ends in 《》), or, for a half-width mark, inside brackets (often code or markup)."""
    before = text[start:at]
    if before.count("《") > before.count("》"):
        return True
    if mark[0] in ";!?":
        return any(before.count(o) > before.count(c) for o, c in _BRACKETS)
    return False


def _cut_long(text: str, start: int, end: int) -> list[Span]:
    if start >= end:
        return []
    if end - start <= MAX_SENTENCE_CHARS:
        return [Span(start, end)]
    pieces: list[Span] = []
    pos = start
    while end - pos > MAX_SENTENCE_CHARS:
        limit = pos + MAX_SENTENCE_CHARS
        cuts = [m.end() for m in _CLAUSE_END.finditer(text, pos + MAX_SENTENCE_CHARS // 3, limit)]
        cut = cuts[-1] if cuts else limit
        s, e = _strip_span(text, pos, cut)
        if s < e:
            pieces.append(Span(s, e))
        pos = cut
    s, e = _strip_span(text, pos, end)
    if s < e:
        pieces.append(Span(s, e))
    return pieces


def clause_spans(text: str, span: Span) -> list[Span]:
    """The clauses of a sentence, cut after ，,、：: (each keeps its trailing mark)."""
    spans: list[Span] = []
    pos = span.start
    for match in _CLAUSE_END.finditer(text, span.start, span.end):
        s, e = _strip_span(text, pos, match.end())
        if s < e:
            spans.append(Span(s, e))
        pos = match.end()
    s, e = _strip_span(text, pos, span.end)
    if s < e:
        spans.append(Span(s, e))
    return spans


def _heading_at(line: str) -> tuple[int, int] | None:
    """(level, length of the heading text) if ``line`` opens with a heading, else None."""
    md = _MARKDOWN_HEADING.match(line)
    if md:
        return len(md.group(1)), len(line)
    for level, pattern in _HEADING_PATTERNS:
        if pattern.match(line):
            stop = re.search(r"[。！？!?]", line)
            length = stop.start() if stop else len(line)
            if length <= MAX_HEADING_CHARS and (stop or len(line) <= MAX_HEADING_CHARS):
                return level, length
            return None
    return None


def short_heading(heading: str) -> str:
    """A heading cut at its first comma, as shown in locators."""
    cut = re.search(r"[,，;；]", heading)
    return heading[: cut.start()] + "…" if cut and cut.start() >= 4 else heading


def _is_title_line(line: str) -> bool:
    return len(line) <= MAX_HEADING_CHARS and not re.search(r"[。！？!?；;]$", line) and not _KEY_VALUE.match(line)


def hard_wrapped(text: str) -> bool:
    """Whether ``text`` is prose wrapped at a fixed width, its paragraphs parted by blank lines:
    not Chinese, its lines no longer than ``WRAP_WIDTH`` (but for a few), and most of its long lines
    ending inside a sentence."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines or cjk_ratio(text) >= CHINESE_RATIO:
        return False
    if sum(len(line) > WRAP_WIDTH for line in lines) > 0.05 * len(lines):
        return False
    long = [line for line in lines if len(line) >= WRAP_WIDTH // 2]
    inside = [line for line in long if not re.search(r"[.!?:;。！？：；][\"'”’)\]]*$", line)]
    return len(long) >= 3 and len(inside) >= WRAPPED_SHARE * len(long)


def logical_lines(text: str, wrapped: bool) -> list[tuple[int, int]]:
    """The ``(start, end)`` of each paragraph's line: each line of ``text``, or in hard-wrapped text
    each run of lines up to a blank line, a heading or a list item (``- ``, ``• ``)."""
    lines: list[tuple[int, int]] = []
    offset = 0
    open_ = False  # the line before can be run on: prose, not blank, not a heading
    for raw in text.split("\n"):
        start, end = offset, offset + len(raw)
        offset = end + 1
        stripped = raw.strip()
        heading = bool(stripped) and _heading_at(stripped) is not None
        listed = _LEADING_JUNK.match(raw).end() != len(raw) - len(raw.lstrip())  # type: ignore[union-attr]
        if wrapped and open_ and stripped and not heading and not listed:
            lines[-1] = (lines[-1][0], end)
        else:
            lines.append((start, end))
        open_ = bool(stripped) and not heading
    return lines


def split_document(doc: Document) -> SplitDocument:
    """Passages and sentences of ``doc`` with offsets into ``doc.text``."""
    text = doc.text
    title = ""
    title_span: tuple[int, int] | None = None
    stack: list[tuple[int, str]] = []
    passages: list[Passage] = []
    sentences: list[tuple[Span, int]] = []
    breaks = [m.start() for m in re.finditer(PAGE_BREAK, text)] if PAGE_BREAK in text else None
    chinese = breaks is not None and cjk_ratio(text) >= CHINESE_RATIO
    wrapped = hard_wrapped(text)

    def page(offset: int) -> int:
        return 0 if breaks is None else bisect_right(breaks, offset) + 1

    def add_passage(start: int, end: int, item: str) -> None:
        spans = sentence_spans(text, start, end, at_line_breaks=not wrapped)
        window: list[Span] = []
        for span in [*spans, None]:
            too_long = span is not None and window and span.end - window[0].start > MAX_PASSAGE_CHARS
            if (span is None or too_long) and window:
                passages.append(
                    Passage(
                        doc.name,
                        Span(window[0].start, window[-1].end),
                        title,
                        tuple(short_heading(h) for _, h in stack),
                        item,
                        page(window[0].start),
                        chinese,
                    )
                )
                sentences.extend((s, len(passages) - 1) for s in window)
                window = []
            if span is not None:
                window.append(span)

    for line_start, line_end in logical_lines(text, wrapped):
        raw_line = text[line_start:line_end]
        junk = _LEADING_JUNK.match(raw_line)  # always matches: every part of it is optional
        start = line_start + (junk.end() if junk else 0)
        start, end = _strip_span(text, start, line_end)
        if start >= end:
            continue
        line = text[start:end]
        heading = _heading_at(line)
        if heading is not None:
            level, length = heading
            md = _MARKDOWN_HEADING.match(line)
            heading_text = line[md.end() :].strip() if md else line[:length].strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading_text))
            if md and level == 1 and not title:
                title = heading_text
            line_start = start
            start = start + (len(line) if md else length)
            start, end = _strip_span(text, start, end)
            while start < end and text[start] in "。.：:":
                start += 1
            if start >= end:
                if not md and length < len(line):
                    add_passage(line_start, end, "")  # 1.全市共办理案件3000件。: a fact, not only a heading
                continue
        elif not title and _is_title_line(line):
            title, title_span = line, (start, end)
            continue
        body = text[start:end]
        cuts = [m for m in _ITEM.finditer(body)]
        head_end = start + cuts[0].start() if cuts else end
        s, e = _strip_span(text, start, head_end)
        if s < e:
            add_passage(s, e, "")
        for i, match in enumerate(cuts):
            item_end = start + cuts[i + 1].start() if i + 1 < len(cuts) else end
            s, e = _strip_span(text, start + match.start(), item_end)
            add_passage(s, e, match.group(1))
    if not passages and title_span is not None:
        add_passage(*title_span, "")  # a one-line document: its title is all there is to cite
    if not title:
        title = doc.name.rsplit(".", 1)[0]
    passages = [p if p.title == title else dataclasses.replace(p, title=title) for p in passages]
    return SplitDocument(title, tuple(passages), tuple(sentences))


def split_sentences(doc: Document, first_passage: int) -> tuple[SplitDocument, list[Sentence]]:
    """``split_document`` plus the sentences as ``Sentence`` values numbered from ``first_passage``."""
    split = split_document(doc)
    return split, [Sentence(doc.name, span, first_passage + p) for span, p in split.sentences]
