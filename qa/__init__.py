"""Citation-first question answering over documents: ``from qa import Assistant``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.types import Answer

__all__ = ["Answer", "Assistant"]


def __getattr__(name: str):  # lazy re-exports keep `import qa.cli` light
    if name == "Assistant":
        from qa.assistant import Assistant

        return Assistant
    if name == "Answer":
        from qa.types import Answer

        return Answer
    raise AttributeError(name)
