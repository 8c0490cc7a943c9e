"""The code style the project keeps (``[tool.ruff]`` in pyproject.toml), enforced by the test suite and
therefore by CI: ``ruff check`` (lint) and ``ruff format --check`` over the package, tests and benchmarks."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["src", "tests", "benchmarks"]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "ruff", *args, *PATHS]  # the ruff of this environment ([test] extra)
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("args", [("check",), ("format", "--check")], ids=["lint", "format"])
def test_ruff(args):
    result = _ruff(*args)
    assert result.returncode == 0, f"ruff {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
