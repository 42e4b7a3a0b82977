"""The differential approach: rules for d(.), then reading derivatives off df.

``differential(e, x)`` applies one textbook rule per node kind and returns an expression
linear in ``dx``. The derivative is then read off that linear form:

* ``gradient``: for a scalar ``df``, move ``dx`` out with the inner-product identities
  ``<S, P*F*Q> = <P'*S*Q', F>``, ``<S, A.*F> = <S.*A, F>``, ``<s, tr(F)> = <s*I, F>``,
  ``<s, sum(F)> = <s*1, F>``, ``<S, F'> = <S', F>`` until ``df = <g, dx>``;
* ``jacobian``: for a vector ``dy`` and a vector ``dx``, write ``dy = J*dx`` with
  ``d(P*F) = P*dF``, ``d(a.*F) = diag(a)*dF``, ``diag(v)*q = diag(q)*v``;
* ``tensor_terms``: for a matrix variable, write each term of ``dY`` as one of
  ``P*dX*Q`` (``kron(Q', P)`` in the vec layout), ``P*dX'*Q``, ``M.*dX``, ``M.*dX'`` or
  ``M*<G, dX>``; anything else is refused rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from . import expr as E
from .errors import SymbolicError
from .expr import Expr
from .printers import to_text
from .simplify import product


def _zero_like(e: Expr) -> Expr:
    return E.zero(e.shape)


def _ones(shape) -> Expr:
    return E.fill(1.0, shape)


def _one_minus(x: Expr) -> Expr:
    return E.add(_ones(x.shape), E.neg(x))


def _elementwise_derivative(name: str, x: Expr) -> Expr:
    """f'(x) for the elementwise functions (applied entrywise)."""
    if name == "exp":
        return E.fn("exp", x)
    if name == "log":
        return E.pow_(x, -1.0)
    if name == "sin":
        return E.fn("cos", x)
    if name == "cos":
        return E.neg(E.fn("sin", x))
    if name == "tan":
        return E.pow_(E.fn("cos", x), -2.0)
    if name == "arcsin":
        return E.pow_(_one_minus(E.pow_(x, 2.0)), -0.5)
    if name == "arccos":
        return E.neg(E.pow_(_one_minus(E.pow_(x, 2.0)), -0.5))
    if name == "arctan":
        return E.pow_(E.add(_ones(x.shape), E.pow_(x, 2.0)), -1.0)
    if name == "sinh":
        return E.fn("cosh", x)
    if name == "cosh":
        return E.fn("sinh", x)
    if name == "tanh":
        return _one_minus(E.pow_(E.fn("tanh", x), 2.0))
    if name == "sqrt":
        return E.scale(0.5, E.pow_(E.fn("sqrt", x), -1.0))
    if name == "abs":
        return E.fn("sign", x)  # the kink at 0 is stated as sign(0) = 0
    if name == "sign":
        return E.zero(x.shape)
    if name == "relu":
        return E.fn("relu", E.fn("sign", x))  # the step function: 1 where x > 0, else 0
    raise SymbolicError(f"no derivative rule for {name}")


def inner(a: Expr, b: Expr) -> Expr:
    """<a, b>: the sum of the entrywise products, spelled as a person would."""
    kind = a.kind
    if kind == "scalar":
        return product(a, b)
    if kind == "vector":
        return product(E.transpose(a), b)
    if kind == "row":
        return product(a, E.transpose(b))
    return E.sum_(E.had(a, b))


def _is_square(e: Expr) -> bool:
    return e.shape[0] == e.shape[1]


class Rule(NamedTuple):
    """The differential of one node kind: its textbook statement and its application.

    ``apply(n, d, depends)`` gets the node, ``d`` (the differential of a child) and
    ``depends`` (whether a child depends on the variable).
    """

    statement: str | None
    apply: Callable


