"""Jacobians, Hessians and Hessian-vector products: shapes, values, memory, batching."""

import tracemalloc

import numpy
import pytest

import matdiff.numpy as np
from matdiff import grad, hessian, hvp, jacfwd, jacobian, jacrev, jvp, vjp
from matdiff.test_util import check_grads

rng = numpy.random.default_rng(0)
A = rng.standard_normal((4, 4))
M = rng.standard_normal((3, 4))
x4 = rng.standard_normal(4)


@pytest.mark.parametrize("jac", [jacobian, jacfwd], ids=["rev", "fwd"])
def test_jacobian_of_elementwise_exp_is_diagonal(jac):
    z = numpy.array([0.1, -0.4, 1.3])
    numpy.testing.assert_allclose(jac(np.exp)(z), numpy.diag(numpy.exp(z)))


def test_vjp_through_exp_never_builds_the_jacobian():
    # A dense 10^6 x 10^6 Jacobian would take 8 TB; the VJP stays O(n).
    n = 10**6
    z = numpy.linspace(-1.0, 1.0, n)
    tracemalloc.start()
    out, f_vjp = vjp(np.exp, z)
    (ct,) = f_vjp(numpy.ones(n))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    numpy.testing.assert_allclose(ct, numpy.exp(z))
    assert peak < 20 * 8 * n  # a few vectors of n floats, nowhere near n^2


@pytest.mark.parametrize("jac", [jacobian, jacrev, jacfwd], ids=["jacobian", "jacrev", "jacfwd"])
def test_jacobian_shape_is_out_shape_plus_in_shape(jac):
    X = rng.standard_normal((2, 3))
    J = jac(lambda X: np.matmul(X, numpy.ones((3, 5))))(X)
    assert J.shape == (2, 5, 2, 3)
    # d(X 1)_{ij} / dX_{kl} = delta_ik
    assert J[1, 4, 1, 2] == 1.0 and J[0, 4, 1, 2] == 0.0
    assert jac(lambda x: np.sum(x**2))(x4).shape == (4,)
    assert jac(lambda s: s * numpy.ones((2, 2)))(2.0).shape == (2, 2)


JAC_FUNS = [
    ("matvec", lambda x: np.matmul(M, np.sin(x))),
    ("broadcast", lambda x: x[:, None] * x[None, :]),
    ("reduce", lambda x: np.sum(np.exp(x) * x, axis=0, keepdims=True)),
    ("index", lambda x: x[numpy.array([3, 0, 3])] ** 2 + x[1:3].sum()),
    ("stack", lambda x: np.stack([x, x**2], axis=-1)),
]


@pytest.mark.parametrize("name,f", JAC_FUNS, ids=[f[0] for f in JAC_FUNS])
def test_forward_and_reverse_jacobians_agree(name, f):
    numpy.testing.assert_allclose(jacfwd(f)(x4), jacobian(f)(x4), rtol=1e-12, atol=1e-12)


def test_jacobians_of_pytrees():
    f = lambda p: {"y": p[0] * p[1], "z": np.sum(p[0])}
    p = (numpy.array([1.0, 2.0]), 3.0)
    for jac in (jacobian, jacfwd):
        J = jac(f)(p)
        numpy.testing.assert_allclose(J["y"][0], 3.0 * numpy.eye(2))
        numpy.testing.assert_allclose(J["y"][1], [1.0, 2.0])
        numpy.testing.assert_allclose(J["z"][0], [1.0, 1.0])
        assert J["z"][1] == 0.0


def test_jacfwd_argnums_tuple():
    J = jacfwd(lambda a, b: a * b, argnums=(0, 1))(numpy.array([1.0, 2.0]), 3.0)
    numpy.testing.assert_allclose(J[0], 3.0 * numpy.eye(2))
    numpy.testing.assert_allclose(J[1], [1.0, 2.0])


HESS_FUNS = [
    ("quadratic", lambda x: x @ A @ x, lambda x: A + A.T),
    (
        "logistic",
        lambda x: np.sum(np.log(1 + np.exp(M @ x))),
        lambda x: M.T @ (((s := 1 / (1 + numpy.exp(-M @ x))) * (1 - s))[:, None] * M),
    ),
    ("cubic", lambda x: np.sum(x**3), lambda x: numpy.diag(6 * x)),
]


@pytest.mark.parametrize("name,f,H", HESS_FUNS, ids=[h[0] for h in HESS_FUNS])
def test_hessian_matches_closed_form_and_hvp_identities(name, f, H):
    h = hessian(f)(x4)
    numpy.testing.assert_allclose(h, H(x4), rtol=1e-10, atol=1e-10)
    numpy.testing.assert_allclose(hessian(f, chunk_size=3)(x4), h, rtol=1e-12, atol=1e-12)
    for v in (numpy.ones(4), rng.standard_normal(4)):
        hv = hvp(f, x4, v)
        numpy.testing.assert_allclose(hv, h @ v, rtol=1e-10, atol=1e-10)
        via_grad = grad(lambda x, v=v: np.sum(grad(f)(x) * v))(x4)
        numpy.testing.assert_allclose(hv, via_grad, rtol=1e-10, atol=1e-10)


