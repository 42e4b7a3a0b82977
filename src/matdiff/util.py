"""autograd's ``util``: small helpers that autograd programs import by name.

``subval``/``subvals`` replace entries of an argument tuple, ``func`` is the identity
(autograd used it to reach a primitive's underlying function), ``toposort`` orders a
graph from its end node, and ``quick_grad_check`` is autograd's deprecated first-order
check, kept so that old programs run; it warns and calls :func:`matdiff.test_util.check_grads`.

>>> subval((1, 2, 3), 1, "b")
(1, 'b', 3)
>>> subvals((1, 2, 3), [(0, "a"), (2, "c")])
('a', 2, 'c')
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["func", "subval", "subvals", "toposort", "quick_grad_check"]


def subvals(x: Iterable, ivs: Iterable[tuple[int, Any]]) -> tuple:
    """``x`` as a tuple with each ``(i, v)`` of ``ivs`` put at position ``i``.

    >>> subvals([0, 0, 0], [(1, 5), (1, 6)])
    (0, 6, 0)
    """
    out = list(x)
    for i, v in ivs:
        out[i] = v
    return tuple(out)


def subval(x: Iterable, i: int, v: Any) -> tuple:
    """``x`` as a tuple with ``v`` at position ``i``: how a function of one argument
    among several is made (``lambda xi: f(*subval(args, i, xi))``).

    >>> subval([1, 2], -1, 0)
    (1, 0)
    """
    out = list(x)
    out[i] = v
    return tuple(out)


def func(f: Callable) -> Callable:
    """``f`` itself.

    autograd's programs write ``func(f)`` where an older version needed the function
    under a wrapper; with matdiff, as with current autograd, there is nothing to unwrap.

    >>> func(len) is len
    True
    """
    return f


def toposort(
    end_node: Any, parents: Callable[[Any], Iterable] = operator.attrgetter("parents")
) -> Iterator:
    """The nodes reachable from ``end_node``, each before all of its parents.

    ``parents(node)`` lists a node's parents (by default its ``parents`` attribute); a
    node listed twice as a parent (``x * x``) still comes once, after all its children.
    This is the order of a backward pass. Nodes must be hashable.

    >>> graph = {"out": ["mul"], "mul": ["x", "x"], "x": []}
    >>> list(toposort("out", parents=graph.__getitem__))
    ['out', 'mul', 'x']
    """
    # Count each node's children reachable from the end (an edge per parent entry), then
    # release a node once its last child has been yielded.
    child_counts: dict = {}
    stack = [end_node]
    while stack:
        node = stack.pop()
        if node in child_counts:
            child_counts[node] += 1
        else:
            child_counts[node] = 1
            stack.extend(parents(node))
    ready = [end_node]
    while ready:
        node = ready.pop()
        yield node
        for parent in parents(node):
            if child_counts[parent] == 1:
                ready.append(parent)
            else:
                child_counts[parent] -= 1


class QuickGradCheckDeprecation(DeprecationWarning, UserWarning):
    """``quick_grad_check``'s warning: a deprecation, and a ``UserWarning`` as autograd's was.

    autograd warns with the default category (``UserWarning``), so code that filters or
    expects that category keeps working, while ``DeprecationWarning`` filters see it too.
    """


_DEPRECATION = (
    "quick_grad_check is deprecated (as in autograd): use "
    "matdiff.test_util.check_grads(fun, modes=['rev'], order=1)(arg0) instead."
)


def quick_grad_check(
    fun: Callable,
    arg0: Any,
    extra_args: tuple = (),
    kwargs: dict | None = None,
    verbose: bool = True,
    eps: float = 1e-4,
    rtol: float = 1e-4,
    atol: float = 1e-6,
    rs: Any = None,
) -> None:
    """Deprecated: check ``fun``'s reverse-mode gradient in ``arg0`` against finite differences.

    Runs ``check_grads(lambda x: fun(x, *extra_args, **kwargs), modes=["rev"], order=1)(arg0)``
    after a :class:`QuickGradCheckDeprecation` warning, as autograd does; ``verbose``,
    ``eps``, ``rtol``, ``atol`` and ``rs`` are accepted and, as in autograd, unused.
    A mismatch raises ``AssertionError``.

    >>> import warnings
    >>> import matdiff.numpy as np
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     quick_grad_check(lambda x, k: np.sum(np.sin(k * x)), np.array([0.1, 0.2]), (2.0,))
    >>> caught[0].category.__name__
    'QuickGradCheckDeprecation'
    """
    warnings.warn(_DEPRECATION, QuickGradCheckDeprecation, stacklevel=2)
    from .test_util import check_grads

    kwargs = {} if kwargs is None else kwargs

    def fun_of_arg0(x):
        return fun(x, *extra_args, **kwargs)

    fun_of_arg0.__name__ = getattr(fun, "__name__", "fun")
    check_grads(fun_of_arg0, modes=["rev"], order=1)(arg0)
