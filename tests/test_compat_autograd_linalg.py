"""Compatibility with autograd's linear-algebra tests, restated as one table.

The calls of autograd's ``test_linalg.py`` (inv, solve in either argument and batched,
det, slogdet, norms with ord and axis, eigh with either triangle, cholesky, svd of wide,
square and tall matrices, batched) are checked here in both modes to order 2, as every
matdiff rule is. Functions of a symmetric matrix are fed ``(L + L^T) / 2`` built from the
lower triangle, as autograd does, so that finite differences stay symmetric.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff.test_util import check_grads

rng = onp.random.default_rng(3)


def R(*shape):
    return rng.standard_normal(shape)


def psd(*shape):
    """Symmetric positive definite matrices (batched over leading axes), well conditioned."""
    m = R(*shape)
    return m @ onp.swapaxes(m, -1, -2) + shape[-1] * onp.eye(shape[-1])


def well_conditioned(*shape):
    return R(*shape) + 5.0 * onp.eye(shape[-1])


def symmetrized(fun: Callable) -> Callable:
    def f(a, *rest):
        low = np.tril(a)
        return fun((low + np.swapaxes(low, -1, -2)) / 2.0, *rest)

    return f


class Row(NamedTuple):
    id: str
    fun: Callable
    args: tuple


def row(id: str, fun: Callable, *args: Any) -> Row:
    return Row(id, fun, args)


B8x7, B8, B5x4, B5x4x6 = R(8, 7), R(8), R(5, 4), R(5, 4, 6)
A6 = R(6, 6) + 1.0 * onp.eye(6)
STD_NORMAL = onp.random.default_rng(0).standard_normal(6)

LINALG_ROWS = [
    row("inv", np.linalg.inv, well_conditioned(5, 5)),
    row("inv-3d", np.linalg.inv, well_conditioned(3, 4, 4)),
    row("inv-4d", np.linalg.inv, well_conditioned(2, 2, 3, 3)),
    row("solve-in-a", lambda a: np.linalg.solve(a, B8x7), well_conditioned(8, 8)),
    row("solve-in-a-vector-b", lambda a: np.linalg.solve(a, B8), well_conditioned(8, 8)),
    row("solve-in-b", lambda b: np.linalg.solve(A6, b), R(6, 5)),
    row(
        "solve-batched-vector-b",
        lambda a: np.linalg.solve(a, B5x4[..., None]),
        well_conditioned(5, 4, 4),
    ),
    row("solve-batched", lambda a: np.linalg.solve(a, B5x4x6), well_conditioned(5, 4, 4)),
    row("solve-both", np.linalg.solve, well_conditioned(4, 4), R(4, 2)),
    row("det", np.linalg.det, R(5, 5)),
    row("det-3d", np.linalg.det, R(3, 3, 3)),
    row("slogdet", lambda x: np.linalg.slogdet(x)[1], R(5, 5)),
    row("slogdet-negative", lambda x: np.linalg.slogdet(-x)[1], R(5, 5)),
    row("slogdet-3d", lambda x: np.sum(np.linalg.slogdet(x)[1]), psd(3, 5, 5)),
    row("norm-vector", np.linalg.norm, R(6)),
    row("norm-frobenius", np.linalg.norm, R(6, 5)),
    row("norm-frobenius-axis", lambda x: np.linalg.norm(x, axis=(0, 1)), R(6, 5, 4)),
    row("norm-ord-2", lambda x: np.linalg.norm(x, ord=2), R(6)),
    row("norm-ord-3", lambda x: np.linalg.norm(x, ord=3), R(6)),
    row("norm-ord-4", lambda x: np.linalg.norm(x, ord=4), R(6)),
    row("norm-axis-0", lambda x: np.linalg.norm(x, axis=0), R(6, 5, 4)),
    row("norm-axis-2", lambda x: np.linalg.norm(x, axis=2), R(6, 5, 4)),
    row("norm-nuclear", lambda x: np.linalg.norm(x, ord="nuc"), R(6, 5)),
    row("norm-nuclear-axis", lambda x: np.linalg.norm(x, ord="nuc", axis=(0, 1)), R(6, 5, 4)),
    row("eigh-lower", symmetrized(lambda x: tuple(np.linalg.eigh(x))), psd(5, 5)),
    row("eigh-upper", symmetrized(lambda x: tuple(np.linalg.eigh(x, "U"))), psd(5, 5)),
    row("eigh-batched", symmetrized(lambda x: tuple(np.linalg.eigh(x))), psd(2, 3, 4, 4)),
    row("cholesky", symmetrized(np.linalg.cholesky), psd(5, 5)),
    row("cholesky-batched", symmetrized(np.linalg.cholesky), psd(3, 5, 5)),
    row(
        "cholesky-reparameterization",
        symmetrized(lambda a: np.linalg.norm(np.dot(np.linalg.cholesky(a), STD_NORMAL))),
        psd(6, 6),
    ),
    row("svd-wide", lambda x: tuple(np.linalg.svd(x, full_matrices=False)), R(3, 5)),
    row("svd-wide-3d", lambda x: tuple(np.linalg.svd(x, full_matrices=False)), R(2, 3, 5)),
    row("svd-square", lambda x: tuple(np.linalg.svd(x, full_matrices=False)), R(4, 4)),
    row("svd-tall", lambda x: tuple(np.linalg.svd(x, full_matrices=False)), R(5, 3)),
    row("svd-tall-3d", lambda x: tuple(np.linalg.svd(x, full_matrices=False)), R(2, 5, 3)),
    row("svd-only-s", lambda x: np.linalg.svd(x, compute_uv=False), R(5, 3)),
    row("svd-only-s-3d", lambda x: np.linalg.svd(x, compute_uv=False), R(4, 5, 3)),
]


@pytest.mark.parametrize("r", LINALG_ROWS, ids=[r.id for r in LINALG_ROWS])
def test_linalg(r):
    check_grads(r.fun, modes=("fwd", "rev"), order=2)(*r.args)
