"""Where W1's per-operation cost goes: plain NumPy, traced forward pass, backward pass.

    PYTHONPATH=src python benchmarks/overhead.py

CPU time (``time.process_time``), best of 7, so a busy machine disturbs it less.
"""

from __future__ import annotations

import time

import numpy as onp

import matdiff.numpy as np
from matdiff import grad
from matdiff.core import ReverseTrace, backward_pass

STEPS = 100


def f(x):
    for _ in range(STEPS):
        x = np.sin(x) * 1.01 + 0.1
    return np.sum(x)


def main() -> None:
    x = onp.random.default_rng(0).standard_normal(8)

    def traced_forward():
        trace = ReverseTrace()
        out = f(trace.leaf(x))
        return trace, out

    def forward_and_backward():
        trace, out = traced_forward()
        backward_pass(trace, {out._node: 1.0})

    g = grad(f)
    cases = [
        ("plain NumPy", lambda: f(x)),
        ("traced forward", traced_forward),
        ("forward + backward", forward_and_backward),
        ("grad", lambda: g(x)),
    ]
    for name, fn in cases:
        best = float("inf")
        for _ in range(7):
            t0 = time.process_time()
            for _ in range(100):
                fn()
            best = min(best, (time.process_time() - t0) / 100)
        print(f"{name:20s} {best * 1e6:8.1f} us  {best * 1e6 / (3 * STEPS):.2f} us/op")


if __name__ == "__main__":
    main()
