"""autograd programs run unchanged: each test restates what real autograd does.

Where autograd is installed (the test extra), the numbers and types are compared with its
own; the behaviour asserted is autograd's either way.
"""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, value_and_grad
from matdiff.differential_operators import make_vjp
from matdiff.test_util import check_grads

try:
    import autograd
    import autograd.numpy as anp
except ImportError:  # pragma: no cover - the test extra installs it
    autograd = anp = None

needs_autograd = pytest.mark.skipif(autograd is None, reason="autograd is not installed")


# ---------------------------------------------------------------- size-1 outputs


@pytest.mark.parametrize("shape", [(1,), (1, 1), (1, 1, 1)])
def test_grad_accepts_an_output_of_one_element(shape):
    x = onp.full(shape, 1.5)
    g = grad(lambda x: x**2)(x)
    ans, g2 = value_and_grad(lambda x: x**2)(x)
    # As autograd: the value is the array as the function returned it, not a scalar.
    assert ans.shape == shape and ans.flat[0] == 2.25
    assert g.shape == shape and g2.shape == shape and g.flat[0] == 3.0


def test_grad_of_a_quadratic_form_with_a_row_vector():
    A = onp.array([[2.0, 1.0], [1.0, 3.0]])

    def objective(x):  # x of shape (1, n): x @ A @ x.T has shape (1, 1)
        return x @ A @ x.T

    x = onp.array([[1.0, 2.0]])
    ans, g = value_and_grad(objective)(x)
    onp.testing.assert_allclose(g, 2 * x @ A)
    assert ans.shape == (1, 1)


@needs_autograd
def test_size_one_outputs_match_autograd():
    x = onp.array([[1.0, -2.0]])
    A = onp.array([[2.0, 1.0], [1.0, 3.0]])
    ours = value_and_grad(lambda x: np.sin(x @ A @ x.T))(x)
    theirs = autograd.value_and_grad(lambda x: anp.sin(x @ A @ x.T))(x)
    for a, b in zip(ours, theirs):
        assert type(a) is type(b) and a.shape == b.shape
        onp.testing.assert_allclose(a, b)


def test_grad_still_refuses_an_output_of_several_elements():
    with pytest.raises(TypeError, match=r"must return a scalar .*shape \(2,\).*jacobian"):
        grad(lambda x: x**2)(onp.ones(2))


# ---------------------------------------------------------------- return types


def _f(x, y):
    return np.sin(x) * y


ARGS = {
    "float64": (onp.float64(1.0), onp.float64(2.0)),
    "float": (1.0, 2.0),
    "0-d": (onp.array(1.0), onp.array(2.0)),
    "float32": (onp.float32(1.0), onp.float32(2.0)),
}


@pytest.mark.parametrize("argnum", [0, (0, 1), (1,)])
@pytest.mark.parametrize("kind", list(ARGS))
def test_gradient_types_follow_autograd(kind, argnum):
    # A tuple argnum gives 0-d arrays, one argnum a NumPy scalar (autograd's types).
    args = ARGS[kind]
    g = grad(_f, argnum)(*args)
    v, g2 = value_and_grad(_f, argnum)(*args)
    want_scalar_type = onp.float32 if kind == "float32" else onp.float64
    assert type(v) is want_scalar_type
    for got in (g, g2):
        if isinstance(argnum, int):
            assert type(got) is want_scalar_type
        else:
            assert type(got) is tuple and len(got) == len(argnum)
            assert all(type(a) is onp.ndarray and a.shape == () for a in got)
            assert all(a.dtype == want_scalar_type for a in got)
    if autograd is not None:
        theirs = autograd.grad(lambda x, y: anp.sin(x) * y, argnum)(*args)
        assert repr(g) == repr(theirs)


