"""Picking the exact answer span inside a sentence: a number with its unit, a percentage, a date,
a name or a short phrase, chosen by the question's kind, unit and surrounding words."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache, partial

from qa.question import _UNIT_AFTER_WH, _UNIT_ALT, Kind, Question, entity_words
from qa.text import normalise_aligned, tagged_words

_NUM = r"(?:\d+(?:[.,]\d+)*|[零〇一二两三四五六七八九十百千]+)"
_RANGE = rf"{_NUM}(?:\s*(?:到|至|~|～|-|—|–)\s*{_NUM})?"
NUMBER_RE = re.compile(
    rf"(?<![\d.])(?P<num>{_RANGE})(?:\s*(?P<mult>余万|多万|万余|万多|余|多|万|亿|千))?"
    rf"(?:\s*(?P<pct>[%％‰]))?(?P<unit>(?(pct)|(?:{_UNIT_ALT})))?(?P<tail>余|多)?"
)
PERCENT_RE = re.compile(rf"(?<![\d.])(?:{_RANGE})\s*[%％‰]|百分之[零〇一二两三四五六七八九十百点.\d]+")
DATE_RE = re.compile(
    r"\d{4}\s*年?\s*(?:—|–|-|~|～|至|到)\s*\d{4}\s*年"
    r"|\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}(?:\s*日)?"  # the time after it is CLOCK_RE's
    r"|\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?"
    r"|\d{1,2}\s*月\s*\d{1,2}\s*日"
    r"|[零〇一二三四五六七八九]{4}年(?:[一二三四五六七八九十]{1,2}月(?:[一二三四五六七八九十]{1,3}日)?)?"
    r"|(?<!\d)\d{3,4}\s*年(?:代|初|末|底)?"
    r"|(?<!\d)\d{1,2}\s*月(?:份|初|底)?"
)
CLOCK_RE = re.compile(r"(?<![\d:])\d{1,2}:\d{2}(?::\d{2})?(?![\d:])|(?<!\d)\d{1,2}\s*[点时](?:\s*\d{1,2}\s*分|半|整)?")
_DIGITS_RE = re.compile(r"\d+(?:\.\d+)?")  # a number the question itself gives is never its answer
ORDINAL_RE = re.compile(rf"第{_NUM}(?:{_UNIT_ALT}|[区届号轮季代级层页章节])?")
_NOT_COUNTS = {"十分", "万分", "千万", "百分", "一番", "万一"}  # 十分喜爱 is "much", not ten points
_CN_DIGITS = set("零〇一二两三四五六七八九十百千")
_TRIM = " \t，,、。.；;：:！!？?“”\"'‘’《》「」『』()（）[]【】"
_LEADING_FUNCTION = ("是", "为", "在", "了", "的", "有", "被", "将", "由", "于", "即", "已", "至")
_NAME_TAGS = {Kind.PLACE: ("ns",), Kind.PERSON: ("nr", "nrfg", "nrt")}
_QUOTED_RE = re.compile(r"“([^”]{1,30})”|《([^》]{1,40})》|「([^」]{1,30})」|\"([^\"]{1,30})\"")
MAX_SPAN_CHARS = 40
# jieba tags 司法厅 as a person's name; a name ending like an office is an office
_ORGANISATION = re.compile(r"(?:厅|部|局|委|办|院|署|会|处|所|中心|公司|集团|银行|大学|学院|学校|政府|法院)$")
_TITLE = re.compile(
    r"副?(?:厅长|部长|局长|处长|科长|主任|书记|省长|市长|县长|区长|镇长|院长|校长|主席|总理|总统|委员|"
    r"经理|董事长|总裁|教授|博士|先生|女士|同志|老师|主编|导演|队长|所长|站长|司长|总监)"
)
TITLED = 0.15  # fit added to a name with a title after it, for 谁
UNNAMED = 0.4  # share of its fit kept by a span between the question's words that names no one
_ANY_NAME = ("nr", "ns", "nt", "nz", "nrt", "nrfg", "eng")
_PLACE_SUFFIXES = set("区市省县镇乡村州国岛山河湖街")
FLIPPED = 0.6  # alignment credit for a question word found on the other side of the span
FLIPPED_COUNTED = 0.9  # … for the words after 多少 in a question asking for a number
_CLAUSE_MARKS = set("，,、；;：:。！？!?")
_SUBJECT_MARKS = "，,；;。！？!?"  # a clause keeps its subject across 、 and ：
OTHER_SUBJECT = 0.3  # a number in a clause without the place or person asked about loses this share
_DIMENSIONS = {
    **dict.fromkeys("小时 分钟 秒 天 日 年 月 周 岁".split(), "time"),
    **dict.fromkeys("元 万元 亿元 元钱 美元 港元 英镑 欧元".split(), "money"),
    **dict.fromkeys("米 公里 千米".split(), "length"),
    **dict.fromkeys("平方米 平方公里 亩 公顷".split(), "area"),
    **dict.fromkeys("公斤 千克 吨".split(), "weight"),
    **dict.fromkeys("% ％ ‰".split(), "share"),  # 92% is no answer to 多少个
    **dict.fromkeys("万 亿 千 百".split(), "any"),
}  # every other measure word counts things
CHANGE_ROLE = 0.2  # the value before or after a change (由504项调整至338项), as the question asks
_CHANGED_TO = re.compile(rf"(?:由|从)\s*{_RANGE}[^，,。；;！？!?]{{0,20}}?(?:至|到|为|成)\s*$")


@dataclass(frozen=True)
class Candidate:
    """An answer span in a sentence, as offsets into the sentence text, and how well it fits."""

    start: int
    end: int
    fit: float  # 0..1: how well the span answers the question, apart from retrieval


def _is_bare_chinese_numeral(num: str, unit: str | None) -> bool:
    return all(ch in _CN_DIGITS for ch in num) and not unit


def number_candidates(sentence: str) -> list[tuple[int, int, str]]:
    """(start, end, unit) of each number with its multiplier and unit; bare Chinese numerals (一是)
    and years are left out."""
    found = []
    quoted = [m.span() for m in _QUOTED_RE.finditer(sentence)]
    for m in NUMBER_RE.finditer(sentence):
        if any(s <= m.start() and m.end() <= e for s, e in quoted):
            continue  # “六个一”, “1+8”: part of a name, not a count
        num, unit = m.group("num"), m.group("unit") or m.group("pct") or ""
        if _is_bare_chinese_numeral(num, m.group("unit") or m.group("mult")):
            continue
        if unit == "年" and re.fullmatch(r"\d{4}", num):
            continue
        if sentence[m.start() : m.end()] in _NOT_COUNTS:
            continue
        if all(ch in _CN_DIGITS for ch in num) and len(num) == 1 and m.end() < len(sentence) and num == "一":
            continue  # 一个, 一项 …: part of phrases far more often than an answer
        end = m.end()
        found.append((m.start(), end, m.group("mult") and not unit and m.group("mult") or unit))
    return found


def _term_positions(sentence_norm: str, terms: Iterable[str]) -> list[tuple[int, int, str]]:
    spots = []
    for term in set(terms):
        start = sentence_norm.find(term)
        while start >= 0:
            spots.append((start, start + len(term), term))
            start = sentence_norm.find(term, start + 1)
    return spots


def _clause_marks(sentence_norm: str) -> list[int]:
    return [i for i, ch in enumerate(sentence_norm) if ch in _CLAUSE_MARKS]


def alignment(sentence_norm: str, start: int, end: int, question: Question, weights: dict[str, float]) -> float:
    """0..1: how well the question's terms sit around the span as they sit around the question
    word — in the same clause, on the same side, the nearest ones weighing most."""
    if not question.sides:
        return 0.0
    marks = _clause_marks(sentence_norm)
    spots = _term_positions(sentence_norm, (t for t, _ in question.sides))
    total = got = 0.0
    for term, qdist in question.sides:
        # what 多少项 counts stands after it in the question, and on either side of a number in
        # the text: 「新增…事项18项」 as often as 「推出106个…事项」
        flipped = FLIPPED_COUNTED if question.numeric and qdist > 0 else FLIPPED
        weight = weights.get(term, 1.0) / (1.0 + (abs(qdist) - 1) / 8.0)
        total += weight
        best = 0.0
        for s, e, t in spots:
            if t != term:
                continue
            side = -1 if e <= start else 1 if s >= end else 0
            gap = start - e if side < 0 else s - end if side > 0 else 0
            lo, hi = (e, start) if side < 0 else (end, s)
            crossed = sum(1 for m in marks if lo <= m < hi)
            same = side == 0 or (side < 0) == (qdist < 0)
            best = max(best, (1.0 if same else flipped) * 0.5**crossed / (1.0 + gap / 40.0))
        got += weight * best
    return got / total if total else 0.0


def _anchor_length(context: str, sentence_norm: str, lo: int, hi: int, at_end: bool) -> int:
    """Length of the longest piece of ``context`` — taken at its end (or start), after skipping up
    to two characters there — that occurs in the sentence ending (or starting) within [lo, hi],
    with no clause mark between it and the span."""
    context = context.strip(_TRIM)
    for size in range(min(len(context), 12), 1, -1):
        for skip in range(0, 3):
            if size + skip > len(context):
                break
            piece = context[len(context) - skip - size : len(context) - skip] if at_end else context[skip : skip + size]
            for where in range(max(0, lo), min(hi, len(sentence_norm)) + 1):
                gap = sentence_norm[where:hi] if at_end else sentence_norm[lo:where]
                if any(ch in _CLAUSE_MARKS for ch in gap):
                    continue  # 「199名,驻点律师」: words past a comma belong to the next item
                if at_end and sentence_norm.endswith(piece, 0, where):
                    return size - skip // 2
                if not at_end and sentence_norm.startswith(piece, where):
                    return size - skip // 2
    return 0


def adjacency(sentence_norm: str, start: int, end: int, question: Question) -> float:
    """0..1: the question's words next to its question word stand right next to the span."""
    left = _anchor_length(question.left, sentence_norm, start - 3, start, at_end=True)
    right = max(
        _anchor_length(question.right, sentence_norm, end, end + 3, at_end=False),
        _anchor_length(question.right, sentence_norm, start - 3, start, at_end=True),
    )
    return min(1.0, (left + right) / 3.0)


