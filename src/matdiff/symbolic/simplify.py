"""The simplifier: expand, then factor, so that equal results print the same.

The constructors in ``expr`` fold constants, drop zeros, collect like terms and push
transposes to the leaves. ``rewrite`` applies the identities of matrix products
(``eye*A`` is ``A``, ``inv(X)*X`` is ``eye``, ``diag(a)*diag(b)`` is ``diag(a.*b)``,
``X^j*X^k`` is ``X^(j + k)``), named in ``PRODUCT_RULES``; the parser applies it to
every node it builds, and the passes below to every node they rebuild. Two passes
finish the job:

1. ``expand`` distributes products and elementwise products over sums (within a size
   budget), so that every result reaches the same sum of monomials;
2. ``factor`` regroups each sum greedily and deterministically: a common right factor
   (``A*x + A'*x`` is ``(A + A')*x``), a common left factor, common elementwise or scalar
   factors (``y.*t - y.*t.*s`` is ``y.*t.*(1 - s)``) and a common numeric coefficient.

Each factoring step removes at least one term from a sum, so the passes terminate.
``share`` then names subexpressions used more than once, as temporaries ``t0, t1, ...``.
"""

from __future__ import annotations

import itertools

from . import expr as E
from .expr import Expr

MAX_TERMS = 64


def _terms(e: Expr) -> tuple:
    return e.args if isinstance(e, E.Add) else (e,)


# ---------------------------------------------------------------- identities of products


def _inverse_pair(a: Expr, b: Expr) -> bool:
    if isinstance(a, E.Inv) and a.args[0] is b or isinstance(b, E.Inv) and b.args[0] is a:
        return True
    if isinstance(a, E.T) and isinstance(b, E.T):
        return _inverse_pair(b.args[0], a.args[0])
    return False


def _is_ones(e: Expr, kind: str) -> bool:
    return isinstance(e, E.Fill) and e.kind == kind and e.value == 1


def _drop_identities(chain: list) -> list | None:
    if len(chain) > 1 and any(isinstance(f, E.Eye) for f in chain):
        # a product of identities is the identity, never the number 1: keep one
        return [f for f in chain if not isinstance(f, E.Eye)] or chain[:1]
    return None


def _pairwise(identity):
    """A rule for the chain from an identity of two neighbouring factors ``a*b``."""

    def rule(chain: list) -> list | None:
        for i in range(len(chain) - 1):
            new = identity(chain[i], chain[i + 1])
            if new is not None:
                n = chain[i].shape[0]
                return chain[:i] + new + chain[i + 2 :] or [E.eye(n)]
        return None

    return rule


@_pairwise
def _cancel_inverses(a: Expr, b: Expr) -> list | None:
    return [] if _inverse_pair(a, b) else None


@_pairwise
def _merge_diagonals(a: Expr, b: Expr) -> list | None:
    if isinstance(a, E.DiagM) and isinstance(b, E.DiagM):
        return [E.diagm(E.had(a.args[0], b.args[0]))]
    return None


@_pairwise
def _ones_times_diagonal(a: Expr, b: Expr) -> list | None:
    if _is_ones(a, "row") and isinstance(b, E.DiagM):
        return [E.transpose(b.args[0])]
    return None


@_pairwise
def _diagonal_times_ones(a: Expr, b: Expr) -> list | None:
    if isinstance(a, E.DiagM) and _is_ones(b, "vector"):
        return [a.args[0]]
    return None


@_pairwise
def _merge_powers(a: Expr, b: Expr) -> list | None:
    for base in (
        a.args[0] if isinstance(a, E.MatPow) else None,
        b.args[0] if isinstance(b, E.MatPow) else None,
    ):
        if base is None:
            continue
        ea, eb = E.power_of(a, base), E.power_of(b, base)
        if ea is not None and eb is not None:
            return [E.matpow(base, E.add(ea, eb))]
    return None


