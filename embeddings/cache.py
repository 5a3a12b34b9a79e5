"""An embedding cache: vectors already computed, keyed by encoder id and text, in one SQLite file.

Re-indexing unchanged text costs a lookup instead of a forward pass, whichever store or document
the text came from. SQLite keeps each write atomic and lets several processes share the file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from embeddings.encoder import Encoder, WrappedEncoder

_LOOKUP_BATCH = 500


def default_cache_path() -> Path | None:
    """``$QA_CACHE`` (``off`` for none), else ``$XDG_CACHE_HOME/qa-assistant/embeddings.sqlite``."""
    configured = os.environ.get("QA_CACHE", "").strip()
    if configured.lower() in ("off", "0", "none"):
        return None
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "qa-assistant" / "embeddings.sqlite"


def cache_key(encoder_id: str, text: str) -> bytes:
    return hashlib.sha256(f"{encoder_id}\0{text}".encode()).digest()


class EmbeddingCache:
    """Vectors by ``cache_key``; float32, stored as raw bytes. The file is opened on first use."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            with db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
            self._connection = db
        return self._connection

    def get(self, keys: Sequence[bytes]) -> list[np.ndarray | None]:
        """The cached vector for each key, or None (also for a damaged entry)."""
        found: dict[bytes, bytes] = {}
        with self._lock:
            for i in range(0, len(keys), _LOOKUP_BATCH):
                batch = list(keys[i : i + _LOOKUP_BATCH])
                marks = ",".join("?" * len(batch))
                found.update(self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch))
        blobs = [found.get(key) for key in keys]
        return [np.frombuffer(b, dtype=np.float32) if b and len(b) % 4 == 0 else None for b in blobs]

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class CachedEncoder(WrappedEncoder):
    """An encoder whose passage vectors go through an ``EmbeddingCache``; questions are always
    encoded afresh. It has the wrapped encoder's id, so indexes cannot tell the two apart."""

    def __init__(self, encoder: Encoder, cache: EmbeddingCache) -> None:
        super().__init__(encoder)
        self.cache = cache
        self.hits = 0
        self.misses = 0
        self.error: str | None = None

    def encode_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        if self.error is None:
            try:
                return self._encode_through_cache(texts, progress)
            except (sqlite3.Error, OSError) as exc:  # a broken cache must not stop indexing
                self.error = f"embedding cache {self.cache.path} unusable ({exc}); indexing without it"
                logging.getLogger(__name__).warning(self.error)
        return super().encode_passages(texts, progress=progress)

    def _encode_through_cache(self, texts: Sequence[str], progress: Callable[[int], None] | None) -> np.ndarray:
        keys = [cache_key(self.id, t) for t in texts]
        cached = self.cache.get(keys)
        missing = [i for i, v in enumerate(cached) if v is None]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if progress is not None and len(texts) > len(missing):
            progress(len(texts) - len(missing))
        if missing:
            fresh = self.encoder.encode_passages([texts[i] for i in missing], progress=progress)
            self.cache.put([keys[i] for i in missing], fresh)
            for i, vector in zip(missing, fresh, strict=True):
                cached[i] = vector
        vectors = [v for v in cached if v is not None]  # all of them, now that the missing are filled
        if not vectors:
            raise ValueError("nothing to encode")
        dims = {len(v) for v in vectors}
        if len(dims) != 1:  # a vector cached under this id by another build of the model
            return self._refresh(texts, keys, progress)
        return np.ascontiguousarray(np.stack(vectors), dtype=np.float32)

    def _refresh(self, texts: Sequence[str], keys: list[bytes], progress: Callable[[int], None] | None) -> np.ndarray:
        vectors = self.encoder.encode_passages(texts, progress=progress)
        self.cache.put(keys, vectors)
        return vectors
