"""The assistant: documents in, questions answered with an exact span, its quote and its sources."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from embeddings.encoder import DEFAULT_ENCODER, Encoder, load_encoder
from qa.crosslingual import asked_for, bridge, translation_boosts, unsupported_words
from qa.documents import Document, expand_paths, read_document
from qa.extract import Candidate, candidates
from qa.index import CorpusIndex, read_manifest
from qa.question import Kind, Question, analyse, bridged, entity_words
from qa.reading import DEFAULT_READER, READERS
from qa.reading.reader import Reader, ReaderSettings, ReadPassage, TrainedReader
from qa.retrieve import KEYWORD_WEIGHT, SentenceHit, combine, dense_search, keyword_search, rank_passages
from qa.splitter import clause_spans
from qa.text import cjk_ratio, is_cjk, normalise, tagged_words
from qa.types import Answer, Quote, Source, Span, Timings
from qa.windows import Window, best_window

MAX_QUESTION_CHARS = 2000
SOURCES = 5
READ_SENTENCES = 12
RETRIEVAL_WEIGHT = 0.55  # for numbers, percentages and dates: the unit and the words around decide more
SPAN_RETRIEVAL_WEIGHT = 0.8  # for names and phrases: the sentence that matches decides more
MIN_COVERAGE = 0.25
STRICT_COVERAGE = 0.75
MIN_CROSS_LINGUAL_COSINE = 0.78
QUOTE_CHARS = 120
QUOTE_MIN_CHARS = 70
WINDOW_PASSAGES = 3  # the quote is sought in the best passages, not only around the best sentence
# The best answer's score in a window, beside what the window covers of the question, by the kind
# asked: a number with its unit or a date is found by its kind and tells which window is meant; a
# name less surely; a free phrase (什么, 哪些) is a weak sign.
ANSWER_WEIGHT = 2.0
ANSWER_WEIGHTS = {Kind.PLACE: 1.5, Kind.PERSON: 1.5, Kind.ENTITY: 0.75, Kind.SPAN: 0.75}
DEFINITION_BONUS = 0.3  # 什么是X: the sentence that opens with X
_DOC_DATE = re.compile(r"^(?:时间|日期|发布时间|发布日期|发文日期|成文日期|date|published)\s*[:：]", re.IGNORECASE)
_HOW_END = re.compile(r"(?:怎样|怎么样|如何)?的?[?？。]?$")
BRIDGED_KEYWORD_WEIGHT = 0.25  # for an English question, searched by translations that often miss the sense
_GLUED = set("不会也都就能要将曾已被把对从")  # characters jieba glues to the end of an unknown name
_ABOUT_DOCUMENT = re.compile(r"发布|发表|印发|成文|报告|这份|本文|文件|published|released|dated|issued|report")


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


@dataclass(frozen=True)
class _Pick:
    hit: SentenceHit
    candidate: Candidate
    total: float


_TRAINED: dict[str, TrainedReader] = {}


def load_reader(name: str) -> Reader | None:
    """The reader called ``name``: ``rules`` (None: the assistant's own hand-written rules) or
    ``trained`` (the shipped span model, loaded once per process)."""
    if name == "rules":
        return None
    if name == "trained":
        if "trained" not in _TRAINED:
            _TRAINED["trained"] = TrainedReader()
        return _TRAINED["trained"]
    raise ValueError(f"unknown reader {name!r}; choose one of {', '.join(READERS)}")


class Assistant:
    """Answers questions over an indexed set of documents."""

    def __init__(self, index: CorpusIndex, encoder: Encoder, reader: str | Reader | None = DEFAULT_READER) -> None:
        if index.encoder_id != encoder.id:
            raise ValueError(f"index built with {index.encoder_id!r}, encoder is {encoder.id!r}")
        self.index = index
        self.encoder = encoder
        self.reader = load_reader(reader) if isinstance(reader, str) else reader
        self._corpus_cjk = cjk_ratio("".join(d.text[:2000] for d in index.documents[:50])) >= 0.5
        self._passage_members: dict[int, list[int]] = {}
        for i, s in enumerate(index.sentences):
            self._passage_members.setdefault(s.passage, []).append(i)

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[Document],
        encoder: Encoder | str = DEFAULT_ENCODER,
        progress: Callable[[int, int], None] | None = None,
        reader: str | Reader | None = DEFAULT_READER,
    ) -> Assistant:
        encoder = load_encoder(encoder) if isinstance(encoder, str) else encoder
        return cls(CorpusIndex.build(documents, encoder, progress=progress), encoder, reader)

    @classmethod
    def from_paths(
        cls,
        paths: Iterable[str | Path],
        encoder: Encoder | str = DEFAULT_ENCODER,
        progress: Callable[[int, int], None] | None = None,
        reader: str | Reader | None = DEFAULT_READER,
    ) -> Assistant:
        """Read and index files and folders; raises ``DocumentError`` for the first unreadable one."""
        documents = [read_document(p) for p in expand_paths(paths)]
        if not documents:
            raise ValueError("no documents found (.txt .md .pdf .docx .html)")
        return cls.from_documents(documents, encoder, progress, reader)

    @classmethod
    def load(
        cls, folder: str | Path, encoder: Encoder | str | None = None, reader: str | Reader | None = DEFAULT_READER
    ) -> Assistant:
        """Open a saved index with the encoder it was built with (or refuse a different one)."""
        if encoder is None:
            encoder = read_manifest(Path(folder)).get("encoder", DEFAULT_ENCODER)
        encoder = load_encoder(encoder) if isinstance(encoder, str) else encoder
        return cls(CorpusIndex.load(folder, encoder.id), encoder, reader)

    def save(self, folder: str | Path) -> None:
        self.index.save(folder)

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
        return Assistant(index, self.encoder, self.reader)

    # ---- answering ----------------------------------------------------------------------------

    def ask(self, question: str, sources: int = SOURCES) -> Answer:
        """Answer ``question`` from the documents, or say that they hold no answer."""
        clock = _Clock()
        text = clean_question(question)
        q = analyse(text)
        boosts = None
        if not q.cjk and self._corpus_cjk:
            pairs = bridge(q.text, self.index.keywords.__contains__)
            q, boosts = bridged(q, pairs), translation_boosts(pairs)
        analyse_ms = clock.lap()
        vector = self.encoder.encode_queries([q.norm])
        encode_ms = clock.lap()
        dense = dense_search(self.index, vector)
        vector_ms = clock.lap()
        keyword = keyword_search(self.index, list(q.terms), boosts=boosts)
        keyword_ms = clock.lap()
        hits = combine(self.index, vector, dense, keyword, KEYWORD_WEIGHT if boosts is None else BRIDGED_KEYWORD_WEIGHT)
        cited = self._sources(hits, sources)

        def done(found: bool, answer: str | None = None, quote: Quote | None = None, reason: str = "") -> Answer:
            timings = Timings(analyse_ms, encode_ms, vector_ms, keyword_ms, clock.lap())
            return Answer(text, found, answer, quote, tuple(cited), reason, clock.total(), timings)

        if not hits:
            return done(False, reason="the documents hold no text to search")
        missing = self._missing_words(q)
        if any(name for _, name in missing):
            return done(False, reason=never_mentioned(missing))
        if self.reader is not None:
            return self._read(q, text, hits, cited, sources, done)
        pick = self._pick(q, hits)
        if pick is None:
            if missing:
                return done(False, reason=never_mentioned(missing))
            return done(False, reason=f"no {q.kind.value} answer in the passages that match the question")
        window, pick = self._window(q, hits, pick)
        sentence = self.index.sentences[pick.hit.sentence]
        why_not = self._unsupported(q, pick, [w for w, _ in missing])
        if why_not:
            if missing:
                why_not = never_mentioned(missing)
            return done(False, reason=why_not)
        doc = self.index.texts[sentence.doc].text
        answer_span = Span(sentence.span.start + pick.candidate.start, sentence.span.start + pick.candidate.end)
        fused = {h.sentence: h.score for h in hits}
        i = pick.hit.sentence
        backward = q.why or fused.get(i - 1, 0.0) > fused.get(i + 1, 0.0)
        if window is None or len(window.span) > QUOTE_CHARS:
            quote_span = quote_window(doc, sentence.span, answer_span, q)
        else:
            quote_span = window.span
        quote_span = widen_to_context(quote_span, self._paragraph_sentences(i), backward)
        passage = self.index.passages[sentence.passage]
        quote = Quote(
            sentence.doc,
            passage.locator,
            quote_span.start,
            quote_span.end,
            doc[quote_span.start : quote_span.end],
            answer_span.start,
            answer_span.end,
        )
        quote_source = self._source(sentence.passage, pick.hit.score)
        same = [c for c in cited if (c.doc, c.start, c.end) == (quote_source.doc, quote_source.start, quote_source.end)]
        others = [c for c in cited if c not in same]
        cited = [same[0] if same else quote_source, *others][: max(1, sources)]
        return done(True, doc[answer_span.start : answer_span.end], quote)

    def _read(
        self,
        q: Question,
        text: str,
        hits: list[SentenceHit],
        cited: list[Source],
        sources: int,
        done: Callable[..., Answer],
    ) -> Answer:
        """The trained reader's answer in the best passages, quoted by the sentence that holds it."""
        assert self.reader is not None
        settings = getattr(self.reader, "settings", ReaderSettings())
        ranked = rank_passages(self.index, hits)[: settings.passages]
        passages = [
            ReadPassage(self.index.passages[p].doc, self.index.passages[p].span.start,
                        self.index.text(self.index.passages[p].doc, self.index.passages[p].span), score)
            for p, score in ranked
        ]
        reading = self.reader.read(text, passages)
        if reading is None or reading.margin <= 0:
            return done(False, reason="no answer in the passages that match the question")
        passage_index, score = ranked[reading.passage]
        passage = self.index.passages[passage_index]
        answer_span = Span(passage.span.start + reading.start, passage.span.start + reading.end)
        members = self._passage_members[passage_index]
        holding = [i for i in members if answer_span.start < self.index.sentences[i].span.end]
        i = holding[0] if holding else members[-1]
        sentence = self.index.sentences[i]
        doc = self.index.texts[sentence.doc].text
        quote_span = quote_window(doc, sentence.span, answer_span, q)
        quote_span = Span(min(quote_span.start, answer_span.start), max(quote_span.end, answer_span.end))
        quote_span = widen_to_context(quote_span, self._paragraph_sentences(i), q.why)
        quote = Quote(
            sentence.doc,
            passage.locator,
            quote_span.start,
            quote_span.end,
            doc[quote_span.start : quote_span.end],
            answer_span.start,
            answer_span.end,
        )
        quote_source = self._source(passage_index, score)
        where = (quote_source.doc, quote_source.start, quote_source.end)
        others = [c for c in cited if (c.doc, c.start, c.end) != where]
        cited[:] = [quote_source, *others][: max(1, sources)]
        return done(True, doc[answer_span.start : answer_span.end], quote)

    def _paragraph_sentences(self, index: int) -> list[Span]:
        """The sentences of the paragraph (or item) that holds sentence ``index``, in order:
        neighbours with the same locator and no line break between them."""
        sentences, passages = self.index.sentences, self.index.passages
        here = sentences[index]
        text = self.index.texts[here.doc].text
        locator = passages[here.passage].locator

        def joined(a: int, b: int) -> bool:
            x, y = sentences[a], sentences[b]
            return (
                x.doc == y.doc
                and passages[y.passage].locator == locator
                and "\n" not in text[x.span.end : y.span.start]
            )

        lo = hi = index
        while lo > 0 and joined(lo - 1, lo):
            lo -= 1
        while hi + 1 < len(sentences) and joined(hi, hi + 1):
            hi += 1
        return [s.span for s in sentences[lo : hi + 1]]

    def _window(self, q: Question, hits: list[SentenceHit], pick: _Pick) -> tuple[Window | None, _Pick]:
        """The run of neighbouring sentences to quote, in the best ``WINDOW_PASSAGES`` passages (and
        the passage of ``pick``, the best answer overall), and the best answer inside it. A window
        is judged by what it covers of the question and by the answer it holds: where the answer's
        kind is plain (a number with its unit) that answer weighs much; where it is a free phrase,
        little. The words of the passages' titles say little: an article is about its title."""
        top = hits[0].score or 1.0
        passages = [p for p, _ in rank_passages(self.index, hits)[:WINDOW_PASSAGES]]
        here = self.index.sentences[pick.hit.sentence].passage
        if here not in passages:
            passages.append(here)
        by_sentence = {h.sentence: h for h in hits}
        picks = {pick.hit.sentence: pick}
        for p in passages:
            for i in self._passage_members[p]:
                if i in by_sentence and i not in picks:
                    found = self._pick(q, [by_sentence[i]], top)
                    if found is not None and found.hit.sentence == i:  # not a document's date line
                        picks[i] = found
        groups = [
            [(i, self.index.sentences[i].span, self._normalised_sentence(i)) for i in self._passage_members[p]]
            for p in passages
        ]
        retrieval = {h.sentence: h.score / top for h in hits}
        weight = ANSWER_WEIGHTS.get(q.kind, ANSWER_WEIGHT)
        answers = {i: weight * found.total for i, found in picks.items()}
        topics = {normalise(self.index.passages[p].title) for p in passages}
        window = best_window(
            groups,
            retrieval,
            f"{q.left} {q.right}",
            QUOTE_CHARS,
            answers,
            backward=q.why,
            topics=topics,
            opener=q.defines or described(q),
            words=[w for w, tag in tagged_words(q.norm) if len(w) == 1 and tag == "n" and is_cjk(w)],
        )
        if window is None:
            return None, pick
        inside = [found for i, found in picks.items() if window.first <= i <= window.last]
        if not inside:
            return None, pick  # the answer lies elsewhere (a document's date line): quote around it
        return window, max(inside, key=lambda found: found.total)

    def _normalised_sentence(self, i: int) -> str:
        s = self.index.sentences[i]
        return normalise(self.index.text(s.doc, s.span))

    def _source(self, passage_index: int, score: float) -> Source:
        p = self.index.passages[passage_index]
        return Source(p.doc, p.locator, p.span.start, p.span.end, self.index.text(p.doc, p.span), round(score, 4))

    def _sources(self, hits: list[SentenceHit], k: int) -> list[Source]:
        return [self._source(p, score) for p, score in rank_passages(self.index, hits)[:k]]

    def _term_weights(self, q: Question) -> dict[str, float]:
        keywords = self.index.keywords
        idf = {t: float(keywords.idf[keywords.vocabulary[t]]) for t in q.terms if t in keywords}
        top = max(idf.values(), default=1.0)
        return {t: idf.get(t, top) / top for t in q.terms}

    def _in_corpus(self, word: str) -> bool:
        """The documents use ``word`` — or, where jieba glued a function character to a name
        (锦地罗不需要, 呋塞米会导致), the word without it."""
        forms = [word, word[:-1]] if len(word) >= 3 and word[-1] in _GLUED else [word]
        return any(form in self.index.keywords or form in self.index.normalised_text for form in forms)

    def _missing_words(self, q: Question) -> list[tuple[str, bool]]:
        """The question's nouns and names (with whether each is a name) that no document uses."""
        words = entity_words(q)
        if q.cjk != self._corpus_cjk:
            script = 1.0 if self._corpus_cjk else 0.0
            words = [(w, name) for w, name in words if cjk_ratio(w) == script]
        return [(w, name) for w, name in words if not self._in_corpus(w)]

    def _pick(self, q: Question, hits: list[SentenceHit], top: float | None = None) -> _Pick | None:
        """The best answer span in the best sentences. Where no sentence holds a span of the kind
        asked (a 何时 answered by 「四国征伐后」, a 收视率 given without %), the next looser kind."""
        pool = hits[:READ_SENTENCES]
        if q.kind is Kind.DATE and _ABOUT_DOCUMENT.search(q.norm):
            pool = [*pool, *self._document_dates(hits)]
        fallbacks = {Kind.PERCENT: (Kind.NUMBER,), Kind.DATE: (Kind.SPAN,)}
        for kind in (q.kind, *fallbacks.get(q.kind, ())):
            best = self._pick_of_kind(replace(q, kind=kind), pool, top or hits[0].score or 1.0)
            if best is not None:
                return best
        return None

    def _pick_of_kind(self, q: Question, pool: list[SentenceHit], top: float) -> _Pick | None:
        weights = self._term_weights(q)
        weight = RETRIEVAL_WEIGHT if q.numeric else SPAN_RETRIEVAL_WEIGHT
        best: _Pick | None = None
        for hit in pool:
            sentence = self.index.sentences[hit.sentence]
            text = self.index.text(sentence.doc, sentence.span)
            defines = bool(q.defines) and normalise(text).startswith(q.defines)
            for candidate in candidates(q, text, weights):
                total = weight * hit.score / top + (1 - weight) * candidate.fit + DEFINITION_BONUS * defines
                if best is None or total > best.total:
                    best = _Pick(hit, candidate, total)
        return best

    def _document_dates(self, hits: list[SentenceHit]) -> list[SentenceHit]:
        """The header date lines (时间: …) of the documents that the best hits come from, scored as
        strongly as the best hit: a question about when a report was issued is about them."""
        docs = {self.index.sentences[h.sentence].doc for h in hits[:3]}
        extra = []
        for i, s in enumerate(self.index.sentences):
            if s.doc in docs and _DOC_DATE.match(self.index.text(s.doc, s.span)):
                extra.append(SentenceHit(i, hits[0].score, 1.0, 0.0))
        return extra

    def _unsupported(self, q: Question, pick: _Pick, missing: list[str]) -> str:
        """Why the picked sentence does not answer the question, or "" when it may. Where a noun of
        the question occurs nowhere in the documents (``missing``), the rest of the question must
        be matched closely — unless the passage names the noun's head (本科毕业 → 毕业, 建筑风格 →
        风格): then only a modifier is missing, as a question in other words than the text's has."""
        if pick.hit.keyword == 0.0 and pick.hit.dense == 1.0:
            return ""  # a document's own date line, picked for a question about the document
        if q.cjk == self._corpus_cjk:
            sentence = self.index.sentences[pick.hit.sentence]
            passage = self.index.passages[sentence.passage]
            context = normalise(" ".join([self.index.text(passage.doc, passage.span), passage.title, *passage.section]))
            weights = self._term_weights(q)
            total = sum(weights.values())
            covered = sum(w for t, w in weights.items() if t in context)
            strict = any(not self._head_named(word, context) for word in missing)
            if total and covered / total < (STRICT_COVERAGE if strict else MIN_COVERAGE):
                return "the best passage matches too few of the question's words"
        elif self._corpus_cjk:
            unknown, known = unsupported_words(q.text, self.index.normalised_text)
            share = len(unknown) / known if known else 0.0
            asked = asked_for(q.text)
            if share >= 0.5 or (share > 0.25 and pick.hit.dense < MIN_CROSS_LINGUAL_COSINE) or asked in unknown:
                return "the documents never speak of " + ", ".join(unknown)
        return ""

    def _head_named(self, word: str, context: str) -> bool:
        """Whether ``context`` holds the head of compound ``word``: a word of the documents, two
        characters or more, that ends it (经纬度 → 纬度; never one character: 市长 is not 长)."""
        return any(word[i:] in self.index.keywords and word[i:] in context for i in range(1, len(word) - 1))


def never_mentioned(missing: list[tuple[str, bool]]) -> str:
    """The reason for a refusal where the question's ``missing`` words occur in no document."""
    return "the documents never mention " + "、".join(w for w, _ in missing)


def described(q: Question) -> str:
    """What a question asks to be described — 花 of 黄蝉的花是什么样子, 上部叶 of 长柄艾纳香的上部叶有什么特点 —
    or "": a sentence that opens with it describes it."""
    left = _HOW_END.sub("", q.left)
    if q.why or q.numeric or "的" not in left or len(q.right) > 4:
        return ""
    thing = left.rsplit("的", 1)[1].rstrip("是有为在")
    return thing if 0 < len(thing) <= 6 else ""


def widen_to_context(quote: Span, sentences: list[Span], backward_first: bool = False) -> Span:
    """A quote shorter than ``QUOTE_MIN_CHARS`` widened by whole neighbouring sentences of its
    paragraph — the next first, or the one before with ``backward_first`` (a why-question, whose
    cause tends to come first, or a previous sentence that matched the question better) — while it
    stays within ``QUOTE_CHARS``: a bare 「他于1990年出生。」 proves nothing without the sentence
    that says who he is."""
    start, end = quote.start, quote.end
    after = [s for s in sentences if s.start >= end]
    before = [s for s in sentences if s.end <= start][::-1]
    while end - start < QUOTE_MIN_CHARS:
        can_after = bool(after) and after[0].end - start <= QUOTE_CHARS
        can_before = bool(before) and end - before[0].start <= QUOTE_CHARS
        if can_after and not (backward_first and can_before):
            end = after.pop(0).end
        elif can_before:
            start = before.pop(0).start
        else:
            break
    return Span(start, end)


def quote_window(doc: str, sentence: Span, answer: Span, q: Question) -> Span:
    """The clauses of the sentence around the answer: the clause that holds it, widened one
    clause at a time towards the clause richest in question terms, then filled up to
    ``QUOTE_CHARS`` with the clauses that follow (an answer often goes on: a list, a description)
    — or, for a why-question, with those before it, where a cause is given."""
    if len(sentence) <= QUOTE_CHARS:
        return sentence
    clauses = clause_spans(doc, sentence)
    inside = [i for i, c in enumerate(clauses) if c.start < answer.end and answer.start < c.end]
    if not inside:
        return sentence
    lo, hi = inside[0], inside[-1]

    def overlap(i: int) -> int:
        text = normalise(doc[clauses[i].start : clauses[i].end])
        return sum(len(t) for t in q.terms if t in text)

    while True:
        options = []
        if lo > 0:
            options.append((overlap(lo - 1), 1, lo - 1, hi))
        if hi + 1 < len(clauses):
            options.append((overlap(hi + 1), 0, lo, hi + 1))
        options = [o for o in options if clauses[o[3]].end - clauses[o[2]].start <= QUOTE_CHARS and o[0] > 0]
        if not options:
            break
        _, _, lo, hi = max(options)
    lo, hi = fill_clauses(clauses, lo, hi, QUOTE_CHARS, backward_first=q.why)
    start, end = clauses[lo].start, clauses[hi].end
    while end > start + 1 and doc[end - 1] in "，,、：:":
        end -= 1
    return Span(start, max(end, answer.end))


def fill_clauses(clauses: list[Span], lo: int, hi: int, limit: int, backward_first: bool = False) -> tuple[int, int]:
    """Clauses ``lo``..``hi`` widened one clause at a time — the next one first, or the one before
    with ``backward_first`` — while they cover at most ``limit`` characters."""
    while True:
        after = hi + 1 < len(clauses) and clauses[hi + 1].end - clauses[lo].start <= limit
        before = lo > 0 and clauses[hi].end - clauses[lo - 1].start <= limit
        if after and not (backward_first and before):
            hi += 1
        elif before:
            lo -= 1
        else:
            return lo, hi