#: The identities of a product's matrix chain, by name; each returns the new chain, or
#: None where it does not apply. Tests count which of them fire.
PRODUCT_RULES = {
    "eye*A = A": _drop_identities,
    "inv(X)*X = eye": _cancel_inverses,
    "diag(a)*diag(b) = diag(a.*b)": _merge_diagonals,
    "vector(1)'*diag(v) = v'": _ones_times_diagonal,
    "diag(v)*vector(1) = v": _diagonal_times_ones,
    "X^j*X^k = X^(j + k)": _merge_powers,
}


def _rewrite_product(e: Expr) -> Expr:
    while isinstance(e, E.Mul):
        chain = list(e.chain)
        for rule in PRODUCT_RULES.values():
            new = rule(chain)
            if new is not None:
                chain = new
                break
        else:
            return e
        # the product of what is left may hold new neighbours: once more
        e = E.mul(*e.scalars, *chain)
    return e


#: The identities of each node kind that has some, applied by ``rewrite``.
REWRITES = {E.Mul: _rewrite_product}


def rewrite(e: Expr) -> Expr:
    """``e`` with the identities of its kind applied, for a node whose children have been.

    >>> from matdiff.symbolic import parse
    >>> from matdiff.symbolic.expr import inv, mul
    >>> A = parse("A", {"A": "n x n"})
    >>> print(mul(A, inv(A), A))
    A*inv(A)*A
    >>> print(rewrite(mul(A, inv(A), A)))
    A
    """
    apply = REWRITES.get(type(e))
    return e if apply is None else apply(e)


def _rebuilt(n: Expr, args: list) -> Expr:
    return rewrite(E.rebuild(n, args)) if n.args else n


def product(*factors: Expr) -> Expr:
    """The matrix product with the identities of products applied (``rewrite``)."""
    return rewrite(E.mul(*factors))


# ---------------------------------------------------------------- expanding and factoring


def expand(e: Expr) -> Expr:
    """Distribute ``*`` and ``.*`` over sums, bottom up, within a budget of terms."""
    memo: dict[Expr, Expr] = {}

    def go(n: Expr) -> Expr:
        hit = memo.get(n)
        if hit is not None:
            return hit
        args = [go(a) for a in n.args]
        out = _distribute(n, args) if isinstance(n, (E.Mul, E.Had)) else None
        if out is None:
            out = _rebuilt(n, args)
        else:
            # a product of expanded sums may hold new sums (from transposes); once more
            out = E.add(*[go(t) if t is not n else t for t in _terms(out)])
        memo[n] = out
        return out

    return go(e)


def _distribute(n: Expr, args: list) -> Expr | None:
    """``(A + B)*C`` is ``A*C + B*C`` (and so for ``.*``), within the budget of terms."""
    if not any(isinstance(a, E.Add) for a in args):
        return None
    count = 1
    for a in args:
        count *= len(_terms(a))
    if count > MAX_TERMS:
        return None
    build = product if isinstance(n, E.Mul) else E.had
    return E.add(*[build(*combo) for combo in itertools.product(*map(_terms, args))])


def factor(e: Expr) -> Expr:
    """Regroup sums, bottom up (see the module docstring)."""
    memo: dict[Expr, Expr] = {}

    def go(n: Expr) -> Expr:
        hit = memo.get(n)
        if hit is not None:
            return hit
        args = [go(a) for a in n.args]
        out = _rebuilt(n, args)
        if isinstance(out, E.Add):
            out = _factor_sum(list(out.args))
        memo[n] = out
        return out

    return go(e)


def simplify(e: Expr) -> Expr:
    """Canonical, compact form of ``e``.

    >>> from matdiff.symbolic import parse
    >>> print(simplify(parse("A*x + A'*x")))
    (A + A')*x
    """
    e = expand(e)
    # factoring can create sums that were not there when their parents were visited
    # (diag(a) - diag(b) becomes diag(a - b)): repeat until nothing changes
    for _ in range(6):
        again = factor(e)
        if again is e:
            break
        e = again
    return e


# ---------------------------------------------------------------- factoring a sum


