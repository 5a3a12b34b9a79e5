"""Fit the hybrid reader's choice (``qa/reading/hybrid.py``) on held-out questions, and report it.

    python -m eval.fit_hybrid collect SET --store DIR --out rows.jsonl   # both readers, per question
    python -m eval.fit_hybrid threshold --calibration rows.jsonl [--write]   # the trained reader's own
    python -m eval.fit_hybrid fit --calibration rows.jsonl [--also dev.jsonl] [--report NAME=rows.jsonl] [--out FILE]
    python -m eval.fit_hybrid gate NAME=rows.jsonl ...   # each reader with the gate and without it
    python -m eval.fit_hybrid split SET --out DIR   # the set's two halves, for qa eval on the held-out one

``collect`` runs the assistant's retrieval over a Q&A set, lets both readers read every question
(the gate's refusal is recorded as ``gated``, not acted on), and writes one line a question: the
features, whether each reader's span was judged right, and the trained reader's best span in each
passage read alone (``passages``: its score, its window's "no answer" score, the passage's
retrieval score, and whether it was judged right). ``gate`` prints each reader's figures with the
gate and without it.

The calibration rows are split by document into two halves (``halves``). ``threshold`` chooses the
trained reader's own no-answer threshold and the weight of the retrieval score in its choice of
passage on the first, as the pipeline uses them, and with ``--write`` stores them with that model.
``fit`` fits the three logistic models and their two thresholds on the first half (and on the
``--also`` rows: a development set of the genre the rules were written for), the thresholds to
maximise ``utility``: a right answer or a right refusal counts 1, an answer given where the
documents hold none −``--made-up-cost`` (default 1: a made-up answer undoes a right one), a wrong
span given to an answerable question −``--wrong-cost`` (default 0: refusing it is no better, and
its quote often still holds the answer), an answerable question refused 0; it then prints the
figures of the rules, the trained reader and the hybrid on the other half and on every
``--report`` set; with ``--out`` it writes the model. Only what is named is fitted on: the figures
of the other half and of the ``--report`` sets are held out.
"""

from __future__ import annotations

import argparse
import json
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from eval.judge import answer_correct
from eval.sets import Item, load_set
from qa.reading.hybrid import FEATURES, HybridModel
from qa.reading.reader import PassageRead, Reading

if TYPE_CHECKING:
    from qa.assistant import Assistant

Row = dict
Decision = Callable[[Row], tuple[bool, bool]]  # (answers, the answer given is right)
RIDGE = 1.0


def collect(set_path: str, store: str, **settings: int) -> list[Row]:
    """One row a question of ``set_path``: both readers' answers over ``store`` and their features
    (``settings``: what they read, where not the trained reader's ``ReaderSettings``: ``passages``,
    ``min_chars``)."""
    from qa.assistant import Assistant, trained_reader
    from qa.reading.hybrid import HybridReader, Observation
    from qa.reading.reader import Evidence, Refusal, TrainedReader

    base = Assistant.load(store)
    unused = HybridModel((0.0,) * len(FEATURES), (0.0,) * len(FEATURES), 1.0)
    trained = trained_reader()
    if settings:
        trained = TrainedReader(trained.folder, replace(trained.settings, **settings))
    hybrid = HybridReader(base.index, trained, unused)
    # what the reader was handed for the question: both readers' answers, whether the gate refuses
    # it (it names what no document mentions), and each passage read alone with its retrieval score
    seen: list[tuple[Observation, bool, list[tuple[PassageRead, float]]]] = []

    class Observer:  # reads with the rules; records both readers' answers, each passage read once
        settings = hybrid.settings

        def read(self, evidence: Evidence) -> Reading | Refusal:
            reads = hybrid.trained.read_each(evidence.asked_of_each(), evidence.passages)
            observed = hybrid.observe(evidence, reads)
            refused = any(name for _, name in evidence.missing)
            seen.append((observed, refused, [(r, p.score) for r, p in zip(reads, evidence.passages, strict=True)]))
            return observed.rules

    assistant = Assistant(base.index, base.encoder, Observer(), gate=False)  # rows say whether the gate refuses
    texts = {name: t.text for name, t in base.index.texts.items()}
    rows = []
    for item in ask_each(assistant, set_path, seen):
        gated = not seen or seen[0][1]  # no text to read, or the gate refuses it
        row: Row = {"id": item.id, "answerable": item.answerable, "doc": item.doc, "gated": gated}
        row["encoder"] = base.index.encoder_id
        if seen:
            o, _, each = seen[0]
            r = o.rules if isinstance(o.rules, Reading) else None
            r_text = texts[r.doc][r.start : r.end] if r else None
            t_text = texts[o.trained.doc][o.trained.start : o.trained.end] if o.trained else None
            row |= {
                "features": o.features,
                "rules_answer": r_text,
                "trained_answer": t_text,
                "rules_ok": r_text is not None and answer_correct(True, r_text, item.answers, item.answerable),
                "trained_ok": t_text is not None and answer_correct(True, t_text, item.answers, item.answerable),
                "passages": [_candidate(read, score, texts, item) for read, score in each],
            }
        rows.append(row)
    return rows


