"""The GPU check: CuPy tests, then matdiff on CuPy against JAX on the same GPU.

On a machine with a CUDA device, CuPy and JAX (with CUDA), run from the repository root::

    python -m benchmarks.gpu_check                 # writes docs/gpu_check.md
    python -m benchmarks.gpu_check --out /tmp/g.md --skip-tests

It runs the tests marked ``cupy`` (``pytest -m cupy``), then times W2's gradient, W3's
gradient, W5's Hessian-vector product and W4's Hessian (the workloads of
``benchmarks/workloads.py``, their inputs and losses reused) for matdiff on CuPy arrays,
the symbolic engine's W4 code on CuPy, and JAX's jitted versions, every result checked
against the NumPy closed form and, for matdiff, checked to be still a CuPy array (no trip
through host memory). It writes one Markdown table and finishes in well under 8 minutes
(each case is skipped once the time left cannot hold it). Without a CUDA device it says
why and exits 0, having written nothing.

``--device-module numpy`` stands NumPy in for CuPy, so the harness and the table writer
are tested on machines without a GPU (``tests/test_benchmarks_gpu_check.py``).
"""

from __future__ import annotations

import argparse
import importlib
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import frameworks as fwmod  # noqa: E402
from benchmarks import workloads as W  # noqa: E402
from benchmarks.report import fmt_time  # noqa: E402

#: The whole check's budget: the tests' timeout plus the timings must stay below 8 minutes.
BUDGET_S = 450.0
TESTS_TIMEOUT_S = 180.0


@dataclass
class Case:
    """One timed row: a workload's task at one size."""

    workload: str
    task: str
    size: object
    quick_size: object
    #: (device module, matdiff, NumPy inputs) -> zero-argument callable on device arrays
    matdiff: Callable
    #: the workload's JAX builder name, reused as it is
    jax: str = "jax-jit"
    symbolic: Callable | None = None


# ---------------------------------------------------------------- builders on a device


def _to(xp, inp: dict) -> dict:
    out = {}
    for k, v in inp.items():
        if isinstance(v, tuple):
            out[k] = tuple(xp.asarray(a) for a in v)
        else:
            out[k] = xp.asarray(v) if isinstance(v, np.ndarray) else v
    return out


def _w2_grad(xp, md, inp):
    d = _to(xp, inp)
    g = md.grad(lambda w: W._logistic(md.numpy, w, d["X"], d["y"]))
    return lambda: g(d["w"])


def _w3_grad(xp, md, inp):
    d = _to(xp, inp)
    lse = W._lse_np(md.numpy)
    g = md.grad(lambda p: W._mlp_loss(md.numpy, p, d["X"], d["Y"], lse))
    return lambda: g(d["params"])


def _w5_hvp(xp, md, inp):
    d = _to(xp, inp)
    f = lambda w: W._logistic(md.numpy, w, d["X"], d["y"])  # noqa: E731
    return lambda: md.hvp(f, d["w"], d["v"])


def _w4_hessian(xp, md, inp):
    d = _to(xp, inp)
    h = md.hessian(lambda x: W._w4_f(md.numpy, x, d["A"], d["B"]))
    return lambda: h(d["x"])


def _w4_symbolic(xp, md, inp):
    from matdiff import symbolic

    f = symbolic.derivative(W.W4_EXPR, wrt="x", order=2).function()
    d = _to(xp, inp)
    return lambda: f(x=d["x"], A=d["A"], B=d["B"])[1]


CASES = [
    Case("W2", "grad", W.W2.sizes[0], W.W2.quick_sizes[0], _w2_grad),
    Case("W3", "grad", W.W3.sizes[0], W.W3.quick_sizes[0], _w3_grad),
    Case("W5", "hvp", W.W5.sizes[0], W.W5.quick_sizes[0], _w5_hvp),
    Case("W4", "hessian", 500, W.W4.quick_sizes[0], _w4_hessian, symbolic=_w4_symbolic),
]

COLUMNS = ("matdiff", "symbolic", "jax")


# ---------------------------------------------------------------- the device


