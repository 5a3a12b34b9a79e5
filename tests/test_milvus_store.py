"""The store contract, run against a store folder (FAISS + BM25 files) and an embedded Milvus Lite
database; and what only the Milvus store does: store addresses, changes as upserts and deletes,
BM25 by Milvus's own function. Real Milvus Lite, the real default encoder, small real documents."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eval.metrics import summarise
from eval.runner import run_set
from eval.sets import load_set
from qa.assistant import Assistant
from qa.cli import main
from qa.documents import make_document
from qa.location import LocationError, MilvusLocation, parse_location
from qa.store import StoreChangeError, StoreState, read_state, update_store
from tests.conftest import SEED_DEV

PARKS = make_document("parks.txt", "宁波市公园年报\n宁波市今年新建口袋公园45个，种树1200棵。")
SCHOOLS = make_document("schools.txt", "宁波市教育年报\n宁波市今年新建中小学12所，新增学位8000个。")
PARKS_AGAIN = make_document("parks.txt", "宁波市公园年报\n宁波市今年新建口袋公园52个，种树1500棵。")
ROADS = make_document("roads.txt", "宁波市交通年报\n宁波市今年新修道路31公里。")


@pytest.fixture(params=["folder", "milvus-lite"])
def location(request, tmp_path) -> Path | MilvusLocation:
    """An empty store of each backend."""
    return tmp_path / "store" if request.param == "folder" else MilvusLocation(str(tmp_path / "qa.db"), True)


def names(location: Path | MilvusLocation) -> list[str]:
    return sorted(d.name for d in Assistant.load(location).index.documents)


def test_store_contract_add_change_remove_replace(location, encoder):
    update_store(location, encoder, [PARKS, SCHOOLS])
    assert names(location) == ["parks.txt", "schools.txt"]
    assert Assistant.load(location).ask("宁波市今年新建口袋公园多少个？").answer == "45个"
    update_store(location, encoder, [PARKS_AGAIN])  # a changed document replaces the one of its name
    assert names(location) == ["parks.txt", "schools.txt"]
    assistant = Assistant.load(location)
    assert assistant.ask("宁波市今年新建口袋公园多少个？").answer == "52个"
    assert assistant.ask("宁波市今年新建中小学多少所？").answer == "12所"
    update_store(location, encoder, remove=["schools.txt"])
    assert names(location) == ["parks.txt"]
    with pytest.raises(StoreChangeError, match="no document named schools.txt"):
        update_store(location, encoder, remove=["schools.txt"])
    with pytest.raises(StoreChangeError, match="last document"):
        update_store(location, encoder, remove=["parks.txt"])
    assert names(location) == ["parks.txt"]
    update_store(location, encoder, [ROADS], replace=True)
    assert names(location) == ["roads.txt"]


def test_store_contract_read_state(location, encoder):
    assert read_state(location, encoder) is None  # no store yet
    saved = update_store(location, encoder, [PARKS])
    state = read_state(location, encoder)
    assert state is not None and [d.name for d in state.assistant.index.documents] == ["parks.txt"]
    again = read_state(location, encoder, known=saved)
    assert again is not None and again.assistant is saved.assistant  # unchanged: the one held is kept
    update_store(location, encoder, [SCHOOLS])
    changed = read_state(location, encoder, known=saved)
    assert changed is not None and changed.assistant is not saved.assistant
    assert sorted(d.name for d in changed.assistant.index.documents) == ["parks.txt", "schools.txt"]


def test_seed_dev_end_to_end_on_each_backend(location, report_assistant):
    """The development set over the bundled report, from a saved store of each backend, with the
    default reader and with the rules: what the index held in memory gives."""
    report_assistant.save(location)
    assistant = Assistant.load(location)
    assert len(assistant.index.sentences) == len(report_assistant.index.sentences)
    summary = summarise(run_set(assistant, load_set(SEED_DEV)).judged)
    in_memory = summarise(
        run_set(Assistant(report_assistant.index, report_assistant.encoder), load_set(SEED_DEV)).judged
    )
    assert summary["questions"] == 41
    assert summary["accuracy"] >= 0.95 and summary["refusal_accuracy"] == 1.0
    same = ("accuracy", "evidence@1", "quote_accuracy")
    assert {k: summary[k] for k in same} == {k: in_memory[k] for k in same}
    rules = summarise(run_set(Assistant.load(location, reader="rules"), load_set(SEED_DEV)).judged)
    assert rules["accuracy"] == 1.0 and rules["evidence@1"] == 1.0 and rules["quote_accuracy"] == 1.0


def test_a_milvus_change_is_upserts_and_deletes_of_its_documents(tmp_path, encoder):
    """Re-indexing a changed document rewrites its rows only; removing one deletes its rows only."""
    from qa.milvus_store import _corpus_for

    location = MilvusLocation(str(tmp_path / "qa.db"), True)
    update_store(location, encoder, [PARKS, SCHOOLS])
    corpus = _corpus_for(location)

    def rows() -> dict[str, set[int]]:
        out: dict[str, set[int]] = {}
        for row in corpus._rows(corpus.sentences, ["id", "doc"]):
            out.setdefault(row["doc"], set()).add(int(row["id"]))
        return out

    def written() -> dict[str, int]:
        return {d.name: d.written for d in corpus.stored_documents()[0]}

    before, when = rows(), written()
    update_store(location, encoder, [PARKS_AGAIN])
    after = rows()
    assert after["schools.txt"] == before["schools.txt"] and written()["schools.txt"] == when["schools.txt"]
    assert after["parks.txt"].isdisjoint(before["parks.txt"])  # the old version's rows are gone
    assert len(after["parks.txt"]) == len(Assistant.load(location).index.sentences) - len(after["schools.txt"])
    update_store(location, encoder, [SCHOOLS])  # unchanged: nothing is written
    assert written()["schools.txt"] == when["schools.txt"]
    update_store(location, encoder, remove=["parks.txt"])
    assert set(rows()) == {"schools.txt"} and rows()["schools.txt"] == before["schools.txt"]


def test_a_milvus_store_keeps_long_texts_and_odd_names_whole(tmp_path, report_assistant, monkeypatch):
    """A text longer than a chunk is stored in chunks and read back whole; a name with quotes and
    backslashes is written, replaced and removed by its own rows (filters quote it)."""
    import qa.milvus_store

    monkeypatch.setattr(qa.milvus_store, "CHUNK_CHARS", 700)
    location = MilvusLocation(str(tmp_path / "qa.db"), True)
    report = report_assistant.index.documents[0]
    odd = make_document('年报 "终稿" \\ v2.txt', PARKS.text)
    update_store(location, report_assistant.encoder, [report, odd], known=StoreState(report_assistant, None))
    loaded = Assistant.load(location)
    assert loaded.index.texts[report.name].text == report.text and len(report.text) > 5 * 700
    assert loaded.index.texts[odd.name].text == PARKS.text
    again = make_document(odd.name, PARKS_AGAIN.text)
    update_store(location, report_assistant.encoder, [again])
    assert Assistant.load(location).ask("宁波市今年新建口袋公园多少个？").answer == "52个"
    update_store(location, report_assistant.encoder, remove=[odd.name])
    assert names(location) == [report.name]


def test_milvus_bm25_finds_what_our_bm25_finds(tmp_path, encoder):
    """Keyword search by Milvus's BM25 function (jieba analyzer) against our own BM25 matrix."""
    from qa.milvus_store import MilvusKeywords
    from qa.retrieve import KEYWORD_K
    from qa.text import tokens

    path = str(tmp_path / "qa.db")
    update_store(MilvusLocation(path, True), encoder, [PARKS, SCHOOLS, ROADS])
    own = Assistant.load(MilvusLocation(path, True, keywords="own")).index
    bm25 = Assistant.load(MilvusLocation(path, True, keywords="milvus")).index
    assert isinstance(bm25.keywords, MilvusKeywords) and not isinstance(own.keywords, MilvusKeywords)
    for question, doc in [("新修道路多少公里", "roads.txt"), ("新增学位", "schools.txt"), ("口袋公园", "parks.txt")]:
        terms = tokens(question)
        mine, theirs = own.keywords.search(terms, KEYWORD_K), bm25.keywords.search(terms, KEYWORD_K)
        assert len(theirs.ids) and np.all(theirs.scores > 0)
        assert own.sentences[int(mine.ids[0])].doc == bm25.sentences[int(theirs.ids[0])].doc == doc
    assert not len(bm25.keywords.search(tokens("火星探测器"), KEYWORD_K).ids)  # no term in the corpus: nothing


