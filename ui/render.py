"""Rendering an ``Answer`` for the chat: Markdown with a little inline HTML, every document
character escaped. Pure functions, in the interface's language (the question's where none is given).

Document text is made inert twice over: HTML-escaped everywhere, and in the Markdown lines (the
answer, the quote, the place) its Markdown punctuation is backslash-escaped too, so that a document
holding ``![x](http://…)`` or ``[a](javascript:…)`` shows those characters instead of an image or a
link. Source cards are one-line HTML blocks (Markdown is not read inside them), so their newlines
become ``<br>``: a blank line would end the block.

Each citation (the quote's place, each source card) carries a ``button.cite`` whose ``value`` is
``{"doc", "start", "end"}`` as JSON (the chat's sanitiser keeps ``value`` and ``title`` but drops
``data-`` and ``aria-`` attributes): the page opens the document viewer there when it is clicked
(``ui/app.js``)."""

from __future__ import annotations

import json
import re
from html import escape

from qa.text import cjk_ratio, one_line
from qa.types import Answer, Quote, Source

TEXTS = {
    "zh": {
        "refusal": "文档中没有找到这个问题的答案",
        "nearest": "最接近的段落：",
        "sources": "来源",
        "start": "文首",
        "open": "原文",
        "open_label": "在阅读器中打开 {doc}（{where}）",
    },
    "en": {
        "refusal": "The documents do not say",
        "nearest": "Nearest passages:",
        "sources": "Sources",
        "start": "start",
        "open": "open",
        "open_label": "open {doc} at {where} in the viewer",
    },
}


def language(question: str) -> str:
    """ "zh" for a question written mainly in Chinese characters, else "en"."""
    return "zh" if cjk_ratio(question) >= 0.5 else "en"


_MARKDOWN = re.compile(r"([\\`*_\[\]~|$])")


def inert_html(text: str) -> str:
    """Text for inside an HTML block: escaped, on one line."""
    return escape(text).replace("\r", "").replace("\n", "<br>")


def inert_markdown(text: str) -> str:
    """Text for a Markdown line: escaped as HTML, its Markdown punctuation escaped, on one line."""
    return _MARKDOWN.sub(r"\\\1", inert_html(text))


def highlighted_quote(quote: Quote) -> str:
    """The quote, made inert, with the answer inside ``<mark>``."""
    a, b = quote.answer_start - quote.start, quote.answer_end - quote.start
    text = quote.text  # a hard-wrapped paragraph's line breaks would end the Markdown quote: one line
    pieces = (one_line(text[:a]), one_line(text[a:b]), one_line(text[b:]))
    return f"{inert_markdown(pieces[0])}<mark>{inert_markdown(pieces[1])}</mark>{inert_markdown(pieces[2])}"


def cite_button(doc: str, start: int, end: int, locator: str, texts: dict[str, str]) -> str:
    """The button that opens the viewer at ``doc[start:end]``; its title says where."""
    label = texts["open_label"].format(doc=doc, where=locator or texts["start"])
    target = json.dumps({"doc": doc, "start": start, "end": end}, ensure_ascii=False)
    return (
        f'<button type="button" class="cite" value="{inert_html(target)}"'
        f' title="{inert_html(label)}">{texts["open"]}</button>'
    )


def source_card(number: int, source: Source, quote: Quote | None, texts: dict[str, str]) -> str:
    """A numbered, expandable card: document and place, the whole passage with the quote marked."""
    where = inert_html(source.locator or texts["start"])
    body = inert_html(source.text)
    if quote is not None and quote.doc == source.doc and source.start <= quote.start and quote.end <= source.end:
        a, b = quote.start - source.start, quote.end - source.start
        text = source.text
        body = f"{inert_html(text[:a])}<mark>{inert_html(text[a:b])}</mark>{inert_html(text[b:])}"
    doc = inert_html(source.doc)
    cite = cite_button(source.doc, source.start, source.end, source.locator, texts)
    return f'<details class="source"><summary>[{number}] {doc} · {where} {cite}</summary><p>{body}</p></details>'


def render_answer(answer: Answer, max_sources: int = 3, lang: str | None = None) -> str:
    """The chat message for an answer: the short answer in bold, the quote with the answer
    highlighted and where it stands, then source cards; or a plain refusal with the nearest passages.
    Labelled in ``lang`` ("zh" or "en"), else in the question's language."""
    texts = TEXTS[lang if lang in TEXTS else language(answer.question)]
    sources = answer.sources[: max(0, max_sources)]
    if answer.found and answer.quote is not None:
        quote = answer.quote
        lines = [
            f"**{inert_markdown(answer.answer or '')}**",
            "",
            f"> {highlighted_quote(quote)}",
            "",
            f"— {inert_markdown(quote.doc)}, {inert_markdown(quote.locator or texts['start'])} "
            + cite_button(quote.doc, quote.start, quote.end, quote.locator, texts),
        ]
        cards = [source_card(i, s, quote, texts) for i, s in enumerate(sources, 1)]
        if cards:
            lines += ["", f"{texts['sources']}:", "", *cards]
        return "\n".join(lines)
    lines = [f"{texts['refusal']}。" if texts is TEXTS["zh"] else f"{texts['refusal']}."]
    if sources:
        lines += ["", texts["nearest"], "", *(source_card(i, s, None, texts) for i, s in enumerate(sources, 1))]
    return "\n".join(lines)
