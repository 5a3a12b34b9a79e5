"""Writers into one store take turns and lose nothing (issue 14, rows 1 and 2): two `qa index` runs
at once, `qa index` behind a server's back, a writer waiting for the lock and one giving up.
Real `qa` processes, the real default encoder and real OS file locks."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.documents import make_document
from qa.storelock import LockSettings, store_lock
from tests.conftest import ROOT
from ui.app import STORE_BUSY, Library

BASE = make_document("base.txt", "宁波市今年新建口袋公园45个。")


def qa_index(*paths: Path, store: Path, wait: float | None = None) -> subprocess.Popen:
    """Start `qa index PATHS --store STORE` in its own process."""
    command = [sys.executable, "-m", "qa.cli", "index", *map(str, paths), "--store", str(store)]
    command += [] if wait is None else ["--wait", str(wait)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("QA_TEST_KILL_AT", None)
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def write_files(folder: Path, prefix: str, count: int, trees: int) -> dict[str, str]:
    """``count`` small documents, each with a figure of its own; their names and the figures."""
    folder.mkdir(parents=True)
    figures = {}
    for i in range(count):
        name = f"{prefix}-{i}.txt"
        figures[name] = f"{trees + i}棵"
        (folder / name).write_text(
            f"{prefix}区第{i}号公园\n{prefix}区第{i}号公园今年种树{trees + i}棵。园内另设长椅{i + 3}张。",
            encoding="utf-8",
        )
    return figures


@pytest.fixture
def store(tmp_path, encoder) -> Path:
    """A store holding one small document."""
    path = tmp_path / "store"
    Assistant.from_documents([BASE], encoder).save(path)
    return path


def names_in(store: Path) -> set[str]:
    return {d.name for d in Assistant.load(store).index.documents}


@contextmanager
def lock_held_elsewhere(store: Path) -> Iterator[None]:
    """Hold the store's writer lock in another thread for the ``with`` block (a lock is taken again
    at no cost by the thread holding it, so the test's own thread must not)."""
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with store_lock(store):
            taken.set()
            done.wait(timeout=300)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(timeout=30)
    try:
        yield
    finally:
        done.set()
        holder.join()


def stderr_lines(proc: subprocess.Popen) -> queue.Queue:
    """The lines of ``proc``'s stderr as they come (read by a thread, so that a test can wait with a timeout)."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def wait_for_line(lines: queue.Queue, pattern: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if re.search(pattern, line):
            return line
    raise AssertionError(f"no line matching {pattern!r} in {seen!r}")


def test_two_qa_index_runs_at_once_keep_every_document(store, tmp_path):
    """Row 1: both runs used to print "indexed 11 documents" and the store kept only one run's files."""
    east = write_files(tmp_path / "east", "东", 6, 100)
    west = write_files(tmp_path / "west", "西", 6, 200)
    runs = [qa_index(tmp_path / "east", store=store), qa_index(tmp_path / "west", store=store)]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
        assert "Traceback" not in err
    counts = sorted(int(re.search(r"indexed (\d+) documents", out).group(1)) for out, _ in outputs)
    assert counts == [7, 13]  # the second writer added its files to the first one's
    assistant = Assistant.load(store)
    assert {d.name for d in assistant.index.documents} == {BASE.name, *east, *west}
    for name, figure in [list(east.items())[0], list(west.items())[-1]]:
        prefix, number = name.removesuffix(".txt").split("-")
        answer = assistant.ask(f"{prefix}区第{number}号公园今年种树多少棵？")
        assert answer.answer == figure and answer.quote.doc == name


def test_a_second_writer_waits_for_the_lock_and_then_adds_its_documents(store, tmp_path):
    write_files(tmp_path / "docs", "南", 2, 300)
    before = (store / "manifest.json").read_bytes()
    with lock_held_elsewhere(store):
        run = qa_index(tmp_path / "docs", store=store, wait=120)
        lines = stderr_lines(run)
        message = wait_for_line(lines, "waiting for another writer", timeout=120)
        assert f"waiting for another writer on {store}" in message
        time.sleep(0.5)
        assert run.poll() is None  # still waiting
        assert (store / "manifest.json").read_bytes() == before
    assert run.wait(timeout=120) == 0
    assert "indexed 3 documents" in run.stdout.read()
    assert names_in(store) == {BASE.name, "南-0.txt", "南-1.txt"}