def find_device(module: str) -> tuple[object | None, str]:
    """The device array module, or None and why not."""
    if module == "numpy":
        return np, "NumPy standing in for CuPy (no GPU involved)"
    try:
        cupy = importlib.import_module("cupy")
    except Exception as e:  # any import failure means "no GPU check here"
        return None, f"CuPy is not importable ({type(e).__name__}: {e})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        return None, f"CuPy finds no CUDA device ({type(e).__name__}: {e})"
    if count < 1:
        return None, "CuPy finds no CUDA device"
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    return cupy, f"{name}, CuPy {cupy.__version__}"


def load_jax() -> fwmod.Framework:
    """JAX as the benchmarks load it (float64), or a Framework saying why not."""
    return fwmod.load(["jax-jit"])["jax-jit"]


def jax_device(jax: fwmod.Framework) -> str:
    if not jax.available:
        return "JAX not installed"
    dev = jax.module.devices()[0]
    where = "the same GPU" if dev.platform == "gpu" else f"{dev.platform}, not a GPU"
    return f"JAX {jax.module.__version__} on {getattr(dev, 'device_kind', dev)} ({where})"


def _sync(xp) -> Callable[[], None]:
    if xp is np:
        return lambda: None
    return lambda: xp.cuda.get_current_stream().synchronize()


def _host(xp, value):
    if isinstance(value, (tuple, list)):
        return [_host(xp, v) for v in value]
    if hasattr(xp, "asnumpy"):
        return xp.asnumpy(value)
    return np.asarray(value)


def _on_device(xp, value) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_on_device(xp, v) for v in value)
    return isinstance(value, xp.ndarray)


# ---------------------------------------------------------------- timing


