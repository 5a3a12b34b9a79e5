"""The assistant: documents in, questions answered with an exact span, its quote and its sources.

``ask`` runs five steps: clean the question, retrieve (dense and keyword search, fused), gate (a
name no document uses is refused before reading), read (a ``Reader`` picks the span or refuses)
and quote (the sentence that holds the span, with its place in the document).
"""

from __future__ import annotations

import bisect
import functools
import logging
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from embeddings.encoder import DEFAULT_ENCODER, Encoder, load_encoder
from qa.crosslingual import bridge, translation_boosts
from qa.documents import Document, DocumentError, expand_paths, read_document
from qa.gate import corpus_scripts, cross_lingual, missing_words, never_mentioned
from qa.index import CorpusIndex, read_manifest
from qa.location import MilvusLocation, parse_location
from qa.question import Question, analyse, bridged
from qa.quote import paragraph_sentences, quote_window, widen_to_context
from qa.reading import DEFAULT_READER, READERS
from qa.reading.hybrid import HybridModel, HybridReader
from qa.reading.reader import (
    Evidence,
    Reader,
    ReaderSettings,
    Reading,
    ReadPassage,
    Refusal,
    TrainedReader,
    passages_to_read,
)
from qa.reading.widen import bare_quantity
from qa.retrieve import DENSE_K, KEYWORD_K, KEYWORD_WEIGHT, SentenceHit, combine, rank_passages
from qa.rules_reader import RulesReader
from qa.text import is_cjk, one_line
from qa.types import Answer, Quote, Source, Span, Timings

MAX_QUESTION_CHARS = 2000
SOURCES = 5
BRIDGED_KEYWORD_WEIGHT = 0.25  # for an English question, searched by translations that often miss the sense


class QuestionError(ValueError):
    """A question that cannot be asked (empty, too long); the message says why."""


def clean_question(text: str) -> str:
    """The question without control characters and surplus spaces; raises ``QuestionError`` when
    nothing is left, it is too long, it has no letters or digits, or it is written mostly in a
    script other than Chinese or Latin."""
    if not isinstance(text, str):
        raise QuestionError("the question must be text")
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    text = " ".join(text.split())
    if not text:
        raise QuestionError("the question is empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(text)} characters long; ask in at most {MAX_QUESTION_CHARS}")
    if not any(ch.isalnum() for ch in text):
        raise QuestionError("the question has no words, only punctuation or symbols")
    letters = [ch for ch in text if ch.isalpha()]
    if letters and sum(ch < "\u0250" or is_cjk(ch) for ch in letters) < len(letters) / 2:
        raise QuestionError("ask in Chinese or English; this question is written in another script")
    return text