def _unit_fit(unit: str, hints: tuple[str, ...]) -> float:
    if not hints:
        return 0.5
    if unit in hints:
        return 1.0 if unit == hints[0] else 0.8
    if unit and any(h in unit or unit in h for h in hints):
        return 0.6
    return 0.1 if unit else 0.3


def _near(norm: str, start: int, end: int, question: Question, weights: dict[str, float]) -> float:
    return 0.5 * alignment(norm, start, end, question, weights) + 0.5 * adjacency(norm, start, end, question)


def subject_share(sentence_norm: str, start: int, end: int, names: Iterable[str]) -> float:
    """0..1: of the question's names that the sentence uses, the share in the span's own clause.
    「慈溪市…调整至215到218项,镇海区…由504项调整至338项」 asked about 镇海区: 338项, not 215到218项."""
    present = [n for n in names if n in sentence_norm]
    if not present:
        return 1.0
    lo = max((sentence_norm.rfind(p, 0, start) for p in _SUBJECT_MARKS), default=-1) + 1
    found = [sentence_norm.find(p, end) for p in _SUBJECT_MARKS]
    hi = min((i for i in found if i >= 0), default=len(sentence_norm))
    return sum(n in sentence_norm[lo:hi] for n in present) / len(present)


def change_role(sentence_norm: str, start: int) -> tuple[str, int]:
    """("from", start) for the 504 of 「由504项调整至338项」, ("to", where 由 stands) for its 338,
    ("", start) for a number not in a change."""
    if sentence_norm[max(0, start - 1) : start] in ("由", "从"):
        return "from", start
    change = _CHANGED_TO.search(sentence_norm, max(0, start - 30), start)
    return ("to", change.start()) if change else ("", start)


