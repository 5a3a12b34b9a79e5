"""Choosing the run of sentences to quote: grams, local weights, coverage, runs and the best window."""

from __future__ import annotations

import math

from qa.splitter import sentence_spans
from qa.types import Span
from qa.windows import best_window, content_grams, coverage, local_weights, runs, window_score

TEXT = (
    "斯氏腔吻鳕为鼠尾鳕科的其中一种。"
    "斯氏腔吻鳕分布于南日本太平洋侧、中国南海。"
    "生活在混浊的泥沙底质上，几乎是以多毛类为食。"
    "斯氏腔吻鳕的体长可达32公分。"
)


def groups(text: str = TEXT) -> list[list[tuple[int, Span, str]]]:
    return [[(i, s, text[s.start : s.end]) for i, s in enumerate(sentence_spans(text, 0, len(text)))]]


def test_content_grams_are_chinese_bigrams_and_other_words():
    assert content_grams("主要以多毛类为食") == {"主要", "要以", "以多", "多毛", "毛类", "类为", "为食"}
    assert content_grams("gtk# binds gtk+ 3") == {"gtk", "binds"}
    assert content_grams("鳕 a") == set()


def test_local_weights_favour_what_few_candidates_share():
    texts = ["斯氏腔吻鳕为鼠尾鳕科", "斯氏腔吻鳕分布于南海", "以多毛类为食"]
    w = local_weights(["吻鳕", "为食", "没有"], texts)
    assert set(w) == {"吻鳕", "为食"}  # a gram no candidate holds says nothing about which to quote
    assert w["为食"] > w["吻鳕"] > 0
    assert math.isclose(w["为食"], math.log(4 / 1.5))


def test_coverage_is_the_weighted_share_held():
    w = {"为食": 3.0, "吻鳕": 1.0}
    assert coverage("以多毛类为食", w) == 0.75
    assert coverage("斯氏腔吻鳕以多毛类为食", w) == 1.0
    assert coverage("anything", {}) == 0.0


def test_runs_stay_within_the_limit_but_keep_every_single_sentence():
    spans = [Span(0, 50), Span(50, 100), Span(100, 300), Span(300, 320)]
    assert runs(spans, 120) == [(0, 0), (0, 1), (1, 1), (2, 2), (3, 3)]


def test_fuller_windows_score_higher_only_up_to_the_limit():
    assert window_score(1.0, 0.5, 100, 120) > window_score(1.0, 0.5, 40, 120)
    assert window_score(1.0, 0.5, 300, 120) == window_score(1.0, 0.5, 120, 120)


def test_the_window_that_holds_the_asked_for_words_wins_over_the_topic_sentence():
    g = groups()
    retrieval = {0: 1.0, 1: 0.9, 2: 0.9, 3: 0.85}  # the sentence that names the topic is retrieved best
    # 斯氏腔吻鳕生活在什么样的底质上？ without its question word
    window = best_window(g, retrieval, "斯氏腔吻鳕生活在 的底质上", 30)
    assert window is not None and (window.first, window.last) == (2, 2)
    assert best_window(g, retrieval, "斯氏腔吻鳕", 30).first == 0  # only the topic asked: retrieval decides


def test_a_window_never_joins_two_groups():
    g = groups()
    split = [g[0][:2], g[0][2:]]
    window = best_window(split, {i: 1.0 for i in range(4)}, "分布 为食", 200)
    assert window is not None
    assert (window.first, window.last) in {(0, 1), (2, 3)}


def test_no_candidates_no_window():
    assert best_window([], {}, "什么", 120) is None


def test_numerals_are_compared_in_digits():
    text = "他十九岁时从军到了北方。他二十三岁时退伍。"
    window = best_window(groups(text), {0: 1.0, 1: 1.0}, "他23岁时做了", 12)
    assert window is not None and (window.first, window.last) == (1, 1)


def test_a_why_window_grows_towards_the_cause_before_the_matching_sentence():
    text = "新芽萌发。所以到了七月，草原呈现碧草如茵的景致。幼笋可食用，秆可编竹篱。"
    retrieval = {0: 0.6, 1: 1.0, 2: 0.5}
    forward = best_window(groups(text), retrieval, "碧草如茵景致形成的", 35)
    backward = best_window(groups(text), retrieval, "碧草如茵景致形成的", 35, backward=True)
    assert forward is not None and (forward.first, forward.last) == (1, 2)
    assert backward is not None and (backward.first, backward.last) == (0, 1)


def test_the_words_of_a_title_tell_little_about_which_window_to_quote():
    text = "鸡毛松是罗汉松科的一种，为特有种。树高可达55米。此树的用途广泛，木材可制成矛。"
    retrieval = {0: 1.0, 1: 0.8, 2: 0.95}
    question = "鸡毛松有 用途"  # 鸡毛松有什么用途？
    assert best_window(groups(text), retrieval, question, 20).first == 0
    window = best_window(groups(text), retrieval, question, 20, topics=["鸡毛松"])
    assert window is not None and window.last == 2


def test_a_window_that_opens_with_the_thing_described_is_preferred():
    text = "长柄艾纳香的下部叶具细柄，叶片倒卵形。上部叶小，无柄，边缘有锯齿。"
    retrieval = {0: 1.0, 1: 1.0}
    question = "长柄艾纳香的上部叶有 特点"
    topics = ["长柄艾纳香"]
    assert best_window(groups(text), retrieval, question, 20, topics=topics).first == 0
    assert best_window(groups(text), retrieval, question, 20, topics=topics, opener="上部叶").first == 1


def test_a_one_character_noun_of_the_question_counts_when_given():
    text = "黄蝉是夹竹桃科的植物，原生于巴西。花为聚伞花序，鲜黄色。"
    retrieval = {0: 1.0, 1: 0.95}
    topics = ["黄蝉"]  # 黄蝉的花是什么样子？ over the article 黄蝉
    assert best_window(groups(text), retrieval, "黄蝉的花是", 20, topics=topics).first == 0
    assert best_window(groups(text), retrieval, "黄蝉的花是", 20, topics=topics, words=["花"]).first == 1
