"""Spans that read like answers: a model's span widened to whole words and whole quantities.

A reader scores sub-word tokens, so its span can stop inside an English word (``assign`` of
``assigned``), before a number's unit (``749`` of ``749 million``, ``106`` of ``106个``) or
after the ordinal marker of an article (``三十二`` of ``第三十二条``). These are properties of
writing, not of any document, so they are the same few patterns everywhere.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[0-9A-Za-z\u00C0-\u024F'’.,]")  # inside an English word or a number
_DIGIT = r"[0-9０-９〇零一二三四五六七八九十百千万亿两]"
_SCALE_EN = re.compile(r"\s?(?:%|percent\b|per cent\b|(?:thousand|million|billion|trillion)\b)", re.IGNORECASE)
_UNIT_ZH = re.compile(
    r"(?:多|余)?(?:[万亿千百]?(?:亿|万))?"
    r"(?:%|％|‰|平方公里|平方米|平方千米|千米|公里|公顷|千克|公斤|小时|分钟|个百分点|百分点|"
    r"美元|港元|欧元|元|人次|人|个工作日|工作日|个小时|个月|个|项|家|件|次|名|年|月|日|号|岁|米|吨|克|天|倍|户|所|座|台|辆|条|款|章|节|篇|"
    r"本|张|种|类|批|起|位|届|场|亩|层|辑|集|部|首|时|秒|周|代|世纪)"
)
_NUMBER_ZH = _DIGIT + r"(?:" + _DIGIT + r"|[.,．])*"
_QUANTITY = re.compile(r"(?P<number>" + _NUMBER_ZH + r")(?:" + _UNIT_ZH.pattern + r")?")  # 2倍, 106个, 3.5%
_QUANTITY_END = re.compile(_QUANTITY.pattern + r"$")
_OPEN_RANGE = re.compile(r"以上" + _NUMBER_ZH)  # a span that holds 2万元以上5万元 and stops before 以下
# the second bound of a range: 2倍|以上5倍以下, 8时|至24时, 3|～5年
_RANGE_ZH = re.compile(r"(?P<to>以上|(?:以上|以下)?(?:至|到|~|～|－|—|–|-))\s?(?P<bound>" + _NUMBER_ZH + r")")
_BOUND_END_ZH = re.compile(r"以下|以内")
_ORDINAL_ZH = re.compile(_DIGIT + r"+$")


# words that lead to a number in a sentence (在2012年, 达99.8%, 为3.5%) and almost never begin an
# answer: of the 3,842 short answers of CMRC and DRCD, 3 begin with one before a digit
_LEADS_TO_A_NUMBER = frozenset("在于於为為是达達有到由的了及和")
_ARABIC_DIGITS = frozenset("0123456789０１２３４５６７８９")
_SEPARATORS = "，、；：;:"  # they part what comes before them from what follows: never an answer's last character


def _opens_nothing(ch: str) -> bool:
    """Punctuation no answer starts with: a stop, comma or closing mark ends what came before it
    (。， 、；” 》), where quotes and opening brackets may begin the answer itself (“ 《 ")."""
    category = unicodedata.category(ch)
    return category in ("Pe", "Pf") or (category == "Po" and ch not in "\"'＂")


def _is_word_char(ch: str) -> bool:
    return bool(_WORD.match(ch))


def widen_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` grown to whole English words and numbers, a number's unit or scale
    (106个, 749 million, 3.5%), a Chinese range's second bound (2倍以上5倍以下, 8时至24时), and
    the 第 of an ordinal (第三十二条); trimmed of spaces and of punctuation at its edges."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    # whole words: never start or stop inside a run of Latin letters or digits
    while start > 0 and _is_word_char(text[start - 1]) and _is_word_char(text[start]):
        start -= 1
    while end < len(text) and _is_word_char(text[end]) and _is_word_char(text[end - 1]):
        end += 1
    while start < end and (text[start] in ".,'’" or _opens_nothing(text[start])):
        start += 1
    while end > start and text[end - 1] in ".,'’" + _SEPARATORS:
        end -= 1
    if end > start and re.match(_DIGIT, text[end - 1]):
        scale = _SCALE_EN.match(text, end) if text[end - 1].isascii() else None
        unit = scale or _UNIT_ZH.match(text, end)
        if unit:
            end = unit.end()
    else:
        end = _whole_unit(text, start, end)
    end = _range_end(text, start, end)
    if start > 0 and text[start - 1] == "第" and _ORDINAL_ZH.match(text[start:end].rstrip("条款章节项次届")):
        start -= 1
    return start, end


def _whole_unit(text: str, start: int, end: int) -> int:
    """Where a span that stops inside a number's unit ends: 20个 of 20个工作日, 3个 of 3个月."""
    quantity = _QUANTITY_END.search(text, start, end)
    if quantity is None:
        return end
    unit = _UNIT_ZH.match(text, quantity.end("number"))
    return max(end, unit.end()) if unit else end


def _range_end(text: str, start: int, end: int) -> int:
    """Where a span that ends in a quantity ends once the range it opens is taken whole: 2倍 of
    2倍以上5倍以下, 8时 of 8时至24时. Only a written Chinese range is taken: its connector is
    Chinese (以上, 至, 到, ～) or a bound has a Chinese unit; 1115–1234 and 3 to 5 stay as they are."""
    quantity = _QUANTITY_END.search(text, start, end)
    if quantity is None:
        return end
    first_unit = quantity.end("number") < end
    m = _RANGE_ZH.match(text, end)
    if m is None:
        close = _BOUND_END_ZH.match(text, end)
        return close.end() if close and _OPEN_RANGE.search(text, start, end) else end
    bound_end = m.end("bound")
    unit = _UNIT_ZH.match(text, bound_end)
    if unit and unit.end() > bound_end:
        bound_end = unit.end()
    elif not (first_unit or m.group("to")[0] in "以至到～"):
        return end
    close = _BOUND_END_ZH.match(text, bound_end)
    return close.end() if close else bound_end


def bare_quantity(text: str, start: int, end: int) -> tuple[int, int]:
    """A number with its unit as the whole answer, without the word that leads to it or the stop
    after it: 99.8% of 达99.8%。, 31459人 of 为31459人。; any other span as it is. For the answer
    shown, once a reader has chosen: the readers' own spans are what the hybrid's models were
    fitted on."""
    lead = end - start > 1 and text[start] in _LEADS_TO_A_NUMBER and text[start + 1] in _ARABIC_DIGITS
    inner_start = start + lead
    inner_end = end - (end - inner_start > 1 and text[end - 1] == "。")
    if _QUANTITY.fullmatch(text, inner_start, inner_end):
        return inner_start, inner_end
    return start, end
