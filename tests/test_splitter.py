"""Splitting documents into passages and sentences: spans, sentence ends, headings, items, windows."""

from __future__ import annotations

from qa.documents import make_document, read_document
from qa.splitter import (
    MAX_PASSAGE_CHARS,
    MAX_SENTENCE_CHARS,
    SplitDocument,
    clause_spans,
    hard_wrapped,
    sentence_spans,
    short_heading,
    split_document,
    split_sentences,
)
from qa.types import Span
from tests.conftest import DEFAULT_CORPUS

REPORT = DEFAULT_CORPUS / "ningbo-enforcement-report.txt"

SAMPLE = """关于行政执法规范化的报告
时间:2025-02-18 16:04
一、进一步优化执法理念,推动执法质效提升
(一)着力完善行政执法制度。一是落实行政执法公示制度。二是加快办案规范制度建设,制定清单。
(二)健全优化行政执法标准。一是加大重点领域执法力度。二是推进包容审慎监管,推出106个不予处罚事项。
（三）深入推进综合监管
全市开展联合检查105次!成效如何?检查率达99.8%;减少扰企。
二、进一步加强联动配合
1.强化数字化应用
打造执法数据底仓。
"""


def split(text: str, name: str = "doc.txt") -> tuple[str, SplitDocument]:
    doc = make_document(name, text)
    return doc.text, split_document(doc)


def passage_texts(text: str, result: SplitDocument) -> list[str]:
    return [text[p.span.start : p.span.end] for p in result.passages]


def sentence_texts(text: str, spans: list[Span]) -> list[str]:
    return [text[s.start : s.end] for s in spans]


def find_passage(text: str, result: SplitDocument, needle: str) -> int:
    hits = [i for i, p in enumerate(result.passages) if needle in text[p.span.start : p.span.end]]
    assert len(hits) == 1, f"{needle!r} in passages {hits}"
    return hits[0]


def within(inner: Span, outer: Span) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end


def assert_well_formed(text: str, result: SplitDocument) -> None:
    """Spans slice to non-empty, stripped text; sentences lie in their passage, in order, without overlap."""
    for passage in result.passages:
        piece = text[passage.span.start : passage.span.end]
        assert piece and piece == piece.strip()
    previous_end = 0
    for span, index in result.sentences:
        piece = text[span.start : span.end]
        assert piece and piece == piece.strip()
        assert within(span, result.passages[index].span)
        assert span.start >= previous_end
        previous_end = span.end
    for index, passage in enumerate(result.passages):
        own = [span for span, p in result.sentences if p == index]
        assert own, f"passage {index} has no sentences"
        assert own[0].start == passage.span.start and own[-1].end == passage.span.end
    starts = [p.span.start for p in result.passages]
    assert starts == sorted(starts)
    for before, after in zip(result.passages, result.passages[1:], strict=False):
        assert before.span.end <= after.span.start


# --- spans ----------------------------------------------------------------------------------


def test_sample_spans_are_well_formed() -> None:
    text, result = split(SAMPLE)
    assert_well_formed(text, result)


def test_report_spans_are_well_formed() -> None:
    doc = read_document(REPORT)
    assert_well_formed(doc.text, split_document(doc))


def test_split_sentences_numbers_passages_from_offset() -> None:
    doc = make_document("doc.txt", SAMPLE)
    result, sentences = split_sentences(doc, 10)
    assert len(sentences) == len(result.sentences)
    for sentence, (span, index) in zip(sentences, result.sentences, strict=True):
        assert sentence.doc == "doc.txt"
        assert sentence.span == span
        assert sentence.passage == 10 + index


# --- sentence ends --------------------------------------------------------------------------


def test_sentences_cut_at_full_width_marks() -> None:
    text = "第一句。第二句！第三句？第四句；第五句"
    assert sentence_texts(text, sentence_spans(text, 0, len(text))) == [
        "第一句。",
        "第二句！",
        "第三句？",
        "第四句；",
        "第五句",
    ]


