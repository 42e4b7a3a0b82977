"""checkpoint_scan: derivatives equal the plain loop's, to every order and in both modes; the
binomial schedule evaluates the fewest steps and keeps the carries it says; bad arguments
are refused with the function, the argument and the fix."""

import weakref
from functools import lru_cache

import numpy
import pytest

import matdiff.numpy as np
from matdiff import checkpoint_scan, grad, hessian, hvp, jacfwd, jit, jvp, vjp
from matdiff.checkpointing import _first_sweep, repetitions, schedule_cost
from matdiff.test_util import check_grads
from matdiff.tracer import getval

rng = numpy.random.default_rng(3)
H, N = 4, 23
W0 = rng.standard_normal((H, H)) / numpy.sqrt(H)
XS = rng.standard_normal((N, H))
H0 = rng.standard_normal(H)
V = rng.standard_normal(H)


def rnn_step(carry, x):
    w, h = carry
    h = np.tanh(w @ h + x)
    return (w, h), np.dot(V, h)


def scanned(w, h0, xs, checkpoints=3):
    (_, h), ys = checkpoint_scan(rnn_step, (w, h0), xs, checkpoints=checkpoints)
    return np.sum(ys * ys) + np.sum(h**3)


def plain(w, h0, xs):
    carry, ys = (w, h0), []
    for t in range(len(xs)):
        carry, y = rnn_step(carry, xs[t])
        ys.append(y)
    return np.sum(np.stack(ys) ** 2) + np.sum(carry[1] ** 3)


# The scan evaluates the same steps on the same values as the plain loop, and reverses
# each with the same rules; what may differ is only the order in which w's cotangent sums
# its per-step terms, a few ulps of relative error each for N terms of one sign scale.
RTOL = 1e-13


@pytest.mark.parametrize("checkpoints", [1, 2, 3, 7, N, N + 5, None])
def test_gradient_equals_the_plain_loops(checkpoints):
    g = grad(lambda w, h, xs: scanned(w, h, xs, checkpoints), argnums=(0, 1, 2))(W0, H0, XS)
    ref = grad(plain, argnums=(0, 1, 2))(W0, H0, XS)
    for a, b in zip(g, ref):
        numpy.testing.assert_allclose(a, b, rtol=RTOL, atol=0)


def test_values_equal_the_plain_loops_and_ys_stack():
    (w, h), ys = checkpoint_scan(rnn_step, (W0, H0), XS)
    carry, ref = (W0, H0), []
    for x in XS:
        carry, y = rnn_step(carry, x)
        ref.append(y)
    assert w is W0 and ys.shape == (N,)
    numpy.testing.assert_array_equal(h, carry[1])
    numpy.testing.assert_array_equal(ys, numpy.array(ref))


def test_check_grads_to_order_two_in_both_modes():
    f = lambda w, h, xs: scanned(w, h, xs[:6], checkpoints=2)
    check_grads(f, modes=("fwd", "rev"), order=2)(W0, H0, XS)


# Nested derivatives run the same steps as the plain loop's, but a second-order term may
# sum its per-step parts in another order: a few ulps of the result's scale.
NESTED = dict(rtol=1e-12, atol=1e-14)


def test_nested_derivatives_equal_the_plain_loops():
    f = lambda h: scanned(W0, h, XS)
    p = lambda h: plain(W0, h, XS)
    numpy.testing.assert_allclose(hessian(f)(H0), hessian(p)(H0), **NESTED)
    numpy.testing.assert_allclose(hvp(f, H0, V), hvp(p, H0, V), **NESTED)
    gg = lambda fun: grad(lambda h: np.sum(grad(fun)(h) ** 2))(H0)
    numpy.testing.assert_allclose(gg(f), gg(p), **NESTED)
    fw = lambda w: scanned(w, H0, XS)
    pw = lambda w: plain(w, H0, XS)
    numpy.testing.assert_allclose(hvp(fw, W0, W0), hvp(pw, W0, W0), **NESTED)
    numpy.testing.assert_allclose(jacfwd(grad(fw))(W0), jacfwd(grad(pw))(W0), **NESTED)


def test_forward_mode_runs_the_plain_loop():
    out, t = jvp(lambda w: scanned(w, H0, XS), (W0,), (W0,))
    ref_out, ref_t = jvp(lambda w: plain(w, H0, XS), (W0,), (W0,))
    assert out == ref_out
    numpy.testing.assert_allclose(t, ref_t, rtol=RTOL)


