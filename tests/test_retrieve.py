from __future__ import annotations

import numpy as np

from qa.retrieve import fuse, minmax


def test_minmax_scales_to_unit_range():
    assert np.allclose(minmax(np.array([0.8, 0.9, 0.85])), [0.0, 1.0, 0.5], atol=1e-6)
    assert minmax(np.array([0.7, 0.7])).tolist() == [1.0, 1.0]


def test_fuse_without_keyword_matches_keeps_dense_order():
    dense_ids = np.array([4, 2, 9])
    dense_scores = np.array([0.86, 0.84, 0.80], dtype=np.float32)
    fused = fuse(dense_ids, dense_scores, np.zeros(0, np.int64), np.zeros(0, np.float32))
    assert sorted(fused, key=fused.get, reverse=True) == [4, 2, 9]


def test_fuse_keyword_evidence_lifts_a_unit():
    dense_ids = np.array([4, 2, 9])
    dense_scores = np.array([0.86, 0.85, 0.80], dtype=np.float32)
    fused = fuse(dense_ids, dense_scores, np.array([2]), np.array([7.5], np.float32), keyword_weight=0.5)
    assert max(fused, key=fused.get) == 2
    assert fused[2] > fused[4] > fused[9]


def test_fuse_adds_keyword_only_units():
    fused = fuse(np.array([1]), np.array([0.9], np.float32), np.array([5, 1]), np.array([4.0, 2.0], np.float32))
    assert set(fused) == {1, 5}
    assert fused[5] == 0.5  # keyword only: weight × 4/4


def test_fuse_ignores_missing_dense_ids():
    fused = fuse(np.array([3, -1]), np.array([0.9, 0.0], np.float32), np.zeros(0, np.int64), np.zeros(0))
    assert set(fused) == {3}
