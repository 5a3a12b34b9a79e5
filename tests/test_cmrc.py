"""CMRC 2018 end to end with the real default encoder: documents indexed together, every question
asked and judged — the figures issue 2 asks of the engine. By default on the slice in the repo
(tests/data/cmrc-slice: 20 documents, 82 questions); the whole trial (256 documents, 1,002
questions) only where ../shared holds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.metrics import summarise
from eval.runner import run_set
from eval.sets import load_set
from qa.assistant import Assistant
from tests.conftest import CMRC_SLICE, cmrc_trial


def cmrc_summary(folder: Path, encoder) -> dict:
    assistant = Assistant.from_paths([folder / "docs"], encoder)
    summary = summarise(run_set(assistant, load_set(folder / "qa.jsonl")).judged)
    print({k: summary[k] for k in ("evidence@1", "evidence@3", "quote_accuracy", "mean_quote_chars", "accuracy")})
    return summary


def test_cmrc_slice_evidence_and_quotes(encoder):
    """The trial's bars on free-span Wikipedia questions; with 20 documents rather than 256 there
    are fewer wrong passages to find, so this checks the quotes more than the search."""
    summary = cmrc_summary(CMRC_SLICE, encoder)
    assert summary["questions"] == 82
    assert summary["evidence@3"] >= 0.96
    assert summary["quote_accuracy"] >= 0.85
    assert summary["mean_quote_chars"] <= 120


@pytest.mark.slow
def test_cmrc_trial_evidence_and_quotes(encoder):
    summary = cmrc_summary(cmrc_trial(), encoder)
    assert summary["questions"] == 1002
    assert summary["evidence@3"] >= 0.96
    assert summary["quote_accuracy"] >= 0.85
    assert summary["mean_quote_chars"] <= 120
