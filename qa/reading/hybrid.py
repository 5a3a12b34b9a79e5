"""The hybrid reader: the rules reader and the trained reader both read, and a model fitted on
held-out questions decides which span to give, or to refuse.

Neither reader is right everywhere: the rules find numbers with units and dates in Chinese reports
well and do poorly elsewhere; the span model reads any genre and language but its no-answer score
refuses many answerable questions. ``HybridReader`` describes each question by a few numbers
(``features``: the span model's margin, whether the two spans agree, the kind asked and the kind
found, retrieval scores) and three logistic models, fitted on the calibration half of the validation
split by ``python -m eval.fit_hybrid``, give the chance that each reader's span is right and the
chance that the documents answer the question at all. The more likely span is given when the
documents seem to answer (that chance reaches its fitted threshold) and the span's own chance
reaches the other; else the documents do not say.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qa.index import CorpusIndex
from qa.reading.reader import (
    Evidence,
    PassageRead,
    ReaderError,
    ReaderSettings,
    Reading,
    Refusal,
    TrainedReader,
    choose,
)
from qa.rules_reader import RulesReader
from qa.text import cjk_ratio

DEFAULT_HYBRID_MODEL = Path(__file__).resolve().parent.parent / "models" / "hybrid.json"

FEATURES = (
    "bias",
    "trained_margin",  # span score minus no-answer score, clipped to ±10
    "trained_found",
    "rules_found",
    "agree",  # the two spans overlap
    "trained_length",  # log(1 + characters)
    "rules_length",
    "numeric_question",  # asks for a number, percentage or date
    "trained_digit",  # the trained span holds a digit
    "rules_digit",
    "rules_score",
    "cross_lingual",  # the question's script is not the best passage's
    "top_dense",  # cosine of the best sentence hit
    "top_keyword",  # log(1 + BM25) of the best sentence hit
    "missing",  # nouns of the question that no document uses
    "trained_in_best_passage",
)

_DIGIT = re.compile(r"\d|[一二三四五六七八九十百千万亿两]")


@dataclass(frozen=True)
class HybridModel:
    """Logistic models over ``FEATURES`` (coefficients in that order), as ``eval/fit_hybrid.py``
    writes them: the chance that the trained span is right, that the rules span is right, and that
    the documents answer the question; ``threshold`` is the least chance of a right span given,
    ``answerable_threshold`` the least chance that the documents answer. Without an ``answerable``
    model (files of format 1) only the span's chance decides. ``encoder``: the id of the encoder
    whose retrieval scores (``top_dense``) the models were fitted on; another encoder's cosines lie
    on another scale, and would read as other evidence."""

    trained: tuple[float, ...]
    rules: tuple[float, ...]
    threshold: float
    answerable: tuple[float, ...] | None = None
    answerable_threshold: float = 0.0
    encoder: str | None = None

    @classmethod
    def load(cls, path: str | Path = DEFAULT_HYBRID_MODEL) -> HybridModel:
        path = Path(path)
        if not path.is_file():
            raise ReaderError(f"the hybrid reader's model is missing: {path} (python -m eval.fit_hybrid writes it)")
        meta = json.loads(path.read_text(encoding="utf-8"))
        if tuple(meta["features"]) != FEATURES:
            raise ReaderError(f"{path} was fitted on other features; fit it again (python -m eval.fit_hybrid)")
        answerable = meta.get("answerable")
        return cls(
            tuple(meta["trained"]),
            tuple(meta["rules"]),
            float(meta["threshold"]),
            tuple(answerable) if answerable is not None else None,
            float(meta.get("answerable_threshold", 0.0)),
            meta.get("encoder"),
        )

    def chances(self, x: dict[str, float]) -> tuple[float, float]:
        """The chance that the trained span and that the rules span is right."""
        return _logistic(self.trained, x), _logistic(self.rules, x)

    def fits(self, encoder_id: str) -> bool:
        """Whether these models can read the retrieval scores of an index built with ``encoder_id``."""
        return self.encoder is None or self.encoder == encoder_id

    def answerable_chance(self, x: dict[str, float]) -> float:
        """The chance that the documents answer the question at all (1 without that model)."""
        return _logistic(self.answerable, x) if self.answerable is not None else 1.0

    def decide(self, x: dict[str, float]) -> str | None:
        """Which span to give, ``"trained"`` or ``"rules"``, or None to refuse: the more likely
        right of those found, where both thresholds are reached."""
        p_trained, p_rules = self.chances(x)
        options = [(p, name) for p, name in ((p_trained, "trained"), (p_rules, "rules")) if x[f"{name}_found"]]
        if not options:
            return None
        p, name = max(options)
        if p < self.threshold or self.answerable_chance(x) < self.answerable_threshold:
            return None
        return name


def _logistic(weights: tuple[float, ...], x: dict[str, float]) -> float:
    z = sum(w * x[name] for w, name in zip(weights, FEATURES, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True)
class Observation:
    """Both readers' answers to one question, and the features the choice between them reads."""

    rules: Reading | Refusal
    trained: Reading | None  # the trained reader's best span whatever its margin
    features: dict[str, float]