def _chain_of(t: Expr) -> tuple[tuple, tuple]:
    if isinstance(t, E.Mul):
        return t.scalars, t.chain
    if t.is_scalar:
        return (t,), ()
    return (), (t,)


def _factor_sum(terms: list[Expr]) -> Expr:
    while len(terms) > 1:
        for factoring in FACTORINGS.values():
            new = factoring(terms)
            if new is not None:
                break
        else:
            break
        if not isinstance(new, E.Add):
            return new
        if len(new.args) >= len(terms):
            return new
        terms = list(new.args)
    return E.add(*terms)


def _factor_chain(terms: list[Expr], side: int) -> Expr | None:
    """Pull out a common first (side 0) or last (side -1) factor of the matrix chains."""
    groups: dict[Expr, list[int]] = {}
    for i, t in enumerate(terms):
        _, chain = _chain_of(t)
        if len(chain) >= 2:
            groups.setdefault(chain[side], []).append(i)
    candidates = [(f, idx) for f, idx in groups.items() if len(idx) >= 2]
    if not candidates:
        return None
    # the factor shared by the most terms; among those, the first in the structural order
    f, idx = min(candidates, key=lambda c: (-len(c[1]), c[0].sort_key()))
    inner = []
    for i in idx:
        scal, chain = _chain_of(terms[i])
        rest = chain[:-1] if side == -1 else chain[1:]
        inner.append(E.mul(*scal, *rest))
    summed = _factor_sum(inner)
    grouped = E.mul(summed, f) if side == -1 else E.mul(f, summed)
    others = [t for i, t in enumerate(terms) if i not in idx]
    return E.add(*others, grouped) if others else grouped


def _factors_of(t: Expr) -> tuple[float, dict] | None:
    """A term as coefficient * product of powers (elementwise for arrays, plain for scalars)."""
    c, core = E.split_coeff(t)
    if t.is_scalar:
        if isinstance(core, E.Mul) and core.nscalars == len(core.args):
            parts = core.args
        elif isinstance(core, E.Const):
            parts = ()
        else:
            parts = (core,)
    else:
        if isinstance(core, E.Had):
            parts = core.args
        elif isinstance(core, E.Fill):
            parts = ()
        elif isinstance(core, E.Mul) and core.nscalars:
            # scalars times a matrix product: the product is one (elementwise) factor
            parts = core.scalars + (E.mul(*core.chain),)
        else:
            parts = (core,)
    out: dict[Expr, float] = {}
    for p in parts:
        if isinstance(p, (E.Fill, E.Const)):
            continue  # ones are neutral; a factor of them would never shrink the sum
        base, power = (p.args[0], p.p) if isinstance(p, E.Pow) else (p, 1.0)
        out[base] = out.get(base, 0.0) + power
    return c, out


def _common_power(a: float, b: float) -> float | None:
    if a > 0 and b > 0:
        return min(a, b)
    if a < 0 and b < 0:
        return max(a, b)
    return None


def _factor_elementwise(terms: list[Expr]) -> Expr | None:
    decomposed = [_factors_of(t) for t in terms]
    counts: dict[Expr, list[int]] = {}
    for i, d in enumerate(decomposed):
        if d is None:
            continue
        for base in d[1]:
            counts.setdefault(base, []).append(i)
    candidates = [(base, idx) for base, idx in counts.items() if len(idx) >= 2]
    candidates.sort(key=lambda c: (-len(c[1]), c[0].sort_key()))
    for base, idx in candidates:
        grouped = _group_on(terms, decomposed, base, idx)
        if grouped is not None:
            return grouped
    return None


