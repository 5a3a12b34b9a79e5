"""Uploading and removing documents behind the chat (the real encoder and index)."""

from __future__ import annotations

from qa.assistant import Assistant
from ui.app import Library, safe_name


def test_safe_names():
    assert safe_name("../../x.txt") == "x.txt"
    assert safe_name("..\\\\evil\\\\a.md") == "a.md"
    assert safe_name("a\x00b\x07.txt") == "ab.txt"
    assert safe_name("") == "document.txt"


def test_upload_ask_remove_and_persist(report_assistant, tmp_path):
    store = tmp_path / "store"
    library = Library(report_assistant, store)
    good = tmp_path / "notes.txt"
    good.write_text("宁波市今年新建口袋公园45个。", encoding="utf-8")
    binary = tmp_path / "photo.txt"
    binary.write_bytes(bytes(range(256)) * 10)
    messages = library.add([("notes.txt", good), ("../../photo.txt", binary)])
    assert messages[0].startswith("✓ notes.txt") and messages[1].startswith("✗ photo.txt")
    assert [row[0] for row in library.documents()] == ["ningbo-enforcement-report.txt", "notes.txt"]
    assert library.ask("新建了多少个口袋公园？").answer == "45个"
    assert Assistant.load(store).ask("新建了多少个口袋公园？").answer == "45个"  # persisted
    assert library.remove("notes.txt") == "✓ removed notes.txt"
    assert not library.ask("新建了多少个口袋公园？").found
    assert [d.name for d in Assistant.load(store).index.documents] == ["ningbo-enforcement-report.txt"]
    assert library.remove("ningbo-enforcement-report.txt").startswith("✗ the last document")


def test_a_failed_upload_changes_nothing(report_assistant, tmp_path):
    library = Library(report_assistant, None)
    empty = tmp_path / "empty.md"
    empty.write_text("")
    before = library.assistant
    assert library.add([("empty.md", empty)])[0].startswith("✗ empty.md")
    assert library.assistant is before


def test_previous_questions_from_the_api_and_from_the_page():
    from ui.app import _previous_questions, _shown_as_typed

    api = [{"role": "user", "content": "<b>公布了</b>？"}, {"role": "assistant", "content": "**106个**"}]
    shown = _shown_as_typed(api[0])
    assert shown["content"] == "&lt;b&gt;公布了&lt;/b&gt;？" and _shown_as_typed(api[1]) is api[1]
    page = [{"role": "user", "content": [{"type": "text", "text": shown["content"]}]}, api[1]]
    assert _previous_questions(api) == _previous_questions(page) == ["<b>公布了</b>？"]
