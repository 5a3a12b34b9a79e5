"""`qa index` killed with SIGKILL at any moment leaves a store that loads and answers — the old index
or the new one, never a mix — the documents untouched, and a following `qa index` succeeds.

The kills come at random moments (start-up, embedding, saving) and at each stage of the save, where
the test hook ``QA_TEST_KILL_AT`` (``qa/index.py``) makes the process kill itself."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.documents import make_document
from tests.conftest import DEFAULT_CORPUS, ROOT

REPORT = DEFAULT_CORPUS / "ningbo-enforcement-report.txt"
OLD = {"parks.txt"}  # the store before `qa index`
NEW = OLD | {"report.txt"}  # and after
SAVE_STAGES = {"writing": "old", "written": "old", "publishing": "old", "published": "new", "removing": "new"}
RANDOM_WINDOWS = [(0.02, 0.3), (0.3, 0.6), (0.6, 0.9), (0.9, 1.0), (0.97, 1.03)]  # fractions of a whole run


def index_in_subprocess(
    corpus: Path, store: Path, kill_after: float | None = None, kill_at: str | None = None
) -> tuple[int, float]:
    """Run ``qa index`` into ``store``, SIGKILLed after ``kill_after`` seconds or by itself at the
    save stage ``kill_at``; its exit code and how long it ran."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("QA_TEST_KILL_AT", None)
    if kill_at is not None:
        env["QA_TEST_KILL_AT"] = kill_at
    command = [sys.executable, "-m", "qa.cli", "index", str(corpus), "--store", str(store)]
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_after is not None:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert b"Traceback" not in err, err.decode()
    return proc.returncode, time.monotonic() - started


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A copy of the bundled report (68 sentences to embed)."""
    folder = tmp_path_factory.mktemp("corpus")
    shutil.copy(REPORT, folder / "report.txt")
    return folder


@pytest.fixture(scope="module")
def old_store(tmp_path_factory, encoder) -> Path:
    """A store with one small document, built with the default encoder."""
    from qa.assistant import Assistant

    store = tmp_path_factory.mktemp("old") / "store"
    Assistant.from_documents([make_document("parks.txt", "宁波市今年新建口袋公园45个。")], encoder).save(store)
    return store


def check_old_or_new(store: Path, encoder) -> str:  # the session encoder
    """Load the store, ask it, and say which index it holds."""
    from qa.assistant import Assistant

    assistant = Assistant.load(store, encoder)
    names = {d.name for d in assistant.index.documents}
    assert names in (OLD, NEW), names
    assert assistant.ask("新建了多少个口袋公园？").answer == "45个"
    if names == OLD:
        return "old"
    assert assistant.ask("公布了多少个不予处罚事项？").answer == "106个"
    return "new"


@pytest.mark.slow
def test_qa_index_killed_at_any_moment_leaves_the_old_or_the_new_index(tmp_path, corpus, old_store, encoder):
    before = digests(corpus)
    outcomes: dict[str, str] = {}
    runs = []
    for stage, survivor in SAVE_STAGES.items():
        store = tmp_path / f"stage-{stage}"
        shutil.copytree(old_store, store)
        code, took = index_in_subprocess(corpus, store, kill_at=stage)
        assert code == -signal.SIGKILL
        runs.append(took)
        outcomes[stage] = check_old_or_new(store, encoder)
        assert outcomes[stage] == survivor, (stage, outcomes[stage])
    whole_run = max(runs[1:])  # the first run filled the embedding cache: the others are as long as those below
    rng = random.Random()
    for run, (lo, hi) in enumerate(RANDOM_WINDOWS):
        delay = round(rng.uniform(lo, hi) * whole_run, 2)
        store = tmp_path / f"random-{run}"  # two windows can round to the same delay on a fast machine
        shutil.copytree(old_store, store)
        code, _ = index_in_subprocess(corpus, store, kill_after=delay)
        assert code in (0, -signal.SIGKILL), code
        outcome = check_old_or_new(store, encoder)
        assert code == -signal.SIGKILL or outcome == "new"
        outcomes[f"run {run}: " + (f"SIGKILL after {delay}s" if code else f"finished before {delay}s")] = outcome
    assert digests(corpus) == before, "the documents were modified"

    store = tmp_path / "stage-publishing"  # an orphan data folder and a temporary manifest are left there
    assert index_in_subprocess(corpus, store)[0] == 0
    assert check_old_or_new(store, encoder) == "new"
    left = sorted(p.name for p in store.iterdir() if not p.name.startswith("data-"))
    assert left == [".lock", "audit.jsonl", "manifest.json"]  # audit.jsonl: qa index's line in the audit log
    assert len([p for p in store.iterdir() if p.name.startswith("data-")]) == 1
    print(f"whole run {whole_run:.1f}s:", outcomes)  # shown with -s: where each run stopped, what it left


def test_a_store_saved_inside_the_documents_folder_leaves_the_documents_alone(tmp_path, corpus, encoder):
    """(The format-1 save renamed the store folder aside and deleted it: here, the documents.)"""
    from qa.assistant import Assistant

    folder = tmp_path / "docs"
    shutil.copytree(corpus, folder)
    (folder / "notes.md").write_text("# notes\n公园45个。", encoding="utf-8")
    before = digests(folder)
    assistant = Assistant.from_paths([folder], encoder)
    assistant.save(folder)
    assistant.save(folder)
    assert {k: v for k, v in digests(folder).items() if k in before} == before
    assert Assistant.load(folder, encoder).ask("公布了多少个不予处罚事项？").answer == "106个"
