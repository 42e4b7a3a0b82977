"""The Markdown table and the plots, from the results of one run."""

from __future__ import annotations

import math
from pathlib import Path

PEERS = ("autograd", "torch", "jax", "jax-jit")
# CPU seconds per wall second may exceed a whole number of cores by this much before the
# case counts as using one more (clock granularity, the harness's own threads).
SLACK = 1.1
OVER = "†"
CORES_DIFFER = "n/a (cores differ)"

PINNING = (
    "`--threads N` pins the whole process to N CPUs with `os.sched_setaffinity` before NumPy, "
    "JAX or torch is imported (`--cpus` picks which), sets the thread variables "
    "(`OMP_NUM_THREADS`, `OPENBLAS_NUM_THREADS`, `MKL_NUM_THREADS` and the like) to N, and "
    "calls torch's `set_num_threads(N)` and `set_num_interop_threads(N)`. The thread variables "
    "alone do not hold every framework to N cores: XLA, behind `jax.jit`, keeps its own thread "
    "pool, and torch runs work outside the pool that `set_num_threads` sizes. A thread inherits "
    "the CPU mask of the thread that starts it, so pinning first holds every pool any "
    "framework starts later."
)
CPU_WALL = (
    "The CPU/wall column is the process's CPU seconds (every thread, `time.process_time`) per "
    "wall second over the timed calls: 1.0 is one core kept busy, 2.0 two. Below 1 the "
    "process waited, for memory or for a busy machine; a busy machine also hides threads that "
    "wait for a core, so it is the pinning that holds a case to N cores and the column that "
    "shows where it did not. A case above "
    f"{SLACK} × N is marked {OVER}: it used more cores than the run allowed. A case's core "
    f"count is the smallest whole k with CPU/wall ≤ {SLACK} × k, and a ratio between two "
    f'cases whose core counts differ is printed as "{CORES_DIFFER}": it would compare '
    "different machines."
)


def cores(e) -> int | None:
    """The whole number of cores a measurement kept busy; None where it was not recorded.

    >>> cores({"cpu_per_wall": 0.97}), cores({"cpu_per_wall": 1.4}), cores({})
    (1, 2, None)
    """
    c = e.get("cpu_per_wall") if e else None
    if c is None:
        return None
    return max(1, math.ceil(c / SLACK - 1e-9))


def over_limit(e, threads) -> bool:
    """Whether a measurement kept more than ``SLACK`` × ``threads`` cores busy.

    >>> over_limit({"cpu_per_wall": 1.96}, 1), over_limit({"cpu_per_wall": 1.05}, 1)
    (True, False)
    """
    c = e.get("cpu_per_wall") if e else None
    return c is not None and threads is not None and c > SLACK * threads


def ratio(a, b) -> str | None:
    """``a``'s time over ``b``'s, or the refusal when their core counts differ.

    None when either has no time. A ratio is printed where core use was not recorded (runs
    before it was), since there is nothing to refuse it on.

    >>> ratio({"status": "ok", "median_s": 2.0, "cpu_per_wall": 1.0},
    ...       {"status": "ok", "median_s": 1.0, "cpu_per_wall": 1.9})
    'n/a (cores differ)'
    >>> ratio({"status": "ok", "median_s": 2.0}, {"status": "ok", "median_s": 1.0})
    '2.00'
    """
    ta, tb = _time(a), _time(b)
    if not ta or not tb:
        return None
    ca, cb = cores(a), cores(b)
    if ca is not None and cb is not None and ca != cb:
        return CORES_DIFFER
    return f"{ta / tb:.2f}"


def _time(e):
    return e["median_s"] if e and e.get("status") == "ok" else None


def fmt_time(t, micro: str = "µs") -> str:
    """Seconds as µs, ms or s (``micro`` spells microseconds; the console's is ``us``).

    >>> fmt_time(2.5e-5), fmt_time(0.0125, "us"), fmt_time(3.0), fmt_time(None)
    ('25.0 µs', '12.50 ms', '3.00 s', '—')
    """
    if t is None:
        return "—"
    if t < 1e-3:
        return f"{t * 1e6:.1f} {micro}"
    if t < 1:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.2f} s"


def _bytes(b):
    """``b`` bytes, in KiB below a MiB.

    >>> _bytes(3 * 2**20), _bytes(1536)
    ('3.0 MiB', '1.5 KiB')
    """
    return f"{b / 2**20:.1f} MiB" if b >= 2**20 else f"{b / 2**10:.1f} KiB"


def _cell(e):
    if e is None:
        return "—"
    if e["status"] != "ok":
        return e["status"]
    return fmt_time(e["median_s"])


def _cpu_cell(e, threads):
    if e is None or e["status"] != "ok" or e.get("cpu_per_wall") is None:
        return "—"
    return f"{e['cpu_per_wall']:.2f}" + (OVER if over_limit(e, threads) else "")


def _median(run, name):
    e = run["entries"].get(name)
    return e["median_s"] if e and e["status"] == "ok" else None


