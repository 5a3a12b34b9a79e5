"""The searchable corpus: documents, passages, sentences, their vectors and keyword index;
built incrementally and saved as a folder of plain files with a manifest.

A store folder holds ``manifest.json`` and the data folder it names (``data-…``). A save writes a
new data folder, then replaces the manifest with one atomic rename, so the store always holds a
complete index; the manifest carries the checksums of the data files and of itself."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from embeddings.encoder import Encoder
from embeddings.vectorstore import FaissHNSWStore, VectorStore, store_for
from qa.keyword import BM25Index
from qa.splitter import split_sentences
from qa.storelock import store_lock
from qa.text import normalise, tokens
from qa.types import Document, Passage, Sentence, Span

FORMAT_VERSION = 2  # the data files sit in the data folder the manifest names (format 1, beside it, is not read)
MANIFEST = "manifest.json"
SEAL = "manifest_sha256"  # the manifest's own checksum (of its other fields)
DATA_PREFIX = "data-"
_FILES = ("documents.jsonl", "passages.jsonl", "sentences.npy", "vectors.npy", "tokens.jsonl")
ANN_FILE = "ann.faiss"  # the approximate index's graph, saved only for large collections
_ANY_DATA_FILE = frozenset((*_FILES, ANN_FILE))


class StoreError(RuntimeError):
    """A saved index that cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class DocumentInfo:
    name: str
    content_hash: str
    chars: int
    passages: int
    sentences: int


def embedding_text(passage: Passage, sentence: str) -> str:
    """What the encoder sees for a sentence: its nearest heading (or the title) as context."""
    context = passage.section[-1] if passage.section else passage.title
    return f"{context[:40]}：{sentence}" if context else sentence


def keyword_tokens(passage: Passage, sentence: str) -> list[str]:
    """Keyword tokens of a sentence, with its document title so that an entity named only in
    the title still finds the sentence."""
    return tokens(sentence) + list(_title_tokens(passage.title))


@lru_cache(maxsize=4096)
def _title_tokens(title: str) -> tuple[str, ...]:
    return tuple(tokens(title))


