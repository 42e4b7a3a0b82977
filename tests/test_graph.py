"""matdiff.graph: forward values, adjoints, names, groups, tables and DOT.

Every graph in the table below is checked three independent ways: each operation's
value is recomputed from its parents' values, each edge's cotangent is compared with
central finite differences of that one primitive, and the inputs' adjoints with
matdiff.grad. The picture itself is checked in tests/test_graph_render.py.
"""

import importlib
import sys

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, vjp
from matdiff.graph import Graph, graph, summarize

graph_module = importlib.import_module("matdiff.graph")
frames = importlib.import_module("matdiff.graph._frames")

RNG = onp.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape) if shape else float(RNG.standard_normal())


def logistic(w, X, y):
    return np.sum(np.log(1.0 + np.exp(-y * (X @ w))))


def normalized(X):
    P = np.exp(X)
    return np.sum((P / np.sum(P, axis=-1, keepdims=True)) ** 2)


# (name, function, argument shapes, argnums): broadcasting, keepdims, negative axes,
# scalars with matrices, reuse of one input, and constants that are not inputs.
CASES = [
    ("sin_times_x", lambda x: np.sum(np.sin(x) * x), [(3,)], (0,)),
    ("tanh_matvec", lambda A, x: np.sum(np.tanh(A @ x)), [(3, 4), (4,)], (0, 1)),
    ("row_plus_column", lambda r, c: np.sum((r + c) ** 2), [(1, 3), (4, 1)], (0, 1)),
    ("scalar_times_matrix", lambda s, M: np.sum(np.exp(s * M)), [(), (2, 3)], (0, 1)),
    ("keepdims_negative_axis", normalized, [(3, 4)], (0,)),
    ("input_used_three_times", lambda x: np.sum(x * x + x), [(2,)], (0,)),
    ("logistic_wrt_w", logistic, [(3,), (5, 3), (5,)], (0,)),
    ("logistic_wrt_all", logistic, [(3,), (5, 3), (5,)], (0, 1, 2)),
    ("scalar_chain", lambda a, b: np.tanh(a * b) / (1.0 + b**2), [(), ()], (0, 1)),
]


def _numeric_edge_cotangent(edge, eps=1e-6):
    """<u, ct> against <v̄_target, d target/d source · u> by central differences."""
    t = edge.target
    src = onp.asarray(t.args[edge.argnum], dtype=float)
    u = RNG.standard_normal(src.shape)

    def at(delta):
        args = list(t.args)
        args[edge.argnum] = src + delta * u
        return onp.asarray(t.primitive(*args, **t.kwargs))

    dtarget = (at(eps) - at(-eps)) / (2 * eps)
    expected = float(onp.sum(onp.asarray(t.adjoint) * dtarget))
    got = float(onp.sum(onp.asarray(edge.cotangent) * u))
    return got, expected


@pytest.mark.parametrize("name,f,shapes,argnums", CASES, ids=[c[0] for c in CASES])
def test_graph_values_and_adjoints(name, f, shapes, argnums):
    args = [rand(*s) for s in shapes]
    g = graph(f, argnums=argnums)(*args)

    # forward pass: each operation is its primitive applied to its parents' values
    for n in g.operations:
        onp.testing.assert_allclose(n.primitive(*n.args, **n.kwargs), n.value, rtol=1e-12)
        for e in n.in_edges:
            assert e.source.value is n.args[e.argnum] or onp.array_equal(
                e.source.value, n.args[e.argnum]
            )
    onp.testing.assert_allclose(g.outputs[0].value, f(*args), rtol=1e-12)

    # backward pass: each edge's cotangent is v̄_target ∂target/∂source ...
    checked = 0
    for e in g.edges:
        if e.cotangent is not None:
            got, expected = _numeric_edge_cotangent(e)
            assert got == pytest.approx(expected, rel=1e-5, abs=1e-7), e
            checked += 1
    assert checked > 0
    # ... and each adjoint is the sum of what its children sent (or the seed)
    for n in g.nodes:
        sent = [e.cotangent for e in n.out_edges if e.cotangent is not None]
        if n.is_output:
            onp.testing.assert_allclose(n.adjoint, 1.0)
        elif sent:
            onp.testing.assert_allclose(n.adjoint, sum(sent), rtol=1e-12, atol=1e-14)
        else:
            assert n.adjoint is None

    # the inputs' adjoints are the gradient
    expected = grad(f, argnums=argnums)(*args)
    for node, gr in zip(g.inputs, expected):
        assert node.shape == onp.shape(gr)
        onp.testing.assert_allclose(node.adjoint, gr, rtol=1e-10, atol=1e-14)