def _near_change(norm: str, start: int, end: int, question: Question, weights: dict[str, float]) -> float:
    """``_near``, where the words before a change (「事项由504项调整至」) stand next to its result too."""
    role, opens = change_role(norm, start)
    near = _near(norm, start, end, question, weights)
    return max(near, _near(norm, opens, end, question, weights)) if role == "to" else near


def _change_fit(question: Question, sentence_norm: str, start: int) -> float:
    role, _ = change_role(sentence_norm, start)
    if question.before:
        return CHANGE_ROLE if role == "from" else -CHANGE_ROLE if role == "to" else 0.0
    return -CHANGE_ROLE if role == "from" else 0.0  # what a thing is now: the value it was changed to


@dataclass(frozen=True)
class _Asked:
    """What a numeric question says of its answer, worked out once for all the sentences read."""

    names: tuple[str, ...]  # the places and people it names: its answer stands in their clause
    given: frozenset[str]  # the numbers it gives itself, which are not its answer
    dimension: str  # what its 多少X measures (time, money … "count" for 个, 次, 项); "" without an X


@lru_cache(maxsize=256)
def _asked(question: Question) -> _Asked:
    unit = _UNIT_AFTER_WH.search(question.norm)
    return _Asked(
        tuple(word for word, name in entity_words(question) if name),
        frozenset(_DIGITS_RE.findall(question.norm)),
        _DIMENSIONS.get(unit.group(1), "count") if unit else "",
    )


