from __future__ import annotations

import pytest

from eval.metrics import cmrc_em, cmrc_f1, compare, judge_record, percentile, summarise
from eval.sets import Item


def item(id_: str, answers=("106",), evidence=None, answerable=True, doc=None, tags=("number",)) -> Item:
    return Item(id_, "q", tuple(answers), evidence, answerable, doc, tuple(tags))


def record(found=True, answer="106个", sources=(("r.txt", "推出106个不予处罚事项"),), quote="推出106个", latency=10.0):
    return {
        "found": found,
        "answer": answer if found else None,
        "quote": {"doc": "r.txt", "text": quote} if found and quote else None,
        "sources": [{"doc": d, "text": t} for d, t in sources],
        "latency_ms": latency,
    }


def test_number_boundary_rule_in_judging():
    assert judge_record(item("a"), record(answer="推出106个")).correct
    assert not judge_record(item("a"), record(answer="1060")).correct
    assert not judge_record(item("a"), record(answer="10.6")).correct


def test_summary_figures_are_exact():
    items = [
        item("a", evidence="推出106个不予处罚事项", tags=("number", "zh")),  # right, evidence at 1
        item("b", answers=("14",), tags=("number",)),  # wrong answer, evidence at 2
        item("c", answers=(), answerable=False, tags=("unanswerable",)),  # refused: right
        item("d", answers=(), answerable=False, tags=("unanswerable",)),  # answered: wrong
    ]
    records = [
        record(quote="推出106个不予处罚事项", latency=10.0),
        record(answer="106个", sources=(("r.txt", "无关"), ("r.txt", "等14个领域")), quote="推出106个", latency=20.0),
        record(found=False, latency=30.0),
        record(answer="5466项", latency=40.0),
    ]
    s = summarise([judge_record(i, r) for i, r in zip(items, records, strict=True)])
    assert s["questions"] == 4
    assert s["accuracy"] == 0.5
    assert s["answerable_accuracy"] == 0.5 and s["refusal_accuracy"] == 0.5
    assert s["evidence@1"] == 0.5 and s["evidence@3"] == 1.0
    assert s["mrr@10"] == pytest.approx((1 + 1 / 2) / 2)
    assert s["quote_accuracy"] == 0.5 and s["mean_quote_chars"] == 9.0
    assert s["latency_ms_p50"] == 25.0 and s["latency_ms_p95"] == pytest.approx(38.5)
    # F1 as SQuAD 2.0 counts it: a 2/3 (106个 against the gold 106: 106 and 个 against 106),
    # b 0 (106个 against 14), c refused 1, d answered 0
    a = 2 * 0.5 * 1.0 / 1.5
    assert s["f1_all"] == pytest.approx((a + 0.0 + 1.0 + 0.0) / 4)
    assert s["per_tag"] == {
        "number": {"questions": 2, "accuracy": 0.5, "f1_all": pytest.approx(a / 2)},
        "unanswerable": {"questions": 2, "accuracy": 0.5, "f1_all": 0.5},
        "zh": {"questions": 1, "accuracy": 1.0, "f1_all": pytest.approx(a)},
    }


def test_evidence_must_come_from_the_named_doc():
    judged = judge_record(item("a", doc="other.txt"), record())
    assert judged.evidence_rank is None and not judged.quote_correct


def test_cmrc_exact_match_and_f1():
    assert cmrc_em("江北区", "江北区。") == 1.0
    assert cmrc_em("江北", "江北区") == 0.0
    assert cmrc_f1("江北", "江北区") == pytest.approx(2 * 1.0 * (2 / 3) / (1 + 2 / 3))
    assert cmrc_f1("", "江北区") == 0.0
    assert cmrc_f1("Apple Inc", "apple") == pytest.approx(2 * 0.5 * 1.0 / 1.5)


def test_percentile_matches_numpy_linear():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 95) == 5
    assert percentile([], 50) is None


def test_compare_runs():
    changes = compare({"a": True, "b": False, "c": True}, {"a": False, "b": True, "d": True})
    assert changes == {"fixed": ["b"], "broken": ["a"], "only_before": ["c"], "only_after": ["d"]}
