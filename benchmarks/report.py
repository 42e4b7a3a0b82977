"""The Markdown table and the plots, from the results of one run."""

from __future__ import annotations

from pathlib import Path

PEERS = ("autograd", "torch", "jax", "jax-jit")


def _fmt(t):
    if t is None:
        return "—"
    if t < 1e-3:
        return f"{t * 1e6:.1f} µs"
    if t < 1:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.2f} s"


def _cell(e):
    if e is None:
        return "—"
    if e["status"] != "ok":
        return e["status"]
    return _fmt(e["median_s"])


def _median(run, name):
    e = run["entries"].get(name)
    return e["median_s"] if e and e["status"] == "ok" else None


def write_markdown(results: dict, path: Path) -> None:
    m = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `python -m benchmarks` (see `benchmarks/`); every framework runs in the "
        "same process on the same float64 inputs from one seed, and every result is checked "
        "against a NumPy closed form before it is timed. Times are medians over rounds "
        "with the framework order rotated; `numpy` is the hand-written closed form. "
        "Compile time (first call minus steady state) is listed separately for jitted code.",
        "",
        "## Machine",
        "",
    ]
    a = results.get("args", {})
    opts = [f"--threads {a['threads']}"] if a.get("threads") else []
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
        cols = [f"{r['task']} [{r['size']}]" for r in w["runs"]]
        lines.append("| framework | " + " | ".join(cols) + " |")
        lines.append("|---|" + "---|" * len(cols))
        for n in names:
            cells = [_cell(r["entries"].get(n)) for r in w["runs"]]
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
        for num, den in w.get("ratios", []):
            parts = []
            for n in names:
                for rn in w["runs"]:
                    if rn["task"] != num:
                        continue
                    rd = next(
                        (r for r in w["runs"] if r["task"] == den and r["size"] == rn["size"]), None
                    )
                    a, b = _median(rn, n), _median(rd, n) if rd else None
                    if a and b:
                        parts.append(f"{n} {a / b:.2f}")
            if parts:
                lines += [f"Ratio {num}/{den}: " + ", ".join(parts) + ".", ""]
        rel = []
        for r in w["runs"]:
            md = _median(r, "matdiff")
            for peer in PEERS:
                t = _median(r, peer)
                if md and t:
                    rel.append(f"{r['task']} [{r['size']}] vs {peer} {md / t:.2f}")
            mj, jj = _median(r, "matdiff-jit"), _median(r, "jax-jit")
            if mj and jj:
                rel.append(f"{r['task']} [{r['size']}] matdiff-jit vs jax-jit {mj / jj:.2f}")
            sy, cf = _median(r, "symbolic"), _median(r, "numpy")
            if sy and cf:
                rel.append(f"{r['task']} [{r['size']}] symbolic vs closed form {sy / cf:.2f}")
            mh = _median(r, "matdiff")
            if mh and cf:
                rel.append(f"{r['task']} [{r['size']}] matdiff vs closed form {mh / cf:.2f}")
        if rel:
            lines += ["Ratios matdiff/peer (below 1 is faster): " + "; ".join(rel) + ".", ""]
        compiles = [
            f"{n} {r['task']} [{r['size']}] {_fmt(e['compile_s'])}"
            for r in w["runs"]
            for n, e in r["entries"].items()
            if e["status"] == "ok" and n.endswith("jit")
        ]
        if compiles:
            lines += ["Compile time (first call): " + "; ".join(compiles) + ".", ""]
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
