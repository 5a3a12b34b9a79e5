"""The searchable corpus: documents, passages, sentences, their vectors and keyword index;
built incrementally and saved as a folder of plain files with a manifest."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
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
from qa.text import normalise, tokens
from qa.types import Document, Passage, Sentence, Span

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_FILES = ("documents.jsonl", "passages.jsonl", "sentences.npy", "vectors.npy", "tokens.jsonl")
ANN_FILE = "ann.faiss"  # the approximate index's graph, saved only for large collections


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
    ) -> CorpusIndex:
        """Index ``documents`` (later ones with the same name replace earlier ones). Documents whose
        text is unchanged since ``previous`` reuse its vectors; only the others are embedded."""
        by_name: dict[str, Document] = {}
        for doc in documents:
            by_name[doc.name] = doc
        reusable: dict[str, tuple[np.ndarray, list[list[str]]]] = {}
        if previous is not None and previous.encoder_id == encoder.id:
            reusable = previous._per_document()
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
        """Write the index as a folder of plain files; the old folder is replaced only once the
        new one is complete on disk."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            self._write(tmp)
            _replace_folder(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _write(self, tmp: Path) -> None:
        with open(tmp / "documents.jsonl", "w", encoding="utf-8") as f:
            for d in self.documents:
                f.write(json.dumps({"name": d.name, "text": d.text}, ensure_ascii=False) + "\n")
        with open(tmp / "passages.jsonl", "w", encoding="utf-8") as f:
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
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
        np.save(
            tmp / "sentences.npy",
            np.array([(s.span.start, s.span.end, s.passage) for s in self.sentences], dtype=np.int64),
        )
        np.save(tmp / "vectors.npy", self.vectors)
        with open(tmp / "tokens.jsonl", "w", encoding="utf-8") as f:
            for unit in self.unit_tokens:
                f.write(json.dumps(unit, ensure_ascii=False) + "\n")
        files = list(_FILES)
        if isinstance(self.store, FaissHNSWStore):
            self.store.save(tmp / ANN_FILE)
            files.append(ANN_FILE)
        manifest = {
            "format_version": FORMAT_VERSION,
            "encoder": self.encoder_id,
            "dim": self.dim,
            "vector_store": self.store.kind,
            "documents": [info.__dict__ for info in self.document_infos()],
            "checksums": {name: _sha256(tmp / name) for name in files},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        for name in (*files, MANIFEST):
            with open(tmp / name, "rb") as f:
                os.fsync(f.fileno())

    @classmethod
    def load(cls, folder: str | Path, encoder_id: str | None = None) -> CorpusIndex:
        """Read a saved index; refuse one of another format or encoder, or one whose files changed."""
        folder = Path(folder)
        manifest = read_manifest(folder)
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
        approximate = manifest.get("vector_store") == FaissHNSWStore.kind
        for name in (*_FILES, ANN_FILE) if approximate else _FILES:
            if not (folder / name).is_file() or _sha256(folder / name) != manifest["checksums"].get(name):
                raise StoreError(f"{folder}: {name} is missing or was changed since indexing; re-index with `qa index`")
        try:
            with open(folder / "documents.jsonl", encoding="utf-8") as f:
                from qa.documents import make_document

                documents = [make_document(r["name"], r["text"]) for r in map(json.loads, f)]
            with open(folder / "passages.jsonl", encoding="utf-8") as f:
                passages = [
                    Passage(r["doc"], Span(r["start"], r["end"]), r["title"], tuple(r["section"]), r["item"])
                    for r in map(json.loads, f)
                ]
            rows = np.load(folder / "sentences.npy")
            sentences = [Sentence(passages[int(p)].doc, Span(int(a), int(b)), int(p)) for a, b, p in rows]
            vectors = np.load(folder / "vectors.npy")
            with open(folder / "tokens.jsonl", encoding="utf-8") as f:
                unit_tokens = [json.loads(line) for line in f]
            store = FaissHNSWStore.load(folder / ANN_FILE) if approximate else None
        except (OSError, ValueError, KeyError, IndexError, RuntimeError) as exc:
            raise StoreError(
                f"{folder}: unreadable index ({type(exc).__name__}: {exc}); re-index with `qa index`"
            ) from None
        if vectors.shape != (len(sentences), manifest.get("dim")):
            raise StoreError(f"{folder}: vectors do not match the manifest; re-index with `qa index`")
        return cls(manifest["encoder"], documents, passages, sentences, vectors, unit_tokens, store)


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise StoreError(f"{folder}: no index here (no {MANIFEST}); build one with `qa index`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"{folder}: unreadable {MANIFEST} ({exc}); re-index with `qa index`") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("checksums"), dict):
        raise StoreError(f"{folder}: {MANIFEST} is not an index manifest; re-index with `qa index`")
    return manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _replace_folder(new: Path, target: Path) -> None:
    """Move ``new`` into place of ``target``: rename the old folder aside, rename the new one in,
    then delete the old one."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.rename(target, old)
    os.rename(new, target)
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
