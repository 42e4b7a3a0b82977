"""Compatibility with autograd's SciPy tests: the calls of ``test_scipy.py``, one table.

autograd users import ``autograd.scipy.special``, ``.stats``, ``.signal``, ``.linalg`` and
``.integrate``; the same calls through ``matdiff.scipy`` are checked here in both modes
to order 2. A row whose function ``matdiff.scipy`` does not define fails, naming it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as onp
import pytest

from matdiff.test_util import check_grads

rng = onp.random.default_rng(11)


def R(*shape):
    return rng.standard_normal(shape)


def U(lo, hi, *shape):
    return rng.uniform(lo, hi, shape)


class Row(NamedTuple):
    id: str
    module: str
    name: str
    fun: Callable
    args: tuple


def _get(module: str, name: str):
    mod = importlib.import_module(f"matdiff.scipy.{module}")
    obj = vars(mod).get(name.split(".")[0])
    for part in name.split(".")[1:]:
        obj = getattr(obj, part, None) if obj is not None else None
    return obj


def row(module: str, name: str, make: Callable[[Any], Callable], *args: Any, id: str = "") -> Row:
    """``make(f)`` builds the checked function from matdiff's ``module.name``."""
    return Row(id or f"{module}.{name}", module, name, make, args)


def call(f):
    return f


PSD = R(3, 3) @ R(3, 3).T + 3.0 * onp.eye(3)
T3 = onp.tril(R(3, 3)) + 3.0 * onp.eye(3)

