"""Long loops in reverse mode with bounded memory: ``checkpoint_scan``, binomial checkpointing.

Reverse mode through a Python loop of ``n`` steps keeps every step's intermediate values
until the backward pass, so memory grows like ``n``. :func:`checkpoint_scan` runs the loop
as ``jax.lax.scan`` means it and records it on the tape as one call that keeps at most
``checkpoints`` carries. Its backward pass restores them and recomputes the steps in
between on the binomial ("revolve") schedule of Griewank (1992) and Griewank and Walther
(2000), which evaluates the fewest steps any schedule with that many carries can.

The schedule: with ``s`` carries kept (the initial one counted) and ``l`` steps to
reverse, let ``r`` be the least integer with ``C(s + r, s) >= l``. Reversing takes
``r·l - C(s + r, s + 1)`` step evaluations besides the ``l`` taped ones, by splitting
the steps at ``m``, keeping the carry there, reversing the ``l - m`` steps after it with
``s - 1`` carries and then the ``m`` before it with ``s``, where ``m`` takes each part's
repetition count down by one (:func:`_split`). No step is evaluated more than ``r + 1``
times in the backward pass: ``r = 5`` for ten thousand steps and the default 14 carries.

>>> import matdiff.numpy as np
>>> from matdiff import grad
>>> step = lambda h, x: (np.tanh(0.5 * h + x), None)
>>> xs = np.linspace(-1.0, 1.0, 100)
>>> def plain(h):
...     for x in xs:
...         h = step(h, x)[0]
...     return h
>>> scanned = lambda h0: checkpoint_scan(step, h0, xs, checkpoints=3)[0]
>>> bool(np.isclose(grad(scanned)(0.1), grad(plain)(0.1), rtol=1e-13, atol=0))
True
"""

from __future__ import annotations

from collections.abc import Callable
from math import comb
from typing import Any

from . import numpy as mnp
from .checks import name_of
from .core import ReverseTrace
from .custom_rules import _bind_custom, _top_trace, _unbox_at
from .operators import trace_vjp
from .tracer import box_types, getval
from .tree import tree_flatten, tree_unflatten

__all__ = ["checkpoint_scan"]

_NAME = "checkpoint_scan"


# ---------------------------------------------------------------- the schedule


def repetitions(steps: int, snaps: int) -> int:
    """The least ``r`` with ``C(snaps + r, snaps) >= steps``: how many times the binomial
    schedule evaluates the step it evaluates most, less the taped evaluation.

    >>> repetitions(10_000, 14), repetitions(10_000, 100), repetitions(5, 1)
    (5, 3, 4)
    """
    r = 0
    while comb(snaps + r, snaps) < steps:
        r += 1
    return r


def schedule_cost(steps: int, snaps: int) -> int:
    """Step evaluations besides the taped ones that reversing ``steps`` steps takes with
    ``snaps`` carries kept (the first counted): Griewank's ``r·l - C(s + r, s + 1)``, the
    least any schedule can do.

    >>> schedule_cost(10, 1), schedule_cost(10, 2), schedule_cost(10, 10)
    (45, 20, 9)
    """
    r = repetitions(steps, snaps)
    return r * steps - comb(snaps + r, snaps + 1)


def _split(steps: int, snaps: int) -> int:
    """Where to keep the next carry, as an offset in ``1 .. steps - 1``: the least ``m``
    minimising ``m + cost(steps - m, snaps - 1) + cost(m, snaps)``.

    The cost is convex in the steps, its slope from ``l - 1`` to ``l`` being
    ``repetitions(l, snaps)``, so the sum's slope ``1 + repetitions(m + 1, snaps) -
    repetitions(steps - m, snaps - 1)`` grows with ``m`` and its first non-negative
    value is found by bisection. With one carry the next is the last step's input.
    """
    if snaps == 1:
        return steps - 1
    lo, hi = 1, steps - 1
    while lo < hi:
        m = (lo + hi) // 2
        if 1 + repetitions(m + 1, snaps) >= repetitions(steps - m, snaps - 1):
            hi = m
        else:
            lo = m + 1
    return lo


