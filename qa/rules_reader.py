"""The rules reader: the hand-written answerer, as one implementation of ``Reader``.

It reads the question's kind (number, percentage, date, time of day, place, person, phrase) and
unit (``qa/question.py``), picks the best typed candidate span (``qa/extract.py``) in the best
retrieved sentences, scores runs of neighbouring sentences as the quote (``qa/windows.py``), and
refuses where the best passage matches too little of the question. Its weights were set by hand on
questions over the bundled report; they live in ``RulesSettings``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from qa.crosslingual import asked_for, unsupported_words
from qa.extract import Candidate, candidates
from qa.gate import corpus_scripts, cross_lingual, never_mentioned
from qa.index import CorpusIndex
from qa.question import Kind, Question
from qa.quote import QUOTE_CHARS
from qa.reading.reader import Evidence, Reading, Refusal
from qa.reading.widen import widen_span
from qa.retrieve import SentenceHit, rank_passages
from qa.text import is_cjk, normalise, tagged_words
from qa.windows import Window, best_window

_DOC_DATE = re.compile(r"^(?:时间|日期|发布时间|发布日期|发文日期|成文日期|date|published)\s*[:：]", re.IGNORECASE)
_HOW_END = re.compile(r"(?:怎样|怎么样|如何)?的?[?？。]?$")
_ABOUT_DOCUMENT = re.compile(r"发布|发表|印发|成文|报告|这份|本文|文件|published|released|dated|issued|report")


@dataclass(frozen=True)
class RulesSettings:
    """The rules reader's hand-set weights (set on the bundled report's questions)."""

    read_sentences: int = 12
    retrieval_weight: float = 0.55  # for numbers, percentages and dates: the unit and the words around decide more
    span_retrieval_weight: float = 0.8  # for names and phrases: the sentence that matches decides more
    min_coverage: float = 0.25
    strict_coverage: float = 0.75
    min_cross_lingual_cosine: float = 0.78
    window_passages: int = 3  # the quote is sought in the best passages, not only around the best sentence
    # The best answer's score in a window, beside what the window covers of the question, by the kind
    # asked: a number with its unit or a date is found by its kind and tells which window is meant; a
    # name less surely; a free phrase (什么, 哪些) is a weak sign.
    answer_weight: float = 2.0
    answer_weights: dict[Kind, float] = field(
        default_factory=lambda: {Kind.PLACE: 1.5, Kind.PERSON: 1.5, Kind.ENTITY: 0.75, Kind.SPAN: 0.75}
    )
    definition_bonus: float = 0.3  # 什么是X: the sentence that opens with X


@dataclass(frozen=True)
class _Pick:
    hit: SentenceHit
    candidate: Candidate
    total: float


class RulesReader:
    """Reads with hand-written rules over the assistant's index (it needs the sentences and the
    keyword statistics, not only the passages' text)."""

    def __init__(self, index: CorpusIndex, settings: RulesSettings | None = None) -> None:
        self.index = index
        self.settings = settings or RulesSettings()
        self._scripts = corpus_scripts(index)
        self._passage_members: dict[int, list[int]] = {}
        for i, s in enumerate(index.sentences):
            self._passage_members.setdefault(s.passage, []).append(i)

    def read(self, evidence: Evidence) -> Reading | Refusal:
        q, hits, missing = evidence.question, list(evidence.hits), list(evidence.missing)
        pick = self._pick(q, hits)
        if pick is None:
            if missing:
                return Refusal(never_mentioned(missing))
            return Refusal(f"no {q.kind.value} answer in the passages that match the question")
        window, pick = self._window(q, hits, pick)
        why_not = self._unsupported(q, pick, [w for w, _ in missing])
        if why_not:
            return Refusal(never_mentioned(missing) if missing else why_not)
        sentence = self.index.sentences[pick.hit.sentence]
        # a candidate found by the question's words can stop inside a word or a quantity
        text = self.index.text(sentence.doc, sentence.span)
        start, end = (sentence.span.start + at for at in widen_span(text, pick.candidate.start, pick.candidate.end))
        quote = window.span if window is not None and len(window.span) <= QUOTE_CHARS else None
        return Reading(sentence.doc, start, end, pick.total, 1.0, pick.hit.sentence, quote)

    def _pick(self, q: Question, hits: list[SentenceHit], top: float | None = None) -> _Pick | None:
        """The best answer span in the best sentences. Where no sentence holds a span of the kind
        asked (a 何时 answered by 「四国征伐后」, a 收视率 given without %), the next looser kind."""
        pool = hits[: self.settings.read_sentences]
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
        weight = self.settings.retrieval_weight if q.numeric else self.settings.span_retrieval_weight
        best: _Pick | None = None
        for hit in pool:
            sentence = self.index.sentences[hit.sentence]
            text = self.index.text(sentence.doc, sentence.span)
            defines = bool(q.defines) and normalise(text).startswith(q.defines)
            for candidate in candidates(q, text, weights):
                total = (
                    weight * hit.score / top + (1 - weight) * candidate.fit + self.settings.definition_bonus * defines
                )
                if best is None or total > best.total:
                    best = _Pick(hit, candidate, total)
        return best

    def _window(self, q: Question, hits: list[SentenceHit], pick: _Pick) -> tuple[Window | None, _Pick]:
        """The run of neighbouring sentences to quote, in the best ``self.settings.window_passages`` passages (and
        the passage of ``pick``, the best answer overall), and the best answer inside it. A window
        is judged by what it covers of the question and by the answer it holds: where the answer's
        kind is plain (a number with its unit) that answer weighs much; where it is a free phrase,
        little. The words of the passages' titles say little: an article is about its title."""
        top = hits[0].score or 1.0
        passages = [p for p, _ in rank_passages(self.index, hits)[: self.settings.window_passages]]
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
        weight = self.settings.answer_weights.get(q.kind, self.settings.answer_weight)
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

    def _term_weights(self, q: Question) -> dict[str, float]:
        keywords = self.index.keywords
        idf = {t: float(keywords.idf[keywords.vocabulary[t]]) for t in q.terms if t in keywords}
        top = max(idf.values(), default=1.0)
        return {t: idf.get(t, top) / top for t in q.terms}

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
        if not cross_lingual(q, self._scripts):
            sentence = self.index.sentences[pick.hit.sentence]
            passage = self.index.passages[sentence.passage]
            context = normalise(" ".join([self.index.text(passage.doc, passage.span), passage.title, *passage.section]))
            weights = self._term_weights(q)
            total = sum(weights.values())
            covered = sum(w for t, w in weights.items() if t in context)
            strict = any(not self._head_named(word, context) for word in missing)
            if total and covered / total < (self.settings.strict_coverage if strict else self.settings.min_coverage):
                return "the best passage matches too few of the question's words"
        elif not q.cjk:  # an English question over Chinese-only documents
            unknown, known = unsupported_words(q.text, self.index.normalised_text)
            share = len(unknown) / known if known else 0.0
            asked = asked_for(q.text)
            if (
                share >= 0.5
                or (share > 0.25 and pick.hit.dense < self.settings.min_cross_lingual_cosine)
                or asked in unknown
            ):
                return "the documents never speak of " + ", ".join(unknown)
        return ""

    def _head_named(self, word: str, context: str) -> bool:
        """Whether ``context`` holds the head of compound ``word``: a word of the documents, two
        characters or more, that ends it (经纬度 → 纬度; never one character: 市长 is not 长)."""
        return any(word[i:] in self.index.keywords and word[i:] in context for i in range(1, len(word) - 1))


def described(q: Question) -> str:
    """What a question asks to be described — 花 of 黄蝉的花是什么样子, 上部叶 of 长柄艾纳香的上部叶有什么特点 —
    or "": a sentence that opens with it describes it."""
    left = _HOW_END.sub("", q.left)
    if q.why or q.numeric or "的" not in left or len(q.right) > 4:
        return ""
    thing = left.rsplit("的", 1)[1].rstrip("是有为在")
    return thing if 0 < len(thing) <= 6 else ""
