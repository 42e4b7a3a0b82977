"""The workloads: inputs from one seed, a NumPy closed form, and one builder per framework.

A builder takes the framework module and the NumPy inputs, converts the inputs the way that
framework wants, and returns a zero-argument callable whose result is checked against the
closed form before anything is timed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Builder = Callable[[object, dict], Callable[[], object]]


@dataclass
class Task:
    name: str
    reference: Callable[[dict], object]
    builders: dict[str, Builder]
    rtol: float = 1e-7


@dataclass
class Workload:
    key: str
    title: str
    sizes: list
    quick_sizes: list
    inputs: Callable[[object, np.random.Generator], dict]
    tasks: list[Task]
    ops_per_call: int | None = None
    notes: str = ""
    ratios: list = field(default_factory=list)
    # Also record each case's peak memory over one call (tracemalloc, so NumPy-based only).
    peak_memory: bool = False

    # The report lists every framework's first call (compile, pattern detection...).
    first_call: bool = False


class Skip(Exception):
    """Raised by a builder for a size its framework is not run at; the reason is noted."""


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


# ---------------------------------------------------------------- W1 per-op overhead

W1_STEPS = 100


def _chain(npm, x):
    for _ in range(W1_STEPS):
        x = npm.sin(x) * 1.01 + 0.1
    return npm.sum(x)


def _w1_inputs(n, rng):
    return {"x": rng.standard_normal(n)}


def _w1_f_ref(inp):
    return _chain(np, inp["x"])


def _w1_grad_ref(inp):
    return _w1_hand_grad(inp["x"])


def _w1_hand_grad(x):
    xs = []
    for _ in range(W1_STEPS):
        xs.append(x)
        x = np.sin(x) * 1.01 + 0.1
    g = np.ones_like(x)
    for xp in reversed(xs):
        g = g * 1.01 * np.cos(xp)
    return g


def _w1_torch_grad(torch, inp):
    x0 = torch.tensor(inp["x"])

    def run():
        x = x0.clone().requires_grad_(True)
        y = _chain(torch, x)
        (g,) = torch.autograd.grad(y, x)
        return g

    return run


W1 = Workload(
    "W1",
    "per-operation overhead: x = sin(x) * 1.01 + 0.1, 100 times, then sum (length-8 vector)",
    sizes=[8],
    quick_sizes=[8],
    inputs=_w1_inputs,
    ops_per_call=3 * W1_STEPS,
    tasks=[
        Task(
            "f",
            _w1_f_ref,
            {
                "numpy": lambda m, inp: lambda: _chain(np, inp["x"]),
                "matdiff": lambda m, inp: lambda: _chain(m.numpy, inp["x"]),
                "autograd": lambda m, inp: lambda: _chain(_anp(), inp["x"]),
                "torch": lambda m, inp: (lambda x: lambda: _chain(m, x))(m.tensor(inp["x"])),
                "jax-jit": lambda m, inp: _jax_jit(m, lambda x: _chain(m.numpy, x), inp["x"]),
            },
        ),
        Task(
            "grad",
            _w1_grad_ref,
            {
                "numpy": lambda m, inp: lambda: _w1_hand_grad(inp["x"]),
                "matdiff": lambda m, inp: (lambda g: lambda: g(inp["x"]))(
                    m.grad(lambda x: _chain(m.numpy, x))
                ),
                "matdiff-jit": lambda m, inp: (lambda g: lambda: g(inp["x"]))(
                    m.jit(m.grad(lambda x: _chain(m.numpy, x)))
                ),
                "autograd": lambda m, inp: (lambda g: lambda: g(inp["x"]))(
                    m.grad(lambda x: _chain(_anp(), x))
                ),
                "torch": _w1_torch_grad,
                "jax": lambda m, inp: (lambda g, x: lambda: g(x))(
                    m.grad(lambda x: _chain(m.numpy, x)), m.numpy.asarray(inp["x"])
                ),
                "jax-jit": lambda m, inp: _jax_jit(
                    m, m.grad(lambda x: _chain(m.numpy, x)), inp["x"]
                ),
            },
        ),
    ],
)


def _anp():
    import autograd.numpy as anp

    return anp


def _jax_jit(jax, fun, *args):
    f = jax.jit(fun)
    jargs = [jax.numpy.asarray(a) for a in args]
    return lambda: f(*jargs)


# ---------------------------------------------------------------- W2 logistic regression

LAM = 0.1


def _logistic(npm, w, X, y, lam=LAM):
    return npm.mean(npm.log(1.0 + npm.exp(-y * (X @ w)))) + 0.5 * lam * npm.dot(w, w)


def _logistic_torch(torch, w, X, y, lam=LAM):
    return torch.mean(torch.log(1.0 + torch.exp(-y * (X @ w)))) + 0.5 * lam * torch.dot(w, w)


def _w2_inputs(size, rng):
    n, d = size
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    w = rng.standard_normal(d)
    y = np.where(rng.standard_normal(n) > 0, 1.0, -1.0)
    return {"X": X, "y": y, "w": w}


def _w2_grad_ref(inp):
    X, y, w = inp["X"], inp["y"], inp["w"]
    s = _sig(-y * (X @ w))
    return -(X.T @ (y * s)) / len(y) + LAM * w


def _w2_hvp_ref(inp):
    X, y, w = inp["X"], inp["y"], inp["w"]
    v = inp.get("v", np.ones_like(w))
    s = _sig(y * (X @ w))
    return X.T @ (s * (1 - s) * (X @ v)) / len(y) + LAM * v


def _grad_builders(fun_np, fun_torch, argnames, wrt):
    """Builders of f and grad for a loss written once for NumPy-like modules."""

    def mk_md(m, inp):
        g = m.grad(lambda v: fun_np(m.numpy, v, *[inp[a] for a in argnames]))
        return lambda: g(inp[wrt])

    def mk_md_jit(m, inp):
        g = m.jit(m.grad(lambda v, *rest: fun_np(m.numpy, v, *rest)))
        rest = [inp[a] for a in argnames]
        return lambda: g(inp[wrt], *rest)

    def mk_ag(m, inp):
        g = m.grad(lambda v: fun_np(_anp(), v, *[inp[a] for a in argnames]))
        return lambda: g(inp[wrt])

    def mk_jax(m, inp):
        g = m.grad(lambda v, *rest: fun_np(m.numpy, v, *rest))
        rest = [m.numpy.asarray(inp[a]) for a in argnames]
        v0 = m.numpy.asarray(inp[wrt])
        return lambda: g(v0, *rest)

    def mk_jax_jit(m, inp):
        return _jax_jit(
            m,
            m.grad(lambda v, *rest: fun_np(m.numpy, v, *rest)),
            inp[wrt],
            *[inp[a] for a in argnames],
        )

    def mk_torch(m, inp):
        rest = [m.tensor(inp[a]) for a in argnames]
        v0 = m.tensor(inp[wrt])

        def run():
            v = v0.clone().requires_grad_(True)
            (g,) = m.autograd.grad(fun_torch(m, v, *rest), v)
            return g

        return run

    def f_builders():
        return {
            "numpy": lambda m, inp: lambda: fun_np(np, inp[wrt], *[inp[a] for a in argnames]),
            "matdiff": lambda m, inp: (
                lambda: fun_np(m.numpy, inp[wrt], *[inp[a] for a in argnames])
            ),
            "autograd": lambda m, inp: (
                lambda: fun_np(_anp(), inp[wrt], *[inp[a] for a in argnames])
            ),
            "jax-jit": lambda m, inp: _jax_jit(
                m,
                lambda v, *rest: fun_np(m.numpy, v, *rest),
                inp[wrt],
                *[inp[a] for a in argnames],
            ),
            "torch": lambda m, inp: (lambda v, rest: lambda: fun_torch(m, v, *rest))(
                m.tensor(inp[wrt]), [m.tensor(inp[a]) for a in argnames]
            ),
        }

    grads = {
        "matdiff": mk_md,
        "matdiff-jit": mk_md_jit,
        "autograd": mk_ag,
        "jax": mk_jax,
        "jax-jit": mk_jax_jit,
        "torch": mk_torch,
    }
    return f_builders(), grads


_w2_f, _w2_g = _grad_builders(
    lambda npm, w, X, y: _logistic(npm, w, X, y),
    lambda torch, w, X, y: _logistic_torch(torch, w, X, y),
    ["X", "y"],
    "w",
)
_w2_g["numpy"] = lambda m, inp: lambda: _w2_grad_ref(inp)

W2 = Workload(
    "W2",
    "logistic regression with L2: mean(log(1 + exp(-y * (X @ w)))) + 0.5*lam*w.w",
    sizes=[(10000, 100)],
    quick_sizes=[(200, 10)],
    inputs=_w2_inputs,
    tasks=[
        Task("f", lambda inp: _logistic(np, inp["w"], inp["X"], inp["y"]), _w2_f),
        Task("grad", _w2_grad_ref, _w2_g),
    ],
    ratios=[("grad", "f")],
)

# ---------------------------------------------------------------- W3 MLP


def _mlp_loss(npm, params, X, Y, lse):
    W1, b1, W2, b2 = params
    h = npm.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    return npm.mean(lse(logits) - npm.sum(logits * Y, axis=1))


def _lse_np(npm):
    def lse(z):
        m = npm.max(z, axis=1, keepdims=True)
        return npm.log(npm.sum(npm.exp(z - m), axis=1)) + m[:, 0]

    return lse


def _w3_inputs(size, rng):
    batch, din, hidden, dout = size
    X = rng.standard_normal((batch, din))
    labels = rng.integers(0, dout, batch)
    Y = np.eye(dout)[labels]
    params = (
        rng.standard_normal((din, hidden)) / np.sqrt(din),
        np.zeros(hidden),
        rng.standard_normal((hidden, dout)) / np.sqrt(hidden),
        np.zeros(dout),
    )
    return {"X": X, "Y": Y, "params": params}


def _mlp_forward(inp):
    """W3's hidden layer and softmax probabilities, for the hand-written gradients."""
    X, W1, b1, W2, b2 = inp["X"], *inp["params"]
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return h, p


