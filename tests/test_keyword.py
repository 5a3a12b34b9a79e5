from __future__ import annotations

import math

import numpy as np

from qa.keyword import K1, B, BM25Index
from qa.text import query_tokens, tokens


def reference_bm25(units: list[list[str]], query: list[str]) -> list[float]:
    """BM25 written out term by term, as in the textbook (Lucene idf)."""
    n = len(units)
    avg = sum(len(u) for u in units) / n
    scores = []
    for unit in units:
        score = 0.0
        for term in set(query):
            df = sum(term in u for u in units)
            if not df:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            tf = unit.count(term)
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(unit) / avg))
        scores.append(score)
    return scores


UNITS = [
    ["不予", "处罚", "事项", "106"],
    ["处罚", "公示", "问题", "78"],
    ["监管", "一件", "事", "105"],
    ["裁量", "基准"],
]


def test_scores_equal_reference_implementation():
    index = BM25Index(UNITS)
    for query in (["处罚"], ["不予", "处罚", "事项"], ["监管", "裁量"], ["缺席"]):
        assert np.allclose(index.scores(query), reference_bm25(UNITS, query), atol=1e-5)


def test_search_returns_only_matches_best_first():
    index = BM25Index(UNITS)
    hits = index.search(["不予", "处罚"], k=10)
    assert hits.ids.tolist() == [0, 1]
    assert hits.scores[0] > hits.scores[1] > 0


def test_search_with_no_matching_term_is_empty():
    hits = BM25Index(UNITS).search(["population", "宁波"], k=5)
    assert len(hits.ids) == 0


def test_search_keeps_k_best():
    units = [["a"] * i + ["b"] for i in range(1, 20)]
    hits = BM25Index(units).search(["a"], k=3)
    assert len(hits.ids) == 3
    assert hits.scores.tolist() == sorted(hits.scores.tolist(), reverse=True)


def test_tokens_drop_punctuation_spaces_and_question_words():
    assert "多少" not in query_tokens("公布了多少个不予处罚事项？")
    assert {"不予", "处罚", "事项"} <= set(query_tokens("公布了多少个不予处罚事项？"))
    assert not {" ", "？", ",", "的"} & set(tokens("推出 106个, 不予处罚事项的？"))
    assert "106" in tokens("推出106个")
