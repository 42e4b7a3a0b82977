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

    hess = hessian(f)
    h_ad, h_closed = hess(x), closed(x)
    # Interleaved, best of `repeat`: the machine is shared, so noise only adds time.
    t_closed = t_ad = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        closed(x)
        t1 = time.perf_counter()
        hess(x)
        t2 = time.perf_counter()
        t_closed, t_ad = min(t_closed, t1 - t0), min(t_ad, t2 - t1)
    assert numpy.allclose(h_ad, h_closed, rtol=1e-9, atol=1e-9)
    print(
        f"n={n}: closed form {t_closed * 1e3:.1f} ms, matdiff.hessian {t_ad * 1e3:.1f} ms, "
        f"ratio {t_ad / t_closed:.2f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