class CorpusIndex:
    """Everything needed to answer: immutable once built; ``with_documents`` returns a new one."""

    def __init__(
        self,
        encoder_id: str,
        documents: Sequence[Document],
        passages: Sequence[Passage],
        sentences: Sequence[Sentence],
        vectors: np.ndarray,
        unit_tokens: Sequence[list[str]],
        store: VectorStore | None = None,
    ) -> None:
        if not (len(sentences) == len(vectors) == len(unit_tokens)):
            raise ValueError("sentences, vectors and tokens must line up")
        self.encoder_id = encoder_id
        self.documents = tuple(documents)
        self.passages = tuple(passages)
        self.sentences = tuple(sentences)
        self.vectors = vectors
        self.unit_tokens = tuple(unit_tokens)
        self.texts = {d.name: d for d in self.documents}
        self.store = store if store is not None and len(store) == len(vectors) else store_for(vectors)
        self.keywords = BM25Index(self.unit_tokens)
        self.normalised_text = "\n".join(normalise(d.text) for d in self.documents)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def text(self, doc: str, span: Span) -> str:
        return self.texts[doc].text[span.start : span.end]

    def document_infos(self) -> list[DocumentInfo]:
        passages: dict[str, int] = {}
        sentences: dict[str, int] = {}
        for p in self.passages:
            passages[p.doc] = passages.get(p.doc, 0) + 1
        for s in self.sentences:
            sentences[s.doc] = sentences.get(s.doc, 0) + 1
        return [
            DocumentInfo(d.name, d.content_hash, len(d.text), passages.get(d.name, 0), sentences.get(d.name, 0))
            for d in self.documents
        ]

    # ---- building ---------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        documents: Sequence[Document],
        encoder: Encoder,
        previous: CorpusIndex | None = None,
        progress: Callable[[int, int], None] | None = None,
        reuse: Sequence[CorpusIndex] = (),
    ) -> CorpusIndex:
        """Index ``documents`` (later ones with the same name replace earlier ones). Documents whose
        text is unchanged since ``previous`` (or is held by an index in ``reuse``) take its vectors;
        only the others are embedded."""
        by_name: dict[str, Document] = {}
        for doc in documents:
            by_name[doc.name] = doc
        reusable: dict[str, tuple[np.ndarray, list[list[str]]]] = {}
        for source in (*reuse, *([] if previous is None else [previous])):
            if source.encoder_id == encoder.id:
                reusable.update(source._per_document())
        passages: list[Passage] = []
        sentences: list[Sentence] = []
        texts_to_embed: list[str] = []
        parts: list[np.ndarray | None] = []
        counts: list[int] = []
        unit_tokens: list[list[str]] = []
        for doc in by_name.values():
            split, doc_sentences = split_sentences(doc, first_passage=len(passages))
            passages.extend(split.passages)
            sentences.extend(doc_sentences)
            counts.append(len(doc_sentences))
            cached = reusable.get(doc.content_hash)
            if cached is not None and len(cached[0]) == len(doc_sentences):
                parts.append(cached[0])
                unit_tokens.extend(cached[1])
                continue
            parts.append(None)
            for s in doc_sentences:
                passage = passages[s.passage]
                sentence_text = doc.text[s.span.start : s.span.end]
                texts_to_embed.append(embedding_text(passage, sentence_text))
                unit_tokens.append(keyword_tokens(passage, sentence_text))
        if not sentences:
            raise ValueError("the documents hold no text to index")
        total = len(texts_to_embed)
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, total)

        fresh = encoder.encode_passages(texts_to_embed, progress=advance) if texts_to_embed else None
        vectors, offset = [], 0
        for n, part in zip(counts, parts, strict=True):
            if part is None:
                if fresh is None:  # nothing was embedded, so this document has no sentences
                    continue
                part = fresh[offset : offset + n]
                offset += n
            vectors.append(part)
        matrix = np.ascontiguousarray(np.concatenate(vectors), dtype=np.float32)
        return cls(encoder.id, list(by_name.values()), passages, sentences, matrix, unit_tokens)

    def _per_document(self) -> dict[str, tuple[np.ndarray, list[list[str]]]]:
        rows: dict[str, list[int]] = {}
        for i, s in enumerate(self.sentences):
            rows.setdefault(s.doc, []).append(i)
        return {
            d.content_hash: (self.vectors[rows[d.name]], [self.unit_tokens[i] for i in rows[d.name]])
            for d in self.documents
            if d.name in rows
        }

    # ---- saving -----------------------------------------------------------------------------

    def save(self, folder: str | Path) -> None:
        """Write the index into a new data folder inside ``folder``, then switch ``manifest.json``
        to it with one atomic rename: a save stopped at any moment (even by SIGKILL or a power cut)
        leaves the old index or the new one, never a mix. Data folders no manifest names — the one
        replaced, leftovers of interrupted saves — are removed afterwards; nothing else in
        ``folder`` is touched."""
        folder = store_folder(folder)
        with store_lock(folder):
            data = Path(tempfile.mkdtemp(prefix=DATA_PREFIX, dir=folder))
            try:
                manifest = self._write(data)
                _fsync_dir(folder)
                _kill_point("written")
                _publish(folder, {**manifest, "folder": data.name})
            except BaseException:
                shutil.rmtree(data, ignore_errors=True)
                raise
            _kill_point("published")
            _remove_stale(folder, data.name)

    def _write(self, data: Path) -> dict:
        """Write the data files into ``data``, flushed to disk; return the manifest that describes them."""
        with open(data / "documents.jsonl", "w", encoding="utf-8") as f:
            for d in self.documents:
                f.write(json.dumps({"name": d.name, "text": d.text}, ensure_ascii=False) + "\n")
        with open(data / "passages.jsonl", "w", encoding="utf-8") as f:
            for p in self.passages:
                f.write(
                    json.dumps(
                        {
                            "doc": p.doc,
                            "start": p.span.start,
                            "end": p.span.end,
                            "title": p.title,
                            "section": list(p.section),
                            "item": p.item,
                            **({"page": p.page, "chinese": p.chinese} if p.page else {}),
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
        _kill_point("writing")
        np.save(
            data / "sentences.npy",
            np.array([(s.span.start, s.span.end, s.passage) for s in self.sentences], dtype=np.int64),
        )
        np.save(data / "vectors.npy", self.vectors)
        with open(data / "tokens.jsonl", "w", encoding="utf-8") as f:
            for unit in self.unit_tokens:
                f.write(json.dumps(unit, ensure_ascii=False) + "\n")
        files = _data_file_names(self.store.kind)
        if isinstance(self.store, FaissHNSWStore):
            self.store.save(data / ANN_FILE)
        for name in files:
            with open(data / name, "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(data)
        return {
            "format_version": FORMAT_VERSION,
            "encoder": self.encoder_id,
            "dim": self.dim,
            "vector_store": self.store.kind,
            "documents": [info.__dict__ for info in self.document_infos()],
            "checksums": {name: _sha256(data / name) for name in files},
        }

    @classmethod
    def load(cls, folder: str | Path, encoder_id: str | None = None) -> CorpusIndex:
        """Read a saved index; refuse one of another format or encoder, or one whose files changed.
        A save that replaces the index while it is read makes the read start again on the new one."""
        folder = Path(folder)
        manifest = read_manifest(folder)
        for _ in range(3):
            try:
                return cls._read(folder, manifest, encoder_id)
            except StoreError:
                latest = read_manifest(folder)
                if latest == manifest:
                    raise
                manifest = latest
        return cls._read(folder, manifest, encoder_id)

    @classmethod
    def _read(cls, folder: Path, manifest: dict, encoder_id: str | None) -> CorpusIndex:
        if manifest.get("format_version") != FORMAT_VERSION:
            raise StoreError(
                f"{folder}: index format {manifest.get('format_version')!r}, this version reads "
                f"{FORMAT_VERSION}; re-index with `qa index`"
            )
        if encoder_id is not None and manifest.get("encoder") != encoder_id:
            raise StoreError(
                f"{folder}: built with encoder {manifest.get('encoder')!r}, not {encoder_id!r}; "
                "re-index with this encoder or use the index's own"
            )
        data = data_folder(folder, manifest)
        approximate = manifest.get("vector_store") == FaissHNSWStore.kind
        for name in _data_file_names(manifest.get("vector_store")):
            if not (data / name).is_file() or _sha256(data / name) != manifest["checksums"].get(name):
                raise StoreError(f"{folder}: {name} is missing or was changed since indexing; re-index with `qa index`")
        try:
            with open(data / "documents.jsonl", encoding="utf-8") as f:
                from qa.documents import make_document

                documents = [make_document(r["name"], r["text"]) for r in map(json.loads, f)]
            with open(data / "passages.jsonl", encoding="utf-8") as f:
                passages = [
                    Passage(
                        r["doc"],
                        Span(r["start"], r["end"]),
                        r["title"],
                        tuple(r["section"]),
                        r["item"],
                        r.get("page", 0),
                        r.get("chinese", False),
                    )
                    for r in map(json.loads, f)
                ]
            rows = np.load(data / "sentences.npy")
            sentences = [Sentence(passages[int(p)].doc, Span(int(a), int(b)), int(p)) for a, b, p in rows]
            vectors = np.load(data / "vectors.npy")
            with open(data / "tokens.jsonl", encoding="utf-8") as f:
                unit_tokens = [json.loads(line) for line in f]
            store = FaissHNSWStore.load(data / ANN_FILE) if approximate else None
        except (OSError, ValueError, KeyError, IndexError, RuntimeError) as exc:
            raise StoreError(
                f"{folder}: unreadable index ({type(exc).__name__}: {exc}); re-index with `qa index`"
            ) from exc  # kept: a fault of this code's own would otherwise pass for a damaged store
        if vectors.shape != (len(sentences), manifest.get("dim")):
            raise StoreError(f"{folder}: vectors do not match the manifest; re-index with `qa index`")
        return cls(manifest["encoder"], documents, passages, sentences, vectors, unit_tokens, store)


def store_folder(folder: str | Path) -> Path:
    """``folder`` as a store folder to write into: created if missing, refused if it is a file."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise StoreError(f"{folder}: not a folder; name a folder for the index")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _data_file_names(store_kind: str | None) -> tuple[str, ...]:
    """The data files of an index whose vector store is of ``store_kind``: an approximate store
    keeps its graph beside the others."""
    return (*_FILES, ANN_FILE) if store_kind == FaissHNSWStore.kind else _FILES


def read_manifest(folder: Path) -> dict:
    """The manifest of the index in ``folder``, refused when it is missing, unreadable or (in this
    format) changed since it was written."""
    path = folder / MANIFEST
    if not path.is_file():
        raise StoreError(f"{folder}: no index here (no {MANIFEST}); build one with `qa index`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"{folder}: unreadable {MANIFEST} ({exc}); re-index with `qa index`") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("checksums"), dict):
        raise StoreError(f"{folder}: {MANIFEST} is not an index manifest; re-index with `qa index`")
    if manifest.get("format_version") == FORMAT_VERSION and manifest.get(SEAL) != _seal_of(manifest):
        raise StoreError(f"{folder}: {MANIFEST} was changed since indexing; re-index with `qa index`")
    return manifest


def data_folder(folder: Path, manifest: dict) -> Path:
    """Where the data files of the index in ``folder`` are: the data folder its manifest names."""
    name = manifest.get("folder")
    if not isinstance(name, str) or not name.startswith(DATA_PREFIX) or Path(name).name != name:
        raise StoreError(f"{folder}: {MANIFEST} names no data folder of its own; re-index with `qa index`")
    return folder / name


def _seal_of(manifest: dict) -> str:
    body = {key: value for key, value in manifest.items() if key != SEAL}
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(folder: Path, manifest: dict) -> None:
    """Make ``manifest`` (sealed) the store's manifest with one atomic rename."""
    fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({**manifest, SEAL: _seal_of(manifest)}, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        _kill_point("publishing")
        os.replace(tmp, folder / MANIFEST)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


def _remove_stale(folder: Path, keep: str) -> None:
    """Remove the data folders other than ``keep`` (a folder named so that holds anything but data
    files is not one) and temporary manifests of interrupted saves."""
    for path in sorted(folder.iterdir()):
        if path.name.startswith(DATA_PREFIX) and path.name != keep and _holds_only_data(path):
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(".manifest.") and path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)
        else:
            continue
        _kill_point("removing")


def _holds_only_data(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and all(p.name in _ANY_DATA_FILE for p in path.iterdir())


def _kill_point(stage: str) -> None:
    """Test hook: with ``QA_TEST_KILL_AT=<stage>`` in the environment the process SIGKILLs itself
    here, so that a test can prove a save stopped at that stage leaves a loadable store. Stages, in
    order: writing, written, publishing, published, removing."""
    if os.environ.get("QA_TEST_KILL_AT") == stage:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
