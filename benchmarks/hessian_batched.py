"""Dense Hessian by batched forward-over-reverse against its closed form.

f(x) = x @ A @ x + sum(log(1 + exp(B @ x))), A n x n, B 2n x n;
H = A + A.T + B.T @ diag(s * (1 - s)) @ B with s = sigmoid(B @ x).

    PYTHONPATH=src python benchmarks/hessian_batched.py [n]
"""

import sys
import time

import numpy

import matdiff.numpy as np
from matdiff import hessian


def main(n: int = 500, repeat: int = 30) -> None:
    rng = numpy.random.default_rng(0)
    A = rng.standard_normal((n, n))
    B = rng.standard_normal((2 * n, n)) / numpy.sqrt(n)
    x = rng.standard_normal(n)

    def f(x):
        return x @ A @ x + np.sum(np.log(1 + np.exp(B @ x)))

    def closed(x):
        s = 1 / (1 + numpy.exp(-(B @ x)))
        return A + A.T + B.T @ ((s * (1 - s))[:, None] * B)

    variants = {
        "closed form": closed,
        "matdiff.hessian": hessian(f),
        "matdiff.hessian(chunk_size=n)": hessian(f, chunk_size=n),
    }
    h_closed = closed(x)
    for name, fn in variants.items():
        assert numpy.allclose(fn(x), h_closed, rtol=1e-9, atol=1e-9), name
    # Interleaved, best of `repeat`: the machine is shared, so noise only adds time.
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(repeat):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn(x)
            best[name] = min(best[name], time.perf_counter() - t0)
    base = best["closed form"]
    for name, t in best.items():
        print(f"n={n} {name:32s} {t * 1e3:8.1f} ms  {t / base:5.2f} x closed form")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
