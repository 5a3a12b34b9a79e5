"""``qa eval --from-feedback FILE``: the chat's 👎 answers as a draft Q&A set (the format of
``eval/sets.py``) for a person to fill in: each question with empty ``answers`` and ``evidence``,
and what the assistant said beside it (``given``) to judge it by. A draft does not load as a set
until every answerable question has an answer (or is marked ``"answerable": false``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qa.text import cjk_ratio


class FeedbackError(ValueError):
    """A feedback file that cannot be read; the message names the file and line."""


def read_feedback(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedbackError(f"{path}: cannot read ({exc})") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FeedbackError(f"{path.name}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise FeedbackError(f"{path.name}:{number}: expected a rating with a question")
        rows.append(row)
    return rows


def draft_set(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One draft item per question rated 👎 (its latest rating decides; 👍 afterwards takes it out),
    in the order of those latest ratings."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        latest.pop(row["question"], None)
        latest[row["question"]] = row
    items: list[dict[str, Any]] = []
    for row in latest.values():
        if row.get("rating") != "down":
            continue
        sources = [s for s in row.get("sources") or [] if isinstance(s, dict)]
        quote = row.get("quote") if isinstance(row.get("quote"), dict) else None
        items.append(
            {
                "id": f"feedback-{len(items) + 1:03d}",
                "question": row["question"],
                "answers": [],
                "evidence": None,
                "answerable": True,
                "doc": None,
                "tags": ["feedback", "zh" if cjk_ratio(row["question"]) >= 0.5 else "en"],
                "given": {
                    "answer": row.get("answer"),
                    "quote": None if quote is None else {k: quote.get(k) for k in ("doc", "locator", "text")},
                    "sources": [{k: s.get(k) for k in ("doc", "locator", "text")} for s in sources[:3]],
                    "previous": row.get("previous") or [],
                },
            }
        )
    return items


def write_draft(items: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
