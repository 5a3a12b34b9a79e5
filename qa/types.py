"""The typed values that flow between the modules of the assistant."""

from __future__ import annotations

from dataclasses import dataclass, field

PAGE_BREAK = "\f"  # ends a page of a document's text (qa.pdf ends each page of a PDF with one)


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` into a document's text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad span [{self.start}, {self.end})")

    def __len__(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Document:
    """One decoded document: its file name, its full text and a hash of that text."""

    name: str
    text: str
    content_hash: str


@dataclass(frozen=True)
class Sentence:
    """A sentence of a passage, located by a span into its document."""

    doc: str
    span: Span
    passage: int  # index of the passage in the corpus


@dataclass(frozen=True)
class Passage:
    """A citable unit: an item (一是…), a paragraph, or a window of a long paragraph."""

    doc: str
    span: Span
    title: str  # the document's title
    section: tuple[str, ...]  # headings from the outermost down
    item: str  # "二是" where the passage is such an item, else ""
    page: int = 0  # the page it starts on, from 1; 0 where the document has no pages
    chinese: bool = False  # the document is Chinese: its page is shown as 第2页, else as p. 2

    @property
    def locator(self) -> str:
        return locator(self.section, self.item, self.page, self.chinese)


def page_label(page: int, chinese: bool) -> str:
    """How a page is named in a locator: 第2页 in a Chinese document, p. 2 in others; "" for no page."""
    if page < 1:
        return ""
    return f"第{page}页" if chinese else f"p. {page}"


def locator(section: tuple[str, ...], item: str, page: int = 0, chinese: bool = False) -> str:
    """Where a passage stands, as shown with its quote: the page, the headings above it, its item
    (第2页 › 一、… › (二)… › 二是)."""
    parts = [label] if (label := page_label(page, chinese)) else []
    parts += section
    if item:
        parts.append(item)
    return " › ".join(parts)


@dataclass(frozen=True)
class Source:
    """A passage cited for an answer, with its text and retrieval score."""

    doc: str
    locator: str
    start: int
    end: int
    text: str
    score: float
    page: int = 0  # the page the passage starts on, from 1; 0 where its document has no pages


@dataclass(frozen=True)
class Quote:
    """The sentence or clause that proves an answer; ``answer_span`` marks the answer in it."""

    doc: str
    locator: str
    start: int
    end: int
    text: str
    answer_start: int  # offsets into the document, inside [start, end)
    answer_end: int
    page: int = 0  # the page of its passage, from 1; 0 where its document has no pages


@dataclass(frozen=True)
class Timings:
    """Where the time of one question went, in milliseconds."""

    analyse_ms: float = 0.0  # cleaning and tokenising the question
    encode_ms: float = 0.0  # the question's vector
    vector_ms: float = 0.0  # nearest sentences
    keyword_ms: float = 0.0  # BM25
    answer_ms: float = 0.0  # fusion, refusal checks, span extraction, quote and sources


@dataclass(frozen=True)
class Answer:
    """What ``Assistant.ask`` returns. ``found`` is false where the documents hold no answer."""

    question: str
    found: bool
    answer: str | None
    quote: Quote | None
    sources: tuple[Source, ...] = field(default_factory=tuple)
    reason: str = ""  # why nothing was found, for a refusal
    latency_ms: float = 0.0
    timings: Timings = field(default_factory=Timings)