def _first_sweep(steps: int, snaps: int) -> list[int]:
    """The positions the schedule keeps before its first reverse step: those a forward
    pass can keep on its way, saving their recomputation."""
    kept, lo = [], 0
    while steps - lo > 1:
        lo += _split(steps - lo, snaps)
        snaps -= 1
        kept.append(lo)
    return kept


# ---------------------------------------------------------------- argument checks


def _leading_length(xs_leaves: list) -> int:
    lengths = set()
    for i, leaf in enumerate(xs_leaves):
        shape = getattr(getval(leaf), "shape", ())
        if not shape:
            raise ValueError(
                f"{_NAME}: xs leaf {i} is a scalar; xs holds one slice per step along axis 0, "
                "so each leaf needs a leading axis (pass length= for a loop without xs)"
            )
        lengths.add(shape[0])
    if len(lengths) > 1:
        raise ValueError(
            f"{_NAME}: the leaves of xs have leading axes of different lengths "
            f"{sorted(lengths)}; each leaf holds one slice per step, so they must agree"
        )
    return lengths.pop()


def _check_args(step, xs_leaves: list, length, checkpoints) -> tuple[int, int]:
    if not callable(step):
        raise TypeError(
            f"{_NAME}: step must be a function step(carry, x) -> (carry, y), "
            f"got {type(step).__name__}"
        )
    if length is not None and (
        isinstance(length, bool) or not isinstance(length, int) or length < 1
    ):
        raise ValueError(
            f"{_NAME}: length={length!r} must be a positive integer, the number of steps"
        )
    if xs_leaves:
        n = _leading_length(xs_leaves)
        if length is not None and length != n:
            raise ValueError(
                f"{_NAME}: length={length} but xs has {n} slices along axis 0; "
                "drop length= or pass xs with one slice per step"
            )
    elif length is None:
        raise ValueError(
            f"{_NAME}: the number of steps is unknown; pass xs (one slice per step along "
            "axis 0) or length="
        )
    else:
        n = length
    if n < 1:
        raise ValueError(
            f"{_NAME}: xs has no slices along axis 0; the loop needs at least one step"
        )
    if checkpoints is None:
        return n, max(1, (n - 1).bit_length())
    if isinstance(checkpoints, bool) or not isinstance(checkpoints, int) or checkpoints < 1:
        raise ValueError(
            f"{_NAME}: checkpoints={checkpoints!r} must be a positive integer, the number of "
            "carries kept (the initial one counted), or None for ceil(log2(length))"
        )
    return n, checkpoints


def _step_output(step, out, init_def, init_leaves=None):
    """The carry and ``y`` leaves of one step's result, checked against ``init``."""
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(
            f"{_NAME}: step {name_of(step)} must return a pair (carry, y), "
            f"got {type(out).__name__}; return (carry, None) for no per-step output"
        )
    carry_leaves, carry_def = tree_flatten(out[0])
    if carry_def != init_def:
        raise TypeError(
            f"{_NAME}: step {name_of(step)} returned a carry of structure {carry_def}, "
            f"but init has structure {init_def}; the carry must keep init's structure"
        )
    if init_leaves is not None:
        for i, (a, b) in enumerate(zip(carry_leaves, init_leaves)):
            sa, sb = getattr(getval(a), "shape", ()), getattr(getval(b), "shape", ())
            if sa != sb:
                raise TypeError(
                    f"{_NAME}: step {name_of(step)} returned carry leaf {i} of shape {sa}, "
                    f"but init's has shape {sb}; the carry must keep init's shapes"
                )
    return carry_leaves, out[1]


def _closure_error(step) -> TypeError:
    return TypeError(
        f"{_NAME}: step {name_of(step)} closes over a value that reverse mode is "
        "differentiating, not one of init or xs, so its recomputed steps cannot reach that "
        "value's derivative. Pass it in the carry: init=(w, h0) with the step returning "
        "((w, h), y)"
    )


def _closes_over(leaves: list, level: int, reverse_only: bool) -> bool:
    """Whether a step's output leaf is traced by a trace newer than every input's (of
    ``level``), which only a closure can bring in; with ``reverse_only``, a reverse one."""
    for leaf in leaves:
        if type(leaf) in box_types and leaf._trace.level > level:
            if not reverse_only or isinstance(leaf._trace, ReverseTrace):
                return True
    return False


