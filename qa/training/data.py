"""Training data for the reader: SQuAD-layout files turned into labelled token windows.

Pure functions over plain data: which articles are held out for validation, which unanswerable
examples are added, and which windows (``qa/reading/features.py``) are kept for training.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from qa.reading.features import Window, WindowSettings, make_windows, question_ids
from qa.reading.tokenizer import PieceTokenizer


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
