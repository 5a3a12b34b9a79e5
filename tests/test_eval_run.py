from __future__ import annotations

import json
import os
import subprocess
import sys

from eval.runner import run_set
from eval.sets import load_set
from tests.conftest import DEFAULT_CORPUS, ROOT, SEED_DEV


def test_qa_eval_end_to_end_writes_results_and_report(tmp_path):
    out, report = tmp_path / "results.jsonl", tmp_path / "rep" / "report.md"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QA_STORE": str(tmp_path / "store")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa.cli",
            "eval",
            str(SEED_DEV),
            "--docs",
            str(DEFAULT_CORPUS),
            "--out",
            str(out),
            "--report",
            str(report),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["questions"] == 41 and summary["accuracy"] >= 0.95 and summary["refusal_accuracy"] == 1.0
    assert summary["complete"] is True
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in lines] == [i.id for i in load_set(SEED_DEV)]
    for r in lines:
        assert {"found", "answer", "quote", "sources", "latency_ms", "correct"} <= set(r)
        for s in r["sources"]:
            assert {"doc", "locator", "start", "end", "text", "score"} <= set(s)
    text = report.read_text(encoding="utf-8")
    assert "| accuracy |" in text and "## Per tag" in text and "## Failed questions" in text
    png = report.with_name("report-tags.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not out.with_name("results.jsonl.partial").exists()

    worse = tmp_path / "worse.jsonl"
    flipped = [dict(r, correct=not r["correct"]) if r["id"] == "dev-001" else r for r in lines]
    worse.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in flipped), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "eval", "--compare", str(out), str(worse)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0 and "broken (1): dev-001" in done.stdout and "fixed (0)" in done.stdout


def test_interrupted_run_leaves_a_valid_partial_file(report_assistant, tmp_path):
    items = load_set(SEED_DEV)
    out = tmp_path / "results.jsonl"

    def stop_after_five(done: int, total: int) -> None:
        if done == 5:
            raise KeyboardInterrupt

    run = run_set(report_assistant, items, out, progress=stop_after_five)
    assert not run.complete and not out.exists()
    assert run.results_path == tmp_path / "results.jsonl.partial"
    lines = [json.loads(line) for line in run.results_path.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in lines] == [i.id for i in items[:5]]


def test_bad_set_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "q", "answers": ["1"]}\n{"id": "a", "question": "q", "answers": ["1"]}\n')
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "eval", str(bad), "--docs", str(DEFAULT_CORPUS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 2 and "bad.jsonl:2: duplicate id 'a'" in done.stderr
