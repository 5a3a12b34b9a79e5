from __future__ import annotations

from qa.conversation import is_follow_up, with_context


def test_follow_up_gets_the_topic_of_the_last_question():
    asked = with_context("那覆盖了多少个领域？", ["公布了多少个不予处罚事项？"])
    assert asked == "公布了不予处罚事项，覆盖了多少个领域？"


def test_a_complete_question_is_asked_as_it_is():
    question = "全市赋权街镇已配置多少名法审人员？"
    assert not is_follow_up(question)
    assert with_context(question, ["公布了多少个不予处罚事项？"]) == question
    assert with_context("那覆盖了多少个领域？", []) == "那覆盖了多少个领域？"


def test_follow_up_answered_end_to_end(report_assistant):
    asked = with_context("那覆盖了多少个领域？", ["公布了多少个不予处罚事项？"])
    assert report_assistant.ask(asked).answer == "14个"
