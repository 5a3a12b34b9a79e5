"""Text helpers: Chinese numerals read as digits."""

from __future__ import annotations

import pytest

from qa.text import arabic_numerals, chinese_numeral_value


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