# ---------------------------------------------------------------- the loop


_LEAF = tree_flatten(0.0)[1]


def _slicer(xs_leaves: list, xs_def) -> Callable[[int], Any]:
    """``t -> x_t``, the slices of ``xs`` at step ``t`` (``None`` without ``xs``)."""
    if xs_def is None:
        return lambda t: None
    if xs_def == _LEAF:
        (leaf,) = xs_leaves
        return leaf.__getitem__
    return lambda t: tree_unflatten(xs_def, [leaf[t] for leaf in xs_leaves])


def _run(step, init, init_def, x_at, n, keep, level, reverse_only):
    """``n`` steps from ``init``: ``(carry, ys, {position: carry})`` for the positions in
    ``keep``. A step whose output is traced above ``level`` closed over a value under
    differentiation (see :func:`_closes_over`), and is refused."""
    carry, columns, kept, y_def = init, [], {}, None
    keep = set(keep)
    init_leaves = tree_flatten(init)[0]
    for t in range(n):
        out = step(carry, x_at(t))
        carry_leaves, y = _step_output(step, out, init_def, init_leaves if t == 0 else None)
        y_leaves, y_def_t = tree_flatten(y)
        if y_def is None:
            y_def = y_def_t
        elif y_def_t != y_def:
            raise TypeError(
                f"{_NAME}: step {name_of(step)} returned y of structure {y_def_t} at step {t} "
                f"but {y_def} at step 0; the ys are stacked, so every step's y must agree"
            )
        if _closes_over(carry_leaves, level, reverse_only) or _closes_over(
            y_leaves, level, reverse_only
        ):
            raise _closure_error(step)
        carry = out[0]
        columns.append(y_leaves)
        if t + 1 in keep:
            kept[t + 1] = carry
    # Each y leaf stacked along a new axis 0.
    stacked = [mnp.stack([c[k] for c in columns]) for k in range(len(columns[0]))]
    return carry, tree_unflatten(y_def, stacked), kept


