"""Who can reach the chat: loopback by default, a login for the page and the API alike, and a
read-only mode that refuses uploads and removals."""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from qa.cli import CliError, build_parser, main, parse_auth
from tests.test_app_api import free_port
from ui.app import READ_ONLY, Library

QUESTION, ANSWER = "公布了多少个不予处罚事项？", "106个"
AUTH = ("alice", "s3cret:with colon")
PROTECTED = [  # (method, path) of the page's data and the API
    ("GET", "/config"),
    ("GET", "/gradio_api/info"),
    ("GET", "/gradio_api/queue/status"),
    ("GET", "/gradio_api/file=/etc/passwd"),
    ("POST", "/gradio_api/call/ask"),
    ("POST", "/gradio_api/queue/join"),
    ("POST", "/gradio_api/upload"),
]


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on ``port`` (Linux: /proc/net/tcp, tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                if len(raw) == 4:
                    found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


@pytest.fixture
def started(report_assistant):
    """Start a server (keyword arguments of ``serve``) and close it after the test."""
    from ui.app import serve

    demos = []

    def start(library: Library | None = None, **options) -> str:
        port = free_port()
        demos.append(serve(library or Library(report_assistant), port=port, block=False, **options))
        return f"http://127.0.0.1:{port}"

    yield start
    for demo in demos:
        demo.close()


def client(url: str, auth: tuple[str, str] | None = None):
    from gradio_client import Client

    return Client(url + "/", auth=auth, analytics_enabled=False, verbose=False)


def test_serves_on_loopback_only_by_default(started):
    url = started()
    port = int(url.rsplit(":", 1)[1])
    assert listening_addresses(port) == {"127.0.0.1"}
    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"


def test_login_protects_the_page_and_the_api_alike(started):
    url = started(auth=AUTH)
    page = httpx.get(url + "/")
    assert "ningbo-enforcement-report" not in page.text and QUESTION not in page.text  # the login form only
    for method, path in PROTECTED:
        response = httpx.request(method, url + path, json={"data": [QUESTION, 3]})
        assert response.status_code == 401, (method, path, response.status_code)
    with pytest.raises(Exception, match="credentials|login"):
        client(url)
    with pytest.raises(ValueError, match="Could not login"):
        client(url, ("alice", "wrong"))
    assert client(url, AUTH).predict(QUESTION, 3, api_name="/ask")["answer"] == ANSWER
    session = httpx.Client()
    assert session.post(url + "/login", data={"username": AUTH[0], "password": AUTH[1]}).status_code == 200
    assert session.get(url + "/config").status_code == 200


def test_read_only_library_refuses_uploads_and_removals(report_assistant, tmp_path):
    library = Library(report_assistant, None, read_only=True)
    notes = tmp_path / "notes.txt"
    notes.write_text("宁波市今年新建口袋公园45个。", encoding="utf-8")
    assert library.add([("notes.txt", notes)]) == [READ_ONLY]
    assert library.remove("ningbo-enforcement-report.txt") == READ_ONLY
    assert library.assistant is report_assistant


def test_read_only_server_says_so_and_refuses_through_the_api(report_assistant, started, tmp_path):
    from gradio_client import handle_file

    url = started(Library(report_assistant, None, read_only=True))
    assert "read-only" in httpx.get(url + "/config").text  # the documents panel says so
    notes = tmp_path / "notes.txt"
    notes.write_text("宁波市今年新建口袋公园45个。", encoding="utf-8")
    response = httpx.post(url + "/gradio_api/upload", files={"files": ("notes.txt", notes.read_bytes())})
    assert response.status_code == 403  # refused before its body is read: no file reaches the server's disk
    api = client(url)
    assert api.predict(None, api_name="/upload")[0] == READ_ONLY
    assert api.predict("ningbo-enforcement-report.txt", api_name="/remove")[0].startswith("✗ this server is read")
    assert api.predict(QUESTION, 3, api_name="/ask")["answer"] == ANSWER
    with pytest.raises(Exception, match="size"):  # gradio_client checks the server's size limit (0) first
        api.predict([handle_file(str(notes))], api_name="/upload")


def test_auth_is_user_colon_password():
    assert parse_auth("alice:s3cret:x") == ("alice", "s3cret:x")
    assert parse_auth(None) is None and parse_auth("") is None
    for bad in ("alice", ":pw", "alice:", " :pw"):
        with pytest.raises(CliError, match="user:password"):
            parse_auth(bad)


@pytest.mark.parametrize(
    ("argv", "env", "auth", "warned"),
    [
        (["serve"], {}, None, False),
        (["serve", "--host", "0.0.0.0"], {}, None, True),
        (["serve", "--host", "0.0.0.0", "--auth", "alice:pw"], {}, ("alice", "pw"), False),
        (["serve", "--host", "0.0.0.0"], {"QA_AUTH": "bob:pw2"}, ("bob", "pw2"), False),
        (["serve", "--read-only"], {}, None, False),
    ],
)
def test_serve_command_passes_login_and_read_only(monkeypatch, capsys, report_assistant, argv, env, auth, warned):
    import ui.app

    calls = []
    monkeypatch.delenv("QA_AUTH", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("qa.cli.open_assistant", lambda store, encoder, reader=None: report_assistant)

    def serve(library, host, port, block, auth, allowed_hosts):  # listens, as the server would, till "blocked"
        calls.append((library, host, auth))
        listening = socket.create_server((host, port))
        return SimpleNamespace(block_thread=listening.close)

    monkeypatch.setattr(ui.app, "serve", serve)
    assert main([*argv, "--store", "unused", "--port", str(free_port())]) == 0  # main: its logging shows the warning
    library, host, given = calls[0]
    assert given == auth and library.read_only == ("--read-only" in argv)
    assert ("warning" in capsys.readouterr().err) == warned