@needs_autograd
@pytest.mark.parametrize(
    "fun, arg",
    [
        (lambda t: t[0] * t[1], (1.0, 2.0)),
        (lambda t: t[0] * t[1], [1.0, onp.float64(2.0)]),
        (lambda t: t["a"] * t["b"], {"a": 1.0, "b": onp.array(2.0)}),
        (lambda t: t[0] * t[1][0], (1.0, onp.array([2.0]))),
        (lambda t: t[0] * 3.0, (1.0, 2.0)),
    ],
)
def test_gradients_of_containers_print_as_autograds(fun, arg):
    assert repr(grad(fun)(arg)) == repr(autograd.grad(fun)(arg))


def test_make_vjp_with_a_tuple_argnum_gives_arrays():
    vjp_fn, _ = make_vjp(lambda x, y: x * y, (0, 1))(1.0, 2.0)
    assert repr(vjp_fn(1.0)) == "(array(2.), array(1.))"


# ---------------------------------------------------------------- check_grads


def test_check_grads_takes_autograds_positional_signature():
    # check_grads(fun, argnum, modes, order)(*args, **kwargs), as autograd's.
    check_grads(lambda x, y: np.sin(x) * y, 1, ["rev"], 1)(0.3, 2.0)
    check_grads(lambda x, y: np.sin(x) * y, (0, 1), ["fwd", "rev"], 2)(0.3, 2.0)
    check_grads(lambda x, y, k=1.0: np.sin(x) * y * k, 0)(0.3, 2.0, k=3.0)
    # The argument left out of argnum is not perturbed: an integer one is fine there...
    check_grads(lambda x, n: np.sin(x) * n, 0, modes=["rev"])(0.3, 2)
    # ...and a wrong derivative in the argument checked is still caught.
    bad = _wrong_rule()
    with pytest.raises(AssertionError, match="reverse-mode"):
        check_grads(lambda x, y: bad(x) * y, 0, ["rev"], 1)(0.3, 2.0)
    check_grads(lambda x, y: bad(y) + x, 0, ["rev"], 1)(0.3, 2.0)


def test_check_grads_keeps_its_keyword_and_positional_modes():
    check_grads(np.sin, modes=("fwd", "rev"), order=2)(0.3)
    check_grads(np.sin, ("rev",), 1)(0.3)
    check_grads(np.sin, ["rev"], order=1)(0.3)
    with pytest.raises(TypeError, match="modes were given both"):
        check_grads(np.sin, ["rev"], ["fwd"])


def _wrong_rule():
    from matdiff.extend import defvjp, primitive

    f = primitive(lambda x: x * 1.0, name="wrong")
    defvjp(f, lambda ans, x: lambda g: 2.0 * g)
    return f


# ---------------------------------------------------------------- recursion depth

_DEEP = """
import sys
import numpy
import matdiff.numpy as np
from matdiff import grad, hessian, jvp

def f(x, n):
    return np.sin(x) if n == 0 else f(x, n - 1) * 1.0

def plain(x, n):
    return numpy.sin(x) if n == 0 else plain(x, n - 1) * 1.0

assert sys.getrecursionlimit() == 1000
plain(1.0, 990)
print(float(grad(lambda x: f(x, 990))(1.0)))
print(float(jvp(lambda x: f(x, 990), (1.0,), (1.0,))[1]))
print(float(hessian(lambda x: f(x, 990))(1.0)))
assert sys.getrecursionlimit() == 1000
"""


def test_a_user_recursion_990_deep_runs_under_grad_jvp_and_hessian():
    # The program in a fresh interpreter, where the limit is Python's 1000 and
    # plain NumPy runs it: the derivative operators leave it that depth.
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _DEEP], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    g, t, h = map(float, out.stdout.split())
    assert g == pytest.approx(onp.cos(1.0)) and t == pytest.approx(onp.cos(1.0))
    assert h == pytest.approx(-onp.sin(1.0))


def _deepest(run, start=0):
    """The largest n for which run(n) does not raise RecursionError."""
    n = start
    while True:
        try:
            run(n + 1)
        except RecursionError:
            return n
        n += 1


