"""An ``Answer`` as one line of a results file (the format of shared/qa/README.md)."""

from __future__ import annotations

from typing import Any

from qa.types import Answer


def answer_record(answer: Answer, question_id: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {}
    if question_id is not None:
        record["id"] = question_id
    record.update(
        question=answer.question,
        found=answer.found,
        answer=answer.answer if answer.found else None,
        quote=None
        if answer.quote is None
        else {
            "doc": answer.quote.doc,
            "locator": answer.quote.locator,
            "start": answer.quote.start,
            "end": answer.quote.end,
            "text": answer.quote.text,
            "answer_start": answer.quote.answer_start,
            "answer_end": answer.quote.answer_end,
            **({"page": answer.quote.page} if answer.quote.page else {}),
        },
        sources=[
            {
                "doc": s.doc,
                "locator": s.locator,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "score": s.score,
                **({"page": s.page} if s.page else {}),
            }
            for s in answer.sources
        ],
        latency_ms=answer.latency_ms,
    )
    if not answer.found:
        record["reason"] = answer.reason
    return record


def unaskable_record(question: str, error: str, question_id: str | None = None) -> dict[str, Any]:
    """The record for a question that could not be asked (empty, too long): nothing found, and why."""
    record: dict[str, Any] = {} if question_id is None else {"id": question_id}
    record.update(
        question=question, found=False, answer=None, quote=None, sources=[], latency_ms=0.0, reason=error, error=error
    )
    return record
