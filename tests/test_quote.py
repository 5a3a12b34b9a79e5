from __future__ import annotations

import pytest

from qa.question import analyse
from qa.quote import QUOTE_CHARS, QUOTE_MIN_CHARS, fill_clauses, widen_to_context
from qa.rules_reader import described
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


def test_fill_clauses_goes_on_after_the_answer_then_back():
    clauses = [Span(0, 30), Span(30, 60), Span(60, 90), Span(90, 150)]
    assert fill_clauses(clauses, 1, 1, 90) == (0, 2)  # the next first, then the one before
    assert fill_clauses(clauses, 1, 1, 90, backward_first=True) == (0, 2)
    assert fill_clauses(clauses, 1, 1, 60, backward_first=True) == (0, 1)
    assert fill_clauses(clauses, 1, 1, 60) == (1, 2)
    assert fill_clauses(clauses, 3, 3, 50) == (3, 3)  # a clause over the limit is kept, not widened


def test_a_long_sentence_is_quoted_on_past_the_answer():
    from qa.question import analyse
    from qa.quote import quote_window

    doc = (
        "五月艾是菊科蒿属的植物，多年生草本，分布于越南、老挝、缅甸、泰国、" + "尼泊尔、菲律宾、印度、" * 12 + "等地。"
    )
    sentence = Span(0, len(doc))
    answer = Span(doc.index("越南"), doc.index("越南") + 2)
    quote = quote_window(doc, sentence, answer, analyse("五月艾分布在哪些地区？"))
    assert quote.start <= answer.start and quote.end > answer.end + 20
    assert len(quote) <= QUOTE_CHARS


@pytest.mark.parametrize(
    ("question", "thing"),
    [
        ("黄蝉的花是什么样子？", "花"),
        ("长柄艾纳香的上部叶有什么特点？", "上部叶"),
        ("斯氏腔吻鳕的生活环境是怎样的？", "生活环境"),
        ("公布了多少个不予处罚事项？", ""),  # a number is asked, not a description
        ("为什么吉斯伯恩的畜牧业发达？", ""),
    ],
)
def test_what_a_question_asks_to_be_described(question, thing):
    assert described(analyse(question)) == thing
