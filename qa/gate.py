"""The gate before reading: the question's names and nouns that no document uses.

A question about a person, place or thing the documents never mention is refused before any
reader sees it; nouns (not names) that are missing are handed on, since a question may use other
words than the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from qa.crosslingual import english_glosses
from qa.index import CorpusIndex
from qa.question import Question, entity_words
from qa.text import cjk_ratio

_GLUED = set("不会也都就能要将曾已被把对从")  # characters jieba glues to the end of an unknown name
# function characters jieba glues to either side of a name it does not know, most of all in
# traditional text (卡特|曾於|1946, 現今|於曼|徹斯特, 宋理宗|於寶慶|三年): no part of a name
_FUNCTION = _GLUED | set("於于在由從與与和及對將向為为是")


def in_corpus(index: CorpusIndex, word: str) -> bool:
    """The documents use ``word`` — or, where jieba glued a function character to a name
    (锦地罗不需要, 呋塞米会导致), the word without it."""
    forms = [word, word[:-1]] if len(word) >= 3 and word[-1] in _GLUED else [word]
    return any(form in index.keywords or form in index.normalised_text for form in forms)


MIN_SCRIPT_SHARE = 0.1  # a script a tenth of the documents are written in is one the corpus speaks
SCRIPT_SAMPLE = 200  # documents looked at, evenly spread


def corpus_scripts(index: CorpusIndex) -> frozenset[bool]:
    """The scripts the documents are written in (True: Chinese, False: Latin): those of at least
    ``MIN_SCRIPT_SHARE`` of them, judged on each one's start. A store of Chinese and English
    documents speaks both, and an English question over it is not a cross-lingual one."""
    docs = index.documents
    if not docs:
        return frozenset()
    sample = docs[:: max(1, len(docs) // SCRIPT_SAMPLE)]
    chinese = sum(cjk_ratio(d.text[:2000]) >= 0.5 for d in sample)
    shares = {True: chinese / len(sample), False: 1 - chinese / len(sample)}
    return frozenset(script for script, share in shares.items() if share >= MIN_SCRIPT_SHARE)


def cross_lingual(q: Question, scripts: frozenset[bool]) -> bool:
    """Whether ``q`` is written in a script the documents (``corpus_scripts``) do not speak."""
    return bool(scripts) and q.cjk not in scripts


MISSPLIT_REACH = 6  # the longest run of the question's characters looked up around a missing word


def missplit(text: str, word: str, corpus_has: Callable[[str], bool]) -> bool:
    """Whether ``word`` is a piece jieba cut across the question's real words: each of its
    characters lies in a run of the question's characters (two or more, reaching beyond ``word``)
    that the documents use, or is a function character (於, 曾, 在 …) glued to it. jieba, whose
    dictionary is simplified Chinese, cuts traditional text so (國王安原王 → 王安, 耕者有其田屬於 →
    田屬, 卡特曾於1946年 → 曾於), and tags the pieces as names; a real name the documents never use
    (杭州市公布了…) has no such runs."""
    i = text.find(word)
    if i < 0 or cjk_ratio(word) < 1.0:
        return False
    j = i + len(word)

    def covered(k: int) -> bool:
        if text[k] in _FUNCTION:
            return True
        for a in range(max(0, k - MISSPLIT_REACH + 1), k + 1):
            for b in range(max(k + 1, a + 2), min(len(text), a + MISSPLIT_REACH) + 1):
                if (a < i or b > j) and corpus_has(text[a:b]):
                    return True
        return False

    return all(covered(k) for k in range(i, j))


def glossed_in_english(index: CorpusIndex, word: str) -> bool:
    """Whether English documents may speak of the Chinese ``word``: one of its English glosses in
    CC-CEDICT (美国 → united, states, us, usa) is a word of the documents, an abbreviation also
    written with stops (U.S.)."""
    for gloss in english_glosses(word):
        if gloss in index.keywords:
            return True
        if len(gloss) <= 3 and re.search(r"(?<![a-z])" + r"\.".join(gloss) + r"\.(?![a-z])", index.normalised_text):
            return True
    return False


def missing_words(
    index: CorpusIndex, q: Question, cross_lingual: bool, also_english: bool = False
) -> list[tuple[str, bool]]:
    """The question's nouns and names (with whether each is a name) that no document uses; of a
    question in another script than the documents', only the words written in theirs. A piece
    jieba cut across real words (``missplit``) is not a word of the question. ``also_english``: some
    of the documents are English, so that a Chinese word they do not use may still be spoken of in
    them (``glossed_in_english``) and is no missing name."""
    words = entity_words(q)
    if cross_lingual:
        script = 0.0 if q.cjk else 1.0
        words = [(w, name) for w, name in words if cjk_ratio(w) == script]
    missing = [(w, name) for w, name in words if not in_corpus(index, w)]
    missing = [(w, name) for w, name in missing if not missplit(q.norm, w, index.normalised_text.__contains__)]
    if also_english:  # names only: a noun missing from the Chinese documents stays a sign that they do not say
        missing = [
            (w, name) for w, name in missing if not (name and cjk_ratio(w) == 1.0 and glossed_in_english(index, w))
        ]
    return missing


def never_mentioned(missing: list[tuple[str, bool]]) -> str:
    """The reason for a refusal where the question's ``missing`` words occur in no document."""
    return "the documents never mention " + "、".join(w for w, _ in missing)
