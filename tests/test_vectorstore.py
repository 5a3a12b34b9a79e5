"""The contract every vector store backend must keep; run against each backend."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.vectorstore import FaissFlatStore, FaissHNSWStore, store_for

BACKENDS = ["faiss-flat", "faiss-hnsw", "milvus-lite"]


@pytest.fixture(scope="module")
def milvus(tmp_path_factory):
    from embeddings.milvus import milvus_client

    client = milvus_client(str(tmp_path_factory.mktemp("milvus") / "vectors.db"))
    yield client
    client.close()


@pytest.fixture
def backend(request, milvus):
    """Each backend as a function of the dimension; Milvus Lite gets a new collection each time."""
    if request.param == "faiss-flat":
        return FaissFlatStore
    if request.param == "faiss-hnsw":
        return FaissHNSWStore
    from embeddings.milvus import MilvusVectorStore

    names = iter(range(1000))
    return lambda dim: MilvusVectorStore.create(milvus, f"{request.node.originalname}_{next(names)}", dim)


def unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_contract_matches_brute_force(backend):
    vectors, queries = unit_vectors(500, 32), unit_vectors(7, 32, seed=1)
    store = backend(32)
    store.add(vectors[:200])
    store.add(vectors[200:])
    assert len(store) == 500 and store.dim == 32
    found = store.search(queries, 10)
    expected = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    assert np.array_equal(found.ids, expected)
    assert np.allclose(found.scores, np.take_along_axis(queries @ vectors.T, expected, axis=1), atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_contract_small_and_empty(backend):
    store = backend(4)
    assert store.search(np.ones(4, np.float32), 3).ids.tolist() == [[-1]]
    store.add(np.eye(4, dtype=np.float32)[:2])
    assert store.search(np.array([0, 1, 0, 0], np.float32), 5).ids.tolist() == [[1, 0]]


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_contract_rejects_wrong_dimension(backend):
    store = backend(8)
    with pytest.raises(ValueError, match="shape"):
        store.add(np.ones((2, 4), np.float32))
    store.add(np.ones((1, 8), np.float32))
    with pytest.raises(ValueError, match="dimension"):
        store.search(np.ones(4, np.float32), 1)


def test_store_for_is_exact_below_the_threshold_and_approximate_from_it():
    vectors = unit_vectors(300, 16)
    assert isinstance(store_for(vectors, approximate_from=301), FaissFlatStore)
    approximate = store_for(vectors, approximate_from=300)
    assert isinstance(approximate, FaissHNSWStore) and len(approximate) == 300


def test_hnsw_recall_at_10_against_exact_search():
    """On clustered vectors (as sentence embeddings are), HNSW finds ≥ 98% of the exact top 10."""
    rng = np.random.default_rng(3)
    centres = unit_vectors(50, 64, seed=4)
    vectors = centres[rng.integers(0, 50, 20_000)] + rng.normal(scale=0.08, size=(20_000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[rng.integers(0, 20_000, 200)] + rng.normal(scale=0.05, size=(200, 64)).astype(np.float32)
    approximate, exact = FaissHNSWStore(64), FaissFlatStore(64)
    approximate.add(vectors)
    exact.add(vectors)
    found, truth = approximate.search(queries, 10).ids, exact.search(queries, 10).ids
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.98


def test_hnsw_store_saves_and_loads(tmp_path):
    vectors, queries = unit_vectors(400, 16), unit_vectors(3, 16, seed=2)
    store = FaissHNSWStore(16)
    store.add(vectors)
    store.save(tmp_path / "ann.faiss")
    again = FaissHNSWStore.load(tmp_path / "ann.faiss")
    assert len(again) == 400 and np.array_equal(again.search(queries, 5).ids, store.search(queries, 5).ids)
