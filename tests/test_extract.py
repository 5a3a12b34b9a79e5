from __future__ import annotations

import pytest

from qa.extract import candidates, number_candidates
from qa.question import Kind, analyse


def best(question: str, sentence: str) -> str:
    found = candidates(analyse(question), sentence, {})
    assert found, "no candidate"
    top = max(found, key=lambda c: c.fit)
    return sentence[top.start : top.end]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("公布了多少个不予处罚事项？", Kind.NUMBER),
        ("亮码检查率达到多少？", Kind.PERCENT),
        ("What percentage of officers have PDAs?", Kind.PERCENT),
        ("行政处罚赋码率保持在什么水平？", Kind.PERCENT),
        ("这份报告是哪一天发布的？", Kind.DATE),
        ("When was the report published?", Kind.DATE),
        ("目前在哪个区试点实施？", Kind.PLACE),
        ("该漫画是由谁创作的？", Kind.PERSON),
        ("纳入了什么平台闭环管理？", Kind.ENTITY),
        ("How many staff were assigned?", Kind.NUMBER),
    ],
)
def test_question_kind(question: str, kind: Kind):
    assert analyse(question).kind is kind


def test_unit_hints_from_chinese_and_english():
    assert analyse("今年以来减少扰企多少户次？").units[0] == "户次"
    assert analyse("配置了多少名法审人员？").units[0] == "名"
    assert "次" in analyse("How many on-site guidance visits were made?").units


def test_numbers_keep_multiplier_unit_and_ranges():
    sentence = "减少扰企5.57万户次,完成1800余次,调整至215到218项之间,达99.8%,一是推进"
    spans = [sentence[s:e] for s, e, _ in number_candidates(sentence)]
    assert spans == ["5.57万户次", "1800余次", "215到218项", "99.8%"]


def test_chinese_numerals_with_a_unit_are_numbers():
    spans = [s for s in number_candidates("并两次召集会商,先后五次作出批示")]
    assert ["两次", "五次"] == ["并两次召集会商,先后五次作出批示"[s:e] for s, e, _ in spans]


def test_numbers_inside_quoted_names_are_not_counts():
    sentence = "按照处罚结果信息公示“六个一”要求,共查纠整改问题78个"
    assert best("共查纠整改了多少个处罚公示问题？", sentence) == "78个"


def test_counted_noun_after_the_number_decides_between_two_counts():
    sentence = "推出106个不予处罚事项,覆盖林业、地震、气象等14个领域。"
    assert best("不予处罚事项覆盖了多少个领域？", sentence) == "14个"
    assert best("公布了多少个不予处罚事项？", sentence) == "106个"


def test_words_before_the_question_word_decide_between_two_counts():
    sentence = "推动旅游安全等7件“监管一件事”纳入省库,累计已达105件,开展亮码检查7.8万起"
    assert best("纳入省库的“监管一件事”累计达到多少件？", sentence) == "105件"


def test_a_count_belongs_to_the_words_of_its_own_clause():
    sentence = "全市赋权街镇已配置法审人员199名,驻点律师、法律顾问148名。"
    assert best("赋权街镇配置了多少名驻点律师、法律顾问？", sentence) == "148名"
    assert best("赋权街镇配置了多少名法审人员？", sentence) == "199名"
    sentence = "收回无需求、难承接事项184项,新增高需求、易承接事项18项。"
    assert best("新增了多少项高需求、易承接事项？", sentence) == "18项"
    assert best("收回了多少项无需求、难承接事项？", sentence) == "184项"


def test_a_count_in_a_list_belongs_to_the_words_before_it():
    sentence = "今年制发行政执法监督通知书23份、追责建议书16份,不断增强执法监督刚性。"
    assert best("今年制发了多少份追责建议书？", sentence) == "16份"
    assert best("今年制发了多少份监督通知书？", sentence) == "23份"


