"""Univariate logistic least squares with L2 regularisation, the textbook's worked example.

The model and loss, one line per node of the computation graph:

    z = w x + b          y = σ(z)          L = ½ (y − t)²
    R = ½ w²             L_reg = L + λ R

Backpropagation by hand gives each adjoint v̄ = ∂L_reg/∂v from its children's:

    L̄_reg = 1            R̄ = λ             L̄ = 1
    ȳ = L̄ (y − t)        z̄ = ȳ σ'(z)       w̄ = z̄ x + R̄ w
    b̄ = z̄                x̄ = z̄ w

This script builds the graph with matdiff.graph, prints the forward and backward passes,
draws the picture, and asserts that every adjoint matdiff computed equals the one above.

    python examples/logistic_least_squares.py --output docs/logistic_least_squares.svg
"""

from __future__ import annotations

import argparse
import sys

import matdiff.numpy as np
from matdiff import grad
from matdiff.graph import GraphvizNotFoundError, graph


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def regularised_loss(w, b, x, t, lam):
    z = w * x + b
    y = sigmoid(z)
    L = 0.5 * (y - t) ** 2
    R = 0.5 * w**2
    L_reg = L + lam * R
    return L_reg


def hand_derived_adjoints(w, b, x, t, lam) -> dict[str, float]:
    """The backward pass done by hand, in reverse topological order."""
    z = w * x + b
    y = 1.0 / (1.0 + np.exp(-z))
    L_reg_bar = 1.0
    R_bar = L_reg_bar * lam
    L_bar = L_reg_bar
    y_bar = L_bar * (y - t)
    z_bar = y_bar * y * (1.0 - y)  # σ'(z) = σ(z)(1 − σ(z))
    w_bar = z_bar * x + R_bar * w
    b_bar = z_bar
    x_bar = z_bar * w
    return {"L_reg": L_reg_bar, "R": R_bar, "L": L_bar, "y": y_bar, "z": z_bar,
            "w": w_bar, "b": b_bar, "x": x_bar}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", "-o", default="logistic_least_squares.svg",
                        help="where to draw the graph (.svg, .png or .pdf)")  # fmt: skip
    args = parser.parse_args(argv)

    # t and λ are NumPy scalars, not Python floats, so the graph can name them.
    w, b, x, t, lam = 0.8, -0.4, 1.5, np.float64(1.0), np.float64(0.1)
    g = graph(regularised_loss, argnums=(0, 1, 2))(w, b, x, t, lam)
    print(g.table())

    expected = hand_derived_adjoints(w, b, x, t, lam)
    print("\nnode   matdiff adjoint   hand-derived")
    for name, value in expected.items():
        got = float(g[name].adjoint)
        print(f"{name:6} {got:16.10f}   {value:.10f}")
        assert abs(got - value) <= 1e-12 * max(1.0, abs(value)), (name, got, value)
    # The input adjoints are the gradient, as grad computes it.
    gw, gb, gx = grad(regularised_loss, argnums=(0, 1, 2))(w, b, x, t, lam)
    assert (g["w"].adjoint, g["b"].adjoint, g["x"].adjoint) == (gw, gb, gx)
    print("all adjoints match the hand-derived ones")

    try:
        path = g.render(args.output, rankdir="LR")
        print(f"graph drawn to {path}")
    except GraphvizNotFoundError as err:
        print(f"graph not drawn: {err}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
