"""The chat's pure parts, without a browser: the viewer, the interface's words, the per-file
progress, 👍/👎 records and the draft set made from them."""

from __future__ import annotations

import json

import pytest

from eval.feedback import FeedbackError, draft_set, read_feedback, write_draft
from eval.sets import SetError, load_set
from qa.types import Answer, Document, Passage, Quote, Source, Span
from ui.app import Indexing, _per_file, cite_target, indexing_text, rated_question, reopened
from ui.feedback import FeedbackLog, feedback_path
from ui.i18n import TEXTS, interface_language
from ui.viewer import cited_passage, document_view

TEXT = "一、总则\n甲段落。\n乙段落有106个。\n丙段落。\n丁段落。\n戊段落。"


def passages() -> list[Passage]:
    spans, at = [], 0
    for line in TEXT.split("\n"):
        spans.append(Span(at, at + len(line)))
        at += len(line) + 1
    return [Passage("d.txt", s, "d", ("一、总则",) if i else (), "") for i, s in enumerate(spans)]


def test_the_viewer_marks_the_cited_range_among_its_neighbours_in_order():
    ps = passages()
    start = TEXT.index("106个")
    html = document_view(TEXT, ps, "d.txt", start, start + 4, TEXTS["en"], around=2)
    assert '<p class="cited" id="cited">乙段落有<mark>106个</mark>。</p>' in html
    assert html.index("甲段落") < html.index("乙段落") < html.index("丙段落") < html.index("丁段落")
    assert "戊段落" not in html and html.count('class="neighbour"') == 4  # two either side
    assert '<p class="viewer-where">一、总则</p><p class="cited"' in html  # the cited passage under its place
    assert "<strong>d.txt</strong>" in html


def test_the_viewer_escapes_documents_and_says_when_one_is_gone():
    text = "<script>x</script>"
    html = document_view(text, [Passage("<b>.txt", Span(0, len(text)), "", (), "")], "<b>.txt", 0, 3, TEXTS["zh"])
    assert "<script" not in html and "<b>" not in html
    assert "<mark>&lt;sc</mark>ript&gt;x&lt;/script&gt;" in html and "&lt;b&gt;.txt" in html
    assert TEXTS["zh"].viewer_gone in document_view(None, [], "gone.txt", 0, 1, TEXTS["zh"])


def test_the_cited_passage_is_the_one_overlapping_most_else_the_nearest_before():
    ps = passages()
    assert cited_passage(ps, ps[2].span.start, ps[3].span.end - 1) in (2, 3)
    assert cited_passage(ps, ps[4].span.start + 1, ps[4].span.start + 2) == 4
    assert cited_passage(ps, ps[1].span.end, ps[1].span.end) == 1  # between two: the one before


def test_citation_targets_from_the_page_are_checked():
    assert cite_target('{"doc": "d.txt", "start": 3, "end": 9, "opened": 2}') == ("d.txt", 3, 9)
    for bad in ("", "x", "[]", '{"doc": 1, "start": 0, "end": 1}', '{"doc": "d", "start": 5, "end": 1}'):
        assert cite_target(bad) is None


def test_the_interface_language_comes_from_the_browser():
    assert interface_language("zh-CN") == "zh" and interface_language("zh-TW,en;q=0.8") == "zh"
    assert interface_language("en-US") == "en" and interface_language("fr") == "en" and interface_language(None) == "en"
    assert set(vars(TEXTS["zh"])) == set(vars(TEXTS["en"]))


def test_progress_says_which_file_is_embedded():
    docs = [Document("a.txt", "一句。二句。", "h1"), Document("b.txt", "三句。", "h2")]
    seen: list[Indexing] = []
    embedded = _per_file(docs, [1, 3], 3, seen.append)
    embedded(1, 3)
    embedded(2, 3)
    embedded(3, 3)
    assert [(s.file, s.name) for s in seen] == [(1, "a.txt"), (1, "a.txt"), (3, "b.txt")]
    embedded(5, 10)  # counts that do not add up: only the sentences are told
    assert seen[-1] == Indexing(0, 3, "", 5, 10)
    assert indexing_text(Indexing(2, 3, "b.txt"), TEXTS["en"]) == "reading file 2 of 3: b.txt"
    line = indexing_text(Indexing(3, 3, "b.txt", 3, 3), TEXTS["en"])
    assert line == "file 3 of 3: b.txt; 3 of 3 sentences embedded"
    assert "第 3 个文件（共 3 个）" in indexing_text(Indexing(3, 3, "b.txt", 3, 3), TEXTS["zh"])


def test_a_rating_is_kept_for_the_question_it_answered():
    history = [
        {"role": "user", "content": [{"type": "text", "text": "公布了多少个？"}]},
        {"role": "assistant", "content": "**106个**"},
        {"role": "user", "content": "那覆盖了多少个领域？"},
        {"role": "assistant", "content": "**14个**"},
    ]
    assert rated_question(history, 3) == ("那覆盖了多少个领域？", ["公布了多少个？"])
    assert rated_question(history, 1) == ("公布了多少个？", [])
    assert rated_question(history, 0) is None


