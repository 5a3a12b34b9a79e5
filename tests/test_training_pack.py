"""The training pack: it carries exactly the windows and weights a training run reads, training
over it is training over the data, and the shards it writes come back as the reader."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.reading.e5file import E5File
from qa.reading.tokenizer import PieceTokenizer
from tests.test_training_data import TINY_SET, squad_file, tiny_training

torch = pytest.importorskip("torch")
from qa.training import pack  # noqa: E402
from qa.training.train import TrainSettings, fit, windows_for  # noqa: E402


@pytest.fixture(scope="module")
def base() -> E5File:
    return E5File()


def settings_for(tmp_path: Path, **changes) -> TrainSettings:
    return tiny_training(tmp_path, **{"device": "cpu", "threads": 1, **changes})


def test_a_pack_holds_the_windows_and_the_weights_that_training_reads(tmp_path: Path, base: E5File) -> None:
    settings = settings_for(tmp_path)
    path = pack.build(settings, tmp_path / "train.npz", say=lambda _: None)
    packed = pack.read(path)
    train, valid = windows_for(settings, PieceTokenizer(base.vocabulary))
    assert packed.train == train and packed.valid == valid
    assert packed.fingerprint == settings.fingerprint()
    assert replace(packed.settings, work=settings.work, out=settings.out, device=settings.device) == settings
    ids = np.array(sorted({i for w in train for i in w.ids}))
    assert np.array_equal(packed.base.word_rows(ids), base.word_rows(ids))
    assert len(packed.base.word_ids) <= len(ids) + 1  # the pad row besides; never the whole table
    for i in (0, 11):
        theirs, ours = base.layer(i), packed.base.layer(i)
        assert theirs.keys() == ours.keys() and all(np.array_equal(theirs[k], ours[k]) for k in theirs)
    extras = packed.base.embedding_extras()
    assert all(np.array_equal(v, base.embedding_extras()[k]) for k, v in extras.items())
    assert packed.base.pad == base.pad and packed.base.config == base.config
    absent = next(i for i in range(1000, 250000) if i not in set(ids.tolist()))
    with pytest.raises(pack.PackError, match="no word rows"):
        packed.base.word_rows(np.array([ids[0], absent]))


def test_what_is_not_a_pack_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(pack.PackError, match="no training pack"):
        pack.read(tmp_path / "missing.npz")
    with pytest.raises(pack.PackError, match="trained.json"):
        pack.export_trained(tmp_path, tmp_path / "out")
    assert pack.main(["train", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "o")]) == 2


def test_a_gpu_asked_for_where_torch_sees_none_is_a_clear_error(tmp_path: Path, capsys) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    settings = settings_for(tmp_path)
    path = pack.build(settings, tmp_path / "train.npz", say=lambda _: None)
    assert pack.main(["train", str(path), "--out", str(tmp_path / "o"), "--device", "cuda"]) == 2
    assert "torch sees no GPU" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_training_over_a_pack_is_training_over_the_data_and_comes_back_as_the_reader(
    tmp_path: Path, base: E5File
) -> None:
    from qa.reading.reader import ReadPassage, TrainedReader

    settings = settings_for(tmp_path, frozen=0)  # the recipe a GPU runs: every layer trained
    train, valid = windows_for(settings, PieceTokenizer(base.vocabulary))
    direct = fit(settings, base, train, valid, tmp_path / "direct", say=lambda _: None)

    packed = pack.read(pack.build(settings, tmp_path / "train.npz", say=lambda _: None))
    lines: list[str] = []
    run = replace(packed.settings, work=str(tmp_path / "there"), device="cpu", threads=1)
    shards = pack.train_pack(packed, run, tmp_path / "back", say=lines.append)
    assert any(line.startswith("step 2/2") for line in lines)

    state = {}
    for name in sorted(shards.glob("weights-*.npz")):
        with np.load(name) as z:
            state.update({k: z[k] for k in z.files})
    expected = direct.model.state_dict()
    assert state.keys() == expected.keys()
    for k, v in expected.items():  # the same steps on the same windows: equal up to float16
        assert np.allclose(state[k].astype(np.float32), v.numpy(), rtol=1e-3, atol=1e-5), k

    out = pack.export_trained(shards, tmp_path / "reader", say=lambda _: None)
    reader = TrainedReader(out)
    text = TINY_SET[1][0]
    reading = reader.best("How many legal review staff?", [ReadPassage("d", 0, text, 1.0)])
    assert reading is not None and 0 <= reading.start < reading.end <= len(text)


def test_qa_train_reader_says_at_once_when_the_gpu_it_asks_for_is_not_there(tmp_path: Path, capsys) -> None:
    from qa.cli import main

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    data = squad_file(tmp_path, [("only", TINY_SET)])
    args = ["train-reader", "--data", str(data), "--work", str(tmp_path / "w"), "--out", str(tmp_path / "o")]
    assert main([*args, "--device", "cuda"]) == 2
    assert "torch sees no GPU" in capsys.readouterr().err
    assert not (tmp_path / "w").exists() and not (tmp_path / "o").exists()


def test_qa_train_reader_says_at_once_when_the_reader_to_start_from_is_not_there(tmp_path: Path, capsys) -> None:
    from qa.cli import main

    data = squad_file(tmp_path, [("only", TINY_SET)])
    args = ["train-reader", "--data", str(data), "--work", str(tmp_path / "w"), "--out", str(tmp_path / "o")]
    assert main([*args, "--init", str(tmp_path / "nothing"), "--first-epoch", "1"]) == 2
    assert "no trained reader to start from" in capsys.readouterr().err
    assert not (tmp_path / "w").exists() and not (tmp_path / "o").exists()
