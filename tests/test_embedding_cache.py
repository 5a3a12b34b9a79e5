"""The embedding cache: unchanged text is not embedded again, in this process or the next."""

from __future__ import annotations

import sqlite3

import numpy as np

from embeddings.cache import CachedEncoder, EmbeddingCache, default_cache_path
from qa.index import CorpusIndex
from tests.test_index import DOCS, CountingEncoder


def test_cached_vectors_equal_fresh_ones_and_only_new_text_is_embedded(tmp_path):
    inner = CountingEncoder()
    encoder = CachedEncoder(inner, EmbeddingCache(tmp_path / "cache.sqlite"))
    first = encoder.encode_passages(["推出106个不予处罚事项。", "覆盖14个领域。"])
    again = encoder.encode_passages(["覆盖14个领域。", "亮码检查率达99.8%。", "推出106个不予处罚事项。"])
    assert inner.embedded == ["推出106个不予处罚事项。", "覆盖14个领域。", "亮码检查率达99.8%。"]
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[0])
    assert np.array_equal(again, inner._encode(["覆盖14个领域。", "亮码检查率达99.8%。", "推出106个不予处罚事项。"]))
    assert (encoder.hits, encoder.misses) == (2, 3)


def test_the_cache_outlives_the_process_and_is_keyed_by_encoder(tmp_path):
    path = tmp_path / "cache.sqlite"
    CachedEncoder(CountingEncoder(), EmbeddingCache(path)).encode_passages(["覆盖14个领域。"])
    inner = CountingEncoder()
    CachedEncoder(inner, EmbeddingCache(path)).encode_passages(["覆盖14个领域。"])
    assert inner.embedded == []
    other = CountingEncoder()
    other.id = "test:another-model"
    CachedEncoder(other, EmbeddingCache(path)).encode_passages(["覆盖14个领域。"])
    assert other.embedded == ["覆盖14个领域。"]


def test_a_damaged_entry_is_embedded_again(tmp_path):
    path = tmp_path / "cache.sqlite"
    CachedEncoder(CountingEncoder(), EmbeddingCache(path)).encode_passages(["覆盖14个领域。"])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE vectors SET vector = x'00'")
    inner = CountingEncoder()
    vectors = CachedEncoder(inner, EmbeddingCache(path)).encode_passages(["覆盖14个领域。"])
    assert inner.embedded == ["覆盖14个领域。"] and vectors.shape == (1, 64)


def test_a_new_store_over_cached_text_embeds_nothing(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    CorpusIndex.build(DOCS, CachedEncoder(CountingEncoder(), cache))
    inner = CountingEncoder()
    rebuilt = CorpusIndex.build(DOCS, CachedEncoder(inner, cache))
    assert inner.embedded == [] and len(rebuilt.sentences) == len(cache)


def test_default_cache_path_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE", str(tmp_path / "c.sqlite"))
    assert default_cache_path() == tmp_path / "c.sqlite"
    monkeypatch.setenv("QA_CACHE", "off")
    assert default_cache_path() is None
    monkeypatch.delenv("QA_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_path() == tmp_path / "qa-assistant" / "embeddings.sqlite"


def test_an_unusable_cache_warns_and_indexing_goes_on(tmp_path, caplog):
    (tmp_path / "cache.sqlite").mkdir()  # a folder where the cache file should be
    inner = CountingEncoder()
    encoder = CachedEncoder(inner, EmbeddingCache(tmp_path / "cache.sqlite"))
    vectors = encoder.encode_passages(["覆盖14个领域。"])
    assert vectors.shape == (1, 64) and inner.embedded == ["覆盖14个领域。"]
    [warning] = [r for r in caplog.records if r.name == "embeddings.cache"]
    assert warning.levelname == "WARNING" and "embedding cache" in warning.getMessage() and encoder.error
