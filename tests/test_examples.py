"""Every script under examples/ runs to completion (each asserts what it shows)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def run(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    proc = run(script, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_logistic_least_squares_checks_every_adjoint(tmp_path):
    proc = run(ROOT / "examples" / "logistic_least_squares.py", "-o", "g.svg", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "forward pass" in out and "backward pass" in out
    assert "all adjoints match the hand-derived ones" in out
    compared = out.split("hand-derived")[1].split("all adjoints")[0].split()
    assert compared[0::3] == ["L_reg", "R", "L", "y", "z", "w", "b", "x"]
    if (tmp_path / "g.svg").exists():
        assert "L_reg" in (tmp_path / "g.svg").read_text(encoding="utf-8")
    else:
        assert "graph not drawn" in proc.stderr and "apt-get install graphviz" in proc.stderr


def test_committed_picture_is_the_examples_graph():
    svg = (ROOT / "docs" / "logistic_least_squares.svg").read_text(encoding="utf-8")
    for name in ("L_reg", "sigmoid", "lam"):
        assert name in svg
