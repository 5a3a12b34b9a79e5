"""BM25 keyword search over token lists, as one sparse matrix: fast at any size."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from scipy import sparse

K1 = 1.2
B = 0.75


class KeywordHits(NamedTuple):
    ids: np.ndarray  # best first
    scores: np.ndarray


class BM25Index:
    """BM25 (Lucene's idf) over pre-tokenised units; ``search`` sums the weights of the query's
    distinct terms."""

    def __init__(self, units: Sequence[Sequence[str]]) -> None:
        self.vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        for row, unit in enumerate(units):
            tf: dict[int, int] = {}
            for token in unit:
                col = self.vocabulary.setdefault(token, len(self.vocabulary))
                tf[col] = tf.get(col, 0) + 1
            rows.extend([row] * len(tf))
            cols.extend(tf.keys())
            counts.extend(tf.values())
        n = len(units)
        self.size = n
        lengths = np.array([len(u) for u in units], dtype=np.float32)
        avg = float(lengths.mean()) if n and lengths.sum() else 1.0
        tf_matrix = sparse.csr_matrix(
            (np.array(counts, np.float32), (np.array(rows, np.int64), np.array(cols, np.int64))),
            shape=(n, len(self.vocabulary)),
        )
        df = np.bincount(tf_matrix.indices, minlength=len(self.vocabulary)).astype(np.float32)
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        tf_matrix = tf_matrix.tocoo()
        norm = K1 * (1 - B + B * lengths[tf_matrix.row] / avg)
        weights = idf[tf_matrix.col] * tf_matrix.data * (K1 + 1) / (tf_matrix.data + norm)
        self._weights = sparse.csc_matrix((weights, (tf_matrix.row, tf_matrix.col)), shape=tf_matrix.shape)
        self.idf = idf

    @property
    def nbytes(self) -> int:
        """Memory held by the weights matrix and the idf (the vocabulary's strings not counted)."""
        w = self._weights
        return int(w.data.nbytes + w.indices.nbytes + w.indptr.nbytes + self.idf.nbytes)

    def __contains__(self, token: str) -> bool:
        return token in self.vocabulary

    def term_ids(self, query: Sequence[str]) -> list[int]:
        return sorted({self.vocabulary[t] for t in query if t in self.vocabulary})

    def scores(self, query: Sequence[str], boosts: Mapping[str, float] | None = None) -> np.ndarray:
        """The BM25 score of every unit (zeros where no query term occurs); a term's weight is
        multiplied by its boost where one is given."""
        ids = self.term_ids(query)
        if not ids or not self.size:
            return np.zeros(self.size, np.float32)
        if not boosts:
            return np.asarray(self._weights[:, ids].sum(axis=1)).ravel().astype(np.float32)
        factor = np.ones(len(self.vocabulary), np.float32)
        for term, boost in boosts.items():
            if term in self.vocabulary:
                factor[self.vocabulary[term]] = boost
        return np.asarray(self._weights[:, ids] @ factor[ids]).ravel().astype(np.float32)

    def search(self, query: Sequence[str], k: int, boosts: Mapping[str, float] | None = None) -> KeywordHits:
        """Up to ``k`` units with a positive score, best first (ties by document order)."""
        scores = self.scores(query, boosts)
        positive = np.flatnonzero(scores > 0)
        if not len(positive):
            return KeywordHits(np.zeros(0, np.int64), np.zeros(0, np.float32))
        if len(positive) > k:
            top = positive[np.argpartition(-scores[positive], k - 1)[:k]]
        else:
            top = positive
        order = top[np.lexsort((top, -scores[top]))]
        return KeywordHits(order.astype(np.int64), scores[order])
