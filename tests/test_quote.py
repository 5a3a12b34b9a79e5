from __future__ import annotations

from qa.assistant import QUOTE_CHARS, QUOTE_MIN_CHARS, widen_to_context
from qa.splitter import sentence_spans
from qa.types import Span

TEXT = "吕志兴生于香港。他是职业足球运动员。他司职防守中场，现时效力和富大埔。" + "他在2004年转投大埔。" * 8


def spans() -> list[Span]:
    return sentence_spans(TEXT, 0, len(TEXT))


def test_short_quote_takes_the_next_sentence_first():
    s = spans()
    widened = widen_to_context(s[1], s)
    assert widened.start == s[1].start and widened.end >= s[2].end
    assert len(widened) >= QUOTE_MIN_CHARS or widened.start == s[0].start


def test_why_quote_takes_the_sentence_before_first():
    s = spans()
    widened = widen_to_context(s[1], s, backward_first=True)
    assert widened.start == s[0].start


def test_widening_never_passes_the_cap_and_keeps_the_quote():
    s = spans()
    for i, sentence in enumerate(s):
        for backward in (False, True):
            widened = widen_to_context(sentence, s, backward)
            assert widened.start <= sentence.start and sentence.end <= widened.end
            assert len(widened) <= max(QUOTE_CHARS, len(sentence))


def test_a_long_enough_quote_is_left_alone():
    long = Span(0, QUOTE_MIN_CHARS + 5)
    assert widen_to_context(long, [long]) == long