class _Clock:
    """Milliseconds since the last lap, and in all."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        lap, self.last = now - self.last, now
        return round(lap * 1000, 3)

    def total(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 2)


@functools.cache
def trained_reader() -> TrainedReader:
    """The shipped span model, loaded once per process."""
    return TrainedReader()


@functools.cache
def hybrid_model() -> HybridModel:
    """The shipped hybrid choice, loaded once per process."""
    return HybridModel.load()


def _hybrid_or_trained(index: CorpusIndex) -> Reader:
    """The hybrid reader, or the trained reader alone over an index of another encoder than the one
    whose retrieval scores the hybrid was fitted on (their cosines lie on another scale)."""
    model = hybrid_model()
    if not model.fits(index.encoder_id):
        logging.getLogger(__name__).warning(
            "the hybrid reader was fitted on retrieval scores of %s; over this index (%s) the trained reader "
            "reads alone",
            model.encoder,
            index.encoder_id,
        )
        return trained_reader()
    return HybridReader(index, trained_reader(), model)


@dataclass(frozen=True)
class _Retrieved:
    question: Question
    hits: list[SentenceHit]
    timings: tuple[float, float, float, float]  # analyse, encode, vector, keyword (ms)


class Assistant:
    """Answers questions over an indexed set of documents."""

    def __init__(
        self, index: CorpusIndex, encoder: Encoder, reader: str | Reader = DEFAULT_READER, gate: bool = True
    ) -> None:
        """``gate``: refuse a question naming what no document mentions before any reader reads it
        (off only to measure what the gate earns: ``python -m eval.fit_hybrid gate``)."""
        if index.encoder_id != encoder.id:
            raise ValueError(f"index built with {index.encoder_id!r}, encoder is {encoder.id!r}")
        if isinstance(reader, str) and reader not in READERS:
            raise ValueError(f"unknown reader {reader!r}; choose one of {', '.join(READERS)}")
        self.index = index
        self.encoder = encoder
        self.reader_spec = reader  # kept so that a new index gets the same kind of reader
        if reader == "rules":
            self.reader: Reader = RulesReader(index)
        elif reader == "trained":
            self.reader = trained_reader()
        elif reader == "hybrid":
            self.reader = _hybrid_or_trained(index)
        else:
            self.reader = reader  # type: ignore[assignment]
        self.gate = gate
        self._scripts = corpus_scripts(index)

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[Document],
        encoder: Encoder | str = DEFAULT_ENCODER,
        progress: Callable[[int, int], None] | None = None,
        reader: str | Reader = DEFAULT_READER,
    ) -> Assistant:
        encoder = load_encoder(encoder) if isinstance(encoder, str) else encoder
        return cls(CorpusIndex.build(documents, encoder, progress=progress), encoder, reader)

    @classmethod
    def from_paths(
        cls,
        paths: Iterable[str | Path],
        encoder: Encoder | str = DEFAULT_ENCODER,
        progress: Callable[[int, int], None] | None = None,
        reader: str | Reader = DEFAULT_READER,
    ) -> Assistant:
        """Read and index files and folders; raises ``DocumentError`` for the first unreadable one."""
        documents = [read_document(p) for p in expand_paths(paths)]
        if not documents:
            raise DocumentError("no documents found (.txt .md .pdf .docx .html)")
        return cls.from_documents(documents, encoder, progress, reader)

    @classmethod
    def load(
        cls,
        folder: str | Path | MilvusLocation,
        encoder: Encoder | str | None = None,
        reader: str | Reader = DEFAULT_READER,
    ) -> Assistant:
        """Open a saved index with the encoder it was built with (or refuse a different one).
        ``folder`` may name a Milvus store: ``milvus:./qa.db`` or ``http://host:19530``."""
        location = parse_location(folder)
        if isinstance(location, MilvusLocation):
            from qa.milvus_store import load_encoder_for, load_index

            chosen = load_encoder_for(location, encoder)
            return cls(load_index(location, chosen.id)[0], chosen, reader)
        folder = location
        if encoder is None:
            encoder = read_manifest(folder).get("encoder", DEFAULT_ENCODER)
        encoder = load_encoder(encoder) if isinstance(encoder, str) else encoder
        return cls(CorpusIndex.load(folder, encoder.id), encoder, reader)

    def save(self, folder: str | Path | MilvusLocation) -> None:
        """Write the index to ``folder`` (a Milvus store: its documents replace the store's)."""
        location = parse_location(folder)
        if isinstance(location, MilvusLocation):
            from qa.store import StoreState, update_store

            update_store(location, self.encoder, self.index.documents, replace=True, known=StoreState(self, None))
            return
        self.index.save(location)

    def with_documents(
        self,
        documents: Sequence[Document],
        remove: Sequence[str] = (),
        progress: Callable[[int, int], None] | None = None,
    ) -> Assistant:
        """A new assistant with ``documents`` added (or replacing those of the same name) and the
        documents named in ``remove`` dropped; unchanged documents are not embedded again."""
        kept = [d for d in self.index.documents if d.name not in set(remove)]
        index = CorpusIndex.build([*kept, *documents], self.encoder, previous=self.index, progress=progress)
        return Assistant(index, self.encoder, self.reader_spec, self.gate)

    # ---- answering ----------------------------------------------------------------------------

    def ask(self, question: str, sources: int = SOURCES) -> Answer:
        """Answer ``question`` from the documents, or say that they hold no answer."""
        clock = _Clock()
        text = clean_question(question)
        retrieved = self._retrieve(text, clock)
        hits = retrieved.hits
        ranked = rank_passages(self.index, hits)
        cited = [self._source(p, score) for p, score in ranked[:sources]]

        def done(reason: str = "", answer: str | None = None, quote: Quote | None = None) -> Answer:
            timings = Timings(*retrieved.timings, clock.lap())
            found = answer is not None
            return Answer(text, found, answer, quote, tuple(cited), reason, clock.total(), timings)

        if not hits:
            return done("the documents hold no text to search")
        q = retrieved.question
        missing = missing_words(
            self.index, q, cross_lingual(q, self._scripts), also_english=q.cjk and False in self._scripts
        )
        if self.gate and any(name for _, name in missing):
            return done(never_mentioned(missing))
        reading = self.reader.read(self._evidence(text, retrieved, ranked, missing))
        if isinstance(reading, Refusal):
            return done(reading.reason)
        doc = self.index.texts[reading.doc].text
        start, end = bare_quantity(doc, reading.start, reading.end)
        reading = replace(reading, start=start, end=end)
        quote, passage, score = self._quote(retrieved, reading)
        quote_source = self._source(passage, score)
        where = (quote_source.doc, quote_source.start, quote_source.end)
        same = [c for c in cited if (c.doc, c.start, c.end) == where]
        cited = [same[0] if same else quote_source, *[c for c in cited if c not in same]][: max(1, sources)]
        return done(answer=one_line(doc[start:end]), quote=quote)

    def _retrieve(self, text: str, clock: _Clock) -> _Retrieved:
        """The question analysed (an English question over Chinese text also by the Chinese words
        its words translate to) and the sentences that match it best, dense and keyword fused."""
        q = analyse(text)
        boosts = None
        if not q.cjk and cross_lingual(q, self._scripts):  # English over Chinese-only text
            pairs = bridge(q.text, self.index.keywords.__contains__)
            q, boosts = bridged(q, pairs), translation_boosts(pairs)
        analyse_ms = clock.lap()
        vector = self.encoder.encode_queries([q.norm])
        encode_ms = clock.lap()
        dense = self.index.store.search(vector, DENSE_K)
        vector_ms = clock.lap()
        keyword = self.index.keywords.search(list(q.terms), KEYWORD_K, boosts)
        keyword_ms = clock.lap()
        weight = KEYWORD_WEIGHT if boosts is None else BRIDGED_KEYWORD_WEIGHT
        hits = combine(self.index, vector, dense, keyword, weight)
        return _Retrieved(q, hits, (analyse_ms, encode_ms, vector_ms, keyword_ms))

    def _evidence(
        self, text: str, retrieved: _Retrieved, ranked: list[tuple[int, float]], missing: list[tuple[str, bool]]
    ) -> Evidence:
        """What the reader gets: the question, the best passages (as many as the reader's settings
        ask, else ``ReaderSettings``': ``passages_to_read``), the sentence hits and the nouns no
        document uses."""
        settings = getattr(self.reader, "settings", None)
        settings = settings if isinstance(settings, ReaderSettings) else ReaderSettings()
        candidates = ranked[: max(settings.passages, settings.max_passages)]
        count = passages_to_read([len(self.index.passages[i].span) for i, _ in candidates], settings)
        passages = []
        for i, score in candidates[:count]:
            p = self.index.passages[i]
            passages.append(ReadPassage(p.doc, p.span.start, self.index.text(p.doc, p.span), score))
        return Evidence(text, retrieved.question, tuple(passages), tuple(retrieved.hits), tuple(missing))

    def _quote(self, retrieved: _Retrieved, reading: Reading) -> tuple[Quote, int, float]:
        """The quote for ``reading``: the reader's own where it proposes one, else the clauses of
        the sentence around the answer; widened by neighbouring sentences where it is short. With
        it, the passage that holds it and that passage's retrieval score."""
        i = reading.sentence if reading.sentence is not None else self._sentence_at(reading.doc, reading.start)
        sentence = self.index.sentences[i]
        doc = self.index.texts[sentence.doc].text
        answer = Span(reading.start, reading.end)
        span = reading.quote or quote_window(doc, sentence.span, answer, retrieved.question)
        span = Span(min(span.start, answer.start), max(span.end, answer.end))
        fused = {h.sentence: h.score for h in retrieved.hits}
        backward = retrieved.question.why or fused.get(i - 1, 0.0) > fused.get(i + 1, 0.0)
        span = widen_to_context(span, paragraph_sentences(self.index, i), backward)
        passage = self.index.passages[sentence.passage]
        quote = Quote(
            sentence.doc,
            passage.locator,
            span.start,
            span.end,
            doc[span.start : span.end],
            answer.start,
            answer.end,
            passage.page,
        )
        return quote, sentence.passage, fused.get(i, retrieved.hits[0].score)

    def _sentence_at(self, doc: str, offset: int) -> int:
        """The index of the sentence of ``doc`` that holds character ``offset`` (or the one after)."""
        starts, ends, indices = self._sentences_by_doc[doc]
        k = bisect.bisect_right(starts, offset) - 1
        if k >= 0 and offset < ends[k]:
            return indices[k]
        if k + 1 >= len(indices):
            raise ValueError(f"no sentence of {doc!r} holds offset {offset}")
        return indices[k + 1]

    @functools.cached_property
    def _sentences_by_doc(self) -> dict[str, tuple[list[int], list[int], list[int]]]:
        """Per document, its sentences' starts and ends in order, and their indices."""
        out: dict[str, tuple[list[int], list[int], list[int]]] = {}
        for i, s in enumerate(self.index.sentences):
            starts, ends, indices = out.setdefault(s.doc, ([], [], []))
            starts.append(s.span.start)
            ends.append(s.span.end)
            indices.append(i)
        return out

    def _source(self, passage_index: int, score: float) -> Source:
        p = self.index.passages[passage_index]
        text = self.index.text(p.doc, p.span)
        return Source(p.doc, p.locator, p.span.start, p.span.end, text, round(score, 4), p.page)
