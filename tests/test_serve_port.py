"""``qa serve`` and its port (issue 13, point 4): it says where it serves only once the port accepts
connections, and a busy port is one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from tests.conftest import ROOT
from tests.test_app_api import free_port


def serve(port: int, store: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "QA_STORE": str(store), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    return subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "serve", "--port", str(port), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serving_on_is_said_only_once_the_port_accepts_connections(tmp_path):
    port = free_port()
    server = serve(port, tmp_path / "store")  # a new default store: indexed first, then served
    watchdog = threading.Timer(240, server.kill)
    watchdog.start()
    try:
        lines = []
        for line in server.stderr:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("serving on"):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()  # at once, no retry
                break
        assert lines and lines[-1].startswith(f"serving on http://127.0.0.1:{port}/"), "".join(lines)
        assert server.poll() is None
    finally:
        watchdog.cancel()
        server.terminate()
        server.wait(timeout=30)


def listening(host: str, port: int) -> socket.socket:
    taken = socket.socket()
    taken.bind((host, port))
    taken.listen()
    return taken


def test_a_busy_port_is_one_line_and_exit_2(tmp_path):
    port = free_port()
    with listening("127.0.0.1", port):
        server = serve(port, tmp_path / "store")
        _, err = server.communicate(timeout=120)
    assert server.returncode == 2, err
    assert err.splitlines() == [f"qa: error: port {port} is in use; pass --port N"]
    assert not (tmp_path / "store").exists(), "refused before the store was opened"


def test_a_port_taken_where_gradio_looks_is_the_same_one_line(tmp_path):
    """Gradio checks the port on 127.0.0.1 whatever the host: a port free on 127.0.0.2 but taken on
    127.0.0.1 passes our check and fails in gradio's, as a port taken between the two would."""
    port = free_port()
    with listening("127.0.0.1", port):
        server = serve(port, tmp_path / "store", "--host", "127.0.0.2", "--auth", "user:secret")
        _, err = server.communicate(timeout=240)
    assert server.returncode == 2, err
    assert err.splitlines()[-1] == f"qa: error: port {port} is in use; pass --port N", err
    assert "Traceback" not in err and "GRADIO_SERVER_PORT" not in err


def test_a_host_not_on_this_machine_is_one_line_and_exit_2(tmp_path):
    server = serve(free_port(), tmp_path / "store", "--host", "192.0.2.1")  # TEST-NET-1: never local
    _, err = server.communicate(timeout=120)
    assert server.returncode == 2, err
    (line,) = err.splitlines()
    assert line.startswith("qa: error: cannot serve on 192.0.2.1:") and line.endswith("; check --host and --port")
