"""Rendering an ``Answer`` for the chat: Markdown with a little inline HTML, every document
character escaped. Pure functions, in the question's language."""

from __future__ import annotations

from html import escape

from qa.text import cjk_ratio
from qa.types import Answer, Quote, Source

TEXTS = {
    "zh": {
        "refusal": "文档中没有找到这个问题的答案",
        "nearest": "最接近的段落：",
        "sources": "来源",
        "start": "文首",
    },
    "en": {
        "refusal": "The documents do not say",
        "nearest": "Nearest passages:",
        "sources": "Sources",
        "start": "start",
    },
}


def language(question: str) -> str:
    """ "zh" for a question written mainly in Chinese characters, else "en"."""
    return "zh" if cjk_ratio(question) >= 0.5 else "en"


def highlighted_quote(quote: Quote) -> str:
    """The quote, HTML-escaped, with the answer inside ``<mark>``."""
    a, b = quote.answer_start - quote.start, quote.answer_end - quote.start
    text = quote.text
    return f"{escape(text[:a])}<mark>{escape(text[a:b])}</mark>{escape(text[b:])}"


def source_card(number: int, source: Source, quote: Quote | None, texts: dict[str, str]) -> str:
    """A numbered, expandable card: document and place, the whole passage with the quote marked."""
    where = escape(source.locator or texts["start"])
    body = escape(source.text)
    if quote is not None and quote.doc == source.doc and source.start <= quote.start and quote.end <= source.end:
        a, b = quote.start - source.start, quote.end - source.start
        body = f"{escape(source.text[:a])}<mark>{escape(source.text[a:b])}</mark>{escape(source.text[b:])}"
    return (
        f'<details class="source"><summary>[{number}] {escape(source.doc)} · {where}</summary><p>{body}</p></details>'
    )


def render_answer(answer: Answer, max_sources: int = 3) -> str:
    """The chat message for an answer: the short answer in bold, the quote with the answer
    highlighted and where it stands, then source cards; or a plain refusal with the nearest passages."""
    texts = TEXTS[language(answer.question)]
    sources = answer.sources[: max(0, max_sources)]
    if answer.found and answer.quote is not None:
        quote = answer.quote
        lines = [
            f"**{escape(answer.answer or '')}**",
            "",
            f"> {highlighted_quote(quote)}",
            "",
            f"— {escape(quote.doc)}, {escape(quote.locator or texts['start'])}",
        ]
        cards = [source_card(i, s, quote, texts) for i, s in enumerate(sources, 1)]
        if cards:
            lines += ["", f"{texts['sources']}:", "", *cards]
        return "\n".join(lines)
    lines = [f"{texts['refusal']}。" if texts is TEXTS["zh"] else f"{texts['refusal']}."]
    if sources:
        lines += ["", texts["nearest"], "", *(source_card(i, s, None, texts) for i, s in enumerate(sources, 1))]
    return "\n".join(lines)