SCIPY_ROWS = [
    # special functions, on their domains
    row("special", "gamma", call, U(0.5, 3.0, 2, 3)),
    row("special", "gammaln", call, U(0.5, 3.0, 2, 3)),
    row("special", "digamma", call, U(0.5, 3.0, 2, 3)),
    row("special", "psi", call, U(0.5, 3.0, 4)),
    row("special", "polygamma", lambda f: lambda x: f(1, x), U(0.5, 3.0, 4)),
    row("special", "multigammaln", lambda f: lambda a: f(a, 3), U(2.5, 4.0, 4)),
    row("special", "beta", call, U(0.5, 3.0, 3), U(0.5, 3.0, 3)),
    row("special", "betaln", call, U(0.5, 3.0, 3), U(0.5, 3.0, 3)),
    row("special", "gammainc", lambda f: lambda x: f(2.0, x), U(0.5, 3.0, 4)),
    row("special", "gammaincc", lambda f: lambda x: f(2.0, x), U(0.5, 3.0, 4)),
    row("special", "rgamma", call, U(0.5, 3.0, 4)),
    row("special", "erf", call, R(2, 3)),
    row("special", "erfc", call, R(2, 3)),
    row("special", "erfinv", call, U(-0.9, 0.9, 4)),
    row("special", "erfcinv", call, U(0.1, 1.9, 4)),
    row("special", "expit", call, R(2, 3)),
    row("special", "logit", call, U(0.1, 0.9, 4)),
    row("special", "log_ndtr", call, R(4)),
    row("special", "ndtr", call, R(4)),
    row("special", "ndtri", call, U(0.1, 0.9, 4)),
    row("special", "j0", call, U(0.5, 3.0, 4)),
    row("special", "j1", call, U(0.5, 3.0, 4)),
    row("special", "y0", call, U(0.5, 3.0, 4)),
    row("special", "y1", call, U(0.5, 3.0, 4)),
    row("special", "jn", lambda f: lambda x: f(2, x), U(0.5, 3.0, 4)),
    row("special", "yn", lambda f: lambda x: f(2, x), U(0.5, 3.0, 4)),
    row("special", "i0", call, U(0.5, 3.0, 4)),
    row("special", "i1", call, U(0.5, 3.0, 4)),
    row("special", "iv", lambda f: lambda x: f(2.0, x), U(0.5, 3.0, 4)),
    row("special", "ive", lambda f: lambda x: f(2.0, x), U(0.5, 3.0, 4)),
    row("special", "logsumexp", call, R(3, 4)),
    row(
        "special",
        "logsumexp",
        lambda f: lambda x: f(x, axis=1, keepdims=True),
        R(3, 4),
        id="special.logsumexp-axis",
    ),
    row(
        "special",
        "logsumexp",
        lambda f: lambda x, b: f(x, b=b),
        R(4),
        U(0.5, 2.0, 4),
        id="special.logsumexp-b",
    ),
    # distributions
    row("stats", "norm.pdf", lambda f: lambda x, m, s: f(x, m, s), R(4), R(4), U(0.5, 2.0, 4)),
    row("stats", "norm.cdf", lambda f: lambda x, m, s: f(x, m, s), R(4), R(4), U(0.5, 2.0, 4)),
    row("stats", "norm.logpdf", lambda f: lambda x, m, s: f(x, m, s), R(4), R(4), U(0.5, 2.0, 4)),
    row("stats", "norm.logcdf", lambda f: lambda x, m, s: f(x, m, s), R(4), R(4), U(0.5, 2.0, 4)),
    row("stats", "norm.sf", lambda f: lambda x: f(x), R(4)),
    row("stats", "norm.logsf", lambda f: lambda x: f(x), R(4)),
    row("stats", "t.pdf", lambda f: lambda x, df: f(x, df), R(4), U(2.0, 5.0, 4)),
    row(
        "stats",
        "t.logpdf",
        lambda f: lambda x, df, m, s: f(x, df, m, s),
        R(4),
        U(2.0, 5.0, 4),
        R(4),
        U(0.5, 2.0, 4),
    ),
    row("stats", "t.cdf", lambda f: lambda x: f(x, 3.0), R(4)),
    row(
        "stats",
        "beta.logpdf",
        lambda f: lambda x, a, b: f(x, a, b),
        U(0.1, 0.9, 4),
        U(1.0, 3.0, 4),
        U(1.0, 3.0, 4),
    ),
    row("stats", "gamma.logpdf", lambda f: lambda x, a: f(x, a), U(0.5, 3.0, 4), U(1.0, 3.0, 4)),
    row("stats", "chi2.logpdf", lambda f: lambda x: f(x, 3.0), U(0.5, 3.0, 4)),
    row(
        "stats",
        "poisson.logpmf",
        lambda f: lambda mu: f(onp.array([0, 1, 3, 5]), mu),
        U(0.5, 3.0, 4),
    ),
    row(
        "stats",
        "dirichlet.logpdf",
        lambda f: lambda a: f(onp.array([0.2, 0.3, 0.5]), a),
        U(1.0, 3.0, 3),
    ),
    row("stats", "multivariate_normal.logpdf", lambda f: lambda x, m: f(x, m, PSD), R(3), R(3)),
    row(
        "stats",
        "multivariate_normal.pdf",
        lambda f: lambda x, c: f(x, onp.zeros(3), c @ c.T + 3.0 * onp.eye(3)),
        R(3),
        R(3, 3),
    ),
    # signal, linear algebra, integration
    row("signal", "convolve", call, R(5), R(3)),
    row(
        "signal",
        "convolve",
        lambda f: lambda a, b: f(a, b, mode="valid"),
        R(4, 5),
        R(2, 3),
        id="signal.convolve-2d-valid",
    ),
    row("linalg", "sqrtm", call, PSD),
    row("linalg", "solve_triangular", lambda f: lambda a, b: f(a, b, lower=True), T3, R(3, 2)),
    row("linalg", "solve_sylvester", call, PSD, PSD + onp.eye(3), R(3, 3)),
    row("linalg", "cho_solve", lambda f: lambda b: f((onp.linalg.cholesky(PSD), True), b), R(3)),
    row(
        "integrate",
        "odeint",
        lambda f: lambda y0: f(lambda y, t: -0.5 * y, y0, onp.array([0.0, 0.5, 1.0])),
        R(2),
    ),
]


@pytest.mark.parametrize("r", [pytest.param(r, id=r.id) for r in SCIPY_ROWS])
def test_scipy_function(r):
    f = _get(r.module, r.name)
    assert f is not None, f"matdiff.scipy.{r.module}.{r.name} is missing"
    check_grads(r.fun(f), modes=("fwd", "rev"), order=2)(*r.args)
