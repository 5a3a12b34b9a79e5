"""The chat server's API through gradio_client, against a server started by the test."""

from __future__ import annotations

import socket

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def client(report_assistant):
    from gradio_client import Client

    from ui.app import Library, serve

    port = free_port()
    demo = serve(Library(report_assistant), "127.0.0.1", port, block=False)
    try:
        yield Client(f"http://127.0.0.1:{port}/", analytics_enabled=False, verbose=False)
    finally:
        demo.close()


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
