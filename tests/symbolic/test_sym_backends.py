"""Generated code on other array libraries: Dask and ``array_api_strict`` against NumPy.

Every row of the identity table runs through ``Derivative.function()`` on both: the
values keep their type (Dask stays lazy), agree with the NumPy code's, and a function the
library lacks is refused by name before anything runs.
"""

import numpy as np
import pytest
from sym_identity_table import GRADIENTS, HESSIANS, JACOBIANS

from matdiff import symbolic as sym
from matdiff.symbolic import SymbolicError
from matdiff.symbolic.check import _sizes, domains, random_inputs

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
xs = pytest.importorskip("array_api_strict")
pytest.importorskip("array_api_compat")

ROWS = [(*r, 1) for r in GRADIENTS + JACOBIANS] + [(*r, 2) for r in HESSIANS]

#: What each library lacks, by the name the generated code calls it by: these rows must
#: be refused with that name, every other row must run.
LACKS = {"dask": ("linalg.det", "linalg.slogdet"), "strict": ()}


def _to(backend: str, value):
    """``value`` as an array of ``backend``; Python floats become 0-d arrays too."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # an integer exponent of a matrix power
    v = np.asarray(value, dtype=np.float64)
    if backend == "strict":
        return xs.asarray(v)
    # rows in chunks of two (so products cross chunk boundaries); a square matrix is one
    # chunk, which Dask's LU-based inv needs
    if v.ndim == 2 and v.shape[0] == v.shape[1]:
        chunks = -1
    else:
        chunks = tuple([2] + [-1] * (v.ndim - 1))
    return da.from_array(v, chunks=chunks)


def _from(backend: str, value):
    if backend == "dask":
        assert isinstance(value, da.Array), type(value)  # lazy until asked
        with dask.config.set(scheduler="threads"):
            return np.asarray(value.compute())
    assert isinstance(value, xs._array_object.Array), type(value)
    return np.asarray(value)


def _ids(rows):
    return [f"{r[0]} d{r[1]}^{r[-1]}" for r in rows]


@pytest.mark.parametrize("backend", ["dask", "strict"])
@pytest.mark.parametrize("expr,wrt,kinds,expected,src,order", ROWS, ids=_ids(ROWS))
def test_identity_table_on_other_arrays(backend, expr, wrt, kinds, expected, src, order):
    d = sym.derivative(expr, wrt=wrt, order=order, kinds=kinds)
    inputs = random_inputs(d, np.random.default_rng(3), _sizes(d), domains(d.expr))
    value, deriv = d.function()(**inputs)
    arrays = {k: _to(backend, v) for k, v in inputs.items()}
    lacking = [f for f in LACKS[backend] if f"_xp.{f}(" in d.array_api_source]
    if lacking:
        with pytest.raises(SymbolicError, match=rf"calls {lacking[0]}\b.*dask\.array"):
            d.function()(**arrays)
        return
    got_value, got_deriv = d.function()(**arrays)
    # the same operations in the same order on the same float64 inputs: only the
    # summation order inside a library's reductions and products may differ
    assert np.allclose(_from(backend, got_value), value, rtol=1e-10, atol=1e-12)
    assert np.allclose(_from(backend, got_deriv), deriv, rtol=1e-10, atol=1e-12)


def _logistic():
    return sym.derivative("sum(log(1 + exp(-y.*(X*w))))", wrt="w", order=2)


def test_logistic_hessian_on_dask_rows_stays_lazy_and_never_forms_n_by_n():
    from dask.callbacks import Callback

    h = _logistic()
    code = h.array_api_source
    assert "eye" not in code and "[:, None]" not in code  # rows scaled, no diag(v)
    rng = np.random.default_rng(0)
    n, chunk = 4000, 500
    X = rng.normal(size=(n, 4))
    y = np.sign(rng.normal(size=n))
    w = rng.normal(size=4)
    value, H = h.function()(y=y, X=X, w=w)
    Xd, yd = da.from_array(X, chunks=(chunk, 4)), da.from_array(y, chunks=chunk)
    got_value, got_H = h.function()(y=yd, X=Xd, w=w)
    assert isinstance(got_H, da.Array) and isinstance(got_value, da.Array)
    sizes = []

    class Largest(Callback):
        def _posttask(self, key, result, dsk, state, worker_id):
            sizes.append(getattr(result, "size", 1))

    with Largest(), dask.config.set(scheduler="sync"):
        got = got_H.compute()
    # no task made an array larger than one chunk of X: never an n x n diag(v)
    assert max(sizes) <= chunk * 4
    assert np.allclose(got, H, rtol=1e-10)
    with dask.config.set(scheduler="threads"):
        assert np.isclose(got_value.compute(), value, rtol=1e-12)


def test_namespace_code_is_cached_per_library():
    h = _logistic()
    f = h.function()
    rng = np.random.default_rng(1)
    X = xs.asarray(rng.normal(size=(6, 2)))
    y, w = xs.asarray(rng.normal(size=6)), xs.asarray(rng.normal(size=2))
    f(y=y, X=X, w=w)
    f(y=y, X=X, w=w)
    assert len(h._on_namespace) == 1


def test_mixing_two_foreign_libraries_is_refused_by_name():
    f = sym.derivative("x'*A*x", wrt="x").function()
    with pytest.raises(SymbolicError, match=r"derivative of \"x'\*A\*x\": Multiple namespaces"):
        f(x=xs.asarray(np.ones(2)), A=da.ones((2, 2)))


def test_no_closed_form_is_numpy_only():
    d = sym.derivative("X*X", wrt="X", order=2)
    with pytest.raises(SymbolicError, match=r"has no closed form.*call function\(\) with NumPy"):
        d.function()(X=xs.asarray(np.eye(2)))


def test_symbolic_matrix_power_exponent_is_numpy_only():
    kinds = {"k": "scalar", "a": "vector", "b": "vector"}
    d = sym.derivative("a'*X^k*b", wrt="X", kinds=kinds)
    arrays = {"a": xs.ones(2), "b": xs.ones(2), "X": xs.eye(2)}
    with pytest.raises(SymbolicError, match=r"symbolic exponent.*NumPy arrays only"):
        d.function()(k=2, **arrays)


def test_matrix_power_with_a_number_runs_on_the_namespace():
    d = sym.derivative("tr(X^3)", wrt="X")
    X = np.arange(4.0).reshape(2, 2) / 4
    _, want = d.function()(X=X)
    _, got = d.function()(X=xs.asarray(X))
    assert np.allclose(np.asarray(got), want, rtol=1e-12)


def test_kron_and_diag_without_numpy_only_functions():
    for text, wrt, kinds in [
        ("kron(A, B)*x", "x", None),
        ("diag(x)*A*y", "x", {"y": "vector"}),
        ("sum(diag(X))", "X", None),
        ("a*b'", "a", {"a": "vector", "b": "vector"}),
    ]:
        d = sym.derivative(text, wrt=wrt, kinds=kinds)
        code = d.array_api_source
        for numpy_only in ("_xp.kron", "_xp.diag(", "_xp.outer", "_xp.einsum", "_xp.trace"):
            assert numpy_only not in code, (text, code)
        inputs = random_inputs(d, np.random.default_rng(0), _sizes(d), domains(d.expr))
        value, deriv = d.function()(**inputs)
        got = d.function()(**{k: xs.asarray(v) for k, v in inputs.items()})
        assert np.allclose(np.asarray(got[0]), value, rtol=1e-12)
        assert np.allclose(np.asarray(got[1]), deriv, rtol=1e-12)


def test_code_for_each_backend():
    d = sym.derivative("sum(exp(X*w))", wrt="w")
    assert d.code("numpy").startswith("import numpy as _np\n\n\ndef derivative(X, w):")
    assert d.code("dask").startswith("import array_api_compat.dask.array as _xp\n")
    assert d.code("cupy").startswith("import array_api_compat.cupy as _xp\n")
    api = d.code("array-api")
    assert "_xp = array_namespace(X, w)" in api
    namespace: dict = {}
    exec(compile(api, "<test>", "exec"), namespace)  # noqa: S102
    X, w = np.ones((3, 2)), np.ones(2)
    _, grad = namespace["derivative"](xs.asarray(X), xs.asarray(w))
    assert np.allclose(np.asarray(grad), X.T @ np.exp(X @ w))


def test_code_for_an_unknown_backend_names_the_known_ones():
    d = sym.derivative("x'*x", wrt="x")
    with pytest.raises(SymbolicError, match="no code for the backend 'jax'; the backends: numpy"):
        d.code("jax")


def test_code_for_dask_refuses_what_dask_lacks():
    d = sym.derivative("logdet(X)", wrt="X")
    with pytest.raises(
        SymbolicError,
        match=r"calls linalg\.slogdet, which dask\.array \(array_api_compat\.dask\.array\) "
        r"does not have; evaluate it on NumPy arrays \(x\.compute\(\) of a Dask array, "
        r"cupy\.asnumpy\(x\) of a CuPy one\) or on arrays of another library that has it$",
    ):
        d.code("dask")


def test_dask_sizes_unknown_until_computed_are_not_refused():
    x = da.from_array(np.arange(1.0, 7.0), chunks=3)
    x = x[x > 2]  # four entries, which Dask does not know before computing
    assert np.isnan(x.shape[0])
    value, grad = sym.derivative("a*sum(exp(x))", wrt="x").function()(x=x, a=2.0)
    with dask.config.set(scheduler="sync"):
        assert np.allclose(grad.compute(), 2.0 * np.exp(np.arange(3.0, 7.0)))
        assert np.isclose(value.compute(), 2.0 * np.sum(np.exp(np.arange(3.0, 7.0))))