def test_sentences_cut_at_half_width_question_exclamation_semicolon() -> None:
    text = "开展检查105次!成效如何?检查率达99.8%;减少扰企"
    assert sentence_texts(text, sentence_spans(text, 0, len(text))) == [
        "开展检查105次!",
        "成效如何?",
        "检查率达99.8%;",
        "减少扰企",
    ]


def test_sentences_not_cut_at_commas_or_decimal_points() -> None:
    text = "推动执法依据,执法程序等信息公开,开展检查7.8万起,抽查率达99.8%。下一句。"
    assert sentence_texts(text, sentence_spans(text, 0, len(text))) == [
        "推动执法依据,执法程序等信息公开,开展检查7.8万起,抽查率达99.8%。",
        "下一句。",
    ]


def test_sentence_keeps_its_closing_quote() -> None:
    text = "他说:“今年任务已完成。”随后离开。"
    assert sentence_texts(text, sentence_spans(text, 0, len(text))) == ["他说:“今年任务已完成。”", "随后离开。"]


def test_no_cut_inside_a_title_or_at_a_half_width_mark_inside_brackets() -> None:
    text = "《卡拉OK.LIVE!‧台北‧我》是第六张专辑。又称-{zh-cn:宽叶;zh-hk:锦地罗}-，是植物(a;b)。下一句!"
    assert sentence_texts(text, sentence_spans(text, 0, len(text))) == [
        "《卡拉OK.LIVE!‧台北‧我》是第六张专辑。",
        "又称-{zh-cn:宽叶;zh-hk:锦地罗}-，是植物(a;b)。",
        "下一句!",
    ]


def test_an_unclosed_title_holds_a_sentence_only_to_the_line_end() -> None:
    text = "他读《史记。然后走了。\n第二行。"
    assert sentence_texts(text, sentence_spans(text, 0, len(text))) == ["他读《史记。然后走了。", "第二行。"]


def test_sentence_spans_respect_bounds_and_strip_space() -> None:
    text = "前缀。  第一句。 第二句。后缀"
    start, end = text.index("第一句"), text.index("后缀")
    assert sentence_texts(text, sentence_spans(text, start, end)) == ["第一句。", "第二句。"]


def test_long_sentence_without_punctuation_is_cut_into_pieces() -> None:
    text = "字" * (MAX_SENTENCE_CHARS * 3 + 17)
    spans = sentence_spans(text, 0, len(text))
    assert len(spans) == 4
    assert all(0 < len(s) <= MAX_SENTENCE_CHARS for s in spans)
    assert "".join(sentence_texts(text, spans)) == text


def test_long_sentence_is_cut_after_a_comma() -> None:
    clause = "推进行政执法规范化建设工作" * 2 + ","  # 27 characters
    text = clause * 20 + "。"
    spans = sentence_spans(text, 0, len(text))
    assert len(spans) > 1
    assert all(len(s) <= MAX_SENTENCE_CHARS for s in spans)
    assert all(text[s.end - 1] == "," for s in spans[:-1])
    assert "".join(sentence_texts(text, spans)) == text


def test_long_passage_sentence_piece_in_document() -> None:
    text, result = split("短标题\n" + "字" * 1000 + "\n")
    assert_well_formed(text, result)
    assert len(result.passages) >= 3
    assert all(len(span) <= MAX_SENTENCE_CHARS for span, _ in result.sentences)
    assert all(len(p.span) <= MAX_PASSAGE_CHARS for p in result.passages)
    assert "".join(passage_texts(text, result)) == "字" * 1000


def test_clause_spans_cut_after_commas_colons_and_enumeration_commas() -> None:
    text = "主要做法:一是公示,二是记录、审核，三是考核：成效明显"
    clauses = sentence_texts(text, clause_spans(text, Span(0, len(text))))
    assert clauses == ["主要做法:", "一是公示,", "二是记录、", "审核，", "三是考核：", "成效明显"]


def test_clause_spans_within_a_sentence_span() -> None:
    text = "前文。甲, 乙,丙。后文"
    span = Span(text.index("甲"), text.index("后文"))
    assert sentence_texts(text, clause_spans(text, span)) == ["甲,", "乙,", "丙。"]


# --- headings, sections, items --------------------------------------------------------------


