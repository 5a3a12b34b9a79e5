"""The gate in front of the chat server (issue 14, rows 5 to 9): a read-only server writes no upload
to disk, a foreign Host or a page of another site is refused, and a flood of calls or of event streams
gets "busy, try again" instead of growing without bound.

``python -m pytest tests/test_guard.py -s`` prints the figures of the floods."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest

from qa.assistant import Assistant
from qa.documents import make_document
from tests.test_app_api import free_port
from ui.app import Library
from ui.guard import BUSY, STREAMS_BUSY, Guard, GuardSettings, ServeLimits, split_host

QUESTION, ANSWER = "公布了多少个不予处罚事项？", "106个"
REPORT = "ningbo-enforcement-report.txt"


@pytest.fixture
def started(report_assistant):
    """Start a server (keyword arguments of ``serve``); its URL and port. Closed after the test."""
    from ui.app import serve

    demos = []

    def start(library: Library | None = None, **options) -> tuple[str, int]:
        port = free_port()
        demos.append(serve(library or Library(report_assistant), port=port, block=False, **options))
        return f"http://127.0.0.1:{port}", port

    yield start
    for demo in demos:
        demo.close()


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# ---- row 5: read-only means no writes ------------------------------------------------------------


def test_a_read_only_server_writes_no_upload_to_disk(report_assistant, started, tmp_path, monkeypatch):
    """1,000 empty files posted to the upload route of a read-only server: refused before the body is
    read, and not one file lands in gradio's upload folder (they all did, with HTTP 200)."""
    uploads = tmp_path / "gradio-uploads"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    url, _ = started(Library(report_assistant, None, read_only=True))
    files = [("files", (f"empty-{i}.txt", b"", "text/plain")) for i in range(1000)]
    response = httpx.post(url + "/gradio_api/upload", files=files, timeout=60)
    assert response.status_code == 403 and "read-only" in response.json()["detail"]
    assert httpx.post(url + "/gradio_api/upload/", files=files[:1]).status_code == 403
    assert files_under(uploads) == []
    assert httpx.post(url + "/gradio_api/call/ask", json={"data": [QUESTION, 3]}).status_code == 200


def test_a_writable_server_still_takes_uploads(report_assistant, started, tmp_path, monkeypatch):
    uploads = tmp_path / "gradio-uploads"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    url, _ = started(Library(report_assistant))
    response = httpx.post(url + "/gradio_api/upload", files=[("files", ("notes.txt", b"x", "text/plain"))])
    assert response.status_code == 200 and len(files_under(uploads)) == 1


# ---- row 6: Host (DNS rebinding) ---------------------------------------------------------------------


def small_library(tmp_path: Path, encoder) -> Library:
    store = tmp_path / "store"
    documents = [
        make_document("parks.txt", "宁波市今年新建口袋公园45个。"),
        make_document("trees.txt", "今年种树120棵。"),
    ]
    Assistant.from_documents(documents, encoder).save(store)
    return Library(Assistant.load(store, encoder), store)


def test_a_foreign_host_name_is_refused(started, tmp_path, encoder):
    """``Host: evil.example`` (a name rebound to this machine) on a server without login: no page, no
    answer, no removal. Loopback names, the bound address and --allowed-host names are served."""
    library = small_library(tmp_path, encoder)
    url, port = started(library)
    evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    for method, path, body in [
        ("GET", "/", None),
        ("GET", "/config", None),
        ("GET", "/gradio_api/info", None),
        ("POST", "/gradio_api/call/remove", {"data": ["parks.txt"]}),
        ("POST", "/gradio_api/call/ask", {"data": [QUESTION, 3]}),
    ]:
        response = httpx.request(method, url + path, headers=evil, json=body)
        assert response.status_code == 403, (method, path, response.status_code)
        assert "evil.example" in response.json()["detail"] and "--allowed-host" in response.json()["detail"]
    for bad in ("evil.example", "127.0.0.1.evil.example", "localhost.", "", "a b", "user@127.0.0.1"):
        response = httpx.get(url + "/config", headers={"Host": bad})
        assert response.status_code == (200 if bad == "localhost." else 403), bad
    time.sleep(0.5)
    assert sorted(row[0] for row in library.documents()) == ["parks.txt", "trees.txt"]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "127.0.0.1", f"LOCALHOST:{port}"):
        assert httpx.get(url + "/config", headers={"Host": host}).status_code == 200, host

    named, named_port = started(library, allowed_hosts=("docs.example",))
    assert httpx.get(named + "/config", headers={"Host": f"docs.example:{named_port}"}).status_code == 200
    assert httpx.get(named + "/config", headers={"Host": f"evil.example:{named_port}"}).status_code == 403


