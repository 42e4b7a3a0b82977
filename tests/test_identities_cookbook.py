"""The two engines as each other's oracle, over The Matrix Cookbook, sections 2.1-2.8.

Equation numbers refer to The Matrix Cookbook (Petersen & Pedersen, version of
November 15, 2012) and appear in every row id. Each row is checked up to three ways at
random well-conditioned inputs (SPD where the identity needs it), to 1e-8 relative:

* ``closed``: the Cookbook's closed form, written in plain NumPy;
* ``numeric``: ``grad`` / ``jacobian`` / ``hessian`` of the function written in
  ``matdiff.numpy`` (the numeric engine);
* ``symbolic``: ``sym.derivative(expr, wrt=...).function()`` (the symbolic engine).

The engines share no rules, so an agreement of all three is strong evidence. Rows whose
function the expression language cannot write (eigenvalues, Kronecker products, matrix
functions, ``vec``, factorizations) have ``expr=None`` and are checked by the numeric
engine alone. Rows prefixed ``loss-``, ``hess-`` or ``kron-`` state standard results built
from the cited ones (chain and product rules) rather than a single numbered equation.
Besides the closed forms, each engine is the other's oracle for the Hessian of every
first-order row the language writes.

Layouts follow the numeric engine: a derivative has shape ``out.shape + var.shape``. For a
symmetric matrix variable both engines report the symmetric gradient ``sym(G) = (G + G')/2``
of the unconstrained gradient ``G``; the Cookbook's structured form (2.8.2, eq. 138),
``G + G' - I∘G``, is ``2 sym(G) - I∘sym(G)``, which the structured rows also check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as onp
import pytest

import matdiff.numpy as np
import matdiff.scipy.linalg as msla
import matdiff.scipy.special as mspecial
from matdiff import grad, hessian, jacfwd, jacobian
from matdiff import symbolic as sym

la = np.linalg
oinv = onp.linalg.inv
odet = onp.linalg.det
mp = onp.linalg.matrix_power
I4 = onp.eye(4)
RTOL = 1e-8
ATOL = 1e-10


def sym_part(G):
    return 0.5 * (G + onp.swapaxes(G, -1, -2))


def sym_on_both_pairs(H):
    return sym_part(sym_part(H).transpose(2, 3, 0, 1)).transpose(2, 3, 0, 1)


def spd(r, n):
    M = r.standard_normal((n, n))
    return M @ M.T / n + onp.eye(n)


# Inputs by name. Matrices are 4x4 unless a row overrides a name; X is well conditioned
# with a positive determinant, S and W (and R, 3x3) are SPD, P has an SPD symmetric part.
def make_env(seed: int, overrides: dict) -> dict:
    r = onp.random.default_rng(seed)
    env = {
        "X": 3.0 * I4 + 0.5 * r.standard_normal((4, 4)),
        "A": r.standard_normal((4, 4)),
        "B": r.standard_normal((4, 4)),
        "C": r.standard_normal((4, 4)),
        "D": r.standard_normal((4, 4)),
        "S": spd(r, 4),
        "W": spd(r, 4),
        "R": spd(r, 3),
        "Y": r.standard_normal((4, 3)),
        "t": 0.3,
        "lam": 0.7,
    }
    K = r.standard_normal((4, 4))
    env["P"] = spd(r, 4) + 0.5 * (K - K.T)
    for v in "abcdmsxyw":
        env[v] = r.standard_normal(4)
    for name, spec in overrides.items():
        env[name] = spec(r) if callable(spec) else r.standard_normal(spec)
    return env


KINDS = {v: "vector" for v in "abcdmsxyw"} | {"t": "scalar", "lam": "scalar"}


@dataclass(frozen=True)
class Row:
    """One identity: ``num`` and ``closed`` take the inputs by name."""

    id: str
    wrt: str
    num: Callable
    closed: Callable
    expr: str | None = None
    mode: str = "grad"  # grad | jac | hess
    symmetric: tuple = ()  # symmetric matrix variables
    shapes: dict = field(default_factory=dict)
    cookbook: Callable | None = None  # the Cookbook's structured form, for 2.8 rows


def vec_tensor(K, out_shape, in_shape):
    """A vec-layout (column-major) Jacobian matrix as an ``out.shape + in.shape`` tensor."""
    (p, q), (m, n) = out_shape, in_shape
    return K.reshape(q, p, n, m).transpose(1, 0, 3, 2)


def t_inv(X):
    Xi = oinv(X)
    return -onp.einsum("ki,jl->klij", Xi, Xi)


def hess_logdet(X):
    Xi = oinv(X)
    return -onp.einsum("jk,li->ijkl", Xi, Xi)


def hess_x_inv_s_x(S, x):
    Si = oinv(S)
    u = Si @ x
    return onp.einsum("ik,l,j->ijkl", Si, u, u) + onp.einsum("i,jk,l->ijkl", u, Si, u)


def hess_tr_sas(S, A):
    return onp.einsum("ki,jl->ijkl", A, onp.eye(4)) + onp.einsum("ik,jl->ijkl", onp.eye(4), A)


def hess_tr_inv_a(X, A):
    Xi = oinv(X)
    M = Xi @ A @ Xi
    return onp.einsum("jk,li->ijkl", Xi, M) + onp.einsum("jk,li->ijkl", M, Xi)


def sigmoid(z):
    return 1.0 / (1.0 + onp.exp(-z))


def eq53(Y, S):
    M = Y.T @ S @ Y
    return 2 * odet(M) * S @ Y @ oinv(M)


def eq54(Y, P):
    M = Y.T @ P @ Y
    return odet(M) * (P @ Y @ oinv(M) + P.T @ Y @ oinv(Y.T @ P.T @ Y))


def eq123(X, B, C):
    XB = X @ B
    return (
        C @ X @ X.T @ C @ XB @ B.T
        + C.T @ XB @ B.T @ X.T @ C.T @ X
        + C @ XB @ B.T @ X.T @ C @ X
        + C.T @ X @ X.T @ C.T @ XB @ B.T
    )


def eq126(Y, S, W):
    Mi = oinv(Y.T @ W @ Y)
    return -2 * W @ Y @ Mi @ Y.T @ S @ Y @ Mi + 2 * S @ Y @ Mi


def eq127(Y, R, S, W):
    Mi = oinv(R + Y.T @ W @ Y)
    return -2 * W @ Y @ Mi @ Y.T @ S @ Y @ Mi + 2 * S @ Y @ Mi


def quad(u, M, v):
    return u @ (M @ v)


SQ3 = {"A": (3, 4), "B": (5, 3), "X": (4, 5)}
R3 = {"A": (3, 3)}

ROWS = [
    # 2.1 determinants
    Row(
        "eq41-det(A+tB)",
        "t",
        lambda A, B, t: la.det(A + t * B),
        lambda A, B, t: odet(A + t * B) * onp.trace(oinv(A + t * B) @ B),
        "det(A + t*B)",
    ),
    Row(
        "eq41-chain-logdet(X+tB)",
        "t",
        lambda X, B, t: la.slogdet(X + t * B)[1],
        lambda X, B, t: onp.trace(oinv(X + t * B) @ B),
        "logdet(X + t*B)",
    ),
    Row("eq49-det(X)", "X", lambda X: la.det(X), lambda X: odet(X) * oinv(X).T, "det(X)"),
    Row(
        "eq51-det(AXB)",
        "X",
        lambda A, X, B: la.det(A @ X @ B),
        lambda A, X, B: odet(A @ X @ B) * oinv(X).T,
        "det(A*X*B)",
    ),
    Row(
        "eq52-det(X'AX)-square",
        "X",
        lambda X, S: la.det(X.T @ S @ X),
        lambda X, S: 2 * odet(X.T @ S @ X) * oinv(X).T,
        "det(X'*S*X)",
    ),
    Row("eq53-det(Y'SY)-S-symmetric", "Y", lambda Y, S: la.det(Y.T @ S @ Y), eq53, "det(Y'*S*Y)"),
    Row("eq54-det(Y'PY)", "Y", lambda Y, P: la.det(Y.T @ P @ Y), eq54, "det(Y'*P*Y)"),
    Row(
        "eq55-logdet(Y'Y)",
        "Y",
        lambda Y: la.slogdet(Y.T @ Y)[1],
        lambda Y: 2 * onp.linalg.pinv(Y).T,
        "log(det(Y'*Y))",
    ),
    Row("eq57-log|det(X)|", "X", lambda X: la.slogdet(X)[1], lambda X: oinv(X).T, "logdet(X)"),
    Row("eq57-log(det(X))", "X", lambda X: np.log(la.det(X)), lambda X: oinv(X).T, "log(det(X))"),
    Row(
        "eq58-det(X^3)",
        "X",
        lambda X: la.det(la.matrix_power(X, 3)),
        lambda X: 3 * odet(mp(X, 3)) * oinv(X).T,
        "det(X^3)",
    ),
    # 2.2 inverses
    Row("eq59-inv(X)", "X", lambda X: la.inv(X), t_inv, "inv(X)", mode="jac"),
    Row(
        "eq59-inv(X+tB)",
        "t",
        lambda X, B, t: la.inv(X + t * B),
        lambda X, B, t: -oinv(X + t * B) @ B @ oinv(X + t * B),
        "inv(X + t*B)",
        mode="jac",
    ),
    Row(
        "eq61-a'inv(X)b",
        "X",
        lambda a, X, b: a @ la.inv(X) @ b,
        lambda a, X, b: -oinv(X).T @ onp.outer(a, b) @ oinv(X).T,
        "a'*inv(X)*b",
    ),
    Row(
        "eq62-det(inv(X))",
        "X",
        lambda X: la.det(la.inv(X)),
        lambda X: -odet(oinv(X)) * oinv(X).T,
        "det(inv(X))",
    ),
    Row(
        "eq63-tr(A inv(X) B)",
        "X",
        lambda A, X, B: np.trace(A @ la.inv(X) @ B),
        lambda A, X, B: -(oinv(X) @ B @ A @ oinv(X)).T,
        "tr(A*inv(X)*B)",
    ),
    Row(
        "eq64-tr(inv(X+S))",
        "X",
        lambda X, S: np.trace(la.inv(X + S)),
        lambda X, S: -(oinv(X + S) @ oinv(X + S)).T,
        "tr(inv(X + S))",
    ),
    # 2.3 eigenvalues: not in the expression language
    Row("eq67-sum(eig(S))", "S", lambda S: np.sum(la.eigvalsh(S)), lambda S: I4, symmetric=("S",)),
    Row(
        "eq68-prod(eig(S))",
        "S",
        lambda S: np.prod(la.eigvalsh(S)),
        lambda S: odet(S) * oinv(S),
        symmetric=("S",),
    ),
    Row(
        "eq67-sum(eigvalsh(S))-scipy",
        "S",
        lambda S: np.sum(msla.eigvalsh(S)),
        lambda S: I4,
        symmetric=("S",),
    ),
    # 2.4.1 first order
    Row("eq69-a'x", "x", lambda a, x: a @ x, lambda a, x: a, "a'*x"),
    Row("eq69-x'a", "x", lambda a, x: x @ a, lambda a, x: a, "x'*a"),
    Row(
        "eq70-a'Xb",
        "X",
        lambda a, X, b: a @ X @ b,
        lambda a, X, b: onp.outer(a, b),
        "a'*X*b",
        shapes={"X": (4, 3), "b": (3,)},
    ),
    Row(
        "eq71-a'X'b",
        "X",
        lambda a, X, b: a @ X.T @ b,
        lambda a, X, b: onp.outer(b, a),
        "a'*X'*b",
        shapes={"X": (3, 4), "b": (3,)},
    ),
    Row("eq72-a'Xa", "X", lambda a, X: a @ X @ a, lambda a, X: onp.outer(a, a), "a'*X*a"),
    Row("eq72-a'X'a", "X", lambda a, X: a @ X.T @ a, lambda a, X: onp.outer(a, a), "a'*X'*a"),
    Row(
        "eq73-dX/dX",
        "X",
        lambda X: 1.0 * X,
        lambda X: onp.einsum("ik,jl->ijkl", I4, I4),
        "X",
        mode="jac",
    ),
    Row(
        "eq74-d(XA)",
        "X",
        lambda X, A: X @ A,
        lambda X, A: onp.einsum("im,nj->ijmn", I4, A),
        "X*A",
        mode="jac",
    ),
    Row(
        "eq75-d(X'A)",
        "X",
        lambda X, A: X.T @ A,
        lambda X, A: onp.einsum("in,mj->ijmn", I4, A),
        "X'*A",
        mode="jac",
    ),
    # 2.4.2 second order
    Row(
        "eq76-sum(X)^2",
        "X",
        lambda X: np.sum(X) ** 2,
        lambda X: 2 * onp.sum(X) * onp.ones_like(X),
        "sum(X)^2",
    ),
    Row(
        "eq77-b'X'Xc",
        "X",
        lambda b, X, c: b @ X.T @ X @ c,
        lambda b, X, c: X @ (onp.outer(b, c) + onp.outer(c, b)),
        "b'*X'*X*c",
        shapes={"X": (5, 4)},
    ),
    Row(
        "eq78-(Bx+b)'C(Dx+d)",
        "x",
        lambda B, x, b, C, D, d: (B @ x + b) @ C @ (D @ x + d),
        lambda B, x, b, C, D, d: B.T @ C @ (D @ x + d) + D.T @ C.T @ (B @ x + b),
        "(B*x + b)'*C*(D*x + d)",
    ),
    Row("eq81-x'Bx", "x", lambda x, B: x @ B @ x, lambda x, B: (B + B.T) @ x, "x'*B*x"),
    Row("eq81-x'Sx-symmetric", "x", lambda x, S: x @ S @ x, lambda x, S: 2 * S @ x, "x'*S*x"),
    Row(
        "eq82-b'X'DXc",
        "X",
        lambda b, X, D, c: b @ X.T @ D @ X @ c,
        lambda b, X, D, c: D.T @ X @ onp.outer(b, c) + D @ X @ onp.outer(c, b),
        "b'*X'*D*X*c",
    ),
    Row(
        "eq83-(Xb+c)'D(Xb+c)",
        "X",
        lambda X, b, c, D: quad(X @ b + c, D, X @ b + c),
        lambda X, b, c, D: onp.outer((D + D.T) @ (X @ b + c), b),
        "(X*b + c)'*D*(X*b + c)",
    ),
    Row(
        "eq84-(x-As)'W(x-As)-ds",
        "s",
        lambda x, A, s, W: quad(x - A @ s, W, x - A @ s),
        lambda x, A, s, W: -2 * A.T @ W @ (x - A @ s),
        "(x - A*s)'*W*(x - A*s)",
    ),
    Row(
        "eq85-(x-s)'W(x-s)-dx",
        "x",
        lambda x, s, W: quad(x - s, W, x - s),
        lambda x, s, W: 2 * W @ (x - s),
        "(x - s)'*W*(x - s)",
    ),
    Row(
        "eq86-(x-s)'W(x-s)-ds",
        "s",
        lambda x, s, W: quad(x - s, W, x - s),
        lambda x, s, W: -2 * W @ (x - s),
        "(x - s)'*W*(x - s)",
    ),
    Row(
        "eq87-(x-As)'W(x-As)-dx",
        "x",
        lambda x, A, s, W: quad(x - A @ s, W, x - A @ s),
        lambda x, A, s, W: 2 * W @ (x - A @ s),
        "(x - A*s)'*W*(x - A*s)",
    ),
    Row(
        "eq88-(x-As)'W(x-As)-dA",
        "A",
        lambda x, A, s, W: quad(x - A @ s, W, x - A @ s),
        lambda x, A, s, W: -2 * onp.outer(W @ (x - A @ s), s),
        "(x - A*s)'*W*(x - A*s)",
    ),
    # 2.4.3 higher order
    Row(
        "eq90-a'X^3b",
        "X",
        lambda a, X, b: a @ la.matrix_power(X, 3) @ b,
        lambda a, X, b: sum(mp(X, r).T @ onp.outer(a, b) @ mp(X, 2 - r).T for r in range(3)),
        "a'*X^3*b",
    ),
    Row(
        "eq91-a'(X^2)'X^2b",
        "X",
        lambda a, X, b: a @ (X @ X).T @ (X @ X) @ b,
        # as printed, (91)'s first term is transposed (at n = 1 it contradicts (77)):
        # this is the corrected sum of (X^r)' X^n (ba' + ab') (X^(n-1-r))'
        lambda a, X, b: sum(
            mp(X, r).T @ mp(X, 2) @ (onp.outer(b, a) + onp.outer(a, b)) @ mp(X, 1 - r).T
            for r in range(2)
        ),
        "a'*(X^2)'*X^2*b",
    ),
    # 2.4.4 gradient and Hessian of x'Ax + b'x
    Row(
        "eq93-grad-x'Ax+b'x",
        "x",
        lambda x, A, b: x @ A @ x + b @ x,
        lambda x, A, b: (A + A.T) @ x + b,
        "x'*A*x + b'*x",
    ),
    Row(
        "eq94-hess-x'Ax+b'x",
        "x",
        lambda x, A, b: x @ A @ x + b @ x,
        lambda x, A, b: A + A.T,
        "x'*A*x + b'*x",
        mode="hess",
    ),
    # 2.5.1 traces, first order
    Row("eq99-tr(X)", "X", lambda X: np.trace(X), lambda X: I4, "tr(X)"),
    Row(
        "eq100-tr(XA)",
        "X",
        lambda X, A: np.trace(X @ A),
        lambda X, A: A.T,
        "tr(X*A)",
        shapes={"X": (4, 3), "A": (3, 4)},
    ),
    Row(
        "eq101-tr(AXB)",
        "X",
        lambda A, X, B: np.trace(A @ X @ B),
        lambda A, X, B: A.T @ B.T,
        "tr(A*X*B)",
        shapes=SQ3,
    ),
    Row(
        "eq102-tr(AX'B)",
        "X",
        lambda A, X, B: np.trace(A @ X.T @ B),
        lambda A, X, B: B @ A,
        "tr(A*X'*B)",
        shapes={"A": (3, 5), "X": (4, 5), "B": (4, 3)},
    ),
    Row(
        "eq103-tr(X'A)",
        "X",
        lambda X, A: np.trace(X.T @ A),
        lambda X, A: A,
        "tr(X'*A)",
        shapes={"X": (4, 3), "A": (4, 3)},
    ),
    Row(
        "eq104-tr(AX')",
        "X",
        lambda A, X: np.trace(A @ X.T),
        lambda A, X: A,
        "tr(A*X')",
        shapes={"X": (4, 3), "A": (4, 3)},
    ),
    Row(
        "eq105-tr(kron(A,X))",
        "X",
        lambda A, X: np.trace(np.kron(A, X)),
        lambda A, X: onp.trace(A) * I4,
        "tr(kron(A,X))",
    ),
    # 2.5.2 traces, second order
    Row("eq106-tr(X^2)", "X", lambda X: np.trace(X @ X), lambda X: 2 * X.T, "tr(X^2)"),
    Row(
        "eq107-tr(X^2B)",
        "X",
        lambda X, B: np.trace(X @ X @ B),
        lambda X, B: (X @ B + B @ X).T,
        "tr(X^2*B)",
    ),
    Row(
        "eq108-tr(X'BX)",
        "X",
        lambda X, B: np.trace(X.T @ B @ X),
        lambda X, B: B @ X + B.T @ X,
        "tr(X'*B*X)",
        shapes={"X": (4, 3)},
    ),
    Row(
        "eq109-tr(BXX')",
        "X",
        lambda B, X: np.trace(B @ X @ X.T),
        lambda B, X: B @ X + B.T @ X,
        "tr(B*X*X')",
        shapes={"X": (4, 3)},
    ),
    Row(
        "eq110-tr(XX'B)",
        "X",
        lambda X, B: np.trace(X @ X.T @ B),
        lambda X, B: B @ X + B.T @ X,
        "tr(X*X'*B)",
        shapes={"X": (4, 3)},
    ),
    Row(
        "eq111-tr(XBX')",
        "X",
        lambda X, B: np.trace(X @ B @ X.T),
        lambda X, B: X @ B.T + X @ B,
        "tr(X*B*X')",
        shapes={"X": (3, 4)},
    ),
    Row(
        "eq112-tr(BX'X)",
        "X",
        lambda B, X: np.trace(B @ X.T @ X),
        lambda B, X: X @ B.T + X @ B,
        "tr(B*X'*X)",
        shapes={"X": (3, 4)},
    ),
    Row(
        "eq113-tr(X'XB)",
        "X",
        lambda X, B: np.trace(X.T @ X @ B),
        lambda X, B: X @ B.T + X @ B,
        "tr(X'*X*B)",
        shapes={"X": (3, 4)},
    ),
    Row(
        "eq114-tr(AXBX)",
        "X",
        lambda A, X, B: np.trace(A @ X @ B @ X),
        lambda A, X, B: A.T @ X.T @ B.T + B.T @ X.T @ A.T,
        "tr(A*X*B*X)",
    ),
    Row(
        "eq115-tr(X'X)",
        "X",
        lambda X: np.trace(X.T @ X),
        lambda X: 2 * X,
        "tr(X'*X)",
        shapes={"X": (4, 3)},
    ),
    Row(
        "eq115-tr(XX')",
        "X",
        lambda X: np.trace(X @ X.T),
        lambda X: 2 * X,
        "tr(X*X')",
        shapes={"X": (4, 3)},
    ),
    Row(
        "eq116-tr(B'X'CXB)",
        "X",
        lambda B, X, C: np.trace(B.T @ X.T @ C @ X @ B),
        lambda B, X, C: C.T @ X @ B @ B.T + C @ X @ B @ B.T,
        "tr(B'*X'*C*X*B)",
    ),
    Row(
        "eq117-tr(X'BXC)",
        "X",
        lambda X, B, C: np.trace(X.T @ B @ X @ C),
        lambda X, B, C: B @ X @ C + B.T @ X @ C.T,
        "tr(X'*B*X*C)",
    ),
    Row(
        "eq118-tr(AXBX'C)",
        "X",
        lambda A, X, B, C: np.trace(A @ X @ B @ X.T @ C),
        lambda A, X, B, C: A.T @ C.T @ X @ B.T + C @ A @ X @ B,
        "tr(A*X*B*X'*C)",
    ),
    Row(
        "eq119-tr((AXB+C)(AXB+C)')",
        "X",
        lambda A, X, B, C: np.trace((A @ X @ B + C) @ (A @ X @ B + C).T),
        lambda A, X, B, C: 2 * A.T @ (A @ X @ B + C) @ B.T,
        "tr((A*X*B + C)*(A*X*B + C)')",
    ),
    Row(
        "eq120-tr(kron(X,X))",
        "X",
        lambda X: np.trace(np.kron(X, X)),
        lambda X: 2 * onp.trace(X) * I4,
        "tr(kron(X,X))",
    ),
    Row(
        "eq120-tr(X)tr(X)",
        "X",
        lambda X: np.trace(X) * np.trace(X),
        lambda X: 2 * onp.trace(X) * I4,
        "tr(X)*tr(X)",
    ),
    Row(
        "eq120-sum(kron(A,X))",
        "X",
        lambda A, X: np.sum(np.kron(A, X)),
        lambda A, X: onp.sum(A) * onp.ones_like(X),
        "sum(kron(A,X))",
        shapes={"A": (2, 3), "X": (4, 3)},
    ),
    # 2.5.3 traces, higher order
    Row(
        "eq121-tr(X^4)",
        "X",
        lambda X: np.trace(la.matrix_power(X, 4)),
        lambda X: 4 * mp(X, 3).T,
        "tr(X^4)",
    ),
    Row(
        "eq122-tr(AX^3)",
        "X",
        lambda A, X: np.trace(A @ la.matrix_power(X, 3)),
        lambda A, X: sum((mp(X, r) @ A @ mp(X, 2 - r)).T for r in range(3)),
        "tr(A*X^3)",
    ),
    Row(
        "eq123-tr(B'X'CXX'CXB)",
        "X",
        lambda B, X, C: np.trace(B.T @ X.T @ C @ X @ X.T @ C @ X @ B),
        eq123,
        "tr(B'*X'*C*X*X'*C*X*B)",
    ),
    # 2.5.4 traces, other
    Row(
        "eq124-tr(A inv(X) B)",
        "X",
        lambda A, X, B: np.trace(A @ la.inv(X) @ B),
        lambda A, X, B: -oinv(X).T @ A.T @ B.T @ oinv(X).T,
        "tr(A*inv(X)*B)",
        shapes={"A": (3, 4), "B": (4, 3)},
    ),
    Row(
        "eq125-tr(inv(Y'WY)A)",
        "Y",
        lambda Y, W, A: np.trace(la.inv(Y.T @ W @ Y) @ A),
        lambda Y, W, A: -(W @ Y @ oinv(Y.T @ W @ Y)) @ (A + A.T) @ oinv(Y.T @ W @ Y),
        "tr(inv(Y'*W*Y)*A)",
        shapes=R3,
    ),
    Row(
        "eq126-tr(inv(Y'WY)Y'SY)",
        "Y",
        lambda Y, S, W: np.trace(la.inv(Y.T @ W @ Y) @ (Y.T @ S @ Y)),
        eq126,
        "tr(inv(Y'*W*Y)*(Y'*S*Y))",
    ),
    Row(
        "eq127-tr(inv(R+Y'WY)Y'SY)",
        "Y",
        lambda Y, R, S, W: np.trace(la.inv(R + Y.T @ W @ Y) @ (Y.T @ S @ Y)),
        eq127,
        "tr(inv(R + Y'*W*Y)*(Y'*S*Y))",
    ),
    Row(
        "eq128-tr(expm(X))",
        "X",
        lambda X: np.trace(msla.expm(X)),
        lambda X: __import__("scipy.linalg").linalg.expm(X).T,
    ),
    # 2.6 norms
    Row(
        "eq129-norm2(x-a)",
        "x",
        lambda x, a: la.norm(x - a),
        lambda x, a: (x - a) / onp.linalg.norm(x - a),
        "norm2(x - a)",
    ),
    Row(
        "eq130-(x-a)/norm2(x-a)",
        "x",
        lambda x, a: (x - a) / la.norm(x - a),
        lambda x, a: (
            I4 / onp.linalg.norm(x - a) - onp.outer(x - a, x - a) / onp.linalg.norm(x - a) ** 3
        ),
        "(x - a)/norm2(x - a)",
        mode="jac",
    ),
    Row("eq131-norm2(x)^2", "x", lambda x: la.norm(x) ** 2, lambda x: 2 * x, "norm2(x)^2"),
    Row("eq131-x'x", "x", lambda x: x @ x, lambda x: 2 * x, "x'*x"),
    Row(
        "eq132-fro(X)^2",
        "X",
        lambda X: la.norm(X, "fro") ** 2,
        lambda X: 2 * X,
        "sum(X.*X)",
        shapes={"X": (4, 3)},
    ),
    Row(
        "eq132-fro(X)",
        "X",
        lambda X: la.norm(X),
        lambda X: X / onp.linalg.norm(X),
        "sqrt(sum(X.*X))",
        shapes={"X": (4, 3)},
    ),
    # Kronecker and vec (Cookbook 10.2.2, eq. 520: vec(AXB) = kron(B', A) vec(X))
    Row(
        "eq520-vec(AXB)",
        "X",
        lambda A, X, B: A @ X @ B,
        lambda A, X, B: vec_tensor(onp.kron(B.T, A), (3, 3), (4, 5)),
        "A*X*B",
        mode="jac",
        shapes=SQ3,
    ),
    Row(
        "eq520-vec(AXB)-flat",
        "X",
        lambda A, X, B: np.ravel((A @ X @ B).T),
        lambda A, X, B: onp.kron(B.T, A).reshape(9, 5, 4).transpose(0, 2, 1),
        mode="jac",
        shapes=SQ3,
    ),
    Row(
        "kron-d-kron(A,X)-bilinear",
        "X",
        lambda A, X: np.kron(A, X),
        lambda A, X: onp.einsum("ij,kp,lq->ikjlpq", A, onp.eye(3), onp.eye(2)).reshape(12, 8, 3, 2),
        "kron(A,X)",
        mode="jac",
        shapes={"A": (4, 4), "X": (3, 2)},
    ),
    Row(
        "kron-d-kron(X,X)-bilinear",
        "X",
        lambda X: np.kron(X, X),
        lambda X: (
            onp.einsum("ip,jq,kl->ikjlpq", I4, I4, X).reshape(16, 16, 4, 4)
            + onp.einsum("ij,kp,lq->ikjlpq", X, I4, I4).reshape(16, 16, 4, 4)
        ),
        "kron(X,X)",
        mode="jac",
    ),
    Row(
        "kron-d-kron(x,x)-bilinear",
        "x",
        lambda x: np.kron(x, x),
        lambda x: onp.kron(I4, x[:, None]) + onp.kron(x[:, None], I4),
        "kron(x,x)",
        mode="jac",
    ),
    # 2.8.2 symmetric matrices: both engines give sym(G)
    Row(
        "eq139-tr(AS)-symmetric",
        "S",
        lambda A, S: np.trace(A @ S),
        lambda A, S: sym_part(A.T),
        "tr(A*S)",
        symmetric=("S",),
        cookbook=lambda A, S: A + A.T - A * I4,
    ),
    Row(
        "eq140-det(S)-symmetric",
        "S",
        lambda S: la.det(S),
        lambda S: odet(S) * oinv(S),
        "det(S)",
        symmetric=("S",),
        cookbook=lambda S: odet(S) * (2 * oinv(S) - oinv(S) * I4),
    ),
    Row(
        "eq141-logdet(S)-symmetric",
        "S",
        lambda S: la.slogdet(S)[1],
        lambda S: oinv(S),
        "logdet(S)",
        symmetric=("S",),
        cookbook=lambda S: 2 * oinv(S) - oinv(S) * I4,
    ),
    Row(
        "eq114-tr(SBS)-symmetric",
        "S",
        lambda S, B: np.trace(S @ B @ S),
        lambda S, B: sym_part(S @ B.T + B.T @ S),
        "tr(S*B*S)",
        symmetric=("S",),
    ),
    Row(
        "eq61-a'inv(S)b-symmetric",
        "S",
        lambda a, S, b: a @ la.inv(S) @ b,
        lambda a, S, b: sym_part(-oinv(S) @ onp.outer(a, b) @ oinv(S)),
        "a'*inv(S)*b",
        symmetric=("S",),
    ),
    # common losses
    Row(
        "loss-least-squares",
        "x",
        lambda A, x, b: np.sum((A @ x - b) ** 2),
        lambda A, x, b: 2 * A.T @ (A @ x - b),
        "norm2(A*x - b)^2",
    ),
    Row(
        "loss-ridge",
        "x",
        lambda A, x, b, lam: np.sum((A @ x - b) ** 2) + lam * (x @ x),
        lambda A, x, b, lam: 2 * A.T @ (A @ x - b) + 2 * lam * x,
        "norm2(A*x - b)^2 + lam*x'*x",
    ),
    Row(
        "loss-logistic",
        "w",
        lambda X, w, y: np.sum(np.log1p(np.exp(-y * (X @ w)))),
        lambda X, w, y: -X.T @ (y * sigmoid(-y * (X @ w))),
        "sum(log(1 + exp(-y.*(X*w))))",
    ),
    Row(
        "loss-gaussian-nll-dS",
        "S",
        lambda S, x: la.slogdet(S)[1] + x @ la.inv(S) @ x,
        lambda S, x: oinv(S) - oinv(S) @ onp.outer(x, x) @ oinv(S),
        "logdet(S) + x'*inv(S)*x",
        symmetric=("S",),
    ),
    Row(
        "loss-mahalanobis-dm",
        "m",
        lambda x, m, S: quad(x - m, la.inv(S), x - m),
        lambda x, m, S: -2 * oinv(S) @ (x - m),
        "(x - m)'*inv(S)*(x - m)",
    ),
    # second order
    Row(
        "hess-tr(X'AX)",
        "X",
        lambda X, A: np.trace(X.T @ A @ X),
        lambda X, A: onp.einsum("ik,jl->ijkl", A + A.T, onp.eye(3)),
        "tr(X'*A*X)",
        mode="hess",
        shapes={"X": (4, 3)},
    ),
    Row("hess-logdet(X)", "X", lambda X: la.slogdet(X)[1], hess_logdet, "logdet(X)", mode="hess"),
    Row("hess-x'Ax", "x", lambda x, A: x @ A @ x, lambda x, A: A + A.T, "x'*A*x", mode="hess"),
    Row(
        "hess-norm2(Ax-b)^2",
        "x",
        lambda A, x, b: np.sum((A @ x - b) ** 2),
        lambda A, x, b: 2 * A.T @ A,
        "norm2(A*x - b)^2",
        mode="hess",
        shapes={"A": (5, 4), "b": (5,)},
    ),
    Row(
        "hess-tr(inv(X)A)",
        "X",
        lambda X, A: np.trace(la.inv(X) @ A),
        hess_tr_inv_a,
        "tr(inv(X)*A)",
        mode="hess",
    ),
    Row(
        "hess-tr(AXBX)",
        "X",
        lambda A, X, B: np.trace(A @ X @ B @ X),
        lambda A, X, B: onp.einsum("jk,li->ijkl", B, A) + onp.einsum("jk,li->ijkl", A, B),
        "tr(A*X*B*X)",
        mode="hess",
    ),
]

ROWS += [
    Row(
        "hess-logdet(S)-symmetric",
        "S",
        lambda S: la.slogdet(S)[1],
        lambda S: sym_on_both_pairs(hess_logdet(S)),
        "logdet(S)",
        mode="hess",
        symmetric=("S",),
    ),
    Row(
        "hess-tr(SAS)-symmetric",
        "S",
        lambda S, A: np.trace(S @ A @ S),
        lambda S, A: sym_on_both_pairs(hess_tr_sas(S, A)),
        "tr(S*A*S)",
        mode="hess",
        symmetric=("S",),
    ),
    Row(
        "hess-x'inv(S)x-symmetric",
        "S",
        lambda S, x: x @ la.inv(S) @ x,
        lambda S, x: sym_on_both_pairs(hess_x_inv_s_x(S, x)),
        "x'*inv(S)*x",
        mode="hess",
        symmetric=("S",),
    ),
]


def hess_logistic(X, w, y):
    z = y * (X @ w)
    p = sigmoid(-z)
    return X.T @ (X * (y * y * p * (1 - p))[:, None])


MF = {"M": (4, 3), "U": (4, 2), "V": (3, 2)}

# The same identities through other spellings in the numeric engine: factorizations and
# solvers the expression language has no words for.
ROWS += [
    Row(
        "eq57-logdet-via-cholesky",
        "S",
        lambda S: 2 * np.sum(np.log(np.diag(la.cholesky(S)))),
        lambda S: oinv(S),
        symmetric=("S",),
    ),
    Row(
        "eq57-logdet-via-eigvalsh",
        "S",
        lambda S: np.sum(np.log(la.eigvalsh(S))),
        lambda S: oinv(S),
        symmetric=("S",),
    ),
    Row(
        "eq57-log|det|-via-svd",
        "X",
        lambda X: np.sum(np.log(la.svd(X, compute_uv=False))),
        lambda X: oinv(X).T,
    ),
    Row(
        "eq61-a'inv(X)b-via-solve",
        "X",
        lambda a, X, b: a @ la.solve(X, b),
        lambda a, X, b: -oinv(X).T @ onp.outer(a, b) @ oinv(X).T,
    ),
    Row(
        "eq63-tr(A inv(X) B)-via-lu_solve",
        "X",
        lambda A, X, B: np.trace(A @ msla.lu_solve(msla.lu_factor(X), B)),
        lambda A, X, B: -(oinv(X) @ B @ A @ oinv(X)).T,
    ),
    Row(
        "hess-eq61-x'inv(S)x-via-cho_solve",
        "x",
        lambda x, S: x @ msla.cho_solve(msla.cho_factor(S), x),
        lambda x, S: 2 * oinv(S),
        mode="hess",
    ),
    # more common losses
    Row(
        "loss-matrix-factorization-dU",
        "U",
        lambda M, U, V: np.sum((M - U @ V.T) ** 2),
        lambda M, U, V: -2 * (M - U @ V.T) @ V,
        "sum((M - U*V').^2)",
        shapes=MF,
    ),
    Row(
        "loss-matrix-factorization-dV",
        "V",
        lambda M, U, V: np.sum((M - U @ V.T) ** 2),
        lambda M, U, V: -2 * (M - U @ V.T).T @ U,
        "sum((M - U*V').^2)",
        shapes=MF,
    ),
    Row(
        "loss-softmax-cross-entropy",
        "x",
        lambda x, y: mspecial.logsumexp(x) - y @ x,
        lambda x, y: onp.exp(x) / onp.sum(onp.exp(x)) - y,
        "log(sum(exp(x))) - y'*x",
    ),
    Row(
        "hess-loss-softmax-cross-entropy",
        "x",
        lambda x, y: np.log(np.sum(np.exp(x))) - y @ x,
        lambda x, y: (
            onp.diag(onp.exp(x) / onp.sum(onp.exp(x)))
            - onp.outer(onp.exp(x), onp.exp(x)) / onp.sum(onp.exp(x)) ** 2
        ),
        "log(sum(exp(x))) - y'*x",
        mode="hess",
    ),
    Row(
        "hess-loss-ridge",
        "x",
        lambda A, x, b, lam: np.sum((A @ x - b) ** 2) + lam * (x @ x),
        lambda A, x, b, lam: 2 * A.T @ A + 2 * lam * I4,
        "norm2(A*x - b)^2 + lam*x'*x",
        mode="hess",
    ),
    Row(
        "hess-loss-logistic",
        "w",
        lambda X, w, y: np.sum(np.log1p(np.exp(-y * (X @ w)))),
        hess_logistic,
        "sum(log(1 + exp(-y.*(X*w))))",
        mode="hess",
        shapes={"X": (6, 4), "y": (6,)},
    ),
]

SYM_ROWS = [r for r in ROWS if r.expr is not None]
STRUCT_ROWS = [r for r in ROWS if r.cookbook is not None]
OPERATOR = {"grad": grad, "jac": jacobian, "hess": hessian}


def params(f: Callable, env: dict) -> dict:
    names = f.__code__.co_varnames[: f.__code__.co_argcount]
    return {n: env[n] for n in names}


def closed_form(row: Row, env: dict):
    return onp.asarray(row.closed(**params(row.closed, env)), dtype=float)


def numeric(row: Row, env: dict, forward: bool = False):
    args = params(row.num, env)

    def f(v):
        return row.num(**{**args, row.wrt: v})

    # forward mode: jacfwd, and for a Hessian jacfwd of jacfwd (hessian is fwd-over-rev)
    if not forward:
        operator = OPERATOR[row.mode]
    elif row.mode == "hess":
        operator = lambda g: jacfwd(jacfwd(g))  # noqa: E731
    else:
        operator = jacfwd
    D = onp.asarray(operator(f)(env[row.wrt]))
    if row.wrt not in row.symmetric:
        return D
    # only symmetric directions exist: project the input pair, and for a Hessian the
    # gradient pair too
    return sym_on_both_pairs(D) if row.mode == "hess" else sym_part(D)


def symbolic(row: Row, env: dict):
    used = set(re.findall(r"[A-Za-z]\w*", row.expr))
    kinds = {n: k for n, k in KINDS.items() if n in used}
    kinds |= {n: "symmetric" for n in row.symmetric if n in used}
    d = sym.derivative(row.expr, wrt=row.wrt, order=2 if row.mode == "hess" else 1, kinds=kinds)
    _, D = d.function()(**{n: env[n] for n in d.variables})
    return onp.asarray(D, dtype=float)


def assert_close(actual, expected, what: str) -> None:
    assert onp.shape(actual) == onp.shape(expected), f"{what}: shape {onp.shape(actual)}"
    onp.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_numeric_engine_matches_cookbook(row: Row, seed: int):
    env = make_env(seed, row.shapes)
    assert_close(numeric(row, env), closed_form(row, env), f"{row.id}: numeric vs closed")


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_numeric_forward_mode_matches_cookbook(row: Row):
    env = make_env(2, row.shapes)
    D = numeric(row, env, forward=True)
    assert_close(D, closed_form(row, env), f"{row.id}: forward mode vs closed")


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("row", SYM_ROWS, ids=lambda r: r.id)
def test_symbolic_engine_matches_cookbook_and_numeric(row: Row, seed: int):
    env = make_env(seed, row.shapes)
    D = symbolic(row, env)
    assert_close(D, closed_form(row, env), f"{row.id}: symbolic vs closed")
    assert_close(D, numeric(row, env), f"{row.id}: symbolic vs numeric")


GRAD_ROWS = [r for r in SYM_ROWS if r.mode == "grad"]


@pytest.mark.parametrize("row", GRAD_ROWS, ids=lambda r: r.id)
def test_engines_agree_on_the_hessian_of_every_gradient_identity(row: Row):
    """No closed form here: each engine is the other's oracle for the second derivative."""
    hess_row = replace(row, mode="hess")
    env = make_env(3, row.shapes)
    assert_close(symbolic(hess_row, env), numeric(hess_row, env), f"{row.id}: Hessians")


