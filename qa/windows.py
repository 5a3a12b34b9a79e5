"""Choosing what to quote: the run of neighbouring sentences, short enough to check at a glance,
that best answers the question — not only the one sentence most similar to it.

A question is mostly the sentence that answers it with the answer replaced by a question word, so
the run that answers it holds many of the question's other words. Words that every candidate
sentence shares (the topic, often the document's title) tell little; words that few share (the
predicate: 别名, 为食, 出生) tell which sentence is meant. And within the length a quote may have,
a fuller run is likelier to hold the whole answer, which is often a clause or two long.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from qa.text import arabic_numerals
from qa.types import Span

COVERAGE_WEIGHT = 0.5  # a window holding all the question's distinctive words, against the best retrieval score
LENGTH_WEIGHT = 0.15  # per unit of log length: e ≈ 2.7 times longer weighs as much as 0.15 of retrieval
MAX_WINDOW_SENTENCES = 6
OPENER_BONUS = 0.2  # a window that opens with what the question asks to be described (花为…, 上部叶…)
TOPIC_DISCOUNT = 0.2  # of a word of the documents' titles: an article is about its title throughout

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Window:
    """Sentences ``first``..``last`` (corpus indices, inclusive) and the document span they cover."""

    first: int
    last: int
    span: Span
    score: float


def content_grams(text: str) -> set[str]:
    """What a text is matched on: character bigrams of its Chinese runs (robust to word
    segmentation: 为食 is found in 以多毛类为食) and its other words of two characters or more."""
    grams: set[str] = set()
    for run in _CJK_RUN.findall(text):
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    for word in _WORD.findall(_CJK_RUN.sub(" ", text)):
        if len(word) >= 2:
            grams.add(word)
    return grams


def local_weights(grams: Iterable[str], texts: Sequence[str]) -> dict[str, float]:
    """An idf over ``texts`` alone for each gram that at least one of them holds: a gram every
    candidate shares weighs little, one that a single candidate holds weighs most."""
    n = len(texts)
    weights = {}
    for gram in set(grams):
        df = sum(gram in t for t in texts)
        if df:
            weights[gram] = math.log((n + 1) / (df + 0.5))
    return weights


def coverage(text: str, weights: Mapping[str, float]) -> float:
    """0..1: the weighted share of the grams that ``text`` holds."""
    total = sum(weights.values())
    return sum(w for g, w in weights.items() if g in text) / total if total else 0.0


def runs(spans: Sequence[Span], max_chars: int) -> list[tuple[int, int]]:
    """(first, last) positions in ``spans`` (consecutive sentences, in order) of every run that
    covers at most ``max_chars`` characters, and of every single sentence however long."""
    found = []
    for a in range(len(spans)):
        for b in range(a, min(len(spans), a + MAX_WINDOW_SENTENCES)):
            if b > a and spans[b].end - spans[a].start > max_chars:
                break
            found.append((a, b))
    return found


def window_score(best_retrieval: float, covered: float, chars: int, max_chars: int) -> float:
    """The best retrieval score among a window's sentences (scaled by the best overall), plus how
    much of the question it covers, plus a preference for fuller windows up to ``max_chars``."""
    return best_retrieval + COVERAGE_WEIGHT * covered + LENGTH_WEIGHT * math.log1p(min(chars, max_chars))


def best_window(
    groups: Sequence[Sequence[tuple[int, Span, str]]],
    retrieval: Mapping[int, float],
    question: str,
    max_chars: int,
    answers: Mapping[int, float] | None = None,
    backward: bool = False,
    topics: Iterable[str] = (),
    opener: str = "",
    words: Iterable[str] = (),
) -> Window | None:
    """The best window over ``groups`` — runs of consecutive sentences, each given as (corpus index,
    span, normalised text), a window never crossing from one group into the next. ``retrieval``
    holds each sentence's retrieval score scaled to the best (missing: 0); ``question`` is the
    question's text without its question word. Numerals are compared in digits (23岁 finds 二十三岁).
    With ``backward`` (a why-question: the cause is told before what it caused) a window is fuller
    only by the sentences up to its best-retrieved one. Grams found in ``topics`` (the titles of the
    passages) weigh ``TOPIC_DISCOUNT`` of their weight; a window whose first sentence opens with
    ``opener`` (what the question asks to be described) gains ``OPENER_BONUS``. ``words`` are more
    of the question's words to look for: its one-character nouns (花, 叶), which no bigram holds."""
    groups = [[(i, span, arabic_numerals(text)) for i, span, text in group] for group in groups]
    texts = [text for group in groups for _, _, text in group]
    weights = local_weights(content_grams(arabic_numerals(question)) | set(words), texts)
    topics = [arabic_numerals(t) for t in topics if t]
    weights = {g: w * TOPIC_DISCOUNT if any(g in t for t in topics) else w for g, w in weights.items()}
    best: Window | None = None
    for group in groups:
        spans = [span for _, span, _ in group]
        for a, b in runs(spans, max_chars):
            members = group[a : b + 1]
            joined = "\n".join(text for _, _, text in members)
            best_retrieval = max(retrieval.get(i, 0.0) for i, _, _ in members)
            last = b
            if backward:  # what follows the sentence that matches best adds nothing
                last = a + max(range(b - a + 1), key=lambda k: (retrieval.get(members[k][0], 0.0), -k))
            chars = spans[last].end - spans[a].start
            score = window_score(best_retrieval, coverage(joined, weights), chars, max_chars)
            if answers:
                score += max((answers[i] for i, _, _ in members if i in answers), default=0.0)
            if opener and members[0][2].startswith(opener):
                score += OPENER_BONUS
            if best is None or score > best.score:
                best = Window(members[0][0], members[-1][0], Span(spans[a].start, spans[b].end), score)
    return best
