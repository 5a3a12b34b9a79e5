"""The typed values that flow between the modules of the assistant."""

from __future__ import annotations

from dataclasses import dataclass, field


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

    @property
    def locator(self) -> str:
        parts = [*self.section]
        if self.item:
            parts.append(self.item)
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
