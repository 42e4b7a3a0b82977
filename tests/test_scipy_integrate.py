"""matdiff.scipy.integrate: odeint and solve_ivp derivatives by the adjoint method.

Checked against finite differences in both modes to order 2 (a table of problems and
argument sets), against the closed form of the linear ODE y' = A y (y(t) = expm(A t) y0,
with the Fréchet derivative of expm for the parameter direction), and for memory that
does not grow with the number of solver steps.
"""

import json
import os
import subprocess
import sys
import tracemalloc

import numpy as onp
import pytest
import scipy.integrate as si
import scipy.linalg as sla

import matdiff.numpy as np
from matdiff import grad, hessian, jvp
from matdiff.core import ReverseTrace, backward_pass
from matdiff.scipy.integrate import odeint, solve_ivp
from matdiff.test_util import check_grads

TIGHT = dict(rtol=1e-11, atol=1e-11)
IVP = dict(rtol=1e-10, atol=1e-10)  # with eps=1e-4 below: solver noise ~1e-6 relative


def pendulum(y, t, a):
    """A damped, driven pendulum: nonlinear in y, depends on t and on both parameters."""
    return np.stack([y[1], -a[0] * np.sin(y[0]) - a[1] * y[1] + 0.1 * np.cos(t)])


def pendulum_tfirst(t, y, a):
    return pendulum(y, t, a)


def decay_tree(y, t, p):
    """A matrix state and a dict of parameters (pytrees)."""
    return -p["k"] * y + p["A"] @ y * 0.1


Y0 = onp.array([0.5, -0.2])
T = onp.array([0.0, 0.4, 1.0])
A = onp.array([1.3, 0.2])
P = {"k": 0.7, "A": onp.array([[0.0, 1.0], [-1.0, 0.5]])}
Y0_MAT = onp.array([[1.0, 0.5], [-0.3, 0.2]])

# (id, function of the traced arguments, arguments)
SPECS = [
    ("odeint_all", lambda y0, t, a: odeint(pendulum, y0, t, a, **TIGHT), (Y0, T, A)),
    ("odeint_y0", lambda y0: odeint(pendulum, y0, T, A, **TIGHT), (Y0,)),
    ("odeint_times", lambda t: odeint(pendulum, Y0, t, A, **TIGHT), (T,)),
    ("odeint_params", lambda a: odeint(pendulum, Y0, T, a, **TIGHT), (A,)),
    (
        "odeint_decreasing_t",
        lambda y0, t: odeint(pendulum, y0, t, A, **TIGHT),
        (Y0, T[::-1].copy()),
    ),
    ("odeint_single_time", lambda y0, t: odeint(pendulum, y0, t, A, **TIGHT), (Y0, T[:1].copy())),
    ("odeint_scipy_args", lambda a: odeint(pendulum, Y0, T, args=(a,), **TIGHT), (A,)),
    ("odeint_tfirst", lambda y0: odeint(pendulum_tfirst, y0, T, A, tfirst=True, **TIGHT), (Y0,)),
    ("odeint_pytrees", lambda y0, p: odeint(decay_tree, y0, T, p, **TIGHT), (Y0_MAT, P)),
    (
        "solve_ivp_t_eval_DOP853",
        lambda y0, te, a: (
            solve_ivp(
                pendulum_tfirst, (0.0, 1.0), y0, method="DOP853", t_eval=te, args=(a,), **IVP
            ).y
        ),
        (Y0, onp.array([0.3, 0.8]), A),
    ),
    (
        "solve_ivp_span_DOP853",
        lambda t0, t1, a: (
            solve_ivp(
                pendulum_tfirst,
                (t0, t1),
                Y0,
                method="DOP853",
                t_eval=onp.array([0.5]),
                args=(a,),
                **IVP,
            ).y
        ),
        (0.1, 0.9, A),
    ),
    (
        "solve_ivp_steps_LSODA",
        lambda y0, t1: solve_ivp(
            pendulum_tfirst, (0.0, t1), y0, method="LSODA", args=(A,), **IVP
        ).y[:, -1],
        (Y0, 0.7),
    ),
    (
        "solve_ivp_backwards_DOP853",
        lambda y0, a: (
            solve_ivp(
                pendulum_tfirst,
                (1.0, 0.0),
                y0,
                method="DOP853",
                t_eval=onp.array([0.5, 0.0]),
                args=(a,),
                **IVP,
            ).y
        ),
        (Y0, A),
    ),
]
# Implicit and low-order methods need many more steps at these tolerances: slow rows.
SLOW_SPECS = [
    (
        f"solve_ivp_{method}",
        lambda y0, a, method=method: (
            solve_ivp(
                pendulum_tfirst,
                (0.0, 1.0),
                y0,
                method=method,
                t_eval=onp.array([0.5, 1.0]),
                args=(a,),
                **IVP,
            ).y
        ),
        (Y0, A),
    )
    for method in ("RK45", "Radau", "BDF")
]