def _w3_ref(inp):
    X, Y, W2 = inp["X"], inp["Y"], inp["params"][2]
    h, p = _mlp_forward(inp)
    dz = (p - Y) / X.shape[0]
    dh = dz @ W2.T * (1 - h**2)
    return (X.T @ dh, dh.sum(0), h.T @ dz, dz.sum(0))


def _w3_builders():
    def md(m, inp):
        g = m.grad(lambda p: _mlp_loss(m.numpy, p, inp["X"], inp["Y"], _lse_np(m.numpy)))
        return lambda: g(inp["params"])

    def md_jit(m, inp):
        g = m.jit(m.grad(lambda p, X, Y: _mlp_loss(m.numpy, p, X, Y, _lse_np(m.numpy))))
        return lambda: g(inp["params"], inp["X"], inp["Y"])

    def ag(m, inp):
        import autograd.scipy.special as asp

        g = m.grad(
            lambda p: _mlp_loss(_anp(), p, inp["X"], inp["Y"], lambda z: asp.logsumexp(z, axis=1))
        )
        return lambda: g(inp["params"])

    def jx(m, inp, jit):
        from jax.scipy.special import logsumexp

        g = m.grad(lambda p, X, Y: _mlp_loss(m.numpy, p, X, Y, lambda z: logsumexp(z, axis=1)))
        g = m.jit(g) if jit else g
        p = tuple(m.numpy.asarray(a) for a in inp["params"])
        X, Y = m.numpy.asarray(inp["X"]), m.numpy.asarray(inp["Y"])
        return lambda: g(p, X, Y)

    def th(m, inp):
        p0 = [m.tensor(a) for a in inp["params"]]
        X, Y = m.tensor(inp["X"]), m.tensor(inp["Y"])

        def run():
            p = [a.clone().requires_grad_(True) for a in p0]
            loss = _mlp_loss(m, p, X, Y, lambda z: m.logsumexp(z, dim=1))
            return m.autograd.grad(loss, p)

        return run

    return {
        "numpy": lambda m, inp: lambda: _w3_ref(inp),
        "matdiff": md,
        "matdiff-jit": md_jit,
        "autograd": ag,
        "jax": lambda m, inp: jx(m, inp, False),
        "jax-jit": lambda m, inp: jx(m, inp, True),
        "torch": th,
    }


