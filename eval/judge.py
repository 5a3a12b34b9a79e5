"""The judging rules of ``shared/qa/README.md`` as pure functions."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.text import normalise


def judged_form(text: str) -> str:
    """The form in which answers are judged: ``qa.text.normalise`` (NFKC, lower case) with
    whitespace removed — except that whitespace between two digits becomes a separator that no
    digit-bounded match can cross."""
    text = normalise(text)
    text = re.sub(r"(?<=\d)\s+(?=\d)", "\x00", text)
    return re.sub(r"\s+", "", text)


def matches(text: str, gold: str) -> bool:
    """``text`` contains ``gold`` (both normalised); where gold begins or ends with a digit, the
    match may not be part of a longer number (106 is not in 1060, 2106 or 10.6)."""
    text, gold = judged_form(text), judged_form(gold)
    if not gold:
        return False
    before = r"(?<![\d.])(?<!\d\.)" if gold[0].isdigit() else ""
    after = r"(?![\d])(?!\.\d)" if gold[-1].isdigit() else ""
    return re.search(before + re.escape(gold) + after, text) is not None


def max_answer_chars(golds: Sequence[str]) -> int:
    return max(32, 3 * max((len(judged_form(g)) for g in golds), default=0))


def answer_correct(found: bool, answer: str | None, golds: Sequence[str], answerable: bool) -> bool:
    """An answerable question is right when an answer was found, matches a gold string and is
    short; an unanswerable one when none was found."""
    if not answerable:
        return not found
    if not found or not answer:
        return False
    return len(judged_form(answer)) <= max_answer_chars(golds) and any(matches(answer, g) for g in golds)


def holds_evidence(text: str, doc: str, evidence: str | None, golds: Sequence[str], gold_doc: str | None) -> bool:
    """A cited passage (or quote) holds the evidence: ``evidence`` when given, else one of the answers
    — and comes from ``gold_doc`` where that is given."""
    if gold_doc is not None and doc != gold_doc:
        return False
    if evidence is not None:
        return matches(text, evidence)
    return any(matches(text, g) for g in golds)


def evidence_rank(
    sources: Sequence[tuple[str, str]], evidence: str | None, golds: Sequence[str], gold_doc: str | None
) -> int | None:
    """1-based rank of the first (doc, text) source that holds the evidence, or None."""
    for rank, (doc, text) in enumerate(sources, 1):
        if holds_evidence(text, doc, evidence, golds, gold_doc):
            return rank
    return None