@pytest.mark.parametrize("operator", ["grad", "jvp", "hessian", "vjp", "jacobian"])
def test_operators_leave_user_code_the_depth_plain_numpy_has(operator):
    import sys

    from matdiff import hessian, jacobian, jvp, vjp

    def f(x, n):
        return np.sin(x) if n == 0 else f(x, n - 1) * 1.0

    def plain(x, n):
        return onp.sin(x) if n == 0 else plain(x, n - 1) * 1.0

    limit = sys.getrecursionlimit()
    run = {
        "grad": lambda n: grad(lambda x: f(x, n))(1.0),
        "jvp": lambda n: jvp(lambda x: f(x, n), (1.0,), (1.0,)),
        "hessian": lambda n: hessian(lambda x: f(x, n))(1.0),
        "vjp": lambda n: vjp(lambda x: f(x, n), 1.0)[1](1.0),
        "jacobian": lambda n: jacobian(lambda x: f(x, n))(onp.ones(2)),
    }[operator]
    # From the deepest recursion plain NumPy runs here (one frame of the lambda
    # above it, as the traced call has), the traced one must run as deep.
    n = _deepest(lambda n: (lambda: plain(1.0, n))(), start=max(limit - 200, 0))
    run(n)
    assert sys.getrecursionlimit() == limit
    # A failure inside the traced function restores the limit too.
    with pytest.raises(RecursionError):
        run(limit + 1000)
    assert sys.getrecursionlimit() == limit


# ---------------------------------------------------------------- the tracer API