def test_host_names_are_compared_without_port_case_or_brackets():
    guard = Guard(None, GuardSettings("127.0.0.1", ("Docs.Example",)))
    assert split_host("[::1]:7860") == ("::1", 7860) and split_host("a/b") is None
    assert [guard.host_allowed(h) for h in ("docs.example:80", "[::1]:7860", "10.0.0.5", None)] == [
        True,
        True,
        False,
        False,
    ]
    wildcard = Guard(None, GuardSettings("0.0.0.0"))  # any IP address: a name is needed to rebind
    assert wildcard.host_allowed("192.168.1.5:7860") and wildcard.host_allowed("[fe80::1]:7860")
    assert not wildcard.host_allowed("evil.example:7860")


# ---- row 7: requests from pages of another site -------------------------------------------------------


def test_cross_site_uploads_and_posts_are_refused(started, tmp_path, encoder, monkeypatch):
    """A page of another site posting a file to the upload route, or a removal, is refused (403) and
    nothing is stored; the server's own page (same Origin) and programs (no Origin) are served."""
    uploads = tmp_path / "gradio-uploads"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    library = small_library(tmp_path, encoder)
    url, port = started(library)
    upload = [("files", ("notes.txt", "宁波市今年新建口袋公园45个。".encode(), "text/plain"))]
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": f"http://localhost:{port + 1}"},  # another server on this machine is another site
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
        {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"},
    ):
        response = httpx.post(url + "/gradio_api/upload", files=upload, headers=headers)
        assert response.status_code == 403 and "another site" in response.json()["detail"], headers
        removal = httpx.post(url + "/gradio_api/call/remove", json={"data": ["parks.txt"]}, headers=headers)
        assert removal.status_code == 403, headers
    assert files_under(uploads) == []
    time.sleep(0.5)
    assert sorted(row[0] for row in library.documents()) == ["parks.txt", "trees.txt"]

    same = {"Origin": url, "Sec-Fetch-Site": "same-origin"}
    assert httpx.post(url + "/gradio_api/upload", files=upload, headers=same).status_code == 200
    assert len(files_under(uploads)) == 1
    other = [("files", ("other.txt", b"another file", "text/plain"))]
    assert httpx.post(url + "/gradio_api/upload", files=other).status_code == 200  # a program: no Origin
    assert len(files_under(uploads)) == 2
    link = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}  # following a link to the page
    assert httpx.get(url + "/", headers=link).status_code == 200