@pytest.mark.parametrize("name, f, args", SPECS, ids=[s[0] for s in SPECS])
def test_rules_against_finite_differences(name, f, args):
    check_grads(f, modes=("fwd", "rev"), order=2, eps=1e-4, rtol=1e-5, atol=1e-7)(*args)


@pytest.mark.slow
@pytest.mark.parametrize("name, f, args", SLOW_SPECS, ids=[s[0] for s in SLOW_SPECS])
def test_slow_methods_against_finite_differences(name, f, args):
    check_grads(f, modes=("fwd", "rev"), order=2, eps=1e-4, rtol=1e-4, atol=1e-6)(*args)


# ---------------------------------------------------------------- the linear ODE y' = A y

M = onp.array([[-0.5, 1.0, 0.2], [-1.0, -0.3, 0.0], [0.3, 0.4, -0.8]])
E = onp.array([[0.1, -0.2, 0.3], [0.0, 0.4, -0.1], [0.2, 0.1, 0.05]])
W = onp.array([1.0, -2.0, 0.5])
X0 = onp.array([1.0, 0.5, -1.0])


def linear(y, t, A):
    return A @ y


def final_state(x0, A, t1, t0=0.0):
    return odeint(linear, x0, np.stack([t0, t1]), A, **TIGHT)[-1]


def test_linear_ode_values_and_gradients_match_expm():
    t1 = 1.7
    Phi = sla.expm(M * t1)
    onp.testing.assert_allclose(final_state(X0, M, t1), Phi @ X0, rtol=1e-9)
    loss = lambda x0, A, t1, t0: np.sum(W * final_state(x0, A, t1, t0))
    g_x0, g_t1, g_t0 = grad(loss, argnums=(0, 2, 3))(X0, M, t1, 0.0)
    onp.testing.assert_allclose(g_x0, Phi.T @ W, rtol=1e-8)
    onp.testing.assert_allclose(g_t1, W @ M @ Phi @ X0, rtol=1e-8)
    onp.testing.assert_allclose(g_t0, -W @ Phi @ M @ X0, rtol=1e-8)
    # d/dA <w, expm(A t) x0> = t * (Fréchet derivative of expm at A t)^T applied ... compare
    # both modes along the direction E: L(A t, E t) x0.
    frechet = sla.expm_frechet(M * t1, E * t1, compute_expm=False)
    _, tangent = jvp(lambda A: final_state(X0, A, t1), (M,), (E,))
    onp.testing.assert_allclose(tangent, frechet @ X0, rtol=1e-8)
    g_A = grad(loss, argnums=1)(X0, M, t1, 0.0)
    onp.testing.assert_allclose(onp.sum(g_A * E), W @ frechet @ X0, rtol=1e-8)


def test_linear_ode_hessian_forward_over_reverse():
    t1 = 1.2
    Phi = sla.expm(M * t1)
    H = hessian(lambda x0: np.sum(final_state(x0, M, t1) ** 2))(X0)
    onp.testing.assert_allclose(H, 2 * Phi.T @ Phi, rtol=1e-8)


def test_solve_ivp_matches_scipy_values():
    te = onp.array([0.2, 0.5, 1.0])
    ours = solve_ivp(pendulum_tfirst, (0.0, 1.0), Y0, t_eval=te, args=(A,), rtol=1e-9, atol=1e-9)
    ref = si.solve_ivp(pendulum_tfirst, (0.0, 1.0), Y0, t_eval=te, args=(A,), rtol=1e-9, atol=1e-9)
    onp.testing.assert_allclose(ours.y, ref.y, rtol=1e-12)
    onp.testing.assert_allclose(ours.t, ref.t)
    steps = solve_ivp(pendulum_tfirst, (0.0, 1.0), Y0, args=(A,))
    ref = si.solve_ivp(pendulum_tfirst, (0.0, 1.0), Y0, args=(A,))
    onp.testing.assert_allclose(steps.t, ref.t)
    onp.testing.assert_allclose(steps.y, ref.y, rtol=1e-10)


# ---------------------------------------------------------------- memory


def oscillator(y, t, w):
    return np.stack([y[1], -w * w * y[0]])


def _backward_peak(t1):
    """Tape length and peak traced memory of a reverse pass over [0, t1]."""
    trace = ReverseTrace()
    x = trace.leaf(onp.array([1.0, 0.0]))
    out = odeint(oscillator, x, onp.array([0.0, t1]), 5.0, rtol=1e-9, atol=1e-9, mxstep=100000)
    tracemalloc.start()
    backward_pass(trace, {out._node: onp.ones((2, 2))})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return len(trace.tape), peak