def test_headings_become_the_section_path() -> None:
    text, result = split(SAMPLE)
    by_needle = {
        "落实行政执法公示": ("一、进一步优化执法理念…", "(一)着力完善行政执法制度"),
        "推出106个不予处罚事项": ("一、进一步优化执法理念…", "(二)健全优化行政执法标准"),
        "联合检查105次": ("一、进一步优化执法理念…", "（三）深入推进综合监管"),
        "数据底仓": ("二、进一步加强联动配合", "1.强化数字化应用"),
    }
    for needle, section in by_needle.items():
        assert result.passages[find_passage(text, result, needle)].section == section


def test_locator_joins_section_and_item() -> None:
    text, result = split(SAMPLE)
    passage = result.passages[find_passage(text, result, "推出106个不予处罚事项")]
    assert passage.item == "二是"
    assert "(二)健全优化行政执法标准" in passage.locator
    assert passage.locator == "一、进一步优化执法理念… › (二)健全优化行政执法标准 › 二是"


def test_heading_lines_are_not_passages() -> None:
    text, result = split(SAMPLE)
    texts = passage_texts(text, result)
    for heading in ("一、进一步优化执法理念", "（三）深入推进综合监管", "二、进一步加强联动配合", "1.强化数字化应用"):
        assert not any(heading in t for t in texts), heading
    assert not any(t.startswith(("(一)", "(二)")) for t in texts)


def test_heading_with_body_gives_item_passages() -> None:
    text = "(一)着力完善行政执法制度。一是落实行政执法公示制度。二是加快办案规范制度建设。"
    text, result = split(text)
    assert passage_texts(text, result) == ["一是落实行政执法公示制度。", "二是加快办案规范制度建设。"]
    assert [p.item for p in result.passages] == ["一是", "二是"]
    assert all(p.section == ("(一)着力完善行政执法制度",) for p in result.passages)
    assert result.passages[1].locator == "(一)着力完善行政执法制度 › 二是"


def test_heading_with_plain_body_keeps_body_as_passage() -> None:
    text, result = split("(二)加强行政执法协调统筹。在现有制度基础上,加强执法统筹。")
    assert passage_texts(text, result) == ["在现有制度基础上,加强执法统筹。"]
    assert result.passages[0].item == ""
    assert result.passages[0].section == ("(二)加强行政执法协调统筹",)


def test_text_before_first_item_is_its_own_passage() -> None:
    text, result = split("总体情况如下。一是甲事项完成。二是乙事项完成。")
    assert passage_texts(text, result) == ["总体情况如下。", "一是甲事项完成。", "二是乙事项完成。"]
    assert [p.item for p in result.passages] == ["", "一是", "二是"]


def test_item_word_inside_a_sentence_does_not_cut() -> None:
    text, result = split("统一是基本原则。")
    assert [p.item for p in result.passages] == [""]


def test_deeper_headings_nest_and_siblings_replace() -> None:
    text = "一、总体\n(一)制度\n1.公示\n(1)细则\n甲内容。\n(2)补充\n乙内容。\n(二)标准\n丙内容。\n二、保障\n丁内容。"
    text, result = split(text)
    sections = {t: p.section for t, p in zip(passage_texts(text, result), result.passages, strict=True)}
    assert sections == {
        "甲内容。": ("一、总体", "(一)制度", "1.公示", "(1)细则"),
        "乙内容。": ("一、总体", "(一)制度", "1.公示", "(2)补充"),
        "丙内容。": ("一、总体", "(二)标准"),
        "丁内容。": ("二、保障",),
    }


def test_markdown_headings_and_title() -> None:
    text = "# 执法报告\n\n## 第一部分\n正文一。\n### 细节\n正文二。\n## 第二部分\n正文三。\n"
    text, result = split(text, "report.md")
    assert result.title == "执法报告"
    sections = [p.section for p in result.passages]
    assert sections == [
        ("执法报告", "第一部分"),
        ("执法报告", "第一部分", "细节"),
        ("执法报告", "第二部分"),
    ]
    assert passage_texts(text, result) == ["正文一。", "正文二。", "正文三。"]
    assert all(p.title == "执法报告" for p in result.passages)


