"""The gate before reading: the question's names and nouns that no document uses.

A question about a person, place or thing the documents never mention is refused before any
reader sees it; nouns (not names) that are missing are handed on, since a question may use other
words than the text.
"""

from __future__ import annotations

from collections.abc import Callable

from qa.index import CorpusIndex
from qa.question import Question, entity_words
from qa.text import cjk_ratio

_GLUED = set("不会也都就能要将曾已被把对从")  # characters jieba glues to the end of an unknown name


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
    that the documents use. jieba, whose dictionary is simplified Chinese, cuts traditional text so
    (國王安原王 → 王安, 耕者有其田屬於 → 田屬), and tags the pieces as names; a real name the
    documents never use (杭州市公布了…) has no such runs."""
    i = text.find(word)
    if i < 0 or cjk_ratio(word) < 1.0:
        return False
    j = i + len(word)

    def covered(k: int) -> bool:
        for a in range(max(0, k - MISSPLIT_REACH + 1), k + 1):
            for b in range(max(k + 1, a + 2), min(len(text), a + MISSPLIT_REACH) + 1):
                if (a < i or b > j) and corpus_has(text[a:b]):
                    return True
        return False

    return all(covered(k) for k in range(i, j))


def missing_words(index: CorpusIndex, q: Question, cross_lingual: bool) -> list[tuple[str, bool]]:
    """The question's nouns and names (with whether each is a name) that no document uses; of a
    question in another script than the documents', only the words written in theirs. A piece
    jieba cut across real words (``missplit``) is not a word of the question."""
    words = entity_words(q)
    if cross_lingual:
        script = 0.0 if q.cjk else 1.0
        words = [(w, name) for w, name in words if cjk_ratio(w) == script]
    missing = [(w, name) for w, name in words if not in_corpus(index, w)]
    return [(w, name) for w, name in missing if not missplit(q.norm, w, index.normalised_text.__contains__)]


def never_mentioned(missing: list[tuple[str, bool]]) -> str:
    """The reason for a refusal where the question's ``missing`` words occur in no document."""
    return "the documents never mention " + "、".join(w for w, _ in missing)
