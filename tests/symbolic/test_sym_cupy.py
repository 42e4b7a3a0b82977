"""Generated symbolic code on a CUDA device: values stay CuPy arrays.

Marked ``cupy``: ``benchmarks/gpu_check.py`` runs these with ``pytest -m cupy``; without
CuPy or a CUDA device they skip with the reason.
"""

import numpy as np
import pytest
from sym_identity_table import GRADIENTS, HESSIANS

from matdiff import symbolic as sym
from matdiff.symbolic.check import _sizes, domains, random_inputs

pytestmark = pytest.mark.cupy


def _cupy():
    try:
        import cupy
    except ImportError as err:
        pytest.skip(f"CuPy is not installed ({err})")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device")
    except Exception as err:  # CuPy without a driver raises its own runtime error
        pytest.skip(f"no CUDA device ({type(err).__name__}: {err})")
    return cupy


def test_logistic_hessian_on_the_device():
    cp = _cupy()
    h = sym.derivative("sum(log(1 + exp(-y.*(X*w))))", wrt="w", order=2)
    rng = np.random.default_rng(0)
    X, y, w = rng.normal(size=(2000, 5)), np.sign(rng.normal(size=2000)), rng.normal(size=5)
    value, H = h.function()(y=y, X=X, w=w)
    got_value, got_H = h.function()(y=cp.asarray(y), X=cp.asarray(X), w=cp.asarray(w))
    assert isinstance(got_H, cp.ndarray) and isinstance(got_value, cp.ndarray)
    assert np.allclose(cp.asnumpy(got_H), H, rtol=1e-10)
    assert np.isclose(float(got_value), value, rtol=1e-12)


ROWS = [(*r, 1) for r in GRADIENTS] + [(*r, 2) for r in HESSIANS]


@pytest.mark.parametrize("expr,wrt,kinds,expected,src,order", ROWS, ids=[r[0] for r in ROWS])
def test_identity_table_on_the_device(expr, wrt, kinds, expected, src, order):
    cp = _cupy()
    d = sym.derivative(expr, wrt=wrt, order=order, kinds=kinds)
    inputs = random_inputs(d, np.random.default_rng(3), _sizes(d), domains(d.expr))
    value, deriv = d.function()(**inputs)
    on_device = {
        k: v if isinstance(v, int) else cp.asarray(np.asarray(v, dtype=np.float64))
        for k, v in inputs.items()
    }
    got_value, got_deriv = d.function()(**on_device)
    assert isinstance(got_deriv, cp.ndarray)
    # the same operations on the same float64 inputs; cuBLAS may sum in another order
    assert np.allclose(cp.asnumpy(got_value), value, rtol=1e-9, atol=1e-12)
    assert np.allclose(cp.asnumpy(got_deriv), deriv, rtol=1e-9, atol=1e-12)