def _group_on(terms, decomposed, base, idx) -> Expr | None:
    # keep the terms where the chosen base has the sign of the first one
    sign = decomposed[idx[0]][1][base] > 0
    idx = [i for i in idx if (decomposed[i][1][base] > 0) == sign]
    if len(idx) < 2:
        return None
    common = dict(decomposed[idx[0]][1])
    for i in idx[1:]:
        powers = decomposed[i][1]
        for b in list(common):
            p = _common_power(common[b], powers.get(b, 0.0)) if b in powers else None
            if p is None:
                del common[b]
            else:
                common[b] = p
    shape = terms[idx[0]].shape
    array = shape != E.SCALAR

    def remainder(i):
        c, powers = decomposed[i]
        rest = [E.pow_(b, p - common.get(b, 0.0)) for b, p in powers.items()]
        return c, [r for r in rest if not (isinstance(r, (E.Const, E.Fill)) and r.value == 1.0)]

    if array and any(not b.is_scalar for b in common):
        # an array factor out of a term that is a scalar times it would leave
        # "s*matrix(1)" behind: then only the scalar factors are pulled out
        rests = [remainder(i)[1] for i in idx]
        if any(r and all(f.is_scalar for f in r) for r in rests):
            common = {b: p for b, p in common.items() if b.is_scalar}
    if not common:
        return None
    build = E.had if any(not b.is_scalar for b in common) else E.mul
    rests = []
    for i in idx:
        c, rest = remainder(i)
        body = E.had(*rest) if array else E.mul(*rest)
        if not rest:
            body = E.fill(1.0, shape) if array else E.const(1.0)
        elif array and body.is_scalar:
            body = E.mul(body, E.fill(1.0, shape))
        rests.append(E.scale(c, body))
    summed = _factor_sum(rests)
    grouped = build(*[E.pow_(b, p) for b, p in common.items()], summed)
    others = [t for i, t in enumerate(terms) if i not in idx]
    return E.add(*others, grouped) if others else grouped


def _factor_coefficient(terms: list[Expr]) -> Expr | None:
    """Pull out a numeric coefficient shared (up to sign) by two or more terms."""
    groups: dict[float, list[int]] = {}
    for i, t in enumerate(terms):
        c = abs(E.split_coeff(t)[0])
        if c != 1.0:
            groups.setdefault(c, []).append(i)
    candidates = [(len(idx), -c, c, idx) for c, idx in groups.items() if len(idx) >= 2]
    if not candidates:
        return None
    _, _, c, idx = max(candidates)
    if all(E.split_coeff(terms[i])[0] < 0 for i in idx):
        c = -c
    inner = E.add(*[E.scale(1.0 / c, terms[i]) for i in idx])
    grouped = E.scale(c, inner)
    others = [t for i, t in enumerate(terms) if i not in idx]
    return E.add(*others, grouped) if others else grouped


#: The ways of regrouping a sum, tried in this order; each returns the regrouped sum, or
#: None where it does not apply. Tests count which of them fire.
FACTORINGS = {
    "A*C + B*C = (A + B)*C": lambda terms: _factor_chain(terms, side=-1),
    "C*A + C*B = C*(A + B)": lambda terms: _factor_chain(terms, side=0),
    "a.*b + a.*c = a.*(b + c)": _factor_elementwise,
    "2*a + 2*b = 2*(a + b)": _factor_coefficient,
}


# ---------------------------------------------------------------- temporaries


def shared_subexpressions(roots: list[Expr]) -> list[Expr]:
    """Non-trivial nodes referenced more than once among ``roots``, children first."""
    refs: dict[Expr, int] = {}
    for r in roots:
        refs[r] = refs.get(r, 0)  # a root is not shared by being a root
        for n in E.nodes(r):
            for a in n.args:
                refs[a] = refs.get(a, 0) + 1
    for r in roots:
        refs[r] = refs.get(r, 0) + 1
    order = []
    seen = set()
    for r in roots:
        for n in E.nodes(r):
            if n in seen:
                continue
            seen.add(n)
            if refs.get(n, 0) >= 2 and n.shareable and n.size >= 3 and not _cheap(n):
                order.append(n)
    return order


def _cheap(n: Expr) -> bool:
    # x' and -x are not worth a name
    if isinstance(n, E.Mul) and len(n.args) == 2 and isinstance(n.args[0], E.Const):
        return n.args[1].size <= 2
    return False


