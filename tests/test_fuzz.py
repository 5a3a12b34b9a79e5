"""Property-based tests: random Unicode text (CJK, sentence marks, headings, items, numbers, control
characters) through the splitter, the answer extractor, the assistant's quote and the judge. Offsets
always slice back to the text they stand for, and nothing raises."""

from __future__ import annotations

import os
import string

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from eval.judge import answer_correct, evidence_rank, holds_evidence, judged_form, matches, max_answer_chars
from eval.metrics import cmrc_em, cmrc_f1
from qa.assistant import QuestionError, clean_question
from qa.documents import make_document
from qa.extract import candidates
from qa.question import analyse
from qa.splitter import clause_spans, sentence_spans, split_document
from qa.types import Span
from tests.conftest import DEFAULT_CORPUS
from tests.test_splitter import within

# QA_FUZZ_EXAMPLES=5000 searches harder (the default keeps the suite's run short)
EXAMPLES = int(os.environ.get("QA_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REPORT_TEXT = (DEFAULT_CORPUS / "ningbo-enforcement-report.txt").read_text(encoding="utf-8")

PIECES = [
    *"。！？；,;?!，、：:.．…“”‘’\"《》「」()（）[]【】#*>-•%％‰~～—–/+",
    *"一二三四五六七八九十百千万亿零〇两个项次年月日是其首先次最后余多第",
    "一、", "二、", "(一)", "（二）", "(三)", "1.", "2．", "(1)", "（2）", "# ", "## ", "一是", "二是", "其一是",
    "\n", "\n\n", "\r\n", "\r", "\t", " ", "\u3000", "\x00", "\x07", "\x0b", "\x0c", "\x1c", "\x85", "\u2028",
    "\u200b", "\ufeff", "\ufffd", "ﬁ", "½", "①", "㍿", "Ⅻ", "İ", "ß", "é", "e\u0301", "😀", "𠀀",
    "106个", "99.8%", "16.4万余次", "2024年3月5日", "1,234.5", "3到5个", "宁波市", "江北区", "行政执法",
    "多少", "几个", "什么", "哪个", "哪里", "谁", "何时", "为什么", "How many", "what", "when",
]  # fmt: skip
# any character but surrogates (which no str read from a file can hold)
any_char = st.characters(blacklist_categories=("Cs",))
piece = st.one_of(st.sampled_from(PIECES), any_char, st.sampled_from(string.ascii_letters + string.digits))
texts = st.lists(piece, max_size=80).map("".join)
report_slices = st.tuples(st.integers(0, len(REPORT_TEXT)), st.integers(1, 1500)).map(
    lambda t: REPORT_TEXT[t[0] : t[0] + t[1]]
)
long_lines = st.tuples(texts, st.integers(2, 30)).map(lambda t: (t[0] * t[1]).replace("\n", ""))  # windows, cuts
mixed = st.one_of(texts, report_slices, st.tuples(report_slices, texts).map("".join), long_lines)


def assert_inside(span: Span, text: str) -> None:
    assert 0 <= span.start < span.end <= len(text)
    piece = text[span.start : span.end]
    assert piece == piece.strip() and piece, (span, piece)


@FUZZ
@given(mixed)
@example("一、\n(二)\n1.\n# \n")
@example("1.全市共办理案件3000件。")
def test_passages_and_sentences_slice_back_into_the_document(text):
    doc = make_document("fuzz.txt", text)
    split = split_document(doc)
    ends = 0
    for passage in split.passages:
        assert_inside(passage.span, text)
        assert passage.doc == "fuzz.txt"
    for span, p in split.sentences:
        assert_inside(span, text)
        assert within(span, split.passages[p].span)
        assert span.start >= ends, "sentences overlap or go backwards"
        ends = span.end
        for clause in clause_spans(text, span):
            assert_inside(clause, text)
            assert within(clause, span)
    for span in sentence_spans(text, 0, len(text)):
        assert_inside(span, text)


def question_of(text: str):  # a Question, or None for an unaskable text
    try:
        return analyse(clean_question(text))
    except QuestionError:
        return None


@FUZZ
@given(mixed, mixed)
def test_answer_candidates_lie_inside_their_sentence(question_text, sentence):
    question = question_of(question_text)
    if question is None:
        return
    for candidate in candidates(question, sentence, {}):
        assert 0 <= candidate.start < candidate.end <= len(sentence), (candidate, sentence)
        assert 0.0 <= candidate.fit <= 1.0 + 1e-9


question_texts = st.one_of(
    texts,
    st.tuples(report_slices.map(lambda s: s[:30]), st.sampled_from(PIECES[-11:]), texts).map("".join),
)


@FUZZ
@given(question_texts)
@example("公布了多少个不予处罚事项？")
@example("亮码检查率达到多少？")
def test_quotes_and_sources_slice_back_into_their_documents(report_assistant, question):
    try:
        answer = report_assistant.ask(question)
    except QuestionError:
        return
    texts_by_doc = {d.name: d.text for d in report_assistant.index.documents}
    for source in answer.sources:
        assert texts_by_doc[source.doc][source.start : source.end] == source.text
    if not answer.found:
        assert answer.answer is None and answer.quote is None and answer.reason
        return
    quote = answer.quote
    doc = texts_by_doc[quote.doc]
    assert doc[quote.start : quote.end] == quote.text
    assert quote.start <= quote.answer_start < quote.answer_end <= quote.end
    assert doc[quote.answer_start : quote.answer_end] == answer.answer


@FUZZ
@given(mixed, mixed, st.lists(mixed, max_size=3), st.booleans(), st.booleans())
def test_the_judge_never_raises(text, gold, golds, found, answerable):
    assert isinstance(matches(text, gold), bool)
    if judged_form(gold):
        assert matches(gold, gold)
        assert answer_correct(True, gold, [gold], True)
    assert max_answer_chars(golds) >= 32
    assert isinstance(answer_correct(found, text or None, golds, answerable), bool)
    assert isinstance(holds_evidence(text, "d.txt", gold or None, golds, None), bool)
    rank = evidence_rank([("d.txt", text), ("e.txt", gold)], None, golds, "e.txt")
    assert rank in (None, 2)
    assert cmrc_em(text, gold) in (0.0, 1.0)
    assert 0.0 <= cmrc_f1(text, gold) <= 1.0


@settings(FUZZ, max_examples=max(EXAMPLES // 4, 20))
@given(st.lists(mixed, min_size=1, max_size=3))
def test_any_text_indexed_saves_and_loads_unchanged(tmp_path_factory, texts):
    from qa.index import CorpusIndex
    from tests.test_index import CountingEncoder

    documents = [make_document(f"d{i}.txt", text) for i, text in enumerate(texts)]
    try:
        index = CorpusIndex.build(documents, CountingEncoder())
    except ValueError:  # nothing to index: not one sentence in any of them
        assert not any(split_document(d).sentences for d in documents)
        return
    store = tmp_path_factory.mktemp("fuzz") / "store"
    index.save(store)
    loaded = CorpusIndex.load(store)
    assert [d.text for d in loaded.documents] == [d.text for d in index.documents]
    assert loaded.passages == index.passages and loaded.sentences == index.sentences
    assert loaded.unit_tokens == index.unit_tokens