W3 = Workload(
    "W3",
    "MLP 784-512(tanh)-10, batch 256, softmax cross-entropy; gradient w.r.t. all weights",
    sizes=[(256, 784, 512, 10)],
    quick_sizes=[(8, 12, 6, 3)],
    inputs=_w3_inputs,
    tasks=[Task("grad", _w3_ref, _w3_builders())],
)

# ---------------------------------------------------------------- W11 per-example gradients


def _w11_ref(inp):
    """W3's gradient for each example on its own (the loss of a batch of one)."""
    X, Y, W2 = inp["X"], inp["Y"], inp["params"][2]
    h, p = _mlp_forward(inp)
    dz = p - Y
    dh = dz @ W2.T * (1 - h**2)
    return (X[:, :, None] * dh[:, None, :], dh, h[:, :, None] * dz[:, None, :], dz)


def _w11_loss(npm, lse):
    # One example: W3's loss on a batch of one.
    return lambda p, x, y: _mlp_loss(npm, p, x[None, :], y[None, :], lse)


def _w11_builders():
    def md(m, inp, jit):
        g = m.vmap(m.grad(_w11_loss(m.numpy, _lse_np(m.numpy))), in_axes=(None, 0, 0))
        g = m.jit(g) if jit else g
        return lambda: g(inp["params"], inp["X"], inp["Y"])

    def jx(m, inp, jit):
        from jax.scipy.special import logsumexp

        loss = _w11_loss(m.numpy, lambda z: logsumexp(z, axis=1))
        g = m.vmap(m.grad(loss), in_axes=(None, 0, 0))
        g = m.jit(g) if jit else g
        p = tuple(m.numpy.asarray(a) for a in inp["params"])
        X, Y = m.numpy.asarray(inp["X"]), m.numpy.asarray(inp["Y"])
        return lambda: g(p, X, Y)

    def th(m, inp):
        from torch.func import grad, vmap

        p = tuple(m.tensor(a) for a in inp["params"])
        X, Y = m.tensor(inp["X"]), m.tensor(inp["Y"])
        g = vmap(grad(_w11_loss(m, lambda z: m.logsumexp(z, dim=1))), in_dims=(None, 0, 0))
        return lambda: g(p, X, Y)

    return {
        "numpy": lambda m, inp: lambda: _w11_ref(inp),
        "matdiff": lambda m, inp: md(m, inp, False),
        "matdiff-jit": lambda m, inp: md(m, inp, True),
        "jax": lambda m, inp: jx(m, inp, False),
        "jax-jit": lambda m, inp: jx(m, inp, True),
        "torch": th,
    }


