"""Logistic regression by Newton-CG, using Hessian-vector products only.

The loss is the mean negative log-likelihood plus an L2 penalty, written with
``matdiff.numpy`` and ``matdiff.scipy.special.log_expit`` (finite for any margin).
``matdiff.scipy.optimize.minimize`` hands SciPy the gradient and Hessian-vector
products computed forward-over-reverse; the d x d Hessian is never formed. The
parameters are a pytree ``{"w": vector, "b": scalar}``.

Run: ``python examples/newton_cg_logistic.py``
"""

from __future__ import annotations

import time

import numpy as onp

import matdiff.numpy as np
from matdiff.scipy.optimize import minimize
from matdiff.scipy.special import expit, log_expit


def make_data(n: int = 5000, d: int = 50, seed: int = 0):
    rng = onp.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d) / onp.sqrt(d) * 3.0
    y = onp.where(rng.uniform(size=n) < expit(X @ w_true + 0.5), 1.0, -1.0)
    return X, y, w_true


def loss(params, X, y, lam):
    margins = y * (X @ params["w"] + params["b"])
    return -np.mean(log_expit(margins)) + 0.5 * lam * np.sum(params["w"] ** 2)


def fit(X, y, lam: float = 1e-3):
    d = X.shape[1]
    x0 = {"w": onp.zeros(d), "b": 0.0}
    return minimize(loss, x0, args=(X, y, lam), method="Newton-CG", options={"xtol": 1e-10})


def main() -> dict:
    X, y, w_true = make_data()
    start = time.perf_counter()
    res = fit(X, y)
    seconds = time.perf_counter() - start
    w, b = res.x["w"], float(res.x["b"])
    accuracy = float(onp.mean(onp.sign(X @ w + b) == y))
    # At the optimum the gradient vanishes: X^T (y * (expit(m) - 1)) / n + lam w = 0.
    m = y * (X @ w + b)
    grad_norm = onp.linalg.norm(X.T @ (y * (expit(m) - 1.0)) / len(y) + 1e-3 * w)
    print(f"Newton-CG: success={res.success}, {res.nit} iterations, {res.nfev} loss evaluations,")
    print(f"  {res.njev} gradients, {res.nhev} Hessian-vector products, {seconds:.2f} s")
    print(f"  training accuracy {accuracy:.3f}, |grad| at the solution {grad_norm:.2e}")
    print(f"  correlation of w with the true weights {onp.corrcoef(w, w_true)[0, 1]:.3f}")
    return {"result": res, "accuracy": accuracy, "grad_norm": grad_norm, "seconds": seconds}


if __name__ == "__main__":
    main()