def test_a_number_is_taken_from_the_clause_of_the_place_asked_about():
    sentence = "北京市常住人口由2000万增长到2150万,上海市常住人口增长至2480万。"
    assert best("上海市常住人口增长到了多少？", sentence) == "2480万"
    assert best("北京市常住人口增长到了多少？", sentence) == "2150万"


def test_a_question_about_before_a_change_takes_the_value_it_started_from():
    sentence = "镇海区平均赋权事项由504项调整至338项,实现执法事项精准下放。"
    assert best("镇海区平均赋权事项调整前是多少项？", sentence) == "504项"
    assert best("镇海区平均赋权事项原来有多少项？", sentence) == "504项"
    assert best("镇海区平均赋权事项调整到多少项？", sentence) == "338项"
    assert best("镇海区平均赋权事项是多少项？", sentence) == "338项"


def test_a_person_is_the_name_before_a_title_not_an_office():
    sentence = "省司法厅王中毅厅长先后五次对宁波行政检查计划统筹工作作出肯定批示。"
    assert best("谁对宁波行政检查计划统筹工作作出了肯定批示？", sentence) == "王中毅"


def test_percentage_question_takes_the_percentage_near_its_words():
    sentence = "全市双随机抽查任务关联信用规则率99.7%,部门联合双随机监管率50.1%,双随机检查占比85.8%。"
    assert best("部门联合双随机监管率是多少？", sentence) == "50.1%"


def test_date_question_takes_the_full_date():
    assert best("这份报告是哪一天发布的？", "时间:2025-02-18 16:04") == "2025-02-18"
    assert best("会议是哪一天召开的？", "会议于2024年3月5日 上午召开") == "2024年3月5日"


def test_a_time_of_day_question_takes_the_time_and_counted_points_stay_counts():
    assert analyse("提出了几点建议？").kind is Kind.NUMBER
    assert best("报告发布的时间是几点？", "时间:2025-02-18 16:04") == "16:04"
    assert best("会议几点开始？", "会议于2024年3月5日上午9点半开始,持续两小时。") == "9点半"


def test_a_year_range_is_one_date():
    sentence = "严格落实《提升行政执法质量三年行动计划(2023—2025年)》等文件精神。"
    assert best("提升行政执法质量三年行动计划的时间范围是哪几年？", sentence) == "2023—2025年"
    assert best("规划覆盖哪几年？", "该规划覆盖2021年至2025年,共五年。") == "2021年至2025年"


def test_which_few_asks_for_names_and_which_ordinal_for_an_ordinal():
    assert analyse("夏尔精通哪几门语言？").kind is Kind.ENTITY
    assert best("《real world》是EXILE的第几张单曲？", "《real world》是EXILE的第15张单曲,于2009年发行。") == "第15张"
    assert best("香港在DVD分区属于第几区？", "香港属第三区（中国大陆属第六区）。") == "第三区"


def test_a_figure_of_another_dimension_than_the_one_asked_is_no_answer():
    sentence = "政府上门服务的1小时响应“预约式”指导服务,累计上门指导服务1280次。"
    assert best("“预约式”指导服务上门了多少次？", sentence) == "1280次"
    assert best("“预约式”指导服务多少小时响应？", sentence) == "1小时"
    assert not candidates(analyse("上门了多少次？"), "政府上门服务的1小时响应。", {})
    assert best("新建了多少个公园？", "新建公园5座,投资2.3亿元。") == "5座"  # both count things


def test_a_count_is_asked_for_even_where_a_rate_is_named_and_a_share_is_no_count():
    """The follow-up 「那覆盖了多少个领域？」 after 「一线执法队员PDA配置率达到多少？」 is asked as below:
    多少个 asks a count, so 92% (a share) is no answer to it."""
    question = analyse("一线执法队员PDA配置率达到，覆盖了多少个领域？")
    assert question.kind is Kind.NUMBER and question.units[0] == "个"
    assert not candidates(question, "一线执法队员PDA配置率达92%。", {})
    assert analyse("一线执法队员PDA配置率达到多少？").kind is Kind.PERCENT
    assert analyse("配置率是百分之多少个点？").kind is Kind.PERCENT  # says percent itself
    assert best("覆盖了多少个领域？", "覆盖率达92%,覆盖14个领域。") == "14个"


