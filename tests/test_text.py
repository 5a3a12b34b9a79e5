"""Text helpers: Chinese numerals read as digits; jieba's dictionary loaded from its cache."""

from __future__ import annotations

import pytest

from qa.text import _jieba, _posseg, arabic_numerals, chinese_numeral_value, load_prefix_cache, tagged_words, word_tags


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("二十三岁", "23岁"),
        ("一百零五件", "105件"),
        ("两千零二十四年", "2024年"),
        ("一九八四年", "1984年"),
        ("第十一届", "第11届"),
        ("三十万户", "30万户"),
        ("一千二百", "1200"),
        ("一是", "一是"),  # a single character is a word as often as a number
        ("三四个", "三四个"),  # three or four: no one value
        ("十十", "十十"),
        ("百一", "百一"),
    ],
)
def test_chinese_numerals_become_digits_only_where_they_read_one_way(text, expected):
    assert arabic_numerals(text) == expected


def test_a_numeral_without_one_value_has_none():
    assert chinese_numeral_value("三四十") is None
    assert chinese_numeral_value("十五") == 15


def _fresh_tokenizer(tmp_dir=None):
    import jieba

    tokenizer = jieba.Tokenizer()
    tokenizer.tmp_dir = tmp_dir
    return tokenizer


def test_the_prefix_dictionary_read_from_jiebas_cache_is_the_one_jieba_loads():
    _jieba()  # writes jieba's cache where there is none yet
    ours, theirs = _fresh_tokenizer(), _fresh_tokenizer()
    assert load_prefix_cache(ours)
    theirs.initialize()
    assert ours.initialized and ours.total == theirs.total and ours.FREQ == theirs.FREQ
    text = "宁波市司法局公布了106个不予处罚事项，覆盖林业、地震、气象等14个领域。"
    assert ours.lcut(text) == theirs.lcut(text) and ours.lcut_for_search(text) == theirs.lcut_for_search(text)


def test_without_a_readable_cache_jieba_builds_the_dictionary_itself(tmp_path):
    empty = _fresh_tokenizer(str(tmp_path))
    assert not load_prefix_cache(empty) and not empty.initialized
    (tmp_path / "jieba.cache").write_bytes(b"\x00 not marshal data")
    broken = _fresh_tokenizer(str(tmp_path))
    assert not load_prefix_cache(broken) and not broken.initialized
    custom = _fresh_tokenizer()
    custom.dictionary = str(tmp_path / "dict.txt")  # another dictionary: never the default's cache
    assert not load_prefix_cache(custom)


def test_the_tag_table_read_at_once_is_the_one_jieba_reads_line_by_line():
    import jieba
    from jieba.posseg import POSTokenizer

    theirs = POSTokenizer.__new__(POSTokenizer)  # only its table: __init__ would read it again
    theirs.load_word_tag(jieba.dt.get_dict_file())
    with jieba.dt.get_dict_file() as f:
        assert word_tags(f) == theirs.word_tag_tab
    assert _posseg().dt.word_tag_tab == theirs.word_tag_tab
    assert tagged_words("宁波市司法局推出106个不予处罚事项") == tuple(
        (w.word, w.flag) for w in _posseg().POSTokenizer(jieba.dt).cut("宁波市司法局推出106个不予处罚事项")
    )


def test_a_file_not_of_word_frequency_tag_lines_is_no_tag_table():
    import io

    with pytest.raises(ValueError, match="not a jieba dictionary"):
        word_tags(io.BytesIO("宁波 12 ns\n司法局 nt\n".encode()))
    assert word_tags(io.BytesIO("宁波 12 ns\n司法局 3 nt\n".encode())) == {"宁波": "ns", "司法局": "nt"}


def test_one_line_puts_a_wrapped_paragraph_on_one_line() -> None:
    from qa.text import one_line

    assert one_line("172,000 to 1.6\nmillion") == "172,000 to 1.6 million"
    assert one_line("at  \n   5.8 million\n\nnext") == "at 5.8 million next"
    assert one_line("推出106个不予处罚事项") == "推出106个不予处罚事项"
