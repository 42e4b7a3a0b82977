"""Run the workloads for every framework in one process and write the table, JSON and plots.

python -m benchmarks                      # everything, writes docs/benchmarks.md
python -m benchmarks --quick --out /tmp/b # smoke run on tiny sizes
python -m benchmarks -w W1,W4 -f matdiff,autograd,jax-jit --sizes W4=100,500
python -m benchmarks --threads 1          # pinned to one CPU, as docs/benchmarks.md is run

--threads pins the whole process (see benchmarks/pinning.py); each case's CPU seconds per wall
second show how many cores it kept busy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import pinning  # noqa: E402

if __name__ == "__main__":
    # Before NumPy below: OpenBLAS starts its pool at import, and threads keep the mask they
    # were started with (`python -m benchmarks` pins in benchmarks/__main__.py instead).
    pinning.pin_from_argv(sys.argv[1:])

import numpy as np  # noqa: E402

from benchmarks import frameworks as fwmod  # noqa: E402
from benchmarks.report import fmt_time  # noqa: E402
from benchmarks.workloads import ALL as WORKLOADS  # noqa: E402
from benchmarks.workloads import Skip  # noqa: E402
from matdiff.progress import progress_bar  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[pinning.arguments()],
    )
    p.add_argument(
        "-w",
        "--workloads",
        default=",".join(WORKLOADS),
        help="comma-separated workload keys (default: all)",
    )
    p.add_argument(
        "-f",
        "--frameworks",
        default=",".join(fwmod.ALL),
        help=f"comma-separated, from {','.join(fwmod.ALL)}",
    )
    p.add_argument(
        "--sizes", action="append", default=[], help="override sizes, e.g. W4=100,500 (repeatable)"
    )
    p.add_argument("--rounds", type=int, default=3, help="rounds, framework order rotated")
    p.add_argument("--min-time", type=float, default=0.5, help="seconds per measurement")
    p.add_argument("--quick", action="store_true", help="tiny sizes, short measurements")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "docs"), help="folder for the table and plots")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument(
        "--progress", action="store_true", help="show a progress bar over the cases (tqdm)"
    )
    args = p.parse_args(argv)
    if args.quick:
        args.min_time = min(args.min_time, 0.01)
        args.rounds = min(args.rounds, 2)
    return args


def _sizes(workload, args):
    for spec in args.sizes:
        key, _, vals = spec.partition("=")
        if key == workload.key:
            return [_parse_size(v) for v in vals.split(",")]
    return workload.quick_sizes if args.quick else workload.sizes


def _parse_size(v: str):
    parts = v.split("x")
    return int(parts[0]) if len(parts) == 1 else tuple(int(p) for p in parts)


def _check(result, reference, rtol) -> str | None:
    if _issparse(result) or _issparse(reference):
        return _check_sparse(result, reference, rtol)
    r = fwmod.to_numpy(result)
    ref_leaves = reference if isinstance(reference, (tuple, list)) else [reference]
    r_leaves = r if isinstance(r, (tuple, list)) else [r]
    if len(ref_leaves) != len(r_leaves):
        return f"returned {len(r_leaves)} arrays, expected {len(ref_leaves)}"
    for a, b in zip(r_leaves, ref_leaves):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if a.shape != b.shape:
            return f"shape {a.shape}, expected {b.shape}"
        scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
        err = float(np.max(np.abs(a - b))) / scale if b.size else 0.0
        if not np.isfinite(err) or err > rtol * 10 + 1e-9:
            return f"max relative error {err:.2e}"
    return None


def _issparse(x) -> bool:
    return type(x).__module__.startswith("scipy.sparse")


def _check_sparse(result, reference, rtol) -> str | None:
    """``_check`` for a sparse result or reference, without forming a dense n x n array
    unless the other side is dense already."""
    import scipy.sparse as sp

    a = result if _issparse(result) else fwmod.to_numpy(result)
    b = reference if _issparse(reference) else np.asarray(reference)
    if a.shape != b.shape:
        return f"shape {a.shape}, expected {b.shape}"
    if not _issparse(a):
        b = b.toarray()
    elif not _issparse(b):
        a = a.toarray()
    diff = abs(sp.csr_array(a) - sp.csr_array(b)) if _issparse(a) else np.abs(a - b)
    err = float(diff.max()) if np.prod(a.shape) else 0.0
    scale = max(1.0, float(abs(b).max())) if np.prod(b.shape) else 1.0
    if not np.isfinite(err) or err / scale > rtol * 10 + 1e-9:
        return f"max relative error {err / scale:.2e}"
    return None


def _measure(fn, min_time: float) -> tuple[float, int, float, float]:
    """Seconds per call, calls timed, and the wall and CPU seconds of the timed loop.

    CPU time is the whole process's, every thread of it, so CPU over wall is the number of
    cores the case kept busy.
    """
    t0 = time.perf_counter()
    fwmod.block(fn())
    one = time.perf_counter() - t0
    number = max(1, int(min_time / max(one, 1e-7)))
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(number):
        fwmod.block(fn())
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall / number, number, wall, cpu


def run(args) -> dict:
    keys = [k.strip() for k in args.workloads.split(",") if k.strip()]
    for k in keys:
        if k not in WORKLOADS:
            raise SystemExit(f"benchmarks: unknown workload {k!r}; choose from {list(WORKLOADS)}")
    try:
        pinned = pinning.pin_from_args(args)
    except ValueError as e:
        raise SystemExit(f"benchmarks: {e}") from None
    if pinned and pinned["loaded_before_pinning"]:
        print(
            "note: pinned after "
            + ", ".join(pinned["loaded_before_pinning"])
            + " loaded; pools they started keep their size",
            flush=True,
        )
    if pinned:
        _limit_threadpools(pinned["threads"])
    fws = fwmod.load([f.strip() for f in args.frameworks.split(",") if f.strip()])
    torch_threads = None
    if pinned and "torch" in fws and fws["torch"].available:
        torch_threads = _limit_torch(fws["torch"].module, pinned["threads"])
    for fw in fws.values():
        if not fw.available:
            print(f"note: skipping {fw.name}: {fw.note}", flush=True)
    machine = machine_info(fws, pinned, torch_threads)
    results = {"machine": machine, "args": vars(args), "workloads": {}}
    cases = sum(len(_sizes(WORKLOADS[k], args)) * len(WORKLOADS[k].tasks) for k in keys)
    bar = progress_bar(cases, "benchmarks", getattr(args, "progress", False), "benchmarks")
    for key in keys:
        wl = WORKLOADS[key]
        wres = {
            "title": wl.title,
            "ops_per_call": wl.ops_per_call,
            "ratios": wl.ratios,
            "notes": wl.notes,
            "first_call": wl.first_call,
            "runs": [],
        }
        for size in _sizes(wl, args):
            inp = wl.inputs(size, np.random.default_rng(args.seed))
            for task in wl.tasks:
                wres["runs"].append(_run_task(wl, task, size, inp, fws, args))
                bar.update(1)
        results["workloads"][key] = wres
    bar.close()
    return results


_LIMITS = []


def _limit_threadpools(n: int) -> None:
    """Size BLAS and OpenMP pools already loaded to the pinned CPUs, so none oversubscribes."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return  # the thread variables and the affinity mask hold them without it
    _LIMITS.append(threadpool_limits(limits=n))


