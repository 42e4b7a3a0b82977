"""Generated NumPy code: layout, speed-minded forms, and safety."""

import numpy as np
import pytest

from matdiff import symbolic as sym
from matdiff.symbolic import SymbolicError


def test_logistic_hessian_avoids_diag_matrices():
    h = sym.derivative("sum(log(1 + exp(-y.*(X*w))))", wrt="w", order=2)
    # the text stays in textbook notation, with the sigmoid named once
    assert h.text == "t0 = exp(-y.*(X*w))\nt1 = t0./(1 + t0)\nX'*diag(t1.*y.^2.*(1 - t1))*X"
    src = h.numpy_source
    assert "_np.diag" not in src  # the code scales rows instead of building diag(t)
    assert "_np.exp" in src and src.count("_np.exp") == 1  # the temporary is shared
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    y = np.sign(rng.normal(size=50))
    w = rng.normal(size=4)
    _, H = h.function()(y=y, X=X, w=w)
    s = 1 / (1 + np.exp(-y * (X @ w)))
    assert np.allclose(H, X.T @ ((y**2 * s * (1 - s))[:, None] * X))


def test_matrix_factorization_hessian_writes_blocks_not_kron():
    h = sym.derivative("norm2(T - U*V')^2", wrt="U", order=2)
    assert h.text == "2*kron(V'*V, eye)"
    assert h.form == "kron"
    src = h.numpy_source
    code = src.split('"""')[-1]
    assert "kron" not in code and "eye" not in code  # blocks written directly
    assert "_T[_r, :, _r, :] +=" in code
    rng = np.random.default_rng(1)
    T, U, V = rng.normal(size=(3, 2)), rng.normal(size=(3, 4)), rng.normal(size=(2, 4))
    value, H = h.function()(T=T, U=U, V=V)
    assert H.shape == (3, 4, 3, 4)
    assert np.isclose(value, np.sum((T - U @ V.T) ** 2))
    # the numeric layout: H[i, j, k, l] = d^2 f / dU_ij dU_kl = 2 delta_ik (V'V)_jl
    assert np.allclose(H, 2 * np.einsum("ik,jl->ijkl", np.eye(3), V.T @ V))


def test_quadratic_form_code_is_plain():
    h = sym.derivative("x'*A*x", wrt="x", order=2)
    assert "_deriv = A + A.T" in h.numpy_source


def test_value_code_targets_a_given_module():
    d = sym.derivative("logdet(X) + sum(exp(x))", wrt="x")
    fast = d.value_source(fast=True)
    portable = d.value_source(fast=False)
    assert "slogdet" in fast and "slogdet" not in portable

    class Recorder:
        """A stand-in module that records which NumPy functions the code calls."""

        def __init__(self):
            self.calls = []
            self.linalg = self

        def __getattr__(self, name):
            self.calls.append(name)
            return getattr(np.linalg, name, None) or getattr(np, name)

    rec = Recorder()
    f = d.value_function(np_module=rec)
    X = np.eye(3) * 2
    x = np.zeros(3)
    assert np.isclose(f(X=X, x=x), np.log(8) + 3)
    assert {"log", "det", "exp", "sum"} <= set(rec.calls)


def test_function_keyword_and_positional_arguments():
    d = sym.derivative("x'*A*x", wrt="x")
    assert d.variables == ["x", "A"]
    A = np.arange(9.0).reshape(3, 3)
    x = np.ones(3)
    v1, g1 = d.function()(x=x, A=A)
    v2, g2 = d.function()(x, A)
    assert v1 == v2 == x @ A @ x
    assert np.allclose(g1, (A + A.T) @ x) and np.allclose(g1, g2)


def test_user_names_cannot_reach_builtins_or_shadow_the_module():
    # names that are Python builtins are fine as variables: the code only uses _np
    d = sym.derivative("exec*sum(np) + sum(print.*np)", wrt="np")
    value, grad = d.function()(exec=3.0, np=np.arange(2.0), print=np.array([1.0, 2.0]))
    assert np.allclose(grad, [4.0, 5.0])
    assert "__builtins__" not in d.numpy_source


@pytest.mark.parametrize("name", ["lambda", "class", "import", "match"])
def test_python_keywords_are_rejected(name):
    with pytest.raises(SymbolicError, match="reserved"):
        sym.derivative(f"sum({name})", wrt=name)


def test_no_user_text_in_generated_code():
    # a string-looking payload never survives parsing, so it cannot reach the code
    for payload in ["__import__('os')", "x; import os", "x'*A*x # comment", "x.__class__"]:
        with pytest.raises(SymbolicError):
            sym.derivative(payload, wrt="x")


def test_unsized_constant_needs_dims():
    d = sym.derivative("sum(x) + sum(vector(1))", wrt="x")
    with pytest.raises(SymbolicError, match="cannot be inferred"):
        d.value_source()
    d = sym.derivative("sum(x) + sum(vector(1))", wrt="x", dims={"len(vector)": 4})
    value, grad = d.function()(x=np.ones(2))
    assert value == 6.0 and np.allclose(grad, 1.0)


def test_latex():
    d = sym.derivative("x'*A*x", wrt="x")
    assert d.latex == r"\nabla_{x} f = \left(A + A^\top\right) x"
    assert d._repr_latex_() == "$$" + d.latex + "$$"
    d = sym.derivative("log(det(X))", wrt="X")
    assert d.latex == r"\nabla_{X} f = X^{-\top}"  # never a double superscript
    assert sym.derivative("tr(X^3)", wrt="X").latex == r"\nabla_{X} f = 3 X^\top X^\top"
    h = sym.derivative("sum(log(1 + exp(-y.*(X*w))))", wrt="w", order=2)
    assert r"\operatorname{diag}" in h.latex and r"\text{where }" in h.latex
    assert r"t_{0} = \exp" in h.latex and r"\left(1 + t_{0}\right)" in h.latex
