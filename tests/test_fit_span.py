"""Calibrating the trained reader's span bounds: the answers judged per cost, and the choice of cost."""

from __future__ import annotations

import numpy as np

from eval.fit_span import Asked, choose_cost, figures
from eval.sets import Item
from qa.reading.reader import ReaderSettings, ReadPassage, WindowLogits

LOW = -20.0


def _asked(gold: str, answerable: bool = True) -> Asked:
    # passage "一二三四五六七": the start likelier at 四 than at 二, the end sure at 六
    starts = np.array([1.0, LOW, LOW, 4.5, LOW, 5.0, LOW, LOW, LOW, LOW])
    ends = np.array([1.0, LOW, LOW, LOW, LOW, LOW, LOW, 5.0, LOW, LOW])
    window = WindowLogits(starts, ends, 2, 9, np.arange(7), np.arange(7) + 1)
    item = Item("q", "?", (gold,) if answerable else (), None, answerable, "d", ())
    return Asked(item, ((ReadPassage("d", 0, "一二三四五六七", 1.0), (window,)),))


def test_the_answers_are_judged_with_the_bounds_each_cost_gives() -> None:
    texts = {"d": "一二三四五六七"}
    questions = [_asked("二三四五六"), _asked("四五六"), _asked("", answerable=False)]
    highest = figures(questions, ReaderSettings(), texts)
    covering = figures(questions, ReaderSettings(length_cost=0.1), texts)
    assert highest["answerable"] == 0.5 and highest["mean_answer_chars"] == 3.0  # "四五六" both times
    assert covering["answerable"] == 1.0 and covering["mean_answer_chars"] == 5.0  # "二三四五六" holds both
    assert covering["accuracy"] == round(2 / 3, 3)  # the unanswerable one is answered: wrong either way
    refusing = figures(questions, ReaderSettings(threshold=100.0), texts)
    assert refusing["answerable"] == 0.0 and refusing["accuracy"] == round(1 / 3, 3)


def test_the_most_accurate_cost_is_chosen_among_those_that_keep_answers_short() -> None:
    table = {
        None: {"accuracy": 0.5, "mean_answer_chars": 12.0},
        0.01: {"accuracy": 0.7, "mean_answer_chars": 19.0},  # right by holding more: not chosen
        0.05: {"accuracy": 0.6, "mean_answer_chars": 11.9},
        0.1: {"accuracy": 0.6, "mean_answer_chars": 9.0},  # as right and shorter
        0.2: {"accuracy": 0.55, "mean_answer_chars": 7.0},
    }
    assert choose_cost(table) == 0.1
    assert choose_cost(table, length_ratio=2.0) == 0.01
    assert (
        choose_cost(
            {None: {"accuracy": 0.6, "mean_answer_chars": 9.0}, 0.1: {"accuracy": 0.6, "mean_answer_chars": 8.0}}
        )
        is None
    )
