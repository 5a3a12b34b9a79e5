"""Faults of the machine while writing a store (issue 14, row 10): a full disk, no permission, a
read-only file system, a path through a file. `qa index` says so in one line and exits 2 (it ended
with a 21-line traceback and exit 1); an upload gets one readable message (the page showed "The
upstream Gradio app has raised an exception"); the store stays as it was.

The faults are real where a test can make them as any user (a store path through a regular file:
chmod does not stop root, who runs the tests in CI) and injected at the real write otherwise: the
``os.fsync`` of the save raises the ``OSError`` the kernel would."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.cli import main
from qa.documents import make_document
from ui.app import Library

PARKS = make_document("parks.txt", "宁波市今年新建口袋公园45个。")
FAULTS = [
    (errno.ENOSPC, "the disk is full"),
    (errno.EDQUOT, "the disk quota is used up"),
    (errno.EACCES, "permission denied"),
    (errno.EROFS, "the file system is read-only"),
]


@pytest.fixture
def store(tmp_path, encoder) -> Path:
    path = tmp_path / "store"
    Assistant.from_documents([PARKS], encoder).save(path)
    return path


@pytest.fixture
def new_document(tmp_path) -> Path:
    path = tmp_path / "trees.txt"
    path.write_text("今年种树120棵。园内另设长椅8张。", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def same_encoder(monkeypatch, encoder):
    """`qa index` in this process uses the session's encoder instead of loading one again, and shows
    no progress bar (a terminal's bar clears itself; captured, its frames would stay)."""
    monkeypatch.setattr("qa.cli.load_cli_encoder", lambda spec, store=None: encoder)
    monkeypatch.setattr("qa.cli._progress_bar", lambda desc, unit="sent": None)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (but the lock and the audit log) and its sha256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in (".lock", "audit.jsonl")
    }


def fail_writes(monkeypatch, code: int) -> None:
    def fsync(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", fsync)


def error_lines(stderr: str) -> list[str]:
    """The lines of stderr as a terminal shows them: what a carriage return overwrote is gone."""
    return [line.split("\r")[-1] for line in stderr.split("\n") if line.split("\r")[-1].strip()]


@pytest.mark.parametrize(("code", "says"), FAULTS)
def test_qa_index_says_a_write_fault_in_one_line_and_exit_2(store, new_document, monkeypatch, capsys, code, says):
    before = snapshot(store)
    fail_writes(monkeypatch, code)
    assert main(["index", str(new_document), "--store", str(store)]) == 2
    monkeypatch.undo()
    err = error_lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith(f"qa: error: {store}: cannot write the store: {says}"), err
    assert err[0].endswith("the store was left as it was")
    assert snapshot(store) == before  # no half-written data folder left behind either
    assert [d.name for d in Assistant.load(store).index.documents] == ["parks.txt"]


def test_the_qa_command_on_a_full_disk_prints_one_line_and_exits_2(store, new_document):
    """The whole command in its own process, as a user runs it, the disk full at the save's fsync
    (the progress bar off: under pytest tqdm ends its frames with newlines, not carriage returns)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    before = snapshot(store)
    script = (
        "import errno, os, sys\n"
        "def fsync(fd): raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
        "os.fsync = fsync\n"
        "from qa.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, "index", str(new_document), "--store", str(store)],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.splitlines() == [
        f"qa: error: {store}: cannot write the store: the disk is full (No space left on device); "
        "the store was left as it was"
    ]
    assert snapshot(store) == before


def test_qa_index_into_a_path_through_a_file_says_so_in_one_line(tmp_path, new_document, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file", encoding="utf-8")
    assert main(["index", str(new_document), "--store", str(blocker / "store")]) == 2
    err = error_lines(capsys.readouterr().err)
    assert len(err) == 1 and "a part of the path is a file, not a folder" in err[0], err
    assert blocker.read_text(encoding="utf-8") == "a file"


@pytest.mark.parametrize(("code", "says"), FAULTS[:1] + FAULTS[2:])
def test_an_upload_gets_one_readable_message_and_the_store_stays(store, new_document, encoder, monkeypatch, code, says):
    library = Library(Assistant.load(store, encoder), store, log=lambda message: None)
    before, served = snapshot(store), library.assistant
    fail_writes(monkeypatch, code)
    messages = library.add([("trees.txt", new_document)])
    monkeypatch.undo()
    assert messages == [f"✗ the store cannot be saved: {says}; nothing was changed"]
    assert library.assistant is served and snapshot(store) == before
    assert library.add([("trees.txt", new_document)])[0].startswith("✓ trees.txt")  # the disk has room again


def test_an_upload_through_the_server_gets_the_message_not_an_exception(store, new_document, encoder, monkeypatch):
    from gradio_client import Client, handle_file

    from tests.test_app_api import free_port
    from ui.app import serve

    library = Library(Assistant.load(store, encoder), store, log=lambda message: None)
    port = free_port()
    demo = serve(library, port=port, block=False)
    try:
        client = Client(f"http://127.0.0.1:{port}/", analytics_enabled=False, verbose=False)
        before = snapshot(store)
        fail_writes(monkeypatch, errno.ENOSPC)
        status, table, _ = client.predict([handle_file(str(new_document))], api_name="/upload")
        monkeypatch.undo()
        assert status == "✗ the store cannot be saved: the disk is full; nothing was changed"
        assert [row[0] for row in table["data"]] == ["parks.txt"] and snapshot(store) == before
    finally:
        demo.close()
