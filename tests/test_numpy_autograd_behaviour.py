"""autograd's public behaviour of ``autograd.numpy``, restated for ``matdiff.numpy``.

An autograd user switches by changing one import: each test states what autograd does
and checks matdiff does the same (against autograd itself where it is installed).
"""

from __future__ import annotations

import importlib
import inspect
import types

import numpy as onp
import pytest

import matdiff
import matdiff.numpy as np
from matdiff import grad, jacobian
from matdiff.numpy._docs import numpy_doc
from matdiff.test_util import check_grads

autograd = pytest.importorskip("autograd")
anp = pytest.importorskip("autograd.numpy")


# ---------------------------------------------------------------- submodules


@pytest.mark.parametrize("name", ["random", "linalg", "fft"])
def test_submodules_import_as_modules(name):
    module = importlib.import_module(f"matdiff.numpy.{name}")
    assert isinstance(module, types.ModuleType)
    assert getattr(np, name) is module


def test_random_module_is_numpys_sampling():
    import matdiff.numpy.random as npr
    from matdiff.numpy.random import normal

    npr.seed(3)
    a = npr.randn(3)
    onp.random.seed(3)
    onp.testing.assert_array_equal(a, onp.random.randn(3))
    assert normal(size=(2, 2)).shape == (2, 2)
    assert isinstance(npr.default_rng(0), onp.random.Generator)
    assert npr.RandomState is onp.random.RandomState


# ---------------------------------------------------------------- lists of traced values


@pytest.mark.parametrize(
    "name", ["mean", "std", "var", "sum", "prod", "max", "min", "cumsum", "cumprod", "nansum"]
)
def test_reductions_of_a_list_of_traced_values(name):
    def f(m):
        return lambda x: m.sum(getattr(m, name)([x, 2.0 * x, 0.5]))

    assert grad(f(np))(1.5) == pytest.approx(autograd.grad(f(anp))(1.5), rel=1e-14)
    check_grads(f(np), modes=["fwd", "rev"], order=2)(1.5)


@pytest.mark.parametrize("name", ["median", "nanmean", "nanvar", "nanstd"])
def test_reductions_of_a_list_beyond_autograd(name):
    # autograd raises for these; matdiff takes the list as it takes it for mean.
    f = getattr(np, name)
    check_grads(lambda x: f([x, 2.0 * x, 0.5]), modes=["fwd", "rev"], order=2)(1.5)


def test_norm_of_a_list_of_traced_values():
    def vec(m):
        return lambda x: m.linalg.norm([x, 2.0 * x])

    def fro(m):
        return lambda x: m.linalg.norm([[x, 2.0 * x], [1.0, x]], ord="fro")

    for f in (vec, fro):
        assert grad(f(np))(1.5) == pytest.approx(autograd.grad(f(anp))(1.5), rel=1e-14)
        check_grads(f(np), modes=["fwd", "rev"], order=2)(1.5)
    assert grad(lambda x: np.linalg.vector_norm([x, 2.0 * x]))(1.5) == pytest.approx(5**0.5)


def test_list_along_an_axis():
    x = onp.array([1.0, 2.0, 4.0])
    onp.testing.assert_allclose(
        grad(lambda x: np.sum(np.std([x, 2.0 * x], axis=0)))(x),
        autograd.grad(lambda x: anp.sum(anp.std([x, 2.0 * x], axis=0)))(x),
    )


# ---------------------------------------------------------------- linalg.pinv


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 2)])
def test_pinv_matches_autograd(shape):
    a = onp.random.default_rng(0).standard_normal(shape)
    check_grads(np.linalg.pinv, modes=["fwd", "rev"], order=2)(a)
    onp.testing.assert_allclose(
        grad(lambda a: np.sum(np.linalg.pinv(a) ** 2))(a),
        autograd.grad(lambda a: anp.sum(anp.linalg.pinv(a) ** 2))(a),
        rtol=1e-10,
    )


# ---------------------------------------------------------------- joins with dtype=


@pytest.mark.parametrize("join", ["row_stack", "vstack", "hstack", "stack", "concatenate"])
def test_joins_take_dtype(join):
    f = getattr(np, join)
    x = onp.array([1.0, 2.0])
    y = f([x, 2.0 * x], dtype=onp.float32)
    assert y.dtype == onp.float32
    with pytest.warns(DeprecationWarning) if join == "row_stack" else _nothing():
        onp.testing.assert_array_equal(y, getattr(onp, join)([x, 2.0 * x], dtype=onp.float32))
    g = grad(lambda x: np.sum(f([x, 2.0 * x], dtype=float) ** 2))(x)
    onp.testing.assert_allclose(g, 10.0 * x)
    check_grads(lambda x: f([x, 2.0 * x], dtype=float), modes=["fwd", "rev"], order=2)(x)