def _w11_loop_builders():
    def md(m, inp):
        g = m.grad(_w11_loss(m.numpy, _lse_np(m.numpy)))

        def run():
            rows = [g(inp["params"], x, y) for x, y in zip(inp["X"], inp["Y"])]
            return tuple(np.stack([r[k] for r in rows]) for k in range(4))

        return run

    return {"numpy": lambda m, inp: lambda: _w11_ref(inp), "matdiff": md}


W11 = Workload(
    "W11",
    "per-example gradients of W3's MLP loss (784-512(tanh)-10), batch 256: vmap(grad) "
    "against a Python loop of grad",
    sizes=[(256, 784, 512, 10)],
    quick_sizes=[(8, 12, 6, 3)],
    inputs=_w3_inputs,
    tasks=[
        Task("vmap-grad", _w11_ref, _w11_builders()),
        Task("loop-grad", _w11_ref, _w11_loop_builders()),
    ],
    ratios=[("vmap-grad", "loop-grad")],
)

# ---------------------------------------------------------------- W4 dense Hessian

W4_EXPR = "x'*A*x + sum(log(vector(1) + exp(B*x)))"


def _w4_f(npm, x, A, B):
    return x @ A @ x + npm.sum(npm.log(1.0 + npm.exp(B @ x)))


def _w4_inputs(n, rng):
    return {
        "x": rng.standard_normal(n) / np.sqrt(n),
        "A": rng.standard_normal((n, n)) / np.sqrt(n),
        "B": rng.standard_normal((2 * n, n)) / np.sqrt(n),
    }


def _w4_ref(inp):
    A, B, x = inp["A"], inp["B"], inp["x"]
    s = _sig(B @ x)
    return A + A.T + B.T @ ((s * (1 - s))[:, None] * B)


def _hessian_builders(fun, argnames, wrt, sym_expr=None, sym_kinds=None):
    def md(m, inp):
        h = m.hessian(lambda v: fun(m.numpy, v, *[inp[a] for a in argnames]))
        return lambda: h(inp[wrt])

    def md_jit(m, inp):
        h = m.jit(m.hessian(lambda v, *rest: fun(m.numpy, v, *rest)))
        rest = [inp[a] for a in argnames]
        return lambda: h(inp[wrt], *rest)

    def ag(m, inp):
        h = m.hessian(lambda v: fun(_anp(), v, *[inp[a] for a in argnames]))
        return lambda: h(inp[wrt])

    def jx(m, inp):
        return _jax_jit(
            m,
            m.hessian(lambda v, *rest: fun(m.numpy, v, *rest)),
            inp[wrt],
            *[inp[a] for a in argnames],
        )

    def th(m, inp):
        rest = [m.tensor(inp[a]) for a in argnames]
        v0 = m.tensor(inp[wrt])
        return lambda: m.autograd.functional.hessian(lambda v: fun(m, v, *rest), v0)

    def sym(m, inp):
        from matdiff import symbolic

        d = symbolic.derivative(sym_expr, wrt=wrt, order=2, kinds=sym_kinds or {})
        f = d.function()
        kw = {k: inp[k] for k in [wrt, *argnames]}
        return lambda: f(**kw)[1]

    out = {"matdiff": md, "matdiff-jit": md_jit, "autograd": ag, "jax-jit": jx, "torch": th}
    if sym_expr:
        out["symbolic"] = sym
    return out