@pytest.mark.parametrize("row", STRUCT_ROWS, ids=lambda r: r.id)
def test_structured_form_is_the_cookbook_one(row: Row):
    """Eq. (138): the Cookbook's symmetric form G + G' - I∘G equals 2 sym(G) - I∘sym(G)."""
    env = make_env(0, row.shapes)
    expected = row.cookbook(**params(row.cookbook, env))
    for what, D in (("numeric", numeric(row, env)), ("symbolic", symbolic(row, env))):
        assert_close(2 * D - D * I4, expected, f"{row.id}: {what} vs Cookbook (138)")


def test_table_size_and_ids_cite_equations():
    assert len(ROWS) >= 60
    assert len({r.id for r in ROWS}) == len(ROWS)
    for r in ROWS:
        assert re.match(r"(eq\d+|loss|hess|kron)-", r.id), r.id


def test_closed_forms_detect_a_wrong_gradient():
    """The comparison can fail: eq. (100) with the closed form transposed is rejected."""
    row = next(r for r in ROWS if r.id == "eq100-tr(XA)")
    env = make_env(0, {"X": (4, 4), "A": (4, 4)})
    with pytest.raises(AssertionError, match="transposed"):
        assert_close(numeric(row, env), env["A"], "transposed")


def test_gradient_through_a_general_kron_is_a_tensor():
    """Where no Kronecker structure passes the gradient through, it is evaluated exactly."""
    d = sym.derivative("tr(kron(A, X)*B)", wrt="X")
    assert d.form == "tensor" and d.text.startswith("d(f) = tr(B*kron(A, dX))")
    d.check(seed=0)