def _product_rule(build):
    # the product rule, for the matrix, the elementwise and the Kronecker product alike
    def apply(n, d, depends):
        a = n.args
        return E.add(*[build(*a[:i], d(f), *a[i + 1 :]) for i, f in enumerate(a) if depends(f)])

    return apply


def _d_sum(n, d, depends):
    (x,) = n.args
    if isinstance(x, E.Kron):
        # a gradient cannot be read off through kron; sum(kron(P, Q)) = sum(P) sum(Q)
        return d(product(*(E.sum_(f) for f in x.args)))
    return E.sum_(d(x))


def _d_tr(n, d, depends):
    (x,) = n.args
    if isinstance(x, E.Kron) and all(_is_square(f) for f in x.args):
        # likewise tr(kron(P, Q)) = tr(P) tr(Q) for square P and Q
        return d(product(*(E.tr(f) for f in x.args)))
    return E.tr(d(x))


def _d_adj(n, d, depends):
    (X,) = n.args
    dX = d(X)
    iX = E.inv(X)
    dd = product(E.det(X), E.tr(product(iX, dX)))
    return E.add(product(dd, iX), E.neg(product(E.det(X), iX, dX, iX)))


def _d_matpow(n, d, depends):
    X, k = n.args
    if depends(k):
        raise SymbolicError(
            f"the derivative of {to_text(n)} in its exponent needs a matrix logarithm, "
            "which the language does not have"
        )
    return E.powsum(X, k, d(X))


def _d_powsum(n, d, depends):
    X, k, M = n.args
    if depends(X) or depends(k):
        raise SymbolicError(
            f"cannot differentiate {to_text(n)} again in the matrix it sums powers of: "
            "that needs a double sum, which has no rule"
        )
    return E.powsum(X, k, d(M))


def _d_varpow(n, d, depends):
    a, b = n.args
    terms = []
    if depends(a):
        terms.append(E.had(b, E.varpow(a, E.add(b, E.fill(-1.0, b.shape))), d(a)))
    if depends(b):
        terms.append(E.had(n, E.fn("log", a), d(b)))
    return E.add(*terms)


def _constant(n, d, depends):
    return _zero_like(n)  # not reached: a node that does not depend on x has d = 0


#: The differential of every node kind; a variable's is dx, given by ``differential``.
DIFFERENTIALS = {
    E.Var: Rule(None, _constant),
    E.Delta: Rule(None, _constant),
    E.Const: Rule(None, _constant),
    E.Fill: Rule(None, _constant),
    E.Eye: Rule(None, _constant),
    E.Add: Rule("d(X + Y) = dX + dY", lambda n, d, dep: E.add(*[d(t) for t in n.args])),
    E.Mul: Rule("d(XY) = dX Y + X dY", _product_rule(product)),
    E.Had: Rule("d(X .* Y) = dX .* Y + X .* dY", _product_rule(E.had)),
    E.Pow: Rule(
        "d(X.^p) = p X.^(p-1) .* dX",
        lambda n, d, dep: E.had(E.scale(n.p, E.pow_(n.args[0], n.p - 1.0)), d(n.args[0])),
    ),
    E.Fn: Rule(
        "d f(X) = f'(X) .* dX",
        lambda n, d, dep: E.had(_elementwise_derivative(n.name, n.args[0]), d(n.args[0])),
    ),
    E.T: Rule("d(X') = (dX)'", lambda n, d, dep: E.transpose(d(n.args[0]))),
    E.Sum: Rule("d sum(X) = sum(dX)", _d_sum),
    E.Tr: Rule("d tr(X) = tr(dX)", _d_tr),
    E.Det: Rule(
        "d det(X) = det(X) tr(inv(X) dX)",
        lambda n, d, dep: product(n, E.tr(product(E.inv(n.args[0]), d(n.args[0])))),
    ),
    E.LogDet: Rule(
        "d logdet(X) = tr(inv(X) dX)",
        lambda n, d, dep: E.tr(product(E.inv(n.args[0]), d(n.args[0]))),
    ),
    E.Inv: Rule(
        "d inv(X) = -inv(X) dX inv(X)", lambda n, d, dep: E.neg(product(n, d(n.args[0]), n))
    ),
    E.Adj: Rule("d adj(X) = d(det(X) inv(X))", _d_adj),
    E.DiagM: Rule("d diag(x) = diag(dx)", lambda n, d, dep: E.diagm(d(n.args[0]))),
    E.DiagV: Rule("d diag(X) = diag(dX)", lambda n, d, dep: E.diagv(d(n.args[0]))),
    E.Norm1: Rule(
        "d norm1(X) = sum(sign(X) .* dX)",
        lambda n, d, dep: E.sum_(E.had(E.fn("sign", n.args[0]), d(n.args[0]))),
    ),
    E.Norm2: Rule(
        "d norm2(X) = <X, dX>/norm2(X)",
        lambda n, d, dep: product(E.pow_(n, -1.0), inner(n.args[0], d(n.args[0]))),
    ),
    E.Kron: Rule("d kron(X, Y) = kron(dX, Y) + kron(X, dY)", _product_rule(E.kron)),
    E.VarPow: Rule("d(X.^Y) = Y.*X.^(Y - 1).*dX + X.^Y.*log(X).*dY", _d_varpow),
    E.MatPow: Rule("d(X^k) = sum(X^i*dX*X^(k - 1 - i), i = 0..k - 1)", _d_matpow),
    E.PowSum: Rule(
        "d sum(X^i*M*X^(k - 1 - i), i = 0..k - 1) = sum(X^i*dM*X^(k - 1 - i), i = 0..k - 1)",
        _d_powsum,
    ),
}


