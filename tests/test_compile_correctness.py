"""``jit`` never returns a stale or wrong number silently: captured arrays are read at
call time, static arguments are keyed by type, compiled functions pickle and their
cache is bounded, and any function name compiles."""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad
from matdiff.compile import jit

# ---------------------------------------------------------------- captured arrays


@pytest.mark.parametrize("start", [0.0, 1.0, 2.0])
def test_jit_reads_a_captured_array_at_call_time(start):
    W = onp.full(3, start)
    f = jit(lambda x: np.sum(x * W))
    x = onp.ones(3)
    assert f(x) == pytest.approx(3 * start)
    W += 1.5
    assert f(x) == pytest.approx(3 * (start + 1.5))
    W[1] = -4.0
    assert f(x) == pytest.approx(onp.sum(W))
    assert f.trace_count == 1


@pytest.mark.parametrize("start", [0.0, 1.0, 2.0])
def test_jit_grad_reads_a_captured_array_at_call_time(start):
    W = onp.full(3, start)
    loss = lambda x: np.sum(np.sin(x) * W)  # noqa: E731
    g = jit(grad(loss))
    x = onp.array([0.1, 0.5, -0.3])
    onp.testing.assert_allclose(g(x), grad(loss)(x))
    W += 1.5
    onp.testing.assert_allclose(g(x), onp.cos(x) * (start + 1.5))
    W[2] = 7.0
    onp.testing.assert_allclose(g(x), grad(loss)(x))
    assert g.trace_count == 1


@pytest.mark.parametrize("start", [0.0, 1.0, 2.0])
def test_jit_grad_of_a_product_with_a_captured_matrix(start):
    A = onp.full((2, 3), start)
    loss = lambda x: np.sum((A @ x) ** 2) + np.sum(x * A[0])  # noqa: E731
    g = jit(grad(loss))
    x = onp.array([0.2, -0.4, 0.9])
    onp.testing.assert_allclose(g(x), grad(loss)(x))
    A[...] = onp.arange(6.0).reshape(2, 3) - start
    onp.testing.assert_allclose(g(x), grad(loss)(x))


def test_captured_zero_dimensional_array_is_read_at_call_time():
    c = onp.array(0.0)
    f = jit(lambda x: x * c + 1.0)
    assert f(onp.ones(2)).tolist() == [1.0, 1.0]
    c[...] = 3.0
    assert f(onp.ones(2)).tolist() == [4.0, 4.0]


def test_numbers_and_arrays_made_inside_are_still_folded():
    # Python numbers, and arrays made while staging that nothing else holds, cannot
    # change: x * 1.0 and x * ones(3) compile to nothing.
    f = jit(lambda x: x * 1.0 + x * onp.ones(3))
    f(onp.ones(3))
    assert [e.prim.__name__ for e in f.program.eqns] == ["add"]


# ---------------------------------------------------------------- static arguments


def test_static_arguments_are_keyed_by_type_and_value():
    f = jit(lambda x, k: x * 2.0 if type(k) is bool else x + k, static_argnums=1)
    x = onp.ones(2)
    assert f(x, 1).tolist() == [2.0, 2.0]
    assert f(x, True).tolist() == [2.0, 2.0]  # the bool branch, not the program for 1
    assert f(x, 1.0).tolist() == [2.0, 2.0]
    assert f.trace_count == 3
    f(x, 1)
    assert f.trace_count == 3


def test_static_tuples_are_keyed_by_the_types_inside():
    f = jit(lambda x, k: x * 2.0 if type(k[1]) is bool else x + k[1], static_argnums=1)
    x = onp.ones(2)
    assert f(x, ("a", 1)).tolist() == [2.0, 2.0]
    assert f(x, ("a", True)).tolist() == [2.0, 2.0]
    assert f.trace_count == 2


def test_static_signed_zeros_compile_apart():
    g = jit(lambda x, k: x * onp.copysign(1.0, k), static_argnums=1)
    assert g(onp.ones(1), 0.0).tolist() == [1.0]
    assert g(onp.ones(1), -0.0).tolist() == [-1.0]
    assert g.trace_count == 2


# ---------------------------------------------------------------- pickling, the cache


def _square_sum(x):
    return np.sum(x**2)


@jit
def _decorated(x):
    return np.sin(x) * 2.0


def test_a_jitted_function_pickles_after_it_has_run():
    import pickle

    f = jit(_square_sum)
    x = onp.array([1.0, 2.0])
    assert f(x) == 5.0
    g = pickle.loads(pickle.dumps(f))
    assert g(x) == 5.0 and g.trace_count == 1 and f.trace_count == 1
    _decorated(x)
    assert pickle.loads(pickle.dumps(_decorated)) is _decorated


def test_options_survive_pickling():
    import pickle

    f = jit(_square_sum, static_argnums=(), cache_size=3, optimize=False)
    f(onp.ones(2))
    g = pickle.loads(pickle.dumps(f))
    assert (g.cache_size, g.optimize, g.static_argnums) == (3, False, ())


def test_the_cache_keeps_the_most_recently_used_compilations():
    import gc
    import linecache

    def generated():
        return sum(1 for k in linecache.cache if str(k).startswith("<matdiff.jit"))

    gc.collect()  # compilations that earlier tests left as garbage release their lines now
    before = generated()
    f = jit(_square_sum, cache_size=3)
    for n in range(1, 8):
        f(onp.ones(n))
    assert len(f._cache) == 3 and f.trace_count == 7
    assert generated() - before == 3  # evicted programs' source lines are released
    f(onp.ones(5))  # recently used: still compiled
    assert f.trace_count == 7
    f(onp.ones(1))  # evicted long ago: compiled again, and 6 goes
    assert f.trace_count == 8
    f(onp.ones(5))
    f(onp.ones(7))
    assert f.trace_count == 8
    del f
    gc.collect()
    assert generated() == before


