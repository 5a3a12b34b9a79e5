"""Upload names (issue 14, row 11): invisible and format characters are removed, and an upload that
would replace an indexed document asks first. An upload of ``\\u200bningbo-enforcement-report.txt``
silently replaced the 5,131-character report with a 32-character file, and 106 was no longer
answered."""

from __future__ import annotations

import pytest

from tests.test_app_api import free_port
from ui.app import ASKS_TO_REPLACE, Library, safe_name

QUESTION, ANSWER = "公布了多少个不予处罚事项？", "106个"
REPORT = "ningbo-enforcement-report.txt"
SHORT = "宁波市今年新建口袋公园45个。全市共有公园三百余座，均免费开放。"  # 32 characters


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("\u200bningbo-enforcement-report.txt", REPORT),  # zero-width space (Cf)
        ("\ufeffa\u2060b\u00adc\u200d.txt", "abc.txt"),  # BOM, word joiner, soft hyphen, zero-width joiner
        ("a\u00a0b\u3000c\u2009d\u202f.txt", "abcd.txt"),  # no-break, ideographic, thin spaces (Zs)
        ("a\u2028b\u2029.txt", "ab.txt"),  # line and paragraph separators (Zl, Zp)
        ("\u3164\u115fx\u034f.txt", "x.txt"),  # Hangul fillers, combining grapheme joiner: letters of nothing
        ("annual report 2024.txt", "annual report 2024.txt"),  # the plain space stays
        ("\u200b\u00a0", "document.txt"),
    ],
)
def test_invisible_and_format_characters_are_removed_from_names(name, safe):
    assert safe_name(name) == safe


def write_short(tmp_path, name: str = "upload.txt"):
    path = tmp_path / name
    path.write_text(SHORT, encoding="utf-8")
    assert len(SHORT) == 32
    return path


def test_replacing_a_document_asks_first_and_says_what_it_replaced(report_assistant, tmp_path):
    library = Library(report_assistant, tmp_path / "store")
    upload = write_short(tmp_path)
    before = library.assistant
    asked = library.add([("\u200bningbo-enforcement-report.txt", upload)])
    assert asked == [
        f"{ASKS_TO_REPLACE} {REPORT} is already indexed (5,131 characters): nothing was changed; "
        "press Replace to replace it, or choose another file"
    ]
    assert library.assistant is before and library.ask(QUESTION).answer == ANSWER
    assert library.add([(REPORT, upload)], replace=True) == [
        f"✓ replaced {REPORT}: 32 characters, was 5,131 characters"
    ]
    assert library.sizes() == {REPORT: 32}


def test_new_names_need_no_confirmation_and_a_batch_cannot_name_one_document_twice(report_assistant, tmp_path):
    library = Library(report_assistant, None)
    upload = write_short(tmp_path)
    messages = library.add([("parks.txt", upload), ("parks\u200b.txt", upload)])
    assert messages == ["✓ parks.txt: 32 characters", "✗ parks.txt: another file of this upload has the same name"]
    assert sorted(library.sizes()) == [REPORT, "parks.txt"]


def test_the_page_asks_before_replacing_through_upload_and_replaces_through_replace(report_assistant, tmp_path):
    from gradio_client import Client, handle_file

    from ui.app import serve

    library = Library(report_assistant, tmp_path / "store")
    port = free_port()
    demo = serve(library, port=port, block=False)
    try:
        client = Client(f"http://127.0.0.1:{port}/", analytics_enabled=False, verbose=False)
        (tmp_path / "upload").mkdir()
        upload = write_short(tmp_path / "upload", REPORT)
        status, table, _ = client.predict([handle_file(str(upload))], api_name="/upload")
        assert status.startswith(f"{ASKS_TO_REPLACE} ningbo-enforcement-report.txt is already indexed (5,131")
        assert table["data"] == [[REPORT, 5131, table["data"][0][2]]]
        assert client.predict(QUESTION, 3, api_name="/ask")["answer"] == ANSWER
        status, table, _ = client.predict([handle_file(str(upload))], api_name="/replace")
        assert status == "✓ replaced ningbo-enforcement-report.txt: 32 characters, was 5,131 characters"
        assert table["data"][0][:2] == [REPORT, 32]
        assert client.predict(QUESTION, 3, api_name="/ask")["found"] is False
    finally:
        demo.close()
