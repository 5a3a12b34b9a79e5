"""Run a Q&A set through the assistant and print the headline figures (the start of `qa eval`).

python -m eval.run SET.jsonl --docs PATH… [--store DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from eval.judge import answer_correct, evidence_rank, holds_evidence


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.run")
    parser.add_argument("set", type=Path)
    parser.add_argument("--docs", nargs="*", default=[])
    parser.add_argument("--store", type=Path, help="a saved index (built from --docs and saved there when absent)")
    args = parser.parse_args(argv)

    from qa.assistant import Assistant, QuestionError

    if args.store is not None and (args.store / "manifest.json").exists():
        assistant = Assistant.load(args.store)
    else:
        assistant = Assistant.from_paths(args.docs)
        if args.store is not None:
            assistant.save(args.store)
    rows = [json.loads(line) for line in args.set.read_text(encoding="utf-8").splitlines() if line.strip()]
    right = answerable = refusals_right = unanswerable = e1 = e3 = quotes = 0
    quote_lengths: list[int] = []
    latencies: list[float] = []
    for row in rows:
        golds, gold_doc, evidence = row.get("answers", []), row.get("doc"), row.get("evidence")
        is_answerable = row.get("answerable", True)
        try:
            answer = assistant.ask(row["question"])
        except QuestionError:
            answer = None
        found = answer is not None and answer.found
        ok = answer_correct(found, answer.answer if answer else None, golds, is_answerable)
        right += ok
        if not is_answerable:
            unanswerable += 1
            refusals_right += ok
            continue
        answerable += 1
        if answer is None:
            continue
        latencies.append(answer.latency_ms)
        rank = evidence_rank([(s.doc, s.text) for s in answer.sources], evidence, golds, gold_doc)
        e1 += rank == 1
        e3 += rank is not None and rank <= 3
        if answer.quote is not None:
            quote_lengths.append(len(answer.quote.text))
            quotes += holds_evidence(answer.quote.text, answer.quote.doc, evidence, golds, gold_doc)
    n = len(rows)
    figures = {
        "questions": n,
        "accuracy": right / n,
        "answerable_accuracy": (right - refusals_right) / answerable if answerable else None,
        "refusal_accuracy": refusals_right / unanswerable if unanswerable else None,
        "evidence@1": e1 / answerable if answerable else None,
        "evidence@3": e3 / answerable if answerable else None,
        "quote_accuracy": quotes / answerable if answerable else None,
        "mean_quote_chars": statistics.fmean(quote_lengths) if quote_lengths else None,
        "latency_ms_p50": statistics.median(latencies) if latencies else None,
    }
    json.dump({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