def test_markdown_list_bullets_are_stripped() -> None:
    text, result = split("标题\n- 第一条内容。\n* 第二条内容。\n• 第三条内容。")
    assert passage_texts(text, result) == ["第一条内容。", "第二条内容。", "第三条内容。"]


def test_decimal_number_line_is_not_a_heading() -> None:
    text, result = split("标题\n1.5万家企业参与了检查。\n")
    assert passage_texts(text, result) == ["1.5万家企业参与了检查。"]
    assert result.passages[0].section == ()


def test_long_numbered_line_is_a_paragraph_not_a_heading() -> None:
    line = "一、" + "全市持续推进行政执法规范化建设并取得明显成效" * 4 + "。"
    text, result = split("标题\n" + line)
    assert passage_texts(text, result) == [line]
    assert result.passages[0].section == ()


def test_short_heading_cuts_at_first_comma() -> None:
    assert short_heading("一、进一步优化执法理念,推动执法质效提升") == "一、进一步优化执法理念…"
    assert short_heading("一、总体,情况") == "一、总体…"
    assert short_heading("一、甲,乙") == "一、甲,乙"  # a comma before the 4th character is kept
    assert short_heading("二、无逗号标题") == "二、无逗号标题"


# --- long paragraphs ------------------------------------------------------------------------


def test_long_paragraph_is_cut_into_windows() -> None:
    sentence = ("全市行政执法机关持续推进规范化建设工作取得成效" * 2)[:29] + "。"
    assert len(sentence) == 30 and sentence.count("。") == 1
    paragraph = sentence * 30
    text, result = split("报告标题\n" + paragraph)
    assert_well_formed(text, result)
    assert len(result.passages) >= 900 // MAX_PASSAGE_CHARS + 1
    assert all(len(p.span) <= MAX_PASSAGE_CHARS for p in result.passages)
    assert "".join(passage_texts(text, result)) == paragraph
    assert len(result.sentences) == 30
    assert all(len(span) == 30 for span, _ in result.sentences)


def test_long_item_windows_keep_the_item() -> None:
    body = "一是" + "加强执法队伍建设并开展岗位练兵活动。" * 40 + "二是完善制度。"
    text, result = split("(一)标题。" + body)
    items = [p.item for p in result.passages]
    assert items[-1] == "二是"
    assert len(items) > 2 and set(items[:-1]) == {"一是"}
    assert all(len(p.span) <= MAX_PASSAGE_CHARS for p in result.passages)


# --- metadata and titles --------------------------------------------------------------------


def test_metadata_lines_are_kept_as_passages() -> None:
    text, result = split("时间:2025-02-18 16:04\n来源:市人大常办\n报告正文第一句。")
    texts = passage_texts(text, result)
    assert "时间:2025-02-18 16:04" in texts
    assert "来源:市人大常办" in texts
    assert result.title == "doc"  # key: value lines are never the title


def test_title_is_first_short_line_and_not_a_passage() -> None:
    text, result = split(SAMPLE, "ningbo.txt")
    assert result.title == "关于行政执法规范化的报告"
    assert "关于行政执法规范化的报告" not in passage_texts(text, result)
    assert all(p.title == "关于行政执法规范化的报告" for p in result.passages)
    assert all(p.doc == "ningbo.txt" for p in result.passages)


def test_title_falls_back_to_file_stem() -> None:
    text, result = split("这是第一句正文。这是第二句正文。\n又一段正文。", "执法报告.v2.txt")
    assert result.title == "执法报告.v2"
    assert passage_texts(text, result) == ["这是第一句正文。这是第二句正文。", "又一段正文。"]
    assert all(p.title == "执法报告.v2" for p in result.passages)


def test_title_skips_lines_ending_with_sentence_marks() -> None:
    text, result = split("第一行是完整的一句话。\n真正的标题\n正文。")
    assert result.title == "真正的标题"


def test_single_short_line_document_still_has_a_passage() -> None:
    text, result = split("会议定于周五下午三点", "notice.txt")
    assert passage_texts(text, result) == ["会议定于周五下午三点"]


# --- the bundled report ---------------------------------------------------------------------