def test_pytree_carry_no_xs_and_no_ys():
    def step(c, x):
        assert x is None
        return {"a": c["a"] * 0.9 + np.sin(c["b"]), "b": c["b"] * c["a"]}, None

    def f(a, b):
        carry, ys = checkpoint_scan(step, {"a": a, "b": b}, length=9, checkpoints=2)
        assert ys is None
        return np.sum(carry["a"] * carry["b"])

    def ref(a, b):
        c = {"a": a, "b": b}
        for _ in range(9):
            c = step(c, None)[0]
        return np.sum(c["a"] * c["b"])

    a, b = rng.uniform(0.1, 0.5, 3), rng.uniform(0.1, 0.5, 3)
    for x, y in zip(grad(f, argnums=(0, 1))(a, b), grad(ref, argnums=(0, 1))(a, b)):
        numpy.testing.assert_allclose(x, y, rtol=RTOL)
    check_grads(f, modes=("fwd", "rev"), order=2)(a, b)


def test_a_pytree_of_xs_and_of_ys():
    xs = {"u": XS, "s": rng.uniform(0.5, 1.5, N)}

    def step(h, x):
        h = np.tanh(x["s"] * h + x["u"])
        return h, (h[0], h * h)

    def f(h0, xs):
        h, (firsts, squares) = checkpoint_scan(step, h0, xs, checkpoints=4)
        return np.sum(firsts) + np.sum(squares) + np.sum(h)

    def ref(h0, xs):
        h, total = h0, 0.0
        for t in range(N):
            h, (first, square) = step(h, {"u": xs["u"][t], "s": xs["s"][t]})
            total = total + first + np.sum(square)
        return total + np.sum(h)

    g, gx = grad(f, argnums=(0, 1))(H0, xs)
    r, rx = grad(ref, argnums=(0, 1))(H0, xs)
    numpy.testing.assert_allclose(g, r, rtol=RTOL)
    for k in xs:
        numpy.testing.assert_allclose(gx[k], rx[k], rtol=RTOL, atol=1e-16)


def test_jit_of_its_gradient():
    g = grad(lambda w: scanned(w, H0, XS))
    numpy.testing.assert_allclose(jit(g)(W0), g(W0), rtol=1e-12)


# ---------------------------------------------------------------- the schedule


@lru_cache(None)
def _fewest(steps, snaps):
    """The least number of step evaluations besides the taped ones, by trying every split."""
    if steps == 1:
        return 0
    if snaps == 0:
        return float("inf")
    return min(m + _fewest(steps - m, snaps - 1) + _fewest(m, snaps) for m in range(1, steps))


def test_the_cost_formula_is_the_optimum():
    for snaps in range(1, 7):
        for steps in range(1, 70):
            assert schedule_cost(steps, snaps) == _fewest(steps, snaps), (steps, snaps)
    assert schedule_cost(10, 1) == 45  # one carry: step k is recomputed from the start


def _counting(h_scale=0.9):
    calls = []

    def step(h, x):
        calls.append(1)
        return np.sin(h_scale * h + x), None

    return step, calls


@pytest.mark.parametrize("snaps", [1, 2, 3, 5])
def test_reverse_mode_evaluates_the_binomial_number_of_steps(snaps):
    step, calls = _counting()
    for n in range(1, N + 1):
        calls.clear()
        f = lambda h, n=n: np.sum(checkpoint_scan(step, h, XS[:n], checkpoints=snaps)[0])
        grad(f)(H0)
        # The forward pass, one taped evaluation per step, and the schedule's recomputation
        # less the steps of its first sweep, which the forward pass kept on its way.
        assert len(calls) == n + n + _fewest(n, snaps) - (n - 1), (n, snaps)


def test_forward_mode_and_plain_calls_evaluate_each_step_once():
    step, calls = _counting()
    checkpoint_scan(step, H0, XS)
    jvp(lambda h: checkpoint_scan(step, h, XS)[0], (H0,), (H0,))
    assert len(calls) == 2 * N


def test_default_keeps_log2_carries():
    assert repetitions(10_000, 14) == 5
    assert len(_first_sweep(10_000, 14)) == 14
    step, calls = _counting()
    grad(lambda h: np.sum(checkpoint_scan(step, h, XS)[0]))(H0)
    snaps = 5  # ceil(log2(23))
    assert len(calls) == N + 1 + schedule_cost(N, snaps)


def test_keeps_only_its_carries_alive():
    # Every carry the step makes is watched: at no call are more alive than the schedule's
    # four (the scan's input, one of them, is not made by the step), the input of the step
    # being taped, and the scan's output.
    alive, most = [0], [0]

    def dropped():
        alive[0] -= 1

    def step(h, x):
        most[0] = max(most[0], alive[0])
        h = np.sin(0.9 * h + x)
        alive[0] += 1
        weakref.finalize(getval(h), dropped)
        return h, None

    xs = rng.standard_normal((200, 3))
    f = lambda h: np.sum(checkpoint_scan(step, h, xs, checkpoints=4)[0])
    _, f_vjp = vjp(f, H0[:3])
    assert len(f_vjp.trace.tape) <= 4  # the scan is one call on the tape, not 200 steps
    f_vjp(1.0)
    assert most[0] <= 4 - 1 + 1 + 1, most[0]
    most[0] = 0
    _, p_vjp = vjp(lambda h: np.sum(_plain_loop(step, h, xs)), H0[:3])
    assert most[0] >= 199  # the plain loop keeps every step's carry


