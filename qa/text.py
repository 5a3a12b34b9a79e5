"""Text normalisation and Chinese-aware tokens for keyword search and question analysis."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from functools import lru_cache

_jieba_lock = threading.Lock()

# The English words of QUESTION_WORDS: they say what is asked, not what about.
ENGLISH_QUESTION_WORDS = frozenset(
    """how many much what which when where who whom whose why is are was were do does did the a an of in on at to
    for by with from and or as be been has have had this that these those it its there their they he she his her
    about into than then so please tell me total number amount""".split()
)
# Words that say what is asked, not what about: dropped from keyword queries and coverage checks.
QUESTION_WORDS = ENGLISH_QUESTION_WORDS | frozenset(
    """多少 几 几个 几次 几年 哪 哪个 哪些 哪里 哪儿 哪一 哪一天 哪一年 哪年 哪天 哪位 哪家 哪种 哪项 什么 什么样
    什么时候 几点 几时 何时 何地 何处 何人 为何 为什么 怎么 怎样 如何 是否 是不是 谁 是谁 吗 呢 么 啥 请问 请 多大 多久
    多长 多高 多远 多重 几何 多长时间 多少时间""".split()
)
# English verbs that say nothing of what a question is about (what was made, how many got…): no search terms.
LIGHT_VERBS = frozenset("made get got".split())
# English words that name no thing a document would speak of: never translated into the documents'
# words nor taken for what a question asks for (crosslingual.py) — the question words, light verbs,
# and words of quantity, measure and time.
ENGLISH_STOP_WORDS = (
    ENGLISH_QUESTION_WORDS
    | LIGHT_VERBS
    | frozenset(
        """being make take took give given any all each every some more most other such only also very can could
        would should will shall may might must one two per cent percent percentage rate ratio proportion share kind
        kinds type types year years day days time times month months last next during since until after before over
        under up down out off again same new old""".split()
    )
)
# Chinese function words: no keyword search term.
STOP_WORDS = frozenset(
    """的 了 是 在 和 与 及 等 对 把 被 将 又 也 就 都 而 及其 以及 或 之 其 该 这 那 这个 那个 这份 那份 这些 那些
    有 有关 关于 为 以 于 从 由 向 到 至 中 上 下 内 个 共 已 已经 还 并 所 得 着 过 来 去 要 会 可""".split()
)


def normalise(text: str) -> str:
    """NFKC, lower case: the form in which tokens and answers are compared."""
    return unicodedata.normalize("NFKC", text).lower()


def normalise_aligned(text: str) -> str:
    """``normalise`` character by character, keeping one character for each, so that offsets into
    the result are offsets into ``text``."""
    out = []
    for ch in text:
        folded = unicodedata.normalize("NFKC", ch).lower()
        out.append(folded if len(folded) == 1 else ch.lower()[:1] or ch)
    return "".join(out)


def _jieba():  # jieba has no stubs
    import jieba

    with _jieba_lock:
        if not jieba.dt.initialized:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
    return jieba


_TOKEN_OK = re.compile(r"[\w%]", re.UNICODE)


def _keep(token: str) -> bool:
    return bool(token.strip()) and bool(_TOKEN_OK.search(token)) and token not in STOP_WORDS


def tokens(text: str) -> list[str]:
    """Search-mode jieba tokens of ``text``, normalised, without spaces, punctuation or stop words."""
    return [t for t in _jieba().cut_for_search(normalise(text)) if _keep(t)]


def query_tokens(text: str) -> list[str]:
    """``tokens`` without the question words (多少, 什么, which…)."""
    return [t for t in tokens(text) if t not in QUESTION_WORDS]


@lru_cache(maxsize=4096)
def tagged_words(text: str) -> tuple[tuple[str, str], ...]:
    """(word, part-of-speech) pairs of a (normalised) text; the words join back into it."""
    _jieba()
    import jieba.posseg

    return tuple((w.word, w.flag) for w in jieba.posseg.cut(text))


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff"


def cjk_ratio(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    return sum(is_cjk(ch) for ch in letters) / len(letters) if letters else 0.0


_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}
_CN_NUMERAL = re.compile(r"[零〇一二两三四五六七八九十百千]{2,}")


def chinese_numeral_value(numeral: str) -> int | None:
    """The value of a Chinese numeral written with 十/百/千 (二十三 → 23, 一百零五 → 105) or digit
    by digit as years are (一九八四 → 1984); None for anything else (三四, 一一)."""
    if numeral[0] in "百千":
        return None
    if not any(ch in _CN_UNIT for ch in numeral):
        if len(numeral) == 4 and all(ch in _CN_DIGIT for ch in numeral):
            return int("".join(str(_CN_DIGIT[ch]) for ch in numeral))
        return None
    total, digit, last_unit = 0, None, 10_000
    for ch in numeral:
        if ch in _CN_DIGIT:
            if digit is not None and _CN_DIGIT[ch] != 0:
                return None  # two digits in a row: 三四十
            digit = _CN_DIGIT[ch] or None
        else:
            unit = _CN_UNIT[ch]
            if unit >= last_unit:
                return None
            total += (digit if digit is not None else 1) * unit
            digit, last_unit = None, unit
    return total + (digit or 0)


def arabic_numerals(text: str) -> str:
    """``text`` with its Chinese numerals written in digits where they read unambiguously
    (二十三岁 → 23岁), so that a question in one form finds a sentence in the other."""

    def digits(match: re.Match[str]) -> str:
        value = chinese_numeral_value(match.group())
        return match.group() if value is None else str(value)

    return _CN_NUMERAL.sub(digits, text)
