"""Raw NumPy calls on traced values: routed to matdiff's rules (and differentiated
correctly), or refused with a message that names the function; never an untraced result."""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad
from matdiff.test_util import check_grads
from matdiff.tracer import isbox

rng = onp.random.default_rng(0)
M = rng.standard_normal((3, 3))

ROUTED = [
    ("sin", lambda x: onp.sin(x) * onp.exp(x)),
    ("ndarray-left", lambda x: M + x - M * x),
    ("ndarray-matmul", lambda x: M @ x @ M),
    ("dot", lambda x: onp.dot(M, x)),
    ("matmul", lambda x: onp.matmul(x, M)),
    ("sum", lambda x: onp.sum(x**2, axis=0)),
    ("mean", lambda x: onp.mean(x, axis=-1, keepdims=True)),
    ("reshape", lambda x: onp.reshape(x, (9,))),
    ("transpose", lambda x: onp.transpose(x)),
    ("concatenate", lambda x: onp.concatenate([x, M, x], axis=1)),
    ("stack", lambda x: onp.stack([x, M])),
    ("einsum", lambda x: onp.einsum("ij,jk->ik", x, M)),
    ("tensordot", lambda x: onp.tensordot(x, M, axes=1)),
    ("kron", lambda x: onp.kron(x, M[:2, :2])),
    ("tile", lambda x: onp.tile(x, 2)),
    ("take", lambda x: onp.take(x, [0, 0, 2], axis=1)),
    ("sort", lambda x: onp.sort(x, axis=0)),
    ("pad", lambda x: onp.pad(x, 1)),
    ("diagonal", lambda x: onp.diagonal(x)),
    ("trace", lambda x: onp.trace(x)),
    ("tril", lambda x: onp.tril(x)),
    ("split", lambda x: onp.split(x, 3)[1]),
    ("where", lambda x: onp.where(M > 0, x, 0.0)),
    ("multiply.outer", lambda x: onp.multiply.outer(x[0], x[1])),
    ("add.reduce", lambda x: onp.add.reduce(x)),
]


@pytest.mark.parametrize("name, f", ROUTED, ids=[r[0] for r in ROUTED])
def test_raw_numpy_calls_route_to_matdiff_rules(name, f):
    def traced(x):
        out = f(x)
        # check_grads also calls f on plain arrays for its finite differences.
        assert isbox(out) == isbox(x), f"{name} lost the trace"
        return out

    check_grads(traced, modes=("fwd", "rev"), order=2)(rng.standard_normal((3, 3)))


def test_raw_and_matdiff_calls_give_the_same_gradient():
    x = rng.standard_normal((3, 3))
    g_raw = grad(lambda x: onp.sum(onp.tanh(onp.dot(M, x)) * x[::-1]))(x)
    g_ours = grad(lambda x: np.sum(np.tanh(np.dot(M, x)) * x[::-1]))(x)
    onp.testing.assert_allclose(g_raw, g_ours)
    t = onp.tanh(M @ x)
    onp.testing.assert_allclose(g_ours, M.T @ ((1 - t**2) * x[::-1]) + (t[::-1]))


def test_shape_and_dtype_queries_work_on_traced_values():
    def f(x):
        assert onp.shape(x) == (2,) and onp.ndim(x) == 1 and onp.size(x) == 2
        assert onp.result_type(x) == onp.float64 and not onp.iscomplexobj(x)
        z = onp.zeros_like(x)
        assert not isbox(z) and z.shape == (2,)
        return np.sum(x)

    grad(f)(onp.ones(2))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: onp.unwrap(x), r"numpy\.unwrap was called on a traced value.*matdiff\.numpy"),
        (lambda x: onp.histogram(x), r"numpy\.histogram was called on a traced value"),
        (lambda x: onp.asarray(x), r"converted to a plain NumPy array.*stop_gradient"),
        (lambda x: onp.array([x[0], x[1]]), r"converted to a plain NumPy array"),
        (
            lambda x: onp.sin(x, out=onp.zeros((2, 2))),
            r"numpy\.sin was called with out=.*x = x \+ y",
        ),
        (lambda x: onp.add.at(x, [0], 1.0), r"numpy\.add\.at changes its first argument"),
        (lambda x: onp.nextafter.accumulate(x), r"numpy\.nextafter\.accumulate was called"),
        (lambda x: onp.polyfit(x[0], x[1], 1), r"numpy\.polyfit was called on a traced value"),
    ],
)
def test_raw_numpy_without_a_rule_is_refused_clearly(call, match):
    with pytest.raises(TypeError, match=match):
        grad(lambda x: np.sum(call(x)))(onp.ones((2, 2)))


def test_in_place_update_of_a_numpy_array_is_refused():
    def f(x):
        buf = onp.zeros(2)
        buf += x
        return np.sum(buf)

    with pytest.raises(TypeError, match=r"numpy\.add was called with out="):
        grad(f)(onp.ones(2))


def test_untraced_calls_are_plain_numpy():
    x = onp.arange(4.0)
    for f in (np.reshape(x, (2, 2)), np.concatenate([x, x]), np.einsum("i,i", x, x), np.sort(x)):
        assert not isbox(f)
    assert type(np.stack([x, x])) is onp.ndarray
