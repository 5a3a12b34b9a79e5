"""Vector stores: inner-product search over normalised vectors, behind one small interface.

``VectorStore`` is what retrieval sees; ``FaissFlatStore`` is the in-process backend. A second
backend (a Milvus cluster, say) implements the same four methods and passes the same contract test.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np


class Neighbours(NamedTuple):
    """Per query row: the ids of the nearest vectors, best first, and their inner products."""

    ids: np.ndarray  # (n_queries, k) int64, -1 where fewer than k exist
    scores: np.ndarray  # (n_queries, k) float32


class VectorStore(Protocol):
    @property
    def dim(self) -> int: ...

    def __len__(self) -> int: ...

    def add(self, vectors: np.ndarray) -> None:
        """Append vectors; their ids continue from ``len(self)``."""

    def search(self, queries: np.ndarray, k: int) -> Neighbours: ...


class FaissFlatStore:
    """Exact inner-product search with ``faiss.IndexFlatIP``."""

    kind = "faiss-flat-ip"

    def __init__(self, dim: int) -> None:
        import faiss

        if dim <= 0:
            raise ValueError(f"dimension must be positive, got {dim}")
        self._index = faiss.IndexFlatIP(dim)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        self._index.add(vectors)

    def search(self, queries: np.ndarray, k: int) -> Neighbours:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.shape[1] != self.dim:
            raise ValueError(f"expected queries of dimension {self.dim}, got {queries.shape[1]}")
        k = max(1, min(k, len(self))) if len(self) else 1
        if not len(self):
            n = queries.shape[0]
            return Neighbours(np.full((n, 1), -1, np.int64), np.zeros((n, 1), np.float32))
        scores, ids = self._index.search(queries, k)
        return Neighbours(ids.astype(np.int64), scores.astype(np.float32))

    @classmethod
    def from_vectors(cls, vectors: np.ndarray) -> FaissFlatStore:
        store = cls(vectors.shape[1])
        if len(vectors):
            store.add(vectors)
        return store
