"""W12: the logistic-regression gradient and an HVP on a Dask array, on a LocalCluster.

matdiff's ``grad`` of the loss written with ``matdiff.numpy`` against the gradient written
by hand in Dask (``X.T @ (sigmoid(X @ w) - y)``), on the same chunks and the same cluster
of 2 single-threaded workers; the design matrix is generated per chunk on the workers
(never held whole). Reports the best of ``--repeat`` computes of each, the HVP's time, and
each worker's peak resident memory against one chunk's size.

    python -m benchmarks.dask_w12                       # 2M x 50, chunks of 250k (quick)
    python -m benchmarks.dask_w12 --rows 20000000       # the W12 size
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import time

import dask.array as da
import numpy
from distributed import Client, LocalCluster

import matdiff.numpy as np
from matdiff import grad, hvp


def _peak(client) -> dict:
    return client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def _best(client, make, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        client.compute(make()).result()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--chunk-rows", type=int, default=250_000)
    ap.add_argument("--memory-limit", default="2GiB")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default="w12_out")
    args = ap.parse_args(argv)

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, memory_limit=args.memory_limit, dashboard_address=":0"
    )
    client = Client(cluster)
    n, p, c = args.rows, args.features, args.chunk_rows
    rng = da.random.default_rng(0)
    X = rng.standard_normal((n, p), chunks=(c, p))
    y = (X @ numpy.linspace(-1.0, 1.0, p) > 0).astype(float)
    w = numpy.full(p, 0.01)
    v = numpy.ones(p)

    def loss(w):
        z = X @ w
        return np.sum(np.logaddexp(0.0, z) - y * z)

    def hand():
        return X.T @ (1.0 / (1.0 + da.exp(-(X @ w))) - y)

    numpy.testing.assert_allclose(
        *client.compute([grad(loss)(w), hand()], sync=True), rtol=1e-9
    )  # fmt: skip
    t_matdiff = _best(client, lambda: grad(loss)(w), args.repeat)
    t_hand = _best(client, hand, args.repeat)
    t_hvp = _best(client, lambda: hvp(loss, w, v), args.repeat)
    peak = max(_peak(client).values())
    chunk = c * p * 8
    client.close()
    cluster.close()

    res = {
        "rows": n, "features": p, "chunk_rows": c, "memory_limit": args.memory_limit,
        "matdiff_grad_s": t_matdiff, "hand_grad_s": t_hand, "ratio": t_matdiff / t_hand,
        "hvp_s": t_hvp, "peak_worker_bytes": peak, "chunk_bytes": chunk,
        "peak_over_chunk": peak / chunk,
    }  # fmt: skip
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "w12.json").write_text(json.dumps(res, indent=2))
    md = (
        f"| W12 ({n} x {p}, chunks of {c} rows, 2 workers x 1 thread, {args.memory_limit}) | "
        "seconds |\n|---|---|\n"
        f"| matdiff grad | {t_matdiff:.2f} |\n| hand-written Dask gradient | {t_hand:.2f} |\n"
        f"| ratio | {t_matdiff / t_hand:.2f} |\n| matdiff hvp | {t_hvp:.2f} |\n\n"
        f"Peak worker memory {peak / 2**20:.0f} MiB = {peak / chunk:.1f} x one chunk "
        f"({chunk / 2**20:.0f} MiB).\n"
    )
    (out / "w12.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
