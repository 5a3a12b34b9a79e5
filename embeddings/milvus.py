"""A ``VectorStore`` whose vectors live in a Milvus collection (embedded Milvus Lite or a server).

Ids are positions, as in the FAISS stores: row ``i`` is the ``i``-th vector added (or, for a
collection written by someone else, the ``i``-th primary key in ``keys``). Search asks Milvus and
maps the primary keys it returns back to positions; keys the store does not know (rows another
writer added since) are skipped. Needs the ``[milvus]`` extra (pymilvus, milvus-lite)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from embeddings.vectorstore import Neighbours, _checked, _positive

DENSE = "dense"
PK = "id"
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 512
INSERT_BATCH = 2000


def milvus_client(uri: str, **credentials: str) -> Any:
    """A ``pymilvus.MilvusClient`` for ``uri``, or an ``ImportError`` naming the extra to install."""
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise ImportError("Milvus stores need pymilvus and milvus-lite: pip install 'qa-assistant[milvus]'") from exc
    # pymilvus warns on every query iterator that Milvus Lite gives no MVCC timestamp (it needs none)
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
    return MilvusClient(uri, **credentials)


def release_embedded(path: str) -> None:
    """Stop the Milvus Lite engine this process runs for the database at ``path`` (closing the
    client leaves it running until the process ends, writing into the folder)."""
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(path)


def dense_index_params(client: Any, index_type: str) -> Any:
    """Index parameters of the dense field: ``FLAT`` (exact) or ``HNSW``, inner product."""
    params = client.prepare_index_params()
    if index_type == "HNSW":
        params.add_index(
            DENSE, index_type="HNSW", metric_type="IP", params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}
        )
    else:
        params.add_index(DENSE, index_type=index_type, metric_type="IP")
    return params


class MilvusVectorStore:
    """Inner-product search in the ``dense`` field of a Milvus collection."""

    def __init__(
        self, client: Any, collection: str, dim: int, keys: np.ndarray | None = None, index_type: str = "FLAT"
    ) -> None:
        self.kind = f"milvus-{index_type.lower()}-ip"
        self._client = client
        self.collection = collection
        self.index_type = index_type
        self._dim = _positive(dim)
        self._keys = np.zeros(0, np.int64) if keys is None else np.asarray(keys, np.int64)
        self._positions = {int(k): i for i, k in enumerate(self._keys.tolist())}
        if keys is None and not client.has_collection(collection):
            self._create()
        else:
            client.load_collection(collection)

    @classmethod
    def create(cls, client: Any, collection: str, dim: int, index_type: str = "FLAT") -> MilvusVectorStore:
        """A new, empty store in ``collection`` (dropped first if it exists)."""
        if client.has_collection(collection):
            client.drop_collection(collection)
        return cls(client, collection, dim, index_type=index_type)

    def _create(self) -> None:
        from pymilvus import DataType

        schema = self._client.create_schema(auto_id=False)
        schema.add_field(PK, DataType.INT64, is_primary=True)
        schema.add_field(DENSE, DataType.FLOAT_VECTOR, dim=self._dim)
        self._client.create_collection(
            self.collection,
            schema=schema,
            index_params=dense_index_params(self._client, self.index_type),
            consistency_level="Strong",
        )

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, vectors: np.ndarray) -> None:
        """Insert vectors with primary keys continuing from ``len(self)``."""
        vectors = _checked(vectors, self.dim)
        first = len(self._keys)
        keys = np.arange(first, first + len(vectors), dtype=np.int64)
        for start in range(0, len(vectors), INSERT_BATCH):
            part = vectors[start : start + INSERT_BATCH]
            rows = [
                {PK: int(k), DENSE: v} for k, v in zip(keys[start : start + INSERT_BATCH], part.tolist(), strict=True)
            ]
            self._client.insert(self.collection, rows)
        self._keys = np.concatenate([self._keys, keys])
        self._positions.update({int(k): first + i for i, k in enumerate(keys.tolist())})

    def search(self, queries: np.ndarray, k: int) -> Neighbours:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.shape[1] != self.dim:
            raise ValueError(f"expected queries of dimension {self.dim}, got {queries.shape[1]}")
        n = queries.shape[0]
        if not len(self._keys):
            return Neighbours(np.full((n, 1), -1, np.int64), np.zeros((n, 1), np.float32))
        k = max(1, min(k, len(self._keys)))
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.index_type == "HNSW":
            params["params"] = {"ef": max(HNSW_EF_SEARCH, k)}
        found = self._client.search(
            self.collection, data=queries.tolist(), anns_field=DENSE, limit=k, search_params=params, output_fields=[PK]
        )
        ids = np.full((n, k), -1, np.int64)
        scores = np.zeros((n, k), np.float32)
        for row, hits in enumerate(found):
            known = [(self._positions[int(h[PK])], float(h["distance"])) for h in hits if int(h[PK]) in self._positions]
            known.sort(key=lambda pair: (-pair[1], pair[0]))
            for col, (position, score) in enumerate(known[:k]):
                ids[row, col], scores[row, col] = position, score
        return Neighbours(ids, scores)
