"""``matdiff.util``: autograd.util's public names behave as autograd's do."""

import operator
import warnings

import autograd.util
import numpy
import pytest

import matdiff.numpy as np
from matdiff import util


def test_has_autograd_util_public_names():
    public = {n for n in dir(autograd.util) if not n.startswith("_")}
    public -= {"operator", "warnings", "deprecation_msg"}  # autograd's own imports and text
    assert public <= set(util.__all__)


@pytest.mark.parametrize(
    "args",
    [((1, 2, 3), 0, "a"), ([1, 2, 3], -1, None), ((5,), 0, (1, 2))],
)
def test_subval_matches_autograd(args):
    assert util.subval(*args) == autograd.util.subval(*args)
    assert type(util.subval(*args)) is tuple


@pytest.mark.parametrize(
    "args",
    [((1, 2, 3), [(0, "a"), (2, "c")]), ([1, 2], [(1, 7), (1, 8)]), ((1,), [])],
)
def test_subvals_matches_autograd(args):
    assert util.subvals(*args) == autograd.util.subvals(*args)


def test_subval_does_not_mutate():
    x = [1, 2]
    util.subval(x, 0, 9)
    util.subvals(x, [(1, 9)])
    assert x == [1, 2]


def test_func_is_identity():
    f = lambda x: x
    assert util.func(f) is f is autograd.util.func(f)


class Node:
    def __init__(self, name, *parents):
        self.name = name
        self.parents = list(parents)

    def __repr__(self):
        return self.name


def _graphs():
    x = Node("x")
    y = Node("y")
    sq = Node("sq", x, x)
    prod = Node("prod", sq, y, x)
    out = Node("out", prod, sq)
    yield out
    yield Node("alone")
    a = Node("a")
    chain = a
    for i in range(5):
        chain = Node(f"c{i}", chain, a)
    yield chain


@pytest.mark.parametrize("end", list(_graphs()), ids=repr)
def test_toposort_matches_autograd_order(end):
    ours = list(util.toposort(end))
    theirs = list(autograd.util.toposort(end))
    assert ours == theirs
    seen = set()
    for node in ours:  # each node comes after every child that reaches it
        seen.add(node)
        for parent in node.parents:
            assert parent not in seen or parent is node


def test_toposort_custom_parents_and_laziness():
    graph = {"out": ["a", "b"], "a": ["c"], "b": ["c"], "c": []}
    order = util.toposort("out", parents=graph.__getitem__)
    assert not isinstance(order, list)
    assert list(order) == list(autograd.util.toposort("out", parents=graph.__getitem__))
    assert util.toposort.__defaults__[0].__class__ is operator.attrgetter


def test_quick_grad_check_warns_and_checks():
    f = lambda x, k, scale=1.0: scale * np.sum(np.sin(k * x))
    with pytest.warns(DeprecationWarning, match="quick_grad_check is deprecated"):
        util.quick_grad_check(f, numpy.array([0.1, 0.2]), extra_args=(2.0,), kwargs={"scale": 3})
    # autograd warns with the default category, UserWarning: code catching that still works.
    with pytest.warns(UserWarning):
        util.quick_grad_check(f, numpy.array([0.1, 0.2]), (2.0,))
    with pytest.warns(UserWarning):
        autograd.util.quick_grad_check(
            lambda x, k: autograd.numpy.sum(autograd.numpy.sin(k * x)),
            numpy.array([0.1, 0.2]),
            (2.0,),
        )


def test_quick_grad_check_fails_on_a_wrong_gradient():
    from matdiff.extend import defvjp, primitive

    wrong = primitive(lambda x: numpy.sin(x))
    defvjp(wrong, lambda ans, x: lambda g: g * 2.0 * np.cos(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(AssertionError):
            util.quick_grad_check(lambda x: np.sum(wrong(x)), numpy.array([0.3, 0.4]))