def test_hessian_of_vector_valued_function_is_m_by_n_by_n():
    f = lambda x: np.stack([np.sum(x**2), x[0] * x[1], np.sum(np.sin(x))])
    H = hessian(f)(x4)
    assert H.shape == (3, 4, 4)
    numpy.testing.assert_allclose(H[0], 2 * numpy.eye(4))
    e = numpy.zeros((4, 4))
    e[0, 1] = e[1, 0] = 1.0
    numpy.testing.assert_allclose(H[1], e)
    numpy.testing.assert_allclose(H[2], numpy.diag(-numpy.sin(x4)))


def test_hessian_of_matrix_argument():
    X = rng.standard_normal((2, 3))
    H = hessian(lambda X: np.sum(X**3))(X)
    assert H.shape == (2, 3, 2, 3)
    numpy.testing.assert_allclose(H.reshape(6, 6), numpy.diag(6 * X.ravel()))


def test_hessian_with_indexing_uses_scatter_and_agrees_with_reverse_over_reverse():
    f = lambda x: np.sum(x[numpy.array([0, 2, 2])] ** 3) * x[1] + x[:2] @ x[2:]
    numpy.testing.assert_allclose(hessian(f)(x4), jacobian(jacobian(f))(x4), rtol=1e-12, atol=1e-12)


def test_hessian_is_differentiable_again():
    f = lambda x: np.sum(np.sin(x) * x**2)
    third = jacobian(hessian(f))(x4)
    assert third.shape == (4, 4, 4)
    # d^3/dx^3 (x^2 sin x) = -x^2 cos x - 6 x sin x + 6 cos x, on the diagonal only
    d3 = -(x4**2) * numpy.cos(x4) - 6 * x4 * numpy.sin(x4) + 6 * numpy.cos(x4)
    numpy.testing.assert_allclose(numpy.einsum("iii->i", third), d3, rtol=1e-10)
    numpy.testing.assert_allclose(third.sum(), d3.sum(), rtol=1e-10)
    check_grads(hessian(f), modes=("rev", "fwd"), order=1)(x4)


def test_hvp_reads_an_integer_direction_as_float():
    f = lambda x: np.sum(x**3)
    hv = hvp(f, x4, numpy.array([1, 0, 0, 0], dtype=numpy.int8))
    assert hv.dtype == numpy.float64
    numpy.testing.assert_allclose(hv, [6 * x4[0], 0, 0, 0])


def test_hvp_with_pytrees():
    f = lambda p: np.sum(p["a"] ** 2 * p["b"])
    p = {"a": numpy.array([1.0, 2.0]), "b": 3.0}
    v = {"a": numpy.array([1.0, 0.0]), "b": 1.0}
    hv = hvp(f, p, v)
    # H = [[2b, 0, 2a0], [0, 2b, 2a1], [2a0, 2a1, 0]]
    numpy.testing.assert_allclose(hv["a"], [6.0 + 2.0, 4.0])
    assert hv["b"] == pytest.approx(2.0)


_HVP_CASES = {
    "logistic": lambda w: np.sum(np.log1p(np.exp(-(M @ w) * numpy.array([1.0, -1.0, 1.0])))),
    "quartic": lambda x: np.sum(x**4) * np.sum(np.sin(x)),
    "matrix": lambda x: np.trace(np.reshape(x, (2, 2)) @ np.reshape(x, (2, 2)).T @ A[:2, :2]),
    "linear": lambda x: np.sum(A @ x),
}


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32])
@pytest.mark.parametrize("name", list(_HVP_CASES))
def test_hvp_of_real_inputs_agrees_with_the_hessian_and_forward_over_reverse(name, dtype):
    f = _HVP_CASES[name]
    x, v = x4.astype(dtype), rng.standard_normal(4).astype(dtype)
    hv = hvp(f, x, v)
    fwd = jvp(grad(f), (x,), (v,))[1]
    assert hv.dtype == fwd.dtype and hv.shape == (4,)
    # float32 where the function computes in float32: a few roundings of about 6e-8 each.
    rtol = 1e-12 if hv.dtype == numpy.float64 else 1e-5
    numpy.testing.assert_allclose(hv, fwd, rtol=rtol, atol=rtol)
    numpy.testing.assert_allclose(hv, hessian(f)(x) @ v, rtol=rtol, atol=rtol)


def test_hvp_of_a_linear_function_is_zero_without_a_warning(recwarn):
    numpy.testing.assert_array_equal(hvp(lambda x: np.sum(A @ x), x4, x4), numpy.zeros(4))
    assert not [w for w in recwarn if "does not depend" in str(w.message)]