def ask_each(assistant: Assistant, set_path: str, seen: list) -> Iterator[Item]:
    """Ask ``assistant`` each question of ``set_path`` (those that are questions at all), yielding
    its item once it is answered; ``seen``, where the assistant's reader keeps what it was handed,
    is emptied before each."""
    from qa.assistant import QuestionError, clean_question

    for item in load_set(set_path):
        try:
            question = clean_question(item.question)
        except QuestionError:
            continue
        seen.clear()
        assistant.ask(question)
        yield item


def _candidate(read: PassageRead, retrieval: float, texts: dict[str, str], item: Item) -> Row | None:
    """The trained reader's best span in one passage read alone, for ``trained_calibration``:
    its score, its windows' "no answer" score, the passage's retrieval score, and whether it is
    right; None where the passage gave no span."""
    if read.span is None:
        return None
    answer = texts[read.span.doc][read.span.start : read.span.end]
    ok = answer_correct(True, answer, item.answers, item.answerable)
    return {"score": read.span.score, "null": read.null, "retrieval": retrieval, "ok": ok}


def _matrix(rows: Sequence[Row]) -> np.ndarray:
    return np.array([[r["features"][name] for name in FEATURES] for r in rows], dtype=np.float64)


def logistic_fit(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """Ridge logistic regression by Newton's method on standardised features (the first column,
    the bias, is not penalised); the coefficients returned apply to the raw features."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    mean[0], scale[0] = 0.0, 1.0
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    penalty = np.full(x.shape[1], ridge)
    penalty[0] = 0.0
    w = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30, 30)))
        gradient = z.T @ (p - y) + penalty * w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    raw = w / scale
    raw[0] = w[0] - float((w[1:] * mean[1:] / scale[1:]).sum())
    return raw


def hybrid_decision(model: HybridModel) -> Decision:
    def decide(r: Row) -> tuple[bool, bool]:
        if r["gated"]:
            return False, False
        choice = model.decide(r["features"])
        return choice is not None, choice is not None and bool(r[f"{choice}_ok"])

    return decide


def rules_decision(r: Row) -> tuple[bool, bool]:
    found = not r["gated"] and bool(r["features"]["rules_found"])
    return found, found and r["rules_ok"]


def trained_choice(row: Row, weight: float) -> tuple[float, bool] | None:
    """The trained reader's span as it chooses with ``passage_weight`` = ``weight``, from the
    row's per-passage spans: its margin over the least confident "no answer", and whether it is
    right; None where it found none."""
    if row["gated"]:
        return None
    if "passages" not in row:
        raise ValueError(
            f"row {row['id']} has no per-passage spans: collect its rows again (python -m eval.fit_hybrid collect)"
        )
    found = [c for c in row["passages"] if c]
    if not found:
        return None
    null = min(c["null"] for c in found)
    pick = max(found, key=lambda c: c["score"] + weight * c["retrieval"])
    return pick["score"] - null, pick["ok"]


def trained_decision(threshold: float, weight: float) -> Decision:
    def decide(r: Row) -> tuple[bool, bool]:
        choice = trained_choice(r, weight)
        found = choice is not None and choice[0] > threshold
        return found, bool(found and choice and choice[1])

    return decide


def figures(rows: Sequence[Row], decide: Decision) -> dict[str, float | int]:
    """Accuracy, answerable accuracy, and the share of unanswerable questions refused, with the
    precision and recall of refusals."""
    outcomes = [(r["answerable"], *decide(r)) for r in rows]
    answerable = [found and ok for a, found, ok in outcomes if a]
    refused_right = [not found for a, found, _ in outcomes if not a]
    refusals = [a for a, found, _ in outcomes if not found]
    share = lambda xs: round(sum(xs) / len(xs), 3) if xs else float("nan")  # noqa: E731
    return {
        "questions": len(rows),
        "accuracy": share([*answerable, *refused_right]),
        "answerable": share(answerable),
        "refused": share(refused_right),
        "refusal_precision": share([not a for a in refusals]),
    }


def halves(rows: Sequence[Row]) -> tuple[list[Row], list[Row]]:
    """The calibration and report halves, by a stable hash of the question's document (so that a
    document's questions stay together), or of its id where it names none (unanswerable ones)."""
    first = [zlib.crc32(str(r["doc"] or r["id"]).encode()) % 2 == 0 for r in rows]
    return [r for r, f in zip(rows, first, strict=True) if f], [r for r, f in zip(rows, first, strict=True) if not f]


@dataclass(frozen=True)
class Costs:
    """What the fitted thresholds weigh, against 1 for a right answer or a right refusal and 0 for
    an answerable question refused: ``made_up``, an answer given where the documents hold none;
    ``wrong``, a wrong span given to a question they do answer (its quote may still hold the
    answer, and refusing it is no better)."""

    made_up: float = 1.0
    wrong: float = 0.0


def utility(rows: Sequence[Row], decide: Decision, costs: Costs = Costs()) -> float:
    """Per question: 1 for a right answer or a right refusal, −``costs.wrong`` for a wrong answer to
    an answerable question, −``costs.made_up`` for an answer to one the documents do not answer,
    0 for an answerable question refused. With both costs 0 this is accuracy."""
    total = 0.0
    for r in rows:
        found, ok = decide(r)
        if not r["answerable"]:
            total += -costs.made_up if found else 1.0
        elif found:
            total += 1.0 if ok else -costs.wrong
    return total / len(rows) if rows else 0.0


THRESHOLDS = tuple(round(float(t), 2) for t in np.linspace(0.0, 0.95, 20))


def _coefficients(rows: Sequence[Row], label: Callable[[Row], bool]) -> tuple[float, ...]:
    """A logistic model of ``label`` over ``rows``; a constant chance where every label is the same."""
    y = np.array([float(label(r)) for r in rows])
    if len(set(y)) < 2:
        share = float(y.mean()) if len(y) else 0.0
        bias = float(np.log((share + 1e-3) / (1 - share + 1e-3)))
        return (bias, *[0.0] * (len(FEATURES) - 1))
    return tuple(float(c) for c in logistic_fit(_matrix(rows), y))


def neighbourhood_mean(grid: np.ndarray) -> np.ndarray:
    """Each cell of ``grid`` averaged with its eight neighbours (the edge cells repeated past the
    edge)."""
    padded = np.pad(grid, 1, mode="edge")
    height, width = grid.shape
    shifted = np.stack([padded[i : i + height, j : j + width] for i in range(3) for j in range(3)])
    return shifted.mean(axis=0)


def fit(rows: Sequence[Row], costs: Costs = Costs()) -> HybridModel:
    """The three logistic models (each reader's span right, over the rows it answered; the question
    answerable, over every row read), and the two thresholds on their chances where ``utility`` on
    ``rows``, averaged with that of the neighbouring thresholds of the grid, is highest (ties go to
    the higher thresholds, the more cautious ones). A few hundred questions make the utility of one
    pair of thresholds noisy; a pair whose neighbours do as well is one that holds on other
    questions, where a lone peak moves with the sample."""
    read = [r for r in rows if not r["gated"]]
    trained = _coefficients([r for r in read if r["features"]["trained_found"]], lambda r: bool(r["trained_ok"]))
    rules = _coefficients([r for r in read if r["features"]["rules_found"]], lambda r: bool(r["rules_ok"]))
    answerable = _coefficients(read, lambda r: r["answerable"])
    scores = np.array(
        [
            [utility(rows, hybrid_decision(HybridModel(trained, rules, t, answerable, a)), costs) for t in THRESHOLDS]
            for a in THRESHOLDS
        ]
    )
    smoothed = neighbourhood_mean(scores)
    _, a, t = max((smoothed[i, j], a, t) for i, a in enumerate(THRESHOLDS) for j, t in enumerate(THRESHOLDS))
    return HybridModel(trained, rules, t, answerable, a)


PASSAGE_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)


