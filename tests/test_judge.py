from __future__ import annotations

from eval.judge import answer_correct, evidence_rank, judged_form, matches, max_answer_chars


def test_number_boundaries():
    assert matches("106个", "106")
    assert matches("推出106个", "106")
    assert not matches("1060", "106")
    assert not matches("2106", "106")
    assert not matches("10.6", "106")
    assert not matches("10.6%", "10")
    assert matches("99.8%", "99.8%")
    assert matches("5.57万户次", "5.57万")


def test_normalisation_nfkc_case_and_spaces():
    assert matches("ＰＤＡ配置率达 92 ％", "92%")
    assert matches("GDP", "gdp")
    assert judged_form("1 2") != judged_form("12")
    assert not matches("1 06", "106")


def test_short_answer_rule():
    assert max_answer_chars(["106"]) == 32
    assert max_answer_chars(["x" * 20]) == 60
    assert answer_correct(True, "106个", ["106"], True)
    assert not answer_correct(True, "推出" + "很" * 40 + "106个", ["106"], True)
    assert not answer_correct(False, None, ["106"], True)


def test_refusals():
    assert answer_correct(False, None, [], False)
    assert not answer_correct(True, "5466项", [], False)


def test_evidence_rank():
    sources = [("a.txt", "无关"), ("b.txt", "推出106个不予处罚事项"), ("a.txt", "106个")]
    assert evidence_rank(sources, "推出106个不予处罚事项", ["106"], None) == 2
    assert evidence_rank(sources, None, ["106"], "a.txt") == 3
    assert evidence_rank(sources, None, ["999"], None) is None
