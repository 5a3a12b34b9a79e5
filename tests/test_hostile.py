"""Hostile uploads and questions: each gets a clear one-line message, the server keeps answering, and
the index changes only for a valid upload."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

import httpx
import pytest

from qa.assistant import QuestionError
from tests.test_app_api import serving
from ui.app import Library
from ui.render import render_answer

QUESTION, ANSWER = "公布了多少个不予处罚事项？", "106个"
REPORT = "ningbo-enforcement-report.txt"
PAYLOADS = ["<script>alert(1)</script>", '<img src=x onerror="window.__pwned=1">']
SCRIPTED_HTML = (
    "<html><head><script>window.__pwned = 'head'</script></head><body>"
    "<p>宁波市今年新建口袋公园45个。&lt;img src=x onerror=alert(1)&gt;</p>"
    "<script>document.write('secret-from-script')</script><img src=x onerror=\"alert('attr')\">"
    "<style>p { color: red }</style></body></html>"
)


def zip_bomb(path: Path, members: int = 20, member_bytes: int = 64 << 20) -> Path:
    """A 1.3 MB ``.docx`` that unpacks to 1.3 GB: one deflated run of zeros stored ``members`` times."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = compressor.compress(bytes(member_bytes)) + compressor.flush()
    crc = zlib.crc32(bytes(member_bytes))
    local, central = bytearray(), bytearray()
    for i in range(members):
        name = f"word/part{i}.xml".encode()
        header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), member_bytes, len(name), 0)
        central += struct.pack(
            "<4s6H3L5HL", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(data), member_bytes, len(name), 0, 0, 0, 0, 0
        )
        central += struct.pack("<L", len(local)) + name
        local += header + name + data
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, members, members, len(central), len(local), 0)
    path.write_bytes(bytes(local + central + end))
    return path


def malformed_pdfs(folder: Path) -> list[Path]:
    pages_cycle = (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [2 0 R] /Count 1 >> endobj\nxref\n0 3\nGARBAGE\n"
        b"trailer << /Root 1 0 R /Size 3 >>\nstartxref\n9999\n%%EOF"
    )
    lying_stream = (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R >> endobj\n"
        b"4 0 obj << /Length 999999 >> stream\nBT (hello) Tj ET\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF"
    )
    files = {"cycle.pdf": pages_cycle, "stream.pdf": lying_stream, "noise.pdf": b"%PDF-1.7\n" + bytes(range(256)) * 64}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files]


@pytest.fixture
def library(report_assistant, tmp_path) -> Library:
    return Library(report_assistant, tmp_path / "store")


def assert_unchanged(library: Library, before) -> None:  # the Assistant before
    assert library.assistant is before
    assert library.ask(QUESTION).answer == ANSWER


# ---- uploads -------------------------------------------------------------------------------------


