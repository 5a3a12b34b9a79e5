"""The Markdown report of a run: summary, per-tag table and chart, and the failed questions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.metrics import Judged
from eval.sets import Item

_ROWS = (
    ("accuracy", "accuracy"),
    ("answerable_accuracy", "answerable accuracy"),
    ("refusal_accuracy", "refusal accuracy"),
    ("evidence@1", "evidence@1"),
    ("evidence@3", "evidence@3"),
    ("mrr@10", "MRR@10 of the evidence"),
    ("quote_accuracy", "quote accuracy"),
    ("mean_quote_chars", "mean quote length (chars)"),
    ("latency_ms_p50", "latency p50 (ms)"),
    ("latency_ms_p95", "latency p95 (ms)"),
    ("exact_match", "exact match (CMRC)"),
    ("f1", "F1 (CMRC, characters)"),
    ("f1_all", "F1 over every question, refusals counted (SQuAD 2.0)"),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _cell(text: str | None, limit: int = 60) -> str:
    text = "" if text is None else " ".join(str(text).split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("|", "\\|") or "–"


def tag_chart(summary: dict[str, Any], path: Path) -> None:
    """A PNG bar chart of accuracy per tag."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tags = list(summary["per_tag"])
    values = [summary["per_tag"][t]["accuracy"] or 0.0 for t in tags]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(tags) + 1.5), 3.2), dpi=100)
    ax.bar(tags, values, color="#3b6ea5")
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("accuracy")
    ax.set_title("accuracy per tag")
    for x, v in enumerate(values):
        ax.text(x, v + 0.02, f"{v:.2f}", ha="center", fontsize=8)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(
    path: Path,
    title: str,
    summary: dict[str, Any],
    items: list[Item],
    records: list[dict[str, Any]],
    judged: list[Judged],
    complete: bool = True,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    chart = path.with_name(path.stem + "-tags.png")
    if summary["per_tag"]:
        tag_chart(summary, chart)
    lines = [f"# {title}", ""]
    if not complete:
        lines += [f"**Partial run: {len(judged)} of {len(items)} questions.**", ""]
    lines += ["| figure | value |", "| --- | --- |"]
    lines += [f"| {label} | {_fmt(summary[key])} |" for key, label in _ROWS]
    lines += ["", "## Per tag", "", "| tag | questions | accuracy | F1 over all |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {t} | {v['questions']} | {_fmt(v['accuracy'])} | {_fmt(v['f1_all'])} |"
        for t, v in summary["per_tag"].items()
    ]
    if summary["per_tag"]:
        lines += ["", f"![accuracy per tag]({chart.name})"]
    by_id = {item.id: item for item in items}
    failed = [(j, r) for j, r in zip(judged, records, strict=True) if not j.correct]
    lines += ["", f"## Failed questions ({len(failed)})", ""]
    if failed:
        lines += ["| id | question | expected | given | top source |", "| --- | --- | --- | --- | --- |"]
        for verdict, record in failed:
            item = by_id[verdict.id]
            expected = " / ".join(item.answers) if item.answerable else "(no answer: refuse)"
            given = record.get("answer") if record.get("found") else "(refused)"
            top = (record.get("sources") or [{}])[0]
            source = f"{top.get('doc', '')} {top.get('locator', '')}: {top.get('text', '')}" if top else ""
            lines.append(
                f"| {item.id} | {_cell(item.question)} | {_cell(expected, 40)} | {_cell(given, 40)} "
                f"| {_cell(source, 80)} |"
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
