"""A question and a passage as model input: windows of at most ``max_tokens`` tokens
(``<s> query: question </s> passage </s>``), each with the range of the passage it covers and, in
training, where the answer lies (token 0 — ``<s>`` — where the window holds none). Shared by the
trained reader and its training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.reading.tokenizer import PieceTokenizer, Tokens

QUERY_PREFIX = "query: "


@dataclass(frozen=True)
class WindowSettings:
    max_tokens: int = 256
    max_question_tokens: int = 64
    stride: int = 128  # context tokens between the starts of two windows of one paragraph


@dataclass(frozen=True)
class Window:
    """A question and a run of a paragraph's tokens, as model input, with its answer label."""

    ids: tuple[int, ...]
    context_from: int  # index in ``ids`` of the first context token
    token_start: int  # context token index (into the paragraph's tokens) of ids[context_from]
    start: int  # answer's first and last token in ``ids``; 0 and 0 for no answer
    end: int


def question_ids(tokenizer: PieceTokenizer, question: str, settings: WindowSettings) -> list[int]:
    return list(tokenizer.encode(QUERY_PREFIX + question).ids[: settings.max_question_tokens])


def window_starts(n_context: int, room: int, stride: int) -> list[int]:
    """The first context token of each window over ``n_context`` tokens, ``room`` to a window."""
    starts = [0]
    while starts[-1] + room < n_context:
        starts.append(starts[-1] + stride)
    return starts


def make_windows(
    question: list[int],
    context: Tokens,
    settings: WindowSettings,
    bos: int,
    eos: int,
    answer: tuple[int, int] | None = None,
) -> list[Window]:
    """The windows of one question over one tokenised paragraph; ``answer`` is the answer's
    character range in the paragraph, labelled where a window holds all of it."""
    room = settings.max_tokens - len(question) - 3
    head = [bos, *question, eos]
    first_token = last_token = -1
    if answer is not None:
        a_start, a_end = answer
        spans = zip(context.starts, context.ends, strict=True)
        inside = [i for i, (s, e) in enumerate(spans) if s < a_end and e > a_start]
        if inside:
            first_token, last_token = inside[0], inside[-1]
    out = []
    for start in window_starts(len(context.ids), room, min(settings.stride, room)):
        piece = context.ids[start : start + room]
        ids = (*head, *piece, eos)
        label = (0, 0)
        if first_token >= start and last_token >= 0 and last_token < start + len(piece):
            label = (len(head) + first_token - start, len(head) + last_token - start)
        out.append(Window(ids, len(head), start, *label))
    return out


def pad_batch(windows: Sequence[Window], pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids [batch, longest] padded with ``pad``, and the mask of real tokens."""
    longest = max(len(w.ids) for w in windows)
    ids = np.full((len(windows), longest), pad, dtype=np.int64)
    mask = np.zeros((len(windows), longest), dtype=np.int64)
    for i, w in enumerate(windows):
        ids[i, : len(w.ids)] = w.ids
        mask[i, : len(w.ids)] = 1
    return ids, mask
