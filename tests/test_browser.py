"""The chat in a real browser: Debian chromium driven by Playwright, headless, on 127.0.0.1."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_app_api import free_port

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
PAYLOAD = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture(scope="module")
def page(report_assistant):
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (apt-get install chromium fonts-wqy-microhei)")
    from playwright.sync_api import sync_playwright

    from ui.app import Library, serve

    port = free_port()
    demo = serve(Library(report_assistant), "127.0.0.1", port, block=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        started = time.perf_counter()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("textarea", timeout=30_000)
        page.load_ms = (time.perf_counter() - started) * 1000
        yield page
        browser.close()
    demo.close()


def ask(page, question: str, expect: str) -> float:
    box = page.locator("textarea").first
    box.fill(question)
    started = time.perf_counter()
    box.press("Enter")
    page.locator("strong", has_text=expect).last.wait_for(timeout=30_000)
    return (time.perf_counter() - started) * 1000


def test_ask_see_answer_and_source_card_then_upload_and_ask(page, tmp_path):
    answer_ms = ask(page, "公布了多少个不予处罚事项？", "106个")
    assert page.locator("mark", has_text="106个").count() >= 1
    card = page.locator("details.source summary").first
    assert "ningbo-enforcement-report.txt" in card.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)
    ask(page, "那覆盖了多少个领域？", "14个")  # a follow-up, asked about the same topic

    notes = tmp_path / "notes.txt"  # a document that carries markup of its own: shown, never run or loaded
    notes.write_text(f"宁波市今年新建口袋公园45个。{PAYLOAD.replace('1', '2')} ![t](x)", encoding="utf-8")
    page.get_by_role("button", name="Documents").click()
    panel = page.locator("#upload-files")
    panel.wait_for(state="visible", timeout=30_000)
    panel.locator("input[type=file]").set_input_files(str(notes))
    # the uploaded file's row (its name is shown as stem and extension in two spans)
    panel.locator('[aria-label="notes.txt"]').wait_for(timeout=30_000)
    page.locator("#index-uploads").click()
    page.locator("#upload-status").get_by_text("✓ notes.txt").wait_for(timeout=60_000)
    upload_answer_ms = ask(page, "今年新建了多少个口袋公园？", "45个")
    assert page.locator("blockquote mark", has_text="45个").last.is_visible()  # the quote still renders
    assert page.evaluate("window.__pwned") is None and page.locator('img[src="x"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "chat-after-upload.png"), full_page=True)
    timings = f"page load {page.load_ms:.0f} ms; first answer {answer_ms:.0f} ms; upload {upload_answer_ms:.0f} ms"
    print("\n" + timings)


def test_markup_in_a_question_is_shown_as_text_and_never_run(page):
    replies = page.locator('[data-testid="bot"]')
    before = replies.count()
    box = page.locator("textarea").first
    box.fill(f"{PAYLOAD}<script>window.__pwned=3</script>")
    box.press("Enter")
    page.locator('[data-testid="user"]', has_text=PAYLOAD).last.wait_for(timeout=30_000)  # the text, as typed
    expect_count(replies, before + 1)
    assert page.evaluate("window.__pwned") is None
    assert page.locator('img[src="x"]').count() == 0 and page.locator(".message script").count() == 0
    assert ask(page, "公布了多少个不予处罚事项？", "106个") > 0  # and the chat still answers


def expect_count(locator, count: int) -> None:  # a Playwright locator
    from playwright.sync_api import expect

    expect(locator).to_have_count(count, timeout=30_000)