def _time(fn, sync, min_time: float, rounds: int) -> float:
    """Median seconds per call over ``rounds`` rounds of at least ``min_time`` each."""
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    one = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(min_time / one))
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        samples.append((time.perf_counter() - t0) / number)
    return sorted(samples)[len(samples) // 2]


def _entry(build, check, sync, args, deadline) -> dict:
    """Build, run once, check, time: ``{"status", "seconds" | "note"}``."""
    if time.perf_counter() > deadline:
        return {"status": "skipped", "note": "out of time"}
    try:
        fn = build()
        out = fn()
        sync()
    except Exception as e:  # a library that cannot run the case is reported, not fatal
        return {"status": "error", "note": f"{type(e).__name__}: {e}"[:160]}
    bad = check(out)
    if bad:
        return {"status": "wrong", "note": bad}
    return {"status": "ok", "seconds": _time(fn, sync, args.min_time, args.rounds)}


def run_cases(xp, args, deadline: float) -> list[dict]:
    md = importlib.import_module("matdiff")
    jax = load_jax()
    rows = []
    for case in CASES:
        row = _run_case(case, xp, md, jax, args, deadline)
        rows.append(row)
        entries = {k: row[k] for k in COLUMNS if k in row}
        head = f"{case.workload} {case.task} [{row['size']}]"
        print(f"gpu_check: {head}: {_line(entries)}", flush=True)
    return rows


def _run_case(case: Case, xp, md, jax: fwmod.Framework, args, deadline: float) -> dict:
    wl = W.ALL[case.workload]
    task = next(t for t in wl.tasks if t.name == case.task)
    size = case.quick_size if args.quick else case.size
    inp = wl.inputs(size, np.random.default_rng(0))
    ref = task.reference(inp)
    sync = _sync(xp)

    def on_device(out):
        if not _on_device(xp, out):
            return f"returned {type(out).__name__}, not a device array"
        return _check(_host(xp, out), ref, task.rtol)

    entries = {
        "matdiff": _entry(lambda: case.matdiff(xp, md, inp), on_device, sync, args, deadline)
    }
    if case.symbolic is not None:
        build = lambda: case.symbolic(xp, md, inp)  # noqa: E731
        entries["symbolic"] = _entry(build, on_device, sync, args, deadline)
    if jax.available:
        builder = task.builders[case.jax]

        def build_jax():
            f = builder(jax.module, inp)
            # block_until_ready inside the timed call: JAX returns before it finishes
            return lambda: fwmod.block(f())

        def on_host(out):
            return _check(fwmod.to_numpy(out), ref, task.rtol)

        entries["jax"] = _entry(build_jax, on_host, lambda: None, args, deadline)
    else:
        entries["jax"] = {"status": "skipped", "note": jax.note.split(" (")[0]}
    label = "x".join(map(str, size)) if isinstance(size, tuple) else str(size)
    return {"workload": case.workload, "task": case.task, "size": label, **entries}


def _check(result, reference, rtol) -> str | None:
    """The benchmark harness's check: max error relative to the reference's scale."""
    from benchmarks.run import _check

    return _check(result, reference, rtol)


def _line(entries: dict) -> str:
    return ", ".join(f"{k} {_cell(v)}" for k, v in entries.items())


# ---------------------------------------------------------------- the table


def _cell(e: dict | None) -> str:
    if e is None:
        return "-"
    if e["status"] == "ok":
        return fmt_time(e["seconds"], "us")
    return f"{e['status']}: {e.get('note', '')}".replace("|", "/")


def _ratio(a: dict | None, b: dict | None) -> str:
    if a and b and a["status"] == b["status"] == "ok" and b["seconds"] > 0:
        return f"{a['seconds'] / b['seconds']:.2f}"
    return "-"


def table(rows: list[dict], device: str, jax: str, tests: str, names: dict) -> str:
    """The Markdown page: the device, the tests' result, one row per case."""
    md, sym, jx = (names[c] for c in COLUMNS)
    lines = [
        "# GPU check",
        "",
        f"Device: {device}; {jax}. Python {platform.python_version()}.",
        "",
        f"Tests marked `cupy`: {tests}",
        "",
        "Median seconds per call after a first (compiling) call; every result checked "
        "against the NumPy closed form. Ratio: matdiff's time over JAX's (below 1: matdiff "
        "is faster).",
        "",
        f"| workload | task | size | {md} | {sym} | {jx} | ratio {md} / {jx} |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['workload']} | {r['task']} | {r['size']} | {_cell(r.get('matdiff'))} | "
            f"{_cell(r.get('symbolic'))} | {_cell(r.get('jax'))} | "
            f"{_ratio(r.get('matdiff'), r.get('jax'))} |"
        )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the tests


def run_tests(timeout: float) -> str:
    """``pytest -m cupy``, summarised in one line."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "cupy", "-p", "no:cacheprovider"]
    try:
        done = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return f"did not finish within {timeout:.0f} s"
    if done.returncode == 5:
        return "none collected"
    tail = [ln for ln in done.stdout.strip().splitlines() if ln.strip()]
    summary = tail[-1].strip("= ") if tail else f"exit status {done.returncode}"
    return summary if done.returncode == 0 else f"FAILED ({summary})"


# ---------------------------------------------------------------- entry point


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__)
    p.add_argument("--out", default=str(ROOT / "docs" / "gpu_check.md"), help="Markdown file")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    p.add_argument("--skip-tests", action="store_true", help="time only; no pytest -m cupy")
    p.add_argument("--min-time", type=float, default=0.3, help="seconds per timing round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for the whole check")
    p.add_argument(
        "--device-module",
        default="cupy",
        choices=("cupy", "numpy"),
        help="numpy stands in for CuPy, to test the harness without a GPU",
    )
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    xp, device = find_device(args.device_module)
    if xp is None:
        print(f"gpu_check: skipped: {device}; nothing was written", flush=True)
        return 0
    print(f"gpu_check: {device}", flush=True)
    tests = "not run (--skip-tests)"
    if not args.skip_tests:
        tests = run_tests(min(TESTS_TIMEOUT_S, args.budget / 2))
        print(f"gpu_check: tests marked cupy: {tests}", flush=True)
    rows = run_cases(xp, args, deadline=start + args.budget)
    lib = "CuPy" if args.device_module == "cupy" else "NumPy"
    names = {"matdiff": f"matdiff ({lib})", "symbolic": f"symbolic ({lib})", "jax": "JAX jit"}
    out = Path(args.out)
    out.write_text(table(rows, device, jax_device(load_jax()), tests, names))
    print(f"gpu_check: wrote {out} in {time.perf_counter() - start:.0f} s", flush=True)
    return 1 if tests.startswith(("FAILED", "did not")) else 0


if __name__ == "__main__":
    sys.exit(main())