def _run_note(m: dict) -> str:
    """How this run was held, in words, from its machine info."""
    if "affinity" not in m:
        return (
            "This run recorded neither its CPU mask nor its core use: it predates pinning, so "
            "its `--threads` set thread variables only, and its ratios against `jax-jit` and "
            "`torch` may compare one core against several."
        )
    cpus = ", ".join(map(str, m["affinity"]))
    if not m.get("pinned"):
        return (
            f"This run was not pinned: N = {m['threads']}, every CPU the process could use "
            f"({cpus})."
        )
    late = m.get("loaded_before_pinning")
    plural = "s" if len(m["affinity"]) > 1 else ""
    note = f"This run was pinned to CPU{plural} {cpus} (N = {m['threads']})."
    if late:
        note += (
            f" It was pinned after {', '.join(late)} loaded, so pools those started at import "
            "kept their size."
        )
    return note + _blas_note(m)


def _blas_note(m: dict) -> str:
    """Which OpenBLAS kernel NumPy ran: matrix products are the bulk of several cases, and
    XLA and torch pick their own kernels."""
    pools = m.get("threadpools")
    arch = sorted(
        {p["architecture"] for p in pools if p.get("internal_api") == "openblas"}
        if isinstance(pools, list)
        else set()
    )
    if not arch:
        return ""
    kernels = ", ".join(str(a) for a in arch)
    if "OPENBLAS_CORETYPE" in m:
        return (
            f" NumPy's OpenBLAS ran its {kernels} kernels, chosen by `OPENBLAS_CORETYPE` "
            "(set on some machines because older OpenBLAS builds fail on their processor), "
            "while XLA and torch chose their own: matrix-product-bound cases compare unequal "
            "kernels. `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE` lets OpenBLAS choose."
        )
    return f" NumPy's OpenBLAS chose its own kernels: {kernels}."


