"""The chat in a real browser: Debian chromium driven by Playwright, headless, on 127.0.0.1.

One server and one browser serve every test of the module; each test that needs a fresh visitor
(an empty localStorage, another language, a phone's width, the dark theme) opens its own context."""

from __future__ import annotations

import json
import re
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
QUESTION, ANSWER = "公布了多少个不予处罚事项？", "106个"
QUOTED = "推出106个不予处罚事项"


@pytest.fixture(scope="module")
def server(report_assistant, tmp_path_factory):
    """The app on a free port; its 👍/👎 go to a file of the test's own."""
    from ui.app import Library, serve
    from ui.feedback import FeedbackLog

    feedback = tmp_path_factory.mktemp("feedback") / "feedback.jsonl"
    port = free_port()
    demo = serve(Library(report_assistant, feedback=FeedbackLog(feedback)), "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/", feedback
    demo.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (apt-get install chromium fonts-wqy-microhei)")
    from playwright.sync_api import sync_playwright

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
        yield browser
        browser.close()


def visit(browser, url: str, locale: str = "en-US", width: int = 1100, height: int = 1400, **options):
    """A fresh visitor (its own localStorage) on the chat page, loaded."""
    context = browser.new_context(locale=locale, viewport={"width": width, "height": height}, **options)
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("#question textarea", timeout=30_000)
    page.load_ms = (time.perf_counter() - started) * 1000
    heading = "向文档提问" if locale.startswith("zh") else "Ask the documents"
    page.locator("#heading", has_text=heading).wait_for(timeout=30_000)  # the language is set on load
    return page


@pytest.fixture(scope="module")
def page(browser, server):
    page = visit(browser, server[0])
    yield page
    page.context.close()


def ask(page, question: str, expect: str) -> float:
    """Send ``question``; wait for its reply, which must hold ``expect`` in bold."""
    replies = page.locator('#chat [data-testid="bot"]')
    before = replies.count()
    box = page.locator("#question textarea")
    box.fill(question)
    started = time.perf_counter()
    box.press("Enter")
    expect_count(replies, before + 1)
    elapsed = (time.perf_counter() - started) * 1000
    replies.last.locator("strong", has_text=expect).wait_for(timeout=30_000)
    return elapsed


def expect_count(locator, count: int) -> None:
    from playwright.sync_api import expect

    expect(locator).to_have_count(count, timeout=30_000)


def test_ask_see_answer_and_source_card_then_upload_and_ask(page, tmp_path):
    answer_ms = ask(page, QUESTION, ANSWER)
    assert page.locator("#chat mark", has_text=ANSWER).count() >= 1
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
    expect_count(panel.locator('[aria-label="notes.txt"]'), 0)  # the upload box is emptied once indexed
    upload_answer_ms = ask(page, "今年新建了多少个口袋公园？", "45个")
    assert page.locator("blockquote mark", has_text="45个").last.is_visible()  # the quote still renders
    assert page.evaluate("window.__pwned") is None and page.locator('img[src="x"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "chat-after-upload.png"), full_page=True)
    timings = f"page load {page.load_ms:.0f} ms; first answer {answer_ms:.0f} ms; upload {upload_answer_ms:.0f} ms"
    print("\n" + timings)


def test_markup_in_a_question_is_shown_as_text_and_never_run(page):
    replies = page.locator('[data-testid="bot"]')
    before = replies.count()
    box = page.locator("#question textarea")
    box.fill(f"{PAYLOAD}<script>window.__pwned=3</script>")
    box.press("Enter")
    page.locator('[data-testid="user"]', has_text=PAYLOAD).last.wait_for(timeout=30_000)  # the text, as typed
    expect_count(replies, before + 1)
    assert page.evaluate("window.__pwned") is None
    assert page.locator('img[src="x"]').count() == 0 and page.locator(".message script").count() == 0
    assert ask(page, QUESTION, ANSWER) > 0  # and the chat still answers


def test_indexing_shows_each_file_clears_the_old_status_and_empties_the_upload_box(page, tmp_path):
    """Two new files: the progress names file 1 of 2 and file 2 of 2 and the sentences embedded, the
    status of the previous action goes as soon as indexing starts, the upload box is empty after."""
    names = ["alpha-notes.txt", "beta-notes.txt"]
    for n, name in enumerate(names):  # text no cache holds, long enough that embedding takes a moment
        lines = [f"第{i}条：{name}的第{i}号观测站在{n + 2}{i}年测得降水{i * 7 + n}毫米。" for i in range(60)]
        (tmp_path / name).write_text("\n".join(lines), encoding="utf-8")
    if not page.locator("#upload-files").is_visible():
        page.get_by_role("button", name="Documents").click()
    page.locator("#index-uploads").click()  # nothing chosen: a status line to be cleared later
    page.locator("#upload-status", has_text="Choose files first.").wait_for(timeout=30_000)
    page.evaluate(
        """() => {
        window.__seen = [];
        const note = () => window.__seen.push(document.querySelector('#documents').innerText);
        new MutationObserver(note).observe(document.body, {subtree: true, childList: true, characterData: true});
    }"""
    )
    panel = page.locator("#upload-files")
    panel.locator("input[type=file]").set_input_files([str(tmp_path / n) for n in names])
    panel.locator('[aria-label="beta-notes.txt"]').wait_for(timeout=30_000)
    page.locator("#index-uploads").click()
    page.locator("#upload-status").get_by_text("✓ beta-notes.txt").wait_for(timeout=120_000)
    seen = "\n".join(page.evaluate("window.__seen"))
    assert "file 1 of 2: alpha-notes.txt" in seen and "file 2 of 2: beta-notes.txt" in seen, seen[-2000:]
    assert re.search(r"\d+ of \d+ sentences embedded", seen), seen[-2000:]
    assert "Choose files first." not in page.locator("#upload-status").inner_text()
    expect_count(panel.locator('[aria-label="beta-notes.txt"]'), 0)
    table = page.locator("#documents-table").inner_text()
    assert "alpha-notes.txt" in table and "beta-notes.txt" in table


STORED = "localStorage.getItem('qa-assistant-conversations')"  # the saved conversations (encrypted)


def stored(page) -> str | None:
    return page.evaluate(f"() => {STORED}")


def test_an_example_is_sent_when_clicked_and_the_conversation_survives_a_reload(browser, server):
    page = visit(browser, server[0])
    try:
        page.locator("#chat button.example", has_text=QUESTION).click()
        page.locator("#chat strong", has_text=ANSWER).wait_for(timeout=30_000)  # answered, not just typed in
        assert page.locator('[data-testid="user"]', has_text=QUESTION).count() == 1
        conversations = page.locator("#conversations")
        expect_count(conversations.locator('[role="gridcell"]', has_text=QUESTION), 1)  # saved and listed
        kept = stored(page)
        ask(page, "那覆盖了多少个领域？", "14个")
        page.wait_for_function(f"() => {STORED} !== {json.dumps(kept)}", timeout=30_000)  # saved in the browser
        page.reload()
        page.locator("#chat strong", has_text="14个").wait_for(timeout=30_000)  # the conversation is back
        assert page.locator("#chat strong", has_text=ANSWER).count() == 1
        expect_count(conversations.get_by_text(QUESTION), 1)  # listed under its first question
        ask(page, "一线执法队员PDA配置率达到多少？", "92%")  # and the chat goes on

        page.locator("#new-chat").click()  # a new conversation: an empty chat with its examples
        expect_count(page.locator('#chat [data-testid="bot"]'), 0)
        page.locator("#chat button.example", has_text="行政执法协调统筹机制").click()
        page.locator('#chat [data-testid="bot"]').first.wait_for(timeout=30_000)
        expect_count(conversations.locator('[role="gridcell"]'), 2)  # listed once saved
        page.reload()
        page.locator('[data-testid="user"]', has_text="行政执法协调统筹机制").wait_for(timeout=30_000)
        assert page.locator("#chat strong", has_text=ANSWER).count() == 0  # the open one came back, alone
        conversations.get_by_text(QUESTION).click()  # the first conversation, from the list
        page.locator("#chat strong", has_text="14个").wait_for(timeout=30_000)
    finally:
        page.context.close()


def test_a_citation_opens_the_document_at_the_passage_in_the_viewer(browser, server):
    page = visit(browser, server[0], width=1280, height=900)
    try:
        a_citation_opens_the_viewer(page)
    finally:
        page.context.close()


def a_citation_opens_the_viewer(page) -> None:
    ask(page, QUESTION, ANSWER)
    reply = page.locator('#chat [data-testid="bot"]').last
    reply.locator("p", has_text="— ningbo").locator("button.cite").click()  # the quote's citation
    cited = page.locator("#viewer #cited")
    cited.wait_for(timeout=30_000)
    assert QUOTED in cited.locator("mark").inner_text()  # the quoted passage, highlighted
    assert "ningbo-enforcement-report.txt" in page.locator("#viewer .viewer-head").inner_text()
    assert page.locator("#viewer .neighbour").count() >= 2  # with its neighbours around it
    before = page.locator("#viewer .neighbour").first.inner_text()
    text = page.locator("#viewer").inner_text()
    assert text.index(before) < text.index(QUOTED)  # in document order
    # a source card's citation opens that passage; its place (page, section) heads it
    page.screenshot(path=str(ARTIFACTS / "chat-viewer.png"))  # the README's picture (docs/chat.png)
    card = reply.locator("details.source").nth(1)
    where = card.locator("summary").inner_text().split(" · ", 1)[1].strip().removesuffix("open").strip()
    card.locator("button.cite").click()
    page.wait_for_function(
        "(where) => { const c = document.querySelector('#viewer #cited');"
        " return c && c.previousElementSibling && c.previousElementSibling.innerText.trim() === where; }",
        arg=where,
        timeout=30_000,
    )
    body = card.evaluate("d => d.querySelector('p').textContent")
    assert page.locator("#viewer #cited mark").inner_text().strip() == body.strip()


def test_thumbs_down_is_kept_with_the_answer_and_becomes_a_draft_set(page, server, tmp_path):
    from eval.sets import SetError, load_set
    from qa.cli import main

    feedback = server[1]
    ask(page, "一线执法队员PDA配置率达到多少？", "92%")
    page.locator('#chat button[aria-label="Dislike"]').last.click()
    deadline = time.time() + 30
    while time.time() < deadline and not (feedback.exists() and feedback.read_text(encoding="utf-8").strip()):
        time.sleep(0.2)
    rows = [json.loads(line) for line in feedback.read_text(encoding="utf-8").splitlines()]
    row = rows[-1]
    assert row["rating"] == "down" and row["question"] == "一线执法队员PDA配置率达到多少？"
    assert row["answer"] == "92%" and row["quote"]["doc"] == "ningbo-enforcement-report.txt"
    assert row["sources"] and {"doc", "locator", "start", "end", "text"} <= set(row["sources"][0])

    draft = tmp_path / "draft.jsonl"
    assert main(["eval", "--from-feedback", str(feedback), "--out", str(draft)]) == 0
    items = [json.loads(line) for line in draft.read_text(encoding="utf-8").splitlines()]
    assert [i["question"] for i in items] == ["一线执法队员PDA配置率达到多少？"]
    assert items[0]["given"]["answer"] == "92%" and items[0]["answers"] == []
    with pytest.raises(SetError, match="needs at least one answer"):
        load_set(draft)  # a draft until a person fills in the answer
    items[0]["answers"] = ["92%"]
    draft.write_text(json.dumps(items[0], ensure_ascii=False) + "\n", encoding="utf-8")
    assert load_set(draft)[0].answers == ("92%",)


def test_copy_gives_the_answer_quote_and_source_as_clean_text(page):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    ask(page, QUESTION, ANSWER)
    page.locator('#chat button[aria-label="Copy message"]').last.click()
    page.wait_for_function("() => navigator.clipboard.readText().then(t => t.startsWith('106'))", timeout=10_000)
    copied = page.evaluate("navigator.clipboard.readText()")
    lines = copied.splitlines()
    assert lines[0] == ANSWER and lines[1].startswith("“") and QUOTED in lines[1] and lines[1].endswith("”")
    assert lines[2].startswith("— ningbo-enforcement-report.txt, ")
    assert not re.search(r"\*\*|<|>|&lt;|\bopen\b", copied), copied


def test_the_interface_follows_the_browser_language_and_switches(browser, server):
    page = visit(browser, server[0], locale="zh-CN")
    try:
        assert page.locator("#question button.submit-button").inner_text().strip() == "发送"
        assert page.locator("#new-chat").inner_text().strip() == "新对话"
        box = page.locator("#question textarea")
        box.fill("How many legal review staff have been assigned?")  # an English question …
        box.press("Enter")
        reply = page.locator('#chat [data-testid="bot"]').last
        reply.wait_for(timeout=30_000)
        assert "来源" in reply.inner_text() or "最接近的段落" in reply.inner_text()  # … labelled in Chinese
        assert "Sources" not in reply.inner_text() and "Nearest" not in reply.inner_text()
        page.get_by_role("button", name="文档").click()
        page.locator("#index-uploads", has_text="索引上传的文件").click()
        page.locator("#upload-status", has_text="请先选择文件。").wait_for(timeout=30_000)  # statuses too

        assert_gradio_words(page, "zh")  # gradio's own words follow the browser …

        with page.expect_navigation():  # a switch reloads the page: gradio draws its words in the new language
            page.get_by_label("English").check()
        page.locator("#heading", has_text="Ask the documents").wait_for(timeout=30_000)
        assert page.locator("#question button.submit-button").inner_text().strip() == "Send"
        assert_gradio_words(page, "en")  # … and then the switch
        ask(page, QUESTION, ANSWER)  # a Chinese question, labelled in English
        assert "Sources:" in page.locator('#chat [data-testid="bot"]').last.inner_text()
        page.reload()  # the choice is kept
        page.locator("#heading", has_text="Ask the documents").wait_for(timeout=30_000)
        assert page.evaluate("document.documentElement.lang") == "en"
        assert_gradio_words(page, "en")
    finally:
        page.context.close()

    page = visit(browser, server[0], locale="en-US")  # the other way round
    try:
        assert_gradio_words(page, "en")
        with page.expect_navigation():
            page.get_by_label("中文").check()
        page.locator("#heading", has_text="向文档提问").wait_for(timeout=30_000)
        assert page.locator("#question button.submit-button").inner_text().strip() == "发送"
        assert_gradio_words(page, "zh")
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
    finally:
        page.context.close()


# gradio's own words, from its locale files (gradio/templates/frontend/assets/en-*.js, zh-CN-*.js): the
# upload box's (upload.drop_file, upload.or, upload.click_to_upload) and the footer's (errors.use_via_api,
# common.built_with_gradio, common.settings; its "Runs" has no Chinese there, so it is not checked)
GRADIO_WORDS = {
    "en": ("Drop File Here - or - Click to Upload", ["Use via API", "Built with Gradio", "Settings"]),
    "zh": ("将文件拖放到此处 - 或 - 点击上传", ["通过 API 使用", "使用 Gradio 构建", "设置"]),
}


def assert_gradio_words(page, lang: str) -> None:
    """Gradio's upload box (in the documents panel) and its footer are in ``lang``."""
    panel = page.locator("#upload-files")
    if not panel.is_visible():
        page.locator("#documents > button").first.click()
    panel.wait_for(state="visible", timeout=30_000)
    upload, footer = GRADIO_WORDS[lang]
    assert " ".join(panel.locator("button").first.inner_text().split()) == upload
    shown = [" ".join(part.split()) for part in page.locator("footer").inner_text().split("·")]
    assert all(words in shown for words in footer), shown
    other = GRADIO_WORDS["en" if lang == "zh" else "zh"][1]
    assert not any(words in shown for words in other), shown


def contrast(page, selector: str) -> float:
    """The WCAG contrast ratio of an element's text colour against its background."""
    return page.evaluate(
        """(selector) => {
        const style = getComputedStyle(document.querySelector(selector));
        const lum = (rgb) => {
            const [r, g, b] = rgb.match(/[\\d.]+/g).slice(0, 3).map(Number).map((v) => {
                v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
        };
        const [a, b] = [lum(style.color), lum(style.backgroundColor)].sort((x, y) => y - x);
        return (a + 0.05) / (b + 0.05);
    }""",
        selector,
    )


def test_the_highlight_is_readable_in_the_light_and_the_dark_theme(browser, server):
    for theme in ("light", "dark"):
        page = visit(browser, f"{server[0]}?__theme={theme}", color_scheme=theme)
        try:
            ask(page, QUESTION, ANSWER)
            assert page.evaluate("document.body.classList.contains('dark')") == (theme == "dark")
            ratio = contrast(page, "#chat blockquote mark")
            assert ratio >= 4.5, f"{theme}: highlight contrast {ratio:.2f}"
            if theme == "dark":
                page.screenshot(path=str(ARTIFACTS / "chat-dark.png"), full_page=True)
        finally:
            page.context.close()


def test_every_control_has_an_accessible_name_and_there_is_no_share_button(page):
    page.locator("#chat strong").first.wait_for(timeout=30_000)
    unnamed = page.evaluate(
        """() => {
        const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
        const named = (el) => {
            if ((el.getAttribute('aria-label') || '').trim() || (el.getAttribute('title') || '').trim()) return true;
            const by = el.getAttribute('aria-labelledby');
            if (by && by.split(/\\s+/).some((id) => (document.getElementById(id)?.innerText || '').trim())) return true;
            if (el.labels && Array.from(el.labels).some((l) => l.innerText.trim())) return true;
            if (el.tagName === 'BUTTON' || el.getAttribute('role') === 'button') return el.innerText.trim() !== '';
            return (el.getAttribute('placeholder') || '').trim() !== '';
        };
        const controls = document.querySelectorAll('button, input:not([type=hidden]), textarea, select, [role=button]');
        return Array.from(controls).filter(visible).filter((el) => !named(el)).map((el) => el.outerHTML.slice(0, 160));
    }"""
    )
    assert unnamed == []
    assert page.get_by_role("button", name=re.compile("share", re.I)).count() == 0


def test_the_layout_works_at_390_pixels(browser, server):
    page = visit(browser, server[0], width=390, height=844)
    try:
        first_example = page.locator("#chat button.example").first.bounding_box()
        assert first_example is not None and first_example["y"] + first_example["height"] <= 844  # above the fold
        page.get_by_role("button", name="Documents").click()
        table = page.locator("#documents-table")
        table.wait_for(state="visible", timeout=30_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
        for cell in table.locator("th").all() + table.locator("td").all():
            box = cell.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, cell.inner_text()
        page.screenshot(path=str(ARTIFACTS / "chat-390.png"), full_page=True)
    finally:
        page.context.close()