_w4_builders = _hessian_builders(_w4_f, ["A", "B"], "x", W4_EXPR)
_w4_builders["numpy"] = lambda m, inp: lambda: _w4_ref(inp)

W4 = Workload(
    "W4",
    "dense Hessian of x'Ax + sum(log(1 + exp(Bx))), A n x n, B 2n x n",
    sizes=[100, 200, 500, 1000],
    quick_sizes=[6],
    inputs=_w4_inputs,
    tasks=[Task("hessian", _w4_ref, _w4_builders)],
)

# ---------------------------------------------------------------- W5 HVP


def _w5_inputs(size, rng):
    inp = _w2_inputs(size, rng)
    inp["v"] = rng.standard_normal(size[1])
    return inp


def _w5_builders():
    def md(m, inp):
        f = lambda w: _logistic(m.numpy, w, inp["X"], inp["y"])  # noqa: E731
        return lambda: m.hvp(f, inp["w"], inp["v"])

    def md_jit(m, inp):
        h = m.jit(lambda w, v, X, y: m.hvp(lambda u: _logistic(m.numpy, u, X, y), w, v))
        return lambda: h(inp["w"], inp["v"], inp["X"], inp["y"])

    def ag(m, inp):
        from autograd import hessian_vector_product

        h = hessian_vector_product(lambda w: _logistic(_anp(), w, inp["X"], inp["y"]))
        return lambda: h(inp["w"], inp["v"])

    def jx(m, inp):
        def hvp(w, v, X, y):
            f = lambda w: _logistic(m.numpy, w, X, y)  # noqa: E731
            return m.jvp(m.grad(f), (w,), (v,))[1]

        return _jax_jit(m, hvp, inp["w"], inp["v"], inp["X"], inp["y"])

    def th(m, inp):
        X, y = m.tensor(inp["X"]), m.tensor(inp["y"])
        w0, v = m.tensor(inp["w"]), m.tensor(inp["v"])
        return lambda: m.autograd.functional.hvp(lambda w: _logistic_torch(m, w, X, y), w0, v)[1]

    return {
        "numpy": lambda m, inp: lambda: _w2_hvp_ref(inp),
        "matdiff": md,
        "matdiff-jit": md_jit,
        "autograd": ag,
        "jax-jit": jx,
        "torch": th,
    }


W5 = Workload(
    "W5",
    "Hessian-vector product of W2's loss, X 100000 x 100",
    sizes=[(100000, 100)],
    quick_sizes=[(300, 10)],
    inputs=_w5_inputs,
    tasks=[
        Task("f", lambda inp: _logistic(np, inp["w"], inp["X"], inp["y"]), _w2_f),
        Task("hvp", _w2_hvp_ref, _w5_builders()),
    ],
    ratios=[("hvp", "f")],
)

# ---------------------------------------------------------------- W6 log det


def _w6_inputs(n, rng):
    M = rng.standard_normal((n, n))
    return {"X": M @ M.T / n + np.eye(n)}


def _logdet(npm, X):
    return npm.linalg.slogdet(X)[1]


_w6_f, _w6_g = _grad_builders(
    lambda npm, X: _logdet(npm, X), lambda torch, X: torch.linalg.slogdet(X)[1], [], "X"
)
_w6_g["numpy"] = lambda m, inp: lambda: np.linalg.inv(inp["X"]).T

W6 = Workload(
    "W6",
    "gradient of log det X, X 300 x 300 SPD, against inv(X).T",
    sizes=[300],
    quick_sizes=[5],
    inputs=_w6_inputs,
    tasks=[Task("grad", lambda inp: np.linalg.inv(inp["X"]).T, _w6_g, rtol=1e-6)],
)

# ---------------------------------------------------------------- W7 quadratic form


def _w7_inputs(n, rng):
    return {"x": rng.standard_normal(n), "A": rng.standard_normal((n, n))}