def _limit_torch(torch, n: int) -> dict:
    """torch sizes its pools from its own calls; the inter-op one only before its first use."""
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:
        pass  # already started; the affinity mask still holds it to the pinned CPUs
    return {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()}


def _run_task(wl, task, size, inp, fws, args) -> dict:
    ref = task.reference(inp)
    entries = {}
    fns = {}
    for name, fw in fws.items():
        builder = task.builders.get(name)
        if builder is None:
            continue
        if not fw.available:
            entries[name] = {"status": "skipped", "note": fw.note}
            continue
        try:
            fn = builder(fw.module, inp)
            t0 = time.perf_counter()
            out = fwmod.block(fn())
            first = time.perf_counter() - t0
        except Skip as e:
            entries[name] = {"status": "skipped", "note": str(e)}
            continue
        except Exception as e:  # a framework that cannot run this workload is reported
            entries[name] = {"status": "error", "note": f"{type(e).__name__}: {e}"[:200]}
            continue
        bad = _check(out, ref, task.rtol)
        if bad:
            entries[name] = {"status": "wrong", "note": bad}
            continue
        entries[name] = {"status": "ok", "first_call_s": first, "samples": []}
        fns[name] = fn
    order = list(fns)
    slow = any(entries[n]["first_call_s"] > 5 for n in order)
    rounds = 1 if slow else args.rounds
    spent = {name: [0.0, 0.0] for name in order}
    for r in range(rounds):
        rot = order[r % len(order) :] + order[: r % len(order)] if order else []
        for name in rot:
            t, number, wall, cpu = _measure(fns[name], args.min_time)
            e = entries[name]
            e["samples"].append(t)
            e["number"] = number
            e.setdefault("cpu_per_wall_samples", []).append(cpu / wall if wall > 0 else 0.0)
            spent[name][0] += wall
            spent[name][1] += cpu
    for name in order:
        e = entries[name]
        if wl.peak_memory and name in MEMORY_TRACED:
            e["peak_bytes"] = _peak_bytes(fns[name])
        e["median_s"] = statistics.median(e["samples"])
        e["compile_s"] = max(0.0, e["first_call_s"] - e["median_s"])
        wall, cpu = spent[name]
        e["cpu_per_wall"] = cpu / wall if wall > 0 else 0.0
    label = "x".join(map(str, size)) if isinstance(size, tuple) else str(size)
    line = ", ".join(
        f"{n} {fmt_time(e['median_s'], 'us')} (CPU/wall {e['cpu_per_wall']:.2f})"
        if e["status"] == "ok"
        else f"{n} {e['status']}"
        for n, e in entries.items()
    )
    print(f"{wl.key} {task.name} [{label}]: {line}", flush=True)
    return {"task": task.name, "size": label, "entries": entries}


