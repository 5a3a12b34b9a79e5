"""The gate's view of the corpus's languages: a store of Chinese and English documents speaks both,
so an English question over it is read as English, not as a question across languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.gate import corpus_scripts, missplit

CHINESE = "宁波市推出106个不予处罚事项，覆盖林业、地震、气象等14个领域。全市赋权街镇已配置法审人员199名。"
ENGLISH = (
    "Total nonfarm payroll employment rose by 236,000 in March. The unemployment rate changed little "
    "at 3.5 percent, the Bureau of Labor Statistics reported today."
)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, encoder) -> Assistant:
    folder: Path = tmp_path_factory.mktemp("mixed")
    (folder / "report.txt").write_text(CHINESE, encoding="utf-8")
    (folder / "jobs.txt").write_text(ENGLISH, encoding="utf-8")
    return Assistant.from_paths([folder], encoder)


def test_a_store_of_both_languages_speaks_both(mixed: Assistant, report_assistant: Assistant) -> None:
    assert corpus_scripts(mixed.index) == {True, False}
    assert corpus_scripts(report_assistant.index) == {True}


def test_each_language_is_answered_from_its_own_documents(mixed: Assistant) -> None:
    answered = mixed.ask("What was the unemployment rate?")
    assert answered.found and (answered.answer or "").startswith("3.5")  # the rules drop "percent"
    assert answered.quote is not None and answered.quote.doc == "jobs.txt"
    answered = mixed.ask("推出了多少个不予处罚事项？")
    assert answered.found and answered.answer == "106个"


def test_a_piece_jieba_cut_across_words_is_not_a_missing_name() -> None:
    corpus = "高句麗國王安原王在位十五年，其前任安臧王遇刺身亡。推行耕者有其田屬土地改革。"
    assert missplit("高句麗國王安原王的前一任國王是怎麼死的", "王安", corpus.__contains__)
    assert missplit("耕者有其田屬於哪一種政策", "田屬", corpus.__contains__)
    report = "宁波市推出106个不予处罚事项，覆盖林业、地震、气象等14个领域。"
    assert not missplit("杭州市公布了多少个不予处罚事项", "杭州市", report.__contains__)
    assert not missplit("宁波市2024年的gdp是多少", "gdp", report.__contains__)  # not a piece of Chinese words
    assert not missplit("问杭州", "杭州", ("问杭", "杭州市").__contains__)  # 州 lies in no run the corpus uses


def test_the_gate_refuses_a_name_never_used_not_a_traditional_mis_split(encoder) -> None:
    """Over a traditional-Chinese paragraph, jieba cuts 國王安原王 into 王安 and tags it a name: the
    question still reaches the reader. A place the text never names is refused."""
    from qa.documents import make_document

    text = "高句麗\n\n安原王是高句麗第二十三代國王。安原王的前任國王安臧王於531年遇刺身亡，安原王繼位。\n"
    assistant = Assistant.from_documents([make_document("goguryeo.txt", text)], encoder)
    answer = assistant.ask("高句麗國王安原王的前一任國王是怎麼死的？")
    assert "never mention" not in answer.reason
    refused = assistant.ask("百濟國王安原王的前一任國王是怎麼死的？")
    assert not refused.found and "never mention" in refused.reason