def trained_calibration(rows: Sequence[Row]) -> tuple[float, float]:
    """The trained reader's own no-answer threshold and passage weight that maximise the
    pipeline's accuracy on ``rows`` (its margins as the assistant hands it passages, not over gold
    paragraphs); ties go to the smaller threshold and weight."""
    grid = [(round(float(t), 2), w) for t in np.arange(-4.0, 6.01, 0.25) for w in PASSAGE_WEIGHTS]
    return max(grid, key=lambda tw: (figures(rows, trained_decision(*tw))["accuracy"], -abs(tw[0]), -tw[1]))


def write_trained_calibration(threshold: float, weight: float, source: str, folder: Path) -> None:
    meta_path = folder / "reader.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["threshold"] = threshold
    meta["passage_weight"] = weight
    meta["threshold_from"] = f"python -m eval.fit_hybrid threshold: the pipeline's accuracy on {source}"
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def without_gate(rows: Sequence[Row]) -> list[Row]:
    """``rows`` as the readers would answer them with no gate: every question that had text to
    read is read. Rows collected before the gate was measured have no readings behind the gate,
    and are refused with a clear message."""
    out = []
    for r in rows:
        if r["gated"] and "features" not in r:
            raise ValueError(f"row {r['id']} holds no reading behind the gate: collect its rows again")
        out.append({**r, "gated": False})
    return out


