"""Many writers and readers on one Milvus store, nothing lost (issue 12, point 3): against a real
`milvus-lite server` that each test starts on 127.0.0.1 and stops, with real `qa index` processes,
a server's upload (a `Library`, what `qa serve` runs) and a second server in its own process."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from qa.assistant import Assistant
from qa.location import MilvusLocation
from qa.milvus_store import REFRESH_S
from qa.store import update_store
from tests.conftest import ROOT
from tests.test_writers import BASE, qa_index, wait_for_line, write_files
from ui.app import Library

SERVER_START_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def milvus_server(tmp_path) -> Iterator[str]:
    """A `milvus-lite server` on a free port of 127.0.0.1, stopped after the test; its address."""
    port = free_port()
    command = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(tmp_path / "milvus")]
    proc = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_S
    try:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"milvus-lite server did not start: {proc.stderr.read() if proc.stderr else ''}"
                    )
                time.sleep(0.2)
        yield uri
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def store(milvus_server, encoder) -> MilvusLocation:
    """A Milvus store on the server, holding one small document."""
    location = MilvusLocation(milvus_server, False)
    update_store(location, encoder, [BASE])
    return location


def names_in(location: MilvusLocation) -> set[str]:
    return {d.name for d in Assistant.load(location).index.documents}


def test_two_qa_index_runs_and_an_upload_at_once_keep_every_document(store, tmp_path):
    east = write_files(tmp_path / "east", "东", 3, 100)
    west = write_files(tmp_path / "west", "西", 3, 200)
    runs = [qa_index(tmp_path / d, store=store.uri) for d in ("east", "west")]  # type: ignore[arg-type]
    library = Library(Assistant.load(store), store)
    upload = tmp_path / "upload.txt"
    upload.write_text("上传区第0号公园今年种树600棵。", encoding="utf-8")
    assert library.add([("upload.txt", upload)])[0].startswith("✓ upload.txt")
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        assert "indexed" in out
    expected = {BASE.name, "upload.txt", *east, *west}
    assert names_in(store) == expected
    assistant = Assistant.load(store)
    for name, figure in {**east, **west}.items():
        prefix, i = name.removesuffix(".txt").split("-")
        assert assistant.ask(f"{prefix}区第{i}号公园今年种树多少棵？").answer == figure
    library.ask("上传区第0号公园今年种树多少棵？")  # the server follows the store within the refresh interval
    time.sleep(REFRESH_S)
    assert library.ask("东区第0号公园今年种树多少棵？").answer == "100棵"
    assert {row[0] for row in library.documents()} == expected


READER = """
import sys, time
from pathlib import Path
from qa.assistant import Assistant
from qa.location import parse_location
from ui.app import Library

location = parse_location(sys.argv[1])
library = Library(Assistant.load(location), location)
print("ready", flush=True)
while library.ask("北区第0号公园今年种树多少棵？").answer != "300棵":
    time.sleep(0.05)
print("saw the upload", flush=True)
print(library.add([("south.txt", Path(sys.argv[2]))])[0], flush=True)
"""


def stdout_lines(proc: subprocess.Popen) -> queue.Queue:
    """The lines of ``proc``'s stdout as they come (read by a thread, so that a wait can time out)."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_two_servers_answer_from_each_others_uploads_within_the_refresh_interval(store, tmp_path):
    """A `Library` here and one in another process, on one store: each answers from a document
    uploaded through the other within ``REFRESH_S`` plus the time to read the store again."""
    south = tmp_path / "south.txt"
    south.write_text("南区第0号公园\n南区第0号公园今年种树400棵。", encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with open(tmp_path / "other.err", "w") as err:
        other = subprocess.Popen(
            [sys.executable, "-c", READER, store.uri, str(south)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        lines = stdout_lines(other)
        here = Library(Assistant.load(store), store)
        wait_for_line(lines, "ready", 120)
        north = tmp_path / "north.txt"
        north.write_text("北区第0号公园\n北区第0号公园今年种树300棵。", encoding="utf-8")
        assert here.add([("north.txt", north)])[0].startswith("✓ north.txt")
        uploaded = time.monotonic()
        wait_for_line(lines, "saw the upload", 60)
        seen_there = time.monotonic() - uploaded
        assert wait_for_line(lines, "south.txt", 120).startswith("✓ south.txt")
        uploaded = time.monotonic()
        while here.ask("南区第0号公园今年种树多少棵？").answer != "400棵":
            assert time.monotonic() - uploaded < 60, "the upload through the other server never showed here"
            time.sleep(0.05)
        seen_here = time.monotonic() - uploaded
        print(f"\nseen by the other server after {seen_there:.2f} s, by this one after {seen_here:.2f} s")
        assert seen_here <= REFRESH_S + 10 and seen_there <= REFRESH_S + 10
        assert {row[0] for row in here.documents()} == {BASE.name, "north.txt", "south.txt"}
    finally:
        other.kill()
        other.wait()
