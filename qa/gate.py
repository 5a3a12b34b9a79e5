"""The gate before reading: the question's names and nouns that no document uses.

A question about a person, place or thing the documents never mention is refused before any
reader sees it; nouns (not names) that are missing are handed on, since a question may use other
words than the text.
"""

from __future__ import annotations

from qa.index import CorpusIndex
from qa.question import Question, entity_words
from qa.text import cjk_ratio

_GLUED = set("不会也都就能要将曾已被把对从")  # characters jieba glues to the end of an unknown name


def in_corpus(index: CorpusIndex, word: str) -> bool:
    """The documents use ``word`` — or, where jieba glued a function character to a name
    (锦地罗不需要, 呋塞米会导致), the word without it."""
    forms = [word, word[:-1]] if len(word) >= 3 and word[-1] in _GLUED else [word]
    return any(form in index.keywords or form in index.normalised_text for form in forms)


def corpus_is_cjk(index: CorpusIndex) -> bool:
    """Whether the documents are mostly Chinese (judged on the start of the first 50)."""
    return cjk_ratio("".join(d.text[:2000] for d in index.documents[:50])) >= 0.5


def missing_words(index: CorpusIndex, q: Question, corpus_cjk: bool) -> list[tuple[str, bool]]:
    """The question's nouns and names (with whether each is a name) that no document uses."""
    words = entity_words(q)
    if q.cjk != corpus_cjk:
        script = 1.0 if corpus_cjk else 0.0
        words = [(w, name) for w, name in words if cjk_ratio(w) == script]
    return [(w, name) for w, name in words if not in_corpus(index, w)]


def never_mentioned(missing: list[tuple[str, bool]]) -> str:
    """The reason for a refusal where the question's ``missing`` words occur in no document."""
    return "the documents never mention " + "、".join(w for w, _ in missing)