def test_report_item_locator() -> None:
    doc = read_document(REPORT)
    result = split_document(doc)
    passage = result.passages[find_passage(doc.text, result, "推出106个不予处罚事项")]
    assert "(二)健全优化行政执法标准" in passage.locator
    assert passage.item == "二是"
    assert passage.locator.endswith("二是")


def test_report_metadata_and_title() -> None:
    doc = read_document(REPORT)
    result = split_document(doc)
    passage = result.passages[find_passage(doc.text, result, "时间:2025-02-18")]
    assert doc.text[passage.span.start : passage.span.end] == "时间:2025-02-18 16:04"
    assert result.title == "审议意见研究处理情况"
    assert all(len(p.span) <= MAX_PASSAGE_CHARS for p in result.passages)


def test_numbered_one_sentence_line_stays_searchable() -> None:
    text, result = split("一、总体情况\n1.全市共办理案件3000件。\n", "n.txt")
    assert "1.全市共办理案件3000件。" in passage_texts(text, result)


# A plain-text release wrapped at 80-odd columns (the U.S. Bureau of Labor Statistics' Employment
# Situation, March 2023: a work of the U.S. government, in the public domain).
WRAPPED = """THE EMPLOYMENT SITUATION -- MARCH 2023

Both the unemployment rate, at 3.5 percent, and the number of unemployed persons, at
5.8 million, changed little in March. These measures have shown little net movement
since early 2022. (See table A-1.)

Household Survey Data

Among the unemployed, the number of permanent job losers increased by 172,000 to 1.6
million in March, and the number of reentrants to the labor force declined by 182,000
to 1.7 million. (Reentrants are persons who previously worked but were not in the
labor force prior to beginning their job search.) (See table A-11.)
- Total nonfarm payroll employment rose by 236,000
- Health care added 51,000 jobs
"""


def test_hard_wrapped_text_is_told_from_a_paragraph_a_line() -> None:
    assert hard_wrapped(WRAPPED)
    unwrapped = "\n\n".join(" ".join(p.split("\n")) for p in WRAPPED.split("\n\n"))
    assert not hard_wrapped(unwrapped)  # one paragraph a line, as SQuAD's or a PDF's text
    assert not hard_wrapped(REPORT.read_text(encoding="utf-8"))  # Chinese: a line is a paragraph
    assert not hard_wrapped("One short line.\nAnother one.\n")


def test_a_hard_wrapped_paragraph_runs_over_its_lines_to_the_blank_line() -> None:
    doc = make_document("jobs.txt", WRAPPED)
    split = split_document(doc)
    texts = [doc.text[p.span.start : p.span.end] for p in split.passages]
    assert split.title == "THE EMPLOYMENT SITUATION -- MARCH 2023"
    assert texts[0].startswith("Both the unemployment rate") and texts[0].endswith("(See table A-1.)")
    losers = next(t for t in texts if "permanent job losers" in t)
    assert "172,000 to 1.6\nmillion in March" in losers  # one sentence over a line break, as written
    assert "Household Survey Data" in texts  # a line between blank lines: joined to nothing
    assert [t for t in texts if "nonfarm" in t] == [
        "Total nonfarm payroll employment rose by 236,000"
    ]  # list items stay apart
    sentences = [doc.text[span.start : span.end] for span, _ in split.sentences]
    assert any("number of unemployed persons, at\n5.8 million, changed little" in t for t in sentences)


def test_an_answer_over_a_line_break_is_found_given_on_one_line_and_quoted_as_written(encoder) -> None:
    from qa.assistant import Assistant

    assistant = Assistant.from_documents([make_document("jobs.txt", WRAPPED)], encoder)
    answer = assistant.ask("How many permanent job losers were there in March?")
    assert answer.found and answer.answer is not None and "1.6 million" in answer.answer and "\n" not in answer.answer
    quote = answer.quote
    assert quote is not None and "1.6\nmillion" in quote.text
    assert assistant.index.texts["jobs.txt"].text[quote.start : quote.end] == quote.text
    assert assistant.ask("How many unemployed persons were there in March?").answer == "5.8 million"
