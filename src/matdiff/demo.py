"""A short tour of both engines: ``python -m matdiff demo``."""

from __future__ import annotations


def numeric_demo() -> None:
    import matdiff.numpy as np
    from matdiff import grad, hessian, hvp, jacobian

    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3))
    x = rng.standard_normal(3)

    def f(x):
        return x @ A @ x + np.sum(np.log(1.0 + np.exp(x)))

    print("Numeric engine: f(x) = x'Ax + sum(log(1 + exp(x)))")
    print("  grad f(x)      =", grad(f)(x))
    s = 1.0 / (1.0 + np.exp(-x))
    print("  closed form    =", (A + A.T) @ x + s)
    H = hessian(f)(x)
    print("  hessian f(x)   =\n", H)
    print("  closed form    =\n", A + A.T + np.diag(s * (1 - s)))
    v = np.ones(3)
    print("  hvp(f, x, 1)   =", hvp(f, x, v))
    print("  jacobian(exp)  =\n", jacobian(np.exp)(x))


def symbolic_demo() -> None:
    try:
        from matdiff import symbolic as sym

        derivative = sym.derivative
    except (ImportError, AttributeError):
        print("Symbolic engine: not available in this build")
        return
    print("Symbolic engine:")
    for expr, wrt, order in [("x'*A*x", "x", 1), ("log(det(X))", "X", 1), ("x'*A*x", "x", 2)]:
        d = derivative(expr, wrt=wrt, order=order)
        kind = "gradient" if order == 1 else "Hessian"
        print(f"  {kind} of {expr} w.r.t. {wrt}: {d.text}")


def main(argv=None) -> int:
    numeric_demo()
    print()
    symbolic_demo()
    return 0