def test_a_number_the_question_gives_is_never_its_answer():
    sentence = "全市43家市级行政执法机关已向社会公布5466项裁量基准。"
    assert best("全市43家市级行政执法机关公布了多少项裁量基准？", sentence) == "5466项"
    assert not candidates(analyse("12345热线受理了多少件？"), "完成与12345政务便民热线合作试点工作。", {})


def test_no_answer_is_blank_or_padded_with_spaces():
    sentence = '假苹婆 （学名：" "），别称七姐果、鸡冠皮、鸡冠木等,为梧桐科苹婆属半落叶乔木植物。'
    for c in candidates(analyse("假苹婆的花是什么样的？"), sentence, {}):
        text = sentence[c.start : c.end]
        assert text.strip() and text == text.strip()


def test_place_question_takes_the_place_between_anchors():
    assert best("行政执法协调统筹机制目前在哪个区试点实施？", "目前已在江北区试点实施。") == "江北区"


def test_a_place_question_takes_a_place_over_a_verb_between_its_words():
    sentence = "二是探索精准赋权与动态调整机制,以慈溪、镇海等地为试点,开展赋权镇街执法事项动态调整。"
    assert best("哪个区是赋权镇街执法事项动态调整的试点？", sentence) in ("慈溪", "镇海", "慈溪、镇海等地")


def test_entity_question_takes_the_span_between_anchors_without_quotes():
    sentence = "技术员每日巡查工作全部纳入“141”平台闭环管理,有关做法受到批示肯定。"
    assert best("技术员每日巡查工作纳入了什么平台闭环管理？", sentence) == "141"


def test_a_list_is_one_answer():
    sentence = "二是探索精准赋权与动态调整机制,以慈溪、镇海等地为试点,开展赋权镇街执法事项动态调整。"
    assert best("以哪些地方为试点开展赋权镇街执法事项动态调整？", sentence) == "慈溪、镇海等地"


def test_range_question():
    sentence = "慈溪市镇街赋权事项调整至215到218项之间,镇海区平均赋权事项由504项调整至338项。"
    answer = best("慈溪市镇街赋权事项调整到什么范围？", sentence)
    assert answer.startswith("215到218项") and len(answer) <= 12


def test_definition_and_why_questions_are_recognised():
    assert analyse("什么是暴发户？").defines == "暴发户"
    assert analyse("乙酰胺是什么？").defines == "乙酰胺"
    assert analyse("为什么吉斯伯恩的畜牧业发达？").why
    assert not analyse("阿閦佛又称之为什么？").why and not analyse("过敏反应表现为什么？").why
    assert not analyse("公布了多少个不予处罚事项？").why and not analyse("公布了多少个不予处罚事项？").defines


def test_the_question_word_is_taken_whole():
    q = analyse("黄蝉的花是什么样子？")
    assert (q.left, q.right) == ("黄蝉的花是", "")
    assert analyse("何时开始改建？").right == "开始改建"


def test_answer_type_nouns_are_not_required_words():
    from qa.question import entity_words

    words = [w for w, _ in entity_words(analyse("牡蒿在什么季节开花？"))]
    assert "季节" not in words and "牡蒿" in words
    assert "交通警察" in [w for w, _ in entity_words(analyse("全市有多少名交通警察？"))]


@pytest.mark.parametrize("sentence", ["。", "“”", "（）", "，。", " \t "])
def test_a_sentence_of_marks_alone_offers_no_empty_answer(sentence):
    """Found by tests/test_fuzz.py: the whole-sentence fallback was the empty span [1, 1) of 「。」."""
    for question in ("什么？", "这是什么？", "多少"):
        assert all(c.start < c.end for c in candidates(analyse(question), sentence, {}))