def test_topological_order_and_edge_argument_positions():
    g = graph(lambda x: 2.0 - np.exp(x))(0.5)
    position = {id(n): i for i, n in enumerate(g.nodes)}
    for e in g.edges:
        assert position[id(e.source)] < position[id(e.target)]
    sub = g.outputs[0]
    assert sub.op == "subtract"
    assert [(e.source.kind, e.argnum) for e in sub.in_edges] == [
        ("constant", 0),
        ("operation", 1),
    ]
    assert [p.op for p in sub.parents] == ["constant", "exp"]
    assert [n.index for n in g.nodes] == list(range(len(g)))


def test_node_metadata():
    f = lambda X: np.sum(X.T, axis=1)
    g = graph(f, cotangent=onp.ones(3, onp.float32))(onp.ones((2, 3), dtype=onp.float32))
    x, t, s = g.nodes
    assert (x.type, t.type, s.type) == ("f32[2,3]", "f32[3,2]", "f32[3]")
    assert t.op == "transpose" and s.operation == "sum(axis=1)"
    assert x.children == [t] and s.parents == [t]
    assert "sum(axis=1)" in repr(s) and "f32[3]" in repr(s)


def test_names_from_locals_outer_function_wins_and_duplicates_are_numbered():
    def inner(a):
        tmp = np.exp(a)  # named by inner, renamed by nothing: it stays "tmp"
        h = np.sin(tmp)
        return h

    def f(x):
        h = inner(x)  # the outer name of inner's result
        z = inner(h)
        return np.sum(z)

    g = graph(f)(onp.array([0.1, 0.2]))
    names = [n.name for n in g.nodes]
    assert names == ["x", "tmp", "h", "tmp_2", "z", "v1"]
    # a parameter name ("a") never names the caller's value
    assert "a" not in g


def test_names_false_numbers_everything():
    def f(x):
        y = np.exp(x)
        return np.sum(y)

    g = graph(f, names=False)(onp.ones(2))
    assert [n.name for n in g.nodes] == ["x", "v1", "v2"]


def test_argument_names_pytrees_and_unnamed_constants():
    def loss(params, X):
        return np.sum((X @ params["w"] + params["b"]) ** 2)

    X = rand(4, 2)
    g = graph(loss)({"w": rand(2), "b": 0.5}, X)
    assert [n.name for n in g.inputs] == ["params['b']", "params['w']"]
    # the data matrix is a constant named by its argument; the integer power is a parameter
    assert [n.name for n in g.nodes if n.kind == "constant"] == ["X"]
    assert g.outputs[0].parents[0].operation == "power(2)"
    onp.testing.assert_allclose(
        g["params['w']"].adjoint, grad(loss)({"w": g["params['w']"].value, "b": 0.5}, X)["w"]
    )


def test_positional_only_and_varargs_names():
    g = graph(lambda *xs: np.sum(xs[0] * xs[1]), argnums=(0, 1))(1.0, 2.0)
    assert [n.name for n in g.inputs] == ["xs[0]", "xs[1]"]
    g = graph(np.sin)(0.5)
    assert [n.name for n in g.inputs] == ["x"]


def test_array_constant_used_twice_is_one_node():
    A = rand(2, 2)

    def f(x):
        return np.sum(A @ x + A @ np.sin(x))

    g = graph(f)(rand(2))
    consts = [n for n in g.nodes if n.kind == "constant"]
    assert len(consts) == 1 and consts[0].name == "A"
    assert len(consts[0].out_edges) == 2
    assert consts[0].adjoint is None


def test_symbolic_zero_adjoints():
    def f(x, y):
        unused = np.cos(x)  # noqa: F841 (computed, never reaches the output)
        return np.sum(x**2)

    g = graph(f, argnums=(0, 1))(rand(3), rand(3))
    assert g["unused"].adjoint is None
    assert g["y"].adjoint is None  # grad would give zeros; the graph says "never reached"
    assert g["x"].adjoint is not None
    table = g.table()
    assert "unused" in table
    row = next(line for line in table.splitlines()[::-1] if line.startswith("unused"))
    assert row.split()[1] == "—"


def test_output_that_does_not_depend_on_the_input():
    g = graph(lambda x: 3.0)(1.0)
    assert g.outputs[0].kind == "constant" and g.outputs[0].is_output
    assert g["x"].adjoint is None


def test_groups_by_user_function_and_call():
    def layer(W, h):
        return np.tanh(W @ h)

    def net(x, W):
        h = layer(W, x)
        return np.sum(layer(W, h))

    g = graph(net)(rand(3), rand(3, 3))
    groups = {n.group for n in g.operations}
    top = next(iter(groups))[0]
    assert top.endswith("net")
    assert {gr[1:] for gr in groups} == {
        ("test_groups_by_user_function_and_call.layer (call 1)",),
        ("test_groups_by_user_function_and_call.layer (call 2)",),
        (),
    }
    dot = g.to_dot()
    # the entry function is the common prefix, so only the two calls are boxes
    assert dot.count("subgraph cluster_") == 2
    assert "layer (call 1)" in dot and "layer (call 2)" in dot
    assert "subgraph" not in g.to_dot(group=False)
    # W is used by both calls, so it belongs to neither box
    assert g["W"].group == (top,)