def test_cache_size_must_be_positive():
    with pytest.raises(ValueError, match="cache_size"):
        jit(_square_sum, cache_size=0)


# ---------------------------------------------------------------- generated names


@pytest.mark.parametrize("name", ["ﬁt", "ｆｕｎ", "x²", "λ", "class", "3d", "np_sin", "c_0", ""])
def test_any_function_name_compiles(name):
    def f(x):
        return np.sin(x) * 2.0

    f.__name__ = name
    j = jit(f)
    onp.testing.assert_allclose(j(onp.ones(2)), onp.sin(1.0) * 2.0)
    assert j.source.isascii()


@pytest.mark.parametrize("name", ["ﬁ", "ｆｕｎ", "x²"])
def test_any_primitive_name_compiles(name):
    from matdiff.extend import primitive

    p = primitive(lambda x: x * 2.0, name=name)
    j = jit(lambda x: p(np.sin(x)))
    onp.testing.assert_allclose(j(onp.ones(2)), onp.sin(1.0) * 2.0)


# ---------------------------------------------------------------- hessians with kinks

KINKED = {
    "abs": lambda x: np.sum(np.abs(x) ** 3) + np.abs(x[0]) * x[1] ** 2,
    "max": lambda x: np.max(x) ** 2 + np.sum(x**3),
    "max_axis": lambda x: np.sum(np.max(np.reshape(x, (2, 3)), axis=1) ** 3),
    "maximum": lambda x: np.sum(np.maximum(x, 0.1) ** 3),
    "maximum_of_two": lambda x: np.sum(np.maximum(x, x[::-1] * 0.5) ** 2 * x),
    "min": lambda x: np.min(x * x[0]) ** 2,
}


@pytest.mark.parametrize("name", sorted(KINKED))
def test_jit_hessian_through_kinks(name):
    from matdiff import hessian

    f = KINKED[name]
    jh = jit(hessian(f))
    rng = onp.random.default_rng(3)
    for _ in range(4):  # masks and signs change between calls: recomputed, not frozen
        x = rng.standard_normal(6)
        onp.testing.assert_allclose(jh(x), hessian(f)(x), rtol=1e-12, atol=1e-12)
    assert jh.trace_count == 1


def test_raw_numpy_on_a_sequence_of_staged_values_is_recorded():
    from matdiff import stop_gradient

    f = lambda x: x * onp.stack([stop_gradient(x), onp.ones(3)]).sum(axis=0)  # noqa: E731
    jf = jit(f)
    for x in (onp.array([1.0, -2.0, 3.0]), onp.array([0.5, 0.0, -1.0])):
        onp.testing.assert_allclose(jf(x), f(x))


# ---------------------------------------------------------------- linear algebra under jit(grad)


def _matrix(rng, shape):
    return rng.standard_normal(shape) + 3.0 * onp.eye(*shape)


@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (3, 4)])
def test_jit_grad_through_qr(shape, mode):
    def f(A):
        out = np.linalg.qr(A, mode=mode)
        if mode == "r":
            return np.sum(out**2)
        q, r = out
        return np.sum(q[:, :1] * 2.0) + np.sum(r**3)

    jg = jit(grad(f))
    rng = onp.random.default_rng(0)
    for _ in range(2):
        A = _matrix(rng, shape)
        onp.testing.assert_allclose(jg(A), grad(f)(A), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("bshape", [(5,), (5, 2)])
def test_jit_grad_through_lstsq(bshape):
    rng = onp.random.default_rng(1)
    b = rng.standard_normal(bshape)

    def f(A):
        x, res, rank, s = np.linalg.lstsq(A, b)
        return np.sum(x**2) + np.sum(res) + np.sum(s)

    jg = jit(grad(f))
    for _ in range(2):
        A = rng.standard_normal((5, 3))
        onp.testing.assert_allclose(jg(A), grad(f)(A), rtol=1e-10, atol=1e-10)
    A[:, 2] = A[:, 0]  # the rank drops: the compiled branch no longer applies
    onp.testing.assert_allclose(jg(A), grad(f)(A), rtol=1e-10, atol=1e-10)
    assert jg.trace_count == 1 and jg.fallback_count == 1


def test_lstsq_residuals_of_traced_values_are_refused_by_name():
    from matdiff import stop_gradient
    from matdiff.compile import StagingError

    b = onp.ones(4)
    f = lambda A: np.sum(A) * onp.linalg.lstsq(stop_gradient(A), b)[1]  # noqa: E731
    with pytest.raises(StagingError, match="residuals of numpy.linalg.lstsq .* rank"):
        jit(f)(onp.eye(4, 3))


@pytest.mark.parametrize("name", ["sqrtm", "logm"])
def test_jit_grad_through_principal_matrix_functions(name):
    import matdiff.scipy.linalg as sla

    fn = getattr(sla, name)
    f = lambda A: np.sum(fn(A) ** 2)  # noqa: E731
    jg = jit(grad(f))
    A = onp.array([[2.0, 0.3, 0.1], [0.2, 3.0, 0.4], [0.1, 0.5, 4.0]])
    for B in (A, A + 0.5, A.T):
        onp.testing.assert_allclose(jg(B), grad(f)(B), rtol=1e-9, atol=1e-9)
    # Off the domain the compiled check fails and the function runs as itself: it raises.
    import warnings

    with pytest.raises(ValueError, match="negative real axis"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SciPy warns that the matrix is singular
        jg(onp.diag([0.0, 1.0, 4.0]))
    assert jg.trace_count == 1 and jg.fallback_count == 1
