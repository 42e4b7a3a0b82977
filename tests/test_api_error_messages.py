"""Error paths that had no test of their message: each row raises, and says what to do.

A row is (id, a call that must fail, the exception type, a regex its message must match).
Most calls differentiate, because the traced branch of a function is where matdiff's own
checks (not NumPy's or SciPy's) run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

import numpy as onp
import pytest

import matdiff.numpy as np
import matdiff.numpy.linalg as la
import matdiff.scipy.integrate as integrate
import matdiff.scipy.linalg as sla
import matdiff.scipy.stats as stats
from matdiff import grad, jit, vjp
from matdiff.batching import batch_jvp
from matdiff.compile import StagingError
from matdiff.graph import graph
from matdiff.symbolic import SymbolicError, derivative

A = onp.arange(1.0, 7.0).reshape(2, 3)
SQ = onp.array([[2.0, 1.0], [0.5, 3.0]])


def through_grad(f: Callable, x=A) -> Callable:
    """A call of ``grad`` of ``sum(f(x))``, so ``f`` runs on a traced value."""
    return lambda: grad(lambda v: np.sum(np.real(f(v))))(x)


def _use_an_escaped_value():
    """Stores a staged value outside the jitted function, as a global cache would, and uses it."""
    escaped = []

    def leak(x):
        escaped.append(x * 2.0)
        return x

    jit(leak)(1.0)
    return np.sin(escaped[0])


class Row(NamedTuple):
    id: str
    call: Callable
    exc: type
    match: str


# fmt: off
ROWS = [
    # the derivative operators
    Row("grad_empty_argnums", lambda: grad(lambda x: x, argnums=())(1.0), ValueError, "grad: argnums is empty; name at least one argument position"),
    Row("vjp_complex_cotangent", lambda: vjp(lambda x: x * 2.0, 1.0)[1](1j), TypeError, "cotangent 0 is complex .* but its output is real; pass a real cotangent"),
    Row("batch_jvp_sizes", lambda: batch_jvp(lambda x, y: x * y, (onp.ones(2), onp.ones(2)), (onp.ones((2, 2)), onp.ones((3, 2)))), ValueError, r"batch_jvp: batched tangents disagree on the batch size: \[2, 3\]"),
    Row("numpy_unknown_name", lambda: np.no_such_function, AttributeError, "module 'matdiff.numpy' has no attribute 'no_such_function'"),
    # jit
    Row("jit_not_callable", lambda: jit(3), TypeError, "jit: expected a function, got int"),
    Row("jit_static_argnums", lambda: jit(lambda x: x, static_argnums=("x",)), TypeError, "jit: static_argnums must be integers .*got 'x'"),
    Row("jit_program_before_call", lambda: jit(lambda x: x).program, AttributeError, "nothing has been compiled yet; call the function"),
    Row("jit_unhashable_static", lambda: jit(lambda x, n: x * len(n), static_argnums=1)(1.0, [1, 2]), TypeError, "jit: static argument 1 is a list, which is not hashable.*Pass a tuple instead"),
    Row("jit_string_output", lambda: jit(lambda x: "a")(1.0), StagingError, "jit: output 0 is a str; a jitted function must return arrays, numbers, or pytrees"),
    Row("jit_escaped_value", _use_an_escaped_value, StagingError, "jit: a traced value escaped the function being compiled.*Return it from the jitted function instead"),
    # graph
    Row("graph_max_nodes", lambda: graph(np.sin)(1.0).table(max_nodes=0), ValueError, "max_nodes must be at least 1"),
    # fft
    Row("fftn_axis_twice", through_grad(lambda x: np.fft.fftn(x, axes=(0, 0))), ValueError, r"fftn: axes=\(0, 0\) name an axis twice; pass each axis once"),
    Row("fftn_sizes_per_axis", through_grad(lambda x: np.fft.fftn(x, s=(2, 3, 4), axes=(0, 1))), ValueError, "fftn: s=.* gives 3 sizes for 2 axes; pass one size per transformed axis"),
    Row("rfft_complex_input", through_grad(lambda x: np.fft.rfft(x * 1j)), TypeError, "rfft: the input is complex, and rfft transforms real input only. Use fft"),
    # indexing and manipulation
    Row("compress_2d_condition", through_grad(lambda x: np.compress(onp.ones((2, 2), bool), x, axis=0)), ValueError, r"compress: condition must be 1-D, got shape \(2, 2\)"),
    Row("compress_long_condition", through_grad(lambda x: np.compress([True] * 3, x, axis=0)), ValueError, "compress: condition has 3 entries but axis 0 of the array has only 2"),
    Row("rot90_axes", through_grad(lambda x: np.rot90(x, axes=(0, 1, 0))), ValueError, r"rot90: len\(axes\) must be 2"),
    Row("pad_constant_kwargs", through_grad(lambda x: np.pad(x, 1, mode="constant", end_values=1)), TypeError, r"pad: unexpected keyword arguments \['end_values'\] for mode='constant'"),
    Row("pad_mode_without_rule", through_grad(lambda x: np.pad(x, 1, mode="mean")), NotImplementedError, "pad: mode='mean' .*has no derivative rule in matdiff; differentiable modes are"),
    # reductions
    Row("sum_out", through_grad(lambda x: np.sum(x, out=onp.zeros(()))), TypeError, r"sum: out= is not supported.*\(y = sum\(x\) rather than sum\(x, out=y\)\)"),
    Row("mean_out", through_grad(lambda x: np.mean(x, out=onp.zeros(()))), TypeError, "mean: out= is not supported.*use the returned value"),
    Row("quantile_q_range", through_grad(lambda x: np.quantile(x, 1.5)), ValueError, r"quantile: q must be in \[0, 1\], got 1.5"),
    Row("sort_order", through_grad(lambda x: np.sort(x, order="a")), TypeError, "sort: order= .* is not differentiable"),
    # numpy.linalg
    Row("tensorinv_ind", through_grad(lambda x: la.tensorinv(x.reshape(6, 1), ind=0), A), ValueError, "Invalid ind argument"),
    Row("norm_order", through_grad(lambda x: la.norm(x, "abc")), ValueError, "Invalid norm order"),
    Row("qr_raw_mode", through_grad(lambda x: la.qr(x, mode="raw")[0]), ValueError, "qr: mode 'raw' has no derivative; use 'reduced', 'complete' or 'r'"),
    Row("multi_dot_one_array", through_grad(lambda x: la.multi_dot([x])), ValueError, "Expecting at least two arrays"),
    # scipy.linalg
    Row("lu_solve_trans", through_grad(lambda x: sla.lu_solve(sla.lu_factor(x), onp.ones(2), trans=3), SQ), ValueError, "lu_solve: trans must be 0, 1 or 2, got 3"),
    Row("scipy_qr_mode", through_grad(lambda x: sla.qr(x, mode="raw")[0], SQ), ValueError, "qr: mode 'raw' is not differentiable; use 'full', 'economic' or 'r'"),
    Row("scipy_eig_generalized", through_grad(lambda x: sla.eig(x, onp.eye(2))[0], SQ), NotImplementedError, "eig: only the standard problem with right eigenvectors is differentiable"),
    Row("scipy_eigvals_generalized", through_grad(lambda x: sla.eigvals(x, onp.eye(2)), SQ), NotImplementedError, "eigvals: only the standard problem is differentiable"),
    # scipy.integrate and scipy.stats
    Row("solve_ivp_t_span", through_grad(lambda y: integrate.solve_ivp(lambda t, y: -y, (0.0, 1.0, 2.0), y).y, onp.ones(2)), ValueError, r"solve_ivp: t_span must be a pair \(t0, t1\)"),
    Row("solve_ivp_empty_t_eval", through_grad(lambda y: integrate.solve_ivp(lambda t, y: -y, (0.0, 1.0), y, t_eval=onp.zeros(0)).y, onp.ones(2)), ValueError, "solve_ivp: t_eval is empty; there is nothing to differentiate"),
    Row("solve_ivp_dense_output", through_grad(lambda y: integrate.solve_ivp(lambda t, y: -y, (0.0, 1.0), y, dense_output=True).y, onp.ones(2)), NotImplementedError, "solve_ivp: dense_output=True is not supported by matdiff.scipy.integrate"),
    Row("solve_ivp_t_eval_2d", through_grad(lambda y: integrate.solve_ivp(lambda t, y: -y, (0.0, 1.0), y, t_eval=onp.zeros((1, 1))).y, onp.ones(2)), ValueError, "`t_eval` must be 1-dimensional"),
    Row("dirichlet_alpha_2d", through_grad(lambda a: stats.dirichlet.logpdf(onp.array([0.2, 0.8]), a), onp.ones((1, 2))), ValueError, "Parameter vector 'a' must be one dimensional"),
    Row("mvn_mean_2d", through_grad(lambda m: stats.multivariate_normal.logpdf(onp.zeros(2), m, onp.eye(2)), onp.zeros((1, 2))), ValueError, r"mean must be a scalar or a 1-D array, got shape \(1, 2\)"),
    # the symbolic engine
    Row("derivative_order", lambda: derivative("x'*x", wrt="x", order=3), SymbolicError, r"order must be 1 \(gradient, Jacobian\) or 2 \(Hessian\)"),
    Row("derivative_wrt", lambda: derivative("x'*x", wrt=1), SymbolicError, "wrt must be a variable name"),
    Row("matrix_power_in_its_exponent", lambda: derivative("tr(X^a)", wrt="a"), SymbolicError, "the derivative of X\\^a in its exponent needs a matrix logarithm"),
]
# fmt: on


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_error_message(row):
    with pytest.raises(row.exc) as info:
        row.call()
    assert re.search(row.match, str(info.value)), str(info.value)
