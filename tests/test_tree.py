"""Pytrees: every node kind flattens, unflattens and maps; structures compare and print."""

import collections

import numpy
import pytest

from matdiff import grad
from matdiff.tree import (
    register_pytree_node,
    register_pytree_node_class,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_structure,
    tree_unflatten,
)

Point = collections.namedtuple("Point", ["x", "y"])


class Box2:
    def __init__(self, lo, hi, label):
        self.lo, self.hi, self.label = lo, hi, label


register_pytree_node(Box2, lambda b: ((b.lo, b.hi), b.label), lambda label, c: Box2(*c, label))


@register_pytree_node_class
class Scaled:
    def __init__(self, value, scale):
        self.value, self.scale = value, scale

    def tree_flatten(self):
        return (self.value,), self.scale

    @classmethod
    def tree_unflatten(cls, scale, children):
        return cls(children[0], scale)


TREES = [
    1.0,
    numpy.ones(2),
    (1.0, 2.0),
    [1.0, [2.0, (3.0,)]],
    {"b": 1.0, "a": (2.0, None)},
    collections.OrderedDict([("z", 1.0), ("a", 2.0)]),
    Point(1.0, numpy.zeros(3)),
    Box2(1.0, 2.0, "unit"),
    Scaled(numpy.ones(2), 3.0),
    None,
    (),
]


@pytest.mark.parametrize("tree", TREES, ids=lambda t: type(t).__name__)
def test_flatten_unflatten_round_trip(tree):
    leaves, treedef = tree_flatten(tree)
    rebuilt = tree_unflatten(treedef, leaves)
    assert type(rebuilt) is type(tree)
    assert tree_structure(rebuilt) == treedef
    assert hash(tree_structure(rebuilt)) == hash(treedef)
    for a, b in zip(tree_leaves(rebuilt), leaves):
        assert a is b


def test_leaf_order_and_node_data():
    assert tree_leaves({"b": 1.0, "a": 2.0}) == [2.0, 1.0]  # dict keys sorted
    assert tree_leaves(collections.OrderedDict([("b", 1.0), ("a", 2.0)])) == [1.0, 2.0]
    assert tree_leaves((None, [None])) == []
    b = tree_unflatten(tree_structure(Box2(1.0, 2.0, "unit")), [5.0, 6.0])
    assert (b.lo, b.hi, b.label) == (5.0, 6.0, "unit")
    assert tree_structure(Box2(1.0, 2.0, "a")) != tree_structure(Box2(1.0, 2.0, "b"))
    assert tree_structure((1.0,)) != tree_structure([1.0])
    assert tree_structure({"a": 1.0}) != tree_structure({"b": 1.0})


def test_structure_prints_readably():
    assert repr(tree_structure((1.0, [2.0, None], {"k": 3.0}))) == "(*, [*, None], {'k': *})"
    assert repr(tree_structure((1.0,))) == "(*,)"
    assert repr(tree_structure(Point(1.0, 2.0))) == "Point(*, *)"


def test_tree_map_over_several_trees():
    out = tree_map(lambda a, b: a * b, {"p": (1.0, 2.0)}, {"p": (3.0, 4.0)})
    assert out == {"p": (3.0, 8.0)}
    with pytest.raises(
        ValueError,
        match=r"tree_map: mismatched pytree structures: \{'p': \(\*, \*\)\} and \{'p': \[\*, \*\]\}",
    ):
        tree_map(lambda a, b: a, {"p": (1.0, 2.0)}, {"p": [1.0, 2.0]})


def test_unflatten_with_wrong_number_of_leaves():
    with pytest.raises(
        ValueError, match=r"tree_unflatten: the structure \(\*, \*\) has 2 leaves, got 3"
    ):
        tree_unflatten(tree_structure((1.0, 2.0)), [1.0, 2.0, 3.0])


def test_gradient_through_every_node_kind():
    tree = {
        "nt": Point(1.0, numpy.array([1.0, 2.0])),
        "od": collections.OrderedDict([("z", 2.0), ("a", 3.0)]),
        "box": Box2(0.5, 1.5, "b"),
        "sc": Scaled(numpy.array([2.0]), 10.0),
        "none": None,
    }

    def f(t):
        total = t["nt"].x * t["nt"].y.sum() + t["od"]["z"] * t["od"]["a"]
        return total + t["box"].lo * t["box"].hi + t["sc"].scale * t["sc"].value.sum()

    g = grad(f)(tree)
    assert g["nt"].x == 3.0 and list(g["nt"].y) == [1.0, 1.0]
    assert list(g["od"].items()) == [("z", 3.0), ("a", 2.0)]
    assert (g["box"].lo, g["box"].hi, g["box"].label) == (1.5, 0.5, "b")
    assert g["sc"].scale == 10.0 and list(g["sc"].value) == [10.0]
    assert g["none"] is None