_w7_f, _w7_g = _grad_builders(
    lambda npm, x, A: x @ A @ x, lambda torch, x, A: x @ A @ x, ["A"], "x"
)
_w7_g["numpy"] = lambda m, inp: lambda: (inp["A"] + inp["A"].T) @ inp["x"]

W7 = Workload(
    "W7",
    "gradient of x'Ax, n = 3000",
    sizes=[3000],
    quick_sizes=[7],
    inputs=_w7_inputs,
    tasks=[
        Task("f", lambda inp: inp["x"] @ inp["A"] @ inp["x"], _w7_f),
        Task("grad", lambda inp: (inp["A"] + inp["A"].T) @ inp["x"], _w7_g),
    ],
    ratios=[("grad", "f")],
)

# ---------------------------------------------------------------- W8 fourth derivative


def _tanh4_poly(t):
    # tanh' = 1 - t^2; each derivative maps p(t) to p'(t) (1 - t^2).
    p = np.polynomial.Polynomial([1.0, 0.0, -1.0])
    s = np.polynomial.Polynomial([1.0, 0.0, -1.0])
    for _ in range(3):
        p = p.deriv() * s
    return p(t)


def _w8_ref(inp):
    return _tanh4_poly(np.tanh(inp["x"]))


def _w8_builders():
    def nest(grad, f, n=4):
        for _ in range(n):
            f = grad(f)
        return f

    return {
        "numpy": lambda m, inp: lambda: _w8_ref(inp),
        "matdiff": lambda m, inp: (lambda g: lambda: g(inp["x"]))(nest(m.grad, m.numpy.tanh)),
        "matdiff-jit": lambda m, inp: (lambda g: lambda: g(inp["x"]))(
            m.jit(nest(m.grad, m.numpy.tanh))
        ),
        "autograd": lambda m, inp: (lambda g: lambda: g(inp["x"]))(nest(m.grad, _anp().tanh)),
        "jax": lambda m, inp: (lambda g: lambda: g(inp["x"]))(nest(m.grad, m.numpy.tanh)),
        "jax-jit": lambda m, inp: _jax_jit(m, nest(m.grad, m.numpy.tanh), inp["x"]),
        "torch": lambda m, inp: _w8_torch(m, inp["x"]),
    }


def _w8_torch(torch, x0):
    def run():
        x = torch.tensor(x0, requires_grad=True)
        y = torch.tanh(x)
        for _ in range(4):
            (y,) = torch.autograd.grad(y, x, create_graph=True)
        return y

    return run


W8 = Workload(
    "W8",
    "fourth derivative of tanh at a scalar by four nested grads",
    sizes=[1],
    quick_sizes=[1],
    inputs=lambda n, rng: {"x": 0.3},
    tasks=[Task("d4", _w8_ref, _w8_builders(), rtol=1e-9)],
)

# ---------------------------------------------------------------- W9 Laue et al.

W9_LOGREG = "sum(log(vector(1) + exp(-y.*(X*w))))"


def _w9a_f(npm, w, X, y):
    return npm.sum(npm.log(1.0 + npm.exp(-y * (X @ w))))


def _w9a_inputs(n, rng):
    m = 2 * n
    return {
        "X": rng.standard_normal((m, n)) / np.sqrt(n),
        "y": np.where(rng.standard_normal(m) > 0, 1.0, -1.0),
        "w": rng.standard_normal(n),
    }


def _w9a_ref(inp):
    X, y, w = inp["X"], inp["y"], inp["w"]
    s = _sig(y * (X @ w))
    return X.T @ ((s * (1 - s))[:, None] * X)


_w9a_b = _hessian_builders(_w9a_f, ["X", "y"], "w", W9_LOGREG)
_w9a_b["numpy"] = lambda m, inp: lambda: _w9a_ref(inp)

W9_MF = "norm2(T - U*V')^2"


def _w9b_f(npm, U, T, V):
    R = T - U @ V.T
    return npm.sum(R * R)


