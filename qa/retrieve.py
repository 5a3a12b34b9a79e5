"""Hybrid retrieval: dense and keyword scores of sentences, fused, and passages ranked by their
best sentence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embeddings.vectorstore import Neighbours
from qa.index import CorpusIndex
from qa.keyword import KeywordHits

DENSE_K = 64
KEYWORD_K = 64
KEYWORD_WEIGHT = 0.5


@dataclass(frozen=True)
class SentenceHit:
    """A retrieved sentence: its index in the corpus and its scores."""

    sentence: int
    score: float  # fused, in [0, 1 + KEYWORD_WEIGHT]
    dense: float  # cosine similarity to the question
    keyword: float  # BM25 score (0 where no term matched)


def minmax(scores: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] by the best and the worst score; all ones where they are equal."""
    if not len(scores):
        return scores
    low, high = float(scores.min()), float(scores.max())
    if high - low < 1e-9:
        return np.ones_like(scores)
    return (scores - low) / (high - low)


def fuse(
    dense_ids: np.ndarray,
    dense_scores: np.ndarray,
    keyword_ids: np.ndarray,
    keyword_scores: np.ndarray,
    keyword_weight: float = KEYWORD_WEIGHT,
) -> dict[int, float]:
    """Fused score per unit: min-max scaled cosine over the dense candidates, plus
    ``keyword_weight`` × BM25 scaled by the best BM25 score. A keyword side that matched nothing
    adds nothing, so the order is then the dense order."""
    fused: dict[int, float] = {}
    for i, s in zip(dense_ids.tolist(), minmax(dense_scores).tolist(), strict=True):
        if i >= 0:
            fused[i] = s
    if len(keyword_ids):
        top = float(keyword_scores.max())
        for i, s in zip(keyword_ids.tolist(), keyword_scores.tolist(), strict=True):
            fused[i] = fused.get(i, 0.0) + keyword_weight * s / top
    return fused


def combine(
    index: CorpusIndex,
    query_vector: np.ndarray,
    dense: Neighbours,
    keyword: KeywordHits,
    keyword_weight: float = KEYWORD_WEIGHT,
) -> list[SentenceHit]:
    """The union of both candidate lists, ranked by fused score, best first."""
    fused = fuse(dense.ids[0], dense.scores[0], keyword.ids, keyword.scores, keyword_weight)
    ids = np.fromiter(fused.keys(), dtype=np.int64, count=len(fused))
    cosine = index.vectors[ids] @ np.asarray(query_vector, dtype=np.float32).ravel()
    bm25 = dict(zip(keyword.ids.tolist(), keyword.scores.tolist(), strict=True))
    hits = [
        SentenceHit(int(i), fused[int(i)], float(c), bm25.get(int(i), 0.0)) for i, c in zip(ids, cosine, strict=True)
    ]
    hits.sort(key=lambda h: (-h.score, h.sentence))
    return hits


def rank_passages(index: CorpusIndex, hits: list[SentenceHit]) -> list[tuple[int, float]]:
    """Passages by the score of their best sentence, best first."""
    best: dict[int, float] = {}
    for hit in hits:
        p = index.sentences[hit.sentence].passage
        if p not in best:
            best[p] = hit.score
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))