def gate_report(sets: dict[str, list[Row]], model: HybridModel, trained: tuple[float, float]) -> dict[str, dict]:
    """What the gate earns: each reader's figures on each set with the gate and without it."""
    gated, open_ = report(model, sets, trained), report(model, {n: without_gate(r) for n, r in sets.items()}, trained)
    return {name: {"with the gate": gated[name], "without": open_[name]} for name in sets}


def write_halves(set_path: str | Path, folder: str | Path) -> tuple[Path, Path]:
    """The Q&A set's calibration and held-out halves (``halves``, as ``fit`` splits the rows
    collected from it) as two sets, ``calibration.jsonl`` and ``held-out.jsonl`` in ``folder``, so
    that ``qa eval`` can report on the held-out one alone."""
    items = load_set(set_path)  # a bad set is a clear SetError; "doc" may be absent
    lines = [line for line in Path(set_path).read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    first, second = halves([{"doc": i.doc, "id": i.id, "line": line} for i, line in zip(items, lines, strict=True)])
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "calibration.jsonl", folder / "held-out.jsonl"
    for path, part in zip(paths, (first, second), strict=True):
        path.write_text("".join(r["line"] + "\n" for r in part), encoding="utf-8")
    return paths


def read_rows(path: str | Path) -> list[Row]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]