def test_a_writer_gives_up_after_its_wait_in_one_line_and_exit_2(store, tmp_path):
    write_files(tmp_path / "docs", "北", 1, 400)
    before = (store / "manifest.json").read_bytes()
    with lock_held_elsewhere(store):
        run = qa_index(tmp_path / "docs", store=store, wait=1)
        out, err = run.communicate(timeout=120)
    assert run.returncode == 2 and "Traceback" not in err and out == ""
    last = [line for line in re.split(r"[\r\n]", err) if line.strip()][-1]
    assert last.startswith("qa: error: ") and "another writer" in last and "nothing was changed" in last
    assert (store / "manifest.json").read_bytes() == before


def test_an_upload_keeps_what_qa_index_added_behind_the_servers_back(store, tmp_path):
    """Row 2: the server's next save used to drop the file `qa index` had added meanwhile."""
    library = Library(Assistant.load(store), store)
    write_files(tmp_path / "cli", "中", 1, 500)
    run = qa_index(tmp_path / "cli", store=store)
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    assert library.ask("中区第0号公园今年种树多少棵？").answer == "500棵"  # the server picked it up
    upload = tmp_path / "upload.txt"
    upload.write_text("上传区第0号公园今年种树600棵。", encoding="utf-8")
    assert library.add([("upload.txt", upload)])[0].startswith("✓ upload.txt")
    expected = {BASE.name, "中-0.txt", "upload.txt"}
    assert names_in(store) == expected
    assert {row[0] for row in library.documents()} == expected


def test_an_upload_or_removal_merges_into_a_store_changed_since_the_last_answer(store, tmp_path, encoder):
    """No question in between: the write itself reads the store again under the lock."""
    library = Library(Assistant.load(store), store)
    write_files(tmp_path / "cli", "东", 2, 700)
    run = qa_index(tmp_path / "cli", store=store)
    assert run.wait(timeout=300) == 0
    assert library.remove(BASE.name) == f"✓ removed {BASE.name}"
    assert names_in(store) == {"东-0.txt", "东-1.txt"}
    assert library.remove("东-9.txt") == "✗ no document named 东-9.txt"
    assert names_in(store) == {"东-0.txt", "东-1.txt"}


def test_a_server_upload_waits_then_says_the_store_is_busy_and_changes_nothing(store, tmp_path):
    notices: list[str] = []
    library = Library(Assistant.load(store), store, lock=LockSettings(timeout_s=0.5), log=notices.append)
    before, served = (store / "manifest.json").read_bytes(), library.assistant
    upload = tmp_path / "upload.txt"
    upload.write_text("上传区第1号公园今年种树800棵。", encoding="utf-8")
    with lock_held_elsewhere(store):
        assert library.add([("upload.txt", upload)]) == [STORE_BUSY]
        assert library.remove(BASE.name) == STORE_BUSY
    assert any("waiting for another writer" in n for n in notices)
    assert (store / "manifest.json").read_bytes() == before and library.assistant is served
    assert library.add([("upload.txt", upload)])[0].startswith("✓ upload.txt")  # free again
    assert names_in(store) == {BASE.name, "upload.txt"}


def test_a_server_keeps_its_reader_across_uploads_and_changes_on_disk(store, tmp_path):
    """`qa serve --reader trained`: the store state adopted after an upload, or after another
    writer's change, is read with the server's reader, not the default one."""
    from qa.reading.reader import TrainedReader

    library = Library(Assistant.load(store, reader="trained"), store)
    upload = tmp_path / "upload.txt"
    upload.write_text("上传区第0号公园今年种树600棵。", encoding="utf-8")
    assert library.add([("upload.txt", upload)])[0].startswith("✓ upload.txt")
    assert isinstance(library._assistant.reader, TrainedReader)
    write_files(tmp_path / "cli", "西", 1, 300)
    assert qa_index(tmp_path / "cli", store=store).wait(timeout=300) == 0
    assert library.ask("西区第0号公园今年种树多少棵？").found is not None  # adopts the store changed on disk
    assert "西-0.txt" in {row[0] for row in library.documents()}
    assert isinstance(library._assistant.reader, TrainedReader)