# A fresh interpreter: no thread that an earlier test left behind (a Dask event loop)
# allocates during the measurement. tracemalloc counts the objects parked in CPython's free
# lists (up to 2000 tuples of each size) as live, and a full collection empties them; so
# the collector is off, a first long run fills the lists with objects allocated before
# tracing, and each length is measured three times.
_MEASURE = """
import gc, json, sys
sys.path.insert(0, sys.argv[1])
import test_scipy_integrate as t
gc.collect()
gc.disable()
t._backward_peak(20.0)
print(json.dumps({k: [t._backward_peak(t1) for _ in range(3)] for k, t1 in
                  [("short", 1.0), ("long", 20.0)]}))
"""


def test_memory_does_not_grow_with_the_number_of_steps():
    def nfev(t1):
        rhs = lambda y, t: [y[1], -25 * y[0]]
        info = si.odeint(
            rhs, [1.0, 0.0], [0, t1], full_output=True, rtol=1e-9, atol=1e-9, mxstep=100000
        )[1]
        return info["nfe"][-1]

    assert nfev(20.0) > 10 * nfev(1.0)  # the long run takes about 1000 steps more...
    run = subprocess.run(
        [sys.executable, "-c", _MEASURE, os.path.dirname(__file__)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    peaks = json.loads(run.stdout)
    short, long = peaks["short"], peaks["long"]
    assert {n for n, _ in long} == {n for n, _ in short}  # ...but records the same few nodes
    # and the backward pass holds no per-step state: 50 bytes a step would exceed this
    assert min(p for _, p in long) < min(p for _, p in short) + 50_000, peaks


# ---------------------------------------------------------------- errors


def test_bad_arguments_raise_clear_errors():
    f = lambda y, t, k: -k * y
    with pytest.raises(TypeError, match="odeint: pass the parameters as \\*args or as args"):
        odeint(f, Y0, T, 1.0, args=(1.0,))
    with pytest.raises(TypeError, match="odeint: unsupported keyword arguments \\['method'\\]"):
        odeint(f, Y0, T, 1.0, method="RK45")
    with pytest.raises(ValueError, match="odeint: t must be a 1-D array"):
        grad(lambda y0: np.sum(odeint(f, y0, onp.zeros((2, 2)), 1.0)))(Y0)
    with pytest.raises(TypeError, match="odeint: a leaf of args \\(0\\) has type str"):
        odeint(lambda y, t, s: -y, Y0, T, "fast")
    with pytest.raises(TypeError, match="odeint: y0 is complex"):
        odeint(lambda y, t: -y, Y0 + 1j, T)
    with pytest.raises(TypeError, match="solve_ivp: y0 is complex"):
        solve_ivp(lambda t, y: -y, (0.0, 1.0), Y0 + 1j)
    g = lambda t, y: -y
    with pytest.raises(TypeError, match="solve_ivp: a leaf of args \\(1\\) has type object"):
        solve_ivp(lambda t, y, a, b: -y, (0.0, 1.0), Y0, args=(1.0, object()))
    with pytest.raises(ValueError, match="`y0` must be 1-dimensional"):
        solve_ivp(g, (0.0, 1.0), onp.ones((2, 2)))
    with pytest.raises(ValueError, match="Values in `t_eval` are not within `t_span`"):
        grad(lambda y0: np.sum(solve_ivp(g, (0.0, 1.0), y0, t_eval=onp.array([2.0])).y))(Y0)
    with pytest.raises(NotImplementedError, match="solve_ivp: events=True is not supported"):
        solve_ivp(g, (0.0, 1.0), Y0, events=True)
    with pytest.raises(ValueError, match="t_span must be a pair"):
        solve_ivp(g, (0.0, 1.0, 2.0), Y0)


def test_failed_integration_raises_instead_of_a_derivative_of_garbage():
    blowup = lambda t, y: y * y  # y = 1 / (1 - t): infinite at t = 1
    with pytest.raises(RuntimeError, match="odeint: the integration failed"):
        grad(lambda y0: np.sum(odeint(lambda y, t: blowup(t, y), y0, onp.array([0.0, 2.0]))))(
            onp.array([1.0])
        )
    with pytest.raises(RuntimeError, match="odeint: the integration failed .*mxstep"):
        odeint(
            oscillator, onp.array([1.0, 0.0]), onp.array([0.0, 50.0]), 5.0, rtol=1e-10, atol=1e-10
        )
    with pytest.raises(RuntimeError, match="solve_ivp: the integration failed"):
        grad(lambda y0: np.sum(solve_ivp(blowup, (0.0, 2.0), y0, t_eval=onp.array([2.0])).y))(
            onp.array([1.0])
        )
