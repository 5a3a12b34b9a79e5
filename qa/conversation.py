"""Follow-up questions: 「那覆盖了多少个领域？」 after a question about 不予处罚事项 is asked about
the same thing."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.question import analyse, entity_words

_FOLLOW_UP = re.compile(
    r"^(?:那么?|那它|它们?|其|这些|这个|还有|另外|and\b|what about\b|how about\b|then\b)[，,\s]*", re.IGNORECASE
)


def is_follow_up(question: str) -> bool:
    """Opens with 那/那么/它/还有/and/what about, or names nothing of its own."""
    if _FOLLOW_UP.match(question.strip()):
        return True
    return len(question.strip()) <= 12 and not entity_words(analyse(question))


def with_context(question: str, previous: Sequence[str]) -> str:
    """The question to ask: a follow-up gets the topic of the last question put in front of it
    (that question without its question word); any other question is asked as it is."""
    if not previous or not question.strip() or not is_follow_up(question):
        return question
    last = analyse(previous[-1])
    topic = (last.left + last.right).strip(" ，,。？?!！")
    rest = _FOLLOW_UP.sub("", question.strip(), count=1)
    return f"{topic}，{rest}" if topic else question
