"""Bad input to the linear-algebra functions: the errors NumPy and SciPy raise, with
their messages, whether or not the input is traced, and never a derivative of garbage."""

from __future__ import annotations

import numpy as onp
import pytest
import scipy.linalg as osla

import matdiff.numpy as np
import matdiff.scipy.linalg as sla
from matdiff import grad, jvp

la = np.linalg
LinAlgError = onp.linalg.LinAlgError


def numpy_error(fun, *args, **kwargs):
    """The exception NumPy/SciPy raise for this call on plain arrays."""
    with pytest.raises(Exception) as info:
        fun(*args, **kwargs)
    return info.value


def assert_same_error(ours, theirs, *args):
    """``ours`` under grad and under jvp raises what ``theirs`` raises on plain input."""
    expected = numpy_error(theirs, *args)
    for run in (
        lambda: grad(lambda x: onp.sum(0.0) + np.sum(np.real(ours(x, *args[1:]))))(args[0]),
        lambda: jvp(lambda x: ours(x, *args[1:]), (args[0],), (onp.ones_like(args[0]),)),
    ):
        with pytest.raises(type(expected)) as info:
            run()
        assert str(info.value) == str(expected)


SQUARE_ONLY = [
    ("det", la.det, onp.linalg.det),
    ("inv", la.inv, onp.linalg.inv),
    ("slogdet", lambda x: la.slogdet(x)[1], lambda x: onp.linalg.slogdet(x)[1]),
    ("cholesky", la.cholesky, onp.linalg.cholesky),
    ("eigh", lambda x: la.eigh(x)[0], lambda x: onp.linalg.eigh(x)[0]),
    ("eigvalsh", la.eigvalsh, onp.linalg.eigvalsh),
    ("eig", lambda x: la.eig(x)[0], lambda x: onp.linalg.eig(x)[0]),
    ("eigvals", la.eigvals, onp.linalg.eigvals),
    ("matrix_power", lambda x: la.matrix_power(x, 2), lambda x: onp.linalg.matrix_power(x, 2)),
]


@pytest.mark.parametrize("name,ours,theirs", SQUARE_ONLY, ids=[s[0] for s in SQUARE_ONLY])
def test_non_square_input(name, ours, theirs):
    assert_same_error(ours, theirs, onp.ones((2, 3)))


@pytest.mark.parametrize("name,ours,theirs", SQUARE_ONLY[:4], ids=[s[0] for s in SQUARE_ONLY[:4]])
def test_one_dimensional_input(name, ours, theirs):
    assert_same_error(ours, theirs, onp.ones(3))


SINGULAR = onp.array([[1.0, 2.0], [2.0, 4.0]])


def test_singular_inv_and_solve():
    assert_same_error(la.inv, onp.linalg.inv, SINGULAR)
    assert_same_error(la.solve, onp.linalg.solve, SINGULAR, onp.ones(2))
    with pytest.raises(LinAlgError, match="Singular matrix"):
        grad(lambda b: np.sum(la.solve(SINGULAR, b)))(onp.ones(2))


def test_not_positive_definite_cholesky():
    indefinite = onp.array([[1.0, 2.0], [2.0, 1.0]])
    assert_same_error(la.cholesky, onp.linalg.cholesky, indefinite)
    with pytest.raises(LinAlgError):  # SciPy's own message differs; the type is the same
        grad(lambda x: np.sum(sla.cholesky(x)))(indefinite)
    with pytest.raises(LinAlgError):
        grad(lambda x: np.sum(sla.cho_factor(x)[0]))(indefinite)


@pytest.mark.parametrize(
    "ord,axis,shape",
    [("fro", None, (3,)), ("nuc", 0, (2, 3)), (3, None, (2, 3)), ("bad", (0, 1), (2, 3)),
     (0.5, (0, 1), (2, 3)), (2, (0, 1, 2), (2, 2, 2)), (None, (1, 1), (2, 3))],
)  # fmt: skip
def test_invalid_norm_order(ord, axis, shape):
    x = onp.ones(shape)
    expected = numpy_error(onp.linalg.norm, x, ord, axis)
    with pytest.raises(type(expected)) as info:
        grad(lambda x: la.norm(x, ord, axis))(x)
    assert str(info.value) == str(expected)


