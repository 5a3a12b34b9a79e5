from __future__ import annotations

import json
import re
from html import unescape

from qa.types import Answer, Quote, Source
from ui.render import language, render_answer

SOURCE = Source("r.txt", "一、… › (二)… › 二是", 10, 40, "动态调整清单,推出106个不予处罚事项,覆盖14个领域。", 0.9)
QUOTE = Quote("r.txt", "一、… › (二)… › 二是", 17, 29, "推出106个不予处罚事项", 19, 23)


def test_found_answer_bold_quote_highlighted_and_cards():
    text = render_answer(Answer("公布了多少个不予处罚事项？", True, "106个", QUOTE, (SOURCE,)))
    assert text.startswith("**106个**")
    assert "> 推出<mark>106个</mark>不予处罚事项" in text
    assert "— r.txt, 一、… › (二)… › 二是" in text
    assert '<details class="source"><summary>[1] r.txt · 一、… › (二)… › 二是 <button type="button"' in text
    assert "动态调整清单,<mark>推出106个不予处罚事项</mark>,覆盖14个领域。" in text
    assert "来源" in text


def test_html_in_documents_and_answers_is_escaped():
    evil = "<script>alert(1)</script>"
    source = Source("<b>x</b>.html", evil, 0, len(evil), evil, 0.5)
    quote = Quote("<b>x</b>.html", evil, 0, len(evil), evil, 0, 8)
    text = render_answer(Answer("what?", True, evil[:8], quote, (source,)))
    assert "<script>" not in text and "<b>x</b>" not in text
    assert "&lt;script&gt;" in text and "&lt;b&gt;x&lt;/b&gt;.html" in text


def test_refusal_in_chinese_and_english_lists_nearest():
    zh = render_answer(Answer("宁波市的市长是谁？", False, None, None, (SOURCE,), "never mentions 市长"))
    en = render_answer(Answer("Who is the mayor?", False, None, None, (SOURCE,), "x"))
    assert zh.startswith("文档中没有找到这个问题的答案。") and "最接近的段落" in zh and "[1] r.txt" in zh
    assert en.startswith("The documents do not say.") and "Nearest passages:" in en
    assert "**" not in zh and "<mark>" not in zh


def test_source_count_setting_and_language():
    sources = tuple(Source("r.txt", f"{i}", 0, 1, "x", 0.1) for i in range(6))
    text = render_answer(Answer("How many?", True, "106个", QUOTE, sources), max_sources=2)
    assert "[2]" in text and "[3]" not in text and "Sources:" in text
    assert language("How many 不予处罚 items?") == "en" and language("公布了多少个？") == "zh"


def test_markup_in_documents_is_shown_never_rendered():
    evil = "![t](http://x/p.png) [a](javascript:alert(1)) *b* <img src=x onerror=alert(1)>\n\n<script>x</script>"
    source = Source("d_[x].md", "l|c", 0, len(evil), evil, 0.5)
    quote = Quote("d_[x].md", "l|c", 0, len(evil), evil, 0, 3)
    text = render_answer(Answer("What?", True, "![t", quote, (source,)))
    assert "<img" not in text and "<script" not in text and "&lt;img src=x" in text
    assert (
        text.startswith("**!\\[t**")
        and "> <mark>!\\[t</mark>\\](http://x/p.png) \\[a\\](javascript:alert(1)) \\*b\\*" in text
    )
    assert "— d\\_\\[x\\].md, l\\|c" in text
    card = text.split("Sources:\n\n")[1]
    assert "\n" not in card and card.endswith("</details>")  # one line: a blank line would end the HTML block
    assert "&lt;/script&gt;" in card and "[x].md" in card  # no Markdown is read inside the card


def test_each_citation_carries_its_document_and_range_for_the_viewer():
    text = render_answer(Answer("公布了多少个不予处罚事项？", True, "106个", QUOTE, (SOURCE,)))
    targets = [json.loads(unescape(v)) for v in re.findall(r'class="cite" value="([^"]*)"', text)]
    assert targets == [{"doc": "r.txt", "start": 17, "end": 29}, {"doc": "r.txt", "start": 10, "end": 40}]
    assert text.count(">原文</button>") == 2


def test_labels_follow_the_interface_language_when_given():
    zh_question = Answer("公布了多少个不予处罚事项？", True, "106个", QUOTE, (SOURCE,))
    en_question = Answer("How many items?", False, None, None, (SOURCE,), "x")
    assert "Sources:" in render_answer(zh_question, lang="en") and "来源" not in render_answer(zh_question, lang="en")
    assert render_answer(en_question, lang="zh").startswith("文档中没有找到") and "open" not in render_answer(
        en_question, lang="zh"
    )
    assert "来源" in render_answer(zh_question, lang=None)  # no interface: the question's language


def test_a_document_name_in_a_citation_cannot_break_out_of_its_attribute():
    evil = 'a" onclick="alert(1)<b>.txt'
    source = Source(evil, "x", 0, 3, "abc", 0.5)
    text = render_answer(Answer("What?", False, None, None, (source,), "x"))
    assert 'onclick="' not in text and "<b>" not in text
    value = re.search(r'class="cite" value="([^"]*)"', text)
    assert value is not None and json.loads(unescape(value.group(1)))["doc"] == evil