def _plain_loop(step, h, xs):
    for x in xs:
        h = step(h, x)[0]
    return h


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(step=3, init=H0, xs=XS), TypeError, r"checkpoint_scan: step must be a function"),
        (dict(init=H0), ValueError, r"number of steps is unknown; pass xs .* or length="),
        (dict(init=H0, xs=XS, length=5), ValueError, r"length=5 but xs has 23 slices"),
        (dict(init=H0, length=0), ValueError, r"length=0 must be a positive integer"),
        (dict(init=H0, xs=XS[:0]), ValueError, r"xs has no slices .* at least one step"),
        (dict(init=H0, xs=(XS, 1.0)), ValueError, r"xs leaf 1 is a scalar; .*leading axis"),
        (dict(init=H0, xs=(XS, XS[:3])), ValueError, r"leading axes of different lengths"),
        (dict(init=H0, xs=XS, checkpoints=0), ValueError, r"checkpoints=0 must be a positive"),
        (dict(init=H0, xs=XS, checkpoints=True), ValueError, r"checkpoints=True must be"),
        (dict(init=H0, xs=XS, checkpoints=2.0), ValueError, r"checkpoints=2.0 must be"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, match):
    kwargs.setdefault("step", lambda h, x: (h, None))
    with pytest.raises(error, match=match):
        checkpoint_scan(**kwargs)


def test_a_step_that_breaks_the_carry_is_refused_by_name():
    def not_a_pair(h, x):
        return h

    def new_structure(h, x):
        return (h, h), None

    def new_shape(h, x):
        return h[:2], None

    with pytest.raises(TypeError, match=r"step not_a_pair must return a pair \(carry, y\)"):
        checkpoint_scan(not_a_pair, H0, XS)
    with pytest.raises(TypeError, match=r"step new_structure returned a carry of structure"):
        grad(lambda h: np.sum(checkpoint_scan(new_structure, h, XS)[0]))(H0)
    with pytest.raises(TypeError, match=r"carry leaf 0 of shape \(2,\), but init's .*\(4,\)"):
        checkpoint_scan(new_shape, H0, XS)

    def changing_y(h, x):
        return h, (h if x[0] > 0 else None)

    with pytest.raises(TypeError, match=r"step changing_y returned y of structure .* at step"):
        checkpoint_scan(changing_y, H0, XS)


def test_a_closure_over_a_differentiated_value_is_refused_with_the_fix():
    def through_closure(w):
        def step(h, x):
            return np.tanh(w @ h + x), None

        return np.sum(checkpoint_scan(step, H0, XS)[0])

    fix = r"closes over a value that reverse mode is differentiating.*init=\(w, h0\)"
    with pytest.raises(TypeError, match=fix):
        grad(through_closure)(W0)  # nothing else traced: the plain loop would keep every step
    with pytest.raises(TypeError, match=fix):
        grad(
            lambda w: (
                through_closure(w)
                + np.sum(checkpoint_scan(lambda h, x: (np.tanh(w @ h + x), None), w[0], XS)[0])
            )
        )(W0)
    # A value an enclosing forward-mode derivative traces is just a constant to reverse mode.
    t = jvp(
        grad(lambda h: np.sum(checkpoint_scan(lambda c, x: (np.tanh(W0 @ c + x), None), h, XS)[0])),
        (H0,),
        (V,),
    )[1]
    numpy.testing.assert_allclose(t, hvp(lambda h: plain_final(h), H0, V), **NESTED)
    # Closing over a forward-mode value without reverse mode runs the plain loop.
    out = jvp(through_closure_fwd, (W0,), (W0,))[1]
    ref = jvp(
        lambda w: np.sum(_plain_loop(lambda h, x: (np.tanh(w @ h + x), None), H0, XS)), (W0,), (W0,)
    )[1]
    numpy.testing.assert_allclose(out, ref, rtol=RTOL)


def plain_final(h):
    for x in XS:
        h = np.tanh(W0 @ h + x)
    return np.sum(h)


def through_closure_fwd(w):
    return np.sum(checkpoint_scan(lambda h, x: (np.tanh(w @ h + x), None), H0, XS)[0])


def test_an_integer_counter_in_the_carry():
    def step(c, x):
        t, h = c
        return (t + 1, np.sin(0.1 * t * h + x + h)), t

    def f(h):
        (t, h), ts = checkpoint_scan(step, (0, h), XS[:10], checkpoints=2)
        assert t == 10 and list(ts) == list(range(10))
        return np.sum(h)

    def ref(h):
        c = (0, h)
        for x in XS[:10]:
            c = step(c, x)[0]
        return np.sum(c[1])

    numpy.testing.assert_allclose(grad(f)(H0), grad(ref)(H0), rtol=RTOL)