def rule_statements(used: set) -> str:
    """The statements of the rules of the node kinds in ``used``, in a fixed order."""
    kinds = sorted(used, key=lambda k: k.op)
    return "; ".join(DIFFERENTIALS[k].statement for k in kinds) or "d(X) = dX"


def differential(e: Expr, x: Expr, used: set | None = None) -> Expr:
    """d(e) with respect to the variable ``x``, linear in ``dx``.

    ``used`` collects the node kinds whose rules were applied, for the derivation steps.
    """
    name = x.name
    dx = E.delta(x)
    memo: dict[Expr, Expr] = {}
    dep: dict[Expr, bool] = {}
    used = used if used is not None else set()

    def depends(n: Expr) -> bool:
        hit = dep.get(n)
        if hit is None:
            hit = (isinstance(n, E.Var) and n.name == name) or any(depends(a) for a in n.args)
            dep[n] = hit
        return hit

    def d(n: Expr) -> Expr:
        if not depends(n):
            return _zero_like(n)
        hit = memo.get(n)
        if hit is not None:
            return hit
        if isinstance(n, E.Var):
            out = dx
        else:
            rule = DIFFERENTIALS[type(n)]
            used.add(type(n))
            out = rule.apply(n, d, depends)
        memo[n] = out
        return out

    return d(e)


# ---------------------------------------------------------------- gradient


def _delta_factor(args) -> int:
    idx = [i for i, a in enumerate(args) if a.has_delta]
    if len(idx) != 1:
        raise SymbolicError("internal error: the differential is not linear")
    return idx[0]