def _subset_candidate(roots: list[Expr]) -> tuple[Expr, list[Expr]] | None:
    """An elementwise product that also sits inside other elementwise products.

    ``t0.*t1`` inside ``t0.*t1.*y.^2.*(1 - t0.*t1)`` is shared even though the flat
    product holds no node for it; naming it gives ``t.*y.^2.*(1 - t)``.
    """
    hads = [n for r in roots for n in E.nodes(r) if isinstance(n, E.Had) and len(n.args) >= 2]
    hads = list(dict.fromkeys(hads))
    best = None
    for h1 in hads:
        inner = set(h1.args)
        containers = [h2 for h2 in hads if h2 is not h1 and inner < set(h2.args)]
        if containers and (
            best is None or (len(containers), h1.size) > (len(best[1]), best[0].size)
        ):
            best = (h1, containers)
    return best


def with_temporaries(
    roots: list[Expr], taken: set[str]
) -> tuple[list[tuple[str, Expr]], list[Expr]]:
    """Replace shared subexpressions by variables ``t0, t1, ...`` not in ``taken``.

    Returns the definitions (name, expression in earlier names) and the new roots.
    """
    counter = itertools.count()

    def placeholder(n: Expr) -> Expr:
        # internal names start with "_", which user names cannot
        kind = {"scalar": "scalar", "vector": "vector", "row": "matrix", "matrix": "matrix"}
        return E.var(f"_tmp{next(counter)}", kind[n.kind], n.shape)

    roots = list(roots)
    subset_defs: list[tuple[Expr, Expr]] = []
    for _ in range(4):
        found = _subset_candidate(roots + [b for _, b in subset_defs])
        if found is None:
            break
        h1, containers = found
        p = placeholder(h1)
        mapping = {h1: p}
        for h2 in containers:
            mapping[h2] = E.had(p, *[f for f in h2.args if f not in set(h1.args)])
        roots = [E.substitute(r, mapping) for r in roots]
        subset_defs = [(q, E.substitute(b, mapping)) for q, b in subset_defs]
        subset_defs.append((p, h1))

    everything = roots + [b for _, b in subset_defs]
    mapping = {}
    regular_defs: list[tuple[Expr, Expr]] = []
    for n in shared_subexpressions(everything):
        body = E.substitute(n, {k: v for k, v in mapping.items() if k is not n})
        p = placeholder(n)
        mapping[n] = p
        regular_defs.append((p, body))
    roots = [E.substitute(r, mapping) for r in roots]
    subset_defs = [(p, E.substitute(b, mapping)) for p, b in subset_defs]

    # definitions in dependency order, then renamed t0, t1, ... in that order
    bodies = dict(regular_defs + subset_defs)
    order: list[Expr] = []

    def visit(p: Expr) -> None:
        if p in order:
            return
        for n in E.nodes(bodies[p]):
            if n in bodies and n is not p:
                visit(n)
        order.append(p)

    for p in bodies:
        visit(p)
    # a temporary used once after all (its users were rewritten) is put back inline
    uses = {p: 0 for p in order}
    for tree in roots + [bodies[p] for p in order]:
        for n in E.nodes(tree):
            for a in n.args:
                if a in uses:
                    uses[a] += 1
            if n in uses and tree is n:
                uses[n] += 1
    inline = {p: bodies[p] for p in order if uses[p] < 2}
    if inline:
        for _ in range(len(inline)):
            inline = {p: E.substitute(b, inline) for p, b in inline.items()}
        roots = [E.substitute(r, inline) for r in roots]
        order = [p for p in order if p not in inline]
        bodies = {p: E.substitute(bodies[p], inline) for p in order}
    names = (f"t{i}" for i in itertools.count())
    rename = {}
    for p in order:
        name = next(nm for nm in names if nm not in taken)
        rename[p] = E.var(name, p.declared, p.shape)
    defs = [(rename[p].name, E.substitute(bodies[p], rename)) for p in order]
    return defs, [E.substitute(r, rename) for r in roots]