def test_collapse_draws_each_call_as_one_node():
    def layer(W, h):
        return np.tanh(W @ h)

    def net(x, W):
        for _ in range(4):
            x = layer(W, x)
        return np.sum(x)

    g = graph(net)(rand(3), rand(3, 3))
    dot = g.to_dot(collapse=True)
    units = [
        line.split()[0] for line in dot.splitlines() if line.startswith("  u") and "->" not in line
    ]
    assert len(units) == 2 + 4 + 1  # x, W, four calls, the sum
    assert dot.count("2 operations; last tanh") == 4
    edges = {tuple(line.strip(" ;").split(" -> ")) for line in dot.splitlines() if "->" in line}
    # x -> call 1 -> call 2 -> call 3 -> call 4 -> sum, and W -> every call
    assert edges == {
        ("u0", "u2"), ("u2", "u3"), ("u3", "u4"), ("u4", "u5"), ("u5", "u6"),
        ("u1", "u2"), ("u1", "u3"), ("u1", "u4"), ("u1", "u5"),
    }  # fmt: skip
    last_tanh = [n for n in g.operations if n.op == "tanh"][-1]
    assert f"v̄ = {summarize(last_tanh.adjoint)}" in dot
    sum_unit = next(line for line in dot.splitlines() if line.startswith("  u6 ["))
    assert "= sum" in sum_unit and "peripheries=2" in sum_unit  # the output
    small = g.to_dot(collapse=True, max_nodes=3)
    assert "… 4 more nodes not shown (max_nodes=3" in small


def test_graph_inside_code_that_uses_grad():
    # The inner grad's backward pass runs on the graph's boxes, so it appears as nodes.
    def f(x):
        gx = grad(lambda u: np.sum(np.sin(u) * u))(x)
        return np.sum(gx**2)

    x = rand(3)
    g = graph(f)(x)
    onp.testing.assert_allclose(g["x"].adjoint, grad(f)(x), rtol=1e-10)
    assert {"sin", "cos"} <= {n.op for n in g.operations}


def test_cotangent_gives_a_vector_jacobian_product():
    f = lambda A, x: np.tanh(A @ x)
    A, x, u = rand(3, 2), rand(2), rand(3)
    g = graph(f, argnums=(0, 1), cotangent=u)(A, x)
    _, f_vjp = vjp(f, A, x)
    for node, expected in zip(g.inputs, f_vjp(u)):
        onp.testing.assert_allclose(node.adjoint, expected, rtol=1e-12)


def test_tuple_output_with_cotangents():
    g = graph(lambda x: (np.sum(x), np.sum(x**2)), cotangent=(1.0, 0.5))(onp.array([1.0, 2.0]))
    onp.testing.assert_allclose(g["x"].adjoint, 1.0 + onp.array([1.0, 2.0]))
    assert [n.is_output for n in g.nodes].count(True) == 2


@pytest.mark.parametrize(
    "kwargs,args,message",
    [
        ({}, (onp.ones(3),), r"graph: the function returned a value of shape \(3,\).*cotangent="),
        ({"cotangent": onp.ones(2)}, (onp.ones(3),), r"cotangent has shape \(2,\).*\(3,\)"),
        ({"cotangent": (1.0, 1.0)}, (onp.ones(3),), r"graph: cotangent has structure"),
    ],
)
def test_output_seed_errors(kwargs, args, message):
    with pytest.raises(ValueError, match=message):
        graph(lambda x: x * 2.0, **kwargs)(*args)


def test_complex_scalar_output_needs_a_cotangent():
    with pytest.raises(ValueError, match="complex value.*cotangent="):
        graph(lambda x: x * (1.0 + 1.0j))(1.0)


def test_argument_errors():
    with pytest.raises(ValueError, match=r"graph: argnums=2 is out of range.*from 0 to 0"):
        graph(np.sin, argnums=2)(1.0)
    with pytest.raises(TypeError, match=r"graph: argument x has dtype int64.*1\.0 instead of 1"):
        graph(np.sin)(onp.int64(1))
    g = graph(np.sin)(1.0)
    with pytest.raises(KeyError, match=r"Graph: no node named 'q'; the nodes are: x, v1"):
        g["q"]


