"""Loading a Q&A set (shared/qa/README.md format), checked line by line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


class SetError(ValueError):
    """A Q&A set that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    answers: tuple[str, ...]
    evidence: str | None
    answerable: bool
    doc: str | None
    tags: tuple[str, ...]


def parse_item(line: str, where: str) -> Item:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SetError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise SetError(f"{where}: expected a JSON object")
    for field in ("id", "question", "answers"):
        if field not in row:
            raise SetError(f"{where}: missing field {field!r}")
    if not isinstance(row["id"], str) or not row["id"].strip():
        raise SetError(f"{where}: 'id' must be a non-empty string")
    if not isinstance(row["question"], str):
        raise SetError(f"{where}: 'question' must be a string")
    answers = row["answers"]
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise SetError(f"{where}: 'answers' must be a list of strings")
    answerable = row.get("answerable", True)
    if not isinstance(answerable, bool):
        raise SetError(f"{where}: 'answerable' must be true or false")
    if answerable and not answers:
        raise SetError(f"{where}: an answerable question needs at least one answer")
    evidence, doc, tags = row.get("evidence"), row.get("doc"), row.get("tags", [])
    if evidence is not None and not isinstance(evidence, str):
        raise SetError(f"{where}: 'evidence' must be a string or null")
    if doc is not None and not isinstance(doc, str):
        raise SetError(f"{where}: 'doc' must be a string or null")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise SetError(f"{where}: 'tags' must be a list of strings")
    return Item(row["id"], row["question"], tuple(answers), evidence, answerable, doc, tuple(tags))


def load_set(path: str | Path) -> list[Item]:
    """Every item of the set; raises ``SetError`` naming the first bad line or duplicate id."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SetError(f"{path}: cannot read ({exc})") from None
    items: list[Item] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        item = parse_item(line, f"{path.name}:{number}")
        if item.id in seen:
            raise SetError(f"{path.name}:{number}: duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = number
        items.append(item)
    if not items:
        raise SetError(f"{path}: the set has no questions")
    return items
