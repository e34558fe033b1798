"""The type checker and linter are part of the test suite, so CI enforces them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_mypy_strict_is_clean_on_the_package() -> None:
    result = _run("mypy")  # files, strictness and plugins come from pyproject.toml
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_lint_and_format_are_clean() -> None:
    lint = _run("ruff", "check", "mlxfn", "tests", "properties")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run("ruff", "format", "--check", "mlxfn", "tests", "properties")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
