"""The gate's view of the corpus's languages: a store of Chinese and English documents speaks both,
so an English question over it is read as English, not as a question across languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.gate import corpus_scripts

CHINESE = "宁波市推出106个不予处罚事项，覆盖林业、地震、气象等14个领域。全市赋权街镇已配置法审人员199名。"
ENGLISH = (
    "Total nonfarm payroll employment rose by 236,000 in March. The unemployment rate changed little "
    "at 3.5 percent, the Bureau of Labor Statistics reported today."
)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, encoder) -> Assistant:
    folder: Path = tmp_path_factory.mktemp("mixed")
    (folder / "report.txt").write_text(CHINESE, encoding="utf-8")
    (folder / "jobs.txt").write_text(ENGLISH, encoding="utf-8")
    return Assistant.from_paths([folder], encoder)


def test_a_store_of_both_languages_speaks_both(mixed: Assistant, report_assistant: Assistant) -> None:
    assert corpus_scripts(mixed.index) == {True, False}
    assert corpus_scripts(report_assistant.index) == {True}


def test_each_language_is_answered_from_its_own_documents(mixed: Assistant) -> None:
    answered = mixed.ask("What was the unemployment rate?")
    assert answered.found and (answered.answer or "").startswith("3.5")  # the rules drop "percent"
    assert answered.quote is not None and answered.quote.doc == "jobs.txt"
    answered = mixed.ask("推出了多少个不予处罚事项？")
    assert answered.found and answered.answer == "106个"