QUOTE = Quote("r.txt", "二是", 17, 29, "推出106个不予处罚事项", 19, 23)
SOURCE = Source("r.txt", "二是", 10, 40, "动态调整清单,推出106个不予处罚事项,覆盖14个领域。", 0.9)


def test_feedback_lines_hold_the_question_answer_and_sources(tmp_path):
    log = FeedbackLog(tmp_path / "deep" / "feedback.jsonl")
    log.record(False, Answer("公布了多少个不予处罚事项？", True, "106个", QUOTE, (SOURCE,)), [], "zh")
    log.record(True, Answer("How many?", False, None, None, (SOURCE,), "x"), ["earlier"], "en")
    rows = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    assert [r["rating"] for r in rows] == ["down", "up"]
    assert rows[0]["answer"] == "106个" and rows[0]["quote"]["text"] == QUOTE.text
    assert rows[0]["sources"][0]["locator"] == "二是" and rows[1]["previous"] == ["earlier"]
    assert feedback_path(tmp_path) == tmp_path / "feedback.jsonl"


def test_thumbs_down_become_a_draft_set_to_fill_in(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    log.record(False, Answer("公布了多少个不予处罚事项？", True, "106个", QUOTE, (SOURCE,)), [], "zh")
    log.record(False, Answer("How many?", False, None, None, (SOURCE,), "x"), [], "en")
    log.record(True, Answer("How many?", False, None, None, (SOURCE,), "x"), [], "en")  # changed their mind
    log.record(True, Answer("Liked?", False, None, None, (), "x"), [], "en")
    items = draft_set(read_feedback(log.path))
    assert [(i["id"], i["question"], i["tags"]) for i in items] == [
        ("feedback-001", "公布了多少个不予处罚事项？", ["feedback", "zh"])
    ]
    assert items[0]["given"]["answer"] == "106个" and items[0]["given"]["sources"][0]["doc"] == "r.txt"
    draft = tmp_path / "draft.jsonl"
    draft.write_text(write_draft(items), encoding="utf-8")
    with pytest.raises(SetError, match="needs at least one answer"):
        load_set(draft)
    filled = {**items[0], "answers": ["106"]}
    draft.write_text(write_draft([filled]), encoding="utf-8")
    assert load_set(draft)[0].answers == ("106",)


def test_a_broken_feedback_file_is_named(tmp_path):
    bad = tmp_path / "feedback.jsonl"
    bad.write_text('{"question": "a"}\nnot json\n', encoding="utf-8")
    with pytest.raises(FeedbackError, match="feedback.jsonl:2"):
        read_feedback(bad)


def test_status_messages_follow_the_chinese_interface():
    from ui.app import READ_ONLY, REPLACE_HINT, in_language

    assert in_language("✓ notes.txt: 1,234 characters", "zh") == "✓ notes.txt：1,234 个字符"
    assert in_language("✓ replaced a: b.txt: 32 characters, was 5,131 characters", "zh") == (
        "✓ 已替换 a: b.txt：32 个字符，原为 5,131 个字符"
    )
    asks = f"⚠ r.txt is already indexed (5,131 characters): {REPLACE_HINT}"
    assert in_language(asks, "zh").startswith("⚠ r.txt 已在索引中（5,131 个字符）")
    assert in_language("✓ removed r.txt", "zh") == "✓ 已删除 r.txt"
    assert in_language(READ_ONLY, "zh").startswith("✗ 本服务器只读")
    assert in_language("✓ notes.txt: 1,234 characters", "en") == "✓ notes.txt: 1,234 characters"
    assert in_language("✗ odd.bin: not a text file", "zh") == "✗ odd.bin: not a text file"  # unknown: as it is


def test_the_feedback_file_stops_growing_at_its_limit(tmp_path):
    from ui.feedback import FeedbackFull

    log = FeedbackLog(tmp_path / "feedback.jsonl", max_bytes=2_000)
    answer = Answer("公布了多少个不予处罚事项？", True, "106个", QUOTE, (SOURCE,))
    with pytest.raises(FeedbackFull):
        for _ in range(100):
            log.record(False, answer, [], "zh")
    kept = log.path.read_text(encoding="utf-8").splitlines()
    assert 0 < len(kept) < 100 and log.path.stat().st_size <= 2_000
    assert all(json.loads(line)["rating"] == "down" for line in kept)  # whole lines only


def test_a_reload_reopens_the_open_conversation_or_the_one_saved_since_new():
    two = [["new"], ["old"]]
    assert reopened(two, {"open": 1}) == 1 and reopened(two, {"open": 2}) is None  # named; gone
    assert reopened(two, {"open": None}) is None  # after "clear": none
    # after "New conversation" with one saved: the one saved since is first, even before {"open": 0} is kept
    assert reopened(two, {"open": None, "saved": 1}) == 0
    assert reopened(two, {"open": None, "saved": 2}) is None  # nothing asked since
    assert reopened([["first"]], {"open": None, "saved": 0}) == 0 and reopened([], {"open": None, "saved": 0}) is None
    assert reopened(None, "junk") is None and reopened(two, {"open": True}) is None
