"""Judging one results record against its item, and the figures of a run: pure functions."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eval.judge import answer_correct, evidence_rank, holds_evidence
from eval.sets import Item
from qa.text import normalise

MRR_DEPTH = 10


@dataclass(frozen=True)
class Judged:
    id: str
    tags: tuple[str, ...]
    answerable: bool
    correct: bool
    evidence_rank: int | None  # 1-based, among the cited sources; None where none holds it
    quote_correct: bool
    quote_chars: int | None
    latency_ms: float | None
    exact_match: float  # CMRC-style, on the short answer
    f1: float


def judge_record(item: Item, record: dict[str, Any]) -> Judged:
    found = bool(record.get("found"))
    answer = record.get("answer")
    sources = [(s.get("doc", ""), s.get("text", "")) for s in record.get("sources") or []]
    quote: dict[str, Any] = record.get("quote") or {}
    rank = evidence_rank(sources, item.evidence, item.answers, item.doc) if item.answerable else None
    quote_ok = (
        bool(quote)
        and item.answerable
        and holds_evidence(quote.get("text", ""), quote.get("doc", ""), item.evidence, item.answers, item.doc)
    )
    prediction = answer if found and answer else ""
    return Judged(
        id=item.id,
        tags=item.tags,
        answerable=item.answerable,
        correct=answer_correct(found, answer, item.answers, item.answerable),
        evidence_rank=rank,
        quote_correct=quote_ok,
        quote_chars=len(quote["text"]) if quote else None,
        latency_ms=record.get("latency_ms"),
        exact_match=max((cmrc_em(prediction, g) for g in item.answers), default=0.0),
        f1=max((cmrc_f1(prediction, g) for g in item.answers), default=0.0),
    )


def _segments(text: str) -> list[str]:
    """CMRC 2018 scoring tokens: each CJK character alone, runs of Latin letters and digits as
    words; punctuation and spaces dropped."""
    return re.findall(r"[a-z0-9]+|[^\sa-z0-9\W_]|[\u4e00-\u9fff]", normalise(text))


def cmrc_em(prediction: str, gold: str) -> float:
    return float(bool(prediction) and _segments(prediction) == _segments(gold))


def _longest_common_run(a: list[str], b: list[str]) -> int:
    best = 0
    row = [0] * (len(b) + 1)
    for x in a:
        previous = 0
        for j, y in enumerate(b, 1):
            current = row[j]
            row[j] = previous + 1 if x == y else 0
            best = max(best, row[j])
            previous = current
    return best


def cmrc_f1(prediction: str, gold: str) -> float:
    """F1 over CMRC segments, with the longest common run as the overlap (the official script's rule)."""
    p, g = _segments(prediction), _segments(gold)
    common = _longest_common_run(p, g)
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), as numpy's default."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def summarise(judged: Sequence[Judged]) -> dict[str, Any]:
    """The figures of a run."""
    answerable = [j for j in judged if j.answerable]
    unanswerable = [j for j in judged if not j.answerable]
    ranks = [j.evidence_rank for j in answerable]
    quote_lengths = [j.quote_chars for j in answerable if j.quote_chars is not None]
    latencies = [j.latency_ms for j in judged if j.latency_ms is not None]
    tags = sorted({t for j in judged for t in j.tags})
    return {
        "questions": len(judged),
        "accuracy": _share([j.correct for j in judged]),
        "answerable_accuracy": _share([j.correct for j in answerable]),
        "refusal_accuracy": _share([j.correct for j in unanswerable]),
        "evidence@1": _share([r == 1 for r in ranks]),
        "evidence@3": _share([r is not None and r <= 3 for r in ranks]),
        "mrr@10": sum(1 / r for r in ranks if r is not None and r <= MRR_DEPTH) / len(ranks) if ranks else None,
        "quote_accuracy": _share([j.quote_correct for j in answerable]),
        "mean_quote_chars": sum(quote_lengths) / len(quote_lengths) if quote_lengths else None,
        "latency_ms_p50": percentile(latencies, 50),
        "latency_ms_p95": percentile(latencies, 95),
        "exact_match": sum(j.exact_match for j in answerable) / len(answerable) if answerable else None,
        "f1": sum(j.f1 for j in answerable) / len(answerable) if answerable else None,
        "f1_all": f1_all(judged),
        "per_tag": {
            tag: {"questions": len(group), "accuracy": _share([j.correct for j in group]), "f1_all": f1_all(group)}
            for tag in tags
            for group in [[j for j in judged if tag in j.tags]]
        },
    }


def f1_all(judged: Sequence[Judged]) -> float | None:
    """F1 over every question as SQuAD 2.0 counts it: an answerable question scores its answer's
    F1 (0 where refused), an unanswerable one 1 where refused and 0 where answered."""
    if not judged:
        return None
    return sum(j.f1 if j.answerable else float(j.correct) for j in judged) / len(judged)


def compare(before: dict[str, bool], after: dict[str, bool]) -> dict[str, list[str]]:
    """Question ids by how their correctness changed between two runs."""
    shared = sorted(set(before) & set(after))
    return {
        "fixed": [i for i in shared if after[i] and not before[i]],
        "broken": [i for i in shared if before[i] and not after[i]],
        "only_before": sorted(set(before) - set(after)),
        "only_after": sorted(set(after) - set(before)),
    }