def gradient_from(df: Expr, x: Expr, steps: list | None = None) -> Expr:
    """g with df = <g, dx>, for a scalar linear form ``df``."""
    out: list[Expr] = []

    def back(L: Expr, seed: Expr) -> None:
        if not L.has_delta:
            return
        if isinstance(L, E.Delta):
            out.append(seed)
            return
        if isinstance(L, E.T):
            back(L.args[0], E.transpose(seed))
            return
        if isinstance(L, E.Add):
            for t in L.args:
                back(t, seed)
            return
        if isinstance(L, E.Mul):
            args = L.args
            k = _delta_factor(args)
            ns = L.nscalars
            if k < ns:
                rest = product(*args[:k], *args[k + 1 :])
                back(args[k], inner(seed, rest))
                return
            scal, chain = args[:ns], args[ns:]
            kc = k - ns
            P, Q = chain[:kc], chain[kc + 1 :]
            new = product(
                *scal,
                *[E.transpose(p) for p in reversed(P)],
                seed,
                *[E.transpose(q) for q in reversed(Q)],
            )
            back(chain[kc], new)
            return
        if isinstance(L, E.Had):
            k = _delta_factor(L.args)
            back(L.args[k], E.had(seed, *L.args[:k], *L.args[k + 1 :]))
            return
        if isinstance(L, E.Sum):
            back(L.args[0], product(seed, _ones(L.args[0].shape)))
            return
        if isinstance(L, E.Tr):
            back(L.args[0], product(seed, E.eye(L.args[0].shape[0])))
            return
        if isinstance(L, E.DiagM):
            back(L.args[0], E.diagv(seed))
            return
        if isinstance(L, E.DiagV):
            back(L.args[0], E.diagm(seed))
            return
        if isinstance(L, E.PowSum):
            X, k, M = L.args
            back(M, E.powsum(E.transpose(X), k, seed))
            return
        if isinstance(L, E.Kron):
            back_kron(L, seed)
            return
        raise SymbolicError(f"cannot read a gradient off a differential through {L.op}")

    def back_kron(L: Expr, seed: Expr) -> None:
        # <kron(P, Q), kron(F, B)> = <P, F>*<Q, B>, so a seed of Kronecker structure
        # passes through; any other seed has no matrix form
        k = _delta_factor(L.args)
        parts = kron_parts(seed, L.args[0].shape, L.args[1].shape)
        if parts is None:
            raise SymbolicError(
                f"cannot read a gradient off {to_text(L)}: the gradient through a "
                "Kronecker product has no matrix form here"
            )
        for P, Q in parts:
            own, other = (P, Q) if k == 0 else (Q, P)
            B = L.args[1 - k]
            ip = inner(other, B)
            if B.kind == "matrix":
                # <P, B> is also tr(P'*B), which is shorter where P'*B folds (to eye)
                ip = min(ip, E.tr(product(E.transpose(other), B)), key=lambda e: e.size)
            back(L.args[k], product(ip, own))

    back(df, E.const(1.0) if df.is_scalar else _ones(df.shape))
    if not out:
        return E.zero(x.shape)
    return E.add(*out)


def kron_parts(S: Expr, a: tuple, b: tuple) -> list[tuple[Expr, Expr]] | None:
    """``S`` as a sum of ``kron(P, Q)`` with P shaped ``a`` and Q shaped ``b``, or None.

    It sees Kronecker products (scaled, summed, multiplied: ``kron(A, B)*kron(C, D)`` is
    ``kron(A*C, B*D)``), their inverses and transposes, and the identity and the ones of
    the product's shape; that is what the seeds of ``det``, ``logdet``, ``tr`` and ``sum``
    of a Kronecker product are.
    """
    if isinstance(S, E.Kron):
        P, Q = S.args
        return [(P, Q)] if P.shape == a and Q.shape == b else None
    if isinstance(S, E.Eye) and a[0] == a[1] and b[0] == b[1]:
        return [(E.eye(a[0]), E.eye(b[0]))]
    if isinstance(S, E.Fill):
        return [(E.fill(S.value, a), E.fill(1.0, b))]
    if isinstance(S, E.Add):
        out = []
        for t in S.args:
            parts = kron_parts(t, a, b)
            if parts is None:
                return None
            out.extend(parts)
        return out
    if isinstance(S, E.Inv):
        parts = kron_parts(S.args[0], a, b)
        if parts is None or len(parts) != 1:
            return None
        ((P, Q),) = parts
        return [(E.inv(P), E.inv(Q))]
    if isinstance(S, E.T):
        parts = kron_parts(S.args[0], (a[1], a[0]), (b[1], b[0]))
        return None if parts is None else [(E.transpose(P), E.transpose(Q)) for P, Q in parts]
    if isinstance(S, E.Mul):
        scalars, chain = S.scalars, S.chain
        if not chain:
            return None
        # the chain's factors, each one Kronecker product: their product is one too
        shapes = []
        r = a[0], b[0]
        for f in chain:
            nxt = _kron_split(f, r)
            if nxt is None:
                return None
            shapes.append(nxt)
            r = nxt[1]
        if r != (a[1], b[1]):
            return None
        Ps, Qs = [], []
        for f, ((ra, rb), (ca, cb)) in zip(chain, shapes):
            parts = kron_parts(f, (ra, ca), (rb, cb))
            if parts is None or len(parts) != 1:
                return None
            Ps.append(parts[0][0])
            Qs.append(parts[0][1])
        return [(product(*scalars, *Ps), product(*Qs))]
    return None


