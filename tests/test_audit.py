"""The audit log (issue 14, row 12): every upload, removal, re-index and failed login is a JSON line in
the store folder with its time, the client's address and the user; ``qa log`` reads it back. After 20
uploads, 6 removals and 1,172 questions the server's log held only its start line."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from qa.assistant import Assistant
from qa.audit import AUDIT_FILE, Actor, AuditLog, AuditSettings, audit_files, format_entry, read_audit
from qa.cli import main
from qa.documents import make_document
from tests.test_app_api import free_port
from ui.app import Library

AUTH = ("alice", "s3cret")
PARKS = make_document("parks.txt", "宁波市今年新建口袋公园45个。")


@pytest.fixture
def store(tmp_path, encoder) -> Path:
    path = tmp_path / "store"
    Assistant.from_documents([PARKS], encoder).save(path)
    return path


def test_uploads_removals_and_failed_logins_are_recorded_with_client_and_user(store, encoder, tmp_path):
    from gradio_client import Client, handle_file

    from ui.app import serve

    library = Library(Assistant.load(store, encoder), store)
    port = free_port()
    demo = serve(library, port=port, block=False, auth=AUTH)
    url = f"http://127.0.0.1:{port}"
    try:
        assert httpx.post(url + "/login", data={"username": "mallory", "password": "guess"}).status_code == 400
        assert httpx.post(url + "/login", data={"username": "alice", "password": "wrong"}).status_code == 400
        client = Client(url + "/", auth=AUTH, analytics_enabled=False, verbose=False)
        trees = tmp_path / "trees.txt"
        trees.write_text("今年种树120棵。", encoding="utf-8")
        assert client.predict([handle_file(str(trees))], api_name="/upload")[0].startswith("✓ trees.txt")
        assert client.predict([handle_file(str(trees))], api_name="/upload")[0].startswith("⚠ trees.txt")
        assert client.predict("trees.txt", api_name="/remove")[0] == "✓ removed trees.txt"
        assert client.predict("nothing.txt", api_name="/remove")[0] == "✗ no document named nothing.txt"
    finally:
        demo.close()
    entries = read_audit(store)
    assert [(e["event"], e["client"], e["user"]) for e in entries] == [
        ("login_failed", "127.0.0.1", "mallory"),
        ("login_failed", "127.0.0.1", "alice"),
        ("upload", "127.0.0.1", "alice"),
        ("upload", "127.0.0.1", "alice"),
        ("remove", "127.0.0.1", "alice"),
        ("remove", "127.0.0.1", "alice"),
    ]
    upload, asked, removal, missing = entries[2:]
    assert upload["ok"] is True and upload["documents"] == ["trees.txt"] and "9 characters" in upload["message"]
    assert asked["ok"] is False and "already indexed" in asked["message"]
    assert removal["ok"] is True and removal["documents"] == ["trees.txt"]
    assert missing["ok"] is False and missing["message"] == "✗ no document named nothing.txt"
    assert all(e["time"].endswith("+00:00") for e in entries)
    assert "s3cret" not in (store / AUDIT_FILE).read_text(encoding="utf-8")  # passwords are never written


def test_qa_index_is_recorded_and_qa_log_reads_the_log(store, tmp_path, monkeypatch, capsys, encoder):
    monkeypatch.setattr("qa.cli.load_cli_encoder", lambda spec, store=None: encoder)
    trees = tmp_path / "trees.txt"
    trees.write_text("今年种树120棵。", encoding="utf-8")
    assert main(["index", str(trees), "--store", str(store)]) == 0
    AuditLog(store).record("remove", Actor("10.0.0.7", "bob"), ok=True, documents=["parks.txt"], message="✓ removed")
    capsys.readouterr()

    assert main(["log", "--store", str(store)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert " index " in lines[0] and " local " in lines[0] and "trees.txt" in lines[0] and "replace=false" in lines[0]
    assert " remove " in lines[1] and "10.0.0.7" in lines[1] and "bob" in lines[1] and "— ✓ removed" in lines[1]

    assert main(["log", "--store", str(store), "--tail", "1", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    entry = json.loads(line)
    assert entry["event"] == "remove" and entry["client"] == "10.0.0.7" and entry["user"] == "bob"

    assert main(["log", "--store", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("qa: error:")


def test_the_log_is_rotated_and_read_back_across_its_files(tmp_path):
    log = AuditLog(tmp_path, AuditSettings(max_bytes=2048, backups=3))
    for i in range(60):
        log.record("upload", Actor("127.0.0.1", None), ok=True, documents=[f"doc-{i:02d}.txt"], message="✓" * 20)
    log.close()
    files = audit_files(tmp_path)
    assert [p.name for p in files] == [f"{AUDIT_FILE}.3", f"{AUDIT_FILE}.2", f"{AUDIT_FILE}.1", AUDIT_FILE]
    assert all(p.stat().st_size <= 2048 for p in files)
    entries = read_audit(tmp_path)
    numbers = [int(e["documents"][0][4:6]) for e in entries]
    assert numbers == sorted(numbers) and numbers[-1] == 59 and numbers[0] > 0  # the oldest rotated away
    assert [e["documents"] for e in read_audit(tmp_path, tail=2)] == [["doc-58.txt"], ["doc-59.txt"]]


def test_a_log_that_cannot_be_written_is_said_once_and_never_stops_a_change(report_assistant, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    said = []
    library = Library(report_assistant, None, audit=AuditLog(blocker / "store", warn=said.append))
    notes = tmp_path / "notes.txt"
    notes.write_text("宁波市今年新建口袋公园45个。", encoding="utf-8")
    assert library.add([("notes.txt", notes)])[0].startswith("✓ notes.txt")
    assert library.remove("notes.txt") == "✓ removed notes.txt"
    assert len(said) == 1 and "cannot write the audit log" in said[0]


def test_entries_read_as_one_line_each():
    entry = {"time": "t", "event": "upload", "client": "::1", "user": None, "ok": False, "documents": ["a\nb"]}
    assert "\n" not in format_entry({**entry, "message": "✗ one\n✗ two"})
    assert format_entry({"unreadable": '{"time": "cut'}).startswith("(unreadable line)")