def test_file_names_cannot_climb_out_or_carry_control_characters(library, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("宁波市今年新建口袋公园45个。", encoding="utf-8")
    names = ["../../x.txt", "..\\..\\y.txt", "a\x00b\x1b[31m\u202ec.txt", "/etc/passwd.txt"]
    messages = library.add([(name, notes) for name in names])
    assert [m.split(":")[0] for m in messages] == ["✓ x.txt", "✓ y.txt", "✓ ab[31mc.txt", "✓ passwd.txt"]
    assert sorted(d.name for d in library.assistant.index.documents) == sorted(
        [REPORT, "x.txt", "y.txt", "ab[31mc.txt", "passwd.txt"]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "store"]  # nothing written elsewhere


def test_a_200_mb_file_is_refused_by_its_size(library, tmp_path):
    big = tmp_path / "big.txt"
    with big.open("wb") as f:
        f.truncate(200 * 2**20)  # sparse: costs no disk
    before = library.assistant
    assert library.add([("big.txt", big)]) == ["✗ big.txt: 200 MB is over the 50 MB limit"]
    assert_unchanged(library, before)


def test_a_zip_bomb_named_docx_is_refused_without_unpacking(library, tmp_path):
    bomb = zip_bomb(tmp_path / "report.docx")
    assert bomb.stat().st_size < 2 * 2**20
    before, started = library.assistant, time.perf_counter()
    [message] = library.add([("report.docx", bomb)])
    assert message.startswith("✗ report.docx: unpacks to 1342177280 bytes; refusing a zip bomb")
    assert time.perf_counter() - started < 5
    assert_unchanged(library, before)


def test_malformed_pdfs_are_refused(library, tmp_path):
    before = library.assistant
    messages = library.add([(p.name, p) for p in malformed_pdfs(tmp_path)])
    assert [m.split(": ")[0] for m in messages] == ["✗ cycle.pdf", "✗ stream.pdf", "✗ noise.pdf"]
    assert all("cannot read PDF" in m for m in messages) and all("\n" not in m for m in messages)
    assert_unchanged(library, before)


def test_html_scripts_are_dropped_and_markup_is_stored_as_text(library, tmp_path):
    page = tmp_path / "page.html"
    page.write_text(SCRIPTED_HTML, encoding="utf-8")
    assert library.add([("page.html", page)])[0].startswith("✓ page.html")
    text = library.assistant.index.texts["page.html"].text
    assert text == "宁波市今年新建口袋公园45个。<img src=x onerror=alert(1)>"  # the escaped markup, as text
    index = library.assistant.index
    assert "secret" not in index.normalised_text and "secret" not in index.keywords  # scripts are not text
    answer = library.ask("今年新建了多少个口袋公园？")
    assert answer.answer == "45个" and answer.quote.doc == "page.html"
    shown = render_answer(answer)
    assert "<img" not in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("quotes.md", "> " * 10_000 + "宁波市今年新建口袋公园45个。\n"),
        ("lists.md", "".join("  " * i + "- 项\n" for i in range(300)) + "宁波市今年新建口袋公园45个。\n"),
        ("brackets.md", "[" * 3000 + "宁波市今年新建口袋公园45个。" + "]" * 3000 + "\n" + "*" * 3000),
    ],
)
def test_deeply_nested_markdown_is_indexed_as_text(library, tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    assert library.add([(name, path)])[0].startswith(f"✓ {name}")
    assert time.perf_counter() - started < 60
    assert library.ask("今年新建了多少个口袋公园？").answer == "45个"


def test_a_file_with_no_words_changes_nothing(library, tmp_path):
    before = library.assistant
    dots = tmp_path / "dots.txt"
    dots.write_text("。。。 …… \u3000", encoding="utf-8")
    assert library.add([("dots.txt", dots)]) == ["✗ dots.txt: the document holds no text"]
    assert_unchanged(library, before)


# ---- questions -----------------------------------------------------------------------------------

UNASKABLE = [  # (question, what the message says)
    ("x" * 100_000, "100000 characters long"),
    ("？？？！！！……。。。", "no words"),
    ("!!! ... ???", "no words"),
    ("😀🎉🔥👍", "no words"),
    ("كم عدد المخالفات التي لا يعاقب عليها؟", "another script"),
    ("כמה פריטים פורסמו?", "another script"),
]
ANSWERED_OR_REFUSED = [
    "'; DROP TABLE documents; --",
    "1' OR '1'='1",
    *PAYLOADS,
    f"{QUESTION}{PAYLOADS[1]}",
    "\u202e公布了多少个不予处罚事项？",  # a right-to-left override: a control character, dropped
]
_NONSENSE = "known weakness: a question of symbols and SQL words the report does not answer gets an answer"
ANSWERS = [  # (question, the report's answer to it; None: it has none, refused)
    pytest.param(ANSWERED_OR_REFUSED[0], None, marks=pytest.mark.xfail(strict=True, reason=_NONSENSE)),
    pytest.param(ANSWERED_OR_REFUSED[1], None, marks=pytest.mark.xfail(strict=True, reason=_NONSENSE)),
    (PAYLOADS[0], None),  # alert, window, onerror: words the report never uses
    (PAYLOADS[1], None),
    (f"{QUESTION}{PAYLOADS[1]}", None),
    ("\u202e公布了多少个不予处罚事项？", ANSWER),
]


@pytest.mark.parametrize(("question", "says"), UNASKABLE)
def test_unaskable_questions_get_a_clear_message(library, question, says):
    with pytest.raises(QuestionError, match=says) as raised:
        library.ask(question)
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 120


@pytest.mark.parametrize("question", ANSWERED_OR_REFUSED)
def test_injection_looking_questions_are_plain_text(library, question):
    answer = library.ask(question)  # no database, no template, no shell: only text to search
    shown = render_answer(answer)
    assert "<script" not in shown and "<img" not in shown
    assert library.ask(QUESTION).answer == ANSWER


@pytest.mark.parametrize(("question", "expected"), ANSWERS)
def test_injection_looking_questions_get_the_reports_answer_or_a_refusal(library, question, expected):
    assert library.ask(question).answer == expected


def test_a_markup_question_is_refused_for_what_it_names(library):
    for payload in PAYLOADS:
        answer = library.ask(payload)
        assert not answer.found and answer.reason


# ---- the same through the server -----------------------------------------------------------------


@pytest.fixture(scope="module")
def server(report_assistant, tmp_path_factory):
    from gradio_client import Client

    library = Library(report_assistant, tmp_path_factory.mktemp("hostile") / "store")
    with serving(library) as url:
        yield url.rstrip("/"), Client(url, analytics_enabled=False, verbose=False), library


def test_hostile_questions_through_the_api_get_messages_and_the_server_keeps_answering(server):
    _, client, library = server
    for question, says in UNASKABLE:
        record = client.predict(question, 3, api_name="/ask")
        assert record["found"] is False and says in record["error"]
        reply = client.predict(question, 3, api_name="/chat")
        assert reply.startswith("⚠️") and says in reply
    for question in ANSWERED_OR_REFUSED:  # what the assistant itself answers, as data
        assert client.predict(question, 3, api_name="/ask")["answer"] == library.ask(question).answer
        reply = client.predict(question, 3, api_name="/chat")
        assert "<script" not in reply and "<img" not in reply
    for sources in (-5, 0, 10**9, "many"):
        record = client.predict(QUESTION, sources, api_name="/ask")
        assert record["answer"] == ANSWER and 1 <= len(record["sources"]) <= 10
    assert client.predict(None, 3, api_name="/ask")["error"] == "the question must be text"


def test_hostile_uploads_through_the_api_leave_the_index_as_it_was(server, tmp_path):
    from gradio_client import handle_file

    _, client, library = server
    before = library.assistant
    files = [zip_bomb(tmp_path / "bomb.docx"), *malformed_pdfs(tmp_path)]
    status, table, _ = client.predict([handle_file(str(f)) for f in files], api_name="/upload")
    assert [line.split(":")[0] for line in status.split("\n\n")] == [f"✗ {f.name}" for f in files]
    assert [row[0] for row in table["data"]] == [REPORT]
    assert library.assistant is before
    assert client.predict(QUESTION, 3, api_name="/ask")["answer"] == ANSWER


def test_an_upload_name_with_control_characters_is_cleaned_through_the_api(server, tmp_path):
    from gradio_client import handle_file

    _, client, library = server
    odd = tmp_path / "a\x1b[31mb\u202e.txt"
    odd.write_text("宁波市今年新建口袋公园45个。", encoding="utf-8")
    status, table, _ = client.predict([handle_file(str(odd))], api_name="/upload")
    assert status.startswith("✓ a\\[31mb.txt") and "a[31mb.txt" in [row[0] for row in table["data"]]
    assert client.predict("a[31mb.txt", api_name="/remove")[0] == "✓ removed a\\[31mb.txt"


def test_the_server_cuts_off_a_200_mb_upload_and_keeps_a_traversing_name_in_its_folder(server, tmp_path):
    url, client, _ = server
    big = tmp_path / "big.txt"
    with big.open("wb") as f:
        f.truncate(200 * 2**20)
    with big.open("rb") as f:
        response = httpx.post(url + "/gradio_api/upload", files={"files": ("big.txt", f)}, timeout=120)
    assert response.status_code == 413 and "maximum allowed size of 52428800 bytes" in response.text
    response = httpx.post(url + "/gradio_api/upload", files={"files": ("../../evil.txt", b"x")})
    [stored] = response.json()
    assert Path(stored).name == "evil.txt" and ".." not in Path(stored).parts
    assert not (Path(stored).parents[2] / "evil.txt").exists()
    assert client.predict(QUESTION, 3, api_name="/ask")["answer"] == ANSWER


def test_an_unaskable_question_is_no_follow_up_and_gives_no_context(library):
    with pytest.raises(QuestionError, match="no words"):
        library.ask("？？？", previous=[QUESTION])  # not asked as 「不予处罚事项，？？？」
    assert library.ask("那覆盖了多少个领域？", previous=[QUESTION, "x" * 100_000]).answer == "14个"


def test_the_number_of_sources_is_kept_between_1_and_10():
    from ui.app import source_count

    assert [source_count(v) for v in (-5, 0, 4.7, 10**9, float("nan"), float("inf"), "x", None)] == [
        1,
        1,
        4,
        10,
        3,
        3,
        3,
        3,
    ]
