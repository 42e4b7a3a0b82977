"""The derivation's steps: what ``Derivative.steps`` shows, one step per rule application.

``rule_steps`` writes the differential of an expression rule by rule, children before
parents; ``derivation`` records it as a ``Later`` step, written out when read.

>>> from matdiff.symbolic import parse
>>> x = parse("x")
>>> for step in rule_steps(parse("sum(exp(x))"), x):
...     print(step)
d f(X) = f'(X) .* dX:
    d(exp(x)) = dx.*exp(x)
d sum(X) = sum(dX):
    df = sum(d(exp(x))) = sum(dx.*exp(x))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from . import expr as E
from .differentials import DIFFERENTIALS, differential
from .display import steps_html
from .errors import SymbolicError
from .expr import Expr
from .printers import to_text


class Step(NamedTuple):
    """One step of a derivation: the rule or identity used, and the expression after it."""

    rule: str
    expression: str

    def __str__(self) -> str:
        expression = self.expression.replace("\n", "\n    ")  # a result with temporaries
        return f"{self.rule}:\n    {expression}"

    def _repr_html_(self) -> str:
        return steps_html([self])


class Steps(list):
    """The derivation, a list of ``Step``; ``print(steps)`` shows it one step per line."""

    def append(self, step: Step) -> None:
        # a simplification that changed nothing is not a step
        if (
            isinstance(step, Step)
            and step.rule == "simplify"
            and self
            and isinstance(self[-1], Step)
            and _last(self[-1]) == _last(step)
        ):
            return
        super().append(step)

    def __str__(self) -> str:
        return "\n".join(str(s) for s in self)

    def _repr_html_(self) -> str:
        return steps_html(self)


class Later(NamedTuple):
    """Steps written only when the derivation is read: ``make()`` returns them.

    A step per rule application prints every subexpression; for a sum of 1,000 terms
    that costs as much as the derivative itself, so it waits until someone looks.
    """

    make: Callable


def _last(step: Step) -> str:
    """What a step ends in: the right side of its last ``=``."""
    return step.expression.rsplit(" = ", 1)[-1]


def resolved(steps: list) -> Steps:
    """``steps`` with every ``Later`` written out."""
    out = Steps()
    for step in steps:
        for s in step.make() if isinstance(step, Later) else (step,):
            out.append(s)
    return out


def rule_steps(f: Expr, x: Expr, label: str = "f") -> list[Step]:
    """One step for every rule application in d(f), children before their parents.

    Each step writes the rule with the children's differentials as ``d(child)``, then
    with them put in, then as the constructors simplify it, so that nothing is skipped:
    for ``log(det(X))`` the step of ``log`` shows ``d(det(X))/det(X)``, the
    ``det(X)*tr(...)/det(X)`` it stands for, and the ``tr(...)`` it cancels to.
    """
    depends: dict = {}
    for n in E.nodes(f):
        depends[n] = (isinstance(n, E.Var) and n.name == x.name) or any(depends[a] for a in n.args)
    found: dict = {}

    def actual(n: Expr) -> Expr:
        if n not in found:
            found[n] = differential(n, x)
        return found[n]

    def plain(dn: Expr) -> bool:
        # dx and dx' need no step of their own to be read in place
        return isinstance(dn, E.Delta) or (isinstance(dn, E.T) and isinstance(dn.args[0], E.Delta))

    written: dict = {}  # the name standing for a child's differential -> its value

    def d(c: Expr) -> Expr:
        if not depends.get(c, E.depends_on(c, x.name)):
            return E.zero(c.shape)
        dc = actual(c)
        if plain(dc):
            return dc
        name = f"d({to_text(c)})"
        written[name] = dc
        kind = "scalar" if c.is_scalar else "vector" if c.kind == "vector" else "matrix"
        return E.var(name, kind, c.shape)

    out = []
    for n in E.nodes(f):
        rule = DIFFERENTIALS[type(n)]
        if not depends[n] or rule.statement is None:
            continue
        written.clear()
        result = to_text(actual(n))
        lhs = f"d{label}" if n is f else f"d({to_text(n)})"
        try:
            shown = to_text(rule.apply(n, d, lambda c: depends.get(c, True)))
        except SymbolicError:  # the rule needs its children's differentials themselves
            shown = result
        chain = [shown]
        if written:
            put_in = shown
            for name, dc in written.items():
                text = to_text(dc)
                bare = put_in == name or dc.binding >= E.POST
                # an argument's brackets are brackets enough: sum(d(u)) is sum(du)
                put_in = put_in.replace(f"({name})", f"({text})")
                put_in = put_in.replace(name, text if bare else f"({text})")
            chain.append(put_in)
        if chain[-1] != result:
            chain.append(result)
        out.append(Step(rule.statement, f"{lhs} = " + " = ".join(chain)))
    return out
