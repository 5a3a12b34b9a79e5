"""👍/👎 on the chat's answers, kept locally: one JSON line a rating with the question, the answer,
its quote and its sources (``qa eval --from-feedback`` turns the 👎 ones into a draft Q&A set)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from qa.location import data_home
from qa.results import answer_record
from qa.types import Answer

FILE_NAME = "feedback.jsonl"


def feedback_path(store: Path | None) -> Path:
    """Beside the store's other files; without a store, in the user's data folder."""
    if store is not None:
        return store / FILE_NAME
    return data_home() / FILE_NAME


MAX_BYTES = 20 * 2**20  # a file this large takes no more ratings: clicks cannot fill the disk


class FeedbackFull(OSError):
    """The feedback file has reached its size limit."""


class FeedbackLog:
    """Appends ratings to ``path`` (made on first use), one whole line at a time, up to ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def record(self, liked: bool, answer: Answer, previous: list[str], lang: str) -> dict[str, Any]:
        row = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "rating": "up" if liked else "down",
            "language": lang,
            "previous": previous,
            **answer_record(answer),
        }
        line = json.dumps(row, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            size = self.path.stat().st_size if self.path.exists() else 0
            if size + len(line.encode("utf-8")) > self.max_bytes:
                raise FeedbackFull(f"{self.path} has reached {self.max_bytes:,} bytes; the rating was not kept")
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)
        return row