def report(model: HybridModel, sets: dict[str, list[Row]], trained: tuple[float, float]) -> dict[str, dict]:
    """The rules', the trained reader's (at its ``(threshold, passage_weight)``) and the hybrid's
    figures on each set of rows."""
    out = {}
    for name, rows in sets.items():
        out[name] = {
            "rules": figures(rows, rules_decision),
            "trained": figures(rows, trained_decision(*trained)),
            "hybrid": figures(rows, hybrid_decision(model)),
        }
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eval.fit_hybrid")
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("collect")
    c.add_argument("set")
    c.add_argument("--store", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--passages", type=int, help="retrieved passages read at least (default: the reader's setting)")
    c.add_argument("--min-chars", type=int, help="characters of passages read at least (default: the reader's setting)")
    t = commands.add_parser(
        "threshold", help="the trained reader's threshold and passage weight, on the calibration half"
    )
    t.add_argument("--calibration", required=True)
    t.add_argument("--report", nargs="*", default=[], metavar="NAME=ROWS", help="held-out rows to report on")
    t.add_argument("--write", action="store_true", help="into qa/models/reader/reader.json")
    sp = commands.add_parser("split", help="write a Q&A set's calibration and held-out halves as two sets")
    sp.add_argument("set")
    sp.add_argument("--out", required=True, metavar="DIR")
    g = commands.add_parser("gate", help="each reader's figures with the gate and without it")
    g.add_argument("rows", nargs="+", metavar="NAME=ROWS")
    f = commands.add_parser("fit")
    f.add_argument("--calibration", required=True, help="rows of the validation split; fitted on one half")
    f.add_argument("--also", nargs="*", default=[], metavar="ROWS", help="more rows fitted on whole (a dev set)")
    f.add_argument("--also-weight", type=int, default=1, metavar="N", help="each --also row counts N times")
    f.add_argument("--report", nargs="*", default=[], metavar="NAME=ROWS")
    f.add_argument("--out", help="write the model here (e.g. qa/models/hybrid.json)")
    f.add_argument(
        "--encoder",
        metavar="ID",
        help="the id of the encoder the rows' stores were indexed with, for rows that do not say "
        "(collected before rows named it)",
    )
    f.add_argument(
        "--made-up-cost",
        type=float,
        default=Costs.made_up,
        help="what an answer to a question the documents do not answer costs, against 1 for a right answer "
        "(default %(default)s)",
    )
    f.add_argument(
        "--wrong-cost",
        type=float,
        default=Costs.wrong,
        help="what a wrong answer to a question the documents answer costs (default %(default)s; "
        "with both costs 0 the thresholds are the most accurate)",
    )
    args = parser.parse_args(argv)
    if args.command == "collect":
        given = {"passages": args.passages, "min_chars": args.min_chars}
        rows = collect(args.set, args.store, **{k: v for k, v in given.items() if v is not None})
        Path(args.out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"{len(rows)} questions → {args.out}")
        return
    if args.command == "split":
        for path in write_halves(args.set, args.out):
            print(f"{sum(1 for _ in path.open(encoding='utf-8'))} questions → {path}")
        return
    from qa.assistant import trained_reader

    if args.command == "gate":
        settings = trained_reader().settings
        sets = {name: read_rows(path) for name, _, path in (spec.partition("=") for spec in args.rows)}
        trained = (settings.threshold, settings.passage_weight)
        for name, by_gate in gate_report(sets, HybridModel.load(), trained).items():
            print(name)
            for gate, by_reader in by_gate.items():
                for reader, numbers in by_reader.items():
                    print(f"  {gate:14s} {reader:8s} {numbers}")
        return
    if args.command == "threshold":
        calibration, held = halves(read_rows(args.calibration))
        threshold, weight = trained_calibration(calibration)
        print(f"threshold {threshold}, passage weight {weight}:")
        print(f"  calibration half {figures(calibration, trained_decision(threshold, weight))}")
        print(f"  held-out half {figures(held, trained_decision(threshold, weight))}")
        for spec in args.report:
            name, _, path = spec.partition("=")
            print(f"  {name} {figures(read_rows(path), trained_decision(threshold, weight))}")
        if args.write:
            source = f"the calibration half of {args.calibration} ({len(calibration)} questions)"
            write_trained_calibration(threshold, weight, source, trained_reader().folder)
            print(f"written to {trained_reader().folder / 'reader.json'}")
        return
    calibration, held = halves(read_rows(args.calibration))
    also = {path: read_rows(path) for path in args.also}
    if args.also_weight < 1:
        parser.error("--also-weight must be at least 1")
    extra = [row for rows in also.values() for row in rows] * args.also_weight
    costs = Costs(made_up=args.made_up_cost, wrong=args.wrong_cost)
    encoders = {r.get("encoder", args.encoder) for r in [*calibration, *held, *extra]}
    if None in encoders or len(encoders) != 1:
        parser.error(
            "the rows must come from stores of one encoder, and say which (or --encoder ID): "
            + ", ".join(sorted(map(str, encoders)))
        )
    model = fit([*calibration, *extra], costs)
    sets = {"calibration half (fitted on)": calibration, "validation report half": held}
    sets |= {f"{path} (fitted on)": rows for path, rows in also.items()}
    for spec in args.report:
        name, _, path = spec.partition("=")
        sets[name] = read_rows(path)
    settings = trained_reader().settings
    results = report(model, sets, (settings.threshold, settings.passage_weight))
    for name, by_reader in results.items():
        print(name)
        for reader, numbers in by_reader.items():
            print(f"  {reader:8s} {numbers}")
    if args.out:
        meta = {
            "format": 2,
            "features": list(FEATURES),
            "trained": list(model.trained),
            "rules": list(model.rules),
            "threshold": model.threshold,
            "answerable": list(model.answerable or ()),
            "answerable_threshold": model.answerable_threshold,
            "encoder": encoders.pop(),
            "trained_reader": trained_reader().meta.get("settings", {}).get("epochs"),
            "fitted_on": f"{args.calibration}: the calibration half ({len(calibration)} questions)"
            + "".join(f"; {path} ({len(rows)} questions)" for path, rows in also.items())
            + (f", each counted {args.also_weight} times" if args.also_weight > 1 and also else ""),
            "costs": {"made_up": costs.made_up, "wrong": costs.wrong},
            "figures": results,
        }
        Path(args.out).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"model → {args.out}")


if __name__ == "__main__":
    main()