def write_markdown(results: dict, path: Path) -> None:
    m = results["machine"]
    threads = m.get("threads")
    # A run from before core use was recorded gets no column of blanks.
    recorded = any(
        "cpu_per_wall" in e
        for w in results["workloads"].values()
        for r in w["runs"]
        for e in r["entries"].values()
    )
    lines = [
        "# Benchmarks",
        "",
        "Written by `python -m benchmarks` (see `benchmarks/`); every framework runs in the "
        "same process on the same float64 inputs from one seed, and every result is checked "
        "against a NumPy closed form before it is timed. Times are medians over rounds "
        "with the framework order rotated; `numpy` is the hand-written closed form. "
        "Compile time (first call minus steady state) is listed separately for jitted code.",
        "",
        "## Cores",
        "",
        PINNING,
        "",
        CPU_WALL,
        "",
        _run_note(m),
        "",
        "## Machine",
        "",
    ]
    a = results.get("args", {})
    opts = [f"--threads {a['threads']}"] if a.get("threads") else []
    if a.get("cpus"):
        opts.append("--cpus " + ",".join(map(str, a["cpus"])))
    if a.get("quick"):
        opts.append("--quick")
    lines.append(f"- command: `{' '.join(['python -m benchmarks', *opts])}`")
    lines.append(f"- rounds: {a.get('rounds')}, seconds per measurement: {a.get('min_time')}")
    for k, v in m.items():
        lines.append(f"- {k}: {v}")
    lines.append("")
    notes = []
    for key, w in results["workloads"].items():
        lines += [f"## {key}: {w['title']}", ""]
        names = []
        for run in w["runs"]:
            for n in run["entries"]:
                if n not in names:
                    names.append(n)
        cols = [
            f"{r['task']} [{r['size']}]" + (" | CPU/wall" if recorded else "") for r in w["runs"]
        ]
        lines.append("| framework | " + " | ".join(cols) + " |")
        lines.append("|---|" + ("---|---:|" if recorded else "---|") * len(cols))
        for n in names:
            cells = [
                _cell(r["entries"].get(n))
                + (f" | {_cpu_cell(r['entries'].get(n), threads)}" if recorded else "")
                for r in w["runs"]
            ]
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
            for r in w["runs"]:
                e = r["entries"].get(n)
                if e and e["status"] in ("error", "wrong"):
                    notes.append(f"{key} {r['task']} [{r['size']}] {n}: {e['status']}: {e['note']}")
        lines.append("")
        if w.get("ops_per_call"):
            k = w["ops_per_call"]
            per = []
            for r in w["runs"]:
                for n in names:
                    t = _median(r, n)
                    if t is not None:
                        per.append(f"{n} {r['task']}: {t / k * 1e6:.2f} µs")
            lines += [f"Per elementwise operation ({k} per call): " + "; ".join(per) + ".", ""]
        refused = False
        for num, den in w.get("ratios", []):
            parts = []
            for n in names:
                for rn in w["runs"]:
                    if rn["task"] != num:
                        continue
                    rd = next(
                        (r for r in w["runs"] if r["task"] == den and r["size"] == rn["size"]), None
                    )
                    q = ratio(rn["entries"].get(n), rd["entries"].get(n) if rd else None)
                    if q:
                        parts.append(f"{n} {q}")
                        refused |= q == CORES_DIFFER
            if parts:
                lines += [f"Ratio {num}/{den}: " + ", ".join(parts) + ".", ""]
        peaks = [
            f"{n} {r['task']} [{r['size']}] {_bytes(e['peak_bytes'])}"
            for r in w["runs"]
            for n, e in r["entries"].items()
            if "peak_bytes" in e
        ]
        if peaks:
            lines += [
                "Peak memory of one call (tracemalloc: NumPy's and Python's allocations, so "
                "NumPy-based frameworks only): " + "; ".join(peaks) + ".",
                "",
            ]
        rel = []
        for r in w["runs"]:
            e = r["entries"]
            case = f"{r['task']} [{r['size']}]"
            for peer in PEERS:
                q = ratio(e.get("matdiff"), e.get(peer))
                if q:
                    rel.append(f"{case} vs {peer} {q}")
            q = ratio(e.get("matdiff-jit"), e.get("jax-jit"))
            if q:
                rel.append(f"{case} matdiff-jit vs jax-jit {q}")
            q = ratio(e.get("symbolic"), e.get("numpy"))
            if q:
                rel.append(f"{case} symbolic vs closed form {q}")
            q = ratio(e.get("matdiff"), e.get("numpy"))
            if q:
                rel.append(f"{case} matdiff vs closed form {q}")
        if rel:
            lines += ["Ratios matdiff/peer (below 1 is faster): " + "; ".join(rel) + ".", ""]
            refused |= any(x.endswith(CORES_DIFFER) for x in rel)
        compiles = [
            f"{n} {r['task']} [{r['size']}] {fmt_time(e['compile_s'])}"
            for r in w["runs"]
            for n, e in r["entries"].items()
            if e["status"] == "ok" and n.endswith("jit")
        ]
        if compiles:
            lines += ["Compile time (first call): " + "; ".join(compiles) + ".", ""]
        if w.get("first_call"):
            firsts = [
                f"{n} {r['task']} [{r['size']}] {fmt_time(e['first_call_s'])}"
                for r in w["runs"]
                for n, e in r["entries"].items()
                if e["status"] == "ok"
            ]
            if firsts:
                lines += ["First call, everything included: " + "; ".join(firsts) + ".", ""]
        if w.get("notes"):
            lines += [w["notes"], ""]
        over = [
            f"{n} {r['task']} [{r['size']}] {e['cpu_per_wall']:.2f}"
            for r in w["runs"]
            for n, e in r["entries"].items()
            if e["status"] == "ok" and over_limit(e, threads)
        ]
        if over:
            lines += [
                f"{OVER} Above {SLACK} × {threads} CPU seconds per wall second, more cores "
                "than the run allowed: " + "; ".join(over) + ".",
                "",
            ]
        if refused:
            lines += [
                f"{CORES_DIFFER}: the two cases kept different numbers of cores busy (see "
                "CPU/wall), so their ratio would not compare like with like.",
                "",
            ]
    if notes:
        lines += ["## Errors and wrong results", ""] + [f"- {n}" for n in notes] + [""]
    path.write_text("\n".join(lines))


def write_plots(results: dict, out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib not installed; no plots written")
        return
    w1 = results["workloads"].get("W1")
    if w1:
        k = w1["ops_per_call"]
        labels, vals = [], []
        for r in w1["runs"]:
            if r["task"] != "grad":
                continue
            for n, e in r["entries"].items():
                if e["status"] == "ok":
                    labels.append(n)
                    vals.append(e["median_s"] / k * 1e6)
        if vals:
            fig, ax = plt.subplots(figsize=(6, 3.2))
            ax.barh(labels, vals, color="#4c72b0")
            ax.set_xlabel("µs per elementwise operation (gradient, W1)")
            ax.set_xscale("log")
            for i, v in enumerate(vals):
                ax.text(v, i, f" {v:.2f}", va="center", fontsize=8)
            fig.tight_layout()
            fig.savefig(out / "bench_overhead.png", dpi=120)
            plt.close(fig)
    w4 = results["workloads"].get("W4")
    if w4:
        series: dict[str, list] = {}
        for r in w4["runs"]:
            for n, e in r["entries"].items():
                if e["status"] == "ok":
                    series.setdefault(n, []).append((int(r["size"]), e["median_s"]))
        if series:
            fig, ax = plt.subplots(figsize=(6, 4))
            for n, pts in sorted(series.items()):
                pts.sort()
                label = "closed form (NumPy)" if n == "numpy" else n
                ax.loglog([p[0] for p in pts], [p[1] for p in pts], "o-", label=label)
            ax.set_xlabel("n")
            ax.set_ylabel("seconds per dense Hessian (W4)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
            fig.tight_layout()
            fig.savefig(out / "bench_hessian.png", dpi=120)
            plt.close(fig)