def test_profiler_restored_and_not_used_by_grad():
    seen = []

    def mine(frame, event, arg):
        seen.append(event)

    sys.setprofile(mine)
    try:
        graph(np.sin)(1.0)
        assert sys.getprofile() is mine
        with pytest.raises(ZeroDivisionError):
            graph(lambda x: 1 / 0)(1.0)
        assert sys.getprofile() is mine
    finally:
        sys.setprofile(None)
    # the ordinary reverse trace records no groups or names
    from matdiff.core import ReverseTrace

    assert not hasattr(ReverseTrace(), "groups")


def test_table_layout_and_truncation():
    g = graph(lambda x: np.sum(np.exp(np.sin(x))))(rand(5))
    lines = g.table().splitlines()
    assert lines[0] == "forward pass (topological order)"
    assert lines[1].split() == ["node", "operation", "parents", "type", "value"]
    assert lines[2].split()[:3] == ["x", "input", "f64[5]"]
    back = lines.index("backward pass (reverse order): v̄ = Σ over children of v̄_child ∂child/∂v")
    assert lines[back + 2].split(maxsplit=2) == ["v3", "1", "(output seed)"]
    assert [line.split()[0] for line in lines[back + 2 :]] == ["v3", "v2", "v1", "x"]
    assert str(g) == g.table()

    short = g.table(max_nodes=2)
    assert "… 2 more nodes not shown (max_nodes=2" in short
    assert "v2" not in short.split("backward pass")[0]
    assert "more nodes not shown" not in g.table(max_nodes=4)
    with pytest.raises(ValueError, match="max_nodes must be at least 1"):
        g.table(max_nodes=0)


def test_dot_contents_and_truncation():
    g = graph(lambda w, x: np.sum(np.tanh(w * x)), argnums=(0, 1))(0.5, rand(3))
    dot = g.to_dot()
    assert dot.startswith("digraph matdiff {") and dot.rstrip().endswith("}")
    assert dot.count(" -> ") == len(g.edges)
    assert 'n0 -> n2 [label="0"]' in dot and 'n1 -> n2 [label="1"]' in dot
    assert "peripheries=2" in dot  # the output
    assert "v̄ = " in dot and "shape=ellipse" in dot
    assert "rankdir=LR" in g.to_dot(rankdir="LR")
    small = g.to_dot(max_nodes=3)
    assert len(g) == 5
    assert "truncated [shape=note" in small and "… 2 more nodes not shown" in small
    assert small.count(" -> ") == 2  # only the edges between shown nodes


def test_dot_escapes_html_in_names_and_groups():
    def f(x):
        inner = lambda u: np.sin(u)
        return np.sum(inner(x) * x)

    dot = graph(f)(rand(2)).to_dot()
    # the lambda's group label is "...f.<lambda>", escaped for Graphviz
    assert "html_in_names_and_groups.f.&lt;lambda&gt;" in dot
    assert "<lambda>" not in dot


def test_repr():
    g = graph(lambda x: np.sum(np.sin(x)))(rand(2))
    assert repr(g).startswith("<Graph of <lambda>: 1 inputs, 0 constants, 2 operations; output v2")


@pytest.mark.parametrize(
    "value,text",
    [
        (None, "—"),
        (0.5, "0.5"),
        (onp.float32(1.0 / 3.0), "0.3333"),
        (3, "3"),
        (1.0 + 2.0j, "1+2j"),
        (onp.array([1.0, 2.5, -3.0]), "[1, 2.5, -3]"),
        (onp.eye(2), "[[1, 0], [0, 1]]"),
        (onp.arange(10.0), "in [0, 9]"),
        (onp.array([1.0, onp.nan, 3.0, onp.inf, 0.0]), "in [0, 3], 2 not finite"),
        (onp.full(5, onp.nan), "5 not finite"),
        (onp.array([True, False, True, True, True]), "4 of 5 true"),
        (onp.ones(5) * (3.0 + 4.0j), "|.| in [5, 5]"),
        (onp.zeros((0, 3)), "[]"),
        ((1, 2), "[1, 2]"),
        ("text", "'text'"),
        ("a" * 40, repr("a" * 40)[:21] + "..."),
    ],
)
def test_summarize(value, text):
    assert summarize(value) == text


def test_graph_class_is_exported():
    assert isinstance(graph(np.sin)(1.0), Graph)


def test_which_frames_are_user_functions():
    import os

    libs, stdlib, site = frames.library_dirs()
    is_library = frames.is_library
    assert is_library(graph_module.__file__) and is_library(onp.__file__)
    assert is_library(os.__file__) and is_library("<frozen importlib._bootstrap>")
    # an installed package of the user's, doctests, notebooks and generated code are not
    assert not is_library(os.path.join(site[0], "mymodel", "layers.py"))
    assert not is_library("<doctest example>") and not is_library("/home/me/train.py")