# ---- rows 8 and 9: back-pressure -------------------------------------------------------------------------


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def flood(url: str, calls: int) -> list[tuple[int, float, str]]:
    """``calls`` questions posted to /call/ask at once: (status, seconds, body) of each."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:

        async def one() -> tuple[int, float, str]:
            started = time.perf_counter()
            for attempt in range(3):
                try:
                    response = await client.post(url + "/gradio_api/call/ask", json={"data": [QUESTION, 3]})
                    return response.status_code, time.perf_counter() - started, response.text
                except httpx.TransportError as exc:  # a kept-alive connection the server had just closed
                    if attempt == 2:
                        return 0, time.perf_counter() - started, repr(exc)
            raise AssertionError("unreachable")

        return await asyncio.gather(*(one() for _ in range(calls)))


class HeldLibrary(Library):
    """A library whose answers wait for ``gate``: the calls of a flood pile up as they would behind
    slow answers, whatever the speed of this machine."""

    def __init__(self, assistant: Assistant) -> None:
        super().__init__(assistant)
        self.gate = threading.Event()

    def ask(self, *args, **kwargs):
        self.gate.wait(timeout=120)
        return super().ask(*args, **kwargs)


@pytest.mark.slow
def test_a_flood_of_calls_beyond_the_queue_is_told_busy_at_once(started, report_assistant):
    """1,000 questions posted at once while the answers are held up (all were queued: memory grew by
    117 MB and a question behind them waited 12.4 s): ``concurrency`` run, ``queue_size`` wait, the
    other 932 are refused at once with "busy, try again" (503, Retry-After); once the answers flow
    again the queue drains and a question asked then is answered."""
    from gradio_client import Client

    limits = ServeLimits()
    library = HeldLibrary(report_assistant)
    url, _ = started(library, limits=limits)
    client = Client(url + "/", analytics_enabled=False, verbose=False)
    before = rss_mb()
    started_at = time.perf_counter()
    results = asyncio.run(flood(url, 1000))
    posted = time.perf_counter() - started_at
    accepted = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] == 503]
    assert len(accepted) + len(refused) == 1000, {r[0] for r in results}
    assert limits.queue_size <= len(accepted) <= limits.queue_size + limits.concurrency
    assert all(BUSY in body for _, _, body in refused)
    one_by_one = []  # the queue still full: how long one refusal takes, with no other request waiting
    for _ in range(20):
        took = time.perf_counter()
        response = httpx.post(url + "/gradio_api/call/ask", json={"data": [QUESTION, 3]})
        one_by_one.append(time.perf_counter() - took)
        assert response.status_code == 503 and response.headers["retry-after"] == str(limits.retry_after_s)
    refusal = np.array(one_by_one) * 1000
    assert np.median(refusal) < 1000
    with pytest.raises(Exception, match="try again"):  # gradio_client: "Queue is full! Please try again."
        client.predict(QUESTION, 3, api_name="/ask")
    flooded = rss_mb()

    library.gate.set()
    behind = time.perf_counter()
    while True:  # the held calls drain; a question is refused until the queue has room, then answered
        try:
            record = client.predict(QUESTION, 3, api_name="/ask")
            break
        except Exception as exc:
            assert "try again" in str(exc), exc
            assert time.perf_counter() - behind < 120
            time.sleep(0.2)
    waited = time.perf_counter() - behind
    assert record["answer"] == ANSWER
    print(
        f"\n1,000 calls to /ask at once, answers held (queue of {limits.queue_size}, {limits.concurrency} at a "
        f"time): {len(accepted)} taken, {len(refused)} refused as busy, all 1,000 replied to in {posted:.1f} s "
        f"through 100 connections; a refusal alone takes p50 {np.percentile(refusal, 50):.0f} ms, max "
        f"{refusal.max():.0f} ms; once answers flowed, a question behind the {len(accepted)} was answered in "
        f"{waited:.1f} s; memory of the test process (server and clients) {before:.0f} → {flooded:.0f} MB"
    )


async def open_heartbeats(url: str, count: int, hold: float) -> list[int]:
    """Open ``count`` heartbeat streams from one address at once, hold them ``hold`` seconds; the
    status of each."""
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        statuses: list[int] = []
        gate = asyncio.Event()

        async def one(i: int) -> None:
            async with client.stream("GET", f"{url}/gradio_api/heartbeat/flood{i}") as response:
                statuses.append(response.status_code)
                if response.status_code == 200:
                    await gate.wait()
                else:
                    await response.aread()
                    assert STREAMS_BUSY in response.text and response.headers["retry-after"]

        async def release() -> None:
            while len(statuses) < count:
                await asyncio.sleep(0.05)
            await asyncio.sleep(hold)
            gate.set()

        await asyncio.gather(*(one(i) for i in range(count)), release())
        return statuses


def test_event_streams_from_one_address_are_limited(started, report_assistant):
    """Heartbeat streams need no login and were all held open (1,100 took 1,112 file descriptors): one
    address now holds at most ``streams_per_client``; the next are told busy at once, and a stream
    closed makes room again."""
    limits = ServeLimits()
    url, _ = started(Library(report_assistant), limits=limits)
    count = limits.streams_per_client + 100
    started_at = time.perf_counter()
    statuses = asyncio.run(open_heartbeats(url, count, hold=0.5))
    took = time.perf_counter() - started_at
    assert statuses.count(200) == limits.streams_per_client
    assert statuses.count(429) == count - limits.streams_per_client
    again = asyncio.run(open_heartbeats(url, 3, hold=0))
    assert again == [200, 200, 200]  # the streams closed gave their places back
    print(
        f"\n{count} heartbeat streams from one address: {statuses.count(200)} held, "
        f"{statuses.count(429)} refused as busy; all answered in {took:.1f} s"
    )


def test_limits_are_checked():
    with pytest.raises(ValueError):
        ServeLimits(queue_size=0)
    assert ServeLimits().queue_size >= 4 * ServeLimits().concurrency


def test_the_guard_settings_come_from_serve_arguments():
    settings = GuardSettings("0.0.0.0", ("a.example",), True, ServeLimits(queue_size=8))
    assert settings.host_names() == frozenset({"localhost", "127.0.0.1", "::1", "a.example"})


def test_qa_serve_passes_allowed_hosts(monkeypatch, report_assistant):
    import ui.app
    from qa.cli import build_parser, cmd_serve

    calls = []
    monkeypatch.delenv("QA_AUTH", raising=False)
    monkeypatch.setattr("qa.cli.open_assistant", lambda store, encoder, reader=None: report_assistant)

    def serve(library, host, port, block, auth, allowed_hosts):  # listens, as the server would, till "blocked"
        calls.append(allowed_hosts)
        listening = socket.create_server((host, port))
        return SimpleNamespace(block_thread=listening.close)

    monkeypatch.setattr(ui.app, "serve", serve)
    argv = ["serve", "--store", "unused", "--allowed-host", "docs.example", "--allowed-host", "qa.internal"]
    assert cmd_serve(build_parser().parse_args([*argv, "--port", str(free_port())])) == 0
    assert calls == [("docs.example", "qa.internal")]
