"""Reading files into decoded text: encodings, binary refusal, HTML/DOCX/PDF, folder expansion."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest

from qa.documents import (
    MAX_FILE_BYTES,
    SUFFIXES,
    DocumentError,
    content_hash,
    decode_text,
    expand_paths,
    html_to_text,
    make_document,
    read_document,
)

CHINESE = "宁波市推出106个不予处罚事项。\n第二行:行政执法规范化。"


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF with ``text`` in Helvetica, built by hand with a correct xref table."""
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# --- text encodings -------------------------------------------------------------------------


def test_utf8_text(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "report.txt", CHINESE.encode("utf-8")))
    assert doc.name == "report.txt"
    assert doc.text == CHINESE
    assert doc.content_hash == content_hash(CHINESE)


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "bom.txt", CHINESE.encode("utf-8-sig")))
    assert doc.text == CHINESE
    assert "\ufeff" not in doc.text


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_gbk_chinese_is_decoded(tmp_path: Path, encoding: str) -> None:
    data = CHINESE.encode(encoding)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the test data really is not UTF-8
    doc = read_document(write(tmp_path / "gbk.txt", data))
    assert doc.text == CHINESE


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_bom(tmp_path: Path, encoding: str) -> None:
    data = CHINESE.encode(encoding)
    if encoding != "utf-16":  # the explicit-endian codecs write no BOM; add it by hand
        data = "\ufeff".encode(encoding) + data
    doc = read_document(write(tmp_path / "wide.txt", data))
    assert doc.text == CHINESE
    assert "\ufeff" not in doc.text


def test_crlf_and_lone_cr_become_lf(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "dos.txt", "第一行\r\n第二行\r第三行\r\n".encode()))
    assert doc.text == "第一行\n第二行\n第三行\n"
    assert "\r" not in doc.text


def test_decode_text_crlf_in_gbk() -> None:
    assert decode_text("甲\r\n乙".encode("gbk")) == "甲\n乙"


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [bytes(range(256)) * 20, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), bytes(range(1, 256)) * 20],
    ids=["all-bytes", "png-header", "no-nul-bytes"],
)
def test_binary_file_named_txt_is_refused(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path / "photo.txt", data)
    with pytest.raises(DocumentError, match=r"photo\.txt"):
        read_document(path)


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n  ", "\ufeff".encode("utf-8")], ids=["empty", "blank", "bom-only"])
def test_empty_or_blank_file_is_refused(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path / "empty.txt", data)
    with pytest.raises(DocumentError, match=r"empty\.txt.*no text"):
        read_document(path)


def test_missing_path_via_expand_paths(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.txt"
    with pytest.raises(DocumentError, match=r"nowhere\.txt.*no such file"):
        list(expand_paths([missing]))


def test_missing_file_via_read_document(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"gone\.txt"):
        read_document(tmp_path / "gone.txt")


@pytest.mark.parametrize("name", ["data.csv", "archive.zip", "README"])
def test_unsupported_suffix_is_refused(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, b"plain text")
    with pytest.raises(DocumentError, match="unsupported file type"):
        read_document(path)


def test_suffix_check_ignores_case(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "NOTES.TXT", "大写后缀。".encode()))
    assert doc.text == "大写后缀。"


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:  # sparse: no real disk use
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(DocumentError, match=r"huge\.txt.*byte limit"):
        read_document(path)


# --- HTML -----------------------------------------------------------------------------------


HTML = """<!doctype html>
<html><head><title>页面标题</title><style>body { color: red; }</style>
<script>var secret = "脚本内容";</script></head>
<body>
<h1>执法报告</h1>
<p>第一段 &amp; 正文。</p>
<script>alert(1)</script>
<style>.hidden { display: none }</style>
<noscript>请启用脚本</noscript>
<div>第二段<br>换行后</div>
</body></html>
"""


def test_html_keeps_visible_text_only(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "page.html", HTML.encode("utf-8")))
    assert doc.text.splitlines() == ["# 执法报告", "第一段 & 正文。", "第二段", "换行后"]
    for hidden in ("alert", "secret", "脚本内容", "color", "display", "请启用脚本", "页面标题"):
        assert hidden not in doc.text


def test_htm_in_gbk_is_decoded(tmp_path: Path) -> None:
    page = "<html><body><p>中文网页正文。</p></body></html>"
    doc = read_document(write(tmp_path / "old.htm", page.encode("gbk")))
    assert doc.text == "中文网页正文。"