def test_join_dtype_keeps_numpys_casting_rule():
    x = onp.array([1.5, 2.0])
    with pytest.raises(TypeError, match="cannot cast array data from dtype\\('float64'\\) to "
                       "dtype\\('int64'\\) according to the rule 'same_kind'"):  # fmt: skip
        grad(lambda x: np.sum(np.vstack([x, x], dtype=int)))(x)
    assert np.vstack([x], dtype=int, casting="unsafe").dtype == int


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---------------------------------------------------------------- size-1 results


@pytest.mark.parametrize(
    "make, arg",
    [
        (lambda m: lambda x: m.sin(x), onp.array([[0.5]])),
        (lambda m: lambda v: m.reshape(m.sum(v**2), (1, 1)), onp.array([0.3, 1.2])),
        (lambda m: lambda s: m.reshape(s * m.ones(1), (1, 1)), 0.7),
        (lambda m: lambda x: m.sum(x**2), onp.array([[0.5]])),
    ],
)
def test_jacobian_of_size_one_shapes_matches_autograd(make, arg):
    ours = jacobian(make(np))(arg)
    theirs = autograd.jacobian(make(anp))(arg)
    assert onp.shape(ours) == onp.shape(theirs)
    onp.testing.assert_allclose(ours, theirs, rtol=1e-14)


def test_grad_of_a_one_by_one_result_matches_autograd():
    from autograd.scipy.special import logsumexp as alse

    from matdiff.scipy.special import logsumexp

    v = onp.array([0.3, 1.2])

    def out(m):
        return lambda v: m.reshape(m.sum(v**2), (1, 1))

    onp.testing.assert_allclose(grad(out(np))(v), autograd.grad(out(anp))(v))
    ours = grad(lambda v: logsumexp(np.reshape(v, (1, 2)), axis=1, keepdims=True))(v)
    theirs = autograd.grad(lambda v: alse(v.reshape(1, 2), axis=1, keepdims=True))(v)
    onp.testing.assert_allclose(ours, theirs, rtol=1e-14)
    jac = jacobian(lambda v: logsumexp(np.reshape(v, (1, 2)), axis=1, keepdims=True))(v)
    assert jac.shape == (1, 1, 2)


# ---------------------------------------------------------------- names and documentation


def _public_functions():
    for prefix, mine, theirs in [
        ("", np, onp),
        ("linalg.", np.linalg, onp.linalg),
        ("fft.", np.fft, onp.fft),
    ]:
        for name in dir(mine):
            if name.startswith("_"):
                continue
            f = getattr(mine, name)
            g = getattr(theirs, name, None)
            if not callable(f) or isinstance(f, (type, types.ModuleType)) or f is g:
                continue
            if g is None or not callable(g) or isinstance(g, type):
                continue
            yield prefix + name, f, g


PUBLIC = list(_public_functions())


def test_the_public_functions_are_found():
    assert len(PUBLIC) > 250
    names = {name for name, _, _ in PUBLIC}
    assert {"sum", "sin", "amax", "max", "linalg.eigh", "linalg.outer", "fft.fft"} <= names


@pytest.mark.parametrize("name, f, g", PUBLIC, ids=[p[0] for p in PUBLIC])
def test_wrapped_functions_keep_numpys_name_and_doc(name, f, g):
    assert f.__name__ == g.__name__
    same = inspect.cleandoc(f.__doc__) == inspect.cleandoc(g.__doc__)
    # Importing scipy.special rewrites numpy.sinc's docstring after matdiff copied it.
    assert same or numpy_doc(g) in f.__doc__ or g is onp.sinc
    first = next(line for line in (g.__doc__ or "").splitlines() if line.strip())
    assert first.strip() in f.__doc__


def test_matdiffs_own_documentation_comes_first():
    assert np.std.__doc__.startswith("``numpy.std``: ``sqrt(var(a, ...))``")
    assert "NumPy's documentation of ``numpy.std``:" in np.std.__doc__
    assert "Compute the standard deviation along the specified axis." in np.std.__doc__
    # NumPy's examples are for NumPy: doctest skips them, and matdiff's own still run.
    assert ">>> np.std(a)  # doctest: +SKIP" in np.std.__doc__
    assert "\n>>> grad(lambda x: np.std(x))(np.array([1.0, 3.0]))\n" in np.std.__doc__


def test_names_shared_in_matdiff_but_not_in_numpy_are_separate_functions():
    assert (np.amax.__name__, np.max.__name__) == ("amax", "max")
    assert (np.radians.__name__, np.deg2rad.__name__) == ("radians", "deg2rad")
    assert np.linalg.outer.__name__ == "outer" and np.linalg.outer is not np.outer
    x = onp.array([[1.0, 3.0], [2.0, 0.5]])
    onp.testing.assert_array_equal(grad(lambda x: np.amax(x))(x), grad(lambda x: np.max(x))(x))
    # The raw NumPy function on a traced value reaches the same wrapper.
    onp.testing.assert_array_equal(grad(lambda x: onp.amax(x))(x), [[0, 1], [0, 0]])
    assert matdiff.numpy.remainder.__name__ == "remainder"