def _kron_split(f: Expr, rows: tuple) -> tuple | None:
    """The factor shapes ``((ra, rb), (ca, cb))`` of a Kronecker-structured ``f`` whose
    rows split as ``rows``, or None."""
    while isinstance(f, (E.T, E.Inv)):
        f = f.args[0]  # a transpose sits only on an inverse here, and both are square
    if isinstance(f, E.Kron):
        P, Q = f.args
        if (P.shape[0], Q.shape[0]) == rows:
            return rows, (P.shape[1], Q.shape[1])
    if isinstance(f, E.Eye):
        return rows, rows
    return None


# ---------------------------------------------------------------- Jacobian of vectors


def _as_col(e: Expr) -> Expr:
    return E.transpose(e) if e.kind == "row" else e


def jacobian_from(L: Expr, x: Expr) -> Expr:
    """J with vec(L) = J*dx for a vector, row or scalar ``L`` and a vector ``x``."""
    n = x.shape[0]

    def jac(L: Expr) -> Expr:
        if isinstance(L, E.Delta):
            return E.eye(n)
        if isinstance(L, E.T):
            return jac(L.args[0])
        if isinstance(L, E.Add):
            return E.add(*[jac(t) for t in L.args if t.has_delta])
        if isinstance(L, E.Mul):
            args = L.args
            k = _delta_factor(args)
            ns = L.nscalars
            if k < ns:
                rest = product(*args[:k], *args[k + 1 :])
                return product(_as_col(rest), jac(args[k]))
            scal, chain = args[:ns], args[ns:]
            kc = k - ns
            F, P, Q = chain[kc], chain[:kc], chain[kc + 1 :]
            if F.kind == "vector" and not Q:
                return product(*scal, *P, jac(F))
            if F.kind == "row" and not P:
                return product(*scal, *([E.transpose(product(*Q))] if Q else []), jac(F))
            if F.kind == "matrix":
                if L.kind == "vector" and Q:
                    return product(*scal, *P, jac_mv(F, product(*Q)))
                if L.kind == "row" and P:
                    p = product(*P)
                    Qt = [E.transpose(product(*Q))] if Q else []
                    return product(*scal, *Qt, jac_mv(E.transpose(F), E.transpose(p)))
                if L.kind == "scalar" and P and Q:
                    return product(*scal, product(*P), jac_mv(F, product(*Q)))
            raise _cannot(L)
        if isinstance(L, E.Had):
            k = _delta_factor(L.args)
            M = E.had(*L.args[:k], *L.args[k + 1 :])
            if L.is_scalar:
                return product(M, jac(L.args[k]))
            return product(E.diagm(_as_col(M)), jac(L.args[k]))
        if isinstance(L, E.Sum):
            F = L.args[0]
            if F.kind in ("vector", "row"):
                m = F.shape[0] if F.kind == "vector" else F.shape[1]
                return product(E.transpose(_ones((m, 1))), jac(F))
            if F.kind == "matrix":
                ones_row = E.transpose(_ones((F.shape[0], 1)))
                return product(ones_row, jac_mv(F, _ones((F.shape[1], 1))))
        if isinstance(L, E.Tr):
            return jac_trace(L.args[0])
        raise _cannot(L)

    def jac_trace(M: Expr) -> Expr:
        if isinstance(M, E.Add):
            return E.add(*[jac_trace(t) for t in M.args if t.has_delta])
        if isinstance(M, E.DiagM):
            return product(E.transpose(_ones(M.args[0].shape)), jac(M.args[0]))
        if isinstance(M, E.Mul):
            args = M.args
            k = _delta_factor(args)
            ns = M.nscalars
            if k >= ns:
                scal, chain = args[:ns], args[ns:]
                kc = k - ns
                F = chain[kc]
                R = list(chain[kc + 1 :]) + list(chain[:kc])
                if F.kind == "vector" and R:
                    return product(*scal, *R, jac(F))
                if F.kind == "row" and R:
                    return product(*scal, E.transpose(product(*R)), jac(F))
                if isinstance(F, E.DiagM):
                    rest = E.diagv(product(*R)) if R else _ones(F.args[0].shape)
                    return product(*scal, E.transpose(rest), jac(F.args[0]))
        raise _cannot(M)

    def jac_mv(F: Expr, q: Expr) -> Expr:
        """Jacobian of F(dx)*q for a matrix F linear in dx and a constant vector q."""
        if isinstance(F, E.DiagM):
            return product(E.diagm(q), jac(F.args[0]))
        if isinstance(F, E.Add):
            return E.add(*[jac_mv(t, q) for t in F.args if t.has_delta])
        if isinstance(F, E.Mul):
            return jac(product(F, q))
        if isinstance(F, E.Had):
            k = _delta_factor(F.args)
            M = E.had(*F.args[:k], *F.args[k + 1 :])
            G = F.args[k]
            if isinstance(G, E.Mul) and G.nscalars == 0 and len(G.args) == 2:
                a, b = G.args
                if a.kind == "vector" and b.kind == "row":
                    if a.has_delta:  # (M .* (u*b))*q = u .* (M*(b'.*q))
                        return product(E.diagm(product(M, E.had(E.transpose(b), q))), jac(a))
                    # (M .* (a*u'))*q = a .* (M*(u.*q))
                    return product(E.diagm(a), M, E.diagm(q), jac(b))
        raise _cannot(F)

    return jac(L)


