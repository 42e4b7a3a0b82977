"""The benchmark harness runs end to end on tiny sizes, so it cannot rot (timings never asserted)."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import run  # noqa: E402


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    rc = run.main(
        [
            "--quick",
            "--out",
            str(out),
            "-f",
            "numpy,matdiff,matdiff-jit,symbolic",
            "--no-plots",
            "--min-time",
            "0.0005",
            "--rounds",
            "1",
        ]
    )
    assert rc == 0
    return out, json.loads((out / "benchmarks.json").read_text())


def test_writes_table_for_every_workload(quick_results):
    out, results = quick_results
    table = (out / "benchmarks.md").read_text()
    for key in ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9"]:
        assert f"## {key}:" in table
        assert key in results["workloads"]
    assert "threadpools" in results["machine"]


def test_no_framework_gives_a_wrong_result(quick_results):
    _, results = quick_results
    wrong = [
        (key, r["task"], name, e["note"])
        for key, w in results["workloads"].items()
        for r in w["runs"]
        for name, e in r["entries"].items()
        if e["status"] == "wrong"
    ]
    assert wrong == []


def test_reference_closed_forms_agree_with_themselves(quick_results):
    _, results = quick_results
    numpy_runs = [
        e["status"]
        for w in results["workloads"].values()
        for r in w["runs"]
        for n, e in r["entries"].items()
        if n == "numpy"
    ]
    assert numpy_runs and set(numpy_runs) == {"ok"}


def test_checker_flags_a_wrong_result():
    import numpy as np

    assert run._check(np.ones(3), np.ones(3), 1e-7) is None
    assert "error" in run._check(np.ones(3) * 1.01, np.ones(3), 1e-7)
    assert "shape" in run._check(np.ones(2), np.ones(3), 1e-7)


def test_matdiff_variants_run_every_workload(quick_results):
    _, results = quick_results
    failed = [
        (key, r["task"], name, e.get("note"))
        for key, w in results["workloads"].items()
        for r in w["runs"]
        for name, e in r["entries"].items()
        if name in ("matdiff", "matdiff-jit", "symbolic") and e["status"] != "ok"
    ]
    assert failed == []