def test_hvp_of_a_constant_function_warns_as_grad_does():
    with pytest.warns(UserWarning, match="grad: the output of <lambda> does not depend on the"):
        numpy.testing.assert_array_equal(hvp(lambda x: 3.0, x4, x4), numpy.zeros(4))


def test_hvp_of_a_complex_input_goes_forward_over_reverse():
    f = lambda z: np.sum(np.abs(z) ** 2)
    z = numpy.array([1.0 + 2.0j, -0.5j])
    d = numpy.array([1.0 + 0.0j, 1.0j])
    numpy.testing.assert_allclose(hvp(f, z, d), jvp(grad(f), (z,), (d,))[1], rtol=1e-14)


def test_jvp_of_jacfwd_and_chunks_concatenate():
    f = lambda x: np.sin(x) * x[0]
    J = jacfwd(f, chunk_size=3)(x4)
    numpy.testing.assert_allclose(J, jacfwd(f)(x4), rtol=1e-14)
    numpy.testing.assert_allclose(J, jacobian(f)(x4), rtol=1e-12, atol=1e-15)
    t = jvp(jacfwd(f), (x4,), (numpy.ones(4),))[1]
    numpy.testing.assert_allclose(t, jvp(jacobian(f), (x4,), (numpy.ones(4),))[1], rtol=1e-12)


def test_hessian_of_pytree_argument_nests_like_jax():
    f = lambda p: np.sum(p["a"] ** 2 * p["b"])
    H = hessian(f)({"a": numpy.array([1.0, 2.0]), "b": 3.0})
    numpy.testing.assert_allclose(H["a"]["a"], 6.0 * numpy.eye(2))
    numpy.testing.assert_allclose(H["a"]["b"], [2.0, 4.0])
    numpy.testing.assert_allclose(H["b"]["a"], [2.0, 4.0])
    assert H["b"]["b"] == 0.0
    H2 = hessian(lambda a, b: np.sum(a**2) * b, argnums=(0, 1))(numpy.array([1.0, 2.0]), 3.0)
    numpy.testing.assert_allclose(H2[0][1], [2.0, 4.0])


def test_chunk_size_bounds_the_memory_of_the_directions():
    # All 4000 directions at once would be a 4000 x 4000 identity (128 MB) plus tangents
    # of that size; 500 at a time stay near 500 x 4000 (16 MB) each.
    n = 4000
    x = numpy.linspace(0.0, 1.0, n)
    f = lambda x: np.sum(np.sin(x))
    tracemalloc.start()
    g = jacfwd(f, chunk_size=500)(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    numpy.testing.assert_allclose(g, numpy.cos(x), rtol=1e-12)
    assert peak < 64 * 2**20


def test_default_chunks_are_sized_once_then_remembered():
    passes = []

    def small(x):
        passes.append(1)
        return np.sum(np.sin(x) * x)

    x = numpy.linspace(0.0, 1.0, 100)
    h = hessian(small)
    H1 = h(x)
    assert len(passes) == 2  # 32 directions measure the intermediates, then the other 68
    passes.clear()
    H2 = h(x)
    assert len(passes) == 1  # remembered: all 100 directions in one pass
    numpy.testing.assert_allclose(H1, H2, rtol=1e-15)
    numpy.testing.assert_allclose(H1, numpy.diag(2 * numpy.cos(x) - x * numpy.sin(x)), atol=1e-13)

    big = numpy.ones((50, 1000))  # 5 10^4 elements per direction: about 10 fit in 4 MB

    def wide(x):
        passes.append(1)
        return np.sum(np.sin(x[:, None] * big))

    passes.clear()
    g = jacfwd(wide)
    g(x[:50])
    assert len(passes) == 1 + 2  # 32, then 18 in chunks of 10
    passes.clear()
    J = g(x[:50])
    assert len(passes) == 5
    numpy.testing.assert_allclose(J, jacobian(wide)(x[:50]), rtol=1e-12)


def test_chunked_hessian_is_differentiable_again():
    # 40 directions: a first chunk of 32 and then the rest, joined under an outer trace.
    x = numpy.linspace(-1.0, 1.0, 40)
    f = lambda x: np.sum(np.sin(x) ** 3)
    # trace of the Hessian: sum f''(x_i) with f = sin^3; its gradient is f'''(x_i)
    d3 = lambda x: -21 * numpy.sin(x) ** 2 * numpy.cos(x) + 6 * numpy.cos(x) ** 3
    tr = lambda x: np.sum(hessian(f)(x) * numpy.eye(40))
    numpy.testing.assert_allclose(grad(tr)(x), d3(x), rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(jvp(tr, (x,), (numpy.ones(40),))[1], d3(x).sum(), rtol=1e-10)
