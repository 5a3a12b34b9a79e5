"""Calibrate how the trained reader bounds its span (``ReaderSettings.length_cost``) on held-out questions.

    python -m eval.fit_span SET --store DIR [--costs 0.05 0.1 ...] [--write]

Each question of ``SET`` is asked once as the pipeline asks it (retrieval, the gate, the best
passages) and every window the span model reads is kept with its logits. Then, for the span of
highest start and end logits (``none``) and for each cost, the trained reader answers every
question from those logits, judged as ``qa eval`` judges: an answer is right when it holds a gold
answer and is short. Only the span's bounds change with the cost; which passage answers, and
whether it answers at all, do not.

The questions are split by document into the two halves of ``eval.fit_hybrid.halves``: the cost
is chosen on the first, the most accurate whose answers are on average no longer than with the
highest logits (``--length-ratio``; ties to the larger cost: the shorter answer); the second is
reported beside it and never chosen on. ``--write`` stores the cost with the model in ``reader.json``.
"""

from __future__ import annotations

import argparse
import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from eval.fit_hybrid import ask_each, halves
from eval.judge import answer_correct
from eval.sets import Item
from qa.reading.reader import ReaderSettings, Reading, ReadPassage, TrainedReader, WindowLogits, choose, read_windows

if TYPE_CHECKING:
    from qa.assistant import Assistant

DEFAULT_COSTS = (0.0, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.2, 0.5, 1.0)


@dataclass(frozen=True)
class Asked:
    """One question as the trained reader met it: its passages with their windows' logits (none
    where the gate refused it or there was no text)."""

    item: Item
    passages: tuple[tuple[ReadPassage, tuple[WindowLogits, ...]], ...]


def ask_all(set_path: str, base: Assistant, reader: TrainedReader) -> list[Asked]:
    """Every question of ``set_path`` asked over the index of ``base``, each passage's windows kept."""
    from qa.assistant import Assistant
    from qa.reading.reader import Evidence, Refusal

    seen: list[tuple[tuple[ReadPassage, tuple[WindowLogits, ...]], ...]] = []

    class Keeper:  # reads nothing: keeps the windows of each passage as the trained reader reads them
        settings = reader.settings

        def read(self, evidence: Evidence) -> Reading | Refusal:
            windows = reader.passage_windows(evidence.asked_of_each(), evidence.passages)
            seen.append(tuple((p, tuple(w)) for p, w in zip(evidence.passages, windows, strict=True)))
            return Refusal("kept")

    assistant = Assistant(base.index, base.encoder, Keeper())
    return [Asked(item, seen[0] if seen else ()) for item in ask_each(assistant, set_path, seen)]


def answer(asked: Asked, settings: ReaderSettings, texts: dict[str, str]) -> str | None:
    """The trained reader's answer to one kept question with ``settings``, or None for no answer."""
    if not asked.passages:
        return None
    passages = [p for p, _ in asked.passages]
    reads = [read_windows(windows, p, settings) for p, windows in asked.passages]
    found = choose(reads, passages, settings)
    if found is None or found.margin <= 0:
        return None
    return texts[found.doc][found.start : found.end]


def figures(questions: Sequence[Asked], settings: ReaderSettings, texts: dict[str, str]) -> dict[str, float | int]:
    """Accuracy, answerable accuracy, and the mean length of the answers given, over ``questions``."""
    right, answerable_right, answerable, lengths = 0, 0, 0, []
    for q in questions:
        given = answer(q, settings, texts)
        ok = answer_correct(given is not None, given or "", q.item.answers, q.item.answerable)
        right += ok
        if q.item.answerable:
            answerable += 1
            answerable_right += ok
        if given is not None:
            lengths.append(len(given))
    share = lambda n, d: round(n / d, 3) if d else float("nan")  # noqa: E731
    return {
        "questions": len(questions),
        "accuracy": share(right, len(questions)),
        "answerable": share(answerable_right, answerable),
        "mean_answer_chars": round(sum(lengths) / len(lengths), 2) if lengths else 0.0,
    }


def choose_cost(table: dict[float | None, dict[str, float | int]], length_ratio: float = 1.0) -> float | None:
    """The cost of the highest accuracy among those whose answers are on average at most
    ``length_ratio`` times as long as with the highest logits (``None``, always a candidate): a
    short answer is the product, and the judge takes any answer up to 32 characters that holds the
    gold one, so a cost that only lengthens answers would win on the judge alone. Ties go to the
    larger cost (the shorter answer), ``None`` counting as the largest."""
    longest = float(table[None]["mean_answer_chars"]) * length_ratio
    allowed = [c for c in table if c is None or float(table[c]["mean_answer_chars"]) <= longest]
    return max(allowed, key=lambda c: (table[c]["accuracy"], float("inf") if c is None else c))


def write_cost(cost: float | None, source: str, folder: Path) -> None:
    meta_path = folder / "reader.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["length_cost"] = cost
    meta["length_cost_from"] = f"python -m eval.fit_span: the trained reader's accuracy on {source}"
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eval.fit_span", description=__doc__.split("\n")[0])
    parser.add_argument("set", help="a Q&A set (the validation split)")
    parser.add_argument("--store", required=True, help="the saved index of the set's documents")
    parser.add_argument("--costs", type=float, nargs="+", default=list(DEFAULT_COSTS))
    parser.add_argument(
        "--length-ratio",
        type=float,
        default=1.0,
        help="how much longer than with the highest logits the answers may be on average (default 1: no longer)",
    )
    parser.add_argument("--write", action="store_true", help="store the chosen cost in reader.json")
    parser.add_argument("--keep", help="a file for the windows read: written once, read back on the next run")
    args = parser.parse_args(argv)

    from qa.assistant import Assistant, trained_reader

    reader = trained_reader()
    base = Assistant.load(args.store)
    keep = Path(args.keep) if args.keep else None
    if keep is not None and keep.is_file():
        # written by this command (trusted as one's own file): plain pairs, not Asked, which is
        # __main__.Asked when this runs as a script
        asked = [Asked(item, passages) for item, passages in pickle.loads(keep.read_bytes())]
    else:
        asked = ask_all(args.set, base, reader)
        if keep is not None:
            keep.write_bytes(pickle.dumps([(q.item, q.passages) for q in asked]))
    texts = {name: t.text for name, t in base.index.texts.items()}
    first = {r["id"] for r in halves([{"doc": q.item.doc, "id": q.item.id} for q in asked])[0]}
    calibration = [q for q in asked if q.item.id in first]
    held = [q for q in asked if q.item.id not in first]
    costs: list[float | None] = [None, *args.costs]
    table = {}
    for cost in costs:
        settings = replace(reader.settings, length_cost=cost)
        table[cost] = figures(calibration, settings, texts)
        print(f"cost {cost}: calibration half {table[cost]}  held-out half {figures(held, settings, texts)}")
    chosen = choose_cost(table, args.length_ratio)
    print(f"chosen on the calibration half ({len(calibration)} questions), answers at most {args.length_ratio}x")
    print(f"  as long as with the highest logits: {chosen}")
    if args.write:
        write_cost(chosen, f"the calibration half of {args.set} ({len(calibration)} questions)", reader.folder)
        print(f"wrote length_cost {chosen} to {reader.folder / 'reader.json'}")


if __name__ == "__main__":
    main()