# Frameworks whose arrays tracemalloc sees: NumPy reports its allocations to it.
MEMORY_TRACED = ("numpy", "matdiff", "matdiff-jit", "symbolic", "autograd")


def _peak_bytes(fn) -> int:
    """The most memory one call holds at once beyond what was held before it, by tracemalloc
    (an untimed call: tracing slows every allocation)."""
    tracemalloc.start()
    try:
        fwmod.block(fn())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def machine_info(fws, pinned: dict | None = None, torch_threads: dict | None = None) -> dict:
    """The machine, the versions, and the CPUs the run may use.

    ``threads`` is N, the cores each case may keep busy: the pinned count, or every CPU the
    process may use when the run is not pinned.
    """
    affinity = pinning.allowed_cpus()
    info = {
        "threads": pinned["threads"] if pinned else len(affinity),
        "pinned": bool(pinned and pinned["pinned"]),
        "affinity": affinity,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    for name, fw in fws.items():
        if fw.available and hasattr(fw.module, "__version__"):
            info[name.split("-")[0]] = fw.module.__version__
    try:
        import scipy

        info["scipy"] = scipy.__version__
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: p.get(k) for k in ("internal_api", "num_threads", "version", "architecture")}
            for p in threadpool_info()
        ]
    except ImportError:
        info["threadpools"] = "threadpoolctl not installed"
    if pinned and pinned["loaded_before_pinning"]:
        info["loaded_before_pinning"] = pinned["loaded_before_pinning"]
    if pinned and pinned["threads_not_pinned"]:
        info["threads_not_pinned"] = pinned["threads_not_pinned"]
    if torch_threads:
        info["torch_threads"] = torch_threads
    for var in (*pinning.THREAD_VARS, "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "XLA_FLAGS"):
        if var in os.environ:
            info[var] = os.environ[var]
    return info


def main(argv=None) -> int:
    args = parse_args(argv)
    results = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from benchmarks.report import write_markdown, write_plots

    (out / "benchmarks.json").write_text(json.dumps(results, indent=1, default=str))
    write_markdown(results, out / "benchmarks.md")
    if not args.no_plots:
        write_plots(results, out)
    print(f"wrote {out / 'benchmarks.md'} and {out / 'benchmarks.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
