"""Pytrees: nested tuples, lists, dicts, OrderedDicts, namedtuples, ``None``, registered classes.

A pytree's leaves are the arrays and numbers in it; its structure (:class:`TreeDef`) is
everything else. Derivatives of functions of pytrees have the pytree's structure.

>>> leaves, treedef = tree_flatten({"w": 1.0, "b": (2.0, None)})
>>> leaves
[2.0, 1.0]
>>> tree_unflatten(treedef, [20.0, 10.0])
{'b': (20.0, None), 'w': 10.0}
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = [
    "TreeDef",
    "tree_flatten",
    "tree_unflatten",
    "tree_map",
    "tree_leaves",
    "tree_structure",
    "register_pytree_node",
    "register_pytree_node_class",
]

_registry: dict[type, tuple[Callable, Callable]] = {}


def register_pytree_node(
    cls: type,
    flatten: Callable[[Any], tuple[Any, Any]],
    unflatten: Callable[[Any, Any], Any],
) -> None:
    """Make instances of ``cls`` pytree nodes.

    ``flatten(obj) -> (children, aux)`` and ``unflatten(aux, children) -> obj``, as in JAX.

    >>> class Pair:
    ...     def __init__(self, a, b):
    ...         self.a, self.b = a, b
    >>> register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda aux, c: Pair(*c))
    >>> tree_leaves(Pair(1.0, 2.0))
    [1.0, 2.0]
    """
    _registry[cls] = (flatten, unflatten)


def register_pytree_node_class(cls: type) -> type:
    """Class decorator: ``cls`` has ``tree_flatten()`` and classmethod ``tree_unflatten``.

    >>> @register_pytree_node_class
    ... class Scaled:
    ...     def __init__(self, value, scale):
    ...         self.value, self.scale = value, scale
    ...     def tree_flatten(self):
    ...         return (self.value,), self.scale  # the scale is static, not a leaf
    ...     @classmethod
    ...     def tree_unflatten(cls, scale, children):
    ...         return cls(children[0], scale)
    >>> tree_map(lambda v: 2 * v, Scaled(1.5, 10)).value
    3.0
    """
    register_pytree_node(cls, lambda o: o.tree_flatten(), cls.tree_unflatten)
    return cls


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


class TreeDef:
    """The structure of a pytree: a node kind, static data and child structures."""

    __slots__ = ("kind", "aux", "children", "num_leaves")

    def __init__(self, kind: Any, aux: Any, children: tuple) -> None:
        self.kind = kind
        self.aux = aux
        self.children = children
        if kind == "leaf":
            self.num_leaves = 1
        else:
            self.num_leaves = sum(c.num_leaves for c in children)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TreeDef)
            and self.kind == other.kind
            and self.aux == other.aux
            and self.children == other.children
        )

    def __hash__(self) -> int:
        return hash((self.kind, _hashable(self.aux), self.children))

    def __repr__(self) -> str:
        if self.kind == "leaf":
            return "*"
        if self.kind is type(None):
            return "None"
        inner = ", ".join(map(repr, self.children))
        if self.kind is tuple:
            return f"({inner}{',' if len(self.children) == 1 else ''})"
        if self.kind is list:
            return f"[{inner}]"
        if self.kind is dict:
            return "{" + ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.aux, self.children)) + "}"
        return f"{getattr(self.kind, '__name__', self.kind)}({inner})"


def _hashable(aux: Any) -> Any:
    try:
        hash(aux)
        return aux
    except TypeError:
        return repr(aux)


_LEAF = TreeDef("leaf", None, ())


def _flatten(tree: Any, leaves: list) -> TreeDef:
    t = type(tree)
    if t is tuple:
        return TreeDef(tuple, None, tuple(_flatten(c, leaves) for c in tree))
    if t is list:
        return TreeDef(list, None, tuple(_flatten(c, leaves) for c in tree))
    if t is dict:
        keys = sorted(tree)
        return TreeDef(dict, tuple(keys), tuple(_flatten(tree[k], leaves) for k in keys))
    if t is OrderedDict:
        # An OrderedDict's order is part of its meaning: keep it, as JAX does.
        keys = tuple(tree)
        return TreeDef(OrderedDict, keys, tuple(_flatten(tree[k], leaves) for k in keys))
    if tree is None:
        return TreeDef(type(None), None, ())
    if t in _registry:
        children, aux = _registry[t][0](tree)
        return TreeDef(t, aux, tuple(_flatten(c, leaves) for c in children))
    if _is_namedtuple(tree):
        return TreeDef(t, None, tuple(_flatten(c, leaves) for c in tree))
    leaves.append(tree)
    return _LEAF


def tree_flatten(tree: Any) -> tuple[list, TreeDef]:
    """Leaves in a fixed order (dict keys sorted) and the structure to rebuild the tree.

    >>> leaves, treedef = tree_flatten({"b": (1.0, None), "a": [2.0, 3.0]})
    >>> leaves
    [2.0, 3.0, 1.0]
    >>> treedef
    {'a': [*, *], 'b': (*, None)}
    """
    leaves: list = []
    treedef = _flatten(tree, leaves)
    return leaves, treedef


def _unflatten(treedef: TreeDef, it) -> Any:
    kind = treedef.kind
    if kind == "leaf":
        return next(it)
    children = [_unflatten(c, it) for c in treedef.children]
    if kind is tuple:
        return tuple(children)
    if kind is list:
        return children
    if kind is dict:
        return dict(zip(treedef.aux, children))
    if kind is OrderedDict:
        return OrderedDict(zip(treedef.aux, children))
    if kind is type(None):
        return None
    if kind in _registry:
        return _registry[kind][1](treedef.aux, children)
    return kind(*children)


def tree_unflatten(treedef: TreeDef, leaves: list) -> Any:
    """Inverse of :func:`tree_flatten`: ``treedef`` filled with ``leaves`` in order.

    >>> treedef = tree_structure({"b": (1.0, None), "a": [2.0, 3.0]})
    >>> tree_unflatten(treedef, [4.0, 5.0, 6.0])
    {'a': [4.0, 5.0], 'b': (6.0, None)}
    """
    leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(
            f"tree_unflatten: the structure {treedef} has {treedef.num_leaves} leaves, "
            f"got {len(leaves)}"
        )
    return _unflatten(treedef, iter(leaves))


def tree_leaves(tree: Any) -> list:
    """The leaves of ``tree``, in :func:`tree_flatten`'s order.

    >>> tree_leaves({"w": [1.0, 2.0], "b": 0.5})
    [0.5, 1.0, 2.0]
    """
    return tree_flatten(tree)[0]


def tree_structure(tree: Any) -> TreeDef:
    """The structure of ``tree`` without its leaves.

    >>> tree_structure((1.0, [2.0, 3.0])).num_leaves
    3
    """
    return tree_flatten(tree)[1]


def tree_map(f: Callable, tree: Any, *rest: Any) -> Any:
    """Apply ``f`` leafwise; ``rest`` must have the same structure as ``tree``.

    >>> tree_map(lambda a, b: a + b, (1.0, [2.0]), (10.0, [20.0]))
    (11.0, [22.0])
    """
    leaves, treedef = tree_flatten(tree)
    others = []
    for r in rest:
        rl, rd = tree_flatten(r)
        if rd != treedef:
            raise ValueError(
                f"tree_map: mismatched pytree structures: {treedef} and {rd}; "
                "every tree must have the structure of the first"
            )
        others.append(rl)
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others)])