def _overlap(a: Reading, b: Reading) -> bool:
    return a.doc == b.doc and a.start < b.end and b.start < a.end


def features(
    evidence: Evidence,
    rules: Reading | Refusal,
    trained: Reading | None,
    trained_null_margin: float,
    text: dict[str, str],
) -> dict[str, float]:
    """The numbers the hybrid reader decides by. ``trained_null_margin`` is the trained span's
    score minus the no-answer score; ``text`` maps a document to its text."""
    q = evidence.question
    r = rules if isinstance(rules, Reading) else None
    r_span = text[r.doc][r.start : r.end] if r else ""
    t_span = text[trained.doc][trained.start : trained.end] if trained else ""
    best = evidence.passages[0] if evidence.passages else None
    top = evidence.hits[0] if evidence.hits else None
    return {
        "bias": 1.0,
        "trained_margin": max(-10.0, min(10.0, trained_null_margin)) if trained else -10.0,
        "trained_found": float(trained is not None),
        "rules_found": float(r is not None),
        "agree": float(r is not None and trained is not None and _overlap(r, trained)),
        "trained_length": math.log1p(len(t_span)),
        "rules_length": math.log1p(len(r_span)),
        "numeric_question": float(q.numeric),
        "trained_digit": float(bool(_DIGIT.search(t_span))),
        "rules_digit": float(bool(_DIGIT.search(r_span))),
        "rules_score": r.score if r else 0.0,
        "cross_lingual": float(best is not None and q.cjk != (cjk_ratio(best.text) >= 0.5)),
        "top_dense": top.dense if top else 0.0,
        "top_keyword": math.log1p(top.keyword) if top else 0.0,
        "missing": float(len(evidence.missing)),
        "trained_in_best_passage": float(
            trained is not None
            and best is not None
            and best.doc == trained.doc
            and best.start <= trained.start
            and trained.end <= best.start + len(best.text)
        ),
    }


class HybridReader:
    """Reads with both readers and gives the span the fitted model trusts more, or refuses."""

    def __init__(
        self,
        index: CorpusIndex,
        trained: TrainedReader,
        model: HybridModel | None = None,
        rules: RulesReader | None = None,
    ) -> None:
        self.index = index
        self.trained = trained
        self.rules = rules or RulesReader(index)
        self.model = model or HybridModel.load()
        if not self.model.fits(index.encoder_id):
            raise ReaderError(
                f"the hybrid reader was fitted on retrieval scores of {self.model.encoder}, and these documents "
                f"are indexed with {index.encoder_id}: use --reader trained or --reader rules with this encoder"
            )
        self.settings: ReaderSettings = trained.settings  # how many passages the assistant hands over
        self._text = {name: t.text for name, t in index.texts.items()}

    def observe(self, evidence: Evidence, reads: Sequence[PassageRead] | None = None) -> Observation:
        """Both readers' answers to ``evidence`` and the features of the choice; ``reads``: the
        span model's reading of each passage, where the caller has it already."""
        rules = self.rules.read(evidence)
        if reads is None:
            reads = self.trained.read_each(evidence.asked_of_each(), evidence.passages)
        trained = choose(reads, evidence.passages, self.trained.settings)
        null_margin = trained.margin + self.trained.settings.threshold if trained else -math.inf
        return Observation(rules, trained, features(evidence, rules, trained, null_margin, self._text))

    def read(self, evidence: Evidence) -> Reading | Refusal:
        seen = self.observe(evidence)
        choice = self.model.decide(seen.features)
        if choice is None:
            if isinstance(seen.rules, Refusal):
                return seen.rules
            if self.model.answerable_chance(seen.features) < self.model.answerable_threshold:
                return Refusal("the documents do not seem to answer this")
            return Refusal("the readers' answers are too unsure to give")
        reading = seen.trained if choice == "trained" else seen.rules
        assert isinstance(reading, Reading)
        p = self.model.chances(seen.features)[0 if choice == "trained" else 1]
        return Reading(
            reading.doc, reading.start, reading.end, p, p - self.model.threshold, reading.sentence, reading.quote
        )