def test_invalid_matrix_and_vector_norm_order():
    x = onp.ones((2, 3))
    for fun, theirs, kw in [
        (la.matrix_norm, onp.linalg.matrix_norm, {"ord": 3}),
        (la.vector_norm, onp.linalg.vector_norm, {"ord": "fro"}),
    ]:
        expected = numpy_error(theirs, x, **kw)
        with pytest.raises(type(expected)) as info:
            grad(lambda x, fun=fun, kw=kw: fun(x, **kw))(x)
        assert str(info.value) == str(expected)


def test_matrix_power_needs_an_integer():
    expected = numpy_error(onp.linalg.matrix_power, onp.eye(2), 1.5)
    with pytest.raises(type(expected), match="exponent must be an integer"):
        grad(lambda x: np.sum(la.matrix_power(x, 1.5)))(onp.eye(2))


def test_qr_modes_without_derivative():
    with pytest.raises(ValueError, match="qr: mode 'raw' has no derivative"):
        grad(lambda x: np.sum(la.qr(x, mode="raw")[0]))(onp.eye(2))
    expected = numpy_error(onp.linalg.qr, onp.eye(2), "nonsense")
    with pytest.raises(type(expected)) as info:
        grad(lambda x: np.sum(la.qr(x, mode="nonsense")[0]))(onp.eye(2))
    assert str(info.value) == str(expected)


def test_scipy_argument_errors_name_the_function():
    a = onp.eye(2)
    with pytest.raises(ValueError, match="solve_triangular: trans must be"):
        grad(lambda x: np.sum(sla.solve_triangular(x, onp.ones(2), trans=5)))(a)
    with pytest.raises(ValueError, match="lu_solve: trans must be"):
        grad(lambda x: np.sum(sla.lu_solve(sla.lu_factor(x), onp.ones(2), trans=5)))(a)
    with pytest.raises(ValueError, match="lu_factor: the derivative needs a square matrix"):
        grad(lambda x: np.sum(sla.lu_factor(x)[0]))(onp.ones((2, 3)))
    with pytest.raises(NotImplementedError, match="eigh: only the standard problem"):
        grad(lambda x: np.sum(sla.eigh(x, onp.eye(2), eigvals_only=True)))(a)
    with pytest.raises(NotImplementedError, match="eigh: only the standard problem"):
        grad(lambda x: np.sum(sla.eigh(x, subset_by_index=[0, 0], eigvals_only=True)))(a)
    # Options that only choose SciPy's algorithm are accepted.
    g = grad(lambda x: np.sum(sla.eigh(x, check_finite=False, eigvals_only=True)))(a)
    onp.testing.assert_allclose(g, onp.eye(2), atol=1e-12)
    with pytest.raises(ValueError, match="qr: pivoting=True has no derivative"):
        grad(lambda x: np.sum(sla.qr(x, pivoting=True)[1]))(a)
    expected = numpy_error(osla.solve_triangular, onp.array([[1.0, onp.nan], [0, 1]]), onp.ones(2))
    with pytest.raises(type(expected)) as info:
        grad(lambda x: np.sum(sla.solve_triangular(x, onp.ones(2))))(
            onp.array([[1.0, onp.nan], [0, 1]])
        )
    assert str(info.value) == str(expected)


def test_raw_numpy_linalg_on_traced_values_uses_our_rules():
    """numpy.linalg.det(box) reaches matdiff's det through __array_function__."""
    x = onp.array([[2.0, 1.0], [1.0, 3.0]])
    onp.testing.assert_allclose(grad(onp.linalg.det)(x), grad(la.det)(x))
    onp.testing.assert_allclose(
        grad(lambda a: onp.linalg.norm(a, "nuc"))(x), grad(lambda a: la.norm(a, "nuc"))(x)
    )


def test_fallthrough_names_are_numpys_and_scipys():
    assert la.LinAlgError is onp.linalg.LinAlgError
    assert "test" not in vars(la) and la.test is onp.linalg.test
    assert "block_diag" not in vars(sla) and sla.block_diag is osla.block_diag
    assert sla.LinAlgError is osla.LinAlgError
