"""``flatten_func`` (autograd's ``misc.flatten``): a function of a pytree as a function of one
flat vector, compared with autograd's on the same inputs."""

import autograd
import autograd.numpy as anp
import numpy
import pytest
from autograd.misc.flatten import flatten_func as a_flatten_func

import matdiff
import matdiff.numpy as np
from matdiff.misc import flatten_func
from matdiff.test_util import check_grads

EXAMPLE = {
    "w": numpy.array([[0.5, -1.0], [2.0, 0.25]]),
    "b": [numpy.array([0.1, 0.2]), 0.7],
    "c": (1.5,),
}


def model(np_, params, x):
    h = np_.tanh(np_.dot(params["w"], x) + params["b"][0]) * params["b"][1]
    return {"out": h * params["c"][0], "norm": np_.sum(h**2)}


def loss(np_, params, x):
    return np_.sum(model(np_, params, x)["out"] ** 2) + params["c"][0]


X = numpy.array([0.3, -0.6])


def test_signature_and_values_match_autograd():
    flat_f, unflatten, v = flatten_func(lambda p, x: model(np, p, x), EXAMPLE)
    a_flat_f, a_unflatten, a_v = a_flatten_func(lambda p, x: model(anp, p, x), EXAMPLE)
    numpy.testing.assert_array_equal(v, a_v)
    out, a_out = flat_f(v, X), a_flat_f(a_v, X)
    assert out.shape == a_out.shape == (3,)
    numpy.testing.assert_allclose(out, a_out, rtol=1e-15, atol=0)
    shifted = v + numpy.arange(v.size)
    ours, theirs = unflatten(shifted), a_unflatten(shifted)
    assert ours.keys() == theirs.keys()
    numpy.testing.assert_array_equal(ours["w"], theirs["w"])
    numpy.testing.assert_array_equal(ours["b"][0], theirs["b"][0])
    assert float(ours["b"][1]) == float(theirs["b"][1])
    assert float(ours["c"][0]) == float(theirs["c"][0])
    assert isinstance(ours["b"], list) and isinstance(ours["c"], tuple)


def test_scalar_output_is_a_vector_of_one_as_in_autograd():
    flat_f, _, v = flatten_func(lambda p, x: loss(np, p, x), EXAMPLE)
    a_flat_f, _, _ = a_flatten_func(lambda p, x: loss(anp, p, x), EXAMPLE)
    assert flat_f(v, X).shape == a_flat_f(v, X).shape == (1,)


def test_gradient_matches_autograd():
    flat_f, _, v = flatten_func(lambda p, x: loss(np, p, x), EXAMPLE)
    a_flat_f, _, _ = a_flatten_func(lambda p, x: loss(anp, p, x), EXAMPLE)
    ours = matdiff.grad(lambda u: flat_f(u, X)[0])(v)
    theirs = autograd.grad(lambda u: a_flat_f(u, X)[0])(v)
    numpy.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)
    jac = matdiff.jacobian(flat_f)(v, X)
    assert jac.shape == (1, v.size)
    numpy.testing.assert_allclose(jac[0], theirs, rtol=1e-13, atol=1e-15)


def test_check_grads_in_the_flat_vector():
    flat_f, _, v = flatten_func(lambda p, x: model(np, p, x), EXAMPLE)
    check_grads(lambda u: flat_f(u, X), modes=["fwd", "rev"], order=2)(v)


def test_check_grads_in_the_extra_arguments():
    flat_f, _, v = flatten_func(lambda p, x: model(np, p, x), EXAMPLE)
    check_grads(lambda x: flat_f(v, x), modes=["fwd", "rev"], order=2)(X)


def test_gradient_of_the_flat_function_is_the_flattened_pytree_gradient():
    flat_f, unflatten, v = flatten_func(lambda p, x: loss(np, p, x), EXAMPLE)
    flat_grad = matdiff.grad(lambda u: flat_f(u, X)[0])(v)
    tree_grad = matdiff.grad(lambda p: loss(np, p, X))(EXAMPLE)
    back = unflatten(flat_grad)
    numpy.testing.assert_allclose(back["w"], tree_grad["w"], rtol=1e-14)
    numpy.testing.assert_allclose(back["b"][0], tree_grad["b"][0], rtol=1e-14)
    assert float(back["c"][0]) == pytest.approx(float(tree_grad["c"][0]), rel=1e-14)


def test_runs_an_optimizer_written_for_vectors():
    target = {"a": numpy.array([1.0, -2.0]), "s": 3.0}

    def dist2(p):
        return np.sum((p["a"] - target["a"]) ** 2) + (p["s"] - target["s"]) ** 2

    flat_f, unflatten, v = flatten_func(dist2, {"a": numpy.zeros(2), "s": 0.0})
    g = matdiff.grad(lambda u: flat_f(u)[0])
    for _ in range(100):
        v = v - 0.25 * g(v)
    got = unflatten(v)
    numpy.testing.assert_allclose(got["a"], target["a"], atol=1e-10)
    assert float(got["s"]) == pytest.approx(3.0, abs=1e-10)
