from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEFAULT_CORPUS, ROOT


def qa(*args: str, store: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "QA_STORE": str(store), "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "store"
    done = qa("index", str(DEFAULT_CORPUS), "--store", str(path), store=path)
    assert done.returncode == 0, done.stderr
    assert "indexed 1 documents" in done.stdout
    return path


def test_ask_prints_answer_quote_and_place(store):
    done = qa("ask", "公布了多少个不予处罚事项？", "--store", str(store), store=store)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "106个"
    assert "推出106个不予处罚事项" in lines[1]
    assert "ningbo-enforcement-report.txt" in lines[2] and "二是" in lines[2]


def test_ask_json_is_a_results_line(store):
    done = qa("ask", "公布了多少个不予处罚事项？", "--json", "--store", str(store), store=store)
    record = json.loads(done.stdout)
    assert record["found"] is True and record["answer"] == "106个"
    assert set(record) >= {"question", "found", "answer", "quote", "sources", "latency_ms"}
    assert {"doc", "locator", "start", "end", "text", "score"} <= set(record["sources"][0])
    assert record["quote"]["text"] in record["sources"][0]["text"]


def test_ask_refusal_exits_zero_and_says_so(store):
    done = qa("ask", "宁波市2024年的GDP是多少？", "--json", "--store", str(store), store=store)
    record = json.loads(done.stdout)
    assert done.returncode == 0 and record["found"] is False and record["answer"] is None


def test_ask_refuses_in_the_language_of_the_question_as_the_chat_does(store):
    zh = qa("ask", "宁波市2024年的GDP是多少？", "--store", str(store), store=store)
    en = qa("ask", "What was Ningbo's GDP in 2024?", "--store", str(store), store=store)
    assert zh.stdout.startswith("文档中没有找到这个问题的答案（") and "最接近的段落：" in zh.stdout, zh.stdout
    assert en.stdout.startswith("The documents do not say (") and "Nearest passages:" in en.stdout, en.stdout


def test_default_store_is_built_from_the_bundled_corpus_saying_so_only_with_v(tmp_path):
    done = qa("ask", "公布了多少个不予处罚事项？", store=tmp_path / "fresh")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("106个") and "qa: " not in done.stderr  # quiet by default
    assert (tmp_path / "fresh" / "manifest.json").exists()
    told = qa("ask", "-v", "公布了多少个不予处罚事项？", store=tmp_path / "other")
    assert told.returncode == 0 and told.stdout.startswith("106个"), told.stderr
    assert f"qa: indexing the bundled default corpus into {tmp_path / 'other'} …" in told.stderr.splitlines()


def test_an_internal_error_is_exit_1_with_its_traceback_in_a_log_file(monkeypatch, capsys, tmp_path, report_assistant):
    """A bug — here a ValueError inside ``ask``, which once passed for bad input with exit 2 — is not
    the user's fault: exit 1, one line naming the file that holds the traceback."""
    from qa.assistant import Assistant
    from qa.cli import main

    def broken(self, question, sources=5):
        raise ValueError("an index out of step")

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr("qa.cli.open_assistant", lambda store, encoder, reader=None: report_assistant)
    monkeypatch.setattr(Assistant, "ask", broken)
    assert main(["ask", "公布了多少个不予处罚事项？", "--store", "unused"]) == 1
    [line] = capsys.readouterr().err.splitlines()
    said, _, where = line.partition("; the traceback is in ")
    assert said == "qa: internal error (ValueError: an index out of step)"
    log = Path(where)
    assert log.parent == tmp_path / "state" / "qa-assistant" and log.name.startswith("crash-")
    text = log.read_text(encoding="utf-8")
    assert "qa ask 公布了多少个不予处罚事项？ --store unused" in text
    assert "Traceback (most recent call last)" in text and 'raise ValueError("an index out of step")' in text

    monkeypatch.setenv("XDG_STATE_HOME", str(log))  # a file: no folder can be made there
    assert main(["ask", "x", "--store", "unused"]) == 1
    where = Path(capsys.readouterr().err.strip().partition("; the traceback is in ")[2])
    try:
        assert where.name.startswith("qa-crash-") and "ValueError: an index out of step" in where.read_text()
    finally:
        where.unlink()


@pytest.mark.parametrize("wait", ["-1", "soon", "nan"])
def test_a_bad_wait_is_a_usage_error(wait, tmp_path):
    done = qa("index", str(DEFAULT_CORPUS), "--wait", wait, "--store", str(tmp_path / "s"), store=tmp_path / "s")
    assert done.returncode == 2 and "--wait" in done.stderr.splitlines()[-1] and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "empty"),
        (["ask", "x" * 100_000], "characters long"),
        (["index", "/no/such/path"], "no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(store, args, message):
    done = qa(*args, "--store", str(store), store=store)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_bad_files_leave_the_store_untouched(store, tmp_path):
    before = (store / "manifest.json").read_bytes()
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\nbroken")
    (tmp_path / "empty.md").write_text("")
    for name in ("binary.txt", "broken.pdf", "empty.md"):
        done = qa("index", str(tmp_path / name), "--store", str(store), store=store)
        assert done.returncode == 2 and name in done.stderr and "Traceback" not in done.stderr
    assert (store / "manifest.json").read_bytes() == before


def test_unreadable_store_is_a_clear_error(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("garbage")
    done = qa("ask", "公布了多少个不予处罚事项？", "--store", str(tmp_path / "bad"), store=tmp_path / "bad")
    assert done.returncode == 2 and "re-index" in done.stderr


@pytest.mark.parametrize(
    "how",
    [
        "truncated vectors.npy",
        "a byte of documents.jsonl changed",
        "passages.jsonl deleted",
        "manifest.json cut short",
        "a value in manifest.json edited",
    ],
)
def test_a_tampered_store_is_refused_in_one_line(store, tmp_path, how):
    from tests.test_index import TAMPERINGS

    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    TAMPERINGS[how](copy)
    done = qa("ask", "公布了多少个不予处罚事项？", "--store", str(copy), store=copy)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "re-index" in done.stderr


def test_adding_a_gbk_document_to_the_store(store, tmp_path):
    (tmp_path / "gbk.txt").write_bytes("宁波市今年新建口袋公园45个。".encode("gbk"))
    done = qa("index", str(tmp_path / "gbk.txt"), "--store", str(store), store=store)
    assert done.returncode == 0, done.stderr
    assert "indexed 2 documents" in done.stdout
    answer = json.loads(qa("ask", "新建了多少个口袋公园？", "--json", "--store", str(store), store=store).stdout)
    assert answer["answer"] == "45个" and answer["quote"]["doc"] == "gbk.txt"


def test_serve_starts_the_chat_on_loopback_from_the_default_store(tmp_path):
    import time

    from gradio_client import Client

    from tests.test_app_api import free_port

    port = free_port()
    env = {**os.environ, "QA_STORE": str(tmp_path / "store"), "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        client = None
        while client is None and time.monotonic() < deadline:
            assert server.poll() is None, server.stderr.read()
            try:
                client = Client(f"http://127.0.0.1:{port}/", analytics_enabled=False, verbose=False)
            except Exception:
                time.sleep(0.5)
        assert client is not None, "the server did not come up"
        assert client.predict("公布了多少个不予处罚事项？", 2, api_name="/ask")["answer"] == "106个"
        assert (tmp_path / "store" / "manifest.json").exists()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_indexing_the_same_text_again_takes_every_vector_from_the_cache(tmp_path):
    env = {"QA_CACHE": str(tmp_path / "cache.sqlite")}
    first = qa("index", str(DEFAULT_CORPUS), "--store", str(tmp_path / "a"), store=tmp_path / "a", env_extra=env)
    again = qa("index", str(DEFAULT_CORPUS), "--store", str(tmp_path / "b"), store=tmp_path / "b", env_extra=env)
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert ", 0 from the cache)" in first.stdout and "(0 embedded, " in again.stdout
    answer = qa("ask", "公布了多少个不予处罚事项？", "--store", str(tmp_path / "b"), store=tmp_path / "b")
    assert answer.stdout.startswith("106个")


def test_ask_imports_neither_gradio_nor_torch(store):
    code = (
        "import sys; from qa.cli import main; main(['ask', '公布了多少个不予处罚事项？', '--store', sys.argv[1]]); "
        "print([m for m in ('gradio', 'torch', 'sentence_transformers', 'matplotlib') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code, str(store)], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.splitlines() == ["106个", *done.stdout.splitlines()[1:-1], "[]"], done.stderr
