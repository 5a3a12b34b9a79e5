"""ruff and mypy, run by the test command: the code stays formatted, lint-clean and type-checked
(their settings are in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["qa", "embeddings", "eval", "ui", "tests"]


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", *PACKAGES],
        ["mypy"],  # the files and settings: [tool.mypy] in pyproject.toml
    ],
    ids=["ruff check", "ruff format", "mypy"],
)
def test_clean(command: list[str]) -> None:
    run = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert run.returncode == 0, f"{' '.join(command)} exited {run.returncode}:\n{run.stdout}{run.stderr}"
