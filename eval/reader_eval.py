"""The reader on held-out questions: each read over its own paragraph, scored SQuAD 2.0 style, and
the no-answer threshold calibrated on one half of the validation split and reported on the other.

Also writes the validation split as a document folder and a Q&A set, so that the whole assistant,
with either reader, runs on it through ``qa eval`` (retrieval over all held-out paragraphs).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.judge import answer_correct
from eval.metrics import cmrc_em, cmrc_f1
from qa.reading.reader import ReadPassage, TrainedReader
from qa.training.data import Example


@dataclass(frozen=True)
class ReadResult:
    """One validation question read over its paragraph, before any threshold."""

    example: Example
    answer: str  # the best span ("" when the paragraph gave none)
    margin: float  # span score minus no-answer score


def read_examples(
    reader: TrainedReader, examples: Sequence[Example], progress: Callable[[int, int], None] | None = None
) -> list[ReadResult]:
    out = []
    for n, e in enumerate(examples, 1):
        reading = reader.best(e.question, [ReadPassage("", 0, e.context, 1.0)])
        if reading is None:
            out.append(ReadResult(e, "", float("-inf")))
        else:
            out.append(ReadResult(e, e.context[reading.start : reading.end], reading.margin))
        if progress is not None:
            progress(n, len(examples))
    return out


def score(results: Sequence[ReadResult], threshold: float) -> dict[str, float]:
    """SQuAD 2.0-style figures at ``threshold``: EM and F1 over all questions (a refusal scores 1
    on an unanswerable question, 0 on an answerable one), F1 on the answerable ones, the share
    judged right by the project's rules (``eval/judge.py``), and refusal precision and recall."""
    n = len(results)
    em = f1 = f1_answerable = right = 0.0
    refused_right = refused = unanswerable = answerable = 0
    for r in results:
        golds = [t for _, t in r.example.answers]
        says = r.margin > threshold and bool(r.answer)
        if not golds:
            unanswerable += 1
            em += not says
            f1 += not says
            right += not says
        else:
            answerable += 1
            if says:
                e = max(cmrc_em(r.answer, g) for g in golds)
                f = max(cmrc_f1(r.answer, g) for g in golds)
                em, f1, f1_answerable = em + e, f1 + f, f1_answerable + f
            right += answer_correct(says, r.answer if says else None, golds, True)
        if not says:
            refused += 1
            refused_right += not golds
    return {
        "questions": n,
        "exact_match": em / max(1, n),
        "f1": f1 / max(1, n),
        "f1_answerable": f1_answerable / max(1, answerable),
        "accuracy": right / max(1, n),
        "refusal_precision": refused_right / max(1, refused),
        "refusal_recall": refused_right / max(1, unanswerable),
        "unanswerable": unanswerable,
    }


def calibrate(results: Sequence[ReadResult]) -> float:
    """The threshold that maximises the judged accuracy (ties: F1) of ``results``."""
    margins = sorted({r.margin for r in results if r.margin != float("-inf")})
    candidates = [-1e9, *[(a + b) / 2 for a, b in zip(margins, margins[1:], strict=False)], 1e9]
    best, best_key = 0.0, (-1.0, -1.0)
    for t in candidates[:: max(1, len(candidates) // 400)]:
        figures = score(results, t)
        key = (figures["accuracy"], figures["f1"])
        if key > best_key:
            best, best_key = t, key
    return best


def halves(results: Sequence[ReadResult]) -> tuple[list[ReadResult], list[ReadResult]]:
    """Calibration and report halves, split by paragraph so a paragraph's questions stay together."""
    contexts = sorted({r.example.context for r in results})
    first = set(contexts[::2])
    return [r for r in results if r.example.context in first], [r for r in results if r.example.context not in first]


def by_source(results: Sequence[ReadResult], threshold: float) -> dict[str, dict[str, float]]:
    sources = sorted({r.example.source for r in results})
    return {s: score([r for r in results if r.example.source == s], threshold) for s in sources}


def write_validation_set(examples: Sequence[Example], folder: Path) -> Path:
    """The held-out paragraphs as ``docs/*.txt`` (one a paragraph) and the questions as
    ``qa.jsonl`` in the project's Q&A set format; returns the set's path."""
    docs = folder / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    lines = []
    for e in examples:
        if e.context not in names:
            names[e.context] = f"{e.source}-{len(names):04d}.txt"
            (docs / names[e.context]).write_text(e.context + "\n", encoding="utf-8")
        golds = sorted({t for _, t in e.answers})
        language = "en" if e.source.startswith("squad") else "zh"
        item = {
            "id": e.id,
            "question": e.question,
            "answers": golds,
            "evidence": None,
            "answerable": bool(golds),
            "doc": names[e.context] if golds else None,
            "tags": [e.source, language, "answerable" if golds else "unanswerable"],
        }
        lines.append(json.dumps(item, ensure_ascii=False))
    out = folder / "qa.jsonl"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out
