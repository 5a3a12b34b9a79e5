"""The quote that proves an answer: the sentence (or clauses of it) that holds the span, widened
to neighbouring sentences of its paragraph where it is too short to be understood alone."""

from __future__ import annotations

from qa.index import CorpusIndex
from qa.question import Question
from qa.splitter import clause_spans
from qa.text import normalise
from qa.types import Span

QUOTE_CHARS = 120
QUOTE_MIN_CHARS = 70


def paragraph_sentences(index: CorpusIndex, sentence: int) -> list[Span]:
    """The sentences of the paragraph (or item) that holds ``sentence``, in order: neighbours
    with the same locator and no line break between them."""
    sentences, passages = index.sentences, index.passages
    here = sentences[sentence]
    text = index.texts[here.doc].text
    locator = passages[here.passage].locator

    def joined(a: int, b: int) -> bool:
        x, y = sentences[a], sentences[b]
        return x.doc == y.doc and passages[y.passage].locator == locator and "\n" not in text[x.span.end : y.span.start]

    lo = hi = sentence
    while lo > 0 and joined(lo - 1, lo):
        lo -= 1
    while hi + 1 < len(sentences) and joined(hi, hi + 1):
        hi += 1
    return [s.span for s in sentences[lo : hi + 1]]


def widen_to_context(quote: Span, sentences: list[Span], backward_first: bool = False) -> Span:
    """A quote shorter than ``QUOTE_MIN_CHARS`` widened by whole neighbouring sentences of its
    paragraph — the next first, or the one before with ``backward_first`` (a why-question, whose
    cause tends to come first, or a previous sentence that matched the question better) — while it
    stays within ``QUOTE_CHARS``: a bare 「他于1990年出生。」 proves nothing without the sentence
    that says who he is."""
    start, end = quote.start, quote.end
    after = [s for s in sentences if s.start >= end]
    before = [s for s in sentences if s.end <= start][::-1]
    while end - start < QUOTE_MIN_CHARS:
        can_after = bool(after) and after[0].end - start <= QUOTE_CHARS
        can_before = bool(before) and end - before[0].start <= QUOTE_CHARS
        if can_after and not (backward_first and can_before):
            end = after.pop(0).end
        elif can_before:
            start = before.pop(0).start
        else:
            break
    return Span(start, end)


def quote_window(doc: str, sentence: Span, answer: Span, q: Question) -> Span:
    """The clauses of the sentence around the answer: the clause that holds it, widened one
    clause at a time towards the clause richest in question terms, then filled up to
    ``QUOTE_CHARS`` with the clauses that follow (an answer often goes on: a list, a description)
    — or, for a why-question, with those before it, where a cause is given."""
    if len(sentence) <= QUOTE_CHARS:
        return sentence
    clauses = clause_spans(doc, sentence)
    inside = [i for i, c in enumerate(clauses) if c.start < answer.end and answer.start < c.end]
    if not inside:
        return sentence
    lo, hi = inside[0], inside[-1]

    def overlap(i: int) -> int:
        text = normalise(doc[clauses[i].start : clauses[i].end])
        return sum(len(t) for t in q.terms if t in text)

    while True:
        options = []
        if lo > 0:
            options.append((overlap(lo - 1), 1, lo - 1, hi))
        if hi + 1 < len(clauses):
            options.append((overlap(hi + 1), 0, lo, hi + 1))
        options = [o for o in options if clauses[o[3]].end - clauses[o[2]].start <= QUOTE_CHARS and o[0] > 0]
        if not options:
            break
        _, _, lo, hi = max(options)
    lo, hi = fill_clauses(clauses, lo, hi, QUOTE_CHARS, backward_first=q.why)
    start, end = clauses[lo].start, clauses[hi].end
    while end > start + 1 and doc[end - 1] in "，,、：:":
        end -= 1
    return Span(start, max(end, answer.end))


def fill_clauses(clauses: list[Span], lo: int, hi: int, limit: int, backward_first: bool = False) -> tuple[int, int]:
    """Clauses ``lo``..``hi`` widened one clause at a time — the next one first, or the one before
    with ``backward_first`` — while they cover at most ``limit`` characters."""
    while True:
        after = hi + 1 < len(clauses) and clauses[hi + 1].end - clauses[lo].start <= limit
        before = lo > 0 and clauses[hi].end - clauses[lo - 1].start <= limit
        if after and not (backward_first and before):
            hi += 1
        elif before:
            lo -= 1
        else:
            return lo, hi
