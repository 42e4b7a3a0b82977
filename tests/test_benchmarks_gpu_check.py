"""The GPU check script off the GPU: its no-device exit, and its harness and table with
NumPy standing in for CuPy (timings never asserted)."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import gpu_check  # noqa: E402


def test_without_a_device_it_says_why_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(
        gpu_check, "find_device", lambda module: (None, "CuPy finds no CUDA device")
    )
    out = tmp_path / "gpu.md"
    assert gpu_check.main(["--out", str(out)]) == 0
    assert capsys.readouterr().out == (
        "gpu_check: skipped: CuPy finds no CUDA device; nothing was written\n"
    )
    assert not out.exists()


def test_find_device_names_what_is_missing():
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    xp, why = gpu_check.find_device("cupy")
    assert xp is None and why.startswith("CuPy is not importable (ModuleNotFoundError")


def test_numpy_standing_in_for_cupy_writes_the_table(tmp_path, capsys):
    out = tmp_path / "gpu.md"
    argv = ["--device-module", "numpy", "--quick", "--skip-tests", "--out", str(out)]
    assert gpu_check.main([*argv, "--min-time", "0.001", "--rounds", "1"]) == 0
    page = out.read_text()
    lines = page.splitlines()
    assert lines[0] == "# GPU check"
    assert lines[2].startswith("Device: NumPy standing in for CuPy (no GPU involved); JAX ")
    assert "Tests marked `cupy`: not run (--skip-tests)" in page
    header = (
        "| workload | task | size | matdiff (NumPy) | symbolic (NumPy) | JAX jit "
        "| ratio matdiff (NumPy) / JAX jit |"
    )
    assert header in lines
    rows = [ln for ln in lines if ln.startswith("| W")]
    assert [r.split(" | ")[:3] for r in rows] == [
        ["| W2", "grad", "200x10"],
        ["| W3", "grad", "8x12x6x3"],
        ["| W5", "hvp", "300x10"],
        ["| W4", "hessian", "6"],
    ]
    for row in rows:
        cells = row.strip("|").split(" | ")
        assert cells[3].endswith(("us", "ms", " s")), row  # matdiff ran and checked out
    assert rows[-1].split(" | ")[4].endswith(("us", "ms", " s"))  # the symbolic W4 code


def test_a_wrong_result_and_a_host_result_are_reported_not_timed():
    ref = np.ones(3)
    assert gpu_check._check(np.ones(3), ref, 1e-7) is None
    assert gpu_check._check(np.full(3, 2.0), ref, 1e-7) == "max relative error 1.00e+00"

    class Elsewhere:
        pass

    assert not gpu_check._on_device(np, Elsewhere())
    assert gpu_check._on_device(np, (np.ones(2), np.ones(1)))


def test_table_cells_and_ratio():
    ok = {"status": "ok", "seconds": 2e-3}
    jax = {"status": "ok", "seconds": 1e-3}
    rows = [{"workload": "W2", "task": "grad", "size": "4x2", "matdiff": ok, "jax": jax}]
    names = {"matdiff": "matdiff (CuPy)", "symbolic": "symbolic (CuPy)", "jax": "JAX jit"}
    page = gpu_check.table(
        rows, "H100, CuPy 13", "JAX 0.4 on H100 (the same GPU)", "3 passed", names
    )
    assert "| W2 | grad | 4x2 | 2.00 ms | - | 1.00 ms | 2.00 |" in page
    failed = {"status": "error", "note": "TypeError: a | b"}
    rows[0]["matdiff"] = failed
    page = gpu_check.table(rows, "H100", "JAX", "3 passed", names)
    assert "| error: TypeError: a / b | - | 1.00 ms | - |" in page


def test_the_tests_it_runs_are_marked_cupy():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"cupy: ' in text  # the marker gpu_check selects is registered
