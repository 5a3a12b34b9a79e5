"""A store in Milvus: the same assistant, its documents and vectors in embedded Milvus Lite
(``milvus:./qa.db``) or a Milvus server (``http://host:19530``).

Three collections, named after the location's ``collection`` (``qa`` by default):

- ``qa_documents``: each document's text in chunks of ``CHUNK_CHARS`` characters, its hash, the
  number of its sentences and when it was written (the order documents are served in).
- ``qa_sentences``: one row a sentence: its document and that document's hash, its place
  (``seq``, span), its keyword tokens (for our own BM25), its keyword text (for Milvus's BM25
  function with the jieba analyzer) and its dense vector. The primary key is a hash of the
  document's name, its text's hash and the sentence's number, so a changed document's new rows
  never collide with its old ones.
- ``qa_meta``: the encoder and dimension, and a version token that every change replaces.

A change is a set of deletes and upserts of the documents it names — never a rebuild — so writers
of different documents need no lock: two ``qa index`` runs and an upload each keep their documents.
A document's new sentences are written before its document rows, and its old sentences deleted
after, so a reader sees a document whole, old or new; a reader that meets one half-written (the
sentence count its document row names is not there) reads again. Each process holds the corpus
(texts, sentences, tokens, vectors) in memory, as the FAISS store does, because the readers scan
sentences; Milvus holds the truth and answers the searches."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.encoder import DEFAULT_ENCODER, Encoder, load_encoder
from embeddings.milvus import DENSE, PK, MilvusVectorStore, dense_index_params, milvus_client, release_embedded
from qa.index import CorpusIndex, StoreError
from qa.keyword import BM25Index, KeywordHits
from qa.location import MilvusLocation
from qa.splitter import split_sentences
from qa.types import Document

CHUNK_CHARS = 16_000  # ≤ 64,000 bytes of UTF-8: under Milvus's VARCHAR limit of 65,535
KEYWORD_TEXT_CHARS = 8_000
NAME_CHARS = 1024
READ_WAIT_S = 10.0  # how long a reader (qa ask, qa serve) waits for an embedded database another process holds
REFRESH_S = 2.0  # a server checks the store's version at most this often: others' changes show within it
READ_TRIES = 5  # a read that meets a half-written document tries again this often
ITERATOR_BATCH = 2000
WRITE_BATCH = 1000
INDEX_TYPE = "HNSW"  # the dense index of the sentences (exact below Milvus Lite's segment size anyway)
LOCKED_WAIT_S = 0.2  # an embedded database held by another process is tried again this often
SPARSE = "sparse"
META_KEY = 0


def _held_elsewhere(database: Path) -> bool:
    """Whether another process holds the embedded database open (Milvus Lite's ``LOCK`` file)."""
    lock = database / "LOCK"
    if not lock.is_file():
        return False
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: Milvus Lite says so itself
        return False
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


def _key(*parts: str | int) -> int:
    digest = hashlib.blake2b("\0".join(map(str, parts)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << 63) - 1)


def _quoted(text: str) -> str:
    """``text`` as a string literal of a Milvus filter expression."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class StoredDocument:
    name: str
    content_hash: str
    sentences: int
    written: int  # ns since the epoch


class MilvusKeywords(BM25Index):
    """Our BM25 matrix (the vocabulary the gate and the English bridge look words up in), with
    ``search`` answered by Milvus's BM25 function over the jieba-analysed keyword text; a search
    with boosts (an English question's translations) stays on our own matrix."""

    def __init__(self, units: Sequence[Sequence[str]], corpus: MilvusCorpus, keys: np.ndarray) -> None:
        super().__init__(units)
        self._corpus = corpus
        self._positions = {int(k): i for i, k in enumerate(keys.tolist())}

    def search(self, query: Sequence[str], k: int, boosts: dict[str, float] | None = None) -> KeywordHits:  # type: ignore[override]
        if boosts or not self.term_ids(query):
            return super().search(query, k, boosts)
        hits = self._corpus.bm25_search(" ".join(query), k)
        known = [(self._positions[key], score) for key, score in hits if key in self._positions and score > 0]
        known.sort(key=lambda pair: (-pair[1], pair[0]))
        return KeywordHits(np.array([p for p, _ in known], np.int64), np.array([s for _, s in known], np.float32))


class MilvusCorpus:
    """The collections of one Milvus store, read and changed."""

    def __init__(self, location: MilvusLocation, wait_s: float = 60.0) -> None:
        self.location = location
        self.documents = f"{location.collection}_documents"
        self.sentences = f"{location.collection}_sentences"
        self.meta = f"{location.collection}_meta"
        self.client = self._connect(wait_s)
        self._checked_at = 0.0
        self._version: str | None = None
        for name in (self.documents, self.sentences, self.meta):
            if self.client.has_collection(name):
                self.client.load_collection(name)  # a reopened database holds them released

    def _connect(self, wait_s: float) -> Any:
        """A client; an embedded database that another process holds open is waited for."""
        if self.location.embedded:
            deadline = time.monotonic() + wait_s
            while _held_elsewhere(Path(self.location.uri)):
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"{self.location}: another process has this embedded database open (for {wait_s:g} s); "
                        "processes share a store through a Milvus server (`milvus-lite server`, Milvus Standalone)"
                    )
                time.sleep(LOCKED_WAIT_S)
        try:
            return milvus_client(self.location.uri, **self.location.credentials())
        except ImportError:
            raise
        except Exception as exc:  # pymilvus wraps the engine's and the network's errors in its own types
            hint = "" if self.location.embedded else " (is the server running and reachable?)"
            raise StoreError(f"{self.location}: cannot open the Milvus store{hint}: {exc}") from None

    def close(self) -> None:
        self.client.close()
        if self.location.embedded:
            release_embedded(self.location.uri)

    # ---- collections ---------------------------------------------------------------------------

    def exists(self) -> bool:
        return bool(self.client.has_collection(self.meta)) and bool(self._meta_row())

    def _meta_row(self) -> dict | None:
        if not self.client.has_collection(self.meta):
            return None
        rows = self.client.query(self.meta, ids=[META_KEY], output_fields=["encoder", "dim", "version"])
        return dict(rows[0]) if rows else None

    def create(self, encoder_id: str, dim: int) -> None:
        """The three collections, for vectors of ``dim`` by ``encoder_id`` (created if missing)."""
        from pymilvus import DataType, Function, FunctionType

        client = self.client
        if not client.has_collection(self.documents):
            schema = client.create_schema(auto_id=False)
            schema.add_field(PK, DataType.INT64, is_primary=True)
            schema.add_field("name", DataType.VARCHAR, max_length=NAME_CHARS * 4)
            schema.add_field("content_hash", DataType.VARCHAR, max_length=128)
            schema.add_field("chunk", DataType.INT64)
            schema.add_field("chunks", DataType.INT64)
            schema.add_field("sentences", DataType.INT64)
            schema.add_field("written", DataType.INT64)
            schema.add_field("text", DataType.VARCHAR, max_length=CHUNK_CHARS * 4)
            schema.add_field(DENSE, DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in each collection
            params = client.prepare_index_params()
            params.add_index(DENSE, index_type="FLAT", metric_type="IP")
            client.create_collection(self.documents, schema=schema, index_params=params, consistency_level="Strong")
        if not client.has_collection(self.sentences):
            schema = client.create_schema(auto_id=False)
            schema.add_field(PK, DataType.INT64, is_primary=True)
            schema.add_field("doc", DataType.VARCHAR, max_length=NAME_CHARS * 4)
            schema.add_field("doc_hash", DataType.VARCHAR, max_length=128)
            schema.add_field("seq", DataType.INT64)
            schema.add_field("span_start", DataType.INT64)
            schema.add_field("span_end", DataType.INT64)
            schema.add_field("tokens", DataType.JSON)
            schema.add_field(
                "text",
                DataType.VARCHAR,
                max_length=KEYWORD_TEXT_CHARS * 4,
                enable_analyzer=True,
                analyzer_params={"tokenizer": "jieba"},
            )
            schema.add_field(DENSE, DataType.FLOAT_VECTOR, dim=dim)
            schema.add_field(SPARSE, DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(
                Function(
                    name="bm25",
                    function_type=FunctionType.BM25,
                    input_field_names=["text"],
                    output_field_names=[SPARSE],
                )
            )
            params = dense_index_params(client, INDEX_TYPE)
            params.add_index(SPARSE, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
            client.create_collection(self.sentences, schema=schema, index_params=params, consistency_level="Strong")
        if not client.has_collection(self.meta):
            schema = client.create_schema(auto_id=False)
            schema.add_field(PK, DataType.INT64, is_primary=True)
            schema.add_field("encoder", DataType.VARCHAR, max_length=1024)
            schema.add_field("dim", DataType.INT64)
            schema.add_field("version", DataType.VARCHAR, max_length=64)
            schema.add_field(DENSE, DataType.FLOAT_VECTOR, dim=2)
            params = client.prepare_index_params()
            params.add_index(DENSE, index_type="FLAT", metric_type="IP")
            client.create_collection(self.meta, schema=schema, index_params=params, consistency_level="Strong")
        if self._meta_row() is None:
            self._set_meta(encoder_id, dim)

    def drop(self) -> None:
        for name in (self.meta, self.sentences, self.documents):
            if self.client.has_collection(name):
                self.client.drop_collection(name)

    def _set_meta(self, encoder_id: str, dim: int) -> str:
        version = uuid.uuid4().hex
        self.client.upsert(
            self.meta, [{PK: META_KEY, "encoder": encoder_id, "dim": dim, "version": version, DENSE: [0.0, 0.0]}]
        )
        self._version, self._checked_at = version, time.monotonic()
        return version

    def encoder_id(self) -> str | None:
        row = self._meta_row()
        return None if row is None else str(row["encoder"])

    def version(self, max_age_s: float = 0.0) -> str | None:
        """The store's version token (None: no store), asked again only when the one known is older
        than ``max_age_s`` seconds."""
        if max_age_s and self._version is not None and time.monotonic() - self._checked_at < max_age_s:
            return self._version
        row = self._meta_row()
        self._version, self._checked_at = (None if row is None else str(row["version"])), time.monotonic()
        return self._version

    def _bump(self) -> str:
        row = self._meta_row()
        assert row is not None, "a store is created before it is changed"
        return self._set_meta(str(row["encoder"]), int(row["dim"]))

    # ---- reading -------------------------------------------------------------------------------

    def _rows(self, collection: str, fields: list[str], filter: str = "") -> Iterator[dict]:
        iterator = self.client.query_iterator(
            collection, batch_size=ITERATOR_BATCH, filter=filter, output_fields=fields
        )
        try:
            while batch := iterator.next():
                yield from batch
        finally:
            iterator.close()

    def stored_documents(self) -> tuple[list[StoredDocument], dict[str, str], bool]:
        """The documents whose every chunk is there (in the order they were written), their texts, and
        whether every document was whole (False: one is being written; read again)."""
        chunks: dict[tuple[str, str], dict[int, dict]] = {}
        for row in self._rows(
            self.documents, ["name", "content_hash", "chunk", "chunks", "sentences", "written", "text"]
        ):
            chunks.setdefault((row["name"], row["content_hash"]), {})[int(row["chunk"])] = row
        stored: list[StoredDocument] = []
        texts: dict[str, str] = {}
        whole = True
        for (name, digest), parts in chunks.items():
            first = next(iter(parts.values()))
            if sorted(parts) != list(range(int(first["chunks"]))):
                whole = False  # being written or replaced
                continue
            texts[name] = "".join(parts[i]["text"] for i in range(len(parts)))
            stored.append(StoredDocument(name, digest, int(first["sentences"]), int(first["written"])))
        stored.sort(key=lambda d: (d.written, d.name))
        return stored, texts, whole

    def names(self) -> list[str]:
        return [d.name for d in self.stored_documents()[0]]

    def read(self, encoder_id: str | None = None, keywords: str | None = None) -> tuple[CorpusIndex, str]:
        """The corpus as it is now, and the version it was read at; its keyword search by our BM25
        matrix or Milvus's BM25 function (``keywords``, else the location's). Raises ``StoreError``
        when there is no store, it was built with another encoder, or it stays half-written."""
        from qa.documents import make_document

        for attempt in range(READ_TRIES):
            version = self.version()
            if version is None:
                raise StoreError(f"{self.location}: no index here; build one with `qa index`")
            meta = self._meta_row() or {}
            if encoder_id is not None and meta.get("encoder") != encoder_id:
                raise StoreError(
                    f"{self.location}: built with encoder {meta.get('encoder')!r}, not {encoder_id!r}; "
                    "re-index with this encoder or use the index's own"
                )
            stored, texts, whole = self.stored_documents()
            rows: dict[tuple[str, str], list[dict]] = {}
            fields = ["doc", "doc_hash", "seq", "span_start", "span_end", "tokens", DENSE]
            for row in self._rows(self.sentences, [PK, *fields]):
                rows.setdefault((row["doc"], row["doc_hash"]), []).append(row)
            documents: list[Document] = []
            passages: list = []
            sentences: list = []
            vectors: list[list[float]] = []
            tokens: list[list[str]] = []
            keys: list[int] = []
            for info in stored:
                mine = sorted(rows.get((info.name, info.content_hash), []), key=lambda r: int(r["seq"]))
                doc = make_document(info.name, texts[info.name])
                split, doc_sentences = split_sentences(doc, first_passage=len(passages))
                spans = [(s.span.start, s.span.end) for s in doc_sentences]
                if len(mine) != info.sentences or [(int(r["span_start"]), int(r["span_end"])) for r in mine] != spans:
                    whole = False  # its sentences are being written, or another version of the splitter wrote them
                    continue
                documents.append(doc)
                passages.extend(split.passages)
                sentences.extend(doc_sentences)
                for r in mine:
                    vectors.append(r[DENSE])
                    tokens.append(list(r["tokens"]))
                    keys.append(int(r[PK]))
            if not whole and attempt < READ_TRIES - 1:
                time.sleep(0.2 * (attempt + 1))
                continue
            if not sentences:
                raise StoreError(f"{self.location}: the store holds no complete document; re-index with `qa index`")
            dim = int(meta.get("dim") or len(vectors[0]))
            matrix = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), dim)
            key_array = np.asarray(keys, np.int64)
            store = MilvusVectorStore(self.client, self.sentences, dim, key_array, INDEX_TYPE)
            index = CorpusIndex(str(meta["encoder"]), documents, passages, sentences, matrix, tokens, store)
            if (keywords or self.location.keywords) == "milvus":
                index.keywords = MilvusKeywords(index.unit_tokens, self, key_array)
            return index, version
        raise AssertionError("unreachable: the last attempt returns or raises")

    def bm25_search(self, text: str, k: int) -> list[tuple[int, float]]:
        """Primary keys and BM25 scores of the ``k`` sentences Milvus's BM25 function ranks best."""
        found = self.client.search(
            self.sentences,
            data=[text],
            anns_field=SPARSE,
            limit=k,
            search_params={"metric_type": "BM25"},
            output_fields=[PK],
        )
        # Milvus Lite reports BM25 as a negated distance, a server as a positive score
        return [(int(h[PK]), abs(float(h["distance"]))) for h in found[0]]

    # ---- writing -------------------------------------------------------------------------------

    def write(self, index: CorpusIndex, names: Sequence[str] | None = None) -> None:
        """Upsert the documents of ``index`` named in ``names`` (all by default): sentences first,
        then the document rows, then the old version's sentences deleted."""
        wanted = set(index.texts) if names is None else set(names)
        rows_of: dict[str, list[int]] = {}
        for i, s in enumerate(index.sentences):
            rows_of.setdefault(s.doc, []).append(i)
        for doc in index.documents:
            if doc.name not in wanted:
                continue
            if len(doc.name) > NAME_CHARS:
                raise StoreError(f"{doc.name[:60]}…: a document name of more than {NAME_CHARS} characters")
            rows = []
            for seq, i in enumerate(rows_of.get(doc.name, [])):
                s = index.sentences[i]
                passage = index.passages[s.passage]
                text = f"{doc.text[s.span.start : s.span.end]}\n{passage.title}"[:KEYWORD_TEXT_CHARS]
                rows.append(
                    {
                        PK: _key(doc.name, doc.content_hash, seq),
                        "doc": doc.name,
                        "doc_hash": doc.content_hash,
                        "seq": seq,
                        "span_start": s.span.start,
                        "span_end": s.span.end,
                        "tokens": list(index.unit_tokens[i]),
                        "text": text,
                        DENSE: index.vectors[i].tolist(),
                    }
                )
            for start in range(0, len(rows), WRITE_BATCH):
                self.client.upsert(self.sentences, rows[start : start + WRITE_BATCH])
            chunks = [doc.text[i : i + CHUNK_CHARS] for i in range(0, len(doc.text), CHUNK_CHARS)] or [""]
            written = time.time_ns()
            self.client.upsert(
                self.documents,
                [
                    {
                        PK: _key(doc.name, n),
                        "name": doc.name,
                        "content_hash": doc.content_hash,
                        "chunk": n,
                        "chunks": len(chunks),
                        "sentences": len(rows),
                        "written": written,
                        "text": chunk,
                        DENSE: [0.0, 0.0],
                    }
                    for n, chunk in enumerate(chunks)
                ],
            )
            self.client.delete(self.documents, filter=f"name == {_quoted(doc.name)} and chunk >= {len(chunks)}")
            self.client.delete(
                self.sentences,
                filter=f"doc == {_quoted(doc.name)} and doc_hash != {_quoted(doc.content_hash)}",
            )

    def remove(self, names: Sequence[str]) -> None:
        """Delete the documents named: their document rows first, so no reader sees them half gone."""
        for name in names:
            self.client.delete(self.documents, filter=f"name == {_quoted(name)}")
            self.client.delete(self.sentences, filter=f"doc == {_quoted(name)}")

    def changed(self) -> str:
        """Seal the change into segments (Milvus Lite searches a segment many times faster than its
        write buffer) and mark the store changed (a new version token): servers read it again."""
        for name in (self.sentences, self.documents):
            self.client.flush(name)
        return self._bump()


_OPEN: dict[tuple[str, str], MilvusCorpus] = {}
_OPENING = threading.Lock()


def _corpus_for(location: MilvusLocation, wait_s: float = READ_WAIT_S) -> MilvusCorpus:
    """One client a store and process (an embedded database can be opened once only)."""
    key = (location.uri, location.collection)
    with _OPENING:
        corpus = _OPEN.get(key)
        if corpus is None:
            corpus = _OPEN[key] = MilvusCorpus(location, wait_s)
        return corpus


def stored_encoder(location: MilvusLocation) -> str:
    """The encoder the store was built with, else the default."""
    corpus = _corpus_for(location)
    return (corpus.encoder_id() if corpus.exists() else None) or DEFAULT_ENCODER


def load_index(location: MilvusLocation, encoder_id: str | None = None) -> tuple[CorpusIndex, str]:
    return _corpus_for(location).read(encoder_id, location.keywords)


def load_encoder_for(location: MilvusLocation, encoder: Encoder | str | None) -> Encoder:
    spec = stored_encoder(location) if encoder is None else encoder
    return load_encoder(spec) if isinstance(spec, str) else spec


def stamp(location: MilvusLocation, max_age_s: float = REFRESH_S) -> str | None:
    """The version token of the store (None: none), asked of Milvus at most every ``max_age_s``."""
    return _corpus_for(location).version(max_age_s)


def apply_change(
    location: MilvusLocation,
    encoder: Encoder,
    fresh: CorpusIndex | None,
    remove: Sequence[str],
    replace: bool,
    check: Callable[[list[str]], None],
    wait_s: float = 60.0,
) -> tuple[CorpusIndex, str]:
    """Write ``fresh``'s documents and delete those named in ``remove`` (with ``replace``, every
    document not in ``fresh``); ``check`` is given the names held first and may refuse. Returns the
    store as it is then."""
    corpus = _corpus_for(location, wait_s)
    if fresh is not None:
        held = corpus.encoder_id() if corpus.exists() else None
        if held is not None and held != encoder.id and not replace:
            raise StoreError(f"{location}: built with encoder {held!r}, not {encoder.id!r}; re-index with --replace")
        if replace and held is not None and held != encoder.id:
            corpus.drop()
        corpus.create(encoder.id, fresh.dim)
    elif not corpus.exists():
        raise StoreError(f"{location}: no index here; build one with `qa index`")
    names = corpus.names()
    check(names)
    if fresh is not None:
        held_hashes = {(d.name, d.content_hash) for d in corpus.stored_documents()[0]}
        corpus.write(fresh, [d.name for d in fresh.documents if (d.name, d.content_hash) not in held_hashes])
    dropped = [n for n in names if replace and (fresh is None or n not in fresh.texts)] + list(remove)
    corpus.remove(dropped)
    corpus.changed()
    return corpus.read(encoder.id, location.keywords)
