"""autograd's operator names, with autograd's signatures and meanings.

Each is checked against its mathematical definition and, where autograd is installed,
against autograd itself on the same inputs.
"""

import numpy
import pytest

import matdiff as md
import matdiff.numpy as np

rng = numpy.random.default_rng(0)
x3 = rng.standard_normal(3)
v3 = rng.standard_normal(3)
A = rng.standard_normal((3, 3))


def f(x, y=2.0):
    return np.sum(np.sin(x) * x**2) * y + x @ A @ x


def H(x, y=2.0):
    s, c = numpy.sin(x), numpy.cos(x)
    return numpy.diag(y * (2 * s + 4 * x * c - x**2 * s)) + A + A.T


def test_make_vjp_and_make_jvp():
    vjp_fn, ans = md.make_vjp(f)(x3)
    assert ans == pytest.approx(f(x3))
    numpy.testing.assert_allclose(vjp_fn(1.0), md.grad(f)(x3))
    ans2, t = md.make_jvp(f)(x3)(v3)
    assert t == pytest.approx(md.grad(f)(x3) @ v3)
    vjp_y, _ = md.make_vjp(f, argnum=1)(x3, 3.0)
    assert vjp_y(1.0) == pytest.approx(f(x3, 1.0) - x3 @ A @ x3)


def test_make_jvp_reversemode_transposes_the_vjp():
    g = lambda x: np.sin(x) * (A @ x)
    expected = md.jvp(g, (x3,), (v3,))[1]
    numpy.testing.assert_allclose(md.make_jvp_reversemode(g)(x3)(v3), expected, rtol=1e-12)


def test_make_hvp_hessian_vector_and_tensor_products():
    hvp_fn, g = md.make_hvp(f)(x3)
    numpy.testing.assert_allclose(g, md.grad(f)(x3))
    numpy.testing.assert_allclose(hvp_fn(v3), H(x3) @ v3, rtol=1e-12)
    numpy.testing.assert_allclose(md.hessian_vector_product(f)(x3, v3), H(x3) @ v3, rtol=1e-12)
    numpy.testing.assert_allclose(md.hessian_tensor_product(f)(x3, v3), H(x3) @ v3, rtol=1e-12)


def test_tensor_jacobian_product():
    g = lambda x: np.sin(x)[:, None] * x[None, :]
    T = rng.standard_normal((3, 3))
    expected = numpy.tensordot(T, md.jacobian(g)(x3), axes=2)
    numpy.testing.assert_allclose(md.tensor_jacobian_product(g)(x3, T), expected, rtol=1e-12)
    numpy.testing.assert_allclose(md.vector_jacobian_product(g)(x3, T), expected, rtol=1e-12)


def test_make_ggnvp():
    out = lambda w: np.tanh(A @ w)
    J = md.jacobian(out)(x3)
    # default g(y) = ½ Σ y² has Hessian I, so the GGN is Jᵀ J
    numpy.testing.assert_allclose(md.make_ggnvp(out)(x3)(v3), J.T @ J @ v3, rtol=1e-12)
    g = lambda y: np.sum(np.exp(y))
    Hg = numpy.diag(numpy.exp(numpy.tanh(A @ x3)))
    numpy.testing.assert_allclose(md.make_ggnvp(out, g)(x3)(v3), J.T @ Hg @ J @ v3, rtol=1e-12)


def test_grad_and_aux_deriv_grad_named():
    g, aux = md.grad_and_aux(lambda x: (np.sum(x**2), "aux"))(x3)
    numpy.testing.assert_allclose(g, 2 * x3)
    assert aux == "aux"
    assert md.deriv(lambda x: x**3)(2.0) == 12.0
    numpy.testing.assert_allclose(md.deriv(np.sin)(x3), numpy.cos(x3))
    assert md.grad_named(f, "y")(x3, 2.0) == pytest.approx(f(x3, 1.0) - x3 @ A @ x3)


def test_multigrad_dict():
    def fun(a, b, c=3.0):
        return a * b * c

    g = md.multigrad_dict(fun)(2.0, b=5.0)
    assert list(g) == ["a", "b", "c"]
    assert dict(g) == {"a": 15.0, "b": 6.0, "c": 10.0}


def test_same_results_as_autograd():
    ag = pytest.importorskip("autograd", reason="autograd is not installed to compare against")
    anp = pytest.importorskip("autograd.numpy")
    agd = pytest.importorskip("autograd.differential_operators")

    def af(x, y=2.0):
        return anp.sum(anp.sin(x) * x**2) * y + anp.dot(anp.dot(x, A), x)

    pairs = [
        (md.grad(f)(x3), ag.grad(af)(x3)),
        (md.grad(f, 1)(x3, 3.0), ag.grad(af, 1)(x3, 3.0)),
        (md.make_hvp(f)(x3)[0](v3), ag.make_hvp(af)(x3)[0](v3)),
        (md.hessian_tensor_product(f)(x3, v3), ag.hessian_tensor_product(af)(x3, v3)),
        (md.make_ggnvp(np.tanh)(x3)(v3), ag.make_ggnvp(anp.tanh)(x3)(v3)),
        (md.deriv(np.sin)(x3), ag.deriv(anp.sin)(x3)),
        (md.jacobian(np.sin)(x3), ag.jacobian(anp.sin)(x3)),
        (md.hessian(f)(x3), ag.hessian(af)(x3)),
        (md.elementwise_grad(np.tanh)(x3), ag.elementwise_grad(anp.tanh)(x3)),
        (
            md.holomorphic_grad(lambda z: z**3)(1.0 + 2j),
            ag.holomorphic_grad(lambda z: z**3)(1.0 + 2j),
        ),
        (md.grad(lambda z: np.abs(z) ** 2)(1.0 + 2j), ag.grad(lambda z: anp.abs(z) ** 2)(1.0 + 2j)),
        (md.make_jvp(f)(x3)(v3)[1], ag.make_jvp(af)(x3)(v3)[1]),
        (md.make_vjp(f)(x3)[0](2.0), ag.make_vjp(af)(x3)[0](2.0)),
        (md.make_jvp_reversemode(f)(x3)(v3), agd.make_jvp_reversemode(af)(x3)(v3)),
    ]
    for ours, theirs in pairs:
        numpy.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
