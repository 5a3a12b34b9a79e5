"""ruff and mypy, run by the test command: the code stays formatted, lint-clean and type-checked
(their settings are in pyproject.toml)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
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


def _imported_packages(folders: list[str]) -> dict[str, str]:
    """Top-level modules outside the standard library and the project, each with a file importing it."""
    found: dict[str, str] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in PACKAGES:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def _distribution_names(requirements: list[str]) -> set[str]:
    return {re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", r).group()).lower() for r in requirements}


def test_every_imported_package_is_declared():
    """The package's imports are in [project].dependencies or an extra, the tests' in those or the
    test extra: nothing arrives only because another package happens to pull it in."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    installed = packages_distributions()
    declared_for_package = _distribution_names(project["dependencies"] + [r for rs in extras.values() for r in rs])
    declared_for_tests = _distribution_names(project["dependencies"] + extras["test"])
    for folders, declared in ((PACKAGES[:-1], declared_for_package), (["tests"], declared_for_tests)):
        for module, where in _imported_packages(folders).items():
            distributions = _distribution_names(installed.get(module, [module]))
            assert distributions & declared, f"{where} imports {module} ({', '.join(distributions)}): not declared"