def test_store_addresses():
    assert parse_location("./dir") == Path("dir")
    embedded = parse_location("milvus:./qa.db")
    assert isinstance(embedded, MilvusLocation) and embedded.embedded and embedded.uri == "qa.db"
    assert str(embedded) == "milvus:qa.db" and embedded.audit_folder == Path("qa.db.audit")
    server = parse_location("http://milvus.internal:19530/")
    assert isinstance(server, MilvusLocation) and not server.embedded and server.uri == "http://milvus.internal:19530"
    for bad in ["http://root:Milvus@host:19530", "http://host:19530/db?x=1", "milvus:", "milvus://host:19530"]:
        with pytest.raises(LocationError):
            parse_location(bad)


def test_server_credentials_come_from_the_environment(monkeypatch):
    server = MilvusLocation("http://host:19530", False)
    monkeypatch.delenv("MILVUS_TOKEN", raising=False)
    monkeypatch.delenv("MILVUS_USER", raising=False)
    assert server.credentials() == {}
    monkeypatch.setenv("MILVUS_USER", "alice")
    monkeypatch.setenv("MILVUS_PASSWORD", "s3cret")
    assert server.credentials() == {"user": "alice", "password": "s3cret"}
    monkeypatch.setenv("MILVUS_TOKEN", "alice:s3cret")
    assert server.credentials() == {"token": "alice:s3cret"}
    assert MilvusLocation("qa.db", True).credentials() == {}


