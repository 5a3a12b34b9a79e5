"""Training data for the reader: SQuAD-layout files turned into labelled token windows.

Pure functions over plain data: which articles are held out for validation, how a question and a
paragraph become windows of at most ``max_tokens`` tokens (``<s> query: question </s> passage </s>``),
and where the answer lies in each window (token 0 — ``<s>`` — where the window holds none).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.reading.tokenizer import PieceTokenizer, Tokens

QUERY_PREFIX = "query: "


@dataclass(frozen=True)
class Example:
    """One question over one paragraph; ``answers`` are ``(start, text)`` pairs, empty where the
    paragraph does not answer the question."""

    id: str
    source: str  # file stem: cmrc2018-trial, drcd-test, squad2-...
    article: str
    question: str
    context: str
    answers: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class WindowSettings:
    max_tokens: int = 256
    max_question_tokens: int = 64
    stride: int = 128  # context tokens between the starts of two windows of one paragraph


@dataclass(frozen=True)
class Window:
    """A question and a run of a paragraph's tokens, as model input, with its answer label."""

    ids: tuple[int, ...]
    context_from: int  # index in ``ids`` of the first context token
    token_start: int  # context token index (into the paragraph's tokens) of ids[context_from]
    start: int  # answer's first and last token in ``ids``; 0 and 0 for no answer
    end: int


def load_examples(path: str | Path) -> list[Example]:
    """The questions of a SQuAD-layout file (``data[].paragraphs[].qas[]``), one ``Example`` each."""
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out = []
    for a, article in enumerate(data):
        name = str(article.get("title") or a)
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for q in paragraph["qas"]:
                answers: tuple[tuple[int, str], ...] = ()
                if not q.get("is_impossible", False):
                    answers = tuple(
                        (int(x["answer_start"]), x["text"])
                        for x in q["answers"]
                        if context[int(x["answer_start"]) :].startswith(x["text"]) and x["text"].strip()
                    )
                    if not answers:
                        continue  # a label that does not point into its paragraph
                out.append(Example(str(q["id"]), path.stem, f"{path.stem}/{name}", q["question"], context, answers))
    return out


def is_validation(article: str, share: float) -> bool:
    """Whether ``article`` is held out: a stable hash of its name, so the split never moves."""
    digest = hashlib.sha256(article.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def split(examples: Sequence[Example], share: float, min_articles: int = 50) -> tuple[list[Example], list[Example]]:
    """Training and validation examples, split by article so no paragraph is on both sides — by
    paragraph in a source of fewer than ``min_articles`` articles (SQuAD's 12), where whole
    articles would hold out all or nothing."""
    articles: dict[str, set[str]] = {}
    for e in examples:
        articles.setdefault(e.source, set()).add(e.article)

    def unit(e: Example) -> str:
        if len(articles[e.source]) >= min_articles:
            return e.article
        return e.article + "\n" + e.context

    train = [e for e in examples if not is_validation(unit(e), share)]
    valid = [e for e in examples if is_validation(unit(e), share)]
    return train, valid


def with_negatives(examples: Sequence[Example], share: float, seed: int) -> list[Example]:
    """``examples`` plus, for ``share`` of the answerable ones, the same question over another
    paragraph of its source — of its own article where it has several — labelled unanswerable: the
    Chinese sets have no unanswerable questions, and retrieval hands the reader such passages."""
    rng = random.Random(seed)
    by_article: dict[str, list[str]] = {}
    by_source: dict[str, list[str]] = {}
    for e in examples:
        contexts = by_article.setdefault(e.article, [])
        if e.context not in contexts:
            contexts.append(e.context)
            by_source.setdefault(e.source, []).append(e.context)
    out = list(examples)
    for e in examples:
        if not e.answers or rng.random() >= share:
            continue
        pool = [c for c in by_article[e.article] if c != e.context] or by_source[e.source]
        other = rng.choice(pool)
        if other == e.context or any(text in other for _, text in e.answers):
            continue
        out.append(Example(e.id + "-neg", e.source, e.article, e.question, other, ()))
    return out


def question_ids(tokenizer: PieceTokenizer, question: str, settings: WindowSettings) -> list[int]:
    return list(tokenizer.encode(QUERY_PREFIX + question).ids[: settings.max_question_tokens])


def window_starts(n_context: int, room: int, stride: int) -> list[int]:
    """The first context token of each window over ``n_context`` tokens, ``room`` to a window."""
    starts = [0]
    while starts[-1] + room < n_context:
        starts.append(starts[-1] + stride)
    return starts


def make_windows(
    question: list[int],
    context: Tokens,
    settings: WindowSettings,
    bos: int,
    eos: int,
    answer: tuple[int, int] | None = None,
) -> list[Window]:
    """The windows of one question over one tokenised paragraph; ``answer`` is the answer's
    character range in the paragraph, labelled where a window holds all of it."""
    room = settings.max_tokens - len(question) - 3
    head = [bos, *question, eos]
    first_token = last_token = -1
    if answer is not None:
        a_start, a_end = answer
        spans = zip(context.starts, context.ends, strict=True)
        inside = [i for i, (s, e) in enumerate(spans) if s < a_end and e > a_start]
        if inside:
            first_token, last_token = inside[0], inside[-1]
    out = []
    for start in window_starts(len(context.ids), room, min(settings.stride, room)):
        piece = context.ids[start : start + room]
        ids = (*head, *piece, eos)
        label = (0, 0)
        if first_token >= start and last_token >= 0 and last_token < start + len(piece):
            label = (len(head) + first_token - start, len(head) + last_token - start)
        out.append(Window(ids, len(head), start, *label))
    return out


def example_windows(
    examples: Iterable[Example],
    tokenizer: PieceTokenizer,
    settings: WindowSettings,
    negative_keep: float,
    seed: int,
) -> list[Window]:
    """Labelled windows for training. Windows without the answer are kept at ``negative_keep``
    (one window of each unanswerable question is always kept): most windows of a long paragraph
    hold no answer, and a reader trained on them all learns mostly to say so."""
    rng = random.Random(seed)
    vocab = tokenizer.vocabulary
    out: list[Window] = []
    for e in examples:
        context = tokenizer.encode(e.context)
        q = question_ids(tokenizer, e.question, settings)
        answer = (e.answers[0][0], e.answers[0][0] + len(e.answers[0][1])) if e.answers else None
        windows = make_windows(q, context, settings, vocab.bos, vocab.eos, answer)
        positives = [w for w in windows if w.start > 0]
        negatives = [w for w in windows if w.start == 0]
        kept = [w for w in negatives if rng.random() < negative_keep]
        if not positives and not kept and negatives:
            kept = [rng.choice(negatives)]
        out.extend(positives + kept)
    rng.shuffle(out)
    return out


def pad_batch(windows: Sequence[Window], pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids [batch, longest] padded with ``pad``, and the mask of real tokens."""
    longest = max(len(w.ids) for w in windows)
    ids = np.full((len(windows), longest), pad, dtype=np.int64)
    mask = np.zeros((len(windows), longest), dtype=np.int64)
    for i, w in enumerate(windows):
        ids[i, : len(w.ids)] = w.ids
        mask[i, : len(w.ids)] = 1
    return ids, mask
