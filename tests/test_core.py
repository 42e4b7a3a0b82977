"""The core knows no NumPy: trace, differentiate and nest with plain Python floats."""

import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

SCRIPT = textwrap.dedent(
    """
    import importlib.util, math, sys, types

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name == "numpy" or name.startswith("numpy."):
                raise ImportError("numpy is blocked in this test")
            return None

    sys.meta_path.insert(0, Block())
    pkg = types.ModuleType("matdiff")
    pkg.__path__ = [sys.argv[1] + "/matdiff"]
    sys.modules["matdiff"] = pkg
    from matdiff import core, tracer

    class FloatBox(tracer.Box):
        __slots__ = ()
        def __mul__(self, o): return mul(self, o)
        __rmul__ = __mul__
        def __add__(self, o): return add(self, o)
        __radd__ = __add__

    tracer.register_box(FloatBox, float)

    class FloatSpace(core.VSpace):
        def __init__(self, v): pass
        def zeros(self): return 0.0
        def ones(self): return 1.0

    core.register_vspace(FloatSpace, float)
    mul = tracer.primitive(lambda a, b: a * b, "mul")
    add = tracer.primitive(lambda a, b: a + b, "add")
    sin = tracer.primitive(math.sin, "sin")
    cos = tracer.primitive(math.cos, "cos")
    core.defvjp(mul, lambda ans, a, b: lambda g: g * b, lambda ans, a, b: lambda g: g * a)
    core.defjvp(mul, lambda g, ans, a, b: g * b, lambda g, ans, a, b: a * g)
    core.defvjp(add, lambda ans, a, b: lambda g: g, lambda ans, a, b: lambda g: g)
    core.defjvp(add, lambda g, ans, a, b: g, lambda g, ans, a, b: g)
    core.defvjp(sin, lambda ans, x: lambda g: g * cos(x))
    core.defjvp(sin, lambda g, ans, x: g * cos(x))
    core.defvjp(cos, lambda ans, x: lambda g: g * -1.0 * sin(x))
    core.defjvp(cos, lambda g, ans, x: g * -1.0 * sin(x))

    def grad(f):
        return lambda x: core.make_vjp(f, x)[0](1.0)

    def deriv_fwd(f):
        return lambda x: core.make_jvp(f, x)(1.0)[1]

    f = lambda x: sin(x) * x
    x = 0.7
    assert abs(grad(f)(x) - (math.cos(x) * x + math.sin(x))) < 1e-15
    assert abs(deriv_fwd(f)(x) - (math.cos(x) * x + math.sin(x))) < 1e-15
    d2 = 2 * math.cos(x) - x * math.sin(x)
    assert abs(grad(grad(f))(x) - d2) < 1e-14
    assert abs(deriv_fwd(grad(f))(x) - d2) < 1e-14
    assert abs(grad(deriv_fwd(f))(x) - d2) < 1e-14
    # Perturbation confusion: d/dx [x * d/dy (x + y)] = 1.
    assert grad(lambda x: x * grad(lambda y: add(x, y))(1.0))(1.0) == 1.0
    assert "numpy" not in sys.modules
    print("ok")
    """
)


def test_core_runs_without_numpy():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(SRC)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_a_recorded_node_is_differentiated_as_a_traced_call_is():
    import numpy

    import matdiff.numpy as np
    from matdiff.core import ReverseTrace, backward_pass
    from matdiff.tracer import new_box

    x = numpy.array([0.3, 1.2])
    trace = ReverseTrace()
    xb = trace.leaf(x)
    node = trace.record(np.sin, numpy.sin(x), (x,), (0,), [xb._node])
    out = np.sum(new_box(numpy.sin(x), trace, node) * xb)
    grads = backward_pass(trace, {out._node: 1.0})
    numpy.testing.assert_allclose(grads[xb._node], numpy.cos(x) * x + numpy.sin(x))


def test_keep_gives_every_adjoint_and_every_edge_cotangent():
    import numpy

    import matdiff.numpy as np
    from matdiff.core import ReverseTrace, backward_pass

    trace = ReverseTrace()
    x = trace.leaf(numpy.array([0.5, 2.0]))
    y = np.sin(x) * x
    out = np.sum(y * y)
    seeds = {out._node: 1.0}
    dropped = backward_pass(trace, seeds)
    adjoints, sent = backward_pass(trace, seeds, keep=True)
    numpy.testing.assert_allclose(adjoints[x._node], dropped[x._node])
    assert all(node in adjoints for node in trace.tape)
    # Each adjoint is the sum of the cotangents its children sent it.
    for node in [x._node, *trace.tape[:-1]]:
        into = [
            sent[child, argnum]
            for child in trace.tape
            for argnum, parent in zip(child.argnums, child.parents)
            if parent is node
        ]
        numpy.testing.assert_allclose(sum(into), adjoints[node])