def checkpoint_scan(
    step: Callable,
    init: Any,
    xs: Any = None,
    length: int | None = None,
    checkpoints: int | None = None,
):
    """``jax.lax.scan(step, init, xs, length)`` whose reverse mode keeps ``checkpoints``
    carries instead of every step's values.

    ``step(carry, x) -> (carry, y)`` runs once per slice ``x`` of ``xs`` along axis 0 (or
    ``length`` times with ``x = None``); the result is ``(final carry, ys)``, the ``y``'s
    stacked along a new axis 0 (``None`` if the step returns ``None``). ``init``, ``xs``
    and ``y`` may be pytrees.

    In reverse mode (``grad``, ``vjp``, ``jacrev``) the loop is one call on the tape: the
    forward pass keeps the few carries the schedule needs first, and the backward pass
    rebuilds the others from them, each step's own values kept only while that step is
    reversed. Memory grows like ``checkpoints`` carries plus one step, not like
    ``length`` steps; the steps are evaluated Griewank's binomial-schedule number of
    times, ``length + 1`` plus :func:`schedule_cost` in all, the fewest for that many
    carries. The default, ``ceil(log2(length))`` carries, so that memory grows with the
    log of the steps, evaluates each step 5.6 times on average for ten thousand steps
    (14 carries); ``checkpoints=100`` 3.5 times; ``checkpoints=length`` keeps every carry
    and evaluates each step twice (the forward pass, then taped), as plain reverse mode
    plus one forward pass.

    Forward mode (``jvp``, ``jacfwd``) and staging (``jit``) run the plain loop, which
    needs no memory for the derivative. Derivatives nest and are exact: ``hvp`` and
    ``hessian`` (forward over reverse) keep the memory bound; a reverse-mode derivative
    of a reverse-mode derivative records the inner backward pass in full.

    The step receives what it differentiates through ``carry`` and ``xs``: a value
    under differentiation that it closes over instead is refused (put it in the carry,
    ``init=(w, h0)``, with the step returning ``((w, h), y)``).

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> def step(carry, x):
    ...     w, h = carry
    ...     h = np.tanh(w * h + x)
    ...     return (w, h), h
    >>> xs = np.linspace(-1.0, 1.0, 1000)
    >>> def loss(w):
    ...     (_, h), hs = checkpoint_scan(step, (w, 0.0), xs, checkpoints=4)
    ...     return np.sum(hs)
    >>> def plain(w):
    ...     h, total = 0.0, 0.0
    ...     for x in xs:
    ...         h = np.tanh(w * h + x)
    ...         total = total + h
    ...     return total
    >>> bool(np.isclose(grad(loss)(0.5), grad(plain)(0.5), rtol=1e-12))
    True
    """
    init_leaves, init_def = tree_flatten(init)
    xs_leaves, xs_def = tree_flatten(xs) if xs is not None else ([], None)
    n, snaps = _check_args(step, xs_leaves, length, checkpoints)
    leaves = init_leaves + xs_leaves
    top = _top_trace(leaves)
    if not isinstance(top, ReverseTrace):
        # Nothing to keep: a closure matters only if reverse mode would record every step.
        level = 0 if top is None else top.level
        x_at = _slicer(xs_leaves, xs_def)
        carry, ys, _ = _run(step, init, init_def, x_at, n, (), level, True)
        return carry, ys

    vals = _unbox_at(leaves, top)
    k = len(init_leaves)
    init_vals = tree_unflatten(init_def, vals[:k])
    xs_vals = vals[k:]
    # The values are unboxed at top's level, so an output traced there or above came from a
    # closure, which the tape's one call could not differentiate.
    x_at = _slicer(xs_vals, xs_def)
    carry, ys, kept = _run(
        step, init_vals, init_def, x_at, n, _first_sweep(n, snaps), top.level - 1, False
    )
    carry_leaves = tree_flatten(carry)[0]
    ys_leaves, ys_def = tree_flatten(ys)
    xs_traced = any(type(a) in box_types and a._trace is top for a in leaves[k:])

    def bwd_flat(cts: list) -> list:
        ct_carry = cts[:k]
        ct_ys = cts[k:]
        ct_xs: list = [None] * n

        def taped(t: int, carry_t, ct_next: list) -> list:
            ct_y = tree_unflatten(ys_def, [c[t] for c in ct_ys])
            ct_out = (tree_unflatten(init_def, ct_next), ct_y)
            x_t = x_at(t)
            if xs_traced:
                _, vjp_fn, _ = trace_vjp(_NAME, step, (carry_t, x_t), check=False)
                ct_c, ct_x = vjp_fn(ct_out)
                ct_xs[t] = tree_flatten(ct_x)[0]
            else:
                _, vjp_fn, _ = trace_vjp(_NAME, lambda c: step(c, x_t), (carry_t,), check=False)
                (ct_c,) = vjp_fn(ct_out)
            return tree_flatten(ct_c)[0]

        def advance(lo: int, hi: int, carry_lo):
            c = carry_lo
            for t in range(lo, hi):
                c = step(c, x_at(t))[0]
            return c

        # The carries kept, as (position, carry, carries left for the steps after it).
        # Reversing the steps from position lo to the front hi with s carries: keep the
        # carry at lo + _split(hi - lo, s) and reverse the steps after it with s - 1, then
        # those before it with s; a loop, not recursion, since the stack may be deep.
        stack = [(0, init_vals, snaps)]
        hi, ct = n, ct_carry
        while stack:
            lo, carry_lo, s = stack[-1]
            if hi - lo == 1:
                ct = taped(lo, carry_lo, ct)
                stack.pop()
                hi = lo
                continue
            m = lo + _split(hi - lo, s)
            carry_m = kept.pop(m) if m in kept else advance(lo, m, carry_lo)
            stack.append((m, carry_m, s - 1))
            del carry_lo, carry_m
        ct_init = ct
        res: list = list(ct_init)
        if xs_traced:
            for j in range(len(xs_vals)):
                res.append(mnp.stack([ct_xs[t][j] for t in range(n)]))
        else:
            res += [None] * len(xs_vals)
        return res

    outs = carry_leaves + ys_leaves
    boxed = _bind_custom(top, leaves, vals, outs, bwd_flat)
    return tree_unflatten(init_def, boxed[:k]), tree_unflatten(ys_def, boxed[k:])
