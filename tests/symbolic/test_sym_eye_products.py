"""Products of identities keep their shape: they are the identity, never the number 1."""

import numpy as np
import pytest

from matdiff import symbolic as sym

X = np.arange(9.0).reshape(3, 3) / 7


@pytest.mark.parametrize(
    "text, expected",
    [
        ("sum(sum(X + eye*eye))", np.sum(X + np.eye(3))),
        ("sum(sum(X + eye^2))", np.sum(X + np.eye(3))),
        ("sum(sum(X + 2*eye*eye))", np.sum(X + 2 * np.eye(3))),
        ("sum(sum(X + eye - eye*eye))", np.sum(X)),
        ("sum(sum(X + eye*eye*eye))", np.sum(X + np.eye(3))),
        ("sum(sum(X + eye.*eye))", np.sum(X + np.eye(3))),
        ("sum(sum(X + inv(eye)))", np.sum(X + np.eye(3))),
        ("sum(sum(X + eye'))", np.sum(X + np.eye(3))),
    ],
)
def test_products_of_identities_keep_their_value(text, expected):
    d = sym.derivative(text, wrt="X")
    value, grad = d.function()(X=X)
    assert np.isclose(value, expected, rtol=1e-14)
    assert np.allclose(grad, np.ones((3, 3)), rtol=1e-14)
    d.check(seed=0)


def test_a_power_of_a_scaled_identity_is_a_matrix():
    d = sym.derivative("(m*eye)^2", wrt="m", kinds={"m": "scalar"}, dims={"size(eye)": 2})
    assert d.text == "2*m*eye"
    value, deriv = d.function()(m=1.5)
    assert np.allclose(value, 2.25 * np.eye(2), rtol=1e-14)
    assert np.allclose(deriv, 3.0 * np.eye(2), rtol=1e-14)
    d.check(seed=0, sizes={"size(eye)": 2})


@pytest.mark.parametrize(
    "text, printed",
    [
        ("X + eye*eye", "X + eye"),
        ("X + eye^2", "X + eye"),
        ("X + 2*eye*eye", "X + 2*eye"),
        ("X + eye - eye*eye", "X"),
        ("(m*eye)^2", "m^2*eye"),
        ("A*inv(A)*inv(A)*A", "eye"),
    ],
)
def test_products_of_identities_print_as_the_identity(text, printed):
    assert str(sym.parse(text, {"m": "scalar"})) == printed
