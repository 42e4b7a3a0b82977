"""The seed example: univariate logistic least squares with L2 regularisation.

    z = w x + b,  y = σ(z),  L = ½ (y − t)²,  R = ½ w²,  𝓛 = L + λ R

Hand-derived backward pass: 𝓛̄ = 1, R̄ = λ, L̄ = 1, ȳ = y − t, z̄ = ȳ σ'(z),
w̄ = z̄ x + R̄ w, b̄ = z̄, x̄ = z̄ w.
"""

import math

import numpy
import pytest

import matdiff.numpy as np
from matdiff import grad, hessian, jacfwd, value_and_grad
from matdiff.test_util import check_grads


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def loss(w, b, x, t, lam):
    z = w * x + b
    y = sigmoid(z)
    L = 0.5 * (y - t) ** 2
    R = 0.5 * w**2
    return L + lam * R


def hand_backward(w, b, x, t, lam):
    z = w * x + b
    y = 1.0 / (1.0 + math.exp(-z))
    loss_bar = 1.0
    R_bar = lam * loss_bar
    L_bar = loss_bar
    y_bar = L_bar * (y - t)
    z_bar = y_bar * y * (1.0 - y)  # σ'(z) = σ(z)(1 − σ(z))
    w_bar = z_bar * x + R_bar * w
    b_bar = z_bar
    x_bar = z_bar * w
    return w_bar, b_bar, x_bar


@pytest.mark.parametrize("w,b,x,t,lam", [(0.7, -0.3, 1.5, 1.0, 0.1), (-2.0, 0.5, -0.4, 0.0, 1.0)])
def test_gradients_equal_the_hand_derived_backward_pass(w, b, x, t, lam):
    g = grad(loss, argnums=(0, 1, 2))(w, b, x, t, lam)
    expected = hand_backward(w, b, x, t, lam)
    for got, want in zip(g, expected):
        assert got == pytest.approx(want, rel=1e-14, abs=1e-16)
    v, g2 = value_and_grad(loss, argnums=(0, 1, 2))(w, b, x, t, lam)
    assert g2 == g


def test_seed_example_in_both_modes_to_second_order_and_batched():
    check_grads(loss, modes=("fwd", "rev"), order=2)(0.7, -0.3, 1.5, 1.0, 0.1)
    # Vectorised over a data set: the gradient sums the per-example backward passes.
    xs = numpy.array([1.5, -0.4, 0.2])
    ts = numpy.array([1.0, 0.0, 1.0])
    total = lambda wb: np.sum(loss(wb[0], wb[1], xs, ts, 0.0)) + 0.1 * 0.5 * wb[0] ** 2
    gw = sum(hand_backward(0.7, -0.3, xi, ti, 0.0)[0] for xi, ti in zip(xs, ts)) + 0.1 * 0.7
    gb = sum(hand_backward(0.7, -0.3, xi, ti, 0.0)[1] for xi, ti in zip(xs, ts))
    numpy.testing.assert_allclose(grad(total)(numpy.array([0.7, -0.3])), [gw, gb], rtol=1e-13)
    H = hessian(total)(numpy.array([0.7, -0.3]))
    numpy.testing.assert_allclose(H, H.T, rtol=1e-13)
    numpy.testing.assert_allclose(H, jacfwd(grad(total))(numpy.array([0.7, -0.3])), rtol=1e-13)
