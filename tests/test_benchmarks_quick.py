"""The benchmark harness runs end to end on tiny sizes, so it cannot rot (timings never asserted)."""

import doctest
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import pinning, report, run  # noqa: E402


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


def test_the_checkpointing_workload_reports_peak_memory(quick_results):
    out, results = quick_results
    runs = results["workloads"]["W14"]["runs"]
    assert {r["task"] for r in runs} == {"grad", "grad-checkpoint_scan"}
    assert all(r["entries"]["matdiff"]["peak_bytes"] > 0 for r in runs)
    table = (out / "benchmarks.md").read_text()
    assert "Peak memory of one call" in table
    assert "Ratio grad-checkpoint_scan/grad: " in table


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


def test_every_measurement_records_its_core_use(quick_results):
    out, results = quick_results
    figures = [
        e["cpu_per_wall"]
        for w in results["workloads"].values()
        for r in w["runs"]
        for e in r["entries"].values()
        if e["status"] == "ok"
    ]
    assert figures and all(isinstance(c, float) and c >= 0 for c in figures)
    machine = results["machine"]
    assert machine["affinity"] == sorted(os.sched_getaffinity(0))
    assert machine["threads"] == len(machine["affinity"]) and machine["pinned"] is False
    assert "| CPU/wall |" in (out / "benchmarks.md").read_text()


needs_affinity = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform"
)


@needs_affinity
@pytest.mark.parametrize("entry", [["-m", "benchmarks"], ["benchmarks/run.py"]])
def test_threads_pins_the_process_before_numpy_loads(entry, tmp_path):
    cmd = [sys.executable, *entry, "--threads", "1", "--quick", "-w", "W8", "-f", "numpy"]
    cmd += ["--no-plots", "--rounds", "1", "--min-time", "0.0005", "--out", str(tmp_path)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, timeout=120)
    machine = json.loads((tmp_path / "benchmarks.json").read_text())["machine"]
    assert machine["pinned"] is True and machine["threads"] == 1
    assert machine["affinity"] == sorted(os.sched_getaffinity(0))[:1]
    assert "loaded_before_pinning" not in machine and "threads_not_pinned" not in machine
    assert machine["OMP_NUM_THREADS"] == machine["OPENBLAS_NUM_THREADS"] == "1"


@needs_affinity
def test_pin_holds_threads_already_running_and_those_started_after():
    # In a child process: pinning this one would slow every test after it.
    code = """
import os, threading
from benchmarks import pinning
stop = threading.Event()
early = threading.Thread(target=stop.wait); early.start()
cpu = min(os.sched_getaffinity(0))
info = pinning.pin([cpu])
later = threading.Thread(target=stop.wait); later.start()
masks = {os.sched_getaffinity(int(t)) == {cpu} for t in os.listdir("/proc/self/task")}
stop.set()
print(masks == {True}, info["threads"], info["threads_not_pinned"], os.environ["OMP_NUM_THREADS"])
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    )
    assert out.stdout.split() == ["True", "1", "[]", "1"]


def test_pinning_refuses_more_threads_than_cpus():
    with pytest.raises(ValueError, match="may use only"):
        pinning.choose_cpus(len(pinning.allowed_cpus()) + 1)
    with pytest.raises(SystemExit):
        run.parse_args(["--cpus", "zero"])


@pytest.mark.parametrize("module", [pinning, report])
def test_docstring_examples(module):
    failed, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried and not failed


def _entry(t, cpu_per_wall=None):
    e = {"status": "ok", "median_s": t, "first_call_s": t, "compile_s": 0.0, "samples": [t]}
    if cpu_per_wall is not None:
        e["cpu_per_wall"] = cpu_per_wall
    return e


def _results(entries, threads=1, **machine):
    return {
        "machine": {"threads": threads, "pinned": True, "affinity": [0], **machine},
        "args": {"threads": threads, "rounds": 1, "min_time": 0.1},
        "workloads": {
            "W0": {
                "title": "made by hand",
                "ops_per_call": None,
                "ratios": [("grad", "f")],
                "runs": [
                    {"task": task, "size": "8", "entries": es} for task, es in entries.items()
                ],
            }
        },
    }


def _table_row(text, name):
    return next(line for line in text.splitlines() if line.startswith(f"| {name} |"))


def test_report_marks_a_case_over_its_cores_and_refuses_the_ratio(tmp_path):
    results = _results(
        {
            "f": {"matdiff": _entry(1e-3, 1.0), "jax-jit": _entry(1e-3, 1.02)},
            "grad": {"matdiff": _entry(4e-3, 0.98), "jax-jit": _entry(1e-3, 1.96)},
        }
    )
    report.write_markdown(results, tmp_path / "b.md")
    text = (tmp_path / "b.md").read_text()
    assert _table_row(text, "jax-jit").split("|")[-2].strip() == "1.96†"
    assert "†" not in _table_row(text, "matdiff")
    assert "f [8] vs jax-jit 1.00" in text
    assert "grad [8] vs jax-jit n/a (cores differ)" in text
    assert "jax-jit n/a (cores differ)" in text.split("Ratio grad/f:")[1].splitlines()[0]
    assert "† Above 1.1 × 1 CPU seconds per wall second" in text
    assert "n/a (cores differ): the two cases kept different numbers of cores busy" in text


def test_report_allows_n_cores_when_pinned_to_n(tmp_path):
    results = _results(
        {"f": {"matdiff": _entry(1e-3, 1.9), "jax-jit": _entry(1e-3, 2.1)}},
        threads=2,
        affinity=[0, 1],
    )
    report.write_markdown(results, tmp_path / "b.md")
    text = (tmp_path / "b.md").read_text()
    assert "†" not in _table_row(text, "jax-jit") and "Above 1.1" not in text
    assert "f [8] vs jax-jit 1.00" in text
    assert "pinned to CPUs 0, 1 (N = 2)" in text


def test_report_of_a_run_before_core_use_was_recorded(tmp_path):
    results = _results({"f": {"matdiff": _entry(2e-3), "jax-jit": _entry(1e-3)}})
    del results["machine"]["affinity"]
    report.write_markdown(results, tmp_path / "b.md")
    text = (tmp_path / "b.md").read_text()
    assert "predates pinning" in text
    assert "CPU/wall |" not in text and _table_row(text, "matdiff") == "| matdiff | 2.00 ms |"
    assert "f [8] vs jax-jit 2.00" in text


def test_report_says_which_openblas_kernel_numpy_ran(tmp_path):
    results = _results({"f": {"matdiff": _entry(1e-3), "jax-jit": _entry(1e-3)}})
    pools = [{"internal_api": "openblas", "architecture": "Haswell", "num_threads": 1}]
    results["machine"].update(threadpools=pools, OPENBLAS_CORETYPE="Haswell")
    report.write_markdown(results, tmp_path / "held.md")
    held = (tmp_path / "held.md").read_text()
    assert "OpenBLAS ran its Haswell kernels, chosen by `OPENBLAS_CORETYPE`" in held
    del results["machine"]["OPENBLAS_CORETYPE"]
    pools[0]["architecture"] = "SkylakeX"
    report.write_markdown(results, tmp_path / "own.md")
    own = (tmp_path / "own.md").read_text()
    assert "OpenBLAS chose its own kernels: SkylakeX." in own
    assert "OPENBLAS_CORETYPE" not in own.split("## Machine")[0]
