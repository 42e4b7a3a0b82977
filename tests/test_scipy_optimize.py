"""matdiff.scipy.optimize.minimize: derivatives handed to SciPy, pytrees, every method family."""

import importlib.util
import warnings
from pathlib import Path

import numpy as onp
import pytest
import scipy.optimize as sopt

import matdiff.numpy as np
from matdiff.scipy import optimize


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


X0 = onp.array([1.3, 0.7, 0.8, 1.9])  # SciPy's tutorial start: it reaches the global minimum

GRADIENT_METHODS = ["BFGS", "CG", "L-BFGS-B", "TNC", "SLSQP", None]
SECOND_ORDER_METHODS = ["Newton-CG", "trust-ncg", "trust-krylov", "trust-exact", "trust-constr"]


@pytest.mark.parametrize("method", GRADIENT_METHODS + SECOND_ORDER_METHODS)
def test_rosenbrock_reaches_the_minimum(method):
    options = {"maxfun": 5000} if method == "TNC" else {"maxiter": 5000}
    if method == "trust-constr":
        options["gtol"] = 1e-10
    # trust-krylov never meets tol=1e-12 on this problem, with SciPy's own derivatives too.
    tol = 1e-8 if method == "trust-krylov" else 1e-12
    with warnings.catch_warnings():
        # SciPy warns "Method X does not use gradient/Hessian information" for extras.
        warnings.filterwarnings("error", message=".*does not use")
        res = optimize.minimize(rosen, X0, method=method, options=options, tol=tol)
    onp.testing.assert_allclose(res.x, onp.ones(4), atol=1e-4)
    # The same run with SciPy's hand-written derivatives.
    name = (method or "").lower()
    extra = {}
    if name in ("newton-cg", "trust-ncg", "trust-krylov", "trust-constr"):
        extra["hessp"] = sopt.rosen_hess_prod
    elif name == "trust-exact":
        extra["hess"] = sopt.rosen_hess
    ref = sopt.minimize(
        sopt.rosen, X0, jac=sopt.rosen_der, method=method, options=options, tol=tol, **extra
    )
    onp.testing.assert_allclose(res.x, ref.x, atol=1e-6)


@pytest.mark.parametrize("method", ["Nelder-Mead", "Powell"])
def test_derivative_free_methods_get_no_jacobian(method):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*does not use")
        res = optimize.minimize(lambda x: np.sum((x - 2.0) ** 2), onp.zeros(2), method=method)
    onp.testing.assert_allclose(res.x, [2.0, 2.0], atol=1e-3)


REAL_MINIMIZE = sopt.minimize


def test_gradient_given_to_scipy_is_exact():
    seen = []

    def spy(fun, x0, jac=None, **kw):
        seen.append(fun(onp.array([0.3, -0.2, 0.1, 0.9])))
        return REAL_MINIMIZE(fun, x0, jac=jac, **kw)

    mp = pytest.MonkeyPatch()
    mp.setattr(optimize._opt, "minimize", spy)
    try:
        optimize.minimize(rosen, X0, method="BFGS")
    finally:
        mp.undo()
    value, g = seen[0]
    x = onp.array([0.3, -0.2, 0.1, 0.9])
    assert value == pytest.approx(sopt.rosen(x))
    onp.testing.assert_allclose(g, sopt.rosen_der(x), rtol=1e-13)


@pytest.mark.parametrize("method", ["Newton-CG", "trust-ncg", "trust-krylov", "trust-constr"])
def test_hessp_methods_never_form_the_hessian(method, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the full Hessian was formed")

    monkeypatch.setattr(optimize, "hessian", refuse)
    captured = {}

    def spy(fun, x0, hessp=None, hess=None, **kw):
        captured["hessp"], captured["hess"] = hessp, hess
        return REAL_MINIMIZE(fun, x0, hessp=hessp, hess=hess, **kw)

    monkeypatch.setattr(optimize._opt, "minimize", spy)
    res = optimize.minimize(rosen, X0, method=method, options={"maxiter": 2000})
    assert captured["hess"] is None and captured["hessp"] is not None
    x, p = onp.array([0.3, -0.2, 0.1, 0.9]), onp.array([1.0, 2.0, -1.0, 0.5])
    onp.testing.assert_allclose(captured["hessp"](x, p), sopt.rosen_hess_prod(x, p), rtol=1e-12)
    assert res.nhev > 0


@pytest.mark.parametrize("method", ["trust-exact", "dogleg"])
def test_hess_methods_get_the_exact_hessian(method, monkeypatch):
    captured = {}

    def spy(fun, x0, hess=None, **kw):
        captured["hess"] = hess
        return REAL_MINIMIZE(fun, x0, hess=hess, **kw)

    monkeypatch.setattr(optimize._opt, "minimize", spy)
    f = lambda x: np.sum((x - 1.0) ** 4) + np.sum(x**2)  # convex: dogleg needs an SPD Hessian
    optimize.minimize(f, onp.zeros(3), method=method)
    x = onp.array([0.3, -0.2, 2.0])
    onp.testing.assert_allclose(
        captured["hess"](x), onp.diag(12 * (x - 1.0) ** 2 + 2.0), rtol=1e-13
    )


def test_pytree_parameters_are_flattened_and_restored():
    target = {"w": onp.arange(6.0).reshape(2, 3), "b": (onp.array([1.5]), -2.0)}

    def f(p, scale):
        return scale * (
            np.sum((p["w"] - target["w"]) ** 2)
            + np.sum((p["b"][0] - target["b"][0]) ** 2)
            + (p["b"][1] - target["b"][1]) ** 2
        )

    x0 = {"w": onp.zeros((2, 3)), "b": (onp.zeros(1), 0.0)}
    res = optimize.minimize(f, x0, args=(3.0,), method="Newton-CG")
    assert res.x["w"].shape == (2, 3) and res.x["b"][0].shape == (1,)
    onp.testing.assert_allclose(res.x["w"], target["w"], atol=1e-6)
    onp.testing.assert_allclose(res.x["b"][0], target["b"][0], atol=1e-6)
    assert float(res.x["b"][1]) == pytest.approx(-2.0, abs=1e-6)
    assert res.x_flat.shape == (8,)


def test_user_supplied_jacobian_is_kept():
    calls = []

    def jac(x):
        calls.append(1)
        return sopt.rosen_der(x)

    res = optimize.minimize(rosen, X0, method="BFGS", jac=jac)
    assert calls and res.success


def test_non_scalar_objective_is_refused_with_a_clear_message():
    with pytest.raises(TypeError, match="grad: the function must return a scalar.*jacobian"):
        optimize.minimize(lambda x: x**2, onp.ones(2), method="BFGS")


def test_complex_parameters_are_refused():
    with pytest.raises(TypeError, match="minimize: leaf 1 of x0 is complex"):
        optimize.minimize(lambda p: np.sum(p[0] ** 2), (onp.ones(2), 1j), method="BFGS")


def test_unknown_method_raises_what_scipy_raises():
    with pytest.raises(ValueError, match="Unknown solver"):
        optimize.minimize(rosen, X0, method="newton")


def test_newton_cg_logistic_example_runs():
    path = Path(__file__).resolve().parents[1] / "examples" / "newton_cg_logistic.py"
    spec = importlib.util.spec_from_file_location("newton_cg_logistic", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.main()
    res = out["result"]
    assert res.success and res.nhev > 0
    assert out["grad_norm"] < 1e-6
    assert out["accuracy"] > 0.8
    assert out["seconds"] < 5.0
