"""What a question asks for: the kind of answer, the unit it expects, and its content terms."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from qa.text import LIGHT_VERBS, QUESTION_WORDS, cjk_ratio, normalise, query_tokens, tagged_words


class Kind(StrEnum):
    PERCENT = "percent"
    DATE = "date"
    NUMBER = "number"
    PERSON = "person"
    PLACE = "place"
    ENTITY = "entity"
    SPAN = "span"


UNITS = (
    "人次 户次 家次 万元 亿元 平方米 公里 千米 公斤 千克 小时 分钟 个 项 件 名 次 份 条 部 类 家 人 起 期 所 座 批 "
    "元 岁 年 月 天 日 秒 米 亩 吨 场 届 位 支 台 辆 套 款 篇 本 张 种 只 头 倍 分 户 例 处 栋 间 层 级 门 节 声 枚 "
    "首 集 章 卷 册 组 队 艘 架 株 棵 片 块 份儿 元钱 美元 港元 英镑 欧元 公顷 平方公里 万 亿 千 百"
).split()
_UNIT_ALT = "|".join(sorted(set(UNITS), key=len, reverse=True))

# 几点 asks the time of day, unless points are counted: 提出了几点建议
_CLOCK_WH = r"几点(?!建议|意见|要求|措施|做法|经验|体会|原因|理由|想法|看法|内容|不足|问题|启示)|几时"
_KIND_PATTERNS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (
        Kind.PERCENT,
        re.compile(
            r"百分之|百分比|比例|比率|占比|比重|[率]\S{0,4}(?:多少|几|是|为|达)|率\S{0,8}什么水平|多少%|"
            r"\bpercent(?:age)?\b|\brate\b|\bproportion\b|\bratio\b|\bshare of\b"
        ),
    ),
    (
        Kind.DATE,
        re.compile(
            rf"何时|什么时候|什么时间|哪一?天|哪[一几]?年|哪些年|哪个?月|几月|几号|几日|哪日|何年|日期|{_CLOCK_WH}|时间范围|起止|"
            r"\bwhen\b|\bwhat (?:date|year|day|month|time)\b|\bwhich (?:date|year|day|month)\b"
        ),
    ),
    (
        Kind.NUMBER,
        re.compile(
            r"多少|(?<!哪)几|多大|多久|多长|多高|多远|多重|多深|多宽|"
            r"\bhow (?:many|much|long|old|far|big|large|high)\b|\bwhat (?:number|amount)\b|\bnumber of\b"
        ),
    ),
    (Kind.PERSON, re.compile(r"谁|哪位|何人|什么人|哪个人|\bwho\b|\bwhom\b|\bwhose\b")),
    (
        Kind.PLACE,
        re.compile(
            r"哪里|哪儿|何地|何处|在哪|哪个?(?:区|市|省|县|国|国家|城市|地方|地区|镇|街道|州)|"
            r"\bwhere\b|\bwhich (?:city|district|country|province|county|place|town)\b"
        ),
    ),
    (Kind.ENTITY, re.compile(r"什么|哪|何|啥|\bwhich\b|\bwhat\b")),
)
_WH = re.compile(
    rf"多少|{_CLOCK_WH}|几|什么(?:时候|时间|时刻|样子?)?|哪(?:一|个|些|里|儿|位|种|家|项)?|谁|何(?:时|地|处|人)?|啥|多[大久长高远重深宽]"
)
_DEFINES = re.compile(
    r"^(?:请问)?什么(?:是|叫|叫做)(.{1,20}?)[?？。]?$|^(.{1,20}?)(?:是|指|是指)(?:什么|何物|啥)(?:意思)?[?？。]?$"
    r"|^what (?:is|are) (?:an? |the )?(.{1,40}?)[?.]?$"
)
_CLOCK = re.compile(rf"{_CLOCK_WH}|什么时刻|\bwhat time of day\b|\bat what time\b|\bwhat hour\b")
_BEFORE = re.compile(
    r"(?:调整|变化|改革|改造|减少|增加|下降|上升|提高|提升|降低|压减|整合|合并|优化|扩大|缩减|改)(?:之)?前|"
    r"原来|原先|原本|本来|之前|此前|以前|起初|最初|\bbefore\b|\boriginally\b|\bpreviously\b|\bat first\b"
)
_WHY = re.compile(r"(?<![之称作成名叫译现视定改分变])为什么|为何|何以|原因|缘故|理由|\bwhy\b")
_ANSWER_SUFFIXES = set("区市省县镇乡村州国")
_UNIT_AFTER_WH = re.compile(rf"(?:多少|几)(?:余|多)?({_UNIT_ALT})")
_SAYS_PERCENT = re.compile(r"百分之|百分比|多少%|\bpercent(?:age)?\b")

# English words that name what is counted, and the Chinese measure words that go with them.
_ENGLISH_UNITS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"\b(?:times?|visits?|occasions?|inspections?)\b"), ("次", "人次", "户次", "家次")),
    (
        re.compile(r"\b(?:people|persons?|staff|officers?|personnel|members?|employees?|workers?|lawyers?)\b"),
        ("名", "人", "位", "人次"),
    ),
    (re.compile(r"\b(?:items?|matters?|measures?|rules?|standards?)\b"), ("个", "项", "件", "条")),
    (re.compile(r"\b(?:cases?|incidents?)\b"), ("件", "起", "例")),
    (re.compile(r"\b(?:documents?|copies|letters?|notices?|reports?)\b"), ("份", "件", "篇")),
    (
        re.compile(r"\b(?:enterprises?|companies|company|firms?|businesses|institutions?|agencies|stations?)\b"),
        ("家", "家次", "个"),
    ),
    (re.compile(r"\b(?:fields?|areas?|sectors?|domains?|categories|types?|kinds?)\b"), ("个", "类", "种")),
    (re.compile(r"\b(?:years?)\b"), ("年",)),
    (re.compile(r"\b(?:days?)\b"), ("天", "日")),
    (re.compile(r"\b(?:yuan|rmb)\b"), ("元", "万元", "亿元")),
)


@dataclass(frozen=True)
class Question:
    text: str
    norm: str
    kind: Kind
    units: tuple[str, ...]  # measure words the answer should carry, best first
    terms: tuple[str, ...]  # content tokens for keyword search and coverage
    left: str  # the question's text before its question word (normalised)
    right: str  # and after it (after the unit, where one follows the question word)
    cjk: bool  # written mainly in Chinese characters
    sides: tuple[tuple[str, int], ...] = ()  # per term: signed distance from the question word
    defines: str = ""  # X of 什么是X / X是什么 / what is X: a sentence opening with X defines it
    why: bool = False  # asks for a cause, which usually comes before the words that match
    before: bool = False  # asks for a value before a change (调整前, 原来): the 504 of 由504项调整至338项
    clock: bool = False  # asks for a time of day (几点): 16:04, not the date before it

    @property
    def numeric(self) -> bool:
        return self.kind in (Kind.NUMBER, Kind.PERCENT, Kind.DATE)


def question_kind(norm: str) -> Kind:
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(norm):
            if kind is Kind.PERCENT and _UNIT_AFTER_WH.search(norm) and not _SAYS_PERCENT.search(norm):
                continue  # 配置率达到…覆盖了多少个领域: 多少个 asks a count; the 率 belongs to the topic
            return kind
    return Kind.SPAN


def unit_hints(norm: str) -> tuple[str, ...]:
    units = [m.group(1) for m in _UNIT_AFTER_WH.finditer(norm)]
    for pattern, words in _ENGLISH_UNITS:
        if pattern.search(norm):
            units.extend(words)
    return tuple(dict.fromkeys(units))


def analyse(text: str) -> Question:
    """Analyse a question (already checked to be non-empty)."""
    norm = normalise(" ".join(text.split()))
    kind = question_kind(norm)
    wh = _UNIT_AFTER_WH.search(norm) or _WH.search(norm)
    left, right = (norm[: wh.start()], norm[wh.end() :]) if wh else (norm, "")
    if wh and right[:1] and right[0] in _ANSWER_SUFFIXES and wh.group()[0] in "哪什何":
        right = right[1:]  # 在哪个区试点: the 区 is part of the answer (江北区), not an anchor
    right = right.strip(" ?？。.!！")
    cjk = cjk_ratio(norm) >= 0.5
    # the measure word after 多少 ends a word: 多少项高需求 cuts as 项 + 高 + 需求, never 项高
    cut = _UNIT_AFTER_WH.sub(lambda m: m.group() + " ", norm)
    terms = tuple(t for t in query_tokens(cut) if t not in LIGHT_VERBS)  # the question words are gone already
    sides = []
    if wh:
        for term in dict.fromkeys(terms):
            at = norm.find(term)
            if at >= 0:
                sides.append((term, at + len(term) - wh.start() - 1 if at < wh.start() else at - wh.end() + 1))
    defined = _DEFINES.match(norm)
    subject = next((g for g in defined.groups() if g), "") if defined else ""
    return Question(
        text,
        norm,
        kind,
        unit_hints(norm),
        terms,
        left,
        right,
        cjk,
        tuple(sides),
        subject.strip(" 的“”\"'「」《》"),
        bool(_WHY.search(norm)),
        bool(_BEFORE.search(norm)),
        bool(_CLOCK.search(norm)),
    )


# Parts of speech of names, and of common nouns: what a question is about.
NAME_TAGS = ("nr", "ns", "nt", "nz", "nrt", "nrfg", "eng", "j")
NOUN_TAGS = ("n",)


def entity_words(question: Question) -> list[tuple[str, bool]]:
    """The nouns and names of the question (two characters or more), each with whether it is a
    name: the words that documents answering it would use. A noun that only names the kind of
    answer — 什么季节, 哪所大学, 外形是怎样的 — is left out: the answer is an instance of it
    (秋季), and the documents need not use the word itself."""
    text = _UNIT_AFTER_WH.sub("，", question.norm)
    words = []
    at = 0
    for word, tag in tagged_words(text):
        start, at = at, at + len(word)
        word = word.rstrip("是才在的了和与及")
        if len(word) < 2 or word in QUESTION_WORDS or tag not in NAME_TAGS + NOUN_TAGS:
            continue
        if tag == "eng" and not question.cjk:
            continue  # an English question over Chinese text uses other words by nature
        if tag in NOUN_TAGS and (_CATEGORY_BEFORE.search(text[:start]) or _CATEGORY_AFTER.match(text[at:])):
            continue
        if word in MEASURE_NOUNS:
            continue  # 满意程度是多少, 数量是多少件: the measure asked for, which the text gives as a figure
        words.append((word, tag in NAME_TAGS))
    return words


# Nouns that name a measure or an attribute of what is asked about, and words for "in all": a
# question may use them where the text only gives the figure (满意率达91.5%, 推出106个).
MEASURE_NOUNS = frozenset(
    """数量 数目 数额 金额 个数 件数 次数 人数 户数 家数 项数 程度 比例 比重 幅度 水平 规模 编号 文号 名称
    名字 全称 简称 日期 时间 时长 期限 数字 数据 数值 共计 总共 一共 累计 情况 结果 内容 具体内容 方式 形式
    类型 种类 范围 等级 级别 排名 长度 面积 高度 速度 频率""".split()
)  # not 总数, 总量, 总额: a total is a claim of its own, which the text must make
_CATEGORY_BEFORE = re.compile(r"(?:什么|哪[一个些所部种位家项条]?|何种|何|多长|多久|多大|怎样的|怎么样的)$")
_CATEGORY_AFTER = re.compile(r"(?:是|为|有)?(?:怎样|怎么样|如何|什么样|哪些)")


def bridged(question: Question, pairs: list[tuple[str, str]]) -> Question:
    """An English question with the Chinese words of the documents for its words (from
    ``crosslingual.bridge``) among its terms, each standing where its English word stands, so that
    keyword search and answer alignment can use them."""
    side = dict(question.sides)
    extra = [(chinese, side.get(english, 1)) for english, chinese in pairs if chinese not in question.terms]
    extra = list(dict(extra).items())
    return replace(question, terms=(*question.terms, *(c for c, _ in extra)), sides=(*question.sides, *extra))


# The Chinese question word for what an English question asks (its kind).
CHINESE_QUESTION_WORD = {
    Kind.NUMBER: "多少",
    Kind.PERCENT: "多少",
    Kind.DATE: "什么时候",
    Kind.PERSON: "谁",
    Kind.PLACE: "哪里",
    Kind.ENTITY: "什么",
    Kind.SPAN: "什么",
}


def in_chinese(question: Question, text: str) -> str | None:
    """An English question bridged to Chinese ``text`` (``bridged``) as far as the dictionary
    renders it: the Chinese question word for its kind, then the words of ``text`` for its words,
    in its order (How many items were exempted … → 多少 事项 清单). None for a question in Chinese,
    or one none of whose words ``text`` uses. The span model learnt to read a question in the
    passage's language; this is the nearest it can be given."""
    if question.cjk:
        return None
    chinese = [t for t in question.terms if cjk_ratio(t) > 0.5 and t in text]
    return " ".join([CHINESE_QUESTION_WORD[question.kind], *chinese]) if chinese else None