def test_qa_index_and_ask_on_a_milvus_store(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "parks.txt").write_text(PARKS.text, encoding="utf-8")
    store = f"milvus:{tmp_path / 'qa.db'}"
    assert main(["index", str(docs), "--store", store]) == 0
    assert "indexed 1 documents" in capsys.readouterr().out
    assert main(["ask", "宁波市今年种树多少棵？", "--store", store]) == 0
    assert capsys.readouterr().out.startswith("1200棵")
    assert (tmp_path / "qa.db.audit" / "audit.jsonl").is_file()
    assert main(["log", "--store", store]) == 0 and "index" in capsys.readouterr().out
    assert main(["ask", "种树多少棵？", "--store", "http://user:pw@localhost:19530"]) == 2
    assert "credentials" in capsys.readouterr().err
    assert main(["ask", "种树多少棵？", "--store", f"milvus:{tmp_path / 'none.db'}"]) == 2
    assert "no index here" in capsys.readouterr().err


def test_an_embedded_database_held_by_another_process_is_waited_for_then_refused(tmp_path):
    """Milvus Lite opens a database in one process at a time: another one waits, then is told to
    share the store through a server, in one line."""
    import subprocess
    import sys

    from qa.index import StoreError
    from qa.milvus_store import MilvusCorpus

    path = tmp_path / "qa.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import time; from pymilvus import MilvusClient; c = MilvusClient({str(path)!r}); "
            "print('held', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match="another process has this embedded database open.*Milvus server"):
            MilvusCorpus(MilvusLocation(str(path), True), wait_s=0.5)
    finally:
        holder.kill()
        holder.wait()
    corpus = MilvusCorpus(MilvusLocation(str(path), True), wait_s=5)  # free again
    assert not corpus.exists()
    corpus.close()
