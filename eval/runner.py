"""Running a Q&A set through the assistant, writing the results file one line a question."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.metrics import Judged, judge_record
from eval.sets import Item
from qa.assistant import Assistant, QuestionError
from qa.results import answer_record, unaskable_record


@dataclass(frozen=True)
class Run:
    records: list[dict[str, Any]]
    judged: list[Judged]
    complete: bool  # false where the run was interrupted
    results_path: Path | None  # where the results file was written (``….partial`` if incomplete)


def ask_record(assistant: Assistant, item: Item) -> dict[str, Any]:
    try:
        record = answer_record(assistant.ask(item.question), item.id)
    except QuestionError as exc:
        record = unaskable_record(item.question, str(exc), item.id)
    return record


def run_set(
    assistant: Assistant, items: list[Item], out: Path | None = None, progress: Callable[[int, int], None] | None = None
) -> Run:
    """Ask every question. The results go to ``out`` + ``.partial`` line by line and are renamed to
    ``out`` only once all are in, so an interrupted run leaves a valid, plainly partial file."""
    partial = out.with_name(out.name + ".partial") if out is not None else None
    if partial is not None:
        partial.parent.mkdir(parents=True, exist_ok=True)
    handle = open(partial, "w", encoding="utf-8") if partial is not None else None
    records: list[dict[str, Any]] = []
    judged: list[Judged] = []
    complete = False
    try:
        for n, item in enumerate(items, 1):
            record = ask_record(assistant, item)
            verdict = judge_record(item, record)
            record["correct"] = verdict.correct
            records.append(record)
            judged.append(verdict)
            if handle is not None:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                handle.flush()
            if progress is not None:
                progress(n, len(items))
        complete = True
    except KeyboardInterrupt:
        pass
    finally:
        if handle is not None:
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
    if complete and partial is not None and out is not None:  # partial is set exactly when out is
        os.replace(partial, out)
    return Run(records, judged, complete, (out if complete else partial) if out is not None else None)
