"""A second oracle: gradients that autograd also computes (reverse mode only, its own
rules) agree with matdiff's, on the same losses. Finite differences check every rule in
``test_linalg_grads.py``; this guards the conventions (symmetrized inputs, complex
cotangents) against a library users switch from."""

from __future__ import annotations

import numpy as onp
import pytest

autograd = pytest.importorskip("autograd", reason="autograd (the comparison oracle) is missing")
import autograd.numpy as anp  # noqa: E402
import autograd.scipy.linalg as asla  # noqa: E402

import matdiff.numpy as np  # noqa: E402
import matdiff.scipy.linalg as sla  # noqa: E402
from matdiff import grad  # noqa: E402

r = onp.random.default_rng(11)
A = r.standard_normal((4, 4)) + 3.0 * onp.eye(4)
B = r.standard_normal((4, 2))
W = r.standard_normal((4, 4))
S = A @ A.T
Wide = r.standard_normal((3, 5))
C53 = r.standard_normal((5, 3))


def sym_np(x, mod):
    return (
        0.5 * (x + mod.swapaxes(x, -1, -2))
        if mod is anp
        else 0.5 * (x + np.linalg.matrix_transpose(x))
    )


# (name, loss in terms of a namespace (numpy-like, linalg, scipy.linalg), input)
CASES = [
    ("det", lambda m, la, sl: la.det(x_(m)), A),
    ("slogdet", lambda m, la, sl: la.slogdet(x_(m))[1], A),
    ("inv", lambda m, la, sl: m.sum(la.inv(x_(m)) * W), A),
    ("solve", lambda m, la, sl: m.sum(la.solve(x_(m), B) ** 2), A),
    ("pinv", lambda m, la, sl: m.sum(la.pinv(x_(m)) * C53), Wide),
    ("cholesky", lambda m, la, sl: m.sum(la.cholesky(sym_np(x_(m), m)) * W), S),
    ("eigh", lambda m, la, sl: m.sum(la.eigh(sym_np(x_(m), m))[0] ** 3), A),
    ("eigh_vectors", lambda m, la, sl: m.sum(la.eigh(sym_np(x_(m), m))[1] ** 2 * W), A),
    ("svd_values", lambda m, la, sl: m.sum(la.svd(x_(m), full_matrices=False)[1] ** 2), Wide),
    ("norm_fro", lambda m, la, sl: la.norm(x_(m)), A),
    ("norm_nuc", lambda m, la, sl: la.norm(x_(m), "nuc"), A),
    ("solve_triangular", lambda m, la, sl: m.sum(sl.solve_triangular(x_(m), B, lower=True)), A),
    ("sqrtm", lambda m, la, sl: m.sum(sl.sqrtm(x_(m)) * W), S),
    ("solve_sylvester", lambda m, la, sl: m.sum(sl.solve_sylvester(x_(m), A.T, W)), A),
]


def x_(m):
    return _current[m is anp]


_current: dict = {}


@pytest.mark.parametrize("name,loss,x", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_autograd(name, loss, x):
    def ours(v):
        _current[False] = v
        return loss(np, np.linalg, sla)

    def theirs(v):
        _current[True] = v
        return loss(anp, anp.linalg, asla)

    onp.testing.assert_allclose(grad(ours)(x), autograd.grad(theirs)(x), rtol=1e-8, atol=1e-10)