def typed_candidates(question: Question, sentence: str, weights: dict[str, float]) -> list[Candidate]:
    """Spans of the kind the question asks for, scored by unit and closeness to its terms, and
    kept to the clause of the place or person the question names."""
    norm = normalise_aligned(sentence)
    asked = _asked(question)
    out: list[Candidate] = []
    if question.kind is Kind.PERCENT:
        for m in PERCENT_RE.finditer(sentence):
            near = _near_change(norm, m.start(), m.end(), question, weights)
            fit = 0.3 + 0.7 * near + _change_fit(question, norm, m.start())
            out.append(Candidate(m.start(), m.end(), max(0.0, min(1.0, fit))))
    elif question.kind is Kind.DATE and question.clock:
        for m in CLOCK_RE.finditer(sentence):
            out.append(Candidate(m.start(), m.end(), 0.4 + 0.6 * _near(norm, m.start(), m.end(), question, weights)))
    elif question.kind is Kind.DATE:
        for m in DATE_RE.finditer(sentence):
            near = _near(norm, m.start(), m.end(), question, weights)
            full = 1.0 if re.search(r"\d{1,2}\s*[-/.日]|\d+\s*月\s*\d", m.group()) else 0.6
            out.append(Candidate(m.start(), m.end(), 0.2 + 0.4 * full + 0.4 * near))
    elif "第几" in question.norm:
        for m in ORDINAL_RE.finditer(sentence):
            out.append(Candidate(m.start(), m.end(), 0.3 + 0.7 * _near(norm, m.start(), m.end(), question, weights)))
    else:
        for s, e, unit in number_candidates(sentence):
            if (
                unit
                and asked.dimension not in ("", "any")
                and _DIMENSIONS.get(unit, "count") not in (asked.dimension, "any")
            ):
                continue  # 多少次 asked, 1小时 found: a figure of another kind of thing
            near = _near_change(norm, s, e, question, weights)
            fit = 0.35 * _unit_fit(unit, question.units) + 0.65 * near + _change_fit(question, norm, s)
            out.append(Candidate(s, e, max(0.0, min(1.0, fit))))
    out = [c for c in out if not asked.given.intersection(_DIGITS_RE.findall(sentence[c.start : c.end]))]
    if question.kind is Kind.DATE or not asked.names:
        return out  # a date often opens the sentence, before the clause that names its subject
    return [
        replace(c, fit=c.fit * (1 - OTHER_SUBJECT * (1 - subject_share(norm, c.start, c.end, asked.names))))
        for c in out
    ]


def _clean(sentence: str, start: int, end: int) -> tuple[int, int]:
    while start < end and sentence[start] in _TRIM:
        start += 1
    while end > start and sentence[end - 1] in _TRIM:
        end -= 1
    while end - start > 1 and sentence[start] in _LEADING_FUNCTION:
        start += 1
    return start, end


def _longest_anchor(context: str, sentence_norm: str, from_end: bool) -> tuple[str, int]:
    """The longest piece of ``context`` at its end (or start), skipping up to two characters
    there, that occurs in the sentence, and where; ("", -1) when none of two characters or more does."""
    context = context.strip(_TRIM + "的了是")
    for skip in range(0, 3):  # a piece at the very edge first: 调整到 → 调整 only when 整到 fails
        for size in range(min(len(context) - skip, 12), 1, -1):
            piece = (
                context[len(context) - skip - size : len(context) - skip] if from_end else context[skip : skip + size]
            )
            where = sentence_norm.rfind(piece) if from_end else sentence_norm.find(piece)
            if where >= 0:
                return piece, where
    return "", -1


