"""The chat server's API through gradio_client, against a server started by the test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ui.app import Library


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(library: Library) -> Iterator[str]:
    """``library`` served on a free loopback port while the block runs; its URL."""
    from ui.app import serve

    port = free_port()
    demo = serve(library, "127.0.0.1", port, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client(report_assistant):
    from gradio_client import Client

    from ui.app import Library

    with serving(Library(report_assistant)) as url:
        yield Client(url, analytics_enabled=False, verbose=False)


def test_ask_endpoint_returns_the_structured_answer(client):
    record = client.predict("公布了多少个不予处罚事项？", 3, api_name="/ask")
    assert record["found"] is True and record["answer"] == "106个"
    assert "推出106个不予处罚事项" in record["quote"]["text"]
    assert len(record["sources"]) == 3
    assert {"doc", "locator", "start", "end", "text", "score"} <= set(record["sources"][0])


def test_ask_endpoint_refuses_and_reports_bad_questions(client):
    assert client.predict("宁波市2024年的GDP是多少？", 3, api_name="/ask")["found"] is False
    bad = client.predict("   ", 3, api_name="/ask")
    assert bad["found"] is False and "empty" in bad["error"]


def test_chat_endpoint_renders_markdown(client):
    text = client.predict("亮码检查率达到多少？", 2, api_name="/chat")
    assert text.startswith("**99.8%**") and "<mark>99.8%</mark>" in text and "[2]" in text
