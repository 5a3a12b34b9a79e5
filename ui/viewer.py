"""The document viewer: a cited passage shown in its document, highlighted, with its neighbours
around it. A pure function of the index; every document character escaped."""

from __future__ import annotations

from collections.abc import Sequence

from qa.types import Passage
from ui.i18n import Texts
from ui.render import inert_html

AROUND = 2  # passages shown before and after the cited one


def cited_passage(passages: Sequence[Passage], start: int, end: int) -> int:
    """The position in ``passages`` (one document's, in order) of the passage that holds
    ``[start, end)``: the one overlapping it most, else the nearest before it."""
    best, best_overlap = 0, -1
    for i, passage in enumerate(passages):
        overlap = min(end, passage.span.end) - max(start, passage.span.start)
        if overlap > best_overlap or (overlap == best_overlap and overlap <= 0 and passage.span.start <= start):
            best, best_overlap = i, overlap
    return best


def document_view(
    text: str | None, passages: Sequence[Passage], doc: str, start: int, end: int, texts: Texts, around: int = AROUND
) -> str:
    """HTML for the viewer: the document's name, then the passage holding ``[start, end)`` with that
    range in ``<mark>`` and up to ``around`` passages either side, each under its locator (page,
    section) where that changes. ``text`` is the document's text, None where it is no longer indexed."""
    name = inert_html(doc)
    if text is None or not passages:
        return f'<div class="viewer"><p class="viewer-head"><strong>{name}</strong></p><p>{texts.viewer_gone}</p></div>'
    at = cited_passage(passages, start, end)
    parts = [f'<div class="viewer"><p class="viewer-head"><strong>{name}</strong></p>']
    shown_locator: str | None = None
    for i in range(max(0, at - around), min(len(passages), at + around + 1)):
        passage = passages[i]
        locator = passage.locator or texts.start
        if locator != shown_locator or i == at:  # the cited passage always under its place
            parts.append(f'<p class="viewer-where">{inert_html(locator)}</p>')
            shown_locator = locator
        a, b = passage.span.start, passage.span.end
        if i == at:
            s, e = max(a, min(start, b)), max(a, min(end, b))
            if e <= s:
                s, e = a, b
            body = f"{inert_html(text[a:s])}<mark>{inert_html(text[s:e])}</mark>{inert_html(text[e:b])}"
            parts.append(f'<p class="cited" id="cited">{body}</p>')
        else:
            parts.append(f'<p class="neighbour">{inert_html(text[a:b])}</p>')
    parts.append("</div>")
    return "".join(parts)