def aligned_candidate(question: Question, sentence: str) -> Candidate | None:
    """The span between the question's words before and after its question word, found in the
    sentence: 「在哪个区试点实施」 over 「已在江北区试点实施」 gives 江北区."""
    norm = normalise_aligned(sentence)
    left, lpos = _longest_anchor(question.left, norm, from_end=True)
    right, rpos = _longest_anchor(question.right, norm, from_end=False)
    if right and left and lpos + len(left) <= rpos:
        start, end = lpos + len(left), rpos
        fit = min(1.0, (len(left) + len(right)) / 8)
    elif right and rpos > 0:
        # the answer ends where the right anchor begins; take back to the clause start (a list
        # 「慈溪、镇海等地」 is one answer), past a one-character left anchor (以 of 以哪些地方为试点)
        cut = max(norm.rfind(p, 0, rpos) for p in "，,。；;：:")
        start, end = cut + 1, rpos
        word = question.left.strip(_TRIM + "的了是")
        if len(word) == 1 and norm[start : start + 1] == word:
            start += 1
        fit = min(0.8, len(right) / 8)
    elif left:
        start = lpos + len(left)
        stops = [i for i in (norm.find(p, start) for p in "，,。；;") if i >= 0]
        end = min(stops) if stops else len(norm)
        fit = min(0.7, len(left) / 8)
    else:
        return None
    start, end = _clean(sentence, start, end)
    if start >= end or end - start > MAX_SPAN_CHARS:
        return None
    return Candidate(start, end, fit)


def _names_a(kind: Kind, span: str) -> bool:
    """The span holds a name: a place (慈溪市, 江北区) or a person — of any kind, as jieba takes
    places for people (莫斯科) and people for places."""
    if kind is Kind.PLACE and span[-1:] in _PLACE_SUFFIXES:
        return True
    return any(tag in _ANY_NAME and len(word) >= 2 for word, tag in tagged_words(span))


def entity_candidates(question: Question, sentence: str, weights: dict[str, float]) -> list[Candidate]:
    """Places, quoted names or the aligned span, for 什么/哪/谁 questions."""
    norm = normalise_aligned(sentence)
    out = []
    aligned = aligned_candidate(question, sentence)
    tags = _NAME_TAGS.get(question.kind)
    if aligned is not None and tags and not _names_a(question.kind, norm[aligned.start : aligned.end]):
        aligned = replace(aligned, fit=aligned.fit * UNNAMED)  # 「开展」 where a place is asked for
    if aligned is not None:
        out.append(aligned)
    spans = []
    for m in _QUOTED_RE.finditer(sentence):
        group = next((i for i in range(1, (m.lastindex or 0) + 1) if m.group(i)), 0)
        spans.append(m.span(group))
    if tags:
        at = 0
        for word, tag in tagged_words(norm):
            if tag in tags and len(word) >= 2 and not (question.kind is Kind.PERSON and _ORGANISATION.search(word)):
                spans.append((at, at + len(word)))
            at += len(word)
    for s, e in spans:
        if any(t in norm[s:e] for t in question.terms):
            continue  # the question's own words are not its answer
        fit = 0.3 + 0.5 * alignment(norm, s, e, question, weights)
        if question.kind is Kind.PERSON and _TITLE.match(norm, e):
            fit += TITLED  # 「王中毅厅长」: a name with a title after it is a person's
        if aligned is not None and s < aligned.end and aligned.start < e:
            fit = max(fit, aligned.fit + 0.1)  # a name where the question's words place the answer
        out.append(Candidate(s, e, fit))
    return out


def candidates(question: Question, sentence: str, weights: dict[str, float]) -> list[Candidate]:
    """Every span of ``sentence`` that could answer ``question``, with its fit; none is blank or
    begins or ends with a space."""
    if question.numeric:
        found = typed_candidates(question, sentence, weights)
    else:
        found = entity_candidates(question, sentence, weights)
        if question.kind is Kind.SPAN or not found:
            start, end = _clean(sentence, 0, len(sentence))
            if aligned_candidate(question, sentence) is None and sentence[start:end].strip():
                found.append(Candidate(start, end, 0.1))  # the whole sentence, where it is more than marks
    return [c for c in map(partial(_trimmed, sentence), found) if c.start < c.end]


def _trimmed(sentence: str, candidate: Candidate) -> Candidate:
    text = sentence[candidate.start : candidate.end]
    start = candidate.start + len(text) - len(text.lstrip())
    return replace(candidate, start=start, end=max(start, candidate.start + len(text.rstrip())))
