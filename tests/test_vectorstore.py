"""The contract every vector store backend must keep; run against each backend."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.vectorstore import FaissFlatStore

BACKENDS = [FaissFlatStore]


def unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("backend", BACKENDS)
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


@pytest.mark.parametrize("backend", BACKENDS)
def test_contract_small_and_empty(backend):
    store = backend(4)
    assert store.search(np.ones(4, np.float32), 3).ids.tolist() == [[-1]]
    store.add(np.eye(4, dtype=np.float32)[:2])
    assert store.search(np.array([0, 1, 0, 0], np.float32), 5).ids.tolist() == [[1, 0]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_contract_rejects_wrong_dimension(backend):
    store = backend(8)
    with pytest.raises(ValueError, match="shape"):
        store.add(np.ones((2, 4), np.float32))
    store.add(np.ones((1, 8), np.float32))
    with pytest.raises(ValueError, match="dimension"):
        store.search(np.ones(4, np.float32), 1)
