"""Vector stores: inner-product search over normalised vectors, behind one small interface.

``VectorStore`` is what retrieval sees. ``FaissFlatStore`` searches exactly; ``FaissHNSWStore``
approximately, for collections of ``APPROXIMATE_FROM`` vectors and more (``store_for`` picks). A
further backend (a Milvus cluster, say) implements the same four methods and passes the same
contract test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, Protocol, Self

import numpy as np

APPROXIMATE_FROM = 200_000  # below this, exact search takes a few milliseconds
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 512  # recall@10 ≥ 0.98 at 1M sentences (qa bench); ~1 ms a search


class Neighbours(NamedTuple):
    """Per query row: the ids of the nearest vectors, best first, and their inner products."""

    ids: np.ndarray  # (n_queries, k) int64, -1 where fewer than k exist
    scores: np.ndarray  # (n_queries, k) float32


class VectorStore(Protocol):
    kind: str  # recorded in the index manifest

    @property
    def dim(self) -> int: ...

    def __len__(self) -> int: ...

    def add(self, vectors: np.ndarray) -> None:
        """Append vectors; their ids continue from ``len(self)``."""

    def search(self, queries: np.ndarray, k: int) -> Neighbours: ...


class _FaissStore:
    """What the FAISS stores share: a FAISS index (``_index``) of ``dim``-dimensional vectors whose
    ids are the order they were added in."""

    kind: str
    _index: Any

    def __init__(self, dim: int) -> None:  # each store builds its own kind of FAISS index
        raise NotImplementedError

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        self._index.add(_checked(vectors, self.dim))

    @classmethod
    def from_vectors(cls, vectors: np.ndarray) -> Self:
        store = cls(vectors.shape[1])
        if len(vectors):
            store.add(vectors)
        return store


class FaissFlatStore(_FaissStore):
    """Exact inner-product search with ``faiss.IndexFlatIP``."""

    kind = "faiss-flat-ip"

    def __init__(self, dim: int) -> None:
        import faiss

        self._index = faiss.IndexFlatIP(_positive(dim))

    def search(self, queries: np.ndarray, k: int) -> Neighbours:
        return _search(self._index.search, self.dim, len(self), queries, k)

    @property
    def nbytes(self) -> int:
        """Memory held by the index: the vectors."""
        return len(self) * self.dim * 4


class FaissHNSWStore(_FaissStore):
    """Approximate inner-product search with a FAISS HNSW graph (``IndexHNSWFlat``): sub-linear
    search for large collections; ``ef_search`` trades speed for recall."""

    kind = "faiss-hnsw-ip"

    def __init__(self, dim: int, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION) -> None:
        import faiss

        self._index = faiss.IndexHNSWFlat(_positive(dim), m, faiss.METRIC_INNER_PRODUCT)
        self._index.hnsw.efConstruction = ef_construction
        self.ef_search = HNSW_EF_SEARCH

    def search(self, queries: np.ndarray, k: int) -> Neighbours:
        import faiss

        # faiss-cpu's bundled __init__.pyi omits SearchParametersHNSW, which the module has.
        params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))  # type: ignore[attr-defined]
        return _search(lambda q, n: self._index.search(q, n, params=params), self.dim, len(self), queries, k)

    @property
    def nbytes(self) -> int:
        """Memory held by the index: the vectors and the graph's links."""
        hnsw = self._index.hnsw
        return len(self) * self.dim * 4 + hnsw.neighbors.size() * 4 + hnsw.offsets.size() * 8 + hnsw.levels.size() * 4

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> FaissHNSWStore:
        import faiss

        store = cls.__new__(cls)
        store._index = faiss.read_index(str(path))
        store.ef_search = HNSW_EF_SEARCH
        return store


def store_for(vectors: np.ndarray, approximate_from: int | None = None) -> FaissFlatStore | FaissHNSWStore:
    """Exact search for a collection smaller than ``approximate_from`` (``APPROXIMATE_FROM``),
    HNSW from there on."""
    exact = len(vectors) < (APPROXIMATE_FROM if approximate_from is None else approximate_from)
    return (FaissFlatStore if exact else FaissHNSWStore).from_vectors(vectors)


def _positive(dim: int) -> int:
    if dim <= 0:
        raise ValueError(f"dimension must be positive, got {dim}")
    return dim


def _checked(vectors: np.ndarray, dim: int) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"expected vectors of shape (n, {dim}), got {vectors.shape}")
    return vectors


def _search(
    search: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]], dim: int, size: int, queries: np.ndarray, k: int
) -> Neighbours:
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    if queries.shape[1] != dim:
        raise ValueError(f"expected queries of dimension {dim}, got {queries.shape[1]}")
    if not size:
        n = queries.shape[0]
        return Neighbours(np.full((n, 1), -1, np.int64), np.zeros((n, 1), np.float32))
    scores, ids = search(queries, max(1, min(k, size)))
    return Neighbours(ids.astype(np.int64), scores.astype(np.float32))