def _w9b_inputs(n, rng):
    k = max(2, n // 10)
    return {
        "U": rng.standard_normal((n, k)),
        "V": rng.standard_normal((n, k)),
        "T": rng.standard_normal((n, n)),
    }


def _w9b_ref(inp):
    V = inp["V"]
    n, k = inp["U"].shape
    # d^2/dU^2 ||T - U V'||^2 = 2 I_n (x) V'V, as an (n, k, n, k) tensor.
    return 2 * np.einsum("ac,bd->abcd", np.eye(n), V.T @ V)


_w9b_b = _hessian_builders(_w9b_f, ["T", "V"], "U", W9_MF)
_w9b_b["numpy"] = lambda m, inp: lambda: _w9b_ref(inp)

W9 = Workload(
    "W9",
    "Laue, Mitterreiter, Giesen (NeurIPS 2018): Hessians of the logistic loss in w "
    "(X 2n x n) and of ||T - U V'||^2 in U (T n x n, U, V n x n/10)",
    sizes=[50, 100, 200],
    quick_sizes=[5],
    inputs=lambda n, rng: {**_w9a_inputs(n, rng), **_w9b_inputs(n, rng)},
    tasks=[
        Task("logreg-hessian", _w9a_ref, _w9a_b),
        Task("mf-hessian", _w9b_ref, _w9b_b),
    ],
)

# ---------------------------------------------------------------- W14 checkpointing


def _w14_inputs(size, rng):
    steps, hidden = size
    return {
        "W": 0.9 * rng.standard_normal((hidden, hidden)) / np.sqrt(hidden),
        "xs": 0.5 * rng.standard_normal((steps, hidden)),
        "h0": np.zeros(hidden),
        "v": rng.standard_normal(hidden) / np.sqrt(hidden),
    }


def _w14_loop(npm, W, xs, h0, v):
    """sum over t of v . h_t with h_t = tanh(W h_{t-1} + x_t), as a plain Python loop."""
    h, total = h0, 0.0
    for t in range(len(xs)):
        h = npm.tanh(W @ h + xs[t])
        total = total + npm.dot(v, h)
    return total


def _w14_ref(inp):
    """Backpropagation through time by hand: every h_t kept."""
    W, xs, v = inp["W"], inp["xs"], inp["v"]
    hs = [inp["h0"]]
    for x in xs:
        hs.append(np.tanh(W @ hs[-1] + x))
    gW, dh = np.zeros_like(W), np.zeros_like(v)
    for t in range(len(xs), 0, -1):
        da = (dh + v) * (1.0 - hs[t] ** 2)
        gW += np.outer(da, hs[t - 1])
        dh = W.T @ da
    return gW


def _w14_scan(m, inp):
    npm, v = m.numpy, inp["v"]

    def step(carry, x):
        W, h = carry
        h = npm.tanh(W @ h + x)
        return (W, h), npm.dot(v, h)

    g = m.grad(lambda W: npm.sum(m.checkpoint_scan(step, (W, inp["h0"]), inp["xs"])[1]))
    return lambda: g(inp["W"])


def _w14_loop_builder(npm_of):
    def build(m, inp):
        npm = npm_of(m)
        g = m.grad(lambda W: _w14_loop(npm, W, inp["xs"], inp["h0"], inp["v"]))
        return lambda: g(inp["W"])

    return build


def _w14_torch(torch, inp):
    W0, xs, h0, v = (torch.tensor(inp[k]) for k in ("W", "xs", "h0", "v"))

    def run():
        W = W0.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(_w14_loop(torch, W, xs, h0, v), W)
        return g

    return run


def _w14_jax_jit(jax, inp):
    jnp = jax.numpy

    def loss(W, xs, h0, v):
        def step(h, x):
            h = jnp.tanh(W @ h + x)
            return h, jnp.dot(v, h)

        return jnp.sum(jax.lax.scan(step, h0, xs)[1])

    return _jax_jit(jax, jax.grad(loss), inp["W"], inp["xs"], inp["h0"], inp["v"])


W14 = Workload(
    "W14",
    "checkpointing: gradient in W of sum_t v.h_t, h_t = tanh(W h_(t-1) + x_t), through a "
    "Python loop (every step kept) and through checkpoint_scan (ceil(log2 steps) carries "
    "kept, the rest recomputed on the binomial schedule); size steps x hidden",
    sizes=[(10000, 100)],
    quick_sizes=[(20, 4)],
    inputs=_w14_inputs,
    tasks=[
        Task(
            "grad",
            _w14_ref,
            {
                "numpy": lambda m, inp: lambda: _w14_ref(inp),
                "matdiff": _w14_loop_builder(lambda m: m.numpy),
                "autograd": _w14_loop_builder(lambda m: _anp()),
                "torch": _w14_torch,
                "jax-jit": _w14_jax_jit,
            },
        ),
        Task(
            "grad-checkpoint_scan",
            _w14_ref,
            {"numpy": lambda m, inp: lambda: _w14_ref(inp), "matdiff": _w14_scan},
        ),
    ],
    ratios=[("grad-checkpoint_scan", "grad")],
    peak_memory=True,
)

# ---------------------------------------------------------------- W13 sparse Hessian

# autograd and torch fill the dense n x n Hessian one HVP (or VJP) at a time, in Python:
# run up to this size only (at n = 10,000 one call takes minutes). jax.jit runs at every
# size: its n = 10,000 Hessian (800 MB) peaks near 1 GB.
W13_DENSE_MAX = 2000


def _w13_f(npm, x):
    """The chained Rosenbrock function: tridiagonal Hessian."""
    return npm.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _w13_structure(n):
    """Column indices and row pointers of the tridiagonal n x n pattern, in CSR order."""
    i = np.arange(1, n - 1)
    indices = np.concatenate([[0, 1], (i[:, None] + np.array([-1, 0, 1])).ravel(), [n - 2, n - 1]])
    indptr = np.concatenate([[0], 2 + 3 * np.arange(n - 1), [3 * n - 2]])
    return indices, indptr


def _w13_hand(structure, x):
    """The closed-form Hessian, written straight into the CSR arrays of its band."""
    import scipy.sparse as sp

    n = x.size
    off = -400.0 * x[:-1]
    diag = np.full(n, 200.0)
    diag[0] = 0.0
    diag[:-1] += 1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0
    data = np.empty(3 * n - 2)
    data[:2] = diag[0], off[0]
    band = data[2:-2].reshape(n - 2, 3)
    band[:, 0] = off[:-1]
    band[:, 1] = diag[1:-1]
    band[:, 2] = off[1:]
    data[-2:] = off[-1], diag[-1]
    indices, indptr = structure
    return sp.csr_array((data, indices, indptr), shape=(n, n))


def _w13_ref(inp):
    return _w13_hand(_w13_structure(inp["x"].size), inp["x"])


def _w13_numpy(m, inp):
    structure = _w13_structure(inp["x"].size)
    return lambda: _w13_hand(structure, inp["x"])


def _w13_dense_only(inp, who):
    if inp["x"].size > W13_DENSE_MAX:
        raise Skip(
            f"{who} forms the dense n x n Hessian one direction at a time; run at "
            f"n <= {W13_DENSE_MAX} only"
        )


def _w13_matdiff(m, inp):
    # The builder's first call is timed as the first call: pattern, colouring and compile.
    h = m.sparse_hessian(lambda v: _w13_f(m.numpy, v))
    return lambda: h(inp["x"])


def _w13_jax(m, inp):
    return _jax_jit(m, m.hessian(lambda v: _w13_f(m.numpy, v)), inp["x"])


def _w13_autograd(m, inp):
    _w13_dense_only(inp, "autograd.hessian")
    h = m.hessian(lambda v: _w13_f(_anp(), v))
    return lambda: h(inp["x"])


def _w13_torch(m, inp):
    _w13_dense_only(inp, "torch.autograd.functional.hessian")
    x0 = m.tensor(inp["x"])
    return lambda: m.autograd.functional.hessian(lambda v: _w13_f(m, v), x0, vectorize=True)


W13 = Workload(
    "W13",
    "sparse (tridiagonal) Hessian of the chained Rosenbrock function "
    "sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2",
    sizes=[1000, 2000, 10000],
    quick_sizes=[8],
    inputs=lambda n, rng: {"x": rng.standard_normal(n)},
    tasks=[
        Task(
            "sparse-hessian",
            _w13_ref,
            {
                "numpy": _w13_numpy,
                "matdiff": _w13_matdiff,
                "autograd": _w13_autograd,
                "jax-jit": _w13_jax,
                "torch": _w13_torch,
            },
            rtol=1e-10,
        )
    ],
    first_call=True,
    notes=(
        "`matdiff` is `sparse_hessian` (3 colours, so 3 HVPs in one batched pass, returned as "
        "a `scipy.sparse.csr_array`); `numpy` is the closed form written straight into the "
        "band's CSR arrays. `jax-jit` is `jax.jit(jax.hessian(f))`, the dense n x n Hessian "
        "from n HVPs in one vmapped pass, at every size (800 MB of result at n = 10,000). "
        f"autograd and torch fill it one direction at a time and run up to n = {W13_DENSE_MAX:,} "
        "only; their cost grows as n^2 (n passes of O(n)), about 25 times the n = 2,000 time "
        "at n = 10,000."
    ),
)


ALL = {w.key: w for w in [W1, W2, W3, W4, W5, W6, W7, W8, W9, W11, W13, W14]}
