"""jacfwd through FFTs: the batch rules against the per-direction loop.

f(x) = irfft(rfft(sin x) * rfft(x)), a circular convolution of sin x with x, n = 256.
Without a batch rule, each transform runs once per basis direction; with one, once per
pass. The Jacobian is checked against reverse mode.

    PYTHONPATH=src python benchmarks/fft_batched.py [--no-batch-rule] [n]
"""

import sys
import time

import numpy

import matdiff.numpy as np
from matdiff import batching, jacfwd, jacobian


def f(x):
    return np.fft.irfft(np.fft.rfft(np.sin(x)) * np.fft.rfft(x), n=x.shape[0])


def main(n: int = 256, repeat: int = 10) -> None:
    x = numpy.random.default_rng(0).standard_normal(n)
    J = jacfwd(f)
    numpy.testing.assert_allclose(J(x), jacobian(f)(x), atol=1e-10)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        J(x)
        times.append(time.perf_counter() - t0)
    print(f"jacfwd of irfft(rfft(sin x) * rfft(x)), n={n}: best {min(times) * 1e3:.2f} ms")


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--no-batch-rule" in args:
        args.remove("--no-batch-rule")
        for prim in np.fft.TRAILING_AXES_LINEAR:
            batching.register_batch_rule(prim, None)
    main(*(int(a) for a in args))