def test_html_with_only_script_has_no_text(tmp_path: Path) -> None:
    path = write(tmp_path / "blank.html", b"<html><body><script>alert(1)</script></body></html>")
    with pytest.raises(DocumentError, match=r"blank\.html.*no text"):
        read_document(path)


def test_html_block_tags_break_lines_and_whitespace_collapses() -> None:
    assert html_to_text("<ul><li>甲</li><li>乙  丙\n</li></ul><h3>小节</h3>") == "甲\n乙 丙\n### 小节"


def test_html_table_cells_stay_apart() -> None:
    text = html_to_text("<table><tr><td>2023</td><td>106</td></tr></table>")
    assert "2023106" not in text
    assert "2023" in text and "106" in text


def test_html_without_closing_head_keeps_body() -> None:
    page = "<!doctype html><html><head><meta charset=utf-8><title>T</title><body><p>正文内容</p></body></html>"
    assert html_to_text(page) == "正文内容"


# --- DOCX -----------------------------------------------------------------------------------


def test_docx_heading_becomes_markdown(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("行政执法报告", level=1)
    document.add_paragraph("全市推出106个不予处罚事项。")
    document.add_heading("一、小节", level=2)
    document.add_paragraph("小节正文。")
    path = tmp_path / "report.docx"
    document.save(str(path))
    doc = read_document(path)
    lines = [line for line in doc.text.splitlines() if line]
    assert lines == ["# 行政执法报告", "全市推出106个不予处罚事项。", "## 一、小节", "小节正文。"]


def test_docx_table_rows_are_read(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("表格如下。")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([("年份", "事项数"), ("2024", "106")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    path = tmp_path / "table.docx"
    document.save(str(path))
    text = read_document(path).text
    assert "年份 | 事项数" in text
    assert "2024 | 106" in text


def test_docx_table_rows_stay_at_their_place_among_the_paragraphs(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("各城市门店情况如下。")
    table = document.add_table(rows=2, cols=3)
    for r, row in enumerate([("城市", "门店数", "员工数"), ("一线城市", "600", "120")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("以上数据截至年底。")
    path = tmp_path / "table.docx"
    document.save(str(path))
    lines = read_document(path).text.split("\n")
    assert lines == ["各城市门店情况如下。", "城市 | 门店数 | 员工数", "一线城市 | 600 | 120", "以上数据截至年底。"]


def test_corrupt_docx_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.docx", b"this is not a zip archive")
    with pytest.raises(DocumentError, match=r"broken\.docx.*cannot read DOCX"):
        read_document(path)


# --- PDF ------------------------------------------------------------------------------------


def test_small_pdf_text_is_extracted(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "hello.pdf", minimal_pdf("Hello PDF world")))
    assert doc.name == "hello.pdf"
    assert doc.text == "Hello PDF world\n\f"  # a form feed ends each page


def test_corrupt_pdf_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "scan.pdf", b"%PDF-1.4 garbage")
    with pytest.raises(DocumentError, match=r"scan\.pdf"):
        read_document(path)


# --- folders and hashes ---------------------------------------------------------------------


def test_expand_paths_folder_yields_supported_files_sorted(tmp_path: Path) -> None:
    for name in ["b.md", "a.txt", "c.csv", "image.png", "page.HTML", "notes"]:
        write(tmp_path / name, b"x")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "deep.docx", b"x")
    write(tmp_path / "sub" / "skip.json", b"{}")
    found = list(expand_paths([tmp_path]))
    assert found == sorted(found)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.txt", "b.md", "page.HTML", "sub/deep.docx"]
    assert all(p.suffix.lower() in SUFFIXES for p in found)


def test_expand_paths_passes_named_files_through_in_order(tmp_path: Path) -> None:
    second = write(tmp_path / "z.txt", b"x")
    first = write(tmp_path / "a.txt", b"x")
    folder = tmp_path / "folder"
    folder.mkdir()
    inner = write(folder / "m.md", b"x")
    assert list(expand_paths([second, str(first), folder])) == [second, first, inner]


def test_content_hash_is_stable_and_distinguishes_text() -> None:
    assert content_hash("行政执法") == content_hash("行政执法")
    assert content_hash("行政执法") != content_hash("行政执法。")
    assert len(content_hash("")) == 64
    assert make_document("a.txt", "甲").content_hash == content_hash("甲")


def test_same_text_in_different_encodings_has_same_hash(tmp_path: Path) -> None:
    utf8 = read_document(write(tmp_path / "u.txt", CHINESE.encode("utf-8")))
    gbk = read_document(write(tmp_path / "g.txt", CHINESE.replace("\n", "\r\n").encode("gbk")))
    assert utf8.content_hash == gbk.content_hash
