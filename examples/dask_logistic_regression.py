"""L2-regularised logistic regression on a Dask cluster, fitted with matdiff's derivatives.

The design matrix is generated chunk by chunk on the workers and never held whole: at
``--w12`` size (20 million rows x 50, 8 GB) it is four times one worker's memory limit.
The loss is written once with ``matdiff.numpy``; ``grad`` and ``hvp`` of it are lazy Dask
arrays whose tasks join the same graph, computed on the cluster for each step of
``scipy.optimize.minimize`` (Newton-CG with Hessian-vector products).

    python examples/dask_logistic_regression.py                   # a LocalCluster of 2 workers
    python examples/dask_logistic_regression.py --scheduler tcp://host:8786   # a real one
    python examples/dask_logistic_regression.py --w12             # 20M x 50, chunks of 250k
"""

from __future__ import annotations

import argparse
import resource
import time

import dask
import dask.array as da
import numpy
import scipy.optimize
from distributed import Client, LocalCluster

import matdiff.numpy as np
from matdiff import hvp, value_and_grad


def design(rows: int, features: int, chunk_rows: int, seed: int = 0):
    """X (rows x features) and labels y, generated per chunk on the workers."""
    rng = da.random.default_rng(seed)
    X = rng.standard_normal((rows, features), chunks=(chunk_rows, features))
    w_true = numpy.linspace(-1.0, 1.0, features)
    noise = rng.logistic(size=(rows,), chunks=(chunk_rows,))
    y = (X @ w_true + noise > 0).astype(float)
    return X, y


def make_loss(X, y, lam: float):
    def loss(w):
        z = X @ w
        return np.sum(np.logaddexp(0.0, z) - y * z) / X.shape[0] + 0.5 * lam * np.sum(w * w)

    return loss


def hand_gradient(X, y, w, lam: float):
    """The gradient written by hand in Dask, to check matdiff's against."""
    p = 1.0 / (1.0 + da.exp(-(X @ w)))
    return X.T @ (p - y) / X.shape[0] + lam * w


def peak_worker_memory(client) -> dict:
    """Each worker process's peak resident memory so far, in bytes (Linux)."""
    return client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scheduler", help="address of a running Dask scheduler")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--chunk-rows", type=int, default=25_000)
    ap.add_argument("--memory-limit", default="1GiB", help="per worker of the LocalCluster")
    ap.add_argument("--w12", action="store_true", help="20M rows x 50, chunks of 250k, 2 GiB")
    ap.add_argument("--lam", type=float, default=1e-3)
    args = ap.parse_args(argv)
    if args.w12:
        args.rows, args.features, args.chunk_rows = 20_000_000, 50, 250_000
        args.memory_limit = "2GiB"

    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            memory_limit=args.memory_limit,
            dashboard_address=":0",
        )
        client = Client(cluster)

    X, y = design(args.rows, args.features, args.chunk_rows)
    loss = make_loss(X, y, args.lam)
    f_and_g = value_and_grad(loss)  # lazy: each call builds a graph, nothing runs yet

    def fun(w):
        f, g = f_and_g(w)
        f, g = dask.compute(f, g)  # one pass over the chunks for both
        return float(f), numpy.asarray(g)

    def hessp(w, v):
        return numpy.asarray(hvp(loss, w, v).compute())

    t = time.perf_counter()
    res = scipy.optimize.minimize(
        fun, numpy.zeros(args.features), jac=True, hessp=hessp, method="Newton-CG",
        options={"xtol": 1e-8},
    )  # fmt: skip
    elapsed = time.perf_counter() - t

    g_matdiff = f_and_g(res.x)[1].compute()
    g_hand = hand_gradient(X, y, res.x, args.lam).compute()
    numpy.testing.assert_allclose(g_matdiff, g_hand, rtol=1e-9, atol=1e-12)
    assert res.success and numpy.linalg.norm(g_matdiff) < 1e-5, res

    gb = X.nbytes / 2**30
    print(f"design matrix {X.shape} in chunks of {args.chunk_rows} rows: {gb:.2f} GiB")
    print(f"Newton-CG: {res.nit} iterations, {res.nfev} loss+gradient, {res.nhev} Hessian-")
    print(f"vector products in {elapsed:.1f} s; |grad| = {numpy.linalg.norm(g_matdiff):.2e}")
    print("matdiff's gradient matches the hand-written Dask gradient")
    if not args.scheduler:
        peaks = peak_worker_memory(client)
        limit = dask.utils.parse_bytes(args.memory_limit)
        peak = max(peaks.values())
        print(f"peak worker memory {peak / 2**20:.0f} MiB of a {limit / 2**20:.0f} MiB limit")
        assert peak < limit
    client.close()


if __name__ == "__main__":
    main()
