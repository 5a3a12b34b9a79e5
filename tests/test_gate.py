"""The gate's view of the corpus's languages: a store of Chinese and English documents speaks both,
so an English question over it is read as English, not as a question across languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.crosslingual import english_glosses
from qa.gate import corpus_scripts, missplit

CHINESE = "宁波市推出106个不予处罚事项，覆盖林业、地震、气象等14个领域。全市赋权街镇已配置法审人员199名。"
ENGLISH = (
    "Total nonfarm payroll employment rose by 236,000 in March. The unemployment rate changed little "
    "at 3.5 percent, the U.S. Bureau of Labor Statistics reported today."
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


def test_function_characters_jieba_glues_to_a_name_are_no_part_of_it() -> None:
    """In traditional text jieba glues 於, 曾 … to the names it does not know (卡特|曾於|1946,
    現今|於曼|徹斯特): the piece is no missing name. A name with such a character that the documents
    never use is still one."""
    corpus = "利物浦路車站位於英格蘭曼徹斯特。卡特在1946年獲得上尉軍階。"
    assert missplit("卡特曾於1946年時榮獲了哪一個軍階", "曾於", corpus.__contains__)
    assert missplit("利物浦路車站在現今於曼徹斯特被留存為", "於曼", corpus.__contains__)
    assert not missplit("於謙是哪一年出生的", "於謙", corpus.__contains__)  # 謙 lies in no run the corpus uses


def test_a_chinese_name_the_english_documents_speak_of_is_not_missing(mixed: Assistant, report_assistant) -> None:
    """Over Chinese and English documents, a Chinese question may name what only the English ones
    speak of, in English (美国: U.S.): it reaches the reader. A name spoken of in neither is refused,
    and over Chinese documents alone the same question is refused."""
    assert {"us", "usa"} <= english_glosses("美国")
    answered = mixed.ask("美国3月份非农就业人数增加了多少？")
    assert "never mention" not in answered.reason
    assert "never mention 杭州市" in mixed.ask("杭州市推出了多少个不予处罚事项？").reason
    assert "never mention 美国" in report_assistant.ask("美国3月份非农就业人数增加了多少？").reason


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