def _cannot(L: Expr) -> SymbolicError:
    return SymbolicError(f"cannot write the derivative of {to_text(L)} in matrix notation")


# ---------------------------------------------------------------- matrix variables


@dataclass(frozen=True)
class Term:
    """One term of a linear map of dX, in one of five forms (see the module docstring).

    ``coef`` is a scalar expression; ``left``/``right`` are P and Q (None for identity);
    ``mat`` is M and ``grad`` is G.
    """

    form: str  # "kron", "kronT", "had", "hadT", "outer"
    coef: Expr
    left: Expr | None = None
    right: Expr | None = None
    mat: Expr | None = None
    grad: Expr | None = None


def expand_linear(L: Expr) -> list[Expr]:
    """The terms of a linear form, each with a single occurrence of dx."""
    if not L.has_delta:
        return []
    if isinstance(L, E.Add):
        out = []
        for t in L.args:
            out.extend(expand_linear(t))
        return out
    if isinstance(L, E.Had) and L.kind in ("vector", "row"):
        k = _delta_factor(L.args)
        F = L.args[k]
        if not (isinstance(F, E.Delta) or isinstance(F, E.T) and isinstance(F.args[0], E.Delta)):
            # for vectors a.*F is diag(a)*F: it puts dX back into a matrix product
            others = E.had(*L.args[:k], *L.args[k + 1 :])
            if L.kind == "vector":
                return expand_linear(product(E.diagm(others), F))
            return expand_linear(product(F, E.diagm(E.transpose(others))))
    if isinstance(L, (E.Mul, E.Had)):
        k = _delta_factor(L.args)
        inner_terms = expand_linear(L.args[k])
        if len(inner_terms) == 1 and inner_terms[0] is L.args[k]:
            return [L]
        build = product if isinstance(L, E.Mul) else E.had
        out = []
        for t in inner_terms:
            new = build(*L.args[:k], t, *L.args[k + 1 :])
            out.extend(expand_linear(new) if isinstance(new, E.Add) else [new])
        return out
    if isinstance(L, E.T):
        inner_terms = expand_linear(L.args[0])
        if len(inner_terms) == 1 and inner_terms[0] is L.args[0]:
            return [L]
        return [E.transpose(t) for t in inner_terms]
    return [L]