def test_kron_of_vectors_is_a_vector():
    """Its value is 1-D like every vector value, so the Jacobian layout is out + var."""
    x = onp.arange(1.0, 4.0)
    d = sym.derivative("kron(x, a)", wrt="x", kinds={"a": "vector"})
    value, D = d.function()(x=x, a=onp.ones(2))
    assert value.shape == (6,) and D.shape == (6, 3)
    onp.testing.assert_array_equal(value, onp.kron(x, onp.ones(2)))


def test_generated_function_names_a_mis_sized_argument():
    d = sym.derivative("a'*X*b", wrt="X", kinds={"a": "vector", "b": "vector"})
    f = d.function()
    ok = f(onp.ones(4), onp.ones((4, 3)), onp.ones(3))  # positional, in d.variables order
    assert ok[1].shape == (4, 3)
    with pytest.raises(sym.SymbolicError, match=r"X.shape\[0\] is 4 but a.shape\[0\] is 3"):
        f(a=onp.ones(3), X=onp.ones((4, 3)), b=onp.ones(3))
    with pytest.raises(sym.SymbolicError, match="X is a matrix, so it needs a 2-D array"):
        f(a=onp.ones(4), X=onp.ones(3), b=onp.ones(3))
    with pytest.raises(sym.SymbolicError, match="b is a vector, so it needs a 1-D array"):
        f(a=onp.ones(4), X=onp.ones((4, 3)), b=onp.ones((3, 1, 1)))
