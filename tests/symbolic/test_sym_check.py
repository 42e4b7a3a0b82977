"""The numerical checker: it must catch wrong derivatives, and use the numeric engine."""

import importlib

import numpy as np
import pytest

from matdiff import symbolic as sym
from matdiff.symbolic import CheckError, SymbolicError, expr
from matdiff.symbolic.check import domains, finite_differences


def test_check_catches_a_wrong_gradient():
    d = sym.derivative("x'*A*x", wrt="x")
    A = d.parsed.variables["A"]
    x = d.parsed.variables["x"]
    # pretend the engine forgot the transpose: A*x instead of (A + A')*x
    d.result = expr.mul(expr.scale(2.0, A), x)
    d._function = None
    with pytest.raises(CheckError, match="disagrees with finite differences"):
        d.check(seed=0)


def test_check_catches_a_wrong_hessian_tensor():
    h = sym.derivative("log(det(X))", wrt="X", order=2)
    assert h.form == "tensor"
    term = h.terms[0]
    # flip the commutation: P*dX*Q instead of P*dX'*Q
    h.terms = [type(term)("kron", term.coef, term.left, term.right)]
    h._function = None
    with pytest.raises(CheckError):
        h.check(seed=0)


def test_check_catches_a_wrong_value():
    d = sym.derivative("sum(exp(x))", wrt="x")
    right = d.function()

    def wrong(**kw):  # generated code whose value is off by one
        value, deriv = right(**kw)
        return value + 1, deriv

    d._function = wrong
    with pytest.raises(CheckError, match="value error"):
        d.check(seed=0)


def test_report():
    r = sym.derivative("tr(A*X)", wrt="X").check(seed=3)
    assert r.fd_error < 1e-6
    assert r.order == 1 and r.wrt == "X"
    text = str(r)
    assert "finite differences" in text and "numeric engine" in text


def test_domains_pick_valid_inputs():
    e = sym.parse("log(det(X)) + sum(sqrt(x)) + sum(arcsin(y)) + tr(A)")
    assert domains(e) == {"X": "spd", "x": "positive", "y": "unit"}
    r = sym.derivative("log(det(X)) + sum(sqrt(x)) + sum(arcsin(y))", wrt="X").check(seed=0)
    X = r.inputs["X"]
    assert np.allclose(X, X.T) and np.all(np.linalg.eigvalsh(X) > 0)
    assert np.all(r.inputs["x"] > 0) and np.all(np.abs(r.inputs["y"]) < 1)


def test_finite_differences_layout():
    def value(x, A):
        return A @ x

    A = np.arange(6.0).reshape(2, 3)
    J = finite_differences(value, {"x": np.ones(3), "A": A}, "x", 1)
    assert J.shape == (2, 3) and np.allclose(J, A)


def test_check_gives_up_clearly_without_a_finite_value():
    d = sym.derivative("sum(log(-exp(x)))", wrt="x")
    with pytest.raises(SymbolicError, match="finite value"):
        d.check(seed=0)


def _engine():
    md = pytest.importorskip("matdiff", reason="the numeric engine is not importable")
    pytest.importorskip("matdiff.numpy", reason="matdiff.numpy is not on this branch yet")
    for name in ("grad", "jacobian", "hessian"):
        if not hasattr(md, name):
            pytest.skip(f"matdiff.{name} is not implemented yet")
    return md


@pytest.mark.parametrize(
    "expr_,wrt,order,kinds",
    [
        ("x'*A*x", "x", 1, None),
        ("x'*A*x", "x", 2, None),
        ("sum(log(1 + exp(-y.*(X*w))))", "w", 1, None),
        ("sum(log(1 + exp(-y.*(X*w))))", "w", 2, None),
        ("norm2(T - U*V')^2", "U", 1, None),
        ("norm2(T - U*V')^2", "U", 2, None),
        ("log(sum(exp(z))) - y'*z", "z", 1, None),
        ("A*tanh(B*x)", "x", 1, None),
        ("x'*S*x", "x", 1, {"S": "symmetric"}),
    ],
)
def test_numeric_engine_agrees(expr_, wrt, order, kinds):
    _engine()
    r = sym.derivative(expr_, wrt=wrt, order=order, kinds=kinds).check(seed=0)
    assert r.engine == "ok", r.engine
    assert r.engine_error < 1e-8


def test_numeric_engine_mismatch_raises(monkeypatch):
    md = _engine()
    real = md.grad
    # an engine that is off by a factor must be reported, not ignored
    monkeypatch.setattr(md, "grad", lambda f: lambda x: 2 * real(f)(x))
    with pytest.raises(CheckError, match="numeric engine"):
        sym.derivative("sum(exp(x))", wrt="x").check(seed=0)


def test_engine_missing_is_reported(monkeypatch):
    import matdiff.symbolic.check as chk

    def missing(name):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(importlib, "import_module", missing)
    r = sym.derivative("sum(exp(x))", wrt="x").check(seed=0)
    assert r.engine.startswith("skipped") and r.engine_error is None
    assert chk._numeric_engine()[0] is None