def tensor_terms(L: Expr, x: Expr) -> list[Term]:
    """Decompose a linear form in a matrix (or vector) ``dx`` into ``Term`` objects."""
    terms: list[Term] = []
    one = E.const(1.0)
    for t in expand_linear(L):
        scalars = one
        if (
            isinstance(t, E.Mul)
            and t.nscalars
            and len(t.chain) == 1
            and isinstance(t.chain[0], E.Had)
        ):
            # b*(M.*dX): an elementwise term with a scalar coefficient
            scalars, t = product(*t.args[:-1]), t.args[-1]
        if isinstance(t, E.Delta):
            terms.append(Term("kron", one))
            continue
        if isinstance(t, E.T) and isinstance(t.args[0], E.Delta):
            terms.append(Term("kronT", one))
            continue
        if isinstance(t, E.Mul):
            args = t.args
            k = _delta_factor(args)
            ns = t.nscalars
            if k < ns:
                rest = product(*args[:k], *args[k + 1 :])
                g = gradient_from(args[k], x)
                terms.append(Term("outer", one, mat=rest, grad=g))
                continue
            scal, chain = args[:ns], args[ns:]
            kc = k - ns
            F = chain[kc]
            P = product(*chain[:kc]) if kc else None
            Q = product(*chain[kc + 1 :]) if kc + 1 < len(chain) else None
            coef = product(*scal) if scal else one
            if isinstance(F, E.Delta):
                terms.append(Term("kron", coef, left=P, right=Q))
                continue
            if isinstance(F, E.T) and isinstance(F.args[0], E.Delta):
                terms.append(Term("kronT", coef, left=P, right=Q))
                continue
        if isinstance(t, E.Had):
            k = _delta_factor(t.args)
            F = t.args[k]
            M = E.had(*t.args[:k], *t.args[k + 1 :])
            if isinstance(F, E.Delta):
                terms.append(Term("had", scalars, mat=M))
                continue
            if isinstance(F, E.T) and isinstance(F.args[0], E.Delta):
                terms.append(Term("hadT", scalars, mat=M))
                continue
        raise _cannot(t)
    return terms


def kron_text_expr(terms: list[Term], x: Expr) -> Expr | None:
    """The vec-layout matrix sum(kron(Q', P)) when every term is a plain ``P*dX*Q``.

    For a vector ``x``, ``P*dx'*Q`` is one too: ``vec(dx') = dx``.
    """
    plain = ("kron", "kronT") if x.kind == "vector" else ("kron",)
    if not terms or any(t.form not in plain for t in terms):
        return None
    m, n = x.shape
    parts = []
    for t in terms:
        rows_p, rows_q = (m, n) if t.form == "kron" else (n, m)
        P = t.left if t.left is not None else E.eye(rows_p)
        Q = t.right if t.right is not None else E.eye(rows_q)
        parts.append(product(t.coef, E.kron(E.transpose(Q), P)))
    return E.add(*parts)
