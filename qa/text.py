"""Text normalisation and Chinese-aware tokens for keyword search and question analysis."""

from __future__ import annotations

import importlib
import io
import logging
import marshal
import os
import re
import sys
import tempfile
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


def one_line(text: str) -> str:
    """``text`` with each line break (and the spaces around it) as one space: a hard-wrapped
    paragraph's answer or quote, shown on one line."""
    return re.sub(r"[ \t]*\n\s*", " ", text)


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
            if not load_prefix_cache(jieba.dt):
                jieba.initialize()  # builds the dictionary and writes the cache for next time
    return jieba


def load_prefix_cache(tokenizer) -> bool:
    """Load a jieba tokenizer's default dictionary from the cache file jieba itself writes, read in
    one piece: jieba's ``marshal.load`` on the open file reads it a few bytes at a time (1.5 s on
    2 cores against 0.4 s), the largest part of a fresh ``qa ask``. False, and the tokenizer left
    as it was, where it has another dictionary or no readable cache; then ``initialize`` does it."""
    if tokenizer.initialized or tokenizer.dictionary is not None or tokenizer.cache_file:
        return False
    path = os.path.join(tokenizer.tmp_dir or tempfile.gettempdir(), "jieba.cache")
    try:
        with open(path, "rb") as f:
            freq, total = marshal.loads(f.read())
    except (OSError, EOFError, ValueError, TypeError):
        return False
    if not isinstance(freq, dict) or not freq or not isinstance(total, int):
        return False
    tokenizer.FREQ, tokenizer.total, tokenizer.initialized = freq, total, True
    return True


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
    return tuple((w.word, w.flag) for w in _posseg().cut(text))


def _posseg():  # jieba.posseg, its tag table read in one piece
    jieba = _jieba()
    with _jieba_lock:
        if "jieba.posseg" not in sys.modules:
            # importing jieba.posseg builds its word → tag table from the dictionary line by line
            # (0.6–1.2 s); give that import an empty dictionary, then fill the table at once
            jieba.dt.get_dict_file = lambda: io.BytesIO()
            try:
                importlib.import_module("jieba.posseg")
            finally:
                del jieba.dt.get_dict_file
            posseg = sys.modules["jieba.posseg"]
            try:
                with jieba.dt.get_dict_file() as f:
                    posseg.dt.word_tag_tab = word_tags(f)
            except ValueError:  # not the dictionary this reads: jieba's own reading, or its own error
                posseg.dt.load_word_tag(jieba.dt.get_dict_file())
    return sys.modules["jieba.posseg"]


def word_tags(dictionary) -> dict[str, str]:
    """The word → part-of-speech table of a jieba dictionary file (lines of ``word freq tag``),
    as ``POSTokenizer.load_word_tag`` builds it; a file not of three fields a line is an error."""
    fields = dictionary.read().decode("utf-8").split()
    if len(fields) % 3 or not "".join(fields[1::3]).isdigit():
        raise ValueError("not a jieba dictionary: its lines are not all 'word frequency tag'")
    return dict(zip(fields[0::3], fields[2::3]))


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