def _print_trace_example(np, trace, Node, grad):
    """autograd's examples/print_trace.py, with its imports as arguments."""

    class PrintNode(Node):
        def __init__(self, value, fun, args, kwargs, parent_argnums, parents):
            self.varname_generator = parents[0].varname_generator
            self.varname = next(self.varname_generator)
            args_or_vars = list(args)
            for argnum, parent in zip(parent_argnums, parents):
                args_or_vars[argnum] = parent.varname
            print(f"{self.varname} = {fun.__name__}({','.join(map(str, args_or_vars))}) = {value}")

        def initialize_root(self, x):
            self.varname_generator = iter("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            self.varname = next(self.varname_generator)
            print(f"{self.varname} = {x}")

    def print_trace(f, x):
        start_node = PrintNode.new_root(x)
        trace(start_node, f, x)
        print()

    def avg(x, y):
        return (x + y) / 2

    def fun(x):
        y = np.sin(x + x)
        return avg(y, y)

    print_trace(fun, 1.23)
    # Traces nest, so one can trace through grad(fun) too.
    print_trace(grad(fun), 1.0)


PRINTED_TRACE = """\
A = 1.23
B = add(A,A) = 2.46
C = sin(B) = 0.6300306299958922
D = add(C,C) = 1.2600612599917844
E = divide(D,2) = 0.6300306299958922

A = 1.0
B = add(A,A) = 2.0
C = sin(B) = 0.9092974268256817
D = add(C,C) = 1.8185948536513634
E = divide(D,2) = 0.9092974268256817
F = cos(B) = -0.4161468365471424
G = multiply(1.0,F) = -0.4161468365471424
H = add(G,G) = -0.8322936730942848

"""


def test_autograds_print_trace_example_runs_on_matdiff(capsys):
    from matdiff.tracer import Node, trace

    _print_trace_example(np, trace, Node, grad)
    ours = capsys.readouterr().out
    assert ours == PRINTED_TRACE
    if autograd is not None:
        from autograd.tracer import Node as ANode
        from autograd.tracer import trace as atrace

        _print_trace_example(anp, atrace, ANode, autograd.grad)
        theirs = capsys.readouterr().out.splitlines()
        # autograd's backward pass adds cotangents with a primitive that takes the
        # vector space as its first argument; the values are the same.
        assert ours.splitlines()[:-2] == theirs[:-2]
        assert theirs[-2].endswith("G,G) = -0.8322936730942848")


def test_autograds_dot_graph_example_builds_the_graph():
    from matdiff.tracer import Node, trace

    class GraphNode(Node):
        def __init__(self, value, fun, args, kwargs, parent_argnums, parents):
            self.fun_name = fun.__name__
            self.args = args
            self.parents = dict(zip(parent_argnums, parents))
            self.isroot = False

        def initialize_root(self, x):
            self.isroot = True

    def fun(x):
        y = np.sin(x)
        return (y + np.exp(x) - 0.5) * y

    value, node = trace(GraphNode.new_root(1.0), fun, 1.0)
    assert value == pytest.approx((onp.sin(1.0) + onp.exp(1.0) - 0.5) * onp.sin(1.0))

    def names(n):
        if n.isroot:
            return "x"
        args = [names(n.parents[i]) if i in n.parents else repr(a) for i, a in enumerate(n.args)]
        return f"{n.fun_name}({', '.join(args)})"

    assert names(node) == "multiply(subtract(add(sin(x), exp(x)), 0.5), sin(x))"


def test_trace_of_an_output_that_does_not_depend_on_the_input():
    from matdiff.tracer import Node, trace

    class Root(Node):
        def initialize_root(self):
            pass

    with pytest.warns(UserWarning, match="does not depend on the input"):
        assert trace(Root.new_root(), lambda x: 3.0, 1.0) == (3.0, None)
    with pytest.raises(NotImplementedError, match="must define __init__"):
        trace(Root.new_root(), np.sin, 1.0)


# ---------------------------------------------------------------- user vector spaces


def _rkhs(primitive, defvjp, VSpace, Box):
    """autograd's examples/rkhs.py (a function in a reproducing-kernel Hilbert space, as
    a dict of coefficients by point), made for the library whose extension API is given."""

    class RKHSFun:
        def __init__(self, kernel, alphas=None):
            self.alphas = {} if alphas is None else alphas
            self.kernel = kernel
            self.vs = RKHSFunVSpace(self)

        @primitive
        def __call__(self, x):
            return sum([a * self.kernel(x, x_repr) for x_repr, a in self.alphas.items()], 0.0)

        def __add__(self, f):
            return self.vs.add(self, f)

        def __mul__(self, a):
            return self.vs.scalar_mul(self, a)

    defvjp(RKHSFun.__call__, lambda ans, f, x: lambda g: RKHSFun(f.kernel, {x: 1}) * g)

    class RKHSFunBox(Box, RKHSFun):
        @property
        def kernel(self):
            return self._value.kernel

    RKHSFunBox.register(RKHSFun)

    class RKHSFunVSpace(VSpace):
        def __init__(self, value):
            self.kernel = value.kernel

        def zeros(self):
            return RKHSFun(self.kernel)

        def _add(self, f, g):
            assert f.kernel is g.kernel
            d = dict(f.alphas)
            for k, v in g.alphas.items():
                d[k] = d[k] + v if k in d else v
            return RKHSFun(f.kernel, d)

        def _scalar_mul(self, f, a):
            return RKHSFun(f.kernel, {x: a * a_cur for x, a_cur in f.alphas.items()})

        def _inner_prod(self, f, g):
            assert f.kernel is g.kernel
            pairs = [(x1, a1, x2, a2) for x1, a1 in f.alphas.items() for x2, a2 in g.alphas.items()]
            return sum([a1 * a2 * f.kernel(x1, x2) for x1, a1, x2, a2 in pairs], 0.0)

    RKHSFunVSpace.register(RKHSFun)
    return RKHSFun


def _rkhs_fit(np, grad, RKHSFun, steps=100):
    """The example's main loop: gradient ascent on the data's log-likelihood."""

    def sq_exp_kernel(x1, x2):
        return np.exp(-((x1 - x2) ** 2))

    def logprob(f, xs, ys):
        return -sum((f(x) - y) ** 2 for x, y in zip(xs, ys))

    f = RKHSFun(sq_exp_kernel)
    for _ in range(steps):
        f = f + grad(logprob)(f, range(5), [1, 2, 3, 2, 1]) * 0.01
    return f


def _matdiff_rkhs():
    from matdiff.extend import Box, VSpace, defvjp, primitive

    return _rkhs(primitive, defvjp, VSpace, Box)


def test_autograds_rkhs_example_runs_on_matdiff():
    f = _rkhs_fit(np, grad, _matdiff_rkhs())
    fitted = [float(f(x)) for x in range(5)]
    onp.testing.assert_allclose(
        fitted, [0.96611087, 1.99634318, 2.78398663, 1.99634318, 0.96611087]
    )
    if autograd is not None:
        from autograd.extend import Box, VSpace, defvjp, primitive

        theirs = _rkhs_fit(anp, autograd.grad, _rkhs(primitive, defvjp, VSpace, Box))
        assert fitted == [float(theirs(x)) for x in range(5)]
        assert sorted(f.alphas) == sorted(theirs.alphas)
        onp.testing.assert_allclose(
            [f.alphas[k] for k in sorted(f.alphas)],
            [theirs.alphas[k] for k in sorted(theirs.alphas)],
        )


def test_vjp_and_grad_with_respect_to_a_user_vector_space():
    from matdiff import vjp

    RKHSFun = _matdiff_rkhs()
    f = RKHSFun(lambda a, b: np.exp(-((a - b) ** 2)), {0.0: 1.0})
    out, f_vjp = vjp(lambda f: f(2.0) * 3.0 + f(1.0), f)
    assert out == pytest.approx(3 * onp.exp(-4.0) + onp.exp(-1.0))
    (ct,) = f_vjp(2.0)
    assert type(ct) is RKHSFun and ct.alphas == {2.0: 6.0, 1.0: 2.0}
    # A function that does not use its argument: the space's zero, with the warning.
    with pytest.warns(UserWarning, match="does not depend"):
        g = grad(lambda f: 1.5)(f)
    assert type(g) is RKHSFun and g.alphas == {}


def test_the_space_operations_are_differentiable():
    RKHSFun = _matdiff_rkhs()
    f = RKHSFun(lambda a, b: np.exp(-((a - b) ** 2)), {0.0: 1.0, 1.0: -2.0})
    vs = f.vs
    ff = vs.inner_prod(f, f)

    def energy(a):  # <a f, a f> = a^2 <f, f>
        return vs.inner_prod(vs.scalar_mul(f, a), vs.scalar_mul(f, a))

    assert grad(energy)(0.5) == pytest.approx(2 * 0.5 * ff)
    assert grad(grad(energy))(0.5) == pytest.approx(2 * ff)
    from matdiff import jvp

    assert jvp(energy, (0.5,), (1.0,))[1] == pytest.approx(2 * 0.5 * ff)


def test_sgd_runs_in_a_space_that_has_no_coordinates():
    from matdiff.misc.optimizers import adam, sgd

    RKHSFun = _matdiff_rkhs()

    def loss(f):
        return sum((f(x) - y) ** 2 for x, y in zip(range(5), [1, 2, 3, 2, 1]))

    seen = []
    f = sgd(
        lambda f, i: grad(loss)(f),
        RKHSFun(lambda a, b: np.exp(-((a - b) ** 2))),
        callback=lambda f, i, g: seen.append((type(f), type(g))),
        num_iters=300,
        step_size=0.1,
    )
    assert type(f) is RKHSFun and seen[-1] == (RKHSFun, RKHSFun) and len(seen) == 300
    assert loss(f) < 0.05
    with pytest.raises(TypeError, match="defines no coordinates.*flatten.*sgd"):
        adam(lambda f, i: grad(loss)(f), RKHSFun(lambda a, b: np.exp(-((a - b) ** 2))))


# A function given by its coefficients on fixed centres, registered with matdiff's own
# functions (register_box, register_vspace) and with coordinates for the optimizers.
CENTRES = onp.linspace(0.0, 4.0, 5)
XS, YS = onp.arange(5.0), onp.array([1.0, 2.0, 3.0, 2.0, 1.0])


def _kernel(x):
    return onp.exp(-((x - CENTRES) ** 2))


class Expansion:
    """f(x) = sum_i coeffs[i] k(x, centre_i); no arithmetic of its own."""

    def __init__(self, coeffs):
        self.coeffs = onp.asarray(coeffs, dtype=float)

    def __call__(self, x):
        return evaluate(self, x)


def _register_expansion():
    from matdiff.extend import Box, VSpace, defvjp, primitive, register_box, register_vspace

    global evaluate

    @primitive
    def evaluate(f, x):
        return f.coeffs @ _kernel(x)

    defvjp(evaluate, lambda ans, f, x: lambda g: Expansion(g * _kernel(x)))

    class ExpansionBox(Box):
        def __call__(self, x):
            return evaluate(self, x)

    class ExpansionVSpace(VSpace):
        def __init__(self, value):
            self.n = len(value.coeffs)

        def zeros(self):
            return Expansion(onp.zeros(self.n))

        def _add(self, f, g):
            return Expansion(f.coeffs + g.coeffs)

        def _scalar_mul(self, f, a):
            return Expansion(f.coeffs * a)

        def _inner_prod(self, f, g):
            return f.coeffs @ g.coeffs

        def flatten(self, value):
            return value.coeffs

        def unflatten(self, vector):
            return Expansion(vector)

    register_box(ExpansionBox, Expansion)
    register_vspace(ExpansionVSpace, Expansion)


_register_expansion()


def _expansion_loss(f, i=0):
    return sum((f(x) - y) ** 2 for x, y in zip(XS, YS))


def test_grad_in_a_space_registered_with_matdiffs_functions():
    c = onp.array([0.5, -1.0, 2.0, 0.0, 1.0])
    g = grad(_expansion_loss)(Expansion(c))
    K = onp.stack([_kernel(x) for x in XS])
    # Several evaluations add their cotangents with the space's add (no __add__ here).
    assert type(g) is Expansion
    onp.testing.assert_allclose(g.coeffs, 2 * K.T @ (K @ c - YS))


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam"])
def test_optimizers_run_in_the_coordinates_a_space_defines(name):
    from matdiff.misc import optimizers

    K = onp.stack([_kernel(x) for x in XS])
    best = onp.linalg.solve(K, YS)
    # rmsprop's steps do not shrink with the gradient: a smaller step lands nearer.
    kwargs = {"num_iters": 1000, "step_size": 0.005 if name == "rmsprop" else 0.05}
    seen = []
    f = getattr(optimizers, name)(
        grad(_expansion_loss),
        Expansion(onp.zeros(5)),
        callback=lambda f, i, g: seen.append((type(f), type(g))),
        **kwargs,
    )
    assert type(f) is Expansion and seen[0] == (Expansion, Expansion)
    assert _expansion_loss(f) < 1e-3
    onp.testing.assert_allclose(f.coeffs, best, atol=0.05)


def test_every_space_operation_checks_against_finite_differences():
    # check_grads perturbs numbers, so each operation is reached through a function of a
    # number a whose value passes through it, in every argument it is differentiable in
    RKHSFun = _matdiff_rkhs()
    kernel = lambda a, b: np.exp(-((a - b) ** 2))  # one kernel: one space
    f = RKHSFun(kernel, {0.0: 1.0, 1.0: -2.0})
    g = RKHSFun(kernel, {0.5: 0.3})
    vs = f.vs

    def through_add(a):  # add in both arguments, scalar_mul in both
        h = vs.add(vs.scalar_mul(f, a), vs.scalar_mul(g, a * a))
        return vs.inner_prod(h, vs.scalar_mul(h, np.sin(a)))

    def through_mut_add(a):
        h = vs.mut_add(vs.scalar_mul(f, a), vs.scalar_mul(g, np.exp(a)))
        return vs.inner_prod(h, g) + vs.inner_prod(f, h)

    def through_covector(a):
        return vs.inner_prod(vs.covector(vs.scalar_mul(f, a**3)), vs.scalar_mul(g, a))

    for fun in (through_add, through_mut_add, through_covector):
        check_grads(fun, modes=("fwd", "rev"), order=2)(0.7)
