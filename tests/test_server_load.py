"""Many people at once: 20 clients, each in its own session, ask 10 questions through the API while a
document is uploaded; every answer is right and belongs to its own question and conversation.

``python -m pytest tests/test_server_load.py -s`` prints the throughput and the latency percentiles."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.test_app_api import serving

CLIENTS = 20
QUESTIONS = 10
ASKED = [  # (question, answer) asked through /ask
    ("公布了多少个不予处罚事项？", "106个"),
    ("一线执法队员PDA配置率达到多少？", "92%"),
    ("行政执法协调统筹机制目前在哪个区试点实施？", "江北区"),
    ("亮码检查率达到多少？", "99.8%"),
    ("How many legal review staff have been assigned?", "199名"),
]
TOPICS = [  # (question, answer, the answer to 那覆盖了多少个领域？ asked after it; None: refused) through /chat
    ("公布了多少个不予处罚事项？", "106个", "14个"),
    # the report says how far PDAs are issued (92%), not how many fields they cover: 92% answers a
    # percentage question, not 多少个领域, so the follow-up is refused
    ("一线执法队员PDA配置率达到多少？", "92%", None),
]
FOLLOW_UP = "那覆盖了多少个领域？"
NEW_DOCUMENT = ("notes.txt", "宁波市今年新建口袋公园45个。", "今年新建了多少个口袋公园？", "45个")


def script(client: int) -> list[tuple[str, str, str | None]]:
    """A client's 10 questions as (endpoint, question, expected answer): six through /ask, then two
    conversations of a topic and its follow-up through /chat, in an order that depends on the client."""
    asked = [("/ask", *ASKED[(client + i) % len(ASKED)]) for i in range(QUESTIONS - 4)]
    topics = TOPICS if client % 2 == 0 else TOPICS[::-1]
    chats = [step for q, a, follow in topics for step in (("/chat", q, a), ("/chat", FOLLOW_UP, follow))]
    return asked + chats


def answer_of(endpoint: str, reply) -> str | None:  # a dict from /ask, Markdown from /chat
    """The answer shown, None for a refusal; anything else (an error message) is shown as it is."""
    if endpoint == "/ask":
        return reply["answer"]
    if reply.startswith("**"):
        return reply.split("**")[1]
    return None if reply.startswith(("文档中没有找到这个问题的答案", "The documents do not say")) else reply[:80]


class Load:
    """What the clients saw: latencies, wrong or failed replies, and the index states observed."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.problems: list[str] = []
        self.lock = threading.Lock()

    def record(self, seconds: float, problem: str | None = None) -> None:
        with self.lock:
            self.latencies.append(seconds)
            if problem:
                self.problems.append(problem)


def run_client(url: str, number: int, start: threading.Barrier, load: Load) -> None:
    from gradio_client import Client

    try:
        client = Client(url, analytics_enabled=False, verbose=False)
    except Exception as exc:  # a client that cannot connect is a lost client
        load.problems.append(f"client {number}: cannot connect ({type(exc).__name__}: {exc})")
        start.abort()
        return
    start.wait()
    for endpoint, question, expected in script(number):
        started = time.perf_counter()
        try:
            reply = client.predict(question, 3, api_name=endpoint)
        except Exception as exc:
            load.record(time.perf_counter() - started, f"client {number} {question}: {type(exc).__name__}: {exc}")
            continue
        got = answer_of(endpoint, reply)
        wrong = None if got == expected else f"client {number} {endpoint} {question}: {got!r}, expected {expected!r}"
        if endpoint == "/ask" and reply["question"] != question:
            wrong = f"client {number}: asked {question!r}, the reply is for {reply['question']!r}"
        load.record(time.perf_counter() - started, wrong)


def watch_index(library, stop: threading.Event, states: set) -> None:
    """Every index a reader can see is whole: as many vectors as sentences, and either the old set
    of documents or the new one."""
    while not stop.is_set():
        index = library.assistant.index
        states.add((tuple(d.name for d in index.documents), len(index.sentences), index.vectors.shape[0]))
        time.sleep(0.005)


@pytest.fixture(scope="module")
def server(report_assistant, tmp_path_factory):
    from ui.app import Library

    library = Library(report_assistant, tmp_path_factory.mktemp("load") / "store")
    with serving(library) as url:
        yield url, library


def test_twenty_clients_ask_while_a_document_is_uploaded(server, tmp_path):
    from gradio_client import Client, handle_file

    url, library = server
    load, start, stop, states = Load(), threading.Barrier(CLIENTS + 1), threading.Event(), set()
    threads = [threading.Thread(target=run_client, args=(url, n, start, load)) for n in range(CLIENTS)]
    watcher = threading.Thread(target=watch_index, args=(library, stop, states))
    for thread in [*threads, watcher]:
        thread.start()
    uploader = Client(url, analytics_enabled=False, verbose=False)
    name, text, question, expected = NEW_DOCUMENT
    (tmp_path / name).write_text(text, encoding="utf-8")
    start.wait(timeout=120)
    started = time.perf_counter()
    time.sleep(0.5)  # the clients are asking
    status, _, _ = uploader.predict([handle_file(str(tmp_path / name))], api_name="/upload")
    for thread in threads:
        thread.join(timeout=300)
    elapsed = time.perf_counter() - started
    stop.set()
    watcher.join()

    assert status.startswith(f"✓ {name}"), status
    assert not load.problems, "\n".join(load.problems[:10])
    assert len(load.latencies) == CLIENTS * QUESTIONS
    assert uploader.predict(question, 3, api_name="/ask")["answer"] == expected
    documents = {names for names, _, _ in states}
    assert documents <= {("ningbo-enforcement-report.txt",), ("ningbo-enforcement-report.txt", name)}
    assert all(sentences == vectors for _, sentences, vectors in states)
    latencies = np.array(load.latencies) * 1000
    print(
        f"\n{CLIENTS} clients × {QUESTIONS} questions, an upload among them: "
        f"{len(latencies) / elapsed:.1f} questions/s; latency p50 {np.percentile(latencies, 50):.0f} ms, "
        f"p95 {np.percentile(latencies, 95):.0f} ms, max {latencies.max():.0f} ms"
    )


def test_each_session_keeps_its_own_conversation(server):
    from gradio_client import Client

    url, _ = server
    first, second = (Client(url, analytics_enabled=False, verbose=False) for _ in range(2))
    assert answer_of("/chat", first.predict(TOPICS[0][0], 3, api_name="/chat")) == "106个"
    assert answer_of("/chat", second.predict(TOPICS[1][0], 3, api_name="/chat")) == "92%"
    assert answer_of("/chat", first.predict(FOLLOW_UP, 3, api_name="/chat")) == "14个"
    # asked alone or after the first session's question, the follow-up gets 14个; after its own
    # (the PDA rate) it is refused
    assert answer_of("/chat", second.predict(FOLLOW_UP, 3, api_name="/chat")) is None


def test_script_mixes_endpoints_and_topics():
    steps = script(0)
    assert len(steps) == QUESTIONS and [s[0] for s in steps].count("/chat") == 4
    assert script(0)[-4][1] != script(1)[-4][1]  # the conversations come in a different order


def test_the_dictionary_is_built_once_when_many_ask_at_first(monkeypatch):
    """The first English questions arriving together wait for one build of the CC-CEDICT table
    instead of each building it (which made them take seconds each, one after another)."""
    import qa.crosslingual as crosslingual

    monkeypatch.setenv("QA_CACHE", "off")  # no table kept from an earlier process: it is built here
    builds = []
    real_dictionary = crosslingual.Dictionary
    monkeypatch.setattr(crosslingual, "Dictionary", lambda: builds.append(1) or real_dictionary())
    crosslingual._english_to_chinese.cache_clear()
    try:
        threads = [threading.Thread(target=crosslingual.english_to_chinese) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(builds) == 1 and "penalty" in crosslingual.english_to_chinese()
    finally:
        crosslingual._english_to_chinese.cache_clear()
